//! Launcher for `kernels/quant_matvec.wgsl`: y = W·x for a quantized weight matrix (decode).

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Precision};
use crate::ops::dim_u32;
use crate::quant::{QuantMatrix, UNIT_LEN, quant_kernel_source};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = quant_kernel_source!("quant_matvec");

/// How `quant_matvec.wgsl` spreads rows over a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatvecShape {
    /// Invocations sharing one row (a power of two): they take its 32-value units in turn.
    pub threads_per_row: u32,
    pub rows_per_workgroup: u32,
}

impl MatvecShape {
    /// The shape for rows of `units` 32-value units on `gpu`.
    ///
    /// On a GPU: up to 32 invocations per row, fewer for short rows so that each still has about
    /// two units to decode (an idle invocation is wasted bandwidth), and 256 invocations per
    /// workgroup, the size WebGPU guarantees. On a CPU adapter (lavapipe) one invocation per row
    /// is 1.1–1.6× faster than that on the target models' shapes (576–2048 columns, every
    /// format): a workgroup runs there as SIMD loops, each lane's scale decoding costs about as
    /// much as its 32 values, and a row split across lanes pays it once per lane plus a reduction.
    pub fn for_matrix(units: usize, gpu: &Gpu) -> MatvecShape {
        let invocations = gpu
            .limits()
            .max_compute_invocations_per_workgroup
            .clamp(1, 256);
        let threads_per_row = if gpu.cpu_workgroups() {
            1
        } else {
            let wanted = (units / 2).clamp(1, 32) as u32;
            1 << (31 - wanted.leading_zeros())
        };
        MatvecShape {
            threads_per_row,
            rows_per_workgroup: (invocations / threads_per_row).max(1),
        }
    }

    fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let invocations = self.threads_per_row as u64 * self.rows_per_workgroup as u64;
        let message = if !self.threads_per_row.is_power_of_two() || self.rows_per_workgroup == 0 {
            "threads per row must be a power of two and rows per workgroup non-zero".to_string()
        } else if invocations > limits.max_compute_invocations_per_workgroup as u64
            || invocations > limits.max_compute_workgroup_size_x as u64
        {
            format!(
                "{invocations} invocations per workgroup; the device allows {}",
                limits
                    .max_compute_invocations_per_workgroup
                    .min(limits.max_compute_workgroup_size_x)
            )
        } else if invocations * 4 > limits.max_compute_workgroup_storage_size as u64 {
            format!(
                "{} bytes of workgroup memory; the device allows {}",
                invocations * 4,
                limits.max_compute_workgroup_storage_size
            )
        } else {
            return Ok(());
        };
        Err(GpuError::Kernel {
            kernel: KERNEL.name.into(),
            message: format!("shape {self:?}: {message}"),
        })
    }
}

/// Records y = W·x computed in `precision` (f32 accumulation either way); `x` is `[cols]` or
/// `[1, cols]`, y (from the pool) is `[rows]` or `[1, rows]`.
pub fn quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    precision: Precision,
) -> Result<Tensor> {
    let shape = MatvecShape::for_matrix(w.cols() / UNIT_LEN, batch.gpu());
    quant_matvec_shaped(batch, w, x, shape, precision)
}

pub fn quant_matvec_shaped(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    shape: MatvecShape,
    precision: Precision,
) -> Result<Tensor> {
    let op = KERNEL.name;
    let out_shape: &[usize] = match *x.shape() {
        [cols] if cols == w.cols() => &[w.rows()],
        [1, cols] if cols == w.cols() => &[1, w.rows()],
        ref other => {
            return Err(GpuError::Shape(format!(
                "{op}: {} is {}×{}, so x must be [{cols}] or [1, {cols}], got {other:?}",
                w.name(),
                w.rows(),
                w.cols(),
                cols = w.cols()
            )));
        }
    };
    let gpu = batch.gpu();
    shape.check(gpu.limits())?;
    gpu.check_precision(&format!("{op} in f16"), precision)?;
    let y = gpu.empty("quant_matvec output", out_shape)?;
    let spec = w
        .format()
        .specialization()
        .precision(precision)
        .u32("THREADS_PER_ROW", shape.threads_per_row)
        .u32("ROWS_PER_WG", shape.rows_per_workgroup);
    for part in w.parts() {
        let params = [
            dim_u32(op, "rows", part.rows())?,
            dim_u32(op, "units per row", w.cols() / UNIT_LEN)?,
            dim_u32(op, "blocks per row", w.row_blocks())?,
            dim_u32(op, "first row", part.first_row())?,
        ];
        let workgroups = part.rows().div_ceil(shape.rows_per_workgroup as usize) as u64;
        batch.dispatch(
            &KERNEL,
            &spec,
            &[part, x.buffer(), y.buffer()],
            bytemuck::cast_slice(&params),
            gpu.grid(op, workgroups)?,
        )?;
    }
    Ok(y)
}
