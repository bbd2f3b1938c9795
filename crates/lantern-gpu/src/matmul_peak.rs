//! The adapter's arithmetic roofline, measured: the most multiply-adds per second Lantern's
//! matrix products reach on it (dense f32 and on quantized weights), which prefill speed (a
//! prompt is a stack of matrix products) is compared with, as decode speed is compared with
//! [`crate::bandwidth`].

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::Result;
use crate::kernel::Precision;
use crate::ops::{MatmulTiling, matmul_tiled, quant_matmul, quant_matvec};
use crate::quant::{QuantMatrix, WeightFormat};
use crate::roofline::time_growing;
use crate::tensor::Tensor;

/// One timed run of one kernel; [`measure`] returns the fastest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatmulPeak {
    /// The product was n×n by n×n (n a multiple of 32, the weights' unit).
    pub n: usize,
    /// How many products were timed (one submission).
    pub products: u32,
    pub milliseconds: f64,
    pub kernel: PeakKernel,
}

impl MatmulPeak {
    /// Multiply-adds count twice (a multiply and an add), as FLOP/s figures usually do.
    pub fn gigaflops(&self) -> f64 {
        if self.milliseconds > 0.0 {
            2.0 * (self.n as f64).powi(3) * self.products as f64 / self.milliseconds / 1e6
        } else {
            0.0
        }
    }
}

/// The kernels the probe tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeakKernel {
    /// `matmul.wgsl` (f32 A·B) with this tiling.
    Dense(MatmulTiling),
    /// `quant_matvec.wgsl` with B transposed as weights of this format, several rows of A per
    /// invocation: the product prefill runs.
    WeightRows(WeightFormat),
    /// `quant_matmul.wgsl`, the tiled product with B transposed as weights of this format (which
    /// prefill ran on GPUs until the H200 showed it slower).
    WeightTiles(WeightFormat),
}

/// Weight formats the probe's quantized products read. Fewer bytes per value can make a
/// quantized product faster than the f32 one (on lavapipe, where each load costs more than the
/// arithmetic, Q4_1 prefill outran the f32 product), so a peak must include them.
const WEIGHT_FORMATS: [WeightFormat; 3] =
    [WeightFormat::F32, WeightFormat::Q8_0, WeightFormat::Q4_0];

/// The kernels tried: the dense product with the default tiling (256 invocations, 4×4 outputs
/// each) and two 64-invocation ones (CPU adapters run those faster, their barriers costing more
/// with more invocations), and both quantized products in each of [`WEIGHT_FORMATS`]. The peak
/// is the best any of them reaches: the most multiply-adds per second Lantern's products get
/// from this adapter, what a prompt's products (the bulk of prefill) can at best run at.
pub fn candidates() -> Vec<PeakKernel> {
    let base = MatmulTiling::default();
    let mut kernels = vec![
        PeakKernel::Dense(base),
        PeakKernel::Dense(MatmulTiling {
            tile_m: 32,
            tile_n: 32,
            ..base
        }),
        PeakKernel::Dense(MatmulTiling {
            thread_m: 8,
            thread_n: 8,
            ..base
        }),
    ];
    for format in WEIGHT_FORMATS {
        kernels.push(PeakKernel::WeightRows(format));
        kernels.push(PeakKernel::WeightTiles(format));
    }
    kernels
}

/// The probe's operands as each kernel takes them: A and B (n×n, small integers from
/// [`probe_operands`]) for the dense product, Bᵀ as weights of each of [`WEIGHT_FORMATS`] (exact:
/// see [`exact_blocks`]) for the others. Every kernel computes the same exact product.
pub struct Operands {
    n: usize,
    a: Tensor,
    b: Tensor,
    b_transposed: Vec<(WeightFormat, QuantMatrix)>,
}

impl Operands {
    /// Uploads the operands of an n×n product (n a multiple of 32, the weights' unit).
    pub fn new(gpu: &Gpu, n: usize) -> Result<Operands> {
        let (a, b) = probe_operands(n);
        let mut transposed = vec![0f32; n * n];
        for (i, v) in b.iter().enumerate() {
            transposed[(i % n) * n + i / n] = *v;
        }
        let b_transposed = WEIGHT_FORMATS
            .into_iter()
            .map(|format| {
                let bytes = exact_blocks(format, &transposed);
                let w = QuantMatrix::upload(gpu, "matmul peak Bᵀ", format, n, n, &bytes)?;
                Ok((format, w))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Operands {
            n,
            a: gpu.upload("matmul peak A", &a, &[n, n])?,
            b: gpu.upload("matmul peak B", &b, &[n, n])?,
            b_transposed,
        })
    }

    fn record(&self, batch: &mut Batch<'_>, kernel: PeakKernel) -> Result<Tensor> {
        let weights = |format| {
            let (_, w) = self
                .b_transposed
                .iter()
                .find(|(f, _)| *f == format)
                .expect("every probe format is uploaded");
            w
        };
        match kernel {
            PeakKernel::Dense(tiling) => matmul_tiled(batch, &self.a, &self.b, tiling),
            PeakKernel::WeightRows(format) => {
                quant_matvec(batch, weights(format), &self.a, Precision::F32)
            }
            PeakKernel::WeightTiles(format) => {
                quant_matmul(batch, &self.a, weights(format), Precision::F32)
            }
        }
    }
}

/// The most products one timed submission holds: enough for a GPU with hundreds of TFLOP/s
/// to run for milliseconds at n = 1024.
const MAX_PRODUCTS: u32 = 1024;

/// Times `kernel` on `operands` with `now_ms` (a monotonic clock in milliseconds): after one
/// untimed product that compiles the pipeline, one submission of 1, 4, 16, … products until one
/// takes at least `min_ms` ([`time_growing`]). Returns that run and the product it computed (row-major), for checking; an error
/// when the kernel cannot run here (a tiling beyond the device's limits).
pub async fn time_kernel(
    gpu: &Gpu,
    operands: &Operands,
    kernel: PeakKernel,
    min_ms: f64,
    now_ms: impl Fn() -> f64,
) -> Result<(MatmulPeak, Vec<f32>)> {
    let mut warm_up = gpu.batch("matmul peak warm-up");
    let c = operands.record(&mut warm_up, kernel)?;
    warm_up.submit_and_read(&c).await?;

    let (values, products, milliseconds) =
        time_growing(1, MAX_PRODUCTS, min_ms, &now_ms, async |products| {
            let mut batch = gpu.batch("matmul peak");
            for _ in 1..products {
                // Each product overwrites the last one's (pooled) output: the probe times the
                // arithmetic, not the memory a batch of outputs would take.
                drop(operands.record(&mut batch, kernel)?);
            }
            let c = operands.record(&mut batch, kernel)?;
            // The whole product comes back: an n² copy, small beside the n³ work timed with it.
            batch.submit_and_read(&c).await
        })
        .await?;
    let run = MatmulPeak {
        n: operands.n,
        products,
        milliseconds,
        kernel,
    };
    Ok((run, values))
}

/// Times every kernel of [`candidates`] that this device can run on an n×n product (see
/// [`time_kernel`]) and returns the fastest run.
pub async fn measure(
    gpu: &Gpu,
    n: usize,
    min_ms: f64,
    now_ms: impl Fn() -> f64,
) -> Result<MatmulPeak> {
    let operands = Operands::new(gpu, n)?;
    let mut best: Option<MatmulPeak> = None;
    for kernel in candidates() {
        // A kernel this device's limits do not allow is not a candidate.
        let Ok((run, _)) = time_kernel(gpu, &operands, kernel, min_ms, &now_ms).await else {
            continue;
        };
        if best.is_none_or(|b| run.gigaflops() > b.gigaflops()) {
            best = Some(run);
        }
    }
    best.ok_or_else(|| crate::error::GpuError::Kernel {
        kernel: "matmul".into(),
        message: "no product kernel fits this device's limits".into(),
    })
}

/// `values` (integers in -8..=7, a multiple of 32 of them) as GGUF blocks of `format` that
/// decode to exactly them: scale 1 (and Q4_0's offset of 8), so every kernel computes the same,
/// exact product.
fn exact_blocks(format: WeightFormat, values: &[f32]) -> Vec<u8> {
    const ONE_F16: [u8; 2] = [0x00, 0x3c];
    let mut bytes = Vec::new();
    for block in values.chunks(32) {
        match format {
            WeightFormat::Q8_0 => {
                bytes.extend_from_slice(&ONE_F16);
                bytes.extend(block.iter().map(|&v| v as i8 as u8));
            }
            WeightFormat::Q4_0 => {
                // Byte k: value k in the low nibble, value k + 16 in the high one, each plus 8.
                bytes.extend_from_slice(&ONE_F16);
                let nibble = |v: f32| (v as i32 + 8) as u8;
                bytes.extend((0..16).map(|k| nibble(block[k]) | (nibble(block[k + 16]) << 4)));
            }
            _ => bytes.extend(block.iter().flat_map(|v| v.to_le_bytes())),
        }
    }
    bytes
}

/// A and B of the probe: integers in -2..=2 (so C's entries, at most 4n in size, are exact).
pub fn probe_operands(n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..n * n).map(|i| ((i * 7 + 3) % 5) as f32 - 2.0).collect();
    let b = (0..n * n).map(|i| ((i * 3 + 1) % 5) as f32 - 2.0).collect();
    (a, b)
}
