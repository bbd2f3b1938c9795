//! The decoder-transformer kernels (RMSNorm, alone and fused with the residual add and a
//! post-norm; the attention inputs: QK-norm, rope and the KV-cache append; activations; attention)
//! against their CPU references in `lantern_gpu::reference::transformer`, on awkward shapes: head
//! sizes 64 and 256, 9 heads over 3 kv heads and 4 over 1, contexts of 1, 5, 513 and 1100 keys
//! with and without a 512-key window, start positions past 0, 1 and 7 new tokens. The same source
//! runs natively (lavapipe here) and in headless Chromium (SwiftShader).
//!
//! Tolerances: each comparison holds every element to the error bound its reference function
//! derives and documents (from WGSL's stated accuracy of `exp`, `inverseSqrt` and division, and
//! γ_n for sums of n terms); the residual add and the cache writes are exact.

use lantern_gpu::ops::attention::attention_split;
use lantern_gpu::ops::{
    self, Activation, AttentionParams, AttentionSplit, HeadTransform, Heads, KvCache, RmsNorm,
    Rope, RopeStyle,
};
use lantern_gpu::reference::transformer::{self as reference, AttentionShape};
use lantern_gpu::testing::{
    Rng, compare, test_gpu_with_gpu_workgroups, test_gpu_with_lone_row_reductions,
};
use lantern_gpu::{Gpu, GpuError, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Asserts every element is within its bound; returns the worst error as a fraction of the bound.
fn assert_within(what: &str, gpu: &[f32], reference: &[f32], bound: &[f32]) -> f32 {
    let cmp = compare(gpu, reference, |i, _| bound[i]);
    assert!(
        cmp.passed,
        "{what}: element {} is {} vs {} (bound {}): {cmp:?}",
        cmp.worst_index, gpu[cmp.worst_index], reference[cmp.worst_index], bound[cmp.worst_index]
    );
    cmp.worst_ratio
}

/// Asserts bit-for-bit equality, naming the first element that differs.
fn assert_same(what: &str, gpu: &[f32], want: &[f32]) {
    assert_eq!(gpu.len(), want.len(), "{what}: lengths");
    if let Some(i) = (0..gpu.len()).find(|&i| gpu[i].to_bits() != want[i].to_bits()) {
        panic!(
            "{what}: element {i} is {} but should be {}",
            gpu[i], want[i]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

/// (x shape, weight length = last axis): per token (SmolLM2's 576, Gemma 3's 640, one odd width,
/// a single value) and per head for QK-norm (9 heads of 64, 4 heads of 256).
const NORM_SHAPES: &[&[usize]] = &[
    &[1, 576],
    &[7, 640],
    &[3, 33],
    &[1, 1],
    &[7, 9, 64],
    &[7, 4, 256],
];

gpu_test!(rms_norm_matches_reference_per_token_and_per_head, |gpu| {
    check_rms_norm(&gpu).await;
});

// The workgroup sizes a GPU gets (a CPU adapter gets at most 64 invocations).
gpu_test!(rms_norm_in_gpu_workgroups_matches_reference, |_gpu| {
    check_rms_norm(&test_gpu_with_gpu_workgroups().await).await;
});

// One invocation per row, as on SwiftShader (see Gpu::lone_row_reductions).
gpu_test!(rms_norm_in_lone_invocations_matches_reference, |_gpu| {
    check_rms_norm(&test_gpu_with_lone_row_reductions().await).await;
});

async fn check_rms_norm(gpu: &Gpu) {
    let mut rng = Rng::new(10);
    for &shape in NORM_SHAPES {
        for (eps, offset) in [(1e-5, 0.0), (1e-6, 1.0)] {
            let cols = *shape.last().unwrap();
            let n: usize = shape.iter().product();
            let mut x = rng.vec(n, -3.0, 3.0);
            // A row of zeros: only eps keeps it finite.
            if n / cols > 1 {
                x[..cols].fill(0.0);
            }
            let w = rng.vec(cols, -1.0, 1.0);
            let norm = RmsNorm {
                eps,
                weight_offset: offset,
            };
            let mut batch = gpu.batch("rms_norm test");
            let y = ops::rms_norm(
                &mut batch,
                &gpu.upload("x", &x, shape).unwrap(),
                &gpu.upload("w", &w, &[cols]).unwrap(),
                norm,
            )
            .unwrap();
            assert_eq!(y.shape(), shape);
            let out = batch.submit_and_read(&y).await.unwrap();
            let want = reference::rms_norm(&x, &w, eps, offset);
            let rel = reference::rms_norm_relative_bound(cols);
            let bound: Vec<f32> = want
                .iter()
                .map(|r| r.abs() * rel + f32::MIN_POSITIVE)
                .collect();
            assert_within(
                &format!("rms_norm {shape:?} offset {offset}"),
                &out,
                &want,
                &bound,
            );
        }
    }
}

gpu_test!(
    add_rms_norm_updates_the_residual_exactly_and_normalises_it,
    |gpu| {
        let mut rng = Rng::new(11);
        for shape in [[1usize, 576], [7, 640], [2, 5]] {
            let n = shape[0] * shape[1];
            let x = rng.vec(n, -2.0, 2.0);
            let y = rng.vec(n, -2.0, 2.0);
            let w = rng.vec(shape[1], 0.0, 2.0);
            let norm = RmsNorm::new(1e-6);
            let residual = gpu.upload("x", &x, &shape).unwrap();
            let mut batch = gpu.batch("add_rms_norm test");
            let h = ops::add_rms_norm(
                &mut batch,
                &residual,
                &gpu.upload("y", &y, &shape).unwrap(),
                None,
                &gpu.upload("w", &w, &[shape[1]]).unwrap(),
                norm,
            )
            .unwrap();
            let h = batch.submit_and_read(&h).await.unwrap();
            let sum = reference::add(&x, &y);
            let residual = gpu.read(&residual).await.unwrap();
            assert_same(&format!("residual {shape:?}"), &residual, &sum);
            check_normalised(&format!("add_rms_norm {shape:?}"), &h, &sum, &w, norm);
        }
    }
);

// A post-norm fused in (Gemma's sandwich norms): x += rms_norm(y) * (w_y + offset), then the
// next norm of x. The residual is held to the norm's relative bound on the added values plus
// the addition's rounding; the output to the norm's bound on the residual the GPU computed.
gpu_test!(
    add_rms_norm_with_a_post_norm_of_y_matches_reference,
    |gpu| {
        check_add_rms_norm_with_a_post_norm(&gpu).await;
    }
);

// Both of its sums over one invocation per row, as on SwiftShader.
gpu_test!(
    add_rms_norm_with_a_post_norm_in_lone_invocations_matches_reference,
    |_gpu| {
        check_add_rms_norm_with_a_post_norm(&test_gpu_with_lone_row_reductions().await).await;
    }
);

async fn check_add_rms_norm_with_a_post_norm(gpu: &Gpu) {
    let mut rng = Rng::new(12);
    for (shape, offset) in [([1usize, 640], 1.0), ([7, 576], 0.0), ([2, 5], 0.0)] {
        let n = shape[0] * shape[1];
        let x = rng.vec(n, -2.0, 2.0);
        let y = rng.vec(n, -20.0, 20.0);
        let (w_y, w) = (rng.vec(shape[1], 0.0, 2.0), rng.vec(shape[1], 0.0, 2.0));
        let norm = RmsNorm {
            eps: 1e-6,
            weight_offset: offset,
        };
        let residual = gpu.upload("x", &x, &shape).unwrap();
        let mut batch = gpu.batch("add_rms_norm post-norm test");
        let h = ops::add_rms_norm(
            &mut batch,
            &residual,
            &gpu.upload("y", &y, &shape).unwrap(),
            Some(&gpu.upload("w_y", &w_y, &[shape[1]]).unwrap()),
            &gpu.upload("w", &w, &[shape[1]]).unwrap(),
            norm,
        )
        .unwrap();
        let h = batch.submit_and_read(&h).await.unwrap();
        let residual = gpu.read(&residual).await.unwrap();

        let y_normed = reference::rms_norm(&y, &w_y, norm.eps, offset);
        let sum = reference::add(&x, &y_normed);
        let rel = reference::rms_norm_relative_bound(shape[1]);
        let bound: Vec<f32> = (0..n)
            .map(|i| y_normed[i].abs() * rel + sum[i].abs() * f32::EPSILON + f32::MIN_POSITIVE)
            .collect();
        let what = format!("post-normed residual {shape:?}");
        assert_within(&what, &residual, &sum, &bound);
        let what = format!("add_rms_norm {shape:?} after a post-norm");
        check_normalised(&what, &h, &residual, &w, norm);
    }
}

/// `h` is `rms_norm(sum) * (w + offset)` within the norm's relative bound.
fn check_normalised(what: &str, h: &[f32], sum: &[f32], w: &[f32], norm: RmsNorm) {
    let want = reference::rms_norm(sum, w, norm.eps, norm.weight_offset);
    let rel = reference::rms_norm_relative_bound(w.len());
    let bound: Vec<f32> = want
        .iter()
        .map(|r| r.abs() * rel + f32::MIN_POSITIVE)
        .collect();
    assert_within(what, h, &want, &bound);
}

// ---------------------------------------------------------------------------------------------
// Activations and the residual add

gpu_test!(activations_match_reference_gated_and_plain, |gpu| {
    let mut rng = Rng::new(12);
    // Values where exp overflows or underflows without the clamp, zeros, and tiny values.
    let specials = [
        0.0, -0.0, 1e-20, -1e-20, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4,
    ];
    for n in [1usize, 1000, 7 * 1536 + 3] {
        let mut gate = rng.vec(n, -12.0, 12.0);
        for (g, s) in gate.iter_mut().zip(specials) {
            *g = s;
        }
        let up = rng.vec(n, -4.0, 4.0);
        for act in [Activation::Silu, Activation::GeluTanh] {
            let tg = gpu.upload("gate", &gate, &[n]).unwrap();
            let tu = gpu.upload("up", &up, &[n]).unwrap();
            let mut batch = gpu.batch("activation test");
            let gated = ops::gated_activation(&mut batch, &tg, &tu, act).unwrap();
            let out = batch.submit_and_read(&gated).await.unwrap();
            let want = reference::activation(&gate, Some(&up), act);
            let bound = reference::activation_error_bound(&gate, Some(&up), act);
            assert_within(&format!("gated {act:?} n={n}"), &out, &want, &bound);

            let mut batch = gpu.batch("activation test");
            let plain = ops::activation(&mut batch, &tg, act).unwrap();
            let out = batch.submit_and_read(&plain).await.unwrap();
            let want = reference::activation(&gate, None, act);
            let bound = reference::activation_error_bound(&gate, None, act);
            assert_within(&format!("plain {act:?} n={n}"), &out, &want, &bound);
        }
    }
});

// The stacked form (each row a gate row then an up row, as one product of a stacked gate/up
// projection gives them) computes the same values as the separate form, bit for bit, for row
// counts and widths that are not multiples of the workgroup.
gpu_test!(stacked_gated_activation_equals_the_separate_halves, |gpu| {
    let mut rng = Rng::new(15);
    for (rows, width) in [(1usize, 1usize), (1, 1536), (7, 643), (33, 2048)] {
        let gate = rng.vec(rows * width, -12.0, 12.0);
        let up = rng.vec(rows * width, -4.0, 4.0);
        let stacked: Vec<f32> = gate
            .chunks(width)
            .zip(up.chunks(width))
            .flat_map(|(g, u)| g.iter().chain(u).copied())
            .collect();
        for act in [Activation::Silu, Activation::GeluTanh] {
            let mut batch = gpu.batch("stacked activation test");
            let tg = gpu.upload("gate", &gate, &[rows, width]).unwrap();
            let tu = gpu.upload("up", &up, &[rows, width]).unwrap();
            let ts = gpu.upload("gate_up", &stacked, &[rows, 2 * width]).unwrap();
            let separate = ops::gated_activation(&mut batch, &tg, &tu, act).unwrap();
            let fused = ops::gated_activation_stacked(&mut batch, &ts, act).unwrap();
            assert_eq!(fused.shape(), &[rows, width]);
            batch.submit().await.unwrap();
            let (separate, fused) = (
                gpu.read(&separate).await.unwrap(),
                gpu.read(&fused).await.unwrap(),
            );
            assert_eq!(fused, separate, "{act:?} {rows}x{width}");
            let bound = reference::activation_error_bound(&gate, Some(&up), act);
            let want = reference::activation(&gate, Some(&up), act);
            assert_within(
                &format!("stacked {act:?} {rows}x{width}"),
                &fused,
                &want,
                &bound,
            );
        }
    }
    let odd = gpu.upload("odd", &[0.0; 6], &[2, 3]).unwrap();
    let mut batch = gpu.batch("stacked activation errors");
    let err = ops::gated_activation_stacked(&mut batch, &odd, Activation::Silu)
        .err()
        .expect("odd rows accepted");
    assert!(err.to_string().contains("halves"), "{err}");
    batch.submit().await.unwrap();
});

// ---------------------------------------------------------------------------------------------
// Rope

/// (heads, head_dim, rotary_dims).
const ROPE_HEADS: &[(usize, usize, usize)] = &[(9, 64, 64), (4, 256, 256), (3, 64, 32), (1, 2, 2)];

gpu_test!(rope_matches_f64_reference_up_to_position_8192, |gpu| {
    let mut rng = Rng::new(14);
    let mut worst = 0f32;
    for &(heads, head_dim, rotary_dims) in ROPE_HEADS {
        for style in [RopeStyle::Normal, RopeStyle::Neox] {
            // Gemma 3's local and global bases; a linearly scaled one.
            for (base, position_scale) in [(1e4, 1.0), (1e6, 1.0), (1e4, 0.125)] {
                // Positions 0.., 5.., and up to 8191.
                for (start, tokens) in [(0usize, 7usize), (5, 1), (8185, 7), (8191, 1)] {
                    let rope = Rope {
                        style,
                        rotary_dims,
                        base,
                        position_scale,
                    };
                    let shape = [tokens, heads, head_dim];
                    let x = rng.vec(tokens * heads * head_dim, -2.0, 2.0);
                    let t = gpu.upload("x", &x, &shape).unwrap();
                    // The queries are x; the one key head is x's last head, so that keys are
                    // roped (into the cache) at the same positions.
                    let cache = KvCache::new(&gpu, start + tokens, 1, head_dim).unwrap();
                    let key = Heads {
                        tensor: &t,
                        offset: (heads - 1) * head_dim,
                        count: 1,
                    };
                    let transform = HeadTransform {
                        rope: Some(rope),
                        ..HeadTransform::default()
                    };
                    let mut batch = gpu.batch("rope test");
                    let q = ops::attention_inputs(
                        &mut batch,
                        Some(Heads::all(&t, heads)),
                        key,
                        key,
                        &transform,
                        &cache,
                        start,
                    )
                    .unwrap()
                    .unwrap();
                    let out = batch.submit_and_read(&q).await.unwrap();
                    let keys = gpu.read(cache.keys()).await.unwrap();
                    let want = reference::rope(&x, heads, head_dim, &rope, start);
                    let bound = reference::rope_error_bound(&x, head_dim, &rope);
                    let what = format!("rope {rope:?} {shape:?} from {start}");
                    worst = worst.max(assert_within(&what, &out, &want, &bound));
                    let last_heads = |v: &[f32]| -> Vec<f32> {
                        v.chunks(heads * head_dim)
                            .flat_map(|row| row[(heads - 1) * head_dim..].to_vec())
                            .collect()
                    };
                    let keys_written = &keys[start * head_dim..];
                    assert_within(
                        &format!("{what}: keys"),
                        keys_written,
                        &last_heads(&want),
                        &last_heads(&bound),
                    );
                    // Dimensions past the rotated ones are untouched.
                    for (i, (o, v)) in out.iter().zip(&x).enumerate() {
                        if i % head_dim >= rotary_dims {
                            assert_eq!(o, v, "{what}: element {i} changed");
                        }
                    }
                }
            }
        }
    }
    // Rope's bound is 8u·(|x0| + |x1|); report how much of it the device used.
    eprintln!("rope: worst error {:.0}% of the bound", worst * 100.0);
});

/// The textbook f32 evaluation the kernel avoids, measured on the CPU with Rust's (accurate) f32
/// sin/cos: the error comes from rounding the angle to f32 alone. This is what the kernel's
/// fixed-point angle buys; WGSL's own sin/cos are not even bounded outside [-pi, pi].
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn naive_f32_rope_angles_lose_precision_at_long_positions() {
    let (dims, base) = (64usize, 1e4f32);
    let mut worst = 0f64;
    for position in 8000u32..8192 {
        for i in 0..dims / 2 {
            let freq = base.powf(-2.0 * i as f32 / dims as f32);
            let theta = position as f32 * freq;
            let exact = position as f64 * (base as f64).powf(-2.0 * i as f64 / dims as f64);
            worst = worst.max((theta.sin() as f64 - exact.sin()).abs());
            worst = worst.max((theta.cos() as f64 - exact.cos()).abs());
        }
    }
    // Hundreds of f32 ulps of 1: about 1e-4..1e-3, against the kernel's few-ulp bound.
    assert!(worst > 1e-5, "{worst}");
    eprintln!("naive f32 rope: sin/cos off by up to {worst:.1e} at positions < 8192");
}

gpu_test!(attention_inputs_reject_bad_shapes, |gpu| {
    let x = gpu.empty("x", &[1, 2, 8]).unwrap();
    let cache = KvCache::new(&gpu, 4, 1, 8).unwrap();
    let mut batch = gpu.batch("attention_inputs errors");
    let heads = |offset, count| Heads {
        tensor: &x,
        offset,
        count,
    };
    let mut record = |q, k, transform: HeadTransform<'_>, position| {
        ops::attention_inputs(&mut batch, q, k, k, &transform, &cache, position)
            .map(|_| ())
            .expect_err("rejected")
            .to_string()
    };
    for dims in [0, 3, 10] {
        let rope = Some(Rope::new(RopeStyle::Neox, dims, 1e4));
        let transform = HeadTransform {
            rope,
            ..HeadTransform::default()
        };
        let err = record(None, heads(0, 1), transform, 0);
        assert!(err.contains("rotated dimensions"), "{err}");
    }
    let none = HeadTransform::default();
    let cases = [
        (record(None, heads(0, 2), none, 0), "cache holds 1"),
        (record(None, heads(9, 1), none, 0), "do not fit rows"),
        (
            record(Some(heads(8, 2)), heads(0, 1), none, 0),
            "do not fit rows",
        ),
        (record(None, heads(0, 1), none, 4), "past the cache"),
        (
            record(None, heads(0, 1), none, usize::MAX),
            "past the cache",
        ),
    ];
    for (err, expected) in cases {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let wide = gpu.empty("norm", &[16]).unwrap();
    let err = record(
        None,
        heads(0, 1),
        HeadTransform {
            qk_norm: Some((&wide, &wide, RmsNorm::new(1e-6))),
            rope: None,
        },
        0,
    );
    assert!(err.contains("QK-norm weights"), "{err}");
    assert_eq!(batch.dispatch_count(), 0);
});

// ---------------------------------------------------------------------------------------------
// KV cache

gpu_test!(kv_cache_writes_rows_at_positions, |gpu| {
    let mut rng = Rng::new(15);
    let (max_ctx, kv_heads, head_dim) = (16usize, 3usize, 64usize);
    let row = kv_heads * head_dim;
    let cache = KvCache::new(&gpu, max_ctx, kv_heads, head_dim).unwrap();
    let mut want_k = vec![0f32; max_ctx * row];
    let mut want_v = vec![0f32; max_ctx * row];
    let mut batch = gpu.batch("kv cache test");
    // Uploads land before the submission, so each keeps its own buffer until then.
    let mut uploads = Vec::new();
    // Prefill 7, one decode step, then 7 more that end exactly at the cache's end; then
    // overwrite position 3 (a rewound conversation).
    for (position, tokens) in [(0usize, 7usize), (7, 1), (9, 7), (8, 1), (3, 1)] {
        let (k, v) = (
            rng.vec(tokens * row, -1.0, 1.0),
            rng.vec(tokens * row, -1.0, 1.0),
        );
        let shape = [tokens, kv_heads, head_dim];
        let (tk, tv) = (
            gpu.upload("k", &k, &shape).unwrap(),
            gpu.upload("v", &v, &shape).unwrap(),
        );
        cache.write(&mut batch, &tk, &tv, position).unwrap();
        uploads.push((tk, tv));
        want_k[position * row..][..tokens * row].copy_from_slice(&k);
        want_v[position * row..][..tokens * row].copy_from_slice(&v);
    }
    batch.submit().await.unwrap();
    drop(uploads);
    assert_same("keys", &gpu.read(cache.keys()).await.unwrap(), &want_k);
    assert_same("values", &gpu.read(cache.values()).await.unwrap(), &want_v);

    let mut batch = gpu.batch("kv cache errors");
    let k = gpu.empty("k", &[2, kv_heads, head_dim]).unwrap();
    let err = cache
        .write(&mut batch, &k, &k, 15)
        .expect_err("past the end");
    assert!(err.to_string().contains("past the cache"), "{err}");
    let wrong = gpu.empty("k", &[1, kv_heads, 32]).unwrap();
    let err = cache
        .write(&mut batch, &wrong, &wrong, 0)
        .expect_err("head size");
    assert!(matches!(err, GpuError::Shape(_)), "{err}");
    assert_eq!(batch.dispatch_count(), 0);
});

// ---------------------------------------------------------------------------------------------
// Attention

#[derive(Clone, Copy, Debug)]
struct Case {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    tokens: usize,
    start: usize,
    window: Option<usize>,
    softcap: Option<f32>,
    chunks: Option<usize>,
}

impl Case {
    fn new(heads: usize, kv_heads: usize, head_dim: usize, tokens: usize, start: usize) -> Case {
        Case {
            heads,
            kv_heads,
            head_dim,
            tokens,
            start,
            window: None,
            softcap: None,
            chunks: None,
        }
    }

    fn window(self, window: usize) -> Case {
        Case {
            window: Some(window),
            ..self
        }
    }

    fn chunks(self, chunks: usize) -> Case {
        Case {
            chunks: Some(chunks),
            ..self
        }
    }
}

/// Attention over a cache filled with random keys and values at 0 .. start + T, and with huge
/// values at three positions past it that no query may see. Returns the worst error as a fraction
/// of the bound.
async fn check_attention(gpu: &Gpu, case: Case, seed: u64) -> f32 {
    let mut rng = Rng::new(seed);
    let Case {
        heads,
        kv_heads,
        head_dim,
        tokens,
        start,
        ..
    } = case;
    let ctx = start + tokens;
    let row = kv_heads * head_dim;
    let keys = rng.vec(ctx * row, -1.0, 1.0);
    let values = rng.vec(ctx * row, -1.0, 1.0);
    // Queries large enough that the softmax is far from uniform.
    let q = rng.vec(tokens * heads * head_dim, -3.0, 3.0);
    let params = AttentionParams {
        scale: 1.0 / (head_dim as f32).sqrt(),
        softcap: case.softcap,
        window: case.window,
    };

    let cache = KvCache::new(gpu, ctx + 3, kv_heads, head_dim).unwrap();
    let mut batch = gpu.batch("attention test");
    let shape = [ctx, kv_heads, head_dim];
    // Named, so each upload keeps its buffer until the batch is submitted.
    let (tk, tv) = (
        gpu.upload("k", &keys, &shape).unwrap(),
        gpu.upload("v", &values, &shape).unwrap(),
    );
    cache.write(&mut batch, &tk, &tv, 0).unwrap();
    let poison = gpu
        .upload("poison", &vec![1e4; 3 * row], &[3, kv_heads, head_dim])
        .unwrap();
    cache.write(&mut batch, &poison, &poison, ctx).unwrap();
    let split = AttentionSplit {
        key_chunks: case.chunks,
    };
    let tq = gpu.upload("q", &q, &[tokens, heads, head_dim]).unwrap();
    let out = attention_split(&mut batch, &tq, &cache, start, &params, split).unwrap();
    assert_eq!(out.shape(), &[tokens, heads, head_dim]);
    let out = batch.submit_and_read(&out).await.unwrap();

    let shape = AttentionShape {
        tokens,
        n_heads: heads,
        n_kv_heads: kv_heads,
        head_dim,
        start,
    };
    let want = reference::attention(&q, &keys, &values, &shape, &params);
    let bound = reference::attention_error_bound(&q, &keys, &values, &shape, &params);
    assert_within(&format!("attention {case:?}"), &out, &want, &bound)
}

/// The two head layouts: SmolLM2's 9 heads of 64 over 3 kv heads, Gemma 3 270M's 4 of 256 over 1.
const LAYOUTS: [(usize, usize, usize); 2] = [(9, 3, 64), (4, 1, 256)];

gpu_test!(attention_prefill_matches_reference, |gpu| {
    check_attention_prefill(&gpu).await;
});

gpu_test!(
    attention_prefill_in_gpu_workgroups_matches_reference,
    |_gpu| {
        check_attention_prefill(&test_gpu_with_gpu_workgroups().await).await;
    }
);

async fn check_attention_prefill(gpu: &Gpu) {
    let mut worst = 0f32;
    let mut seed = 100;
    for (heads, kv, hd) in LAYOUTS {
        let cases = [
            // A fresh prompt, a prompt continued after 5 cached tokens, a single token.
            Case::new(heads, kv, hd, 7, 0),
            Case::new(heads, kv, hd, 7, 5),
            Case::new(heads, kv, hd, 1, 0),
            // Rows whose windows start on either side of key 0, then well past it.
            Case::new(heads, kv, hd, 7, 506).window(512),
            Case::new(heads, kv, hd, 7, 1093).window(512),
            // The same with the keys forced into one chunk and into several.
            Case::new(heads, kv, hd, 7, 1093).window(512).chunks(1),
            Case::new(heads, kv, hd, 7, 5).chunks(3),
            // Enough tokens that a CPU adapter leaves the keys whole (attention_cpu.wgsl), with
            // each row's own window start inside them.
            Case::new(heads, kv, hd, 24, 40),
            Case::new(heads, kv, hd, 24, 40).window(32),
            Case {
                softcap: Some(1.5),
                ..Case::new(heads, kv, hd, 7, 5)
            },
        ];
        for case in cases {
            seed += 1;
            worst = worst.max(check_attention(gpu, case, seed).await);
        }
    }
    eprintln!(
        "attention prefill: worst error {:.1}% of the bound",
        worst * 100.0
    );
}

gpu_test!(attention_decode_matches_reference_at_every_split, |gpu| {
    check_attention_decode(&gpu).await;
});

gpu_test!(
    attention_decode_in_gpu_workgroups_matches_reference,
    |_gpu| {
        check_attention_decode(&test_gpu_with_gpu_workgroups().await).await;
    }
);

async fn check_attention_decode(gpu: &Gpu) {
    let mut worst = 0f32;
    let mut seed = 200;
    for (heads, kv, hd) in LAYOUTS {
        for ctx in [1usize, 5, 513, 1100] {
            let decode = Case::new(heads, kv, hd, 1, ctx - 1);
            let mut cases = vec![decode, decode.chunks(1), decode.chunks(7)];
            if ctx > 512 {
                cases.extend([decode.window(512), decode.window(512).chunks(3)]);
            }
            if ctx == 1100 {
                // The most chunks the merge takes: ~4 keys each, on a 512-key window too.
                cases.extend([decode.chunks(256), decode.window(512).chunks(256)]);
            }
            if ctx == 513 {
                cases.push(Case {
                    softcap: Some(1.5),
                    ..decode
                });
            }
            for case in cases {
                seed += 1;
                worst = worst.max(check_attention(gpu, case, seed).await);
            }
        }
    }
    // On CPU adapters attention has a kernel of its own (attention_cpu.wgsl), which takes
    // up to 256 values of heads per invocation: 5 heads of 64 per kv head go as sets of 3 and
    // 2 (one invocation's third head past its group), and heads of 512 are left to
    // attention.wgsl.
    for (heads, kv, hd) in [(10, 2, 64), (2, 1, 512)] {
        let decode = Case::new(heads, kv, hd, 1, 299);
        for case in [decode, decode.chunks(1), decode.window(100).chunks(3)] {
            seed += 1;
            worst = worst.max(check_attention(gpu, case, seed).await);
        }
    }
    eprintln!(
        "attention decode: worst error {:.1}% of the bound",
        worst * 100.0
    );
}

// Chunks with no visible key (more chunks than keys, and a window of one key) must contribute
// nothing, not NaN: a window of 1 makes each output exactly its own value row.
gpu_test!(attention_with_empty_chunks_and_a_one_key_window, |gpu| {
    check_attention(&gpu, Case::new(9, 3, 64, 1, 2).chunks(7), 300).await;
    check_attention(&gpu, Case::new(4, 1, 256, 7, 3).window(1).chunks(5), 301).await;

    let (heads, kv, hd, tokens) = (4usize, 2usize, 8usize, 3usize);
    let mut rng = Rng::new(302);
    let values = rng.vec(tokens * kv * hd, -1.0, 1.0);
    let keys = rng.vec(tokens * kv * hd, -1.0, 1.0);
    let q = rng.vec(tokens * heads * hd, -1.0, 1.0);
    let cache = KvCache::new(&gpu, tokens, kv, hd).unwrap();
    let mut batch = gpu.batch("one-key window");
    let shape = [tokens, kv, hd];
    // Named, so each upload keeps its buffer until the batch is submitted.
    let (tk, tv) = (
        gpu.upload("k", &keys, &shape).unwrap(),
        gpu.upload("v", &values, &shape).unwrap(),
    );
    cache.write(&mut batch, &tk, &tv, 0).unwrap();
    let params = AttentionParams {
        window: Some(1),
        ..AttentionParams::new(0.5)
    };
    let tq = gpu.upload("q", &q, &[tokens, heads, hd]).unwrap();
    let out = ops::attention(&mut batch, &tq, &cache, 0, &params).unwrap();
    let out = batch.submit_and_read(&out).await.unwrap();
    for t in 0..tokens {
        for h in 0..heads {
            let own = &values[(t * kv + h / (heads / kv)) * hd..][..hd];
            let what = format!("one-key window, token {t} head {h}");
            assert_same(&what, &out[(t * heads + h) * hd..][..hd], own);
        }
    }
});

gpu_test!(attention_rejects_inconsistent_shapes, |gpu| {
    let cache = KvCache::new(&gpu, 8, 3, 64).unwrap();
    let mut batch = gpu.batch("attention errors");
    let params = AttentionParams::new(0.125);
    let q = gpu.empty("q", &[2, 9, 64]).unwrap();
    let odd_cache = KvCache::new(&gpu, 8, 3, 6).unwrap();
    let cases: [(&str, lantern_gpu::Result<lantern_gpu::Tensor>); 6] = [
        (
            "past the cache",
            ops::attention(&mut batch, &q, &cache, 7, &params),
        ),
        (
            "share",
            ops::attention(
                &mut batch,
                &gpu.empty("q", &[1, 8, 64]).unwrap(),
                &cache,
                0,
                &params,
            ),
        ),
        (
            "heads of 32",
            ops::attention(
                &mut batch,
                &gpu.empty("q", &[1, 9, 32]).unwrap(),
                &cache,
                0,
                &params,
            ),
        ),
        (
            "4 at a time",
            ops::attention(
                &mut batch,
                &gpu.empty("q", &[1, 9, 6]).unwrap(),
                &odd_cache,
                0,
                &params,
            ),
        ),
        (
            "window of 0",
            ops::attention(
                &mut batch,
                &q,
                &cache,
                0,
                &AttentionParams {
                    window: Some(0),
                    ..params
                },
            ),
        ),
        (
            "key chunks",
            attention_split(
                &mut batch,
                &q,
                &cache,
                0,
                &params,
                AttentionSplit {
                    key_chunks: Some(257),
                },
            ),
        ),
    ];
    for (expected, result) in cases {
        let err = result.err().expect(expected);
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    assert_eq!(batch.dispatch_count(), 0);
});

// ---------------------------------------------------------------------------------------------
// Putting them together

// A decode loop as a model runs it: per step, a stacked QKV row (q, k and v heads side by side)
// made into attention inputs — QK-norm, rope at the step's position, the cache write — and
// attention, all in one batch; each step's output checked against the references, and after
// warm-up no step creates a buffer (the position travels in the parameter block).
gpu_test!(decode_steps_match_reference_and_allocate_nothing, |gpu| {
    check_decode_steps(&gpu).await;
});

// QK-norm, rope and the cache write with one invocation per head, as on SwiftShader.
gpu_test!(
    decode_steps_with_lone_row_reductions_match_reference,
    |_gpu| {
        check_decode_steps(&test_gpu_with_lone_row_reductions().await).await;
    }
);

async fn check_decode_steps(gpu: &Gpu) {
    let (heads, kv_heads, head_dim, steps) = (4usize, 1usize, 256usize, 12usize);
    let mut rng = Rng::new(400);
    let rope = Rope::new(RopeStyle::Neox, head_dim, 1e6);
    let norm = RmsNorm::new(1e-6);
    let params = AttentionParams {
        window: Some(8),
        ..AttentionParams::new(1.0 / 16.0)
    };
    let q_norm = rng.vec(head_dim, 0.5, 1.5);
    let k_norm = rng.vec(head_dim, 0.5, 1.5);
    let (tq_norm, tk_norm) = (
        gpu.upload("q_norm", &q_norm, &[head_dim]).unwrap(),
        gpu.upload("k_norm", &k_norm, &[head_dim]).unwrap(),
    );
    let cache = KvCache::new(gpu, steps, kv_heads, head_dim).unwrap();
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let mut created = Vec::new();
    for step in 0..steps {
        let q = rng.vec(heads * head_dim, -2.0, 2.0);
        let k = rng.vec(kv_heads * head_dim, -2.0, 2.0);
        let v = rng.vec(kv_heads * head_dim, -1.0, 1.0);
        let before = gpu.pool().stats().created;
        let mut batch = gpu.batch("decode step");
        let qkv: Vec<f32> = [&q, &k, &v].into_iter().flatten().copied().collect();
        let row = qkv.len();
        let tqkv = gpu.upload("qkv", &qkv, &[1, row]).unwrap();
        let part = |offset: usize, count| Heads {
            tensor: &tqkv,
            offset,
            count,
        };
        let transform = HeadTransform {
            qk_norm: Some((&tq_norm, &tk_norm, norm)),
            rope: Some(rope),
        };
        let qn = ops::attention_inputs(
            &mut batch,
            Some(part(0, heads)),
            part(q.len(), kv_heads),
            part(q.len() + k.len(), kv_heads),
            &transform,
            &cache,
            step,
        )
        .unwrap()
        .unwrap();
        let out = ops::attention(&mut batch, &qn, &cache, step, &params).unwrap();
        let out = batch.submit_and_read(&out).await.unwrap();
        let qn = gpu.read(&qn).await.unwrap();
        let kn = gpu.read(cache.keys()).await.unwrap()[step * k.len()..][..k.len()].to_vec();
        let vn = gpu.read(cache.values()).await.unwrap()[step * v.len()..][..v.len()].to_vec();
        assert_same(&format!("step {step}: values"), &vn, &v);
        created.push(gpu.pool().stats().created - before);

        // QK-norm then rope: rope's bound, plus the norm's relative error carried through the
        // rotation (at most the pair's |x0| + |x1| times it, which rope's bound is 8u of).
        let rel = reference::rms_norm_relative_bound(head_dim) / (4.0 * f32::EPSILON);
        for (what, gpu_out, x, w, n) in [
            ("q", &qn, &q, &q_norm, heads),
            ("k", &kn, &k, &k_norm, kv_heads),
        ] {
            let normed = reference::rms_norm(x, w, norm.eps, 0.0);
            let want = reference::rope(&normed, n, head_dim, &rope, step);
            let bound: Vec<f32> = reference::rope_error_bound(&normed, head_dim, &rope)
                .iter()
                .map(|b| b * (1.0 + rel))
                .collect();
            assert_within(
                &format!("step {step}: {what} after norm and rope"),
                gpu_out,
                &want,
                &bound,
            );
        }

        // Attention from the GPU's own q and keys, so that its bound applies as it is.
        keys.extend_from_slice(&kn);
        values.extend_from_slice(&v);
        let shape = AttentionShape {
            tokens: 1,
            n_heads: heads,
            n_kv_heads: kv_heads,
            head_dim,
            start: step,
        };
        let want = reference::attention(&qn, &keys, &values, &shape, &params);
        let bound = reference::attention_error_bound(&qn, &keys, &values, &shape, &params);
        assert_within(&format!("decode step {step}"), &out, &want, &bound);
    }
    assert!(
        created[2..].iter().all(|&c| c == 0),
        "buffers created per step: {created:?}"
    );
}
