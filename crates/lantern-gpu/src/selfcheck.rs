//! The self-check the page and `lantern selfcheck` run: every kernel on a few awkward shapes,
//! compared with its CPU reference on the device the user actually has.

use serde::Serialize;

use crate::device::Gpu;
use crate::error::Result;
use crate::kernel::Precision;
use crate::ops;
use crate::quant::{QuantMatrix, WeightFormat};
use crate::reference::quant::compare_matmul_wt_in;
use crate::testing::{Comparison, Rng, compare, compare_matmul, compare_softmax};

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub kernel: &'static str,
    pub shape: String,
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct SelfCheckReport {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl std::fmt::Display for SelfCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<12} {:<22} max |error| {:.2e} ({:.0}% of tolerance)",
                if c.comparison.passed { "ok  " } else { "FAIL" },
                c.kernel,
                c.shape,
                c.comparison.max_abs_error,
                c.comparison.worst_ratio * 100.0
            )?;
        }
        write!(
            f,
            "self-check {}",
            if self.passed { "passed" } else { "FAILED" }
        )
    }
}

/// Matmul shapes (M, K, N): a vector-matrix product, a matrix-vector product, and sizes that are not
/// multiples of the 64×64×16 tile.
const MATMUL_SHAPES: [(usize, usize, usize); 3] = [(1, 130, 67), (67, 129, 1), (70, 33, 100)];
/// Softmax shapes (rows, cols): one value, a single wide row, many odd rows.
const SOFTMAX_SHAPES: [(usize, usize); 3] = [(1, 1), (1, 1000), (37, 129)];
/// The weight-matrix products (rows of X, weight rows, cols): the matrix-vector product of
/// decode and prefill and the tiled product of the matmul peak probe, on f32 "blocks" (the quantized decoders are format code that
/// the kernel tests cover; this checks the products on the user's device), in f32 and, where
/// the device has `shader-f16`, in f16.
const QUANT_SHAPE: (usize, usize, usize) = (5, 67, 96);
/// Top-k: a vocabulary-sized vector across several workgroups, llama.cpp's default k.
const TOP_K_SHAPE: (usize, usize) = (50_000, 40);

pub async fn run(gpu: &Gpu) -> Result<SelfCheckReport> {
    let mut rng = Rng::new(0x1a47e4);
    let mut checks = Vec::new();
    for (m, k, n) in MATMUL_SHAPES {
        let (a, b) = (rng.vec(m * k, -1.0, 1.0), rng.vec(k * n, -1.0, 1.0));
        let mut batch = gpu.batch("self-check matmul");
        let c = ops::matmul(
            &mut batch,
            &gpu.upload("A", &a, &[m, k])?,
            &gpu.upload("B", &b, &[k, n])?,
        )?;
        let out = batch.submit_and_read(&c).await?;
        checks.push(Check {
            kernel: "matmul",
            shape: format!("{m}x{k}·{k}x{n}"),
            comparison: compare_matmul(&out, &a, &b, m, k, n),
        });
    }
    for (rows, cols) in SOFTMAX_SHAPES {
        let x = rng.vec(rows * cols, -8.0, 8.0);
        let mut batch = gpu.batch("self-check softmax");
        let y = ops::softmax(&mut batch, &gpu.upload("x", &x, &[rows, cols])?)?;
        let out = batch.submit_and_read(&y).await?;
        checks.push(Check {
            kernel: "softmax",
            shape: format!("{rows}x{cols}"),
            comparison: compare_softmax(&out, &x, rows, cols),
        });
    }
    let (m, rows, cols) = QUANT_SHAPE;
    let w = rng.vec(rows * cols, -1.0, 1.0);
    let matrix = QuantMatrix::upload(
        gpu,
        "self-check W",
        WeightFormat::F32,
        rows,
        cols,
        bytemuck::cast_slice(&w),
    )?;
    let x = rng.vec(m * cols, -1.0, 1.0);
    let x_one = &x[..cols];
    let precisions: &[Precision] = if gpu.report().features.shader_f16 {
        &[Precision::F32, Precision::F16]
    } else {
        &[Precision::F32]
    };
    for &precision in precisions {
        let mut batch = gpu.batch("self-check quantized products");
        let y_one = ops::quant_matvec(
            &mut batch,
            &matrix,
            &gpu.upload("x", x_one, &[cols])?,
            precision,
        )?;
        let y = ops::quant_matmul(
            &mut batch,
            &gpu.upload("X", &x, &[m, cols])?,
            &matrix,
            precision,
        )?;
        batch.submit().await?;
        let (out_one, out) = (gpu.read(&y_one).await?, gpu.read(&y).await?);
        let tile_k = ops::QuantMatmulTiling::for_rows(m).tile_k as usize;
        let vec_check = compare_matmul_wt_in(precision, &out_one, x_one, &w, (1, cols, rows), 4);
        let mat_check = compare_matmul_wt_in(precision, &out, &x, &w, (m, cols, rows), tile_k);
        checks.push(Check {
            kernel: "quant_matvec",
            shape: format!("{rows}x{cols} {precision}"),
            comparison: vec_check,
        });
        checks.push(Check {
            kernel: "quant_matmul",
            shape: format!("{m}x{cols}·{rows}x{cols}ᵀ {precision}"),
            comparison: mat_check,
        });
    }
    let (n, k) = TOP_K_SHAPE;
    let logits = rng.vec(n, -20.0, 20.0);
    let mut batch = gpu.batch("self-check top-k");
    let top = ops::top_k(&mut batch, &gpu.upload("logits", &logits, &[n])?, k)?;
    let top = ops::decode_top_k(&batch.submit_and_read(&top).await?);
    // Exact: the same ids (small integers, exact as f32) and the same values.
    let flat = |pairs: &[(u32, f32)]| -> Vec<f32> {
        pairs.iter().flat_map(|&(id, v)| [id as f32, v]).collect()
    };
    checks.push(Check {
        kernel: "top_k",
        shape: format!("{n} → {k}"),
        comparison: compare(
            &flat(&top),
            &flat(&crate::reference::top_k(&logits, k)),
            |_, _| 0.0,
        ),
    });
    let passed = checks.iter().all(|c| c.comparison.passed);
    Ok(SelfCheckReport { passed, checks })
}
