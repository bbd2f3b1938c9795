//! Launcher for `kernels/quant_matvec.wgsl`: y = W·x for a quantized weight matrix (decode), or
//! Y = X·Wᵀ one weight row per invocation (prefill on CPU adapters).

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
    /// Rows of x each invocation multiplies with every weight unit it decodes.
    pub tokens: u32,
}

/// Rows of x an invocation takes when X has several: each decoded weight unit serves that many
/// products (a CPU adapter's prefill). With 8, SmolLM2's prefill in SwiftShader went from 1.1
/// tokens/s (the tiled matrix-matrix kernel) to 2.8; other values are untried.
pub const PREFILL_TOKENS: u32 = 8;

impl MatvecShape {
    /// The shape for rows of `units` 32-value units on `gpu`.
    ///
    /// On a GPU: up to 32 invocations per row, fewer for short rows so that each still has about
    /// two units to decode (an idle invocation is wasted bandwidth), and 256 invocations per
    /// workgroup, the size WebGPU guarantees. On a CPU adapter (lavapipe) one invocation per row
    /// is 1.1–1.6× faster than that on the target models' shapes (576–2048 columns, every
    /// format): a workgroup runs there as SIMD loops, each lane's scale decoding costs about as
    /// much as its 32 values, and a row split across lanes pays it once per lane plus a reduction.
    /// `m` rows of x are taken [`PREFILL_TOKENS`] at a time, one at a time when there is one.
    pub fn for_matrix(units: usize, m: usize, gpu: &Gpu) -> MatvecShape {
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
            tokens: if m > 1 { PREFILL_TOKENS } else { 1 },
        }
    }

    fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let invocations = self.threads_per_row as u64 * self.rows_per_workgroup as u64;
        let message = if !self.threads_per_row.is_power_of_two()
            || self.rows_per_workgroup == 0
            || self.tokens == 0
        {
            "threads per row must be a power of two, rows per workgroup and tokens non-zero"
                .to_string()
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
/// `[m, cols]`, y (from the pool) is `[rows]` or `[m, rows]` (for m > 1, the same as
/// `quant_matmul`, which a GPU runs faster; a CPU adapter runs this one faster).
pub fn quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    precision: Precision,
) -> Result<Tensor> {
    let m = match *x.shape() {
        [m, _] => m,
        _ => 1,
    };
    let shape = MatvecShape::for_matrix(w.cols() / UNIT_LEN, m, batch.gpu());
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
    let (m, out_shape) = match *x.shape() {
        [cols] if cols == w.cols() => (1, vec![w.rows()]),
        [m, cols] if cols == w.cols() => (m, vec![m, w.rows()]),
        ref other => {
            return Err(GpuError::Shape(format!(
                "{op}: {} is {}×{}, so x must be [{cols}] or [m, {cols}], got {other:?}",
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
    let y = gpu.empty("quant_matvec output", &out_shape)?;
    if m == 0 {
        return Ok(y);
    }
    let spec = w
        .format()
        .specialization()
        .precision(precision)
        .u32("THREADS_PER_ROW", shape.threads_per_row)
        .u32("ROWS_PER_WG", shape.rows_per_workgroup)
        .u32("TOKENS", shape.tokens);
    let token_groups = m.div_ceil(shape.tokens as usize);
    for part in w.parts() {
        let row_groups = part.rows().div_ceil(shape.rows_per_workgroup as usize);
        let params = [
            dim_u32(op, "rows", part.rows())?,
            dim_u32(op, "units per row", w.cols() / UNIT_LEN)?,
            dim_u32(op, "blocks per row", w.row_blocks())?,
            dim_u32(op, "first row", part.first_row())?,
            dim_u32(op, "tokens", m)?,
            dim_u32(op, "all rows", w.rows())?,
            dim_u32(op, "row groups", row_groups)?,
            0, // padding: uniform blocks are 16-byte multiples
        ];
        let workgroups = (row_groups * token_groups) as u64;
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
