//! Reading model assets without a GPU: GGUF and safetensors readers (zero-copy,
//! streaming-friendly, every header field checked against the file size), quantized block
//! formats with CPU dequantizers, tokenizers (GGUF vocabularies and `tokenizer.json`), chat
//! templates, samplers and a UTF-8-safe detokenizing stream.
//!
//! Present so far:
//! - [`ggml_type`]: the ggml tensor type table (block size, bytes per block).
//! - [`gguf`]: GGUF v2/v3 reader (prefix/streaming header parse, zero-copy tensor views) and a
//!   small writer for fixtures.
//! - [`quant`]: CPU dequantizers to f32, bit-exact with ggml's reference code.
//!
//! Nothing in the parsing API touches the filesystem, so the crate builds for
//! `wasm32-unknown-unknown`, where model bytes arrive from `fetch` streams.

#[cfg(not(target_arch = "wasm32"))]
pub mod cache;
pub mod ggml_type;
pub mod gguf;
pub mod quant;

pub use ggml_type::GgmlType;
