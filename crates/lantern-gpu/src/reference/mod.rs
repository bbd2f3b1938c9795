//! CPU references for every GPU op: plain, obviously-correct code in f64 that the kernel tests
//! (natively and in the browser) and the self-check compare against. Keep these simple; speed is
//! not their job.

pub mod embedding;
pub mod quant;
pub mod top_k;
pub mod transformer;

pub use top_k::top_k;

/// Unit roundoff of f32.
pub(crate) const U: f64 = f32::EPSILON as f64 / 2.0;

/// Relative error bound of summing `n` terms in f32 in any order: γ_n = n·u / (1 − n·u).
pub(crate) fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    nu / (1.0 - nu)
}

/// C[M,N] = A[M,K]·B[K,N], row-major, accumulated in f64.
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert_eq!(a.len(), m * k, "A is not {m}×{k}");
    assert_eq!(b.len(), k * n, "B is not {k}×{n}");
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let sum: f64 = (0..k)
                .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                .sum();
            c[i * n + j] = sum as f32;
        }
    }
    c
}

/// The f32 rounding-error bound of each element of A·B: γ_K · Σ_p |A[i,p]·B[p,j]| with
/// γ_K = K·u/(1−K·u), u = 2⁻²⁴ — the standard bound for any summation order, so tiling and
/// fused multiply-adds on the GPU stay inside it while a wrong index does not.
pub fn matmul_error_bound(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let gamma = gamma(k);
    let mut bound = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let abs: f64 = (0..k)
                .map(|p| (a[i * k + p] as f64 * b[p * n + j] as f64).abs())
                .sum();
            bound[i * n + j] = (gamma * abs) as f32;
        }
    }
    bound
}

/// Row-wise softmax of a [rows, cols] matrix; a row that is entirely -inf gives zeros.
pub fn softmax(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(x.len(), rows * cols, "x is not {rows}×{cols}");
    let mut y = vec![0f32; rows * cols];
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        if max == f64::NEG_INFINITY {
            continue;
        }
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        for (out, &v) in y[r * cols..(r + 1) * cols].iter_mut().zip(row) {
            *out = ((v as f64 - max).exp() / sum) as f32;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_by_hand() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let c = matmul(
            &[1., 2., 3., 4., 5., 6.],
            &[7., 8., 9., 10., 11., 12.],
            2,
            3,
            2,
        );
        assert_eq!(c, vec![58., 64., 139., 154.]);
    }

    #[test]
    fn softmax_by_hand() {
        let y = softmax(
            &[
                0.0,
                2f32.ln(),
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
                f32::NEG_INFINITY,
            ],
            2,
            3,
        );
        assert!((y[0] - 1.0 / 3.0).abs() < 1e-7 && (y[1] - 2.0 / 3.0).abs() < 1e-7 && y[2] == 0.0);
        assert_eq!(&y[3..], &[0.0, 0.0, 0.0]);
    }
}
