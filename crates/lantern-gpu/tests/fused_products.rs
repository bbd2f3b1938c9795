//! The quantized products that fuse a neighbouring operation, against the CPU reference of the
//! unfused operations (lantern-core's dequantizer, RMSNorm, the activation, an f64 product),
//! natively (lavapipe here) and in headless Chromium (SwiftShader): stacked gate/up matrices
//! with the activation applied, a normed input, the residual added into, and the residual stream
//! weighted for the next norm; and the errors of operands that do not fit. Tolerances: see
//! `reference::quant`'s `compare_gated_matmul_wt`, `compare_normed_matmul_wt` and
//! `compare_added_matmul_wt`.

use common::{MATVEC_SHAPES, random_matrix, rows_of};
use lantern_gpu::ops::quant_matvec::{MatvecShape, Product, gated_quant_matvec};
use lantern_gpu::ops::{Activation, RmsNorm};
use lantern_gpu::quant::{QuantMatrix, WeightFormat};
use lantern_gpu::reference::quant::{
    compare_added_matmul_wt, compare_gated_matmul_wt, compare_normed_matmul_wt,
};
use lantern_gpu::testing::Rng;
use lantern_gpu::{Gpu, GpuError, Precision, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

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
