//! What the files do not say, per architecture.
//!
//! GGUF metadata carries sizes and a few hyper-parameters; everything else is implied by the
//! architecture name and lives in llama.cpp's code (`src/models/<arch>.cpp`,
//! `llama_model_rope_type`, the converter `convert_hf_to_gguf.py`). `config.json` is more
//! complete but still omits what `transformers` hard-codes in the modelling file. Each fact is
//! recorded here once, with where it comes from, and both readers use it.

use super::{Activation, Architecture, NormKind, RopeStyle};

/// The fixed facts of one architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArchDefaults {
    pub norm: NormKind,
    pub activation: Activation,
    pub gated_ffn: bool,
    pub causal: bool,
    pub qk_norm: bool,
    /// Rope pairing for GGUF weights (`None`: no rope, learned positions).
    pub rope_style_gguf: Option<RopeStyle>,
    /// Rope pairing for the original Hugging Face weights.
    pub rope_style_hf: Option<RopeStyle>,
    /// Rope base when the file gives none (llama.cpp's and `transformers`' default).
    pub rope_base: f32,
    /// Rope base of sliding-window layers when the file gives none.
    pub local_rope_base: Option<f32>,
    /// Every n-th layer is global when the file has a sliding window but no pattern.
    pub global_every: Option<u32>,
    /// Token embeddings are scaled by `sqrt(hidden_size)`.
    pub scale_embeddings_by_sqrt_hidden: bool,
    /// Added to norm weights from safetensors; GGUF weights already include it.
    pub hf_norm_weight_offset: f32,
    /// `tie_word_embeddings` when `config.json` omits it (the `transformers` config default).
    /// GGUF says it by leaving out `output.weight`.
    pub hf_tied_output: bool,
}

/// Llama (SmolLM2): pre-norm RMSNorm, SwiGLU, grouped-query attention, rope on every layer.
pub const LLAMA: ArchDefaults = ArchDefaults {
    norm: NormKind::Rms,
    // `hidden_act: "silu"` in config.json; llama.cpp's llama graph uses LLM_FFN_SILU, gated.
    activation: Activation::Silu,
    gated_ffn: true,
    causal: true,
    qk_norm: false,
    // llama.cpp lists LLM_ARCH_LLAMA under LLAMA_ROPE_TYPE_NORM because its converter permutes
    // the q/k projection rows (`LlamaModel.permute`); the HF weights use `rotate_half`.
    rope_style_gguf: Some(RopeStyle::Normal),
    rope_style_hf: Some(RopeStyle::Neox),
    rope_base: 10_000.0,
    local_rope_base: None,
    global_every: None,
    scale_embeddings_by_sqrt_hidden: false,
    hf_norm_weight_offset: 0.0,
    // `LlamaConfig.tie_word_embeddings` defaults to false (SmolLM2 sets it to true).
    hf_tied_output: false,
};

/// Gemma 3 (270M … 27B text): sandwich RMSNorm (before and after attention and FFN), GeGLU,
/// QK-norm, five sliding-window layers per global one.
pub const GEMMA3: ArchDefaults = ArchDefaults {
    norm: NormKind::Rms,
    // `hidden_activation: "gelu_pytorch_tanh"`; llama.cpp: LLM_FFN_GELU (tanh form), gated.
    activation: Activation::GeluTanh,
    gated_ffn: true,
    causal: true,
    // `attn_q_norm`/`attn_k_norm` tensors; `Gemma3Attention.q_norm`/`k_norm`.
    qk_norm: true,
    // LLM_ARCH_GEMMA3 is under LLAMA_ROPE_TYPE_NEOX and its weights are not permuted.
    rope_style_gguf: Some(RopeStyle::Neox),
    rope_style_hf: Some(RopeStyle::Neox),
    // Global layers; `Gemma3TextConfig.rope_theta` defaults to 1e6 and GGUF files carry it.
    rope_base: 1_000_000.0,
    // Local layers use 10 000 (`rope_local_base_freq`). GGUF files converted before the
    // `rope.freq_base_swa` key existed (the 270M one here) do not say so; llama.cpp falls back
    // to `rope_freq_base_train_swa = 10000`.
    local_rope_base: Some(10_000.0),
    // llama.cpp `load_swa_pattern(ml, 6)`: layer il is global when il % 6 == 5;
    // `Gemma3TextConfig.sliding_window_pattern = 6`.
    global_every: Some(6),
    // `Gemma3TextScaledWordEmbedding` multiplies by `hidden_size ** 0.5` (rounded to the
    // weights' dtype there; llama.cpp uses the f32 `sqrtf(n_embd)`, as we do).
    scale_embeddings_by_sqrt_hidden: true,
    // `Gemma3RMSNorm` computes `x * (1 + w)`; the converter's `norm_shift` adds the 1 to every
    // `*norm.weight` (q/k norms included), so only safetensors weights need it.
    hf_norm_weight_offset: 1.0,
    hf_tied_output: true,
};

/// BERT encoders (all-MiniLM-L6-v2): post-norm LayerNorm, plain GELU FFN, learned absolute
/// positions and token types, bidirectional attention.
pub const BERT: ArchDefaults = ArchDefaults {
    norm: NormKind::Layer,
    // `hidden_act: "gelu"` is the exact erf form in `transformers`.
    activation: Activation::Gelu,
    gated_ffn: false,
    causal: false,
    qk_norm: false,
    rope_style_gguf: None,
    rope_style_hf: None,
    rope_base: 10_000.0,
    local_rope_base: None,
    global_every: None,
    scale_embeddings_by_sqrt_hidden: false,
    hf_norm_weight_offset: 0.0,
    // An encoder has no language-model head here.
    hf_tied_output: false,
};

impl Architecture {
    pub const fn defaults(self) -> &'static ArchDefaults {
        match self {
            Self::Llama => &LLAMA,
            Self::Gemma3 => &GEMMA3,
            Self::Bert => &BERT,
        }
    }
}

/// Gemma's query scale when GGUF does not give one (llama.cpp `llama_model_gemma3`): the head
/// size, except for the 62-layer 27B model, which was trained with `hidden / n_heads`
/// (`query_pre_attn_scalar: 168` in its config.json).
pub fn gemma3_query_pre_attn_scalar(
    n_layers: u32,
    hidden: u32,
    n_heads: u32,
    head_dim: u32,
) -> f32 {
    if n_layers == 62 && n_heads != 0 {
        (hidden / n_heads) as f32
    } else {
        head_dim as f32
    }
}
