//! Everything that can go wrong configuring a sampler or drawing a token.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SamplingError {
    /// A [`super::SamplerConfig`] value outside its range; the message names the setting, the
    /// value given and the rule.
    #[error("invalid sampler setting {setting} = {value}: {rule}")]
    InvalidConfig {
        setting: &'static str,
        value: String,
        rule: &'static str,
    },

    #[error("no logits to sample from (empty vocabulary)")]
    EmptyLogits,

    #[error("{0} logits is more than u32 token ids can address")]
    VocabTooLarge(usize),

    /// NaN or +inf straight from the model: the forward pass is broken, and no sampling
    /// setting can make a meaningful choice from it.
    #[error("logit of token {token} is {value}: the model produced an invalid logit")]
    InvalidLogit { token: u32, value: f32 },

    #[error("logit bias names token {token}, but there are only {vocab_size} logits")]
    BiasTokenOutOfRange { token: u32, vocab_size: usize },

    #[error("logit of token {token} overflowed to +inf after logit bias and penalties")]
    AdjustedLogitOverflow { token: u32 },

    /// [`super::Sampler::sample_top_k`] was called where the top-k candidates cannot stand in
    /// for the full logits; the message says why.
    #[error("cannot sample from top-k candidates: {0}")]
    CandidatesUnsupported(String),

    /// Every logit is −inf after logit bias and penalties: nothing may be sampled.
    #[error(
        "every token is banned: all {vocab_size} logits are -inf after logit bias and penalties"
    )]
    AllTokensBanned { vocab_size: usize },
}
