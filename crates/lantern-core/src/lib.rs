//! Reading model assets without a GPU: GGUF and safetensors readers (zero-copy,
//! streaming-friendly, every header field checked against the file size), quantized block
//! formats with CPU dequantizers, tokenizers (GGUF vocabularies and `tokenizer.json`), chat
//! templates, samplers and a UTF-8-safe detokenizing stream.
//!
//! Present so far:
//! - [`chat`]: chat templates (the model's own Jinja template, or a built-in one) to prompt text.
//! - [`config`]: typed model configs (llama, gemma3, bert) from GGUF metadata or `config.json`,
//!   with what the files leave unsaid recorded per architecture.
//! - [`ggml_type`]: the ggml tensor type table (block size, bytes per block).
//! - [`gguf`]: GGUF v2/v3 reader (prefix/streaming header parse, zero-copy tensor views) and a
//!   small writer for fixtures.
//! - [`quant`]: CPU dequantizers to f32, bit-exact with ggml's reference code.
//! - [`safetensors`]: safetensors reader (prefix/streaming header parse, zero-copy views, F32/F16/
//!   BF16 to f32).
//! - [`sampling`]: token samplers (greedy, temperature, top-k/p, min-p, penalties, logit bias)
//!   with a seeded stream that picks the same tokens natively and in wasm.
//!
//! Nothing in the parsing API touches the filesystem, so the crate builds for
//! `wasm32-unknown-unknown`, where model bytes arrive from `fetch` streams.

#[cfg(not(target_arch = "wasm32"))]
pub mod cache;
pub mod chat;
pub mod config;
pub mod ggml_type;
pub mod gguf;
pub mod quant;
pub mod safetensors;
pub mod sampling;
pub mod tokenizer;

pub use ggml_type::GgmlType;
