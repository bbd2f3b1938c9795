//! Reading model assets without a GPU — filled by the model-files issue: GGUF and safetensors
//! readers (zero-copy, streaming-friendly, every header field checked against the file size),
//! quantized block formats with CPU dequantizers, tokenizers (GGUF vocabularies and
//! `tokenizer.json`), chat templates, samplers and a UTF-8-safe detokenizing stream.
//!
//! Nothing lives here yet; the crate exists so the workspace has its final shape.
