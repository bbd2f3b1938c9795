//! `ops::top_k` against `reference::top_k` (a full sort), exactly: the same ids and the same
//! value bits, on sizes around the workgroup and slice edges, heavy ties, −inf and ±0 entries,
//! and k beyond the vocabulary. Natively and in headless Chromium.

use lantern_gpu::ops::{self, top_k::MAX_K};
use lantern_gpu::testing::{Rng, test_gpu_with_gpu_workgroups};
use lantern_gpu::{Gpu, GpuError, gpu_test, reference};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

async fn gpu_top_k(gpu: &Gpu, logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let x = gpu.upload("logits", logits, &[logits.len()]).unwrap();
    let mut batch = gpu.batch("top-k test");
    let out = ops::top_k(&mut batch, &x, k).unwrap();
    assert_eq!(out.shape(), &[k.min(logits.len()), 2]);
    ops::decode_top_k(&batch.submit_and_read(&out).await.unwrap())
}

/// Exact equality, values compared by bits (so −0 and +0 are told apart).
async fn check(gpu: &Gpu, what: &str, logits: &[f32], k: usize) {
    let got = gpu_top_k(gpu, logits, k).await;
    let want = reference::top_k(logits, k);
    let bits = |v: &[(u32, f32)]| v.iter().map(|&(i, x)| (i, x.to_bits())).collect::<Vec<_>>();
    assert_eq!(
        bits(&got),
        bits(&want),
        "{what}: n = {}, k = {k}\n gpu {got:?}\n ref {want:?}",
        logits.len()
    );
}

/// One workgroup's slice is 256 × items (items = ⌈n / 65536⌉): sizes around 256, 65536 (one
/// vs two elements per invocation), not a multiple of anything, and Gemma's 262,144.
const SIZES: &[usize] = &[
    1, 2, 255, 256, 257, 1000, 4099, 49152, 65537, 100_003, 262_144,
];

gpu_test!(top_k_matches_reference_on_random_logits, |gpu| {
    check_random(&gpu).await;
});

// The workgroup sizes a GPU gets (a CPU adapter gets the smallest from 64 up that fits).
gpu_test!(top_k_in_gpu_workgroups_matches_reference, |_gpu| {
    check_random(&test_gpu_with_gpu_workgroups().await).await;
});

async fn check_random(gpu: &Gpu) {
    let mut rng = Rng::new(11);
    for &n in SIZES {
        let logits = rng.vec(n, -30.0, 30.0);
        for k in [1, 5, 40, MAX_K] {
            check(gpu, "random", &logits, k).await;
        }
    }
}

gpu_test!(top_k_breaks_ties_to_the_lower_id, |gpu| {
    // All equal: the first k ids. Then a handful of levels, so every run is full of ties and
    // the k-th place falls inside a tie.
    check(&gpu, "all equal", &vec![0.25; 70_001], MAX_K).await;
    check(&gpu, "all equal", &vec![-1.0; 300], 7).await;
    let mut rng = Rng::new(12);
    for &n in &[257, 65_537, 262_144] {
        let levels: Vec<f32> = (0..n).map(|_| (rng.next_u64() % 4) as f32).collect();
        for k in [1, 33, MAX_K] {
            check(&gpu, "four levels", &levels, k).await;
        }
    }
    // −0 and +0 compare equal, so they tie and go by id; their bits must come back unchanged.
    let zeros: Vec<f32> = (0..1000u32)
        .map(|i| if i.is_multiple_of(3) { -0.0 } else { 0.0 })
        .collect();
    check(&gpu, "signed zeros", &zeros, 10).await;
});

gpu_test!(top_k_handles_negative_infinity_and_short_vectors, |gpu| {
    let inf = f32::NEG_INFINITY;
    let mut rng = Rng::new(13);
    // A few finite values among -inf: the -inf entries fill the rest, lowest ids first.
    let mut sparse = vec![inf; 100_000];
    for _ in 0..10 {
        let i = (rng.next_u64() % 100_000) as usize;
        sparse[i] = rng.uniform(-5.0, 5.0);
    }
    check(&gpu, "mostly -inf", &sparse, MAX_K).await;
    check(&gpu, "all -inf", &vec![inf; 5000], 3).await;
    // k beyond the vocabulary: every entry comes back, sorted.
    let short = [2.0, inf, -1.0, 2.0, 0.5];
    check(&gpu, "k > n", &short, MAX_K).await;
    let got = gpu_top_k(&gpu, &short, MAX_K).await;
    assert_eq!(got, vec![(0, 2.0), (3, 2.0), (4, 0.5), (2, -1.0), (1, inf)]);
    // Argmax is k = 1.
    let logits = rng.vec(49_152, -1.0, 1.0);
    let argmax = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
    assert_eq!(gpu_top_k(&gpu, &logits, 1).await[0].0, argmax as u32);
});

gpu_test!(top_k_rejects_bad_k_and_shapes, |gpu| {
    let x = gpu.upload("logits", &[1.0; 6], &[6]).unwrap();
    let m = gpu.upload("matrix", &[1.0; 6], &[2, 3]).unwrap();
    let mut batch = gpu.batch("top-k errors");
    for k in [0, MAX_K + 1] {
        let err = ops::top_k(&mut batch, &x, k).err().expect("bad k accepted");
        assert!(matches!(err, GpuError::Shape(_)), "{err}");
    }
    let err = ops::top_k(&mut batch, &m, 1)
        .err()
        .expect("matrix accepted");
    assert!(matches!(err, GpuError::Shape(_)), "{err}");
    assert_eq!(batch.dispatch_count(), 0);
    batch.submit().await.unwrap();
});
