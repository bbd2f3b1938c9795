//! What the quantized-weight tests share (`quant_kernels.rs`, `quant_weights.rs`,
//! `fused_products.rs`, `embedding_kernels.rs`): random matrices with lantern-core's
//! dequantization of them (bit-exact with ggml), and checks of the plain products over every
//! format and shape. The first three were one test file until their pipelines took Chromium's
//! SwiftShader past the browser runner's 300 s per file.

// Each test file uses part of this module.
#![allow(dead_code)]

use lantern_core::GgmlType;
use lantern_core::quant::dequantize_to_vec;
use lantern_gpu::ops::quant_matmul::{QuantMatmulTiling, quant_matmul_tiled};
use lantern_gpu::ops::quant_matvec::{MatvecShape, Product, quant_matvec};
use lantern_gpu::quant::{QuantMatrix, WeightFormat};
use lantern_gpu::reference::quant::{compare_matmul_wt, compare_matmul_wt_in, random_blocks};
use lantern_gpu::testing::Rng;
use lantern_gpu::{Batch, Gpu, Precision, Tensor};

/// The mapping the model loader makes; F32/F16 "blocks" are 32 values here, one in ggml.
pub fn ggml_type(format: WeightFormat) -> GgmlType {
    match format {
        WeightFormat::F32 => GgmlType::F32,
        WeightFormat::F16 => GgmlType::F16,
        WeightFormat::Q8_0 => GgmlType::Q8_0,
        WeightFormat::Q4_0 => GgmlType::Q4_0,
        WeightFormat::Q4_1 => GgmlType::Q4_1,
        WeightFormat::Q5_0 => GgmlType::Q5_0,
        WeightFormat::Q4_K => GgmlType::Q4_K,
        WeightFormat::Q6_K => GgmlType::Q6_K,
    }
}

/// A random `rows`×`cols` matrix: its GGUF bytes and lantern-core's dequantization of them.
pub fn random_matrix(
    format: WeightFormat,
    rows: usize,
    cols: usize,
    rng: &mut Rng,
) -> (Vec<u8>, Vec<f32>) {
    let blocks = rows * cols / format.block_len();
    let gguf = random_blocks(format, blocks, rng);
    let values = dequantize_to_vec(ggml_type(format), &gguf, rows * cols).unwrap();
    assert!(
        values.iter().all(|v| v.is_finite()),
        "{format}: non-finite weight"
    );
    (gguf, values)
}

/// Whether the f16 path can run here; says so when it cannot (SwiftShader lacks `shader-f16`).
pub fn has_f16(gpu: &Gpu) -> bool {
    let has = gpu.report().features.shader_f16;
    if !has {
        println!("skipped: {} has no shader-f16", gpu.report().name);
    }
    has
}

/// (rows, blocks per row): one row; one block per row; row counts that are not multiples of any
/// workgroup's rows; many blocks per row.
pub const MATVEC_SHAPES: &[(usize, usize)] = &[(1, 1), (1, 9), (33, 1), (70, 3), (131, 2), (5, 40)];

pub async fn check_matvec(gpu: &Gpu, shape: Option<MatvecShape>, precision: Precision, seed: u64) {
    let mut rng = Rng::new(seed);
    for format in WeightFormat::ALL {
        for &(rows, blocks) in MATVEC_SHAPES {
            let cols = blocks * format.block_len();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            let x = rng.vec(cols, -1.0, 1.0);
            let matrix = QuantMatrix::upload(gpu, "W", format, rows, cols, &gguf).unwrap();
            let mut batch = gpu.batch("quant_matvec test");
            let tx = gpu.upload("x", &x, &[cols]).unwrap();
            let y = Product::new(&matrix, &tx)
                .shape(shape)
                .precision(precision)
                .record(&mut batch)
                .unwrap();
            assert_eq!(y.shape(), &[rows]);
            let out = batch.submit_and_read(&y).await.unwrap();
            let cmp = compare_matmul_wt_in(precision, &out, &x, &w, (1, cols, rows), 4);
            assert!(
                cmp.passed,
                "{format} matvec {rows}x{cols} with {shape:?} in {precision}: {cmp:?}"
            );
        }
    }
}

/// The matrix-vector kernel over several rows of X (a CPU adapter's prefill): each decoded unit
/// multiplied with `tokens` rows, rows of X past M skipped.
pub async fn check_matvec_rows(gpu: &Gpu, shape: Option<MatvecShape>, seed: u64) {
    check_x_times_wt(gpu, Precision::F32, seed, |batch, tx, matrix, _| {
        let y = Product::new(matrix, tx).shape(shape).record(batch);
        (y.unwrap(), 4, format!("matvec with {shape:?}"))
    })
    .await;
}

/// The shape of `m` rows of `n` values as the products take and give them: `[n]` for one.
pub fn rows_of(m: usize, n: usize) -> Vec<usize> {
    if m == 1 { vec![n] } else { vec![m, n] }
}

/// Streams `gguf` into `matrix` in chunks of `chunk` bytes, then checks one decode product with a
/// random x against `w`, the dequantized matrix; `what` names the case in a failure.
pub async fn stream_and_check_matvec(
    gpu: &Gpu,
    matrix: &QuantMatrix,
    gguf: &[u8],
    chunk: usize,
    w: &[f32],
    rng: &mut Rng,
    what: &str,
) {
    let (rows, cols) = (matrix.rows(), matrix.cols());
    let mut writer = matrix.writer(gpu);
    for piece in gguf.chunks(chunk) {
        writer.write(piece).unwrap();
    }
    writer.finish().unwrap();
    let x = rng.vec(cols, -1.0, 1.0);
    let mut batch = gpu.batch("streamed matrix");
    let tx = gpu.upload("x", &x, &[cols]).unwrap();
    let y = quant_matvec(&mut batch, matrix, &tx, Precision::F32).unwrap();
    let out = batch.submit_and_read(&y).await.unwrap();
    let cmp = compare_matmul_wt(&out, &x, w, 1, cols, rows);
    assert!(cmp.passed, "{what}: {cmp:?}");
}

/// (rows, blocks per row) for the prefill product, with M = 1, 3, 17 and 70 rows of X.
pub const MATMUL_SHAPES: &[(usize, usize)] = &[(1, 1), (65, 2), (130, 3)];
pub const MATMUL_ROWS: &[usize] = &[1, 3, 17, 70];

pub async fn check_matmul(
    gpu: &Gpu,
    tiling: Option<QuantMatmulTiling>,
    precision: Precision,
    seed: u64,
) {
    check_x_times_wt(gpu, precision, seed, |batch, tx, matrix, m| {
        let used = tiling.unwrap_or(QuantMatmulTiling::for_rows(m));
        let y = quant_matmul_tiled(batch, tx, matrix, used, precision).unwrap();
        (y, used.tile_k as usize, format!("matmul with {used:?}"))
    })
    .await;
}

/// Y = X·Wᵀ for every format, weight shape in `MATMUL_SHAPES` and M in `MATMUL_ROWS`, recorded
/// by `product(batch, X, W, M)`, which returns Y, the most products its f16 path sums in f16,
/// and how it ran (for the failure message); compared with the reference in `precision`.
pub async fn check_x_times_wt(
    gpu: &Gpu,
    precision: Precision,
    seed: u64,
    product: impl Fn(&mut Batch<'_>, &Tensor, &QuantMatrix, usize) -> (Tensor, usize, String),
) {
    let mut rng = Rng::new(seed);
    for format in WeightFormat::ALL {
        for &(rows, blocks) in MATMUL_SHAPES {
            let cols = blocks * format.block_len();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            let matrix = QuantMatrix::upload(gpu, "W", format, rows, cols, &gguf).unwrap();
            for &m in MATMUL_ROWS {
                let x = rng.vec(m * cols, -1.0, 1.0);
                let mut batch = gpu.batch("X·Wᵀ test");
                let tx = gpu.upload("X", &x, &[m, cols]).unwrap();
                let (y, run, how) = product(&mut batch, &tx, &matrix, m);
                assert_eq!(y.shape(), &[m, rows]);
                let out = batch.submit_and_read(&y).await.unwrap();
                let cmp = compare_matmul_wt_in(precision, &out, &x, &w, (m, cols, rows), run);
                assert!(
                    cmp.passed,
                    "{format} {how}: X {m}x{cols} · W {rows}x{cols}ᵀ in {precision}: {cmp:?}"
                );
            }
        }
    }
}
