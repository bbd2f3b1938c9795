//! Sampler settings, their defaults and their validation.

use super::SamplingError;

/// How to pick the next token. Each setting has a value that turns its step off; the defaults
/// are llama.cpp's (`common_params_sampling`), which people tune GGUF models against.
///
/// ```
/// use lantern_core::sampling::SamplerConfig;
/// let config = SamplerConfig { temperature: 0.7, top_k: 0, seed: 42, ..SamplerConfig::default() };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// Divides the logits before the draw: below 1 sharpens, above 1 flattens. 0 means greedy
    /// (always the most likely token, no randomness). Finite, ≥ 0. Default 0.8.
    pub temperature: f32,
    /// Keep only the k highest logits; 0 (or ≥ the vocabulary) keeps all. Default 40.
    pub top_k: usize,
    /// Nucleus: keep the most likely tokens until their probability reaches top_p. In (0, 1];
    /// 1 keeps all. Default 0.95.
    pub top_p: f32,
    /// Drop tokens less likely than min_p × the most likely one. In [0, 1]; 0 keeps all.
    /// Default 0.05.
    pub min_p: f32,
    /// CTRL / Hugging Face / llama.cpp repetition penalty for tokens among the last
    /// `penalty_last_n`: positive logits are divided by it, negative ones multiplied, so > 1
    /// always makes a repeat less likely. Finite, > 0; 1 is off. Default 1 (off).
    pub repetition_penalty: f32,
    /// OpenAI frequency penalty: subtract this × the token's count among the last
    /// `penalty_last_n`. Finite; 0 is off; negative values encourage repeats. Default 0.
    pub frequency_penalty: f32,
    /// OpenAI presence penalty: subtract this once from every token among the last
    /// `penalty_last_n`. Finite; 0 is off. Default 0.
    pub presence_penalty: f32,
    /// How many recently accepted tokens the three penalties look at; 0 turns them off.
    /// Default 64.
    pub penalty_last_n: usize,
    /// Added to a token's logit before anything else; `f32::NEG_INFINITY` bans the token.
    /// Entries for the same token add up. Not NaN, not +inf. Default empty.
    pub logit_bias: Vec<(u32, f32)>,
    /// Seeds the random stream. Lantern has no entropy source of its own (none exists in wasm
    /// without JavaScript), so the default is a fixed 0: callers wanting different text on each
    /// run pass a fresh seed (e.g. from `crypto.getRandomValues`).
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            logit_bias: Vec::new(),
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Always the most likely token (after logit bias and penalties): temperature 0.
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            ..SamplerConfig::default()
        }
    }

    /// Checks every setting against its documented range. NaN fails every check.
    pub fn validate(&self) -> Result<(), SamplingError> {
        let check = |ok: bool, setting: &'static str, value: f32, rule: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(SamplingError::InvalidConfig {
                    setting,
                    value: value.to_string(),
                    rule,
                })
            }
        };
        let t = self.temperature;
        check(
            t.is_finite() && t >= 0.0,
            "temperature",
            t,
            "must be a finite number >= 0 (0 = greedy)",
        )?;
        let p = self.top_p;
        check(
            p > 0.0 && p <= 1.0,
            "top_p",
            p,
            "must be in (0, 1] (1 = off)",
        )?;
        let m = self.min_p;
        check(
            (0.0..=1.0).contains(&m),
            "min_p",
            m,
            "must be in [0, 1] (0 = off)",
        )?;
        let r = self.repetition_penalty;
        check(
            r.is_finite() && r > 0.0,
            "repetition_penalty",
            r,
            "must be a finite number > 0 (1 = off)",
        )?;
        let f = self.frequency_penalty;
        check(
            f.is_finite(),
            "frequency_penalty",
            f,
            "must be a finite number (0 = off)",
        )?;
        let p = self.presence_penalty;
        check(
            p.is_finite(),
            "presence_penalty",
            p,
            "must be a finite number (0 = off)",
        )?;
        for &(token, bias) in &self.logit_bias {
            if bias.is_nan() || bias == f32::INFINITY {
                return Err(SamplingError::InvalidConfig {
                    setting: "logit_bias",
                    value: format!("{bias} for token {token}"),
                    rule: "must be a finite number or -inf (to ban the token)",
                });
            }
        }
        Ok(())
    }
}
