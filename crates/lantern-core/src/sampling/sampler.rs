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
        match self.prepare(logits)? {
            Prepared::Token(token) => Ok(token),
            Prepared::Draw { total } => {
                let u = self.rng.next_f64();
                Ok(filters::draw(&self.candidates, total, u))
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

        let banned = || SamplingError::AllTokensBanned {
            vocab_size: logits.len(),
        };
        // Step 3.
        if config.temperature == 0.0 {
            return filters::argmax(adjusted)
                .map(Prepared::Token)
                .ok_or_else(banned);
        }

        // Steps 4–7.
        let candidates = &mut self.candidates;
        filters::collect_top_k(adjusted, config.top_k, candidates);
        if candidates.is_empty() {
            return Err(banned());
        }
        filters::keep_top_p_and_min_p(candidates, config.top_p, config.min_p);
        let total = filters::weigh(candidates, config.temperature);
        // A low temperature can underflow unlikely tokens to weight 0; they can never be drawn.
        candidates.retain(|c| c.weight > 0.0);
        Ok(Prepared::Draw { total })
    }
}
