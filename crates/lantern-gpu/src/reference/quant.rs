//! CPU side of the quantized-kernel tests: seeded GGUF blocks, and the f64 reference of
//! Y = X·Wᵀ with its tolerance.
//!
//! The dequantized weights themselves come from lantern-core's `quant::dequantize` (bit-exact
//! with ggml), which the tests use as a dev-dependency; lantern-gpu does not depend on
//! lantern-core, so the functions here take weights already dequantized.

use crate::kernel::Precision;
use crate::quant::{UNIT_LEN, WeightFormat};
use crate::testing::{Comparison, Rng, compare, compare_matmul};

/// `blocks` random blocks of `format` in GGUF layout. Quants are uniformly random bytes (every bit
/// pattern occurs); f16 scales are normal numbers of either sign between 2⁻⁹ and 2⁻² (no zero,
/// subnormal, inf or NaN), sub-block scales random bytes. F32 and F16 values lie in (-2, 2).
pub fn random_blocks(format: WeightFormat, blocks: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks * format.gguf_block_bytes());
    for _ in 0..blocks {
        let start = out.len();
        out.extend((0..format.gguf_block_bytes()).map(|_| rng.next_u64() as u8));
        let block = &mut out[start..];
        let put_scale = |block: &mut [u8], at: usize, rng: &mut Rng| {
            block[at..at + 2].copy_from_slice(&f16_bits(rng, 6, 13).to_le_bytes());
        };
        match format {
            WeightFormat::F32 => {
                for v in block.chunks_exact_mut(4) {
                    v.copy_from_slice(&rng.uniform(-2.0, 2.0).to_le_bytes());
                }
            }
            WeightFormat::F16 => {
                for v in block.chunks_exact_mut(2) {
                    v.copy_from_slice(&f16_bits(rng, 1, 15).to_le_bytes());
                }
            }
            // d first
            WeightFormat::Q8_0 | WeightFormat::Q4_0 | WeightFormat::Q5_0 => {
                put_scale(block, 0, rng)
            }
            // d and m (Q4_1), d and dmin (Q4_K)
            WeightFormat::Q4_1 | WeightFormat::Q4_K => {
                put_scale(block, 0, rng);
                put_scale(block, 2, rng);
            }
            // d last
            WeightFormat::Q6_K => put_scale(block, 208, rng),
        }
    }
    out
}

/// A random f16 with biased exponent in `min_exp..=max_exp` (1..=30 are the normal numbers), as
/// bits: sign and mantissa uniform.
fn f16_bits(rng: &mut Rng, min_exp: u16, max_exp: u16) -> u16 {
    let r = rng.next_u64();
    let exponent = min_exp + (r % u64::from(max_exp - min_exp + 1)) as u16;
    let mantissa = ((r >> 16) & 0x3ff) as u16;
    let sign = ((r >> 32) & 1) as u16;
    (sign << 15) | (exponent << 10) | mantissa
}

/// Wᵀ of a row-major `rows`×`cols` W.
pub fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(w.len(), rows * cols, "W is not {rows}×{cols}");
    let mut t = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Compares a GPU Y = X·Wᵀ (X `m`×`k`, W `n`×`k` dequantized) with the f64 reference.
///
/// Tolerance: the GPU decodes every weight to exactly the f32 value ggml's dequantizer gives (see
/// `kernels/quant_blocks.wgsl`), so the only error is the f32 accumulation of k products, in
/// whatever order the kernel sums them: γ_k·Σ|x·w| with γ_k = k·u/(1−k·u), u = 2⁻²⁴, plus half
/// an ulp for rounding the reference to f32 — the bound of [`crate::testing::compare_matmul`].
/// A wrong nibble, scale or index is off by at least one weight's contribution, far outside it.
pub fn compare_matmul_wt(
    gpu: &[f32],
    x: &[f32],
    w: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Comparison {
    compare_matmul(gpu, x, &transpose(w, n, k), m, k, n)
}

/// Compares a GPU Y = X·Wᵀ computed with `kernel::Precision::F16` with the f64 reference.
/// `f16_run` is the most products the kernel sums in f16 before adding to f32 (4 for
/// `quant_matvec`, the tiling's `tile_k` for `quant_matmul`).
///
/// Tolerance, with u = 2⁻¹¹ (f16) and M the largest |w| of the 32-value unit a weight lies in:
/// decoding rounds q·d, the sub-block scale and the offset m to f16 (≤ 6u·M, taking |m| ≤ M,
/// which holds whenever the unit's smallest quant occurs — for random nibbles all but surely),
/// rounding x costs u·|x|·M, and a run of r products summed in f16 γ_r ≈ r·u of Σ|x|·M; so each
/// product may be off by (r + 8)·u·|x|·M, on top of the f32 bound of [`compare_matmul_wt`]. A
/// wrong nibble, scale or index is still off by a whole weight's contribution, ~100× more.
pub fn compare_matmul_wt_f16(
    gpu: &[f32],
    x: &[f32],
    w: &[f32],
    (m, k, n): (usize, usize, usize),
    f16_run: usize,
) -> Comparison {
    let wt = transpose(w, n, k);
    let reference = crate::reference::matmul(x, &wt, m, k, n);
    let f32_bound = crate::reference::matmul_error_bound(x, &wt, m, k, n);
    let unit_max: Vec<f64> = w
        .chunks(UNIT_LEN)
        .map(|unit| unit.iter().fold(0f64, |a, &v| a.max(f64::from(v).abs())))
        .collect();
    // f16's unit roundoff, 2⁻¹¹.
    let per_product = (f16_run as f64 + 8.0) / 2048.0;
    compare(gpu, &reference, |i, r| {
        let (row, col) = (i / n, i % n);
        let magnitude: f64 = (0..k)
            .map(|c| f64::from(x[row * k + c]).abs() * unit_max[(col * k + c) / UNIT_LEN])
            .sum();
        f32_bound[i] + (per_product * magnitude) as f32 + r.abs() * f32::EPSILON + f32::MIN_POSITIVE
    })
}

/// The steepest slope of either activation (SiLU's is at most 1.0998, GELU-tanh's 1.1290): how
/// much an error in a gate value can grow through `act`.
const ACTIVATION_SLOPE: f64 = 1.13;

/// Compares a GPU `act(gate) · up` (`[m, n/2]`) with the f64 reference, where gate and up are the
/// two halves of Y = X·Wᵀ (X `m`×`k`, W `n`×`k` dequantized, its first n/2 rows the gate's).
///
/// Tolerance: the gate and up values carry the f32 bound of [`compare_matmul_wt`] (e_g, e_u);
/// through the product an error in up counts |act(g)| times, one in the gate at most
/// [`ACTIVATION_SLOPE`]·(|u| + e_u) times; the activation's own arithmetic adds the bound of
/// [`crate::reference::transformer::activation_error_bound`].
pub fn compare_gated_matmul_wt(
    gpu: &[f32],
    x: &[f32],
    w: &[f32],
    dims: (usize, usize, usize),
    activation: crate::ops::Activation,
) -> Comparison {
    compare_gated_matmul_wt_of_inexact_x(gpu, x, 0.0, w, dims, activation)
}

/// [`compare_gated_matmul_wt`] where the GPU's x may differ from `x` by `x_error` relatively
/// (a normed input: see [`normed_input`]).
fn compare_gated_matmul_wt_of_inexact_x(
    gpu: &[f32],
    x: &[f32],
    x_error: f64,
    w: &[f32],
    (m, k, n): (usize, usize, usize),
    activation: crate::ops::Activation,
) -> Comparison {
    use crate::reference::transformer::{activation as act, activation_error_bound};
    let wt = transpose(w, n, k);
    let y = crate::reference::matmul(x, &wt, m, k, n);
    let y_bound = inexact_x_bound(x, &wt, x_error, (m, k, n));
    let half = n / 2;
    // Each row of Y (or of its bound) split into its gate and up halves.
    let halves = |v: &[f32]| -> (Vec<f32>, Vec<f32>) {
        let gate = v.chunks(n).flat_map(|row| &row[..half]).copied().collect();
        let up = v.chunks(n).flat_map(|row| &row[half..]).copied().collect();
        (gate, up)
    };
    let (gate, up) = halves(&y);
    let (gate_bound, up_bound) = halves(&y_bound);
    let reference = act(&gate, Some(&up), activation);
    let activation_bound = activation_error_bound(&gate, Some(&up), activation);
    let gate_act = act(&gate, None, activation);
    compare(gpu, &reference, |i, _| {
        let (e_g, e_u) = (f64::from(gate_bound[i]), f64::from(up_bound[i]));
        let through_gate = ACTIVATION_SLOPE * e_g * (f64::from(up[i]).abs() + e_u);
        let through_up = f64::from(gate_act[i]).abs() * e_u;
        (through_gate + through_up) as f32 + activation_bound[i] + f32::MIN_POSITIVE
    })
}

/// The f32 bound of each element of X·Wᵀ ([`crate::reference::matmul_error_bound`]: γ_k·Σ|x·w|)
/// where each x may also be off by `x_error` relatively: (γ_k + x_error)·Σ|x·w|.
fn inexact_x_bound(
    x: &[f32],
    wt: &[f32],
    x_error: f64,
    (m, k, n): (usize, usize, usize),
) -> Vec<f32> {
    let scale = (1.0 + x_error / crate::reference::gamma(k)) as f32;
    let bound = crate::reference::matmul_error_bound(x, wt, m, k, n);
    bound.into_iter().map(|b| b * scale).collect()
}

/// The input of a product of a normed x ([`crate::ops::Product::normed`]): each row of `x`
/// through the f64 RMSNorm, rounded to f32, and how far relatively the GPU's may be from it.
///
/// Tolerance: the norm kernel's own bound ([`rms_norm_relative_bound`]), which covers the fused
/// path's too (it sums the same squares, and scales each product's sum once rather than each
/// value: one rounding moved, not added), plus 2 ulp for the fused path's rounding of
/// `x · (weight + offset)` before the product and of the sum times the scale after it.
///
/// [`rms_norm_relative_bound`]: crate::reference::transformer::rms_norm_relative_bound
pub fn normed_input(x: &[f32], weight: &[f32], norm: crate::ops::RmsNorm) -> (Vec<f32>, f64) {
    use crate::reference::transformer::{rms_norm, rms_norm_relative_bound};
    let normed = rms_norm(x, weight, norm.eps, norm.weight_offset);
    let x_error = f64::from(rms_norm_relative_bound(weight.len())) + 2.0 * crate::reference::U;
    (normed, x_error)
}

/// Compares a GPU product of a normed x ([`crate::ops::Product::normed`], `gated` or not) with
/// the f64 reference: the product's bound ([`compare_matmul_wt`], [`compare_gated_matmul_wt`])
/// with each value of x off by [`normed_input`]'s relative error.
pub fn compare_normed_matmul_wt(
    gpu: &[f32],
    x: &[f32],
    norm_weight: &[f32],
    norm: crate::ops::RmsNorm,
    w: &[f32],
    (m, k, n): (usize, usize, usize),
    gated: Option<crate::ops::Activation>,
) -> Comparison {
    let (normed, x_error) = normed_input(x, norm_weight, norm);
    if let Some(activation) = gated {
        return compare_gated_matmul_wt_of_inexact_x(
            gpu,
            &normed,
            x_error,
            w,
            (m, k, n),
            activation,
        );
    }
    let wt = transpose(w, n, k);
    let reference = crate::reference::matmul(&normed, &wt, m, k, n);
    let bound = inexact_x_bound(&normed, &wt, x_error, (m, k, n));
    compare(gpu, &reference, |i, r| {
        bound[i] + r.abs() * f32::EPSILON + f32::MIN_POSITIVE
    })
}

/// Compares a GPU `residual + X·Wᵀ` ([`crate::ops::Product::add_into`]) with the f64 reference:
/// the product's bound ([`compare_matmul_wt`]) plus the f32 addition's rounding, half an ulp of
/// the sum, and half an ulp for rounding the reference.
pub fn compare_added_matmul_wt(
    gpu: &[f32],
    residual: &[f32],
    x: &[f32],
    w: &[f32],
    (m, k, n): (usize, usize, usize),
) -> Comparison {
    let wt = transpose(w, n, k);
    let y = crate::reference::matmul(x, &wt, m, k, n);
    let bound = crate::reference::matmul_error_bound(x, &wt, m, k, n);
    let reference: Vec<f32> = residual
        .iter()
        .zip(&y)
        .map(|(&r, &y)| (f64::from(r) + f64::from(y)) as f32)
        .collect();
    compare(gpu, &reference, |i, r| {
        bound[i] + r.abs() * f32::EPSILON + f32::MIN_POSITIVE
    })
}

/// The comparison for a product computed in `precision`: [`compare_matmul_wt`] for f32,
/// [`compare_matmul_wt_f16`] (with `f16_run`) for f16.
pub fn compare_matmul_wt_in(
    precision: Precision,
    gpu: &[f32],
    x: &[f32],
    w: &[f32],
    (m, k, n): (usize, usize, usize),
    f16_run: usize,
) -> Comparison {
    match precision {
        Precision::F32 => compare_matmul_wt(gpu, x, w, m, k, n),
        Precision::F16 => compare_matmul_wt_f16(gpu, x, w, (m, k, n), f16_run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_normal_f16() {
        let mut rng = Rng::new(9);
        for _ in 0..1000 {
            let bits = f16_bits(&mut rng, 6, 13);
            let exponent = (bits >> 10) & 0x1f;
            assert!((6..=13).contains(&exponent), "{bits:#06x}");
        }
        let blocks = random_blocks(WeightFormat::Q6_K, 3, &mut rng);
        assert_eq!(blocks.len(), 3 * 210);
    }

    #[test]
    fn transpose_by_hand() {
        assert_eq!(
            transpose(&[1., 2., 3., 4., 5., 6.], 2, 3),
            vec![1., 4., 2., 5., 3., 6.]
        );
    }
}
