//! Launcher for `kernels/stream_read.wgsl`, the bandwidth probe: reads a whole buffer once.
//! [`crate::bandwidth`] times it; decode speed is judged against the figure it gives.

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("stream_read");

/// Enough workgroups to keep any GPU's memory system busy; each invocation then loops over its
/// share of the buffer.
const MAX_WORKGROUPS: usize = 4096;
const WG_SIZE: usize = 256;

/// Records one full read of `data` (its length a multiple of 4 values, i.e. 16-byte words).
/// Returns one XOR per workgroup (u32 bits in an f32 tensor): the XOR of them all is the XOR of
/// every 32-bit word of `data`.
pub fn stream_read(batch: &mut Batch<'_>, data: &Tensor) -> Result<Tensor> {
    if data.is_empty() || !data.len().is_multiple_of(4) {
        return Err(GpuError::Shape(format!(
            "stream_read: {} values is not a positive multiple of 4 (16-byte words)",
            data.len()
        )));
    }
    let words = data.len() / 4;
    let groups = words.div_ceil(WG_SIZE).min(MAX_WORKGROUPS);
    let gpu = batch.gpu();
    let out = gpu.empty("stream_read output", &[groups])?;
    let params = [dim_u32("stream_read", "words", words)?];
    batch.dispatch(
        &KERNEL,
        &Specialization::new().u32("WG_SIZE", WG_SIZE as u32),
        &[data.buffer(), out.buffer()],
        bytemuck::cast_slice(&params),
        gpu.grid("stream_read", groups as u64)?,
    )?;
    Ok(out)
}
