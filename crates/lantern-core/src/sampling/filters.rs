//! The candidate list and the steps that shrink it: top-k, top-p, min-p, temperature, and the
//! draw itself.
//!
//! The list is kept in ascending token id order between steps: that order is the same however
//! a step reached its result (selection algorithms move elements around), so sums and the draw
//! walk the tokens in one canonical order and give the same bits everywhere. Ranking (by logit
//! for top-k, by probability for top-p) happens only inside a step, ties going to the lower id.

use std::cmp::Ordering;

use super::exp::exp;

/// A token still in the running. `weight` is its unnormalized probability, exp((logit − max) / T)
/// for the temperature of the step that set it; the most likely token has weight exactly 1.
#[derive(Clone, Copy, Debug)]
pub(super) struct Candidate {
    pub id: u32,
    pub logit: f32,
    pub weight: f64,
}

/// Higher logit first, then lower id. Logits here are finite, so `partial_cmp` always answers
/// (and −0 equals +0, where `total_cmp` would not).
fn by_logit(a: &Candidate, b: &Candidate) -> Ordering {
    b.logit
        .partial_cmp(&a.logit)
        .unwrap_or(Ordering::Equal)
        .then(a.id.cmp(&b.id))
}

/// Higher weight first, then lower id. Weights are finite and ≥ 0 (never −0), where the bit
/// patterns order like the values and compare faster.
fn by_weight(a: &Candidate, b: &Candidate) -> Ordering {
    (b.weight.to_bits())
        .cmp(&a.weight.to_bits())
        .then(a.id.cmp(&b.id))
}

/// The highest logit, lowest id on ties; `None` when every logit is −inf. `logits` yields
/// (id, logit) in ascending id order.
pub(super) fn argmax(logits: impl Iterator<Item = (u32, f32)>) -> Option<u32> {
    let (mut best, mut best_logit) = (0, f32::NEG_INFINITY);
    for (id, l) in logits {
        if l > best_logit {
            (best, best_logit) = (id, l);
        }
    }
    (best_logit > f32::NEG_INFINITY).then_some(best)
}

/// The tokens above −inf, in id order; with `k` > 0 only the `k` highest logits (ties to the
/// lower id). `logits` yields (id, logit) in ascending id order: a whole vocabulary, or a
/// subset of it such as the GPU's top-k candidates.
///
/// One pass with a buffer of at most 2k tokens: when it fills, a partial selection keeps the
/// best k and raises the bar the next token must clear, so with a small k almost every logit
/// costs one comparison and nothing the size of the vocabulary is written or sorted. Later
/// tokens have higher ids, so one tied with the bar loses to it: only a strictly higher logit
/// gets in.
pub(super) fn collect_top_k(
    logits: impl ExactSizeIterator<Item = (u32, f32)>,
    k: usize,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    let k = if k == 0 { logits.len().max(1) } else { k };
    let flush_at = k.saturating_mul(2);
    let (mut bar, mut selected) = (f32::NEG_INFINITY, false);
    for (id, logit) in logits {
        if logit > bar {
            out.push(Candidate {
                id,
                logit,
                weight: 0.0,
            });
            if out.len() == flush_at {
                out.select_nth_unstable_by(k - 1, by_logit);
                out.truncate(k);
                bar = out[k - 1].logit;
                selected = true;
            }
        }
    }
    if out.len() > k {
        out.select_nth_unstable_by(k - 1, by_logit);
        out.truncate(k);
        selected = true;
    }
    if selected {
        out.sort_unstable_by_key(|c| c.id);
    }
}

fn max_logit(candidates: &[Candidate]) -> f32 {
    candidates
        .iter()
        .fold(f32::NEG_INFINITY, |m, c| m.max(c.logit))
}

/// Sets each weight to exp((logit − max) / temperature) and returns their sum, added in id
/// order. Non-empty input assumed.
pub(super) fn weigh(candidates: &mut [Candidate], temperature: f32) -> f64 {
    let (max, temperature) = (f64::from(max_logit(candidates)), f64::from(temperature));
    let mut total = 0.0;
    for c in candidates.iter_mut() {
        c.weight = exp((f64::from(c.logit) - max) / temperature);
        total += c.weight;
    }
    total
}

/// Top-p, then min-p, judged at temperature 1 (weights from [`weigh`] at T = 1).
///
/// Top-p keeps the smallest set of most likely tokens whose probability reaches `top_p`;
/// min-p then drops those below `min_p` × the top probability. Both keep a prefix of the same
/// ranking, so the result is the shorter prefix, and min-p's test (weight ≥ min_p, the top
/// weight being exactly 1) does not depend on normalization. So min-p runs first here, as a
/// cheap O(n) filter, and top-p ranks only the survivors while still measuring its mass
/// against the total before min-p: the same result as llama.cpp's order, for less work.
pub(super) fn keep_top_p_and_min_p(candidates: &mut Vec<Candidate>, top_p: f32, min_p: f32) {
    let min_p = f64::from(min_p);
    if top_p < 1.0 {
        let total = weigh(candidates, 1.0);
        if min_p > 0.0 {
            candidates.retain(|c| c.weight >= min_p);
        }
        let kept = ranked_prefix_with_mass(candidates, f64::from(top_p) * total);
        candidates.truncate(kept);
        candidates.sort_unstable_by_key(|c| c.id);
    } else if min_p > 0.0 {
        // min-p alone needs no total, so most tokens need no exp either: a weight ≥ min_p
        // means logit − max ≥ ln(min_p), up to exp's error of ~1e-16. Dropping tokens 1e-6
        // below that bound first never drops one min-p keeps, and leaves the result
        // independent of the platform's `ln`.
        let max = f64::from(max_logit(candidates));
        let bound = min_p.ln() - 1e-6;
        candidates.retain(|c| f64::from(c.logit) - max >= bound);
        weigh(candidates, 1.0);
        candidates.retain(|c| c.weight >= min_p);
    }
}

/// Ranks `candidates` by weight (ties to the lower id) just far enough to find the shortest
/// prefix whose weights, added in that order, reach `mass`; returns its length (all of them if
/// the mass is never reached). A histogram of the weights tells how many tokens that takes,
/// so one partial selection and a sort of just those tokens do it.
fn ranked_prefix_with_mass(candidates: &mut [Candidate], mass: f64) -> usize {
    let ranked = top_weights_holding(candidates, mass);
    if ranked < candidates.len() {
        candidates.select_nth_unstable_by(ranked - 1, by_weight);
    }
    candidates[..ranked].sort_unstable_by(by_weight);
    let mut sum = 0.0;
    for (i, c) in candidates[..ranked].iter().enumerate() {
        sum += c.weight;
        if sum >= mass {
            return i + 1;
        }
    }
    // Not reached within the estimate (the margin below makes this unreachable in practice):
    // rank the rest too.
    candidates[ranked..].sort_unstable_by(by_weight);
    for (i, c) in candidates[ranked..].iter().enumerate() {
        sum += c.weight;
        if sum >= mass {
            return ranked + i + 1;
        }
    }
    candidates.len()
}

/// How many of the highest weights it takes to hold `mass`, rounded up to a histogram bin.
/// A weight's bin is the top bits of its distance in bits from 1.0 (about 16 bins per power of
/// two; bit patterns order non-negative floats, so bin order is weight order). Bin sums are
/// added from the top until they pass `mass` with a 1e-9 margin, far more than the
/// ≤ n·2⁻⁵³ relative rounding of either way of adding the same weights.
fn top_weights_holding(candidates: &[Candidate], mass: f64) -> usize {
    const BINS: usize = 1024; // 64 powers of two; lighter weights (< 2⁻⁶⁴) share the last bin
    let bin = |w: f64| ((1f64.to_bits().saturating_sub(w.to_bits()) >> 48) as usize).min(BINS - 1);
    let (mut sums, mut counts) = ([0f64; BINS], [0usize; BINS]);
    for c in candidates {
        let b = bin(c.weight);
        sums[b] += c.weight;
        counts[b] += 1;
    }
    let (mut sum, mut count) = (0.0, 0);
    for (s, n) in sums.iter().zip(counts) {
        sum += s;
        count += n;
        if sum >= mass * (1.0 + 1e-9) {
            return count;
        }
    }
    candidates.len()
}

/// Inverse-CDF draw: the first candidate (in id order) whose running weight sum exceeds
/// `u × total`, for `u` uniform in [0, 1). Zero-weight candidates must have been removed.
pub(super) fn draw(candidates: &[Candidate], total: f64, u: f64) -> u32 {
    let target = u * total;
    let mut sum = 0.0;
    for c in candidates {
        sum += c.weight;
        if target < sum {
            return c.id;
        }
    }
    // u × total rounded up to total: the draw belongs to the last token.
    candidates.last().map_or(0, |c| c.id)
}
