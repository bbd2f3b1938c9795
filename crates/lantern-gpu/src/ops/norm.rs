//! Launchers for `kernels/rms_norm.wgsl` and `kernels/add_rms_norm.wgsl`: RMSNorm over the last
//! axis, alone or fused with the residual add before it (and the post-norm of what is added).

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::KernelSource;
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::launch::{row_reduction, same_shape};
use crate::tensor::Tensor;

pub const RMS_NORM: KernelSource = kernel_source!("rms_norm" after "workgroup_sum");
pub const ADD_RMS_NORM: KernelSource = kernel_source!("add_rms_norm" after "workgroup_sum");

/// `x / sqrt(mean(x²) + eps) * (w + weight_offset)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsNorm {
    pub eps: f32,
    /// Added to every weight: 1 for Gemma weights stored as `w - 1` (safetensors), else 0.
    pub weight_offset: f32,
}

impl RmsNorm {
    pub fn new(eps: f32) -> Self {
        RmsNorm {
            eps,
            weight_offset: 0.0,
        }
    }

    fn params(&self, rows: u32, cols: u32) -> [u32; 4] {
        [rows, cols, self.eps.to_bits(), self.weight_offset.to_bits()]
    }
}

/// The (rows, cols) of normalising `x` over rows as wide as `weight`: `x`'s last axis must equal
/// the weight's length, so [T, hidden] with a hidden-wide weight normalises each token and
/// [T, heads, head_dim] with a head_dim-wide weight each head (QK-norm).
fn rows_cols(op: &str, x: &Tensor, weight: &Tensor) -> Result<(u32, u32)> {
    let cols = weight.len();
    if x.shape().last() != Some(&cols) || weight.shape().len() != 1 {
        return Err(GpuError::Shape(format!(
            "{op}: x of shape {:?} cannot be normalised by a weight of shape {:?} \
             (the weight must be a vector as long as x's last axis)",
            x.shape(),
            weight.shape()
        )));
    }
    let rows = x.len().checked_div(cols).unwrap_or(0);
    Ok((dim_u32(op, "rows", rows)?, dim_u32(op, "cols", cols)?))
}

/// Records `y = rms_norm(x) * (weight + offset)` over rows as wide as `weight`; `y` (same shape as
/// `x`) comes from the pool.
pub fn rms_norm(
    batch: &mut Batch<'_>,
    x: &Tensor,
    weight: &Tensor,
    norm: RmsNorm,
) -> Result<Tensor> {
    let (rows, cols) = rows_cols("rms_norm", x, weight)?;
    let gpu = batch.gpu();
    let y = gpu.empty("rms_norm output", x.shape())?;
    if rows == 0 || cols == 0 {
        return Ok(y);
    }
    batch.dispatch(
        &RMS_NORM,
        &row_reduction(gpu, cols as usize),
        &[x.buffer(), weight.buffer(), y.buffer()],
        bytemuck::cast_slice(&norm.params(rows, cols)),
        gpu.grid("rms_norm", u64::from(rows))?,
    )?;
    Ok(y)
}

/// Records `residual += y` (in place) and returns `rms_norm(residual) * (weight + offset)`, in
/// one pass: the pre-norm of the next block fused with the residual add of the last. With
/// `y_weight`, `y` is first normalised by it (`residual += rms_norm(y) * (y_weight + offset)`:
/// a post-norm such as Gemma's, fused too).
pub fn add_rms_norm(
    batch: &mut Batch<'_>,
    residual: &Tensor,
    y: &Tensor,
    y_weight: Option<&Tensor>,
    weight: &Tensor,
    norm: RmsNorm,
) -> Result<Tensor> {
    same_shape("add_rms_norm", ("residual", residual), ("y", y))?;
    let (rows, cols) = rows_cols("add_rms_norm", residual, weight)?;
    if let Some(y_weight) = y_weight {
        same_shape("add_rms_norm", ("weight", weight), ("y's weight", y_weight))?;
    }
    let gpu = batch.gpu();
    let h = gpu.empty("add_rms_norm output", residual.shape())?;
    if rows == 0 || cols == 0 {
        return Ok(h);
    }
    let [rows, cols, eps, offset] = norm.params(rows, cols);
    let params = [rows, cols, eps, offset, u32::from(y_weight.is_some())];
    // Without y's norm its weight binding is never read: the other weight stands in.
    let y_weight = y_weight.unwrap_or(weight);
    batch.dispatch(
        &ADD_RMS_NORM,
        &row_reduction(gpu, cols as usize),
        &[
            residual.buffer(),
            y.buffer(),
            y_weight.buffer(),
            weight.buffer(),
            h.buffer(),
        ],
        bytemuck::cast_slice(&params),
        gpu.grid("add_rms_norm", u64::from(rows))?,
    )?;
    Ok(h)
}
