//! Launcher for `kernels/stream_read.wgsl`, the bandwidth probe: reads a whole buffer once.
//! [`crate::bandwidth`] times it; decode speed is judged against the figure it gives.

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::pool::Binding;
use crate::quant::QuantMatrix;
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("stream_read");

/// How the probe's invocations share the buffer (see `stream_read.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPattern {
    /// Consecutive invocations read consecutive words (GPUs): up to 4096 workgroups of 256,
    /// enough to keep any GPU's memory system busy, each invocation looping over its share.
    Interleaved,
    /// Each invocation reads one contiguous chunk (CPU adapters): 64 workgroups of 16, a few
    /// streams per core. On lavapipe (2 cores) that read 3-4× faster than `Interleaved`.
    Chunked,
}

impl ReadPattern {
    pub const ALL: [ReadPattern; 2] = [ReadPattern::Interleaved, ReadPattern::Chunked];

    /// (invocations per workgroup, most workgroups).
    fn grid(self) -> (usize, usize) {
        match self {
            ReadPattern::Interleaved => (256, 4096),
            ReadPattern::Chunked => (16, 64),
        }
    }
}

/// Records one full read of `data` (its length a multiple of 4 values, i.e. 16-byte words).
/// Returns one XOR per workgroup (u32 bits in an f32 tensor): the XOR of them all is the XOR of
/// every 32-bit word of `data`.
pub fn stream_read(batch: &mut Batch<'_>, data: &Tensor, pattern: ReadPattern) -> Result<Tensor> {
    if data.is_empty() || !data.len().is_multiple_of(4) {
        return Err(GpuError::Shape(format!(
            "stream_read: {} values is not a positive multiple of 4 (16-byte words)",
            data.len()
        )));
    }
    let words = data.len() / 4;
    record(batch, data.buffer(), words, Specialization::new(), pattern)
}

/// As [`stream_read`], over the words of a weight matrix held in one part, read from its buffer
/// or texture as the quantized kernels read them ([`QuantMatrix::storage`]).
pub fn stream_read_weights(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    pattern: ReadPattern,
) -> Result<Tensor> {
    let [part] = w.parts() else {
        return Err(GpuError::Shape(format!(
            "stream_read: {} is in {} parts, not one",
            w.name(),
            w.parts().len()
        )));
    };
    // Repacked rows are whole 16-byte words.
    let words = (part.rows() as u64 * w.repacked_row_bytes() / 16) as usize;
    let spec = w.storage_specialization(Specialization::new(), &["weight_quads"]);
    record(batch, part, words, spec, pattern)
}

/// Records one read of the first `words` 16-byte words of `data` in `pattern`.
fn record(
    batch: &mut Batch<'_>,
    data: &dyn Binding,
    words: usize,
    spec: Specialization,
    pattern: ReadPattern,
) -> Result<Tensor> {
    let (wg_size, max_workgroups) = pattern.grid();
    let groups = words.div_ceil(wg_size).min(max_workgroups);
    let gpu = batch.gpu();
    let out = gpu.empty("stream_read output", &[groups])?;
    let params = [dim_u32("stream_read", "words", words)?];
    batch.dispatch(
        &KERNEL,
        &spec
            .u32("WG_SIZE", wg_size as u32)
            .u32("CHUNKED", u32::from(pattern == ReadPattern::Chunked)),
        &[data, out.buffer()],
        bytemuck::cast_slice(&params),
        gpu.grid("stream_read", groups as u64)?,
    )?;
    Ok(out)
}
