//! Launcher for `kernels/softmax.wgsl`: softmax over the last axis of a matrix.

use crate::batch::Batch;
use crate::error::Result;
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::{dim_u32, matrix_dims};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("softmax");

/// Records a row-wise softmax of `x` ([rows, cols]); the result comes from the pool.
pub fn softmax(batch: &mut Batch<'_>, x: &Tensor) -> Result<Tensor> {
    let (rows, cols) = matrix_dims("softmax", "input", x)?;
    let gpu = batch.gpu();
    let y = gpu.empty("softmax output", &[rows, cols])?;
    if rows == 0 || cols == 0 {
        return Ok(y);
    }
    // The largest power of two the device allows, up to 256: wide rows want many invocations,
    // and WebGPU guarantees 256.
    let limit = gpu.limits().max_compute_invocations_per_workgroup.min(256);
    let wg_size = 1u32 << (31 - limit.leading_zeros());
    let params = [
        dim_u32("softmax", "rows", rows)?,
        dim_u32("softmax", "cols", cols)?,
    ];
    batch.dispatch(
        &KERNEL,
        &Specialization::new().u32("WG_SIZE", wg_size),
        &[x.buffer(), y.buffer()],
        bytemuck::cast_slice(&params),
        gpu.grid("softmax", rows as u64)?,
    )?;
    Ok(y)
}
