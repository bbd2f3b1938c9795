//! Model architectures: the Llama family (SmolLM2) and Gemma 3, with the generation loop and its
//! KV cache.
//!
//! Present so far:
//! - [`generate`]: the generation loop (sampling, streamed text, stop strings, cancellation,
//!   context limits), written once for any [`generate::LanguageModel`].
//! - [`chat`]: a conversation rendered with the model's chat template, reusing the KV cache's
//!   common prefix from turn to turn.
//! - [`reference`]: a plain f32 forward pass on the CPU, written independently of the GPU code.
//!   It is the yardstick the GPU model's logits and greedy tokens are compared with.
//! - [`model`]: the GPU decoder ([`model::GpuModel`]) on `lantern-gpu`'s kernels, weights kept
//!   quantized, loaded by streaming the GGUF file's tensors.

pub mod chat;
pub mod generate;
pub mod model;
pub mod reference;
