//! Tensors on the GPU: a pooled buffer and a row-major shape. Only f32 for now; f16 and the
//! quantized block types join when the kernels that read them land.

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::pool::{ACTIVATIONS, PooledBuffer};

pub struct Tensor {
    buffer: PooledBuffer,
    shape: Vec<usize>,
}

/// Number of elements of `shape`, or an error naming the tensor when the product overflows.
pub fn element_count(what: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| GpuError::Shape(format!("{what}: shape {shape:?} has too many elements")))
}

impl Tensor {
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &PooledBuffer {
        &self.buffer
    }

    pub fn size_bytes(&self) -> u64 {
        self.len() as u64 * 4
    }

    /// The same buffer viewed with another shape of as many elements (`[T, q_dim]` from a
    /// matmul as `[T, heads, head_dim]` for rope and attention); no copy, no dispatch.
    pub fn reshape(self, shape: &[usize]) -> Result<Tensor> {
        let count = element_count("reshape", shape)?;
        if count != self.len() {
            return Err(GpuError::Shape(format!(
                "reshape: a tensor of shape {:?} cannot be viewed as {shape:?}",
                self.shape
            )));
        }
        Ok(Tensor {
            buffer: self.buffer,
            shape: shape.to_vec(),
        })
    }
}

impl Gpu {
    /// An uninitialised f32 tensor from the pool.
    pub fn empty(&self, what: &str, shape: &[usize]) -> Result<Tensor> {
        let count = element_count(what, shape)?;
        let bytes = (count as u64).checked_mul(4).ok_or_else(|| {
            GpuError::Shape(format!("{what}: {count} elements overflow a buffer size"))
        })?;
        let buffer = self.pool.acquire(what, bytes, ACTIVATIONS)?;
        Ok(Tensor {
            buffer,
            shape: shape.to_vec(),
        })
    }

    /// Copies `data` to a new f32 tensor of `shape`.
    pub fn upload(&self, what: &str, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        let count = element_count(what, shape)?;
        if count != data.len() {
            return Err(GpuError::Shape(format!(
                "{what}: shape {shape:?} holds {count} values but {} were given",
                data.len()
            )));
        }
        let tensor = self.empty(what, shape)?;
        if !data.is_empty() {
            self.queue
                .write_buffer(tensor.buffer.buffer(), 0, bytemuck::cast_slice(data));
        }
        Ok(tensor)
    }

    /// Reads a tensor back (one submission of its own; inside a forward pass prefer
    /// [`crate::Batch::submit_and_read`]).
    pub async fn read(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        self.batch("read").submit_and_read(tensor).await
    }
}
