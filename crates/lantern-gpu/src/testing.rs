//! Helpers shared by the kernel tests (native and in the browser) and the self-check: seeded
//! inputs, comparisons against the CPU reference with stated tolerances, and [`gpu_test!`].

use crate::device::{Gpu, GpuOptions};

/// SplitMix64: tiny, seedable, and identical on every platform (no `rand` dependency needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }

    pub fn vec(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..len).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// How far a GPU result strayed from its reference.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    /// Largest |gpu − reference|.
    pub max_abs_error: f32,
    /// Largest error as a fraction of its element's tolerance (≤ 1 passes).
    pub worst_ratio: f32,
    pub worst_index: usize,
    pub passed: bool,
}

/// Compares element by element: |gpu − reference| ≤ tolerance(i, reference). NaN never passes.
pub fn compare(
    gpu: &[f32],
    reference: &[f32],
    tolerance: impl Fn(usize, f32) -> f32,
) -> Comparison {
    let mut result = Comparison {
        max_abs_error: 0.0,
        worst_ratio: 0.0,
        worst_index: 0,
        passed: gpu.len() == reference.len(),
    };
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let error = (g - r).abs();
        let tol = tolerance(i, r);
        let ratio = if error.is_nan() {
            f32::INFINITY
        } else if error == 0.0 {
            0.0
        } else {
            error / tol
        };
        result.max_abs_error =
            result
                .max_abs_error
                .max(if error.is_nan() { f32::INFINITY } else { error });
        if ratio > result.worst_ratio {
            result.worst_ratio = ratio;
            result.worst_index = i;
        }
    }
    result.passed &= result.worst_ratio <= 1.0;
    result
}

/// Half an f32 ulp of `x`: the rounding of an f64 reference to f32.
fn half_ulp(x: f32) -> f32 {
    x.abs() * f32::EPSILON / 2.0
}

/// Matmul tolerance: the summation error bound of [`crate::reference::matmul_error_bound`] plus
/// the rounding of the reference itself.
pub fn compare_matmul(
    gpu: &[f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Comparison {
    let reference = crate::reference::matmul(a, b, m, k, n);
    let bound = crate::reference::matmul_error_bound(a, b, m, k, n);
    compare(gpu, &reference, |i, r| {
        bound[i] + half_ulp(r) + f32::MIN_POSITIVE
    })
}

/// Softmax tolerance: WGSL's `exp` is accurate to 3 + 2|x| ulp and the row sum adds up to `cols`
/// roundings, so each output may be off by (cols + 2·max|x − max| + 8)·u relative, plus 1e-9
/// absolute for outputs that underflow.
pub fn compare_softmax(gpu: &[f32], x: &[f32], rows: usize, cols: usize) -> Comparison {
    let reference = crate::reference::softmax(x, rows, cols);
    let spread = x
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()))
        * 2.0;
    let u = f32::EPSILON / 2.0;
    let relative = (cols as f32 + 2.0 * spread + 8.0) * u;
    compare(gpu, &reference, |_, r| r.abs() * relative + 1e-9)
}

/// The device tests run on; panics with the adapter error so a missing driver is obvious.
pub async fn test_gpu() -> Gpu {
    test_gpu_with(GpuOptions::default()).await
}

/// A device whose kernels shape their workgroups as for a GPU even on a CPU adapter, so that
/// lavapipe and SwiftShader test the shapes a GPU runs too (see [`Gpu::cpu_workgroups`]).
pub async fn test_gpu_with_gpu_workgroups() -> Gpu {
    test_gpu_with(GpuOptions {
        gpu_workgroups: true,
        ..GpuOptions::default()
    })
    .await
}

/// A device whose kernels load one word at a time where they would load 16 bytes, so that
/// adapters with wide loads test SwiftShader's path too (see [`Gpu::wide_loads`]).
pub async fn test_gpu_with_word_loads() -> Gpu {
    test_gpu_with(GpuOptions {
        word_loads: true,
        ..GpuOptions::default()
    })
    .await
}

/// A device that keeps weights in textures (`true`) or storage buffers (`false`) whatever the
/// adapter would choose, so that each adapter tests both ways of reading weights (see
/// [`Gpu::weights_in_textures`]).
pub async fn test_gpu_with_weight_textures(textures: bool) -> Gpu {
    test_gpu_with(GpuOptions {
        weight_textures: Some(textures),
        ..GpuOptions::default()
    })
    .await
}

/// A device whose row reductions (RMSNorm, QK-norm) take one invocation per workgroup, as on
/// SwiftShader, so that other adapters test that path too (see [`Gpu::lone_row_reductions`]).
pub async fn test_gpu_with_lone_row_reductions() -> Gpu {
    test_gpu_with(GpuOptions {
        lone_row_reductions: Some(true),
        ..GpuOptions::default()
    })
    .await
}

async fn test_gpu_with(options: GpuOptions) -> Gpu {
    match Gpu::new(options).await {
        Ok(gpu) => gpu,
        Err(e) => panic!("GPU tests need a WebGPU adapter: {e}"),
    }
}

/// Declares a test that runs natively (`cargo test`, on lavapipe here) and in the browser
/// (`wasm-bindgen-test` in headless Chromium) from the same source. The calling crate needs
/// `pollster` (native) and `wasm-bindgen-test` (wasm32) as dev-dependencies, and
/// `wasm_bindgen_test_configure!(run_in_browser)` once per test file.
///
/// ```ignore
/// gpu_test!(adds_up, |gpu| { let t = gpu.upload("x", &[1.0], &[1]).unwrap(); /* … */ });
/// ```
#[macro_export]
macro_rules! gpu_test {
    ($name:ident, |$gpu:ident| $body:block) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            ::pollster::block_on(async {
                let $gpu = $crate::testing::test_gpu().await;
                $body
            })
        }

        #[cfg(target_arch = "wasm32")]
        #[::wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            let $gpu = $crate::testing::test_gpu().await;
            $body
        }
    };
}
