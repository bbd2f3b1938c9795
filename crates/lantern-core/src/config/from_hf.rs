//! `ModelConfig` from a Hugging Face `config.json` (plus, for sentence-transformers encoders,
//! the pooling module's `config.json`, found at `1_Pooling/config.json`).
//!
//! Field names and their defaults follow the `transformers` config classes (`LlamaConfig`,
//! `Gemma3TextConfig`, `BertConfig`), so a config that omits a field reads as `transformers`
//! would read it.

use serde_json::{Map, Value};

use super::defaults::ArchDefaults;
use super::{
    Activation, Architecture, Attention, AttentionLayout, ConfigError, ModelConfig, Norm, Pooling,
    Rope, RopeScaling, RopeStyle, Source, global_period,
};
use super::{embedding_scale, even_split, simplify};

const CONFIG: &str = "config.json";
const POOLING: &str = "pooling config.json";

impl ModelConfig {
    /// Reads `config.json`. `pooling_json` is the sentence-transformers pooling config, if the
    /// model has one.
    pub fn from_hf_config(
        config_json: &str,
        pooling_json: Option<&str>,
    ) -> Result<ModelConfig, ConfigError> {
        let root = Fields::parse(config_json, CONFIG)?;
        let model_type = root.str("model_type")?;
        let arch = Architecture::from_hf_model_type(model_type).ok_or_else(|| {
            ConfigError::UnsupportedArchitecture {
                name: model_type.to_owned(),
                from: "config.json model_type",
            }
        })?;
        // Multimodal Gemma 3 nests the language model; its fields are what we need.
        let text_config = root.opt_object("text_config")?;
        let c = text_config.as_ref().unwrap_or(&root);
        let defaults = arch.defaults();

        let hidden_size = c.u32("hidden_size")?;
        let n_layers = c.u32("num_hidden_layers")?;
        let n_heads = c.u32("num_attention_heads")?;
        let n_kv_heads = c.opt_u32("num_key_value_heads")?.unwrap_or(n_heads);
        let head_dim = match (c.opt_u32("head_dim")?, arch) {
            (Some(d), _) => d,
            // `Gemma3TextConfig.head_dim` defaults to 256.
            (None, Architecture::Gemma3) => 256,
            (None, _) => even_split(hidden_size, n_heads)?,
        };
        let (eps_key, act_key) = match arch {
            Architecture::Llama => ("rms_norm_eps", "hidden_act"),
            Architecture::Gemma3 => ("rms_norm_eps", "hidden_activation"),
            Architecture::Bert => ("layer_norm_eps", "hidden_act"),
        };
        let activation = activation(c, act_key)?;
        if activation != defaults.activation {
            return Err(ConfigError::Unsupported(format!(
                "{CONFIG}: '{act_key}' is {activation:?}, but {} models use {:?}",
                arch.gguf_name(),
                defaults.activation
            )));
        }

        let layout = match arch {
            Architecture::Gemma3 => simplify(AttentionLayout::Interleaved {
                // `Gemma3TextConfig.sliding_window` defaults to 4096.
                window: c.opt_u32("sliding_window")?.unwrap_or(4096),
                global_every: gemma3_global_every(c, n_layers, defaults)?,
            }),
            Architecture::Llama | Architecture::Bert => AttentionLayout::Global,
        };
        let rope = match defaults.rope_style_hf {
            None => {
                let kind = c.opt_str("position_embedding_type")?.unwrap_or("absolute");
                if kind != "absolute" {
                    return Err(ConfigError::Unsupported(format!(
                        "{CONFIG}: position_embedding_type '{kind}' (only absolute)"
                    )));
                }
                None
            }
            Some(style) => Some(rope(c, style, head_dim, layout, defaults)?),
        };
        let query_pre_attn_scalar = match arch {
            // `Gemma3TextConfig.query_pre_attn_scalar` defaults to 256.
            Architecture::Gemma3 => c.opt_f32("query_pre_attn_scalar")?.unwrap_or(256.0),
            Architecture::Llama | Architecture::Bert => head_dim as f32,
        };
        let pooling = match pooling_json {
            None => None,
            Some(json) => Some(pooling(&Fields::parse(json, POOLING)?, hidden_size)?),
        };

        let config = ModelConfig {
            architecture: arch,
            source: Source::HuggingFace,
            vocab_size: c.u32("vocab_size")?,
            hidden_size,
            n_layers,
            ffn_size: c.u32("intermediate_size")?,
            n_heads,
            n_kv_heads,
            head_dim,
            context_length: c.u32("max_position_embeddings")?,
            norm: Norm {
                kind: defaults.norm,
                eps: c.f32(eps_key)?,
                weight_offset: defaults.hf_norm_weight_offset,
            },
            activation,
            gated_ffn: defaults.gated_ffn,
            attention: Attention {
                causal: defaults.causal,
                qk_norm: defaults.qk_norm,
                query_pre_attn_scalar,
                layout,
            },
            rope,
            embedding_scale: embedding_scale(defaults.scale_embeddings_by_sqrt_hidden, hidden_size),
            tied_output: match arch {
                Architecture::Bert => false,
                _ => c
                    .opt_bool("tie_word_embeddings")?
                    .unwrap_or(defaults.hf_tied_output),
            },
            final_logit_softcap: c.opt_f32("final_logit_softcapping")?,
            type_vocab_size: match arch {
                Architecture::Bert => c.opt_u32("type_vocab_size")?.unwrap_or(2),
                Architecture::Llama | Architecture::Gemma3 => 0,
            },
            pooling,
        };
        config.validate()?;
        Ok(config)
    }
}

fn activation(c: &Fields, key: &str) -> Result<Activation, ConfigError> {
    // Gemma 3 configs name it `hidden_activation`; older ones also carry `hidden_act`.
    let name = match c.opt_str(key)? {
        Some(name) => name,
        None => c.str("hidden_act")?,
    };
    match name {
        "silu" | "swish" => Ok(Activation::Silu),
        "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Ok(Activation::GeluTanh),
        "gelu" => Ok(Activation::Gelu),
        other => Err(c.problem(key, format!("names an unsupported activation '{other}'"))),
    }
}

/// Rope from `rope_theta` / `rope_local_base_freq` / `rope_scaling`, or from the newer
/// `rope_parameters` (`{"full_attention": {...}, "sliding_attention": {...}}` or one flat
/// object), whichever the config uses. Scaling applies to global layers, as in `transformers`.
fn rope(
    c: &Fields,
    style: RopeStyle,
    head_dim: u32,
    layout: AttentionLayout,
    defaults: &ArchDefaults,
) -> Result<Rope, ConfigError> {
    let params = c.opt_object("rope_parameters")?;
    let (global, local) = match &params {
        Some(p) => match (
            p.opt_object("full_attention")?,
            p.opt_object("sliding_attention")?,
        ) {
            (None, None) => (Some(p.clone()), None),
            (full, sliding) => (full, sliding),
        },
        None => (c.opt_object("rope_scaling")?, None),
    };
    let base = match (&params, &global) {
        (None, _) => c.opt_f32("rope_theta")?,
        (Some(_), Some(g)) => g.opt_f32("rope_theta")?,
        (Some(_), None) => None,
    };
    let local_base = match (layout, &local) {
        (AttentionLayout::Global, _) => None,
        (_, Some(l)) => l.opt_f32("rope_theta")?,
        (_, None) => c.opt_f32("rope_local_base_freq")?,
    };
    Ok(Rope {
        style,
        dims: head_dim,
        base: base.unwrap_or(defaults.rope_base),
        // `Gemma3TextConfig.rope_local_base_freq` defaults to the same 10 000 as GGUF's.
        local_base: match layout {
            AttentionLayout::Global => None,
            AttentionLayout::Interleaved { .. } => local_base.or(defaults.local_rope_base),
        },
        scaling: match &global {
            None => RopeScaling::None,
            Some(g) => rope_scaling(g)?,
        },
    })
}

fn rope_scaling(g: &Fields) -> Result<RopeScaling, ConfigError> {
    let kind = match g.opt_str("rope_type")? {
        Some(kind) => Some(kind),
        None => g.opt_str("type")?,
    };
    match kind {
        None | Some("default") => Ok(RopeScaling::None),
        Some("linear") => Ok(RopeScaling::Linear {
            factor: g.f32("factor")?,
        }),
        Some(other) => Err(ConfigError::Unsupported(format!(
            "rope scaling '{other}' is not supported (only linear)"
        ))),
    }
}

/// Gemma 3's global-layer period: `layer_types` when given (newer configs), else
/// `sliding_window_pattern` (older ones, also spelled `_sliding_window_pattern`), else the
/// architecture default (6).
fn gemma3_global_every(
    c: &Fields,
    n_layers: u32,
    defaults: &ArchDefaults,
) -> Result<u32, ConfigError> {
    if let Some(types) = c.opt_array("layer_types")? {
        let sliding = types
            .iter()
            .map(|t| match t.as_str() {
                Some("sliding_attention") => Ok(true),
                Some("full_attention") => Ok(false),
                _ => Err(c.problem("layer_types", format!("has an unknown layer type {t}"))),
            })
            .collect::<Result<Vec<bool>, _>>()?;
        if sliding.len() as u64 != u64::from(n_layers) {
            return Err(c.problem(
                "layer_types",
                format!(
                    "lists {} layers but the model has {n_layers}",
                    sliding.len()
                ),
            ));
        }
        return global_period(&sliding).ok_or_else(|| {
            c.problem(
                "layer_types",
                "has global layers that do not repeat with a fixed period".into(),
            )
        });
    }
    for key in ["sliding_window_pattern", "_sliding_window_pattern"] {
        if let Some(period) = c.opt_u32(key)? {
            return Ok(period);
        }
    }
    Ok(defaults.global_every.unwrap_or(0))
}

/// sentence-transformers' `Pooling` config: exactly one `pooling_mode_*` flag set.
fn pooling(p: &Fields, hidden: u32) -> Result<Pooling, ConfigError> {
    if let Some(dim) = p.opt_u32("word_embedding_dimension")?
        && dim != hidden
    {
        return Err(p.problem(
            "word_embedding_dimension",
            format!("is {dim} but the model's hidden size is {hidden}"),
        ));
    }
    let mut chosen = Vec::new();
    for (key, mode) in [
        ("pooling_mode_mean_tokens", Pooling::Mean),
        ("pooling_mode_cls_token", Pooling::Cls),
        ("pooling_mode_max_tokens", Pooling::Max),
        ("pooling_mode_mean_sqrt_len_tokens", Pooling::MeanSqrtLen),
        ("pooling_mode_lasttoken", Pooling::LastToken),
    ] {
        if p.opt_bool(key)?.unwrap_or(false) {
            chosen.push(mode);
        }
    }
    match chosen[..] {
        [mode] => Ok(mode),
        [] => Err(ConfigError::Unsupported(format!(
            "{POOLING}: no pooling_mode_* is set"
        ))),
        _ => Err(ConfigError::Unsupported(format!(
            "{POOLING}: several pooling modes {chosen:?} (their concatenation is not supported)"
        ))),
    }
}

/// A JSON object with typed, error-reporting field access.
#[derive(Clone)]
struct Fields<'v> {
    file: &'static str,
    map: std::borrow::Cow<'v, Map<String, Value>>,
}

impl<'v> Fields<'v> {
    fn parse(json: &str, file: &'static str) -> Result<Fields<'static>, ConfigError> {
        let value: Value = serde_json::from_str(json).map_err(|e| ConfigError::Json {
            file,
            reason: e.to_string(),
        })?;
        match value {
            Value::Object(map) => Ok(Fields {
                file,
                map: std::borrow::Cow::Owned(map),
            }),
            _ => Err(ConfigError::Json {
                file,
                reason: "the top level is not an object".into(),
            }),
        }
    }

    fn problem(&self, field: &str, problem: String) -> ConfigError {
        ConfigError::Field {
            file: self.file,
            field: field.to_owned(),
            problem,
        }
    }

    /// The value, or `None` when absent or `null` (`transformers` writes unset options as null).
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn typed<'s, T>(
        &'s self,
        key: &str,
        expected: &str,
        convert: impl Fn(&'s Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => convert(v)
                .map(Some)
                .ok_or_else(|| self.problem(key, format!("must be {expected}, got {v}"))),
        }
    }

    fn required<T>(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.problem(key, "is missing".into()))
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        self.typed(key, "an integer from 0 to 4294967295", |v| {
            v.as_u64().and_then(|n| u32::try_from(n).ok())
        })
    }

    fn u32(&self, key: &str) -> Result<u32, ConfigError> {
        self.required(key, self.opt_u32(key)?)
    }

    fn opt_f32(&self, key: &str) -> Result<Option<f32>, ConfigError> {
        self.typed(key, "a number", |v| v.as_f64().map(|x| x as f32))
    }

    fn f32(&self, key: &str) -> Result<f32, ConfigError> {
        self.required(key, self.opt_f32(key)?)
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.typed(key, "true or false", Value::as_bool)
    }

    fn opt_str(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        self.typed(key, "a string", Value::as_str)
    }

    fn str(&self, key: &str) -> Result<&str, ConfigError> {
        self.required(key, self.opt_str(key)?)
    }

    fn opt_array(&self, key: &str) -> Result<Option<&Vec<Value>>, ConfigError> {
        self.typed(key, "an array", Value::as_array)
    }

    fn opt_object(&self, key: &str) -> Result<Option<Fields<'_>>, ConfigError> {
        Ok(self
            .typed(key, "an object", Value::as_object)?
            .map(|map| Fields {
                file: self.file,
                map: std::borrow::Cow::Borrowed(map),
            }))
    }
}
