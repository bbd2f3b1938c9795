//! Every kernel against its CPU reference on awkward shapes. The same source runs natively
//! (`cargo test`, lavapipe here) and in headless Chromium (`wasm-bindgen-test`, SwiftShader).

use lantern_gpu::ops::{self, MatmulTiling, matmul::matmul_tiled};
use lantern_gpu::quant::{QuantMatrix, UNIT_LEN, WeightFormat, WeightStorage};
use lantern_gpu::testing::{Rng, compare_matmul, compare_softmax, test_gpu_with_weight_textures};
use lantern_gpu::{Batch, Gpu, GpuError, Result, Tensor, gpu_test, kernel::Specialization};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// (M, K, N): vectors both ways, a single element, sizes just past a tile edge, a long K.
const MATMUL_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 300, 1),
    (1, 77, 131),
    (131, 77, 1),
    (65, 17, 63),
    (64, 16, 64),
    (129, 250, 67),
    (3, 1031, 5),
];

async fn check_matmul(gpu: &Gpu, tiling: MatmulTiling, seed: u64) {
    let mut rng = Rng::new(seed);
    for &(m, k, n) in MATMUL_SHAPES {
        let a = rng.vec(m * k, -1.0, 1.0);
        let b = rng.vec(k * n, -1.0, 1.0);
        let mut batch = gpu.batch("matmul test");
        let ta = gpu.upload("A", &a, &[m, k]).unwrap();
        let tb = gpu.upload("B", &b, &[k, n]).unwrap();
        let c = matmul_tiled(&mut batch, &ta, &tb, tiling).unwrap();
        assert_eq!(c.shape(), &[m, n]);
        let out = batch.submit_and_read(&c).await.unwrap();
        let cmp = compare_matmul(&out, &a, &b, m, k, n);
        assert!(
            cmp.passed,
            "matmul {m}x{k}·{k}x{n} with {tiling:?}: {cmp:?}"
        );
    }
}

gpu_test!(matmul_matches_reference_on_awkward_shapes, |gpu| {
    check_matmul(&gpu, MatmulTiling::default(), 1).await;
});

// A second specialization of the same WGSL: smaller tiles, 2×1 per invocation.
gpu_test!(matmul_specialized_tiling_matches_reference, |gpu| {
    let tiling = MatmulTiling {
        tile_m: 16,
        tile_n: 8,
        tile_k: 8,
        thread_m: 2,
        thread_n: 1,
    };
    check_matmul(&gpu, tiling, 2).await;
});

gpu_test!(
    matmul_rejects_mismatched_shapes_and_oversized_tiles,
    |gpu| {
        let a = gpu.upload("A", &[0.0; 6], &[2, 3]).unwrap();
        let b = gpu.upload("B", &[0.0; 8], &[4, 2]).unwrap();
        let mut batch = gpu.batch("bad shapes");
        let err = ops::matmul(&mut batch, &a, &b)
            .err()
            .expect("2x3 · 4x2 must be refused");
        assert!(matches!(err, GpuError::Shape(_)), "{err}");
        let huge = MatmulTiling {
            tile_m: 1024,
            tile_n: 1024,
            tile_k: 16,
            thread_m: 1,
            thread_n: 1,
        };
        let b = gpu.upload("B", &[0.0; 6], &[3, 2]).unwrap();
        let err = matmul_tiled(&mut batch, &a, &b, huge)
            .err()
            .expect("a 1M-invocation workgroup must be refused");
        assert!(err.to_string().contains("invocations"), "{err}");
        assert_eq!(batch.dispatch_count(), 0);
        batch.submit().await.unwrap();
    }
);

/// (rows, cols): a single value, wide rows around the workgroup size, many narrow rows.
const SOFTMAX_SHAPES: &[(usize, usize)] =
    &[(1, 1), (1, 255), (1, 257), (3, 4099), (130, 7), (33, 64)];

gpu_test!(softmax_matches_reference_on_awkward_shapes, |gpu| {
    let mut rng = Rng::new(3);
    for &(rows, cols) in SOFTMAX_SHAPES {
        let x = rng.vec(rows * cols, -20.0, 20.0);
        let mut batch = gpu.batch("softmax test");
        let y = ops::softmax(&mut batch, &gpu.upload("x", &x, &[rows, cols]).unwrap()).unwrap();
        let out = batch.submit_and_read(&y).await.unwrap();
        let cmp = compare_softmax(&out, &x, rows, cols);
        assert!(cmp.passed, "softmax {rows}x{cols}: {cmp:?}");
        for r in 0..rows {
            let sum: f32 = out[r * cols..(r + 1) * cols].iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-4,
                "row {r} of {rows}x{cols} sums to {sum}"
            );
        }
    }
});

gpu_test!(
    softmax_of_masked_rows_is_zero_and_large_values_do_not_overflow,
    |gpu| {
        let inf = f32::NEG_INFINITY;
        // Row 0 fully masked; row 1 partly masked with values whose exp overflows f32 unless the
        // maximum is subtracted first.
        let x = [inf, inf, inf, inf, 1000.0, 1000.0 + 2f32.ln(), inf, 999.0];
        let mut batch = gpu.batch("softmax masked");
        let y = ops::softmax(&mut batch, &gpu.upload("x", &x, &[2, 4]).unwrap()).unwrap();
        let out = batch.submit_and_read(&y).await.unwrap();
        assert_eq!(&out[..4], &[0.0; 4]);
        let cmp = compare_softmax(&out, &x, 2, 4);
        assert!(cmp.passed, "{out:?} {cmp:?}");
    }
);

// Several dispatches recorded into one batch, chained through intermediate tensors: one submission.
gpu_test!(batch_chains_dispatches_in_one_submission, |gpu| {
    let mut rng = Rng::new(4);
    let (m, k, n) = (9, 21, 13);
    let (a, b) = (rng.vec(m * k, -1.0, 1.0), rng.vec(k * n, -1.0, 1.0));
    let mut batch = gpu.batch("chain");
    let c = ops::matmul(
        &mut batch,
        &gpu.upload("A", &a, &[m, k]).unwrap(),
        &gpu.upload("B", &b, &[k, n]).unwrap(),
    )
    .unwrap();
    let y = ops::softmax(&mut batch, &c).unwrap();
    assert_eq!(batch.dispatch_count(), 2);
    let out = batch.submit_and_read(&y).await.unwrap();
    let logits = lantern_gpu::reference::matmul(&a, &b, m, k, n);
    let cmp = compare_softmax(&out, &logits, m, n);
    // The matmul's own rounding (≤ 1e-5 here) moves the softmax inputs, so allow that much more.
    let expected = lantern_gpu::reference::softmax(&logits, m, n);
    let worst = out
        .iter()
        .zip(&expected)
        .map(|(g, r)| (g - r).abs())
        .fold(0f32, f32::max);
    assert!(
        cmp.passed || worst < 1e-5,
        "chained matmul→softmax off by {worst}: {cmp:?}"
    );
});

gpu_test!(pool_reuses_buffers_in_steady_state, |gpu| {
    let x = vec![0.5f32; 96];
    // Warm up once, then the same work again must not create any buffer.
    for round in 0..3 {
        let before = gpu.pool().stats();
        let mut batch = gpu.batch("steady");
        let t = gpu.upload("x", &x, &[8, 12]).unwrap();
        let y = ops::softmax(&mut batch, &t).unwrap();
        let out = batch.submit_and_read(&y).await.unwrap();
        assert!((out[0] - 1.0 / 12.0).abs() < 1e-6);
        let after = gpu.pool().stats();
        if round > 0 {
            assert_eq!(
                after.created, before.created,
                "round {round} allocated: {before:?} -> {after:?}"
            );
            assert!(after.reused > before.reused);
        }
    }
});

gpu_test!(oversized_tensor_is_refused_with_the_limit_named, |gpu| {
    let limit = gpu.limits().max_storage_buffer_binding_size;
    let elements = (limit / 4 + 1) as usize;
    let err = gpu
        .empty("huge activations", &[elements])
        .err()
        .expect("larger than a binding");
    let message = err.to_string();
    assert!(
        message.contains("huge activations") && message.contains("maxStorageBufferBindingSize"),
        "{message}"
    );
    let err = gpu
        .empty("overflowing", &[usize::MAX, 3])
        .err()
        .expect("overflow");
    assert!(matches!(err, GpuError::Shape(_)), "{err}");
});

// The second attempt finds the (invalid) pipeline and bind group cached and records without
// error scopes of its own: the error must still surface, at the submission.
gpu_test!(broken_kernel_source_is_an_error_not_a_crash, |gpu| {
    let broken = lantern_gpu::kernel::KernelSource {
        name: "broken",
        wgsl: "const N: u32 = 1u;\n@compute @workgroup_size(1) fn main() { let x: u32 = undefined_thing; }",
    };
    let t = gpu.empty("t", &[4]).unwrap();
    let groups_before = gpu.bind_group_stats();
    for attempt in 1..=2 {
        let mut batch = gpu.batch("broken");
        // Recording succeeds or fails cleanly; either way the error surfaces by the time it is
        // submitted.
        let recorded = batch.dispatch(
            &broken,
            &Specialization::new().u32("N", 2),
            &[t.buffer()],
            &[],
            [1, 1, 1],
        );
        let submitted = batch.submit().await;
        assert!(
            recorded.is_err() || submitted.is_err(),
            "invalid WGSL went unnoticed (attempt {attempt})"
        );
    }
    let groups = gpu.bind_group_stats();
    assert_eq!(
        (groups.created, groups.reused),
        (groups_before.created + 1, groups_before.reused + 1),
        "the second attempt reuses the first one's bind group"
    );
    // The device still works.
    let x = gpu.upload("x", &[1.0, 2.0], &[1, 2]).unwrap();
    let mut batch = gpu.batch("after broken");
    let y = ops::softmax(&mut batch, &x).unwrap();
    let out = batch.submit_and_read(&y).await.unwrap();
    assert!((out[0] + out[1] - 1.0).abs() < 1e-6, "{out:?}");
});

gpu_test!(self_check_passes, |gpu| {
    let report = lantern_gpu::selfcheck::run(&gpu).await.unwrap();
    assert!(report.passed, "{report}");
    // matmul ×3, softmax ×3, quant_matvec, quant_matmul and top_k, plus the two products in f16
    // where the adapter has shader-f16.
    let f16 = gpu.report().features.shader_f16;
    assert_eq!(report.checks.len(), if f16 { 11 } else { 9 }, "{report}");
});

/// The XOR of the per-workgroup outputs of one probe read that `record` records.
async fn probe_xor(gpu: &Gpu, record: impl Fn(&mut Batch<'_>) -> Result<Tensor>) -> u32 {
    let mut batch = gpu.batch("probe test");
    let out = record(&mut batch).unwrap();
    let values = batch.submit_and_read(&out).await.unwrap();
    values.iter().fold(0u32, |acc, v| acc ^ v.to_bits())
}

// The bandwidth probe reads every word exactly once in either pattern: the XOR of its
// per-workgroup outputs must equal the XOR of all input words, for sizes below one workgroup's
// share, at the workgroup count cap (so invocations loop), between, and (chunked) sizes that
// leave the last invocations with short or empty chunks.
gpu_test!(bandwidth_probe_reads_every_word_once, |gpu| {
    let mut rng = Rng::new(11);
    for values in [4, 260, 4096 * 256 * 4 + 36, 3 * 4096 * 256 * 4 + 8] {
        let bits: Vec<u32> = (0..values).map(|_| (rng.next_u64() >> 32) as u32).collect();
        let data: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let t = gpu.upload("probe data", &data, &[values]).unwrap();
        let expected = bits.iter().fold(0u32, |acc, b| acc ^ b);
        for pattern in ops::ReadPattern::ALL {
            let folded = probe_xor(&gpu, |batch| ops::stream_read(batch, &t, pattern)).await;
            assert_eq!(folded, expected, "{values} values read {pattern:?}");
        }
    }
    let mut batch = gpu.batch("probe test");
    let odd = gpu.upload("odd", &[1.0; 6], &[6]).unwrap();
    assert!(ops::stream_read(&mut batch, &odd, ops::ReadPattern::Chunked).is_err());
});

// The same from a weight matrix's texture (the probe's second source where weights live in
// textures): one texture row, many rows and a partial last one, and enough texels that the
// interleaved pattern's invocations loop.
gpu_test!(bandwidth_probe_reads_every_word_of_a_texture_once, |_gpu| {
    let gpu = test_gpu_with_weight_textures(true).await;
    let mut rng = Rng::new(12);
    let format = WeightFormat::F32;
    for rows in [3, 32769, 131073] {
        let values = rows * UNIT_LEN;
        let bits: Vec<u32> = (0..values).map(|_| (rng.next_u64() >> 32) as u32).collect();
        let bytes: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
        let matrix = QuantMatrix::upload(&gpu, "probe", format, rows, UNIT_LEN, &bytes).unwrap();
        assert_eq!(matrix.storage(), WeightStorage::Texture);
        let expected = bits.iter().fold(0u32, |acc, b| acc ^ b);
        for pattern in ops::ReadPattern::ALL {
            let read = |batch: &mut Batch<'_>| ops::stream_read_weights(batch, &matrix, pattern);
            let folded = probe_xor(&gpu, read).await;
            assert_eq!(folded, expected, "{rows} rows read {pattern:?}");
        }
    }
});

// Profiling times each dispatch of the batches submitted while it is on, in order and under the
// batch's label, without changing what they compute; a batch past the query set's capacity still
// runs, its extra dispatches counted as untimed; batches after `finish_profiling` are not timed.
gpu_test!(profiling_times_each_dispatch_and_changes_no_result, |gpu| {
    use lantern_gpu::profile::MAX_PROFILED_DISPATCHES;
    if !gpu.report().features.timestamp_query {
        let refused = gpu.start_profiling().unwrap_err();
        assert!(matches!(
            refused,
            GpuError::MissingFeature {
                feature: "timestamp-query",
                ..
            }
        ));
        return;
    }
    let large: Vec<f32> = (0..3 * 4096 * 256 * 4 + 8).map(|i| i as f32).collect();
    let large = gpu.upload("large", &large, &[large.len()]).unwrap();
    let small = gpu.upload("small", &[1.5; 260], &[260]).unwrap();
    let read_both = async || {
        let mut batch = gpu.batch("profiled");
        let first = ops::stream_read(&mut batch, &large, ops::ReadPattern::Chunked).unwrap();
        batch.hold(first);
        let second = ops::stream_read(&mut batch, &small, ops::ReadPattern::Chunked).unwrap();
        batch.submit_and_read(&second).await.unwrap()
    };
    let plain = read_both().await;

    gpu.start_profiling().unwrap();
    assert_eq!(read_both().await, plain);
    let mut batch = gpu.batch("over capacity");
    let extra = 3;
    for _ in 0..MAX_PROFILED_DISPATCHES as usize + extra {
        let out = ops::stream_read(&mut batch, &small, ops::ReadPattern::Chunked).unwrap();
        batch.hold(out);
    }
    batch.submit().await.unwrap();
    let profile = gpu.finish_profiling().await.unwrap();

    assert_eq!(profile.batches.len(), 2, "{profile:?}");
    let timed = &profile.batches[0];
    assert_eq!(timed.label, "profiled");
    assert_eq!(timed.unprofiled, 0);
    let kernels: Vec<_> = timed.dispatches.iter().map(|d| d.kernel).collect();
    assert_eq!(kernels, ["stream_read", "stream_read"]);
    let (large_read, small_read) = (&timed.dispatches[0], &timed.dispatches[1]);
    assert_eq!(large_read.start_ns.min(small_read.start_ns), 0.0);
    // 48 MiB against 1 KiB: the large read takes longer on any adapter.
    assert!(large_read.duration_ns > small_read.duration_ns, "{timed:?}");
    assert!(timed.span_ns() >= large_read.duration_ns);
    assert_eq!(
        timed.busy_ns(),
        large_read.duration_ns + small_read.duration_ns
    );
    let full = &profile.batches[1];
    assert_eq!(full.dispatches.len(), MAX_PROFILED_DISPATCHES as usize);
    assert_eq!(full.unprofiled, extra);
    let totals = profile.kernel_totals("profiled");
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].kernel, totals[0].dispatches), ("stream_read", 2));

    // Off again: nothing more is collected.
    assert_eq!(read_both().await, plain);
    assert!(gpu.finish_profiling().await.unwrap().batches.is_empty());
});

// Every kernel the matmul peak probe times computes the product (exactly: small integer inputs,
// weights that decode to exactly them), and a run's FLOP/s figure is 2n³ per product over the
// time.
gpu_test!(matmul_peak_probe_computes_its_product, |gpu| {
    use lantern_gpu::matmul_peak::{Operands, candidates, probe_operands, time_kernel};
    let n = 96; // not a multiple of the 64-value tiles: edge blocks are part of what is checked
    let ticks = std::cell::Cell::new(0.0);
    let clock = || {
        ticks.set(ticks.get() + 5.0);
        ticks.get()
    };
    let operands = Operands::new(&gpu, n).unwrap();
    let (a, b) = probe_operands(n);
    let expected = lantern_gpu::reference::matmul(&a, &b, n, n, n);
    for kernel in candidates() {
        let (run, c) = time_kernel(&gpu, &operands, kernel, 5.0, clock)
            .await
            .unwrap();
        assert!(c == expected, "{kernel:?} computed another product");
        // Every timed run took 5 "ms" by this clock: one product met the 5 ms minimum.
        assert_eq!((run.n, run.products, run.milliseconds), (n, 1, 5.0));
        assert_eq!(run.gigaflops(), 2.0 * 96f64.powi(3) / 5.0 / 1e6);
    }
    let peak = lantern_gpu::matmul_peak::measure(&gpu, n, 5.0, clock)
        .await
        .unwrap();
    assert!(candidates().contains(&peak.kernel));
});
