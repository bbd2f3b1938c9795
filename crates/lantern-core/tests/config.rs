//! Typed model configs: the real GGUFs give the facts in `shared/notes/models.md`, the Hugging
//! Face `config.json` of the same models gives the same config (up to the documented
//! differences between the two sources' weights), and bad configs fail with clear errors.
//!
//! The GGUF models must be present (`python3 models/fetch.py --all`); a missing file fails
//! loudly rather than skipping.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use lantern_core::config::{
    Activation, Architecture, AttentionLayout, ConfigError, ModelConfig, NormKind, Pooling,
    RopeScaling, RopeStyle, Source,
};
use lantern_core::gguf::{GgufFile, GgufWriter, MetadataArray, MetadataValue};

fn model_file(name: &str, fetch: &str) -> Vec<u8> {
    let path: PathBuf = lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME) so the test can find models/")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); fetch it with `python3 models/fetch.py {fetch}`",
            path.display()
        )
    })
}

fn gguf_config(name: &str, fetch: &str) -> ModelConfig {
    let bytes = model_file(name, fetch);
    let file = GgufFile::open(&bytes).expect("real model opens");
    ModelConfig::from_gguf(file.header()).expect("supported architecture")
}

/// SmolLM2-135M-Instruct's config.json as published.
const SMOLLM2_CONFIG: &str = r#"{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 576,
  "initializer_range": 0.041666666666666664,
  "intermediate_size": 1536,
  "is_llama_config": true,
  "max_position_embeddings": 8192,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 9,
  "num_hidden_layers": 30,
  "num_key_value_heads": 3,
  "pad_token_id": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_interleaved": false,
  "rope_scaling": null,
  "rope_theta": 100000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3",
  "use_cache": true,
  "vocab_size": 49152
}"#;

/// gemma-3-270m's config.json as published.
const GEMMA3_CONFIG: &str = r#"{
  "_sliding_window_pattern": 6,
  "architectures": ["Gemma3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "attn_logit_softcapping": null,
  "bos_token_id": 2,
  "eos_token_id": 1,
  "final_logit_softcapping": null,
  "head_dim": 256,
  "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 640,
  "initializer_range": 0.02,
  "intermediate_size": 2048,
  "layer_types": [
    "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "full_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "sliding_attention", "sliding_attention", "full_attention",
    "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "full_attention"
  ],
  "max_position_embeddings": 32768,
  "model_type": "gemma3_text",
  "num_attention_heads": 4,
  "num_hidden_layers": 18,
  "num_key_value_heads": 1,
  "pad_token_id": 0,
  "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000.0,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "sliding_window": 512,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.55.0.dev0",
  "use_bidirectional_attention": false,
  "use_cache": true,
  "vocab_size": 262144
}"#;

#[test]
fn smollm2_gguf_gives_the_known_config() {
    let c = gguf_config("SmolLM2-135M-Instruct.Q4_1.gguf", "--default");
    assert_eq!(c.architecture, Architecture::Llama);
    assert_eq!(c.source, Source::Gguf);
    assert_eq!(
        (
            c.n_layers,
            c.hidden_size,
            c.ffn_size,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim
        ),
        (30, 576, 1536, 9, 3, 64)
    );
    assert_eq!((c.vocab_size, c.context_length), (49152, 8192));
    assert_eq!(
        (c.norm.kind, c.norm.eps, c.norm.weight_offset),
        (NormKind::Rms, 1e-5, 0.0)
    );
    assert_eq!((c.activation, c.gated_ffn), (Activation::Silu, true));
    let rope = c.rope.expect("llama uses rope");
    assert_eq!(
        (
            rope.style,
            rope.dims,
            rope.base,
            rope.local_base,
            rope.scaling
        ),
        (RopeStyle::Normal, 64, 100_000.0, None, RopeScaling::None)
    );
    assert_eq!(c.attention.layout, AttentionLayout::Global);
    assert!(c.attention.causal && !c.attention.qk_norm);
    assert_eq!(c.attention.query_scale(), 0.125);
    assert_eq!(c.embedding_scale, 1.0);
    assert!(c.tied_output, "SmolLM2 has no output.weight");
    assert_eq!(
        (c.final_logit_softcap, c.pooling, c.type_vocab_size),
        (None, None, 0)
    );
    assert_eq!(c.rope_base(29), Some(100_000.0));
    assert!(!c.is_sliding(5));
}

#[test]
fn gemma3_gguf_gives_the_known_config_with_the_unsaid_defaults() {
    let c = gguf_config("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m");
    assert_eq!(c.architecture, Architecture::Gemma3);
    assert_eq!(
        (
            c.n_layers,
            c.hidden_size,
            c.ffn_size,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim
        ),
        (18, 640, 2048, 4, 1, 256)
    );
    assert_eq!((c.vocab_size, c.context_length), (262_144, 32768));
    // The GGUF's norm weights already include Gemma's +1.
    assert_eq!(
        (c.norm.kind, c.norm.eps, c.norm.weight_offset),
        (NormKind::Rms, 1e-6, 0.0)
    );
    assert_eq!((c.activation, c.gated_ffn), (Activation::GeluTanh, true));
    assert!(c.attention.qk_norm && c.attention.causal);
    assert_eq!(c.attention.query_pre_attn_scalar, 256.0);
    assert_eq!(c.attention.query_scale(), 0.0625);
    assert_eq!(
        c.attention.layout,
        AttentionLayout::Interleaved {
            window: 512,
            global_every: 6
        }
    );
    let global: Vec<u32> = (0..c.n_layers).filter(|&l| !c.is_sliding(l)).collect();
    assert_eq!(global, [5, 11, 17]);
    let rope = c.rope.expect("gemma uses rope");
    assert_eq!(rope.style, RopeStyle::Neox);
    assert_eq!(
        (rope.base, rope.local_base, rope.dims),
        (1e6, Some(10_000.0), 256)
    );
    assert_eq!(
        (c.rope_base(0), c.rope_base(5)),
        (Some(10_000.0), Some(1e6))
    );
    assert_eq!(c.embedding_scale, 640f32.sqrt());
    assert!(c.tied_output);
    assert_eq!(c.final_logit_softcap, None);
}

/// The HF config with the source-specific facts mapped to what GGUF weights need.
fn as_if_gguf(mut hf: ModelConfig) -> ModelConfig {
    assert_eq!(hf.source, Source::HuggingFace);
    hf.source = Source::Gguf;
    hf.norm.weight_offset = 0.0;
    if let Some(rope) = &mut hf.rope {
        rope.style = hf.architecture.defaults().rope_style_gguf.unwrap();
    }
    hf
}

#[test]
fn smollm2_config_json_matches_the_gguf() {
    let hf = ModelConfig::from_hf_config(SMOLLM2_CONFIG, None).unwrap();
    // The only difference: llama.cpp permutes q/k for adjacent-pair rope; HF weights use halves.
    assert_eq!(hf.rope.unwrap().style, RopeStyle::Neox);
    assert_eq!(hf.norm.weight_offset, 0.0);
    let gguf = gguf_config("SmolLM2-135M-Instruct.Q4_1.gguf", "--default");
    assert_eq!(as_if_gguf(hf), gguf);
}

#[test]
fn gemma3_config_json_matches_the_gguf() {
    let hf = ModelConfig::from_hf_config(GEMMA3_CONFIG, None).unwrap();
    // The only difference: safetensors norm weights still need Gemma's +1.
    assert_eq!(hf.norm.weight_offset, 1.0);
    assert_eq!(hf.rope.unwrap().style, RopeStyle::Neox);
    let gguf = gguf_config("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m");
    assert_eq!(as_if_gguf(hf.clone()), gguf);

    // Older configs (a pattern number, no layer_types) and newer ones (rope_parameters per
    // layer kind) read the same.
    let older = GEMMA3_CONFIG.replace("\"layer_types\"", "\"unused_layer_types\"");
    let older = older.replace("\"_sliding_window_pattern\"", "\"sliding_window_pattern\"");
    assert_eq!(ModelConfig::from_hf_config(&older, None).unwrap(), hf);
    let newer = GEMMA3_CONFIG
        .replace("\"rope_local_base_freq\": 10000.0,", "")
        .replace(
            "\"rope_theta\": 1000000.0,",
            r#""rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}
            },"#,
        );
    assert_eq!(ModelConfig::from_hf_config(&newer, None).unwrap(), hf);
    // Multimodal checkpoints nest the same fields in text_config.
    let nested = format!(r#"{{"model_type": "gemma3", "text_config": {GEMMA3_CONFIG}}}"#);
    assert_eq!(ModelConfig::from_hf_config(&nested, None).unwrap(), hf);
}

fn minilm_file(name: &str) -> String {
    let bytes = model_file(&format!("all-minilm-l6-v2/{name}"), "all-minilm-l6-v2");
    String::from_utf8(bytes).unwrap()
}

#[test]
fn minilm_config_json_and_pooling_parse() {
    let c = ModelConfig::from_hf_config(
        &minilm_file("config.json"),
        Some(&minilm_file("pooling_config.json")),
    )
    .unwrap();
    assert_eq!(c.architecture, Architecture::Bert);
    assert_eq!(
        (
            c.n_layers,
            c.hidden_size,
            c.ffn_size,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim
        ),
        (6, 384, 1536, 12, 12, 32)
    );
    assert_eq!(
        (c.vocab_size, c.context_length, c.type_vocab_size),
        (30522, 512, 2)
    );
    assert_eq!((c.norm.kind, c.norm.eps), (NormKind::Layer, 1e-12));
    assert_eq!((c.activation, c.gated_ffn), (Activation::Gelu, false));
    assert!(!c.attention.causal);
    assert_eq!(c.rope, None);
    assert_eq!(c.pooling, Some(Pooling::Mean));
    assert!(!c.tied_output);

    // The BERT vocabulary fixture from llama.cpp (bge-small) describes the same shape but for
    // its 12 layers, through GGUF keys: the two readers agree field by field.
    let bytes = model_file("tokenizer-fixtures/ggml-vocab-bert-bge.gguf", "--all");
    let bge = ModelConfig::from_gguf(GgufFile::open(&bytes).unwrap().header()).unwrap();
    let mut expected = c.clone();
    expected.source = Source::Gguf;
    expected.n_layers = 12;
    expected.pooling = None; // this GGUF has no pooling_type key
    assert_eq!(bge, expected);
}

/// A GGUF header with `arch` and the given `{arch}.…` keys (u32 unless a float is given).
fn gguf_with(arch: &str, keys: &[(&str, MetadataValue)]) -> Result<ModelConfig, ConfigError> {
    let mut w = GgufWriter::new(3);
    w.add_metadata("general.architecture", MetadataValue::String(arch.into()));
    for (k, v) in keys {
        w.add_metadata(format!("{arch}.{k}"), v.clone());
    }
    w.add_metadata(
        "tokenizer.ggml.tokens",
        MetadataValue::Array(MetadataArray::String(vec!["a".into(), "b".into()])),
    );
    let bytes = w.to_bytes();
    let file = GgufFile::open(&bytes).unwrap();
    ModelConfig::from_gguf(file.header())
}

fn llama_keys() -> Vec<(&'static str, MetadataValue)> {
    use MetadataValue::{F32, U32};
    vec![
        ("block_count", U32(2)),
        ("embedding_length", U32(64)),
        ("feed_forward_length", U32(128)),
        ("attention.head_count", U32(4)),
        ("attention.head_count_kv", U32(2)),
        ("context_length", U32(256)),
        ("attention.layer_norm_rms_epsilon", F32(1e-5)),
    ]
}

fn with(
    mut keys: Vec<(&'static str, MetadataValue)>,
    key: &'static str,
    v: MetadataValue,
) -> Vec<(&'static str, MetadataValue)> {
    keys.retain(|(k, _)| *k != key);
    keys.push((key, v));
    keys
}

#[track_caller]
fn assert_err(result: Result<ModelConfig, ConfigError>, needle: &str) {
    match result {
        Ok(c) => panic!("expected an error containing {needle:?}, got {c:?}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "{e:?} does not contain {needle:?}"
        ),
    }
}

#[test]
fn gguf_configs_fall_back_to_llama_cpp_defaults_and_reject_nonsense() {
    use MetadataValue::{F32, String as Str, U32};
    let c = gguf_with("llama", &llama_keys()).unwrap();
    // head size from hidden / heads, rope base 10000, dims = head size, vocab from tokens.
    assert_eq!((c.head_dim, c.vocab_size), (16, 2));
    assert_eq!(c.rope.unwrap().base, 10_000.0);
    assert_eq!(c.rope.unwrap().dims, 16);
    let c = gguf_with(
        "llama",
        &with(llama_keys(), "rope.scaling.type", Str("linear".into())),
    )
    .unwrap();
    assert_eq!(
        c.rope.unwrap().scaling,
        RopeScaling::None,
        "no factor, no scaling"
    );
    let mut keys = with(llama_keys(), "rope.scaling.type", Str("linear".into()));
    keys.push(("rope.scaling.factor", F32(8.0)));
    assert_eq!(
        gguf_with("llama", &keys).unwrap().rope.unwrap().scaling,
        RopeScaling::Linear { factor: 8.0 }
    );

    assert_err(
        gguf_with("qwen2", &llama_keys()),
        "unsupported architecture 'qwen2' (GGUF general.architecture); supported: llama, gemma3, bert",
    );
    assert_err(
        gguf_with(
            "llama",
            &with(llama_keys(), "attention.head_count_kv", U32(3)),
        ),
        "4 attention heads cannot be shared evenly by 3 key/value heads",
    );
    assert_err(
        gguf_with("llama", &with(llama_keys(), "attention.head_count", U32(5))),
        "hidden size 64 does not split into 5 heads",
    );
    assert_err(
        gguf_with("llama", &with(llama_keys(), "feed_forward_length", U32(0))),
        "invalid model config: ffn_size is 0",
    );
    assert_err(
        gguf_with(
            "llama",
            &with(llama_keys(), "attention.layer_norm_rms_epsilon", F32(-1.0)),
        ),
        "norm epsilon must be a positive number, got -1",
    );
    assert_err(
        gguf_with(
            "llama",
            &with(llama_keys(), "rope.dimension_count", U32(15)),
        ),
        "rope dimensions 15 must be even",
    );
    assert_err(
        gguf_with(
            "llama",
            &with(llama_keys(), "rope.scaling.type", Str("yarn".into())),
        ),
        "rope scaling 'yarn' is not supported",
    );
    let mut missing = llama_keys();
    missing.retain(|(k, _)| *k != "block_count");
    assert_err(
        gguf_with("llama", &missing),
        "metadata key 'llama.block_count' is missing",
    );
    assert_err(
        gguf_with(
            "llama",
            &with(llama_keys(), "context_length", Str("8k".into())),
        ),
        "metadata key 'llama.context_length' has type STRING",
    );

    // Gemma 3's sliding-window pattern, given as one bool per layer.
    let mut gemma = llama_keys();
    gemma.push(("attention.sliding_window", U32(64)));
    let c = gguf_with("gemma3", &gemma).unwrap();
    assert_eq!(
        c.attention.layout,
        AttentionLayout::Interleaved {
            window: 64,
            global_every: 6
        }
    );
    let pattern = |v: Vec<bool>| MetadataValue::Array(MetadataArray::Bool(v));
    let c = gguf_with(
        "gemma3",
        &with(
            gemma.clone(),
            "attention.sliding_window_pattern",
            pattern(vec![true, false]),
        ),
    )
    .unwrap();
    assert_eq!(
        c.attention.layout,
        AttentionLayout::Interleaved {
            window: 64,
            global_every: 2
        }
    );
    assert_err(
        gguf_with(
            "gemma3",
            &with(
                gemma.clone(),
                "attention.sliding_window_pattern",
                pattern(vec![true]),
            ),
        ),
        "lists 1 layers but the model has 2",
    );
}

#[test]
fn bad_config_json_gives_clear_errors() {
    assert_err(
        ModelConfig::from_hf_config(r#"{"model_type": "mistral"}"#, None),
        "unsupported architecture 'mistral' (config.json model_type); supported: llama, gemma3, bert",
    );
    assert_err(
        ModelConfig::from_hf_config("{", None),
        "config.json is not valid JSON: EOF while parsing",
    );
    assert_err(
        ModelConfig::from_hf_config("[]", None),
        "the top level is not an object",
    );
    assert_err(
        ModelConfig::from_hf_config("{}", None),
        "config.json: 'model_type' is missing",
    );
    let edit = |from: &str, to: &str| {
        assert!(SMOLLM2_CONFIG.contains(from), "{from}");
        ModelConfig::from_hf_config(&SMOLLM2_CONFIG.replace(from, to), None)
    };
    assert_err(
        edit("\"hidden_size\": 576,", "\"hidden_size\": -576,"),
        "config.json: 'hidden_size' must be an integer from 0 to 4294967295, got -576",
    );
    assert_err(
        edit("\"hidden_size\": 576,", ""),
        "config.json: 'hidden_size' is missing",
    );
    assert_err(
        edit("\"num_key_value_heads\": 3,", "\"num_key_value_heads\": 4,"),
        "9 attention heads cannot be shared evenly by 4 key/value heads",
    );
    assert_err(
        edit("\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\""),
        "'hidden_act' names an unsupported activation 'relu'",
    );
    assert_err(
        edit("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""),
        "'hidden_act' is Gelu, but llama models use Silu",
    );
    assert_err(
        edit(
            "\"rope_scaling\": null",
            r#""rope_scaling": {"rope_type": "llama3", "factor": 8.0}"#,
        ),
        "rope scaling 'llama3' is not supported (only linear)",
    );
    assert_eq!(
        edit(
            "\"rope_scaling\": null",
            r#""rope_scaling": {"type": "linear", "factor": 4}"#,
        )
        .unwrap()
        .rope
        .unwrap()
        .scaling,
        RopeScaling::Linear { factor: 4.0 }
    );
    // `tie_word_embeddings` defaults as in `transformers`: false for Llama, true for Gemma 3.
    assert!(
        !edit("\"tie_word_embeddings\": true,", "")
            .unwrap()
            .tied_output
    );
    let gemma = ModelConfig::from_hf_config(&GEMMA3_CONFIG.replace("\"head_dim\": 256,", ""), None);
    assert_eq!(gemma.unwrap().head_dim, 256, "Gemma3TextConfig default");
    let irregular = GEMMA3_CONFIG.replacen(
        "\"sliding_attention\", \"full_attention\"",
        "\"full_attention\", \"sliding_attention\"",
        1,
    );
    assert_err(
        ModelConfig::from_hf_config(&irregular, None),
        "'layer_types' has global layers that do not repeat with a fixed period",
    );
}

#[test]
fn pooling_config_must_name_exactly_one_mode() {
    let bert = minilm_file("config.json");
    let pooling = |json: &str| ModelConfig::from_hf_config(&bert, Some(json));
    assert_eq!(
        pooling(r#"{"pooling_mode_cls_token": true}"#)
            .unwrap()
            .pooling,
        Some(Pooling::Cls)
    );
    assert_err(
        pooling("{}"),
        "pooling config.json: no pooling_mode_* is set",
    );
    assert_err(
        pooling(r#"{"pooling_mode_cls_token": true, "pooling_mode_max_tokens": true}"#),
        "several pooling modes [Cls, Max]",
    );
    assert_err(
        pooling(r#"{"word_embedding_dimension": 768, "pooling_mode_mean_tokens": true}"#),
        "'word_embedding_dimension' is 768 but the model's hidden size is 384",
    );
}
