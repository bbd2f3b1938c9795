//! Typed model configurations: one struct family filled from either source a model comes in,
//! GGUF metadata or a Hugging Face `config.json`.
//!
//! Both sources leave things unsaid that a forward pass depends on (Gemma 3's local rope base,
//! its embedding scale, which layers are global). Those live in [`defaults`] as named
//! per-architecture constants with where each fact comes from, so the model code reads one
//! [`ModelConfig`] and never needs to know where it came from. Where the *weights* differ by
//! source, the config says so ([`Norm::weight_offset`], [`Rope::style`]).
//!
//! Supported: `llama` (SmolLM2), `gemma3` (Gemma 3 270M), `bert` (all-MiniLM-L6-v2).

pub mod defaults;
mod from_gguf;
mod from_hf;

use serde::Serialize;
use thiserror::Error;

use crate::gguf::GgufError;

/// The model families Lantern runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Llama,
    Gemma3,
    Bert,
}

impl Architecture {
    /// For error messages: every supported architecture by its GGUF name.
    pub const SUPPORTED: &'static str = "llama, gemma3, bert";

    /// The name in GGUF `general.architecture` (and the prefix of its hyper-parameter keys).
    pub const fn gguf_name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Gemma3 => "gemma3",
            Self::Bert => "bert",
        }
    }

    pub fn from_gguf_name(name: &str) -> Option<Self> {
        [Self::Llama, Self::Gemma3, Self::Bert]
            .into_iter()
            .find(|a| a.gguf_name() == name)
    }

    /// From `config.json`'s `model_type`. Gemma 3 text-only checkpoints (270M, 1B) say
    /// `gemma3_text`; the multimodal ones say `gemma3` and nest the LLM in `text_config`.
    pub fn from_hf_model_type(model_type: &str) -> Option<Self> {
        match model_type {
            "llama" => Some(Self::Llama),
            "gemma3" | "gemma3_text" => Some(Self::Gemma3),
            "bert" => Some(Self::Bert),
            _ => None,
        }
    }
}

/// Where a config was read from. It matters for loading weights: see [`Norm::weight_offset`]
/// and [`Rope::style`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Gguf,
    HuggingFace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// `x / rms(x) * w`.
    Rms,
    /// `(x - mean) / std * w + b`.
    Layer,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Norm {
    pub kind: NormKind,
    pub eps: f32,
    /// Added to every norm weight when loading: Gemma's RMSNorm computes `x * (1 + w)`, and
    /// llama.cpp's converter bakes the `+ 1` into GGUF weights, so it is 1.0 for Gemma 3 from
    /// safetensors and 0.0 otherwise.
    pub weight_offset: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(x)` (Llama's SwiGLU gate).
    Silu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`; Gemma's GeGLU gate).
    GeluTanh,
    /// Exact GELU with erf (BERT).
    Gelu,
}

/// Which layers see the whole context and which a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionLayout {
    /// Every layer attends to the whole context.
    Global,
    /// Layers attend to the last `window` positions, except every `global_every`-th layer
    /// (1-based: layers 5, 11, 17, … for 6), which is global. `global_every == 0` means no
    /// layer is global, as in llama.cpp.
    Interleaved { window: u32, global_every: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Attention {
    /// Decoder (causal mask) or encoder (every token sees every other).
    pub causal: bool,
    /// RMSNorm over each query and key head before rope (Gemma 3).
    pub qk_norm: bool,
    /// Queries are scaled by `1 / sqrt(query_pre_attn_scalar)`: the head size for most models,
    /// a separate hyper-parameter for Gemma.
    pub query_pre_attn_scalar: f32,
    pub layout: AttentionLayout,
}

impl Attention {
    /// The factor queries are multiplied by before `q·k`.
    pub fn query_scale(&self) -> f32 {
        1.0 / self.query_pre_attn_scalar.sqrt()
    }
}

/// How rope pairs the dimensions it rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RopeStyle {
    /// Adjacent pairs `(x[2i], x[2i+1])` (ggml's `LLAMA_ROPE_TYPE_NORM`).
    Normal,
    /// The two halves `(x[i], x[i + d/2])` (GPT-NeoX, Hugging Face's `rotate_half`).
    Neox,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RopeScaling {
    None,
    /// Positions divided by `factor` (global layers only when layers are interleaved).
    Linear {
        factor: f32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rope {
    /// Pairing of the rotated dimensions *for the weights of this source*: llama.cpp's
    /// converter permutes Llama's q/k rows so GGUF uses `Normal`, while the original
    /// safetensors expect `Neox`.
    pub style: RopeStyle,
    /// Leading dimensions of each head that are rotated (the head size for these models).
    pub dims: u32,
    /// Frequency base of global layers (all layers when attention is not interleaved).
    pub base: f32,
    /// Frequency base of sliding-window layers; `None` when there are none.
    pub local_base: Option<f32>,
    pub scaling: RopeScaling,
}

/// How a sentence embedding is made from token embeddings (sentence-transformers pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    Mean,
    Cls,
    Max,
    MeanSqrtLen,
    LastToken,
}

/// Everything a forward pass needs to know about a model's shape and arithmetic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub source: Source,
    pub vocab_size: u32,
    pub hidden_size: u32,
    pub n_layers: u32,
    /// Width of the feed-forward hidden layer.
    pub ffn_size: u32,
    pub n_heads: u32,
    /// Key/value heads (grouped-query attention when fewer than `n_heads`).
    pub n_kv_heads: u32,
    /// Per-head size of queries, keys and values (not always `hidden_size / n_heads`: Gemma 3
    /// 270M has 4 heads of 256 over a 640-wide residual).
    pub head_dim: u32,
    /// Longest sequence the model was trained for.
    pub context_length: u32,
    pub norm: Norm,
    pub activation: Activation,
    /// `down(act(gate(x)) * up(x))` rather than `down(act(up(x)))`.
    pub gated_ffn: bool,
    pub attention: Attention,
    /// `None` for learned absolute position embeddings (BERT).
    pub rope: Option<Rope>,
    /// Token embeddings are multiplied by this before the first layer (sqrt(hidden) for Gemma).
    pub embedding_scale: f32,
    /// The output projection reuses the token embedding matrix.
    pub tied_output: bool,
    /// `cap * tanh(logits / cap)` on the final logits when set.
    pub final_logit_softcap: Option<f32>,
    /// Segment ("token type") embeddings; 0 when the model has none.
    pub type_vocab_size: u32,
    /// Sentence-embedding pooling, for encoders that come with one.
    pub pooling: Option<Pooling>,
}

impl ModelConfig {
    /// True when `layer` (0-based) attends through a sliding window.
    pub fn is_sliding(&self, layer: u32) -> bool {
        match self.attention.layout {
            AttentionLayout::Global => false,
            AttentionLayout::Interleaved { global_every, .. } => {
                global_every == 0 || layer % global_every != global_every - 1
            }
        }
    }

    /// The rope frequency base for `layer` (0-based); `None` without rope.
    pub fn rope_base(&self, layer: u32) -> Option<f32> {
        let rope = self.rope.as_ref()?;
        Some(match rope.local_base {
            Some(local) if self.is_sliding(layer) => local,
            _ => rope.base,
        })
    }

    /// Checks the relations a forward pass relies on; both readers call it, so every
    /// `ModelConfig` they return has passed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |why: String| Err(ConfigError::Invalid(why));
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("n_layers", self.n_layers),
            ("ffn_size", self.ffn_size),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("head_dim", self.head_dim),
            ("context_length", self.context_length),
        ] {
            if value == 0 {
                return invalid(format!("{name} is 0"));
            }
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return invalid(format!(
                "{} attention heads cannot be shared evenly by {} key/value heads",
                self.n_heads, self.n_kv_heads
            ));
        }
        if self.n_heads.checked_mul(self.head_dim).is_none() {
            return invalid(format!(
                "{} heads of {} overflow 32 bits",
                self.n_heads, self.head_dim
            ));
        }
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                invalid(format!("{name} must be a positive number, got {v}"))
            }
        };
        positive("norm epsilon", self.norm.eps)?;
        positive(
            "query_pre_attn_scalar",
            self.attention.query_pre_attn_scalar,
        )?;
        positive("embedding scale", self.embedding_scale)?;
        if let Some(cap) = self.final_logit_softcap {
            positive("final logit softcap", cap)?;
        }
        if let AttentionLayout::Interleaved { window: 0, .. } = self.attention.layout {
            return invalid("sliding window is 0".into());
        }
        if let Some(rope) = &self.rope {
            positive("rope base", rope.base)?;
            if let Some(local) = rope.local_base {
                positive("local rope base", local)?;
            }
            if let RopeScaling::Linear { factor } = rope.scaling {
                positive("rope scaling factor", factor)?;
            }
            if rope.dims == 0 || rope.dims % 2 != 0 || rope.dims > self.head_dim {
                return invalid(format!(
                    "rope dimensions {} must be even, non-zero and at most the head size {}",
                    rope.dims, self.head_dim
                ));
            }
        }
        Ok(())
    }
}

/// Why a config could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error(
        "unsupported architecture '{name}' ({from}); supported: {}",
        Architecture::SUPPORTED
    )]
    UnsupportedArchitecture { name: String, from: &'static str },

    /// A missing or mistyped GGUF metadata key.
    #[error(transparent)]
    Gguf(#[from] GgufError),

    #[error("{file} is not valid JSON: {reason}")]
    Json { file: &'static str, reason: String },

    #[error("{file}: '{field}' {problem}")]
    Field {
        file: &'static str,
        field: String,
        problem: String,
    },

    #[error("{0}")]
    Unsupported(String),

    #[error("invalid model config: {0}")]
    Invalid(String),
}

fn embedding_scale(by_sqrt_hidden: bool, hidden: u32) -> f32 {
    if by_sqrt_hidden {
        (hidden as f32).sqrt()
    } else {
        1.0
    }
}

/// Every-layer-global is the same as no sliding window.
fn simplify(layout: AttentionLayout) -> AttentionLayout {
    match layout {
        AttentionLayout::Interleaved {
            global_every: 1, ..
        } => AttentionLayout::Global,
        other => other,
    }
}

/// `hidden / heads`, which must be exact.
fn even_split(hidden: u32, n_heads: u32) -> Result<u32, ConfigError> {
    if n_heads == 0 || !hidden.is_multiple_of(n_heads) {
        return Err(ConfigError::Invalid(format!(
            "hidden size {hidden} does not split into {n_heads} heads and no head size is given"
        )));
    }
    Ok(hidden / n_heads)
}

/// The period of a per-layer "is sliding" list: every `p`-th layer global, as
/// [`AttentionLayout::Interleaved`] stores it. `Some(0)` when no layer is global; `None` when
/// the list follows no such pattern. Linear time, so a hostile list cannot stall it.
pub(crate) fn global_period(sliding: &[bool]) -> Option<u32> {
    let Some(first_global) = sliding.iter().position(|s| !s) else {
        return Some(0);
    };
    let period = first_global + 1;
    let regular = sliding
        .iter()
        .enumerate()
        .all(|(i, &s)| s == (i % period != period - 1));
    if regular {
        u32::try_from(period).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_period_reads_interleaved_layouts() {
        let gemma: Vec<bool> = (0..18).map(|i| i % 6 != 5).collect();
        assert_eq!(global_period(&gemma), Some(6));
        assert_eq!(global_period(&[false, false, false]), Some(1));
        assert_eq!(global_period(&[true, true]), Some(0));
        assert_eq!(global_period(&[]), Some(0));
        // A global layer out of step is not a period.
        assert_eq!(global_period(&[true, false, false, true]), None);
        // The last period may be cut short.
        assert_eq!(
            global_period(&[true, true, false, true, true, false, true]),
            Some(3)
        );
    }
}
