//! [`Sampler`]: the configured chain, its random stream and its window of recent tokens.

use std::collections::VecDeque;

use super::filters::{self, Candidate};
use super::penalties::{apply_logit_bias, apply_penalties};
use super::rng::Xoshiro256StarStar;
use super::{SamplerConfig, SamplingError};

/// A token and the probability the sampler would draw it with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenProb {
    pub token: u32,
    pub prob: f64,
}

/// Picks tokens from logits with one [`SamplerConfig`]; see the [module docs](super) for the
/// order of the steps.
///
/// ```
/// use lantern_core::sampling::{Sampler, SamplerConfig};
/// let mut sampler = Sampler::new(SamplerConfig { seed: 7, ..SamplerConfig::default() })?;
/// sampler.accept_all(&[1, 2, 3]); // the prompt, so penalties see it
/// let logits = [0.5, 2.0, -1.0, 1.5];
/// let token = sampler.sample(&logits)?;
/// sampler.accept(token);
/// # Ok::<(), lantern_core::sampling::SamplingError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sampler {
    config: SamplerConfig,
    rng: Xoshiro256StarStar,
    /// The last `penalty_last_n` accepted tokens, oldest first.
    recent: VecDeque<u32>,
    // Scratch kept between calls, so sampling allocates nothing after the first token.
    adjusted: Vec<f32>,
    candidates: Vec<Candidate>,
    /// [`Sampler::sample_top_k`]'s candidates in id order.
    by_id: Vec<(u32, f32)>,
    counts: Vec<u32>,
}

/// What [`Sampler::prepare`] left to do.
enum Prepared {
    /// Greedy: the answer, no randomness needed.
    Token(u32),
    /// `candidates` holds the final distribution (id order, positive weights) and its sum.
    Draw { total: f64 },
}

impl Sampler {
    /// Validates `config` and seeds the random stream from `config.seed`.
    pub fn new(config: SamplerConfig) -> Result<Self, SamplingError> {
        config.validate()?;
        Ok(Sampler {
            rng: Xoshiro256StarStar::seed_from_u64(config.seed),
            recent: VecDeque::with_capacity(config.penalty_last_n.min(4096)),
            config,
            adjusted: Vec::new(),
            candidates: Vec::new(),
            by_id: Vec::new(),
            counts: Vec::new(),
        })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// Picks the next token. Does not record it: call [`accept`](Self::accept) with the token
    /// actually used (as llama.cpp's `common_sampler_accept`), so the penalties see it.
    ///
    /// With temperature > 0 every call takes exactly one value from the random stream (even
    /// when a single candidate is left), so a seed fixes the whole sequence; greedy takes none.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, SamplingError> {
        let prepared = self.prepare(logits)?;
        Ok(self.finish(prepared))
    }

    /// How many of the highest logits [`sample_top_k`](Self::sample_top_k) needs to give
    /// exactly what [`sample`](Self::sample) would: 1 when greedy, `top_k` with a top-k filter;
    /// `None` when it needs the full logits (logit bias or penalties on, or no top-k filter).
    pub fn top_k_candidates(&self) -> Option<usize> {
        let c = &self.config;
        let penalties_off = c.penalty_last_n == 0
            || (c.repetition_penalty == 1.0
                && c.frequency_penalty == 0.0
                && c.presence_penalty == 0.0);
        if !c.logit_bias.is_empty() || !penalties_off {
            None
        } else if c.temperature == 0.0 {
            Some(1)
        } else {
            (c.top_k > 0).then_some(c.top_k)
        }
    }

    /// [`sample`](Self::sample) from only the highest logits: `candidates` are (id, logit)
    /// pairs, in any order, holding at least the [`top_k_candidates`](Self::top_k_candidates)
    /// highest logits of the full vector (ties to the lower id), as `lantern_gpu::ops::top_k`
    /// returns them. Gives the same token, and takes the same value from the random stream, as
    /// `sample` on the full logits. An error when the settings need the full logits, or too
    /// few candidates are given.
    ///
    /// Every step after logit bias and penalties only ever looks at the top-k tokens, which is
    /// why those two must be off. Unlike `sample`, only the candidates are checked for NaN and
    /// +inf.
    pub fn sample_top_k(&mut self, candidates: &[(u32, f32)]) -> Result<u32, SamplingError> {
        let needed = self.top_k_candidates().ok_or_else(|| {
            SamplingError::CandidatesUnsupported(
                "logit bias, penalties or the absence of a top-k filter need the full logits"
                    .into(),
            )
        })?;
        if candidates.is_empty() {
            return Err(SamplingError::EmptyLogits);
        }
        if candidates.len() < needed {
            return Err(SamplingError::CandidatesUnsupported(format!(
                "top_k = {needed} needs at least {needed} candidates, got {}",
                candidates.len()
            )));
        }
        if let Some(&(token, value)) = candidates
            .iter()
            .find(|&&(_, l)| l.is_nan() || l == f32::INFINITY)
        {
            return Err(SamplingError::InvalidLogit { token, value });
        }
        // The steps walk tokens in id order (ties go to the lower id); then they are the same
        // steps as for the full logits.
        self.by_id.clear();
        self.by_id.extend_from_slice(candidates);
        self.by_id.sort_unstable_by_key(|&(id, _)| id);
        let prepared = select(
            &self.config,
            self.by_id.iter().copied(),
            candidates.len(),
            &mut self.candidates,
        )?;
        Ok(self.finish(prepared))
    }

    /// The draw, when [`prepare`](Self::prepare) left one to do.
    fn finish(&mut self, prepared: Prepared) -> u32 {
        match prepared {
            Prepared::Token(token) => token,
            Prepared::Draw { total } => {
                let u = self.rng.next_f64();
                filters::draw(&self.candidates, total, u)
            }
        }
    }

    /// The distribution [`sample`](Self::sample) would draw from for these logits: the tokens
    /// that survive every step, in ascending id order, with probabilities summing to 1 (a
    /// single token with probability 1 when greedy). Takes nothing from the random stream.
    pub fn distribution(&mut self, logits: &[f32]) -> Result<Vec<TokenProb>, SamplingError> {
        Ok(match self.prepare(logits)? {
            Prepared::Token(token) => vec![TokenProb { token, prob: 1.0 }],
            Prepared::Draw { total } => self
                .candidates
                .iter()
                .map(|c| TokenProb {
                    token: c.id,
                    prob: c.weight / total,
                })
                .collect(),
        })
    }

    /// Records a token as generated (or part of the prompt) for the penalties' window.
    pub fn accept(&mut self, token: u32) {
        let window = self.config.penalty_last_n;
        if window == 0 {
            return;
        }
        if self.recent.len() == window {
            self.recent.pop_front();
        }
        self.recent.push_back(token);
    }

    /// [`accept`](Self::accept) for each token in order, e.g. the prompt.
    pub fn accept_all(&mut self, tokens: &[u32]) {
        for &token in tokens {
            self.accept(token);
        }
    }

    /// The tokens the penalties currently look at, oldest first.
    pub fn recent_tokens(&self) -> impl Iterator<Item = u32> + '_ {
        self.recent.iter().copied()
    }

    /// Forgets the recent tokens and restarts the random stream from the seed, for a new
    /// conversation that should replay exactly.
    pub fn reset(&mut self) {
        self.recent.clear();
        self.rng = Xoshiro256StarStar::seed_from_u64(self.config.seed);
    }

    /// Runs every step except the draw.
    fn prepare(&mut self, logits: &[f32]) -> Result<Prepared, SamplingError> {
        if logits.is_empty() {
            return Err(SamplingError::EmptyLogits);
        }
        if u32::try_from(logits.len()).is_err() {
            return Err(SamplingError::VocabTooLarge(logits.len()));
        }
        if let Some((token, &value)) = logits
            .iter()
            .enumerate()
            .find(|&(_, &l)| l.is_nan() || l == f32::INFINITY)
        {
            return Err(SamplingError::InvalidLogit {
                token: token as u32,
                value,
            });
        }
        // Steps 1–2 on a copy: logit bias, then penalties.
        let config = &self.config;
        let adjusted = &mut self.adjusted;
        adjusted.clear();
        adjusted.extend_from_slice(logits);
        apply_logit_bias(adjusted, &config.logit_bias)?;
        apply_penalties(adjusted, config, &self.recent, &mut self.counts)?;
        let adjusted = adjusted.iter().enumerate().map(|(i, &l)| (i as u32, l));
        select(config, adjusted, logits.len(), &mut self.candidates)
    }
}

/// Steps 3–7 on the adjusted logits, given as (id, logit) in ascending id order: all of them,
/// or the highest ones when those are all the steps can keep.
fn select(
    config: &SamplerConfig,
    logits: impl ExactSizeIterator<Item = (u32, f32)>,
    vocab_size: usize,
    candidates: &mut Vec<Candidate>,
) -> Result<Prepared, SamplingError> {
    let banned = || SamplingError::AllTokensBanned { vocab_size };
    // Step 3.
    if config.temperature == 0.0 {
        return filters::argmax(logits)
            .map(Prepared::Token)
            .ok_or_else(banned);
    }

    // Steps 4–7.
    filters::collect_top_k(logits, config.top_k, candidates);
    if candidates.is_empty() {
        return Err(banned());
    }
    filters::keep_top_p_and_min_p(candidates, config.top_p, config.min_p);
    let total = filters::weigh(candidates, config.temperature);
    // A low temperature can underflow unlikely tokens to weight 0; they can never be drawn.
    candidates.retain(|c| c.weight > 0.0);
    Ok(Prepared::Draw { total })
}
