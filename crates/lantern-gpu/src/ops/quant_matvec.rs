//! Launcher for `kernels/quant_matvec.wgsl`: y = W·x for a quantized weight matrix (decode), or
//! Y = X·Wᵀ a few tokens per invocation (prefill, on every adapter).

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Precision};
use crate::ops::{Activation, RmsNorm, dim_u32, gated_activation_stacked, rms_norm};
use crate::pool::Binding;
use crate::quant::{QuantMatrix, UNIT_LEN, WeightFormat, WeightStorage, quant_kernel_source};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = quant_kernel_source!("quant_matvec" after "activation_fns");

/// The kernel's reads of a normed input ([`Product::normed`]), in place of its plain ones.
const NORMED_INPUT_FUNCTIONS: &str = include_str!("../kernels/normed_input.wgsl");

/// The kernel's norm scale for a weighted input ([`Product::weighted`]).
const WEIGHTED_INPUT_FUNCTIONS: &str = include_str!("../kernels/weighted_input.wgsl");

/// The kernel's stores for a product that weighs the residual it adds into
/// ([`Product::add_into_weighing`]).
const WEIGHTED_OUTPUT_FUNCTIONS: &str = include_str!("../kernels/weighted_output.wgsl");

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

    /// Workgroups along `rows` weight rows, `rows_per_output` of which give one output (2 for a
    /// gated product: a gate and an up row).
    fn row_groups(&self, rows: usize, rows_per_output: usize) -> usize {
        let outputs_per_group =
            (self.rows_per_workgroup * self.rows_per_thread) as usize / rows_per_output;
        (rows / rows_per_output).div_ceil(outputs_per_group)
    }

    /// Whether each invocation multiplies all of x, for `m` rows of x: whole rows per
    /// invocation and one row of x, the shape in which a product can normalise its input itself.
    fn takes_whole_input(&self, m: usize) -> bool {
        self.threads_per_row == 1 && self.tokens == 1 && m == 1
    }

    /// The shape for W·x on `gpu`: [`MatvecShape::for_matrix`] with x's rows (one for `[cols]`).
    fn for_product(w: &QuantMatrix, x: &Tensor, gpu: &Gpu) -> MatvecShape {
        MatvecShape::for_matrix(w.cols() / UNIT_LEN, rows_of(x), gpu)
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
/// [`Product`] has the variants (a shape of one's own, a normed input, a gated output, the
/// residual stream updated in place).
pub fn quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    precision: Precision,
) -> Result<Tensor> {
    Product::new(w, x).precision(precision).record(batch)
}

/// Records act(gate) · up for a stacked gate/up matrix `w`: [`Product::gated`].
pub fn gated_quant_matvec(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    activation: Activation,
    precision: Precision,
) -> Result<Tensor> {
    Product::new(w, x)
        .gated(activation)
        .precision(precision)
        .record(batch)
}

/// One product of `quant_matvec.wgsl` and what it fuses: W·x, or with [`Product::normed`]
/// W·RMSNorm(x), with [`Product::gated`] act(gate)·up of a stacked gate/up matrix, recorded as a
/// new tensor ([`Product::record`]) or added into the residual stream ([`Product::add_into`]).
/// What the adapter's shape cannot fuse is recorded as separate kernels, with the same result.
#[derive(Clone, Copy)]
pub struct Product<'a> {
    w: &'a QuantMatrix,
    x: &'a Tensor,
    shape: Option<MatvecShape>,
    precision: Precision,
    gated: Option<Activation>,
    norm: Option<(&'a Tensor, RmsNorm)>,
    weighted: Option<(&'a Tensor, RmsNorm)>,
}

/// The residual stream made ready for the next RMSNorm by the product that last added into it
/// ([`Product::add_into_weighing`]): x ⊙ (weight + offset), and partial sums of x², so that the
/// next products ([`Product::weighted`]) only scale their sums.
pub struct WeightedStream {
    /// x ⊙ (weight + offset), shaped as x.
    pub weighted: Tensor,
    /// Partial sums of x², one per invocation of the product that wrote them (a multiple of 4).
    pub square_sums: Tensor,
}

/// What one dispatch of the kernel fuses (see [`Product`]).
#[derive(Clone, Copy, Default)]
struct Fusion<'a> {
    gated: Option<Activation>,
    norm: Option<(&'a Tensor, RmsNorm)>,
    /// x is weighted; these are the partial sums of x² (WEIGHTED_INPUT).
    weighted: Option<(&'a Tensor, RmsNorm)>,
    residual: Option<&'a Tensor>,
    /// With `residual`: the next norm's weight and where to write the weighted stream
    /// (WEIGHTED_OUTPUT).
    weighing: Option<Weighing<'a>>,
}

/// The next norm's weight and the norm, and the stream to write (WEIGHTED_OUTPUT).
type Weighing<'a> = (&'a Tensor, RmsNorm, &'a WeightedStream);

impl<'a> Product<'a> {
    /// W·x in f32, in the adapter's shape ([`MatvecShape::for_matrix`]).
    pub fn new(w: &'a QuantMatrix, x: &'a Tensor) -> Self {
        Product {
            w,
            x,
            shape: None,
            precision: Precision::F32,
            gated: None,
            norm: None,
            weighted: None,
        }
    }

    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Runs in `shape` rather than the adapter's (tests and measurements); `None` is the
    /// adapter's ([`MatvecShape::for_matrix`]).
    pub fn shape(mut self, shape: Option<MatvecShape>) -> Self {
        self.shape = shape;
        self
    }

    /// act(gate) · up for a stacked gate/up matrix `w` (rows `0 .. n` the gate projection's,
    /// `n .. 2n` the up projection's): `[n]` or `[m, n]`, as the product followed by
    /// [`gated_activation_stacked`]. Where the shape takes whole rows per invocation (CPU
    /// adapters) and `w` is one part, the product's invocations apply the activation themselves,
    /// each taking gate rows and the up rows of the same outputs: one dispatch fewer per
    /// feed-forward block, which on lavapipe is most of the activation's cost (a dispatch there
    /// costs tens of µs, the activation of a few thousand values less).
    pub fn gated(mut self, activation: Activation) -> Self {
        self.gated = Some(activation);
        self
    }

    /// Multiplies RMSNorm(x) ⊙ (`weight` + offset) rather than x. In decode with whole rows per
    /// invocation (CPU adapters), the product's invocations normalise x themselves (each loads
    /// all of x: it sums x² on the way and scales its sums once), saving the norm's dispatch;
    /// elsewhere the norm is a kernel of its own before the product.
    pub fn normed(mut self, weight: &'a Tensor, norm: RmsNorm) -> Self {
        self.norm = Some((weight, norm));
        self
    }

    /// Multiplies RMSNorm(x) ⊙ (weight + offset) where x is a [`WeightedStream`]'s `weighted`
    /// and `square_sums` its partial sums of x²: the product only scales its sums. Only where the
    /// product normalises its input itself ([`Product::normalises_input`]).
    pub fn weighted(mut self, square_sums: &'a Tensor, norm: RmsNorm) -> Self {
        self.weighted = Some((square_sums, norm));
        self
    }

    /// Whether the product's own invocations normalise a [`Product::normed`] input on `gpu`,
    /// rather than a norm kernel before it (which a caller with several products of the same
    /// input would rather record once).
    pub fn normalises_input(&self, gpu: &Gpu) -> bool {
        self.shape_on(gpu).takes_whole_input(rows_of(self.x))
    }

    /// Records the product into a new tensor: `[rows]` or `[m, rows]` (`[rows / 2]` or
    /// `[m, rows / 2]` gated).
    pub fn record(self, batch: &mut Batch<'_>) -> Result<Tensor> {
        Ok(self
            .record_fused(batch, None)?
            .expect("a product not added into a residual has an output"))
    }

    /// Records `residual += the product` (the residual stream, updated in place by the product's
    /// store: no add kernel). Not gated (no model adds a gated product to its residual).
    pub fn add_into(self, batch: &mut Batch<'_>, residual: &Tensor) -> Result<()> {
        self.check_addable()?;
        self.record_fused(batch, Some((residual, None))).map(|_| ())
    }

    /// Whether [`Product::add_into_weighing`] can run on `gpu`: in decode with whole rows per
    /// invocation, in workgroups of a multiple of 4 (the partial sums are read as vec4s), for a
    /// matrix of one part.
    pub fn weighs_output(&self, gpu: &Gpu) -> bool {
        let shape = self.shape_on(gpu);
        self.normalises_input(gpu)
            && shape.rows_per_workgroup.is_multiple_of(4)
            && self.w.parts().len() == 1
    }

    /// Records `residual += the product` as [`Product::add_into`], and also readies the
    /// residual stream for the next RMSNorm, by `next_weight`: see [`WeightedStream`]. Where
    /// [`Product::weighs_output`] holds; an error elsewhere.
    pub fn add_into_weighing(
        self,
        batch: &mut Batch<'_>,
        residual: &Tensor,
        next_weight: &Tensor,
        norm: RmsNorm,
    ) -> Result<WeightedStream> {
        self.check_addable()?;
        let gpu = batch.gpu();
        if !self.weighs_output(gpu) {
            return Err(GpuError::Shape(format!(
                "{}: the product of {} readies the residual for a norm only in decode with \
                 whole rows per invocation, groups of them a multiple of 4, and one part, not \
                 {} rows of x in {:?} and {} parts",
                KERNEL.name,
                self.w.name(),
                rows_of(self.x),
                self.shape_on(gpu),
                self.w.parts().len()
            )));
        }
        if next_weight.shape() != [self.w.rows()] {
            return Err(GpuError::Shape(format!(
                "{}: the product of {} has {} rows, so the next norm's weight must be [{}], \
                 got {:?}",
                KERNEL.name,
                self.w.name(),
                self.w.rows(),
                self.w.rows(),
                next_weight.shape()
            )));
        }
        // One partial sum per invocation (whole rows: an invocation per row group's slot).
        let shape = self.shape_on(gpu);
        let invocations = shape.row_groups(self.w.rows(), 1) * shape.rows_per_workgroup as usize;
        let stream = WeightedStream {
            weighted: gpu.empty("weighted residual", residual.shape())?,
            square_sums: gpu.empty("residual's square sums", &[invocations])?,
        };
        self.record_fused(batch, Some((residual, Some((next_weight, norm, &stream)))))?;
        Ok(stream)
    }

    fn check_addable(&self) -> Result<()> {
        if self.gated.is_some() {
            return Err(GpuError::Shape(format!(
                "{}: a gated product of {} cannot be added into a residual",
                KERNEL.name,
                self.w.name()
            )));
        }
        Ok(())
    }

    fn shape_on(&self, gpu: &Gpu) -> MatvecShape {
        self.shape
            .unwrap_or_else(|| MatvecShape::for_product(self.w, self.x, gpu))
    }

    /// Records the product, added into `residual` when given (then returning no tensor; and
    /// weighing it for the next norm where that is given too), fusing what the shape allows and
    /// recording the rest as kernels of their own.
    fn record_fused(
        self,
        batch: &mut Batch<'_>,
        residual: Option<(&'a Tensor, Option<Weighing<'a>>)>,
    ) -> Result<Option<Tensor>> {
        let gpu = batch.gpu();
        let shape = self.shape_on(gpu);
        let (residual, weighing) = match residual {
            Some((residual, weighing)) => (Some(residual), weighing),
            None => (None, None),
        };
        let normed;
        let (x, norm) = match self.norm {
            Some((weight, norm)) if !self.normalises_input(gpu) => {
                normed = rms_norm(batch, self.x, weight, norm)?;
                (&normed, None)
            }
            norm => (self.x, norm),
        };
        let Some(activation) = self.gated else {
            let fusion = Fusion {
                norm,
                weighted: self.weighted,
                residual,
                weighing,
                ..Fusion::default()
            };
            return record(batch, self.w, x, shape, self.precision, fusion);
        };
        let w = self.w;
        if !w.rows().is_multiple_of(2) {
            return Err(GpuError::Shape(format!(
                "{}: {} has {} rows, which do not split into gate and up halves",
                KERNEL.name,
                w.name(),
                w.rows()
            )));
        }
        let fusion = Fusion {
            gated: Some(activation),
            norm,
            weighted: self.weighted,
            ..Fusion::default()
        };
        if shape.threads_per_row == 1
            && shape.rows_per_thread.is_multiple_of(2)
            && w.parts().len() == 1
        {
            return record(batch, w, x, shape, self.precision, fusion);
        }
        // The activation kernel takes rows of gate and up halves: one x vector is one such row.
        let one_vector = matches!(x.shape(), [_]);
        let fusion = Fusion {
            gated: None,
            ..fusion
        };
        let gate_up = record(batch, w, x, shape, self.precision, fusion)?
            .expect("a product not added into a residual has an output");
        let gate_up = if one_vector {
            gate_up.reshape(&[1, w.rows()])?
        } else {
            gate_up
        };
        let out = gated_activation_stacked(batch, &gate_up, activation)?;
        let out = if one_vector {
            out.reshape(&[w.rows() / 2])?
        } else {
            out
        };
        Ok(Some(out))
    }
}

/// Rows of x in a product: m for `[m, cols]`, 1 for `[cols]`.
fn rows_of(x: &Tensor) -> usize {
    match *x.shape() {
        [m, _] => m,
        _ => 1,
    }
}

/// Records one dispatch per part of the product with what `fusion` asks of the kernel: returns
/// y, or nothing when it was added into `fusion.residual`. The caller has checked that the
/// shape can fuse it (see [`Product::record_fused`]).
fn record(
    batch: &mut Batch<'_>,
    w: &QuantMatrix,
    x: &Tensor,
    shape: MatvecShape,
    precision: Precision,
    fusion: Fusion<'_>,
) -> Result<Option<Tensor>> {
    let gated = fusion.gated;
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
    if let Some((weight, _)) = fusion.norm
        && weight.shape() != [w.cols()]
    {
        return Err(GpuError::Shape(format!(
            "{op}: {} takes {} values, so its input's norm weight must be [{}], got {:?}",
            w.name(),
            w.cols(),
            w.cols(),
            weight.shape()
        )));
    }
    if let Some((square_sums, _)) = fusion.weighted
        && (square_sums.shape().len() != 1 || !square_sums.len().is_multiple_of(4))
    {
        return Err(GpuError::Shape(format!(
            "{op}: partial sums of x² come as a vector of a multiple of 4, got {:?}",
            square_sums.shape()
        )));
    }
    // Where the input is normed, only products that take all of x can normalise it themselves
    // (elsewhere [`Product::record_fused`] records a norm kernel first; a weighted input has no
    // such fallback).
    let input = match (fusion.norm, fusion.weighted) {
        (Some(_), _) => Some("a normed input"),
        (_, Some(_)) => Some("a weighted input"),
        _ => None,
    };
    if let Some(input) = input
        && !shape.takes_whole_input(m)
    {
        return Err(GpuError::Shape(format!(
            "{op}: {input} is normalised by the product only in decode with whole rows per \
             invocation, not {m} rows of x in {shape:?}"
        )));
    }
    let output = match fusion.residual {
        Some(residual) if residual.shape() != out_shape.as_slice() => {
            return Err(GpuError::Shape(format!(
                "{op}: the product of {} is {out_shape:?}, so it cannot be added into a \
                 residual of {:?}",
                w.name(),
                residual.shape()
            )));
        }
        Some(_) => None,
        None => Some(gpu.empty("quant_matvec output", &out_shape)?),
    };
    let y = fusion
        .residual
        .or(output.as_ref())
        .expect("a product has a residual or an output of its own");
    if m == 0 {
        return Ok(output);
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
        .bool("LONG_BODIES", gpu.unroll_long_loops())
        .bool("GATED_OUTPUT", gated.is_some())
        .u32("ACTIVATION", gated.map_or(0, Activation::code))
        .bool("NORMED_INPUT", fusion.norm.is_some())
        .bool("WEIGHTED_INPUT", fusion.weighted.is_some())
        .bool("RESIDUAL_OUTPUT", fusion.residual.is_some())
        .bool("WEIGHTED_OUTPUT", fusion.weighing.is_some());
    let spec = match (fusion.norm, fusion.weighted, fusion.weighing) {
        (Some((_, norm)), _, _) => spec
            .f32("NORM_WEIGHT_OFFSET", norm.weight_offset)
            .replace_functions(NORMED_INPUT_FUNCTIONS),
        (_, Some(_), _) => spec.replace_functions(WEIGHTED_INPUT_FUNCTIONS),
        (_, _, Some((_, norm, _))) => spec
            .f32("NORM_WEIGHT_OFFSET", norm.weight_offset)
            .replace_functions(WEIGHTED_OUTPUT_FUNCTIONS),
        _ => spec,
    };
    // The block-by-block decoders serve their own formats only; left in, each unrolled is a
    // large part of every other format's shader (see `Specialization::empty_function`).
    let spec = [
        (WeightFormat::Q4_K, "add_q4k_block"),
        (WeightFormat::Q6_K, "add_q6k_block"),
    ]
    .into_iter()
    .filter(|&(format, _)| format != w.format())
    .fold(spec, |spec, (_, decoder)| spec.empty_function(decoder));
    let spec = if shape.threads_per_row == 1 {
        spec.entry_point(WHOLE_ROWS_ENTRY_POINT)
    } else {
        spec
    };
    // Decode with whole rows per invocation reads x (and its norm's weight) as a uniform block
    // where the adapter gains from it and x fits one (`Gpu::uniform_shared_vectors`).
    let x_bytes = (w.cols() * 4) as u64;
    let spec = if shape.threads_per_row == 1
        && m == 1
        && gpu.uniform_shared_vectors()
        && x_bytes <= gpu.limits().max_uniform_buffer_binding_size
    {
        let vec4s = w.cols() / 4;
        spec.declare("x", format!("var<uniform> x: array<vec4<f32>, {vec4s}>"))
            .declare(
                "norm_weight",
                format!("var<uniform> norm_weight: array<vec4<f32>, {vec4s}>"),
            )
    } else {
        spec
    };
    let eps = fusion
        .norm
        .or(fusion.weighted)
        .map_or(0.0, |(_, norm)| norm.eps);
    let square_sums = fusion.weighted.map_or(0, |(sums, _)| sums.len());
    let token_groups = m.div_ceil(shape.tokens as usize);
    for part in w.parts() {
        let row_groups = shape.row_groups(part.rows(), rows_per_output);
        let params = [
            dim_u32(op, "rows", part.rows())?,
            dim_u32(op, "units per row", w.cols() / UNIT_LEN)?,
            dim_u32(op, "blocks per row", w.row_blocks())?,
            dim_u32(op, "first row", part.first_row())?,
            dim_u32(op, "tokens", m)?,
            dim_u32(op, "all rows", outputs)?,
            dim_u32(op, "row groups", row_groups)?,
            eps.to_bits(),
            dim_u32(op, "partial sums of x²", square_sums)?,
            0, // padding: uniform blocks are 16-byte multiples
            0,
            0,
        ];
        let workgroups = (row_groups * token_groups) as u64;
        // The weights twice: as words and as 16-byte quads (see the kernel); then the fusions'
        // bindings, which move the uniform parameters on.
        let mut buffers: Vec<&dyn Binding> = vec![part, x.buffer(), y.buffer(), part];
        if let Some((weight, _)) = fusion.norm {
            buffers.push(weight.buffer());
        }
        if let Some((sums, _)) = fusion.weighted {
            buffers.push(sums.buffer());
        }
        if let Some((next_weight, _, stream)) = fusion.weighing {
            buffers.push(next_weight.buffer());
            buffers.push(stream.weighted.buffer());
            buffers.push(stream.square_sums.buffer());
        }
        batch.dispatch(
            &KERNEL,
            &spec,
            &buffers,
            bytemuck::cast_slice(&params),
            gpu.grid(op, workgroups)?,
        )?;
    }
    Ok(output)
}
