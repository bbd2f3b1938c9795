//! The quantized matrix products against lantern-core's CPU dequantizer (bit-exact with ggml)
//! followed by an f64 product, for every weight format, natively (lavapipe here) and in headless
//! Chromium (SwiftShader). Tolerance: see `reference::quant::compare_matmul_wt`, and
//! `compare_matmul_wt_f16` for the f16 path (run where the adapter has `shader-f16`). The f16
//! bound is a worst case over long rows, so it checks the f16 arithmetic; the indexing it
//! shares with the f32 path is what the tight f32 tests pin down.

use lantern_core::GgmlType;
use lantern_core::quant::dequantize_to_vec;
use lantern_gpu::ops::quant_matmul::{QuantMatmulTiling, quant_matmul, quant_matmul_tiled};
use lantern_gpu::ops::quant_matvec::{MatvecShape, Product, gated_quant_matvec, quant_matvec};
use lantern_gpu::ops::{Activation, RmsNorm};
use lantern_gpu::quant::{
    FLUSH_BYTES, QuantMatrix, WEIGHT_TEXTURE_WIDTH, WeightFormat, WeightStorage,
};
use lantern_gpu::reference::quant::{
    compare_added_matmul_wt, compare_gated_matmul_wt, compare_matmul_wt, compare_matmul_wt_in,
    compare_normed_matmul_wt, random_blocks, transpose,
};
use lantern_gpu::testing::{Rng, test_gpu_with_weight_textures, test_gpu_with_word_loads};
use lantern_gpu::{Batch, Gpu, GpuError, GpuOptions, Precision, Tensor, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The mapping the model loader makes; F32/F16 "blocks" are 32 values here, one in ggml.
fn ggml_type(format: WeightFormat) -> GgmlType {
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
fn random_matrix(
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
fn has_f16(gpu: &Gpu) -> bool {
    let has = gpu.report().features.shader_f16;
    if !has {
        println!("skipped: {} has no shader-f16", gpu.report().name);
    }
    has
}

/// (rows, blocks per row): one row; one block per row; row counts that are not multiples of any
/// workgroup's rows; many blocks per row.
const MATVEC_SHAPES: &[(usize, usize)] = &[(1, 1), (1, 9), (33, 1), (70, 3), (131, 2), (5, 40)];

async fn check_matvec(gpu: &Gpu, shape: Option<MatvecShape>, precision: Precision, seed: u64) {
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

gpu_test!(matvec_matches_reference_for_every_format, |gpu| {
    check_matvec(&gpu, None, Precision::F32, 1).await;
});

gpu_test!(matvec_in_f16_matches_reference_for_every_format, |gpu| {
    if has_f16(&gpu) {
        check_matvec(&gpu, None, Precision::F16, 21).await;
        let shape = MatvecShape {
            threads_per_row: 4,
            rows_per_workgroup: 16,
            rows_per_thread: 2,
            tokens: 1,
        };
        check_matvec(&gpu, Some(shape), Precision::F16, 22).await;
    }
});

// Other specializations of the same kernel: one invocation per row (no reduction: the entry
// point without barriers, as on CPU adapters; the other shapes run `main`), many
// invocations per row with a few rows per workgroup (a deep reduction, idle invocations), and
// several rows per invocation (3 and 8: row counts that are not multiples, so the last
// invocation's rows run past the end), with and without a reduction.
gpu_test!(matvec_other_workgroup_shapes_match_reference, |gpu| {
    for (seed, shape) in [
        (2, (1, 64, 1)),
        (3, (32, 3, 1)),
        (4, (4, 16, 1)),
        (8, (1, 16, 8)),
        (9, (4, 8, 3)),
    ] {
        let shape = MatvecShape {
            threads_per_row: shape.0,
            rows_per_workgroup: shape.1,
            rows_per_thread: shape.2,
            tokens: 1,
        };
        check_matvec(&gpu, Some(shape), Precision::F32, seed).await;
    }
});

/// The matrix-vector kernel over several rows of X (a CPU adapter's prefill): each decoded unit
/// multiplied with `tokens` rows, rows of X past M skipped.
async fn check_matvec_rows(gpu: &Gpu, shape: Option<MatvecShape>, seed: u64) {
    check_x_times_wt(gpu, Precision::F32, seed, |batch, tx, matrix, _| {
        let y = Product::new(matrix, tx).shape(shape).record(batch);
        (y.unwrap(), 4, format!("matvec with {shape:?}"))
    })
    .await;
}

gpu_test!(matvec_over_rows_of_x_matches_reference, |gpu| {
    check_matvec_rows(&gpu, None, 6).await;
    // Several invocations per row and several tokens: the reduction repeated per token; then
    // several rows per invocation too: the reduction repeated per token and row.
    for (seed, shape) in [(7, (4, 16, 1, 3)), (10, (2, 8, 3, 5))] {
        let shape = MatvecShape {
            threads_per_row: shape.0,
            rows_per_workgroup: shape.1,
            rows_per_thread: shape.2,
            tokens: shape.3,
        };
        check_matvec_rows(&gpu, Some(shape), seed).await;
    }
});

/// The shape of `m` rows of `n` values as the products take and give them: `[n]` for one.
fn rows_of(m: usize, n: usize) -> Vec<usize> {
    if m == 1 { vec![n] } else { vec![m, n] }
}

/// (outputs, blocks per row) of the stacked gate/up products: one output; output counts that are
/// not multiples of the 4 a fused invocation writes; many blocks per row.
const GATED_SHAPES: &[(usize, usize)] = &[(1, 1), (13, 2), (70, 3), (5, 20)];

/// act(gate) · up of stacked gate/up matrices in `formats`, SiLU and GELU-tanh in turn, over `m`
/// rows of x, in `shape` (the adapter's when None).
async fn check_gated_matvec(
    gpu: &Gpu,
    formats: &[WeightFormat],
    shape: Option<MatvecShape>,
    m: usize,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    for &format in formats {
        for (i, &(outputs, blocks)) in GATED_SHAPES.iter().enumerate() {
            let activation = [Activation::Silu, Activation::GeluTanh][i % 2];
            let (rows, cols) = (2 * outputs, blocks * format.block_len());
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            let x = rng.vec(m * cols, -1.0, 1.0);
            let matrix = QuantMatrix::upload(gpu, "gate_up", format, rows, cols, &gguf).unwrap();
            let x_shape = rows_of(m, cols);
            let tx = gpu.upload("x", &x, &x_shape).unwrap();
            let mut batch = gpu.batch("gated quant_matvec test");
            let y = Product::new(&matrix, &tx)
                .shape(shape)
                .gated(activation)
                .record(&mut batch)
                .unwrap();
            assert_eq!(y.shape(), rows_of(m, outputs).as_slice());
            let out = batch.submit_and_read(&y).await.unwrap();
            let cmp = compare_gated_matmul_wt(&out, &x, &w, (m, cols, rows), activation);
            assert!(
                cmp.passed,
                "{format} gated {activation:?} {rows}x{cols}, {m} rows of x, {shape:?}: {cmp:?}"
            );
        }
    }
}

// The adapter's own shape (the activation applied by the product's invocations on CPU adapters;
// the product, then the activation kernel, on GPUs) in decode and over rows of x; then on every
// adapter the fused path (whole rows, 8 per invocation: 4 outputs each; with 8 tokens per
// invocation and 11 rows of x) and the two that are not fused (several invocations per row;
// an odd number of rows per invocation). Every format in decode; over rows of x, whose
// unrolled kernels take seconds each to compile on lavapipe, a planar and a blocked format (the
// gate and up rows are found the same way in every format).
gpu_test!(gated_matvec_matches_reference, |gpu| {
    let some = [WeightFormat::Q4_1, WeightFormat::Q4_K];
    check_gated_matvec(&gpu, &WeightFormat::ALL, None, 1, 51).await;
    check_gated_matvec(&gpu, &some, None, 9, 52).await;
    for (seed, shape, m) in [
        (53, (1, 16, 8, 1), 1),
        (54, (1, 4, 8, 8), 11),
        (55, (4, 16, 1, 1), 1),
        (56, (1, 16, 3, 1), 1),
    ] {
        let shape = MatvecShape {
            threads_per_row: shape.0,
            rows_per_workgroup: shape.1,
            rows_per_thread: shape.2,
            tokens: shape.3,
        };
        let formats: &[WeightFormat] = if m == 1 { &WeightFormat::ALL } else { &some };
        check_gated_matvec(&gpu, formats, Some(shape), m, seed).await;
    }
});

// A stacked matrix whose rows do not halve is refused, not misread.
gpu_test!(gated_matvec_of_odd_rows_is_a_clear_error, |gpu| {
    let mut rng = Rng::new(57);
    let (gguf, _) = random_matrix(WeightFormat::Q8_0, 3, 32, &mut rng);
    let matrix = QuantMatrix::upload(&gpu, "gate_up", WeightFormat::Q8_0, 3, 32, &gguf).unwrap();
    let tx = gpu.upload("x", &[0.5; 32], &[32]).unwrap();
    let mut batch = gpu.batch("gated quant_matvec test");
    let Err(err) = gated_quant_matvec(&mut batch, &matrix, &tx, Activation::Silu, Precision::F32)
    else {
        panic!("a 3-row gate/up matrix was accepted");
    };
    assert!(matches!(err, GpuError::Shape(_)), "{err}");
    assert!(err.to_string().contains("3 rows"), "{err}");
});

/// A product of a normed x (`Product::normed`) in each of `formats`, gated or not, over `m` rows
/// of x, in `shape` (the adapter's when None): whether the product normalises x itself (whole
/// rows per invocation, one row of x) or a norm kernel does first, against RMSNorm then the
/// product. x spans ±4, so that a missing or misplaced scale shows; the norm's weights lie in
/// (0.5, 1.5), plus an offset of 1 in every other case (Gemma's weights stored as w − 1).
async fn check_normed_matvec(
    gpu: &Gpu,
    formats: &[WeightFormat],
    shape: Option<MatvecShape>,
    m: usize,
    gated: Option<Activation>,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    for &format in formats {
        for (i, &(rows, blocks)) in MATVEC_SHAPES.iter().enumerate() {
            let rows = if gated.is_some() { 2 * rows } else { rows };
            let cols = blocks * format.block_len();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            let x = rng.vec(m * cols, -4.0, 4.0);
            let weight = rng.vec(cols, 0.5, 1.5);
            let mut norm = RmsNorm::new(1e-5);
            if i % 2 == 1 {
                norm.weight_offset = 1.0;
            }
            let matrix = QuantMatrix::upload(gpu, "W", format, rows, cols, &gguf).unwrap();
            let x_shape = rows_of(m, cols);
            let tx = gpu.upload("x", &x, &x_shape).unwrap();
            let tweight = gpu.upload("norm weight", &weight, &[cols]).unwrap();
            let mut batch = gpu.batch("normed quant_matvec test");
            let mut product = Product::new(&matrix, &tx)
                .shape(shape)
                .normed(&tweight, norm);
            if let Some(activation) = gated {
                product = product.gated(activation);
            }
            let fused = product.normalises_input(gpu);
            let y = product.record(&mut batch).unwrap();
            let out = batch.submit_and_read(&y).await.unwrap();
            let cmp = compare_normed_matmul_wt(&out, &x, &weight, norm, &w, (m, cols, rows), gated);
            assert!(
                cmp.passed,
                "{format} {rows}x{cols} of a normed x ({m} rows, {norm:?}, normalised by the \
                 product: {fused}), {gated:?}, {shape:?}: {cmp:?}"
            );
        }
    }
}

/// A GPU's kind of decode shape (several invocations per row), in which the product cannot
/// normalise its input itself.
const GPU_DECODE_SHAPE: MatvecShape = MatvecShape {
    threads_per_row: 4,
    rows_per_workgroup: 16,
    rows_per_thread: 1,
    tokens: 1,
};

/// The CPU adapters' decode shape, in which the product normalises its input itself.
const CPU_DECODE_SHAPE: MatvecShape = MatvecShape {
    threads_per_row: 1,
    rows_per_workgroup: 16,
    rows_per_thread: 8,
    tokens: 1,
};

// A normed input: in the adapter's shape (normalised by the product on CPU adapters, by a norm
// kernel first on GPUs) for every format; on every adapter in the shape that normalises (with a
// stacked gate/up matrix too, as the feed-forward block's input), and in two that cannot
// (several invocations per row; several rows of x), which fall back to the norm kernel.
gpu_test!(normed_matvec_matches_reference, |gpu| {
    let some = [WeightFormat::Q4_1, WeightFormat::Q4_K];
    check_normed_matvec(&gpu, &WeightFormat::ALL, None, 1, None, 61).await;
    let normalising = Some(CPU_DECODE_SHAPE);
    check_normed_matvec(&gpu, &some, normalising, 1, None, 62).await;
    check_normed_matvec(&gpu, &some, normalising, 1, Some(Activation::Silu), 63).await;
    check_normed_matvec(&gpu, &some, Some(GPU_DECODE_SHAPE), 1, None, 64).await;
    check_normed_matvec(&gpu, &[WeightFormat::Q8_0], None, 3, None, 65).await;
});

// A product that adds into the residual stream and readies it for the next norm
// (`Product::add_into_weighing`), then products that take it (`Product::weighted`), plain and
// gated, in the CPU adapters' decode shape on every adapter: the residual against residual + the
// product, the weighted stream against the read-back residual times the norm's weights (the
// same f32 operations, so to the ulp), the partial sums' total against Σ residual², and the
// next products against RMSNorm of the read-back residual, then the product.
gpu_test!(weighted_stream_matches_reference, |gpu| {
    let mut rng = Rng::new(81);
    let shape = Some(CPU_DECODE_SHAPE);
    for (i, &(format, hidden, blocks, next_rows)) in [
        (WeightFormat::Q4_1, 96, 3, 33),
        (WeightFormat::Q8_0, 256, 2, 9),
        (WeightFormat::Q4_K, 160, 1, 20),
    ]
    .iter()
    .enumerate()
    {
        let cols = blocks * format.block_len();
        let (gguf, w) = random_matrix(format, hidden, cols, &mut rng);
        let next_cols = hidden;
        let next_format = WeightFormat::Q8_0;
        let gated = (i % 2 == 1).then_some(Activation::Silu);
        let next_rows = if gated.is_some() {
            2 * next_rows
        } else {
            next_rows
        };
        // The next matrix (Q8_0) takes `hidden` values: whole blocks of 32, in rows the first
        // product's workgroups of 128 do not divide (but 256).
        let (next_gguf, next_w) = random_matrix(next_format, next_rows, next_cols, &mut rng);
        let x = rng.vec(cols, -1.0, 1.0);
        let residual = rng.vec(hidden, -4.0, 4.0);
        let weight = rng.vec(hidden, 0.5, 1.5);
        let mut norm = RmsNorm::new(1e-5);
        norm.weight_offset = if i == 2 { 1.0 } else { 0.0 };
        let matrix = QuantMatrix::upload(&gpu, "W", format, hidden, cols, &gguf).unwrap();
        let next = QuantMatrix::upload(&gpu, "next", next_format, next_rows, next_cols, &next_gguf)
            .unwrap();
        let tx = gpu.upload("x", &x, &[cols]).unwrap();
        let tresidual = gpu.upload("residual", &residual, &[hidden]).unwrap();
        let tweight = gpu.upload("norm weight", &weight, &[hidden]).unwrap();
        let mut batch = gpu.batch("weighted stream test");
        let product = Product::new(&matrix, &tx).shape(shape);
        assert!(product.weighs_output(&gpu));
        let stream = product
            .add_into_weighing(&mut batch, &tresidual, &tweight, norm)
            .unwrap();
        let mut next_product = Product::new(&next, &stream.weighted)
            .shape(shape)
            .weighted(&stream.square_sums, norm);
        if let Some(activation) = gated {
            next_product = next_product.gated(activation);
        }
        let y = next_product.record(&mut batch).unwrap();
        let out = batch.submit_and_read(&y).await.unwrap();
        let new_residual = gpu.read(&tresidual).await.unwrap();
        let weighted = gpu.read(&stream.weighted).await.unwrap();
        let sums = gpu.read(&stream.square_sums).await.unwrap();
        let what = format!("{format} {hidden}x{cols}, then {next_rows} rows, {norm:?}, {gated:?}");

        let cmp = compare_added_matmul_wt(&new_residual, &residual, &x, &w, (1, cols, hidden));
        assert!(cmp.passed, "{what}: residual {cmp:?}");
        for (j, (&got, &r)) in weighted.iter().zip(&new_residual).enumerate() {
            let expected = r * (weight[j] + norm.weight_offset);
            assert!(
                (got - expected).abs() <= expected.abs() * f32::EPSILON,
                "{what}: weighted value {j} is {got}, expected {expected}"
            );
        }
        let total: f64 = sums.iter().map(|&s| f64::from(s)).sum();
        let squares: f64 = new_residual
            .iter()
            .map(|&r| f64::from(r) * f64::from(r))
            .sum();
        assert!(
            (total - squares).abs() <= squares * 1e-5,
            "{what}: partial sums of squares total {total}, expected {squares}"
        );
        let (m, k, n) = (1, next_cols, next_rows);
        let cmp = compare_normed_matmul_wt(
            &out,
            &new_residual,
            &weight,
            norm,
            &next_w,
            (m, k, n),
            gated,
        );
        assert!(cmp.passed, "{what}: next product {cmp:?}");
    }
});

// A weighted input where the product cannot normalise it, and a product that cannot ready its
// output (several invocations per row), are refused with the reason.
gpu_test!(
    weighted_products_out_of_their_shape_are_clear_errors,
    |gpu| {
        let mut rng = Rng::new(82);
        let (gguf, _) = random_matrix(WeightFormat::Q8_0, 32, 64, &mut rng);
        let matrix = QuantMatrix::upload(&gpu, "W", WeightFormat::Q8_0, 32, 64, &gguf).unwrap();
        let tx = gpu.upload("x", &[0.5; 64], &[64]).unwrap();
        let residual = gpu.upload("residual", &[0.0; 32], &[32]).unwrap();
        let weight = gpu.upload("norm weight", &[1.0; 32], &[32]).unwrap();
        let sums = gpu.upload("square sums", &[1.0; 16], &[16]).unwrap();
        let gpu_shape = Some(GPU_DECODE_SHAPE);
        let mut batch = gpu.batch("weighted product errors");
        let product = Product::new(&matrix, &tx).shape(gpu_shape);
        assert!(!product.weighs_output(&gpu));
        let Err(err) =
            product.add_into_weighing(&mut batch, &residual, &weight, RmsNorm::new(1e-5))
        else {
            panic!("a product with several invocations per row readied its output");
        };
        assert!(err.to_string().contains("whole rows"), "{err}");
        let Err(err) = product
            .weighted(&sums, RmsNorm::new(1e-5))
            .record(&mut batch)
        else {
            panic!("a product with several invocations per row took a weighted input");
        };
        assert!(err.to_string().contains("weighted input"), "{err}");
    }
);

/// `residual += W·x` (`Product::add_into`) in each of `formats` over `m` rows of x, in `shape`.
async fn check_added_matvec(
    gpu: &Gpu,
    formats: &[WeightFormat],
    shape: Option<MatvecShape>,
    m: usize,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    for &format in formats {
        for &(rows, blocks) in MATVEC_SHAPES {
            let cols = blocks * format.block_len();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            let x = rng.vec(m * cols, -1.0, 1.0);
            let residual = rng.vec(m * rows, -8.0, 8.0);
            let matrix = QuantMatrix::upload(gpu, "W", format, rows, cols, &gguf).unwrap();
            let tx = gpu.upload("x", &x, &rows_of(m, cols)).unwrap();
            let tresidual = gpu
                .upload("residual", &residual, &rows_of(m, rows))
                .unwrap();
            let mut batch = gpu.batch("quant_matvec into a residual test");
            Product::new(&matrix, &tx)
                .shape(shape)
                .add_into(&mut batch, &tresidual)
                .unwrap();
            let out = batch.submit_and_read(&tresidual).await.unwrap();
            let cmp = compare_added_matmul_wt(&out, &residual, &x, &w, (m, cols, rows));
            assert!(
                cmp.passed,
                "{format} {rows}x{cols} added into a residual, {m} rows of x, {shape:?}: {cmp:?}"
            );
        }
    }
}

// The residual stream updated by the product's store, in the adapter's shape for every format,
// in the CPU adapters' decode shape and a GPU's on every adapter, and over rows of x.
gpu_test!(matvec_added_into_residual_matches_reference, |gpu| {
    let some = [WeightFormat::Q4_1, WeightFormat::Q6_K];
    check_added_matvec(&gpu, &WeightFormat::ALL, None, 1, 71).await;
    check_added_matvec(&gpu, &some, Some(CPU_DECODE_SHAPE), 1, 72).await;
    let gpu_shape = MatvecShape {
        threads_per_row: 8,
        rows_per_workgroup: 8,
        rows_per_thread: 1,
        tokens: 1,
    };
    check_added_matvec(&gpu, &some, Some(gpu_shape), 1, 73).await;
    check_added_matvec(&gpu, &[WeightFormat::Q4_1], None, 5, 74).await;
});

// Operands that do not fit a fused product are refused with the reason, not misread: a norm
// weight of the wrong length, a residual of the wrong shape, a gated product added into one.
gpu_test!(
    fused_matvec_operands_that_do_not_fit_are_clear_errors,
    |gpu| {
        let mut rng = Rng::new(75);
        let (gguf, _) = random_matrix(WeightFormat::Q8_0, 4, 64, &mut rng);
        let matrix = QuantMatrix::upload(&gpu, "W", WeightFormat::Q8_0, 4, 64, &gguf).unwrap();
        let tx = gpu.upload("x", &[0.5; 64], &[64]).unwrap();
        let short_weight = gpu.upload("norm weight", &[1.0; 32], &[32]).unwrap();
        let residual = gpu.upload("residual", &[0.0; 5], &[5]).unwrap();
        let mut batch = gpu.batch("fused quant_matvec errors");
        let product = Product::new(&matrix, &tx);
        let errors = [
            product
                .normed(&short_weight, RmsNorm::new(1e-5))
                .record(&mut batch)
                .map(drop),
            product.add_into(&mut batch, &residual),
            product
                .gated(Activation::Silu)
                .add_into(&mut batch, &residual),
        ];
        for (err, what) in errors.into_iter().zip(["[32]", "[5]", "gated"]) {
            let Err(err) = err else {
                panic!("a product with a misfit operand ({what}) was accepted");
            };
            assert!(matches!(err, GpuError::Shape(_)), "{err}");
            assert!(err.to_string().contains(what), "{what}: {err}");
        }
    }
);

// The word-load path (`Gpu::wide_loads` false: SwiftShader's) on adapters that would load 16
// bytes at a time, for decode and for several rows of X, in CPU and GPU workgroup shapes. In
// Chromium, whose SwiftShader loads words anyway, this repeats the tests above.
gpu_test!(matvec_with_word_loads_matches_reference, |_gpu| {
    let gpu = test_gpu_with_word_loads().await;
    assert!(!gpu.wide_loads());
    check_matvec(&gpu, None, Precision::F32, 31).await;
    check_matvec_rows(&gpu, None, 32).await;
    let shape = MatvecShape {
        threads_per_row: 4,
        rows_per_workgroup: 16,
        rows_per_thread: 2,
        tokens: 3,
    };
    check_matvec_rows(&gpu, Some(shape), 33).await;
});

// Weights in the storage the adapter would not choose (`GpuOptions::weight_textures`): storage
// buffers on lavapipe, textures on SwiftShader and GPUs, so that every adapter checks both ways
// of reading them; in decode, over rows of X (prefill), in the tiled product, and in a matrix
// split into parts of several texture rows each, streamed in chunks that end mid-row.
gpu_test!(weights_in_the_other_storage_match_reference, |gpu| {
    let textures = !gpu.weights_in_textures();
    let other = test_gpu_with_weight_textures(textures).await;
    assert_eq!(other.weights_in_textures(), textures);
    check_matvec(&other, None, Precision::F32, 41).await;
    check_matvec_rows(&other, None, 42).await;
    check_matmul(&other, None, Precision::F32, 43).await;

    let mut rng = Rng::new(44);
    let format = WeightFormat::Q4_1;
    let (rows, cols) = (300, 2048);
    let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
    let row_bytes = format.repacked_row_bytes(cols).unwrap();
    let matrix =
        QuantMatrix::with_part_limit(&other, "W", format, rows, cols, 120 * row_bytes).unwrap();
    let storage = if textures {
        WeightStorage::Texture
    } else {
        WeightStorage::Buffer
    };
    assert_eq!(matrix.storage(), storage);
    assert_eq!(matrix.parts().len(), 3);
    // A part of 100 rows of 1280 bytes is 8000 texels: three texture rows of 2048 and most of a
    // fourth.
    assert!(row_bytes * 100 > 3 * 16 * WEIGHT_TEXTURE_WIDTH as u64);
    let what = format!("{format} in {storage:?} parts");
    stream_and_check_matvec(&other, &matrix, &gguf, 10_000, &w, &mut rng, &what).await;
});

/// Streams `gguf` into `matrix` in chunks of `chunk` bytes, then checks one decode product with a
/// random x against `w`, the dequantized matrix; `what` names the case in a failure.
async fn stream_and_check_matvec(
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
const MATMUL_SHAPES: &[(usize, usize)] = &[(1, 1), (65, 2), (130, 3)];
const MATMUL_ROWS: &[usize] = &[1, 3, 17, 70];

async fn check_matmul(
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
async fn check_x_times_wt(
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

gpu_test!(matmul_matches_reference_for_every_format, |gpu| {
    check_matmul(&gpu, None, Precision::F32, 5).await;
});

gpu_test!(matmul_in_f16_matches_reference_for_every_format, |gpu| {
    if has_f16(&gpu) {
        check_matmul(&gpu, None, Precision::F16, 25).await;
    }
});

// Asking for f16 where the device has no shader-f16 is an error naming the feature, not a
// shader that fails to compile.
gpu_test!(f16_without_shader_f16_is_a_clear_error, |gpu| {
    let options = GpuOptions {
        disable_f16: true,
        ..GpuOptions::default()
    };
    let plain = Gpu::new(options).await.unwrap();
    assert!(!plain.report().features.shader_f16);
    let mut rng = Rng::new(26);
    let format = WeightFormat::Q8_0;
    let (gguf, _) = random_matrix(format, 2, 64, &mut rng);
    let matrix = QuantMatrix::upload(&plain, "W", format, 2, 64, &gguf).unwrap();
    let mut batch = plain.batch("no f16");
    let x = plain.upload("x", &[0.5; 64], &[64]).unwrap();
    let xm = plain.upload("X", &[0.5; 128], &[2, 64]).unwrap();
    for e in [
        quant_matvec(&mut batch, &matrix, &x, Precision::F16).err(),
        quant_matmul(&mut batch, &xm, &matrix, Precision::F16).err(),
    ] {
        let e = e.expect("f16 accepted without shader-f16");
        assert!(matches!(e, GpuError::MissingFeature { .. }), "{e}");
        assert!(e.to_string().contains("shader-f16"), "{e}");
    }
    assert_eq!(batch.dispatch_count(), 0);
    batch.submit().await.unwrap();
    drop(gpu);
});

// The smallest step along K (one vec4 group of a unit) and non-square per-invocation blocks.
gpu_test!(matmul_other_tilings_match_reference, |gpu| {
    let tiling = QuantMatmulTiling {
        tile_m: 8,
        tile_n: 16,
        tile_k: 4,
        thread_m: 2,
        thread_n: 1,
    };
    check_matmul(&gpu, Some(tiling), Precision::F32, 6).await;
});

// With X = I the product is Wᵀ itself, each element one weight times 1 plus zeros: exact in any
// summation order, so this checks every decoder bit for bit against ggml's dequantization.
gpu_test!(dequantized_weights_are_bit_exact, |gpu| {
    let mut rng = Rng::new(7);
    for format in WeightFormat::ALL {
        let (rows, cols) = (5, format.block_len());
        let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
        let matrix = QuantMatrix::upload(&gpu, "W", format, rows, cols, &gguf).unwrap();
        let mut identity = vec![0f32; cols * cols];
        for i in 0..cols {
            identity[i * cols + i] = 1.0;
        }
        let mut batch = gpu.batch("identity");
        let x = gpu.upload("I", &identity, &[cols, cols]).unwrap();
        let y = quant_matmul(&mut batch, &x, &matrix, Precision::F32).unwrap();
        let out = batch.submit_and_read(&y).await.unwrap();
        let expected = transpose(&w, rows, cols);
        for (i, (g, e)) in out.iter().zip(&expected).enumerate() {
            assert!(
                g == e,
                "{format}: weight {} of row {} is {g} on the GPU, {e} in ggml",
                i / rows,
                i % rows
            );
        }
    }
});

// Weights live in exactly-sized buffers: the repacked size, no pool slack.
gpu_test!(weights_take_their_repacked_size_exactly, |gpu| {
    let mut rng = Rng::new(8);
    let pool_before = gpu.pool().stats();
    for format in WeightFormat::ALL {
        let (rows, cols) = (7, 2 * format.block_len());
        let (gguf, _) = random_matrix(format, rows, cols, &mut rng);
        let matrix = QuantMatrix::upload(&gpu, "W", format, rows, cols, &gguf).unwrap();
        assert_eq!(matrix.gguf_bytes(), gguf.len() as u64);
        assert_eq!(
            matrix.size_bytes(),
            format.repacked_bytes(rows, cols).unwrap(),
            "{format}"
        );
        // Two-block rows are the worst case for the planar formats' padding (Q4_0: 36 bytes
        // padded to 48); a real row of 18 or more blocks gains at most 4%.
        let ratio = matrix.size_bytes() as f64 / gguf.len() as f64;
        assert!(ratio <= 1.34, "{format}: {ratio}");
    }
    assert_eq!(gpu.pool().stats().created, pool_before.created);
});

// A matrix split across several buffers (parts of a few rows, forced by a small part limit) gives
// the same products, and streaming its bytes in odd chunk sizes — blocks split across chunks and
// chunks spanning part boundaries — fills it correctly.
gpu_test!(
    split_matrix_streamed_in_odd_chunks_matches_reference,
    |gpu| {
        let mut rng = Rng::new(9);
        for format in WeightFormat::ALL {
            let (rows, cols) = (23, 2 * format.block_len());
            let row_bytes = format.repacked_row_bytes(cols).unwrap();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            for (chunk, part_rows) in [(1, 5), (7, 4), (33, 23), (1000, 1), (gguf.len(), 6)] {
                let matrix = QuantMatrix::with_part_limit(
                    &gpu,
                    "W",
                    format,
                    rows,
                    cols,
                    part_rows * row_bytes,
                )
                .unwrap();
                let parts = matrix.parts();
                assert_eq!(parts.len(), rows.div_ceil(part_rows as usize));
                assert!(
                    parts
                        .iter()
                        .all(|p| p.size_bytes() <= part_rows * row_bytes)
                );
                assert_eq!(matrix.size_bytes(), rows as u64 * row_bytes);
                let mut writer = matrix.writer(&gpu);
                for piece in gguf.chunks(chunk) {
                    writer.write(piece).unwrap();
                }
                writer.finish().unwrap();

                let x = rng.vec(cols, -1.0, 1.0);
                let xm = rng.vec(3 * cols, -1.0, 1.0);
                let mut batch = gpu.batch("split");
                let tx = gpu.upload("x", &x, &[1, cols]).unwrap();
                let txm = gpu.upload("X", &xm, &[3, cols]).unwrap();
                let y = quant_matvec(&mut batch, &matrix, &tx, Precision::F32).unwrap();
                assert_eq!(y.shape(), &[1, rows]);
                let ym = quant_matmul(&mut batch, &txm, &matrix, Precision::F32).unwrap();
                assert_eq!(batch.dispatch_count(), 2 * parts.len());
                batch.submit().await.unwrap();
                let what = format!("{format} in {} parts, chunks of {chunk}", parts.len());
                let cmp = compare_matmul_wt(&gpu.read(&y).await.unwrap(), &x, &w, 1, cols, rows);
                assert!(cmp.passed, "matvec, {what}: {cmp:?}");
                let cmp = compare_matmul_wt(&gpu.read(&ym).await.unwrap(), &xm, &w, 3, cols, rows);
                assert!(cmp.passed, "matmul, {what}: {cmp:?}");
            }
        }
    }
);

// A model-sized matrix (the size of Gemma 3's FFN projections), larger than the writer's flush
// interval so the upload submits in between, in the default shapes.
gpu_test!(
    matrix_larger_than_a_flush_interval_matches_reference,
    |gpu| {
        let mut rng = Rng::new(11);
        let format = WeightFormat::Q8_0;
        let (rows, cols) = (4200, 2048);
        let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
        assert!(gguf.len() as u64 > FLUSH_BYTES);
        let matrix = QuantMatrix::new(&gpu, "W", format, rows, cols).unwrap();
        let what = format!("{format} matvec {rows}x{cols}");
        stream_and_check_matvec(&gpu, &matrix, &gguf, 1 << 20, &w, &mut rng, &what).await;
    }
);

gpu_test!(
    bad_shapes_and_streams_are_errors_naming_the_problem,
    |gpu| {
        let format = WeightFormat::Q8_0;
        let message = |e: GpuError| e.to_string();

        // A row that cannot fit one part at all names the limit.
        let row_bytes = format.repacked_row_bytes(64).unwrap();
        let e = QuantMatrix::with_part_limit(&gpu, "blk.0.ffn_up", format, 4, 64, row_bytes - 1)
            .err()
            .expect("a row one byte larger than a part");
        assert!(matches!(e, GpuError::TooLarge { .. }), "{e}");
        assert!(message(e).contains("blk.0.ffn_up: one row of 64 Q8_0 values"));
        let limits = gpu.limits();
        let largest = if gpu.weights_in_textures() {
            u64::from(WEIGHT_TEXTURE_WIDTH) * u64::from(limits.max_texture_dimension_2d) * 16
        } else {
            limits.max_storage_buffer_binding_size
        };
        // A Q8_0 block takes 34 bytes of a row (its GGUF bytes, spread over the row's planes).
        let cols = ((largest / 34 + 1) * 32) as usize;
        let e = QuantMatrix::new(&gpu, "wide", format, 1, cols)
            .err()
            .expect("a row larger than a binding or texture");
        let text = message(e);
        assert!(
            [
                "maxStorageBufferBindingSize",
                "maxBufferSize",
                "maxTextureDimension2D"
            ]
            .iter()
            .any(|limit| text.contains(limit)),
            "{text}"
        );

        // Rows of partial blocks.
        let e = QuantMatrix::new(&gpu, "odd", WeightFormat::Q4_K, 2, 320)
            .err()
            .expect("320 is not a multiple of 256");
        assert!(message(e).contains("320 columns"));

        // Streams that end early or run long.
        let mut rng = Rng::new(10);
        let gguf = random_blocks(format, 4, &mut rng);
        let matrix = QuantMatrix::new(&gpu, "W", format, 2, 64).unwrap();
        let mut writer = matrix.writer(&gpu);
        writer.write(&gguf[..100]).unwrap();
        let text = message(writer.finish().unwrap_err());
        assert!(text.contains("ended 32 bytes into row 1"), "{text}");
        let mut writer = matrix.writer(&gpu);
        writer.write(&gguf[..68]).unwrap();
        let text = message(writer.finish().unwrap_err());
        assert!(text.contains("only 1 of 2 rows"), "{text}");
        let mut writer = matrix.writer(&gpu);
        let mut long = gguf.clone();
        long.extend_from_slice(&gguf[..34]);
        let text = message(writer.write(&long).unwrap_err());
        assert!(text.contains("more data than a 2×64 Q8_0 matrix"), "{text}");

        // Two tensors stacked into one matrix, each through its own rows writer; a writer
        // past its rows, or over rows outside the matrix, is an error.
        let other = random_blocks(format, 6, &mut rng);
        let stacked = QuantMatrix::new(&gpu, "stacked", format, 5, 64).unwrap();
        let mut first = stacked.rows_writer(&gpu, 0..2).unwrap();
        let mut second = stacked.rows_writer(&gpu, 2..5).unwrap();
        second.write(&other).unwrap();
        first.write(&gguf).unwrap();
        first.finish().unwrap();
        second.finish().unwrap();
        let mut whole = gguf.clone();
        whole.extend_from_slice(&other);
        let reference = QuantMatrix::upload(&gpu, "whole", format, 5, 64, &whole).unwrap();
        let x = gpu.upload("x", &[0.25; 64], &[64]).unwrap();
        let mut batch = gpu.batch("stacked");
        let y1 = quant_matvec(&mut batch, &stacked, &x, Precision::F32).unwrap();
        let y2 = quant_matvec(&mut batch, &reference, &x, Precision::F32).unwrap();
        batch.submit().await.unwrap();
        assert_eq!(gpu.read(&y1).await.unwrap(), gpu.read(&y2).await.unwrap());
        let mut writer = stacked.rows_writer(&gpu, 0..2).unwrap();
        let text = message(writer.write(&whole).unwrap_err());
        assert!(text.contains("more data than a 2×64 Q8_0 matrix"), "{text}");
        let text = message(
            stacked
                .rows_writer(&gpu, 4..6)
                .err()
                .expect("rows past the end"),
        );
        assert!(text.contains("rows 4..6 of a matrix of 5 rows"), "{text}");

        // Operands of the wrong length.
        let matrix = QuantMatrix::upload(&gpu, "W", format, 2, 64, &gguf).unwrap();
        let mut batch = gpu.batch("bad shapes");
        let x = gpu.upload("x", &[0.0; 32], &[32]).unwrap();
        let e = quant_matvec(&mut batch, &matrix, &x, Precision::F32)
            .err()
            .expect("32 ≠ 64");
        assert!(matches!(e, GpuError::Shape(_)), "{e}");
        let x = gpu.upload("X", &[0.0; 96], &[3, 32]).unwrap();
        let e = quant_matmul(&mut batch, &x, &matrix, Precision::F32)
            .err()
            .expect("32 ≠ 64");
        assert!(matches!(e, GpuError::Shape(_)), "{e}");
        assert_eq!(batch.dispatch_count(), 0);
        batch.submit().await.unwrap();
    }
);
