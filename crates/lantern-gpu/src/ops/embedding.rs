//! Launcher for `kernels/embedding.wgsl`: the token-embedding gather, reading the quantized table
//! directly (no f32 copy of a 180 MB table) and applying the model's embedding scale.

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::KernelSource;
use crate::ops::dim_u32;
use crate::ops::launch::elementwise_grid;
use crate::quant::{QuantMatrix, UNIT_LEN, quant_kernel_source};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = quant_kernel_source!("embedding");

const WG_SIZE: u32 = 64;

/// Uploads token ids for [`embedding`]: a `[T]` tensor holding the ids' bits (tensors are f32;
/// the kernel reads the buffer as `u32`). Checks every id against `vocab` first, since the
/// kernel would silently skip an id outside every part.
///
/// Upload before recording the batch that uses it (or hold it in that batch): the upload is a
/// `queue.write_buffer`, which lands before the whole submission, so it must not be given a
/// buffer that a tensor dropped earlier in the same batch is still being written through.
pub fn upload_ids(gpu: &Gpu, ids: &[u32], vocab: usize) -> Result<Tensor> {
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(GpuError::Shape(format!(
            "embedding: token id {bad} is outside the vocabulary ({vocab} tokens)"
        )));
    }
    let bits: &[f32] = bytemuck::cast_slice(ids);
    gpu.upload("token ids", bits, &[ids.len()])
}

/// Records `out[t, :] = table[ids[t], :] * scale`; `ids` is `[T]` from [`upload_ids`], `out`
/// (from the pool) is `[T, cols]`.
pub fn embedding(
    batch: &mut Batch<'_>,
    table: &QuantMatrix,
    ids: &Tensor,
    scale: f32,
) -> Result<Tensor> {
    let op = KERNEL.name;
    let tokens = match *ids.shape() {
        [t] => t,
        ref other => {
            return Err(GpuError::Shape(format!(
                "{op}: ids must be [tokens], got shape {other:?}"
            )));
        }
    };
    let gpu = batch.gpu();
    let out = gpu.empty("embedding output", &[tokens, table.cols()])?;
    let units = table.cols() / UNIT_LEN;
    let invocations = tokens
        .checked_mul(units)
        .ok_or_else(|| GpuError::Shape(format!("{op}: {tokens} tokens overflow")))?;
    if invocations == 0 {
        return Ok(out);
    }
    dim_u32(op, "tokens × units", invocations)?;
    let spec = table.specialization(&["weights"]).u32("WG_SIZE", WG_SIZE);
    for part in table.parts() {
        let params = [
            dim_u32(op, "tokens", tokens)?,
            dim_u32(op, "units per row", units)?,
            dim_u32(op, "blocks per row", table.row_blocks())?,
            dim_u32(op, "first row", part.first_row())?,
            dim_u32(op, "part rows", part.rows())?,
            scale.to_bits(),
            0,
            0,
        ];
        batch.dispatch(
            &KERNEL,
            &spec,
            &[part, ids.buffer(), out.buffer()],
            bytemuck::cast_slice(&params),
            elementwise_grid(gpu, op, invocations, WG_SIZE)?,
        )?;
    }
    Ok(out)
}
