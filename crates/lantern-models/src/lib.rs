//! Model architectures on `lantern-gpu` — filled by the text-generation issue: the Llama family
//! (SmolLM2) and Gemma 3, one implementation each with quantization a property of the weight
//! tensor, and the generation loop with its KV cache.
//!
//! Nothing lives here yet; the crate exists so the workspace has its final shape.
