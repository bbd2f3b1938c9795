//! `ModelConfig` from GGUF metadata (and, for tied output and vocabulary size, the tensor list).
//!
//! Keys are `{arch}.…` as llama.cpp writes them; optional keys fall back to llama.cpp's own
//! defaults or to [`super::defaults`].

use super::defaults::gemma3_query_pre_attn_scalar;
use super::{
    Architecture, Attention, AttentionLayout, ConfigError, ModelConfig, Norm, NormKind, Pooling,
    Rope, RopeScaling, Source, global_period,
};
use super::{embedding_scale, even_split, simplify};
use crate::gguf::{GgufError, GgufHeader, Metadata, MetadataArray};

impl ModelConfig {
    /// Reads the config of a supported architecture from a parsed GGUF header.
    pub fn from_gguf(header: &GgufHeader) -> Result<ModelConfig, ConfigError> {
        let md = header.metadata();
        let arch_name = md.get_str("general.architecture")?;
        let arch = Architecture::from_gguf_name(arch_name).ok_or_else(|| {
            ConfigError::UnsupportedArchitecture {
                name: arch_name.to_owned(),
                from: "GGUF general.architecture",
            }
        })?;
        let keys = Keys {
            md,
            arch: arch_name,
        };
        let defaults = arch.defaults();

        let hidden_size = keys.u32("embedding_length")?;
        let n_layers = keys.u32("block_count")?;
        let n_heads = keys.u32("attention.head_count")?;
        // llama.cpp: head_count_kv defaults to head_count, key_length to n_embd / n_head.
        let n_kv_heads = keys.opt_u32("attention.head_count_kv")?.unwrap_or(n_heads);
        let head_dim = match keys.opt_u32("attention.key_length")? {
            Some(k) => k,
            None => even_split(hidden_size, n_heads)?,
        };
        if let Some(v) = keys.opt_u32("attention.value_length")?
            && v != head_dim
        {
            return Err(ConfigError::Unsupported(format!(
                "key head size {head_dim} differs from value head size {v}"
            )));
        }

        let eps = match defaults.norm {
            NormKind::Rms => keys.f32("attention.layer_norm_rms_epsilon")?,
            NormKind::Layer => keys.f32("attention.layer_norm_epsilon")?,
        };
        let layout = match keys.opt_u32("attention.sliding_window")? {
            Some(window) if window > 0 => AttentionLayout::Interleaved {
                window,
                global_every: sliding_pattern(&keys, n_layers, defaults.global_every)?,
            },
            _ => AttentionLayout::Global,
        };
        let layout = simplify(layout);
        let rope = match defaults.rope_style_gguf {
            None => None,
            Some(style) => Some(Rope {
                style,
                dims: keys.opt_u32("rope.dimension_count")?.unwrap_or(head_dim),
                base: keys
                    .opt_f32("rope.freq_base")?
                    .unwrap_or(defaults.rope_base),
                local_base: match layout {
                    AttentionLayout::Global => None,
                    AttentionLayout::Interleaved { .. } => keys
                        .opt_f32("rope.freq_base_swa")?
                        .or(defaults.local_rope_base),
                },
                scaling: rope_scaling(&keys)?,
            }),
        };
        let query_pre_attn_scalar = match arch {
            Architecture::Gemma3 => {
                gemma3_query_pre_attn_scalar(n_layers, hidden_size, n_heads, head_dim)
            }
            Architecture::Llama | Architecture::Bert => head_dim as f32,
        };

        let config = ModelConfig {
            architecture: arch,
            source: Source::Gguf,
            vocab_size: vocab_size(header, &keys)?,
            hidden_size,
            n_layers,
            ffn_size: keys.u32("feed_forward_length")?,
            n_heads,
            n_kv_heads,
            head_dim,
            context_length: keys.u32("context_length")?,
            norm: Norm {
                kind: defaults.norm,
                eps,
                // The converter has already added Gemma's +1.
                weight_offset: 0.0,
            },
            activation: defaults.activation,
            gated_ffn: defaults.gated_ffn,
            attention: Attention {
                causal: keys
                    .opt_bool("attention.causal")?
                    .unwrap_or(defaults.causal),
                qk_norm: defaults.qk_norm,
                query_pre_attn_scalar,
                layout,
            },
            rope,
            embedding_scale: embedding_scale(defaults.scale_embeddings_by_sqrt_hidden, hidden_size),
            // llama.cpp reuses token_embd when output.weight is absent (TENSOR_DUPLICATED).
            // Encoders have no output head at all.
            tied_output: arch != Architecture::Bert && header.tensor("output.weight").is_none(),
            final_logit_softcap: keys.opt_f32("final_logit_softcapping")?,
            type_vocab_size: match arch {
                // BERT checkpoints have sentence A/B segments; the converter writes the count.
                Architecture::Bert => {
                    optional(md, "tokenizer.ggml.token_type_count", Metadata::get_u32)?.unwrap_or(2)
                }
                Architecture::Llama | Architecture::Gemma3 => 0,
            },
            pooling: pooling(&keys)?,
        };
        config.validate()?;
        Ok(config)
    }
}

/// `{arch}.…` lookups; optional keys are `None` only when absent, never when mistyped.
struct Keys<'m> {
    md: &'m Metadata,
    arch: &'m str,
}

impl Keys<'_> {
    fn key(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.arch)
    }

    fn u32(&self, suffix: &str) -> Result<u32, GgufError> {
        self.md.get_u32(&self.key(suffix))
    }

    fn f32(&self, suffix: &str) -> Result<f32, GgufError> {
        self.md.get_f32(&self.key(suffix))
    }

    fn opt_u32(&self, suffix: &str) -> Result<Option<u32>, GgufError> {
        optional(self.md, &self.key(suffix), Metadata::get_u32)
    }

    fn opt_f32(&self, suffix: &str) -> Result<Option<f32>, GgufError> {
        optional(self.md, &self.key(suffix), Metadata::get_f32)
    }

    fn opt_bool(&self, suffix: &str) -> Result<Option<bool>, GgufError> {
        optional(self.md, &self.key(suffix), Metadata::get_bool)
    }

    fn opt_str(&self, suffix: &str) -> Result<Option<&str>, GgufError> {
        optional(self.md, &self.key(suffix), Metadata::get_str)
    }
}

/// `None` when `key` is absent; a present key of the wrong type is still an error.
fn optional<'m, T>(
    md: &'m Metadata,
    key: &str,
    get: impl Fn(&'m Metadata, &str) -> Result<T, GgufError>,
) -> Result<Option<T>, GgufError> {
    match md.get(key) {
        None => Ok(None),
        Some(_) => get(md, key).map(Some),
    }
}

/// `attention.sliding_window_pattern`: a period (u32) or one bool per layer (true = sliding),
/// as llama.cpp's `load_swa_pattern` accepts; absent, the architecture default.
fn sliding_pattern(keys: &Keys, n_layers: u32, default: Option<u32>) -> Result<u32, ConfigError> {
    let key = keys.key("attention.sliding_window_pattern");
    match keys.md.get(&key) {
        None => default.ok_or_else(|| {
            ConfigError::Unsupported(format!(
                "a sliding window without '{key}' on an architecture with no default pattern"
            ))
        }),
        Some(_) => match keys.md.get_array(&key) {
            Ok(MetadataArray::Bool(sliding)) => {
                if sliding.len() as u64 != u64::from(n_layers) {
                    return Err(ConfigError::Invalid(format!(
                        "'{key}' lists {} layers but the model has {n_layers}",
                        sliding.len()
                    )));
                }
                global_period(sliding).ok_or_else(|| {
                    ConfigError::Unsupported(format!(
                        "'{key}': global layers that do not repeat with a fixed period"
                    ))
                })
            }
            _ => Ok(keys.md.get_u32(&key)?),
        },
    }
}

fn rope_scaling(keys: &Keys) -> Result<RopeScaling, ConfigError> {
    // llama.cpp: type defaults to "linear", and a missing or zero factor means no scaling.
    let kind = keys.opt_str("rope.scaling.type")?.unwrap_or("linear");
    let factor = keys.opt_f32("rope.scaling.factor")?.unwrap_or(0.0);
    match kind {
        "none" => Ok(RopeScaling::None),
        "linear" if factor == 0.0 || factor == 1.0 => Ok(RopeScaling::None),
        "linear" => Ok(RopeScaling::Linear { factor }),
        other => Err(ConfigError::Unsupported(format!(
            "rope scaling '{other}' is not supported (only linear)"
        ))),
    }
}

/// The token count of the embedded vocabulary; else `{arch}.vocab_size`; else the embedding
/// matrix's rows. When the embedding matrix is present it must agree.
fn vocab_size(header: &GgufHeader, keys: &Keys) -> Result<u32, ConfigError> {
    let md = keys.md;
    let from_tokens =
        optional(md, "tokenizer.ggml.tokens", Metadata::get_array)?.map(|a| a.len() as u64);
    let from_key = keys.opt_u32("vocab_size")?.map(u64::from);
    let embd = header.tensor("token_embd.weight");
    let from_embd = embd.and_then(|t| t.shape().get(1).copied());
    let vocab = from_tokens
        .or(from_key)
        .or(from_embd)
        .ok_or_else(|| GgufError::MissingKey("tokenizer.ggml.tokens".into()))?;
    if let Some(rows) = from_embd
        && rows != vocab
    {
        return Err(ConfigError::Invalid(format!(
            "token_embd.weight has {rows} rows for a vocabulary of {vocab} tokens"
        )));
    }
    u32::try_from(vocab)
        .map_err(|_| ConfigError::Invalid(format!("vocabulary of {vocab} tokens is absurd")))
}

/// `{arch}.pooling_type` (llama.cpp's enum: 0 none, 1 mean, 2 cls, 3 last, 4 rank).
fn pooling(keys: &Keys) -> Result<Option<Pooling>, ConfigError> {
    Ok(match keys.opt_u32("pooling_type")? {
        None | Some(0) => None,
        Some(1) => Some(Pooling::Mean),
        Some(2) => Some(Pooling::Cls),
        Some(3) => Some(Pooling::LastToken),
        Some(other) => {
            return Err(ConfigError::Unsupported(format!(
                "pooling type {other} is not supported (mean, cls, last)"
            )));
        }
    })
}
