//! CPU references of the decoder-transformer ops (RMSNorm, rope, activations, residual add,
//! attention over a KV cache), written as the textbook formulas in f64, and the error bound each
//! GPU result is held to. The bounds follow the accuracy WGSL promises (`exp`: 3 + 2|x| ulp,
//! `inverseSqrt`: 2 ulp, `/`: 2.5 ulp, `+ - *`: correctly rounded) and the standard summation
//! bound γ_n = n·u / (1 − n·u) for any order of summation, u = 2⁻²⁴; each function says where its
//! terms come from.

use super::{U, gamma};
use crate::ops::{Activation, AttentionParams, Rope, RopeStyle};

/// RMSNorm over rows as wide as `weight`: `x / sqrt(mean(x²) + eps) * (w + weight_offset)`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, weight_offset: f32) -> Vec<f32> {
    let cols = weight.len();
    assert!(
        cols > 0 && x.len().is_multiple_of(cols),
        "x is not rows of {cols}"
    );
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks(cols) {
        let mean_square = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / cols as f64;
        let inv = 1.0 / (mean_square + eps as f64).sqrt();
        y.extend(
            row.iter()
                .zip(weight)
                .map(|(&v, &w)| (v as f64 * inv * (w as f64 + weight_offset as f64)) as f32),
        );
    }
    y
}

/// Relative error bound of an RMSNorm output over rows of `cols`: the sum of squares is off by
/// at most γ_cols relatively (positive terms), which the square root halves; the mean's division,
/// `+ eps`, `inverseSqrt` and the three products add 2.5 + 1 + 2 + 3 ulp, plus the reference's
/// own rounding — γ_cols/2 + 9u in all.
pub fn rms_norm_relative_bound(cols: usize) -> f32 {
    (gamma(cols) / 2.0 + 9.0 * U) as f32
}

/// `x + y` elementwise, rounded to f32 as the GPU's (correctly rounded) addition does.
pub fn add(x: &[f32], y: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), y.len());
    x.iter().zip(y).map(|(a, b)| a + b).collect()
}

/// `act(gate) * up`, or `act(gate)` without `up`.
pub fn activation(gate: &[f32], up: Option<&[f32]>, activation: Activation) -> Vec<f32> {
    if let Some(up) = up {
        assert_eq!(gate.len(), up.len());
    }
    gate.iter()
        .enumerate()
        .map(|(i, &g)| {
            let g = g as f64;
            let a = match activation {
                Activation::Silu => g / (1.0 + (-g).exp()),
                // 0.5·(1 + tanh(z)) written as 1 / (1 + exp(-2z)): the same function, but
                // 1 + tanh(z) cancels to 0 even in f64 once z < -19 (inputs below about -7).
                Activation::GeluTanh => {
                    let z = (2.0 / std::f64::consts::PI).sqrt() * (g + 0.044715 * g * g * g);
                    g / (1.0 + (-2.0 * z).exp())
                }
            };
            (a * up.map_or(1.0, |u| u[i] as f64)) as f32
        })
        .collect()
}

/// The argument `a` of the sigmoid the kernel writes the activation with (`v * sigmoid(a)`).
fn sigmoid_argument(v: f32, activation: Activation) -> f64 {
    let v = v as f64;
    match activation {
        Activation::Silu => v,
        Activation::GeluTanh => {
            2.0 * (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)
        }
    }
}

/// Error bound of each activation output. The kernel computes `v / (1 + exp(-a)) * up`: `a` is
/// off by up to 5u relatively (GELU's cube and scalings), which `exp` turns into |a|·5u, plus
/// `exp`'s own (3 + 2|a|)u; the sum, the division and the products add 5.5u. (8|a| + 12)u of
/// the result covers it with the reference's rounding; 1e-30 absolute covers the clamp of
/// `exp`'s argument at 80, where the result is below 1e-34·|v|.
pub fn activation_error_bound(
    gate: &[f32],
    up: Option<&[f32]>,
    activation: Activation,
) -> Vec<f32> {
    let reference = self::activation(gate, up, activation);
    gate.iter()
        .zip(reference)
        .map(|(&g, r)| {
            let a = sigmoid_argument(g, activation).abs();
            (r.abs() as f64 * (8.0 * a + 12.0) * U) as f32 + 1e-30
        })
        .collect()
}

/// The two indices pair `i` of a head rotates.
fn rope_pair(style: RopeStyle, i: usize, rotary_dims: usize) -> (usize, usize) {
    match style {
        RopeStyle::Normal => (2 * i, 2 * i + 1),
        RopeStyle::Neox => (i, i + rotary_dims / 2),
    }
}

/// Rope on `x` laid out [T, heads, head_dim], token `t` at position `start + t`: pair `i` turns
/// by `position * position_scale * base^(-2i / rotary_dims)` radians, all in f64.
pub fn rope(x: &[f32], heads: usize, head_dim: usize, rope: &Rope, start: usize) -> Vec<f32> {
    assert!(x.len().is_multiple_of(heads * head_dim));
    let dims = rope.rotary_dims;
    let mut y = x.to_vec();
    for (index, head) in y.chunks_mut(head_dim).enumerate() {
        let position = (start + index / heads) as f64 * rope.position_scale as f64;
        for i in 0..dims / 2 {
            let theta = position * (rope.base as f64).powf(-2.0 * i as f64 / dims as f64);
            let (sin, cos) = theta.sin_cos();
            let (a, b) = rope_pair(rope.style, i, dims);
            let (x0, x1) = (head[a] as f64, head[b] as f64);
            head[a] = (x0 * cos - x1 * sin) as f32;
            head[b] = (x0 * sin + x1 * cos) as f32;
        }
    }
    y
}

/// Error bound of each rope output: 8u·(|x0| + |x1|) of its pair, 0 for dimensions that are
/// not rotated. The kernel's angle is within 2.5u radians (the remainder's conversion to f32 and
/// the radians-per-unit constant, 3u relative of at most pi/4; the 64-bit turn fraction is exact
/// to 2⁻³² turns), its sin and cos within 2u more (Horner roundings; the series' truncation is
/// under 2e-9), and `x0·cos − x1·sin` adds a rounding per product and one for the difference.
pub fn rope_error_bound(x: &[f32], head_dim: usize, rope: &Rope) -> Vec<f32> {
    let dims = rope.rotary_dims;
    let mut bound = vec![0f32; x.len()];
    for (head, out) in x.chunks(head_dim).zip(bound.chunks_mut(head_dim)) {
        for i in 0..dims / 2 {
            let (a, b) = rope_pair(rope.style, i, dims);
            let e = (8.0 * U * (head[a].abs() as f64 + head[b].abs() as f64)) as f32
                + f32::MIN_POSITIVE;
            out[a] = e;
            out[b] = e;
        }
    }
    bound
}

/// Shapes of an attention call: `tokens` queries of `n_heads` heads starting at position `start`,
/// against keys and values of `n_kv_heads` heads (each laid out [positions, n_kv_heads, head_dim]
/// with at least `start + tokens` positions).
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub tokens: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub start: usize,
}

/// One query row's visible keys and their scores.
struct RowScores {
    first: usize,
    /// Final scores (scaled, soft-capped) of keys first ..= position, in f64.
    scores: Vec<f64>,
    /// The bound on each score's f32 error (see [`attention_error_bound`]).
    score_errors: Vec<f64>,
}

fn row_scores(
    q: &[f32],
    keys: &[f32],
    shape: &AttentionShape,
    params: &AttentionParams,
    t: usize,
    head: usize,
) -> RowScores {
    let (hd, n_kv) = (shape.head_dim, shape.n_kv_heads);
    let kv = head / (shape.n_heads / n_kv);
    let position = shape.start + t;
    let first = params
        .window
        .map_or(0, |w| (position + 1).saturating_sub(w));
    let qh = &q[(t * shape.n_heads + head) * hd..][..hd];
    let scale = params.scale as f64;
    let mut scores = Vec::new();
    let mut score_errors = Vec::new();
    for j in first..=position {
        let kj = &keys[(j * n_kv + kv) * hd..][..hd];
        let dot: f64 = qh.iter().zip(kj).map(|(&a, &b)| a as f64 * b as f64).sum();
        let abs: f64 = qh
            .iter()
            .zip(kj)
            .map(|(&a, &b)| (a as f64 * b as f64).abs())
            .sum();
        let mut s = dot * scale;
        // q·scale is rounded once, then hd fused multiply-adds.
        let mut error = gamma(hd + 1) * scale.abs() * abs;
        if let Some(cap) = params.softcap {
            let cap = cap as f64;
            s = cap * (s / cap).tanh();
            // tanh's derivative is at most 1, so the dot's error passes through; tanh itself
            // (sinh/cosh, each from exp) and the division and product add (4|s/cap| + 12)u.
            error += s.abs() * (4.0 * (s / cap).abs() + 12.0) * U;
        }
        scores.push(s);
        score_errors.push(error);
    }
    RowScores {
        first,
        scores,
        score_errors,
    }
}

fn check_attention_inputs(q: &[f32], keys: &[f32], values: &[f32], shape: &AttentionShape) {
    let s = shape;
    assert_eq!(
        q.len(),
        s.tokens * s.n_heads * s.head_dim,
        "q is not [T, heads, head_dim]"
    );
    assert!(s.n_kv_heads > 0 && s.n_heads.is_multiple_of(s.n_kv_heads));
    let needed = (s.start + s.tokens) * s.n_kv_heads * s.head_dim;
    assert!(
        keys.len() >= needed && values.len() >= needed,
        "the cache lacks positions"
    );
}

/// Causal grouped-query attention: query `t` (position `start + t`) of head `h` against keys and
/// values of kv head `h / (n_heads / n_kv_heads)` at positions `first ..= start + t`, `first` set
/// by the sliding window. Returns [T, n_heads, head_dim]; a row with no visible key gives zeros.
pub fn attention(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: &AttentionShape,
    params: &AttentionParams,
) -> Vec<f32> {
    check_attention_inputs(q, keys, values, shape);
    let (hd, n_kv) = (shape.head_dim, shape.n_kv_heads);
    let mut out = vec![0f32; q.len()];
    for t in 0..shape.tokens {
        for head in 0..shape.n_heads {
            let kv = head / (shape.n_heads / n_kv);
            let row = row_scores(q, keys, shape, params, t, head);
            let max = row.scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = row.scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = weights.iter().sum();
            let o = &mut out[(t * shape.n_heads + head) * hd..][..hd];
            for (d, o) in o.iter_mut().enumerate() {
                let acc: f64 = weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w * values[((row.first + i) * n_kv + kv) * hd + d] as f64)
                    .sum();
                *o = if sum > 0.0 { (acc / sum) as f32 } else { 0.0 };
            }
        }
    }
    out
}

/// Error bound of each attention output, for any split of the keys into tiles and chunks.
///
/// With p_j the softmax weights, n the visible keys, δ the largest score error (from
/// [`row_scores`]) and `spread` the range of the scores:
/// - each exp(s_j − m) is off by 2δ (both scores) plus (3 + 3·spread)u relatively (`exp`'s
///   3 + 2|x| ulp and the subtraction's rounding);
/// - the running-maximum rescalings multiply in factors whose exponents add up to at most
///   `spread`: (2·spread + 4·tiles)u, tiles ≤ n/32 + 2 (tiles are ≥ 32 keys);
/// - the merge weights exp(m_c − M) add (3 + 2·spread)u, and its products 4u more;
/// - sums of l and of p·v add γ_n relatively to l and to Σ p|v|.
///
/// So |Δo| ≤ Σ p_j|v_j|·(E + γ_n) + |o|·(E + γ_n + 3u) with E = 2δ + (7·spread + 4·tiles + 10)u,
/// bounded here by 2·Σ p_j|v_j|·(E + γ_n + 2u) (as |o| ≤ Σ p_j|v_j|), plus the reference's rounding.
pub fn attention_error_bound(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: &AttentionShape,
    params: &AttentionParams,
) -> Vec<f32> {
    check_attention_inputs(q, keys, values, shape);
    let (hd, n_kv) = (shape.head_dim, shape.n_kv_heads);
    let mut bound = vec![0f32; q.len()];
    for t in 0..shape.tokens {
        for head in 0..shape.n_heads {
            let kv = head / (shape.n_heads / n_kv);
            let row = row_scores(q, keys, shape, params, t, head);
            let n = row.scores.len();
            let max = row.scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let min = row.scores.iter().cloned().fold(f64::INFINITY, f64::min);
            let spread = if n == 0 { 0.0 } else { max - min };
            let delta = row.score_errors.iter().cloned().fold(0.0, f64::max);
            let tiles = (n / 32 + 2) as f64;
            let e = 2.0 * delta + (7.0 * spread + 4.0 * tiles + 10.0) * U;
            let weights: Vec<f64> = row.scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = weights.iter().sum();
            let b = &mut bound[(t * shape.n_heads + head) * hd..][..hd];
            for (d, b) in b.iter_mut().enumerate() {
                let abs: f64 = weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w * (values[((row.first + i) * n_kv + kv) * hd + d] as f64).abs())
                    .sum::<f64>()
                    / sum.max(f64::MIN_POSITIVE);
                *b = (2.0 * abs * (e + gamma(n) + 2.0 * U) + abs * U) as f32 + f32::MIN_POSITIVE;
            }
        }
    }
    bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_by_hand() {
        // mean(3², 4²) = 12.5; 1/sqrt(12.5) = 0.2828…
        let y = rms_norm(&[3.0, 4.0], &[1.0, 0.5], 0.0, 0.0);
        let inv = 1.0 / 12.5f64.sqrt();
        assert!((y[0] as f64 - 3.0 * inv).abs() < 1e-7);
        assert!((y[1] as f64 - 2.0 * inv).abs() < 1e-7);
        // An offset of 1 turns stored zeros into unit weights.
        let y = rms_norm(&[3.0, 4.0], &[0.0, 0.0], 0.0, 1.0);
        assert!((y[1] as f64 - 4.0 * inv).abs() < 1e-7);
    }

    #[test]
    fn activations_by_hand() {
        let silu = activation(&[0.0, 1.0, -30.0], None, Activation::Silu);
        assert_eq!(silu[0], 0.0);
        assert!((silu[1] - 0.731_058_6).abs() < 1e-6);
        assert!(silu[2].abs() < 1e-11);
        // GELU-tanh(1) = 0.841192, gated by up = 2.
        let gelu = activation(&[1.0], Some(&[2.0]), Activation::GeluTanh);
        assert!((gelu[0] - 2.0 * 0.841_192).abs() < 1e-5, "{gelu:?}");
    }

    #[test]
    fn rope_turns_pairs_by_position() {
        // Position 1, base 10000, 4 dims: pair 0 turns by 1 radian, pair 1 by 0.01.
        let normal = rope(
            &[1.0, 0.0, 1.0, 0.0],
            1,
            4,
            &Rope::new(RopeStyle::Normal, 4, 1e4),
            1,
        );
        let want = [1f64.cos(), 1f64.sin(), 0.01f64.cos(), 0.01f64.sin()];
        for (g, w) in normal.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-7);
        }
        let neox = rope(
            &[1.0, 1.0, 0.0, 0.0],
            1,
            4,
            &Rope::new(RopeStyle::Neox, 4, 1e4),
            1,
        );
        let want = [1f64.cos(), 0.01f64.cos(), 1f64.sin(), 0.01f64.sin()];
        for (g, w) in neox.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-7);
        }
    }

    #[test]
    fn attention_by_hand() {
        // One head, two positions; the second query sees both keys with scores 0 and ln 3, so
        // weights 1/4 and 3/4. The first query sees only the first value.
        let shape = AttentionShape {
            tokens: 2,
            n_heads: 1,
            n_kv_heads: 1,
            head_dim: 1,
            start: 0,
        };
        let params = AttentionParams::new(1.0);
        let keys = [0.0, 1.0];
        let values = [4.0, 8.0];
        let q = [5.0, 3f32.ln()];
        let out = attention(&q, &keys, &values, &shape, &params);
        assert_eq!(out[0], 4.0);
        assert!((out[1] - 7.0).abs() < 1e-6, "{out:?}");
        // A window of one position: each query sees only itself.
        let windowed = AttentionParams {
            window: Some(1),
            ..params
        };
        assert_eq!(
            attention(&q, &keys, &values, &shape, &windowed),
            vec![4.0, 8.0]
        );
    }
}
