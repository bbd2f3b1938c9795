//! Logit bias and the repetition, frequency and presence penalties: edits to a few logits,
//! applied in place to the sampler's copy before any filtering.
//!
//! The arithmetic is llama.cpp's (`llama_sampler_logit_bias_apply`,
//! `llama_sampler_penalties_apply`), in f32 and in the same order, so a logit here matches the
//! logit there bit for bit.

use std::collections::VecDeque;

use super::{SamplerConfig, SamplingError};

/// Adds each bias to its token's logit. Entries for the same token add up.
pub(super) fn apply_logit_bias(
    logits: &mut [f32],
    logit_bias: &[(u32, f32)],
) -> Result<(), SamplingError> {
    for &(token, bias) in logit_bias {
        let Some(logit) = logits.get_mut(token as usize) else {
            return Err(SamplingError::BiasTokenOutOfRange {
                token,
                vocab_size: logits.len(),
            });
        };
        *logit += bias;
        // Checked at once: a later -inf entry for the same token would turn +inf into NaN.
        if *logit == f32::INFINITY {
            return Err(SamplingError::AdjustedLogitOverflow { token });
        }
    }
    Ok(())
}

/// Penalizes every token among `recent`. The repetition penalty applies once per distinct
/// token; the frequency penalty scales with its count. Tokens outside the logits (a prompt
/// token the model's output does not cover) have nothing to penalize and are skipped, as in
/// llama.cpp. `counts` is scratch space.
pub(super) fn apply_penalties(
    logits: &mut [f32],
    config: &SamplerConfig,
    recent: &VecDeque<u32>,
    counts: &mut Vec<u32>,
) -> Result<(), SamplingError> {
    let off = config.repetition_penalty == 1.0
        && config.frequency_penalty == 0.0
        && config.presence_penalty == 0.0;
    if off || recent.is_empty() {
        return Ok(());
    }
    // Sorting a copy groups equal tokens; the window is short (default 64), and this keeps the
    // result independent of any hash order.
    counts.clear();
    counts.extend(recent.iter().copied());
    counts.sort_unstable();
    for group in counts.chunk_by(|a, b| a == b) {
        let token = group[0];
        let Some(logit) = logits.get_mut(token as usize) else {
            continue;
        };
        if *logit == f32::NEG_INFINITY {
            continue; // banned stays banned (and −inf − (−inf) would be NaN)
        }
        let count = group.len() as f32;
        if *logit <= 0.0 {
            *logit *= config.repetition_penalty;
        } else {
            *logit /= config.repetition_penalty;
        }
        *logit -= count * config.frequency_penalty + config.presence_penalty;
        if *logit == f32::INFINITY {
            return Err(SamplingError::AdjustedLogitOverflow { token });
        }
    }
    Ok(())
}
