//! The reference's arithmetic: textbook formulas, accumulated in f64.

use lantern_core::config::{Activation, RopeStyle};

pub(super) fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// `x / sqrt(mean(x²) + eps) * w`.
pub(super) fn rms_norm(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let mean_square = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64;
    let inv = 1.0 / (mean_square + eps as f64).sqrt();
    x.iter()
        .zip(w)
        .map(|(&v, &g)| (v as f64 * inv * g as f64) as f32)
        .collect()
}

/// Rotates the first `dims` values of one head by `position × base^(-2i/dims)`. `Normal` pairs
/// adjacent values, `Neox` pairs value `i` with value `i + dims/2`.
pub(super) fn rope(head: &mut [f32], dims: usize, base: f32, position: f64, style: RopeStyle) {
    let half = dims / 2;
    for i in 0..half {
        let theta = position * (base as f64).powf(-2.0 * i as f64 / dims as f64);
        let (sin, cos) = theta.sin_cos();
        let (a, b) = match style {
            RopeStyle::Normal => (2 * i, 2 * i + 1),
            RopeStyle::Neox => (i, i + half),
        };
        let (x0, x1) = (head[a] as f64, head[b] as f64);
        head[a] = (x0 * cos - x1 * sin) as f32;
        head[b] = (x0 * sin + x1 * cos) as f32;
    }
}

pub(super) fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

pub(super) fn activate(activation: Activation, x: f32) -> f32 {
    let x = x as f64;
    let y = match activation {
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::GeluTanh => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
        Activation::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
    };
    y as f32
}

/// Abramowitz–Stegun 7.1.26 would be too coarse for a reference; this is the series/continued
/// fraction pair, accurate to ~1e-15.
fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        // Maclaurin series: erf(x) = 2/sqrt(pi) Σ (-1)^n x^(2n+1) / (n! (2n+1)).
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc, evaluated bottom-up.
        let ax = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        let erfc = (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f);
        (1.0 - erfc).copysign(x)
    }
}

pub(super) fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Index of the largest value; the lowest index on ties.
pub(super) fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Values from tables (erf(0.5), erf(1), erf(2), erf(3)).
        for (x, want) in [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
        ] {
            assert!((erf(x) - want).abs() < 1e-13, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-13);
        }
    }

    #[test]
    fn rope_rotates_pairs_by_position() {
        // Position 1, base 10000, 4 dims: pair 0 turns by 1 radian, pair 1 by 0.01.
        let mut normal = [1.0, 0.0, 1.0, 0.0];
        rope(&mut normal, 4, 10000.0, 1.0, RopeStyle::Normal);
        let want = [1f64.cos(), 1f64.sin(), 0.01f64.cos(), 0.01f64.sin()];
        for (g, w) in normal.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6);
        }
        let mut neox = [1.0, 1.0, 0.0, 0.0];
        rope(&mut neox, 4, 10000.0, 1.0, RopeStyle::Neox);
        let want = [1f64.cos(), 0.01f64.cos(), 1f64.sin(), 0.01f64.sin()];
        for (g, w) in neox.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6);
        }
    }
}
