//! Launcher for `kernels/quant_matvec.wgsl`: y = W·x for a quantized weight matrix (decode), or
//! Y = X·Wᵀ a few tokens per invocation (prefill, on every adapter).

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Precision};
use crate::ops::{Activation, dim_u32, gated_activation_stacked};
use crate::quant::{QuantMatrix, UNIT_LEN, WeightStorage, quant_kernel_source};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = quant_kernel_source!("quant_matvec" after "activation_fns");

/// How `quant_matvec.wgsl` spreads rows over a workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatvecShape {
    /// Invocations sharing one row (a power of two): they take its 32-value units in turn.
    pub threads_per_row: u32,
    pub rows_per_workgroup: u32,
    /// Consecutive rows each invocation (or each group of `threads_per_row`) computes, so that
    /// every value of x it loads serves that many rows.
    pub rows_per_thread: u32,
    /// Rows of x each invocation multiplies with every weight unit it decodes.
    pub tokens: u32,
}

/// Rows of x an invocation takes when X has several: each decoded weight unit serves that many
/// products (a CPU adapter's prefill). With 8, SmolLM2's prefill in SwiftShader went from 1.1
/// tokens/s (the tiled matrix-matrix kernel) to 2.8. On lavapipe (64-token prompts, alternating
/// runs) 4 was 1.2–1.7× slower than 8 and 16 within the noise of 8; fewer rows per invocation
/// with more tokens (16 × 4, 32 × 2, 32 × 4 against 8 × 8) were up to 1.5× slower. On an H200
/// (SmolLM2, 128-token prompt) the products took 20.6 ms with 8, 22.5 with 16 and 31.1 with 32.
pub const PREFILL_TOKENS: u32 = 8;

/// On a CPU adapter, each invocation computes 8 consecutive rows, so that each value of x it
/// loads serves 8 rows: loads there cost per invocation about as much per value as decoding one,
/// and x's loads (one per weight) outnumbered W's. With 16 invocations per workgroup (SIMD batches
/// of 8 on lavapipe, 4 on SwiftShader), a 576-row matrix still spreads over 5 workgroups, enough
/// for the adapter's threads. Measured on lavapipe (2 cores, LLVM 15) against one row per
/// invocation in workgroups of 256: Q4_1 and Q8_0 products 1.5–1.9× faster, Q4_K and Q6_K about
/// the same to 1.5×, SmolLM2's prefill 2.5× faster (the run-to-run noise there is ±30%). In
/// SwiftShader, SmolLM2 decodes 2× and prefills 2.3× faster than with one row per invocation.
const CPU_ROWS_PER_THREAD: u32 = 8;
const CPU_ROWS_PER_WORKGROUP: u32 = 16;

impl MatvecShape {
    /// The shape for rows of `units` 32-value units on `gpu`.
    ///
    /// On a GPU: an invocation per 32-value unit of a row, up to 32 (a row is one subgroup on
    /// NVIDIA), and 256 invocations per workgroup, the size WebGPU guarantees. A decode step's
    /// products are small (SmolLM2's q, k and v together are 0.35 MB), so what bounds them is
    /// latency, the loads one invocation makes one after another, not bandwidth: on an H200 a
    /// decode step's 121 products took 1280 µs this way against 1498 µs with two units per
    /// invocation (`lantern profile`). On a CPU adapter (lavapipe, SwiftShader) one
    /// invocation per [`CPU_ROWS_PER_THREAD`] rows, with no reduction: a workgroup runs there as
    /// SIMD loops, each lane's scale decoding costs about as much as its 32 values, and a row
    /// split across lanes pays it once per lane plus a reduction (one row per invocation was
    /// already 1.1–1.6× faster than the GPU shape on the target models' shapes).
    /// `m` rows of x are taken [`PREFILL_TOKENS`] at a time, one at a time when there is one.
    pub fn for_matrix(units: usize, m: usize, gpu: &Gpu) -> MatvecShape {
        let tokens = if m > 1 { PREFILL_TOKENS } else { 1 };
        if gpu.cpu_workgroups() {
            return MatvecShape {
                threads_per_row: 1,
                rows_per_workgroup: CPU_ROWS_PER_WORKGROUP,
                rows_per_thread: CPU_ROWS_PER_THREAD,
                tokens,
            };
        }
        let invocations = gpu
            .limits()
            .max_compute_invocations_per_workgroup
            .clamp(1, 256);
        let wanted = units.clamp(1, 32) as u32;
        let threads_per_row = 1 << (31 - wanted.leading_zeros());
        MatvecShape {
            threads_per_row,
            rows_per_workgroup: (invocations / threads_per_row).max(1),
            rows_per_thread: 1,
            tokens,
        }
    }

    /// The shape for W·x on `gpu`: [`MatvecShape::for_matrix`] with x's rows (one for `[cols]`).
    fn for_product(w: &QuantMatrix, x: &Tensor, gpu: &Gpu) -> MatvecShape {
        let m = match *x.shape() {
            [m, _] => m,
            _ => 1,
        };
        MatvecShape::for_matrix(w.cols() / UNIT_LEN, m, gpu)
    }

    fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let invocations = self.threads_per_row as u64 * self.rows_per_workgroup as u64;
        let message = if !self.threads_per_row.is_power_of_two()
            || self.rows_per_workgroup == 0
            || self.rows_per_thread == 0
            || self.tokens == 0
        {
            "threads per row must be a power of two, rows per workgroup and thread and tokens non-zero"
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

/// The kernel's entry point for shapes with one invocation per row (`threads_per_row` 1): the
/// same products without the reduction through workgroup memory, and so without barriers, which
/// made CPU adapters' products slower even where they never ran.
const WHOLE_ROWS_ENTRY_POINT: &str = "main_whole_rows";

/// Records y = W·x computed in `precision` (f32 accumulation either way); `x` is `[cols]` or
/// `[m, cols]`, y (from the pool) is `[rows]` or `[m, rows]` (for m > 1, the same as
/// `quant_matmul`, which ran slower on both CPU adapters and an H200: see the model's `linear`).
pub fn quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    precision: Precision,
) -> Result<Tensor> {
    let shape = MatvecShape::for_product(w, x, batch.gpu());
    quant_matvec_shaped(batch, w, x, shape, precision)
}

pub fn quant_matvec_shaped(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    shape: MatvecShape,
    precision: Precision,
) -> Result<Tensor> {
    record(batch, w, x, shape, precision, None)
}

/// Records act(gate) · up for a stacked gate/up matrix `w` (rows `0 .. n` the gate projection's,
/// `n .. 2n` the up projection's): `[n]` or `[m, n]`, as [`quant_matvec`] followed by
/// [`gated_activation_stacked`]. Where the adapter takes whole rows per invocation (CPU adapters)
/// and `w` is one part, the product's invocations apply the activation themselves, each taking
/// gate rows and the up rows of the same outputs: one dispatch fewer per feed-forward block,
/// which on lavapipe is most of the activation's cost (a dispatch there costs tens of µs, the
/// activation of a few thousand values less).
pub fn gated_quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    activation: Activation,
    precision: Precision,
) -> Result<Tensor> {
    let shape = MatvecShape::for_product(w, x, batch.gpu());
    gated_quant_matvec_shaped(batch, w, x, shape, activation, precision)
}

/// [`gated_quant_matvec`] in `shape` (tests force the unfused path with `threads_per_row` > 1).
pub fn gated_quant_matvec_shaped(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    shape: MatvecShape,
    activation: Activation,
    precision: Precision,
) -> Result<Tensor> {
    if !w.rows().is_multiple_of(2) {
        return Err(GpuError::Shape(format!(
            "{}: {} has {} rows, which do not split into gate and up halves",
            KERNEL.name,
            w.name(),
            w.rows()
        )));
    }
    let fused = shape.threads_per_row == 1
        && shape.rows_per_thread.is_multiple_of(2)
        && w.parts().len() == 1;
    if fused {
        return record(batch, w, x, shape, precision, Some(activation));
    }
    // The activation kernel takes rows of gate and up halves: one x vector is one such row.
    let one_vector = matches!(x.shape(), [_]);
    let gate_up = record(batch, w, x, shape, precision, None)?;
    let gate_up = if one_vector {
        gate_up.reshape(&[1, w.rows()])?
    } else {
        gate_up
    };
    let out = gated_activation_stacked(batch, &gate_up, activation)?;
    if one_vector {
        Ok(out.reshape(&[w.rows() / 2])?)
    } else {
        Ok(out)
    }
}

/// Records the product, written as act(gate) · up when `gated` (see [`gated_quant_matvec`]).
fn record(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    shape: MatvecShape,
    precision: Precision,
    gated: Option<Activation>,
) -> Result<Tensor> {
    let op = KERNEL.name;
    // Gated, a pair of gate and up rows gives one output (and the matrix is one part: the
    // caller's condition), so each invocation writes half as many outputs as it has rows.
    let rows_per_output = if gated.is_some() { 2 } else { 1 };
    let outputs = w.rows() / rows_per_output;
    let (m, out_shape) = match *x.shape() {
        [cols] if cols == w.cols() => (1, vec![outputs]),
        [m, cols] if cols == w.cols() => (m, vec![m, outputs]),
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
        .specialization(&["weights", "weight_quads"])
        .precision(precision)
        .u32("THREADS_PER_ROW", shape.threads_per_row)
        .u32("ROWS_PER_WG", shape.rows_per_workgroup)
        .u32("ROWS_PER_THREAD", shape.rows_per_thread)
        .u32("TOKENS", shape.tokens)
        // A texel is 16 bytes whatever the adapter.
        .bool(
            "QUAD_LOADS",
            gpu.wide_loads() || w.storage() == WeightStorage::Texture,
        )
        .bool("SCALE_SUMS", precision == Precision::F32)
        .bool("GATED_OUTPUT", gated.is_some())
        .u32("ACTIVATION", gated.map_or(0, Activation::code));
    let spec = if shape.threads_per_row == 1 {
        spec.entry_point(WHOLE_ROWS_ENTRY_POINT)
    } else {
        spec
    };
    // Decode with whole rows per invocation reads x as a uniform block where the adapter gains
    // from it and x fits one (`Gpu::uniform_shared_vectors`).
    let x_bytes = (w.cols() * 4) as u64;
    let spec = if shape.threads_per_row == 1
        && m == 1
        && gpu.uniform_shared_vectors()
        && x_bytes <= gpu.limits().max_uniform_buffer_binding_size
    {
        spec.declare(
            "x",
            format!("var<uniform> x: array<vec4<f32>, {}>", w.cols() / 4),
        )
    } else {
        spec
    };
    let token_groups = m.div_ceil(shape.tokens as usize);
    for part in w.parts() {
        let outputs_per_group =
            (shape.rows_per_workgroup * shape.rows_per_thread) as usize / rows_per_output;
        let row_groups = (part.rows() / rows_per_output).div_ceil(outputs_per_group);
        let params = [
            dim_u32(op, "rows", part.rows())?,
            dim_u32(op, "units per row", w.cols() / UNIT_LEN)?,
            dim_u32(op, "blocks per row", w.row_blocks())?,
            dim_u32(op, "first row", part.first_row())?,
            dim_u32(op, "tokens", m)?,
            dim_u32(op, "all rows", outputs)?,
            dim_u32(op, "row groups", row_groups)?,
            0, // padding: uniform blocks are 16-byte multiples
        ];
        let workgroups = (row_groups * token_groups) as u64;
        batch.dispatch(
            &KERNEL,
            &spec,
            // The weights twice: as words and as 16-byte quads (see the kernel).
            &[part, x.buffer(), y.buffer(), part],
            bytemuck::cast_slice(&params),
            gpu.grid(op, workgroups)?,
        )?;
    }
    Ok(y)
}
