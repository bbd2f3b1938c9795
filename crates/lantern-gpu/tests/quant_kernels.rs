//! The quantized matrix products against lantern-core's CPU dequantizer (bit-exact with ggml)
//! followed by an f64 product, for every weight format, natively (lavapipe here) and in headless
//! Chromium (SwiftShader): decode and prefill shapes, f32 and f16. Tolerance: see
//! `reference::quant::compare_matmul_wt`, and `compare_matmul_wt_f16` for the f16 path (run where
//! the adapter has `shader-f16`). The f16 bound is a worst case over long rows, so it checks the
//! f16 arithmetic; the indexing it shares with the f32 path is what the tight f32 tests pin down.
//! The products that fuse a norm, an activation or a residual are in `fused_products.rs`; how
//! weights are stored, split and streamed, in `quant_weights.rs`.

use common::{check_matmul, check_matvec, check_matvec_rows, has_f16, random_matrix};
use lantern_gpu::ops::quant_matmul::{QuantMatmulTiling, quant_matmul};
use lantern_gpu::ops::quant_matvec::{MatvecShape, quant_matvec};
use lantern_gpu::quant::{QuantMatrix, WeightFormat};
use lantern_gpu::reference::quant::transpose;
use lantern_gpu::testing::Rng;
use lantern_gpu::{Gpu, GpuError, GpuOptions, Precision, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

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
