//! The GPU decoder: Llama (SmolLM2) and Gemma 3 from one implementation driven by
//! [`ModelConfig`], the same math as [`crate::reference`] on `lantern-gpu`'s kernels.
//!
//! - [`weights`]: GGUF tensors streamed into quantized GPU matrices (no dequantized copies), from
//!   any [`ChunkSource`] (`chunks`, where [`read_header`] parses a file's header first).
//! - `forward`: one forward pass recorded into one batch; [`GpuModel`] submits it once and reads
//!   back the last position's logits, or only their top k (selected on the GPU).
//!
//! [`GpuModel`] owns its KV caches (allocated once at load, for [`ModelOptions::max_context`]
//! positions) and implements [`LanguageModel`], so it runs through the shared generation loop.

mod chunks;
mod forward;
pub mod weights;

use std::ops::Deref;

use lantern_core::GgmlType;
use lantern_core::config::{Architecture, ModelConfig};
use lantern_core::gguf::{GgufFile, GgufHeader};
use lantern_gpu::ops::{self, KvCache};
use lantern_gpu::{Batch, Gpu, GpuError, Precision, Tensor};
use thiserror::Error;

use crate::generate::{GenerateError, LanguageModel};
pub use chunks::{ChunkSource, HeaderFirst, SliceChunks, read_header};
use forward::Plan;
pub use weights::weight_format;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("model config: {0}")]
    Config(#[from] lantern_core::config::ConfigError),
    #[error("model file: {0}")]
    Gguf(#[from] lantern_core::gguf::GgufError),
    #[error("GPU: {0}")]
    Gpu(#[from] GpuError),
    #[error("architecture {0:?} is not a decoder this model runs (llama and gemma3 are)")]
    UnsupportedArchitecture(Architecture),
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("tensor '{name}' has type {ty:?}, which the GPU kernels do not read")]
    UnsupportedTensorType { name: String, ty: GgmlType },
    #[error("tensor '{0}' is missing")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<u64>,
        got: Vec<u64>,
    },
    #[error("the model file ended {missing_bytes} bytes before its last tensor")]
    Truncated { missing_bytes: u64 },
    #[error("reading the model file: {0}")]
    Source(String),
    #[error(
        "{tokens} tokens at position {position} do not fit the KV cache of {max_context} positions"
    )]
    ContextOverflow {
        position: usize,
        tokens: usize,
        max_context: usize,
    },
    #[error("forward needs at least one token")]
    NoTokens,
}

pub type Result<T> = std::result::Result<T, ModelError>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelOptions {
    /// Positions the KV caches hold: the model's context length, capped at this. Default 4096,
    /// which keeps the caches of both target models under 200 MB.
    pub max_context: usize,
    /// Bytes per chunk when a file already in memory is streamed into the GPU. Default 16 MiB.
    pub chunk_bytes: usize,
    /// What the weight products compute in. Default f32, the path compared with the reference
    /// tightly; f16 needs the adapter's `shader-f16` (loading says so when it is missing).
    pub precision: Precision,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            max_context: 4096,
            chunk_bytes: 16 << 20,
            precision: Precision::F32,
        }
    }
}

/// `G` is how the model holds its device: `&Gpu` natively, `Rc<Gpu>` where the model must own
/// a share of it (a wasm object JavaScript keeps).
pub struct GpuModel<G: Deref<Target = Gpu>> {
    gpu: G,
    config: ModelConfig,
    weights: weights::Weights,
    plan: Plan,
    /// One per layer, `max_context` positions each.
    caches: Vec<KvCache>,
    /// Positions filled: where the next token goes.
    position: usize,
}

impl<G: Deref<Target = Gpu>> GpuModel<G> {
    /// Loads a model from a whole GGUF file in memory, streaming it through the same path a
    /// download would take.
    pub async fn from_gguf_bytes(
        gpu: G,
        bytes: &[u8],
        options: &ModelOptions,
    ) -> Result<GpuModel<G>> {
        let file = GgufFile::open(bytes)?;
        let mut source = SliceChunks::new(bytes, options.chunk_bytes);
        Self::from_stream(gpu, file.header(), &mut source, options).await
    }

    /// Loads a model from its parsed header and the file's bytes from position 0, chunk by
    /// chunk (header bytes included: the tensor stream skips them).
    pub async fn from_stream(
        gpu: G,
        header: &GgufHeader,
        source: &mut impl ChunkSource,
        options: &ModelOptions,
    ) -> Result<GpuModel<G>> {
        let config = ModelConfig::from_gguf(header)?;
        match config.architecture {
            Architecture::Llama | Architecture::Gemma3 => {}
            other => return Err(ModelError::UnsupportedArchitecture(other)),
        }
        // Before any weight is loaded, rather than at the first forward pass.
        gpu.check_precision("f16 precision", options.precision)?;
        let plan = Plan::new(&config, options.precision)?;
        let weights = weights::load(&gpu, header, &config, source).await?;
        let max_context = (config.context_length as usize).min(options.max_context.max(1));
        let caches = (0..config.n_layers)
            .map(|_| {
                KvCache::new(
                    &gpu,
                    max_context,
                    config.n_kv_heads as usize,
                    config.head_dim as usize,
                )
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(GpuModel {
            gpu,
            config,
            weights,
            plan,
            caches,
            position: 0,
        })
    }

    /// The device the model lives on.
    pub fn gpu(&self) -> &G {
        &self.gpu
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// What the weight products compute in.
    pub fn precision(&self) -> Precision {
        self.plan.precision
    }

    /// Positions the KV cache holds.
    pub fn max_context(&self) -> usize {
        self.caches[0].max_ctx()
    }

    /// Forgets the conversation: the next token goes to position 0.
    pub fn reset(&mut self) {
        self.position = 0;
    }

    /// Goes back to `position` (≤ the current one), keeping the cache before it: a chat can
    /// drop a reply and regenerate it without recomputing the prompt.
    pub fn rewind(&mut self, position: usize) {
        self.position = self.position.min(position);
    }

    /// GPU bytes of the weights one decode step reads (every layer's matrices and the output
    /// projection).
    pub fn decode_weight_bytes(&self) -> u64 {
        self.weights.decode_bytes()
    }

    /// Multiply-adds of a forward pass over a `tokens`-token prompt from position 0: every
    /// layer's matrices once per token, causal attention (query·key scores and the weighted sum
    /// of values, over the keys each layer's window lets a position see), and the output
    /// projection once, as only the last token's logits are computed. Norms, RoPE and the
    /// activation are left out: a few operations per value, against hundreds per weight.
    pub fn prompt_multiply_adds(&self, tokens: usize) -> u64 {
        let per_token: u64 = self
            .weights
            .layer_matrices()
            .map(|m| (m.rows() * m.cols()) as u64)
            .sum();
        let query_width = (self.plan.n_heads * self.plan.head_dim) as u64;
        let attention: u64 = self
            .plan
            .layers
            .iter()
            .map(|layer| {
                let window = layer.attention.window.unwrap_or(usize::MAX);
                let keys_seen: u64 = (1..=tokens).map(|p| p.min(window) as u64).sum();
                2 * query_width * keys_seen
            })
            .sum();
        let output = self.weights.output_projection();
        per_token * tokens as u64 + attention + (output.rows() * output.cols()) as u64
    }

    /// Kernel dispatches a decode step at the current position records (recorded, not run):
    /// on a GPU each costs a few microseconds of launch and barrier whatever its size, which is
    /// what bounds a small model's decode there, so the count is worth watching.
    pub fn decode_dispatches(&self) -> Result<usize> {
        let (batch, _logits) = self.record(&[0])?;
        Ok(batch.dispatch_count())
    }

    /// GPU bytes of all weights.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.total_bytes()
    }

    /// GPU bytes of the KV caches (allocated at load for every position).
    pub fn cache_bytes(&self) -> u64 {
        self.caches
            .iter()
            .map(|c| c.keys().size_bytes() + c.values().size_bytes())
            .sum()
    }

    /// Runs `tokens` at the next positions in one GPU submission and returns the logits after
    /// the last one (`vocab_size` values).
    pub async fn forward_tokens(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let (batch, logits) = self.record(tokens)?;
        let mut logits = batch.submit_and_read(&logits).await?;
        self.plan.soft_cap(&mut logits);
        self.position += tokens.len();
        Ok(logits)
    }

    /// The largest `k` [`forward_top_k`](Self::forward_top_k) takes: the GPU top-k kernel's
    /// limit (or the vocabulary, if smaller); 0 for a model whose logits are soft-capped, where
    /// it is not offered (capping after selection could turn distinct logits into ties that
    /// the selection broke by value rather than by id).
    pub fn max_top_k(&self) -> usize {
        if self.plan.final_logit_softcap.is_some() {
            0
        } else {
            let output = self.weights.output.as_ref();
            let vocab = output.unwrap_or(&self.weights.embedding).rows();
            ops::top_k::MAX_K.min(vocab)
        }
    }

    /// [`forward_tokens`](Self::forward_tokens), in the same single submission, but selecting
    /// the `k` highest logits on the GPU and reading back only those: (id, logit) pairs, best
    /// first, ties to the lower id, exactly the values `forward_tokens` would return.
    /// 1 ≤ `k` ≤ [`max_top_k`](Self::max_top_k).
    pub async fn forward_top_k(&mut self, tokens: &[u32], k: usize) -> Result<Vec<(u32, f32)>> {
        if k == 0 || k > self.max_top_k() {
            return Err(ModelError::Unsupported(format!(
                "top-k forward with k = {k} (this model takes 1..={})",
                self.max_top_k()
            )));
        }
        let (mut batch, logits) = self.record(tokens)?;
        let top = ops::top_k(&mut batch, &logits, k)?;
        let top = ops::decode_top_k(&batch.submit_and_read(&top).await?);
        self.position += tokens.len();
        Ok(top)
    }

    /// Compiles the pipelines that a prefill of `prompt_tokens` tokens at the next positions and
    /// the decode step after it will run (the top-k selection included) and that the device
    /// has not compiled yet, all at once on every core natively (`Gpu::compile_kernels`), so
    /// that the first token does not wait for them one after another. Recording those passes
    /// then compiles nothing. In wasm it does nothing: they are compiled as recorded.
    pub fn compile_kernels(&self, prompt_tokens: usize) -> Result<()> {
        if prompt_tokens == 0 || !Gpu::COMPILES_AHEAD {
            return Ok(());
        }
        let prompt = vec![0; prompt_tokens];
        self.check_fits(&prompt)?;
        let mut listing = self.gpu.kernel_listing("kernels to compile");
        let mut passes = vec![(&prompt[..], self.position)];
        if self.position + prompt_tokens < self.max_context() {
            passes.push((&[0], self.position + prompt_tokens));
        }
        for (tokens, start) in passes {
            let logits = self.record_into(&mut listing, tokens, start)?;
            if self.max_top_k() > 0 {
                ops::top_k(&mut listing, &logits, 1)?;
            }
        }
        self.gpu.compile_kernels(&listing.into_listed_kernels());
        Ok(())
    }

    /// A batch holding the forward pass of `tokens` at the next positions, and the logits
    /// tensor it will compute (kept alive by the caller until the batch is submitted).
    fn record(&self, tokens: &[u32]) -> Result<(Batch<'_>, Tensor)> {
        self.check_fits(tokens)?;
        let label = if tokens.len() == 1 {
            "decode"
        } else {
            "prefill"
        };
        let mut batch = self.gpu.batch(label);
        let logits = self.record_into(&mut batch, tokens, self.position)?;
        Ok((batch, logits))
    }

    /// Records the forward pass of `tokens` at positions from `start` into `batch`.
    fn record_into(&self, batch: &mut Batch<'_>, tokens: &[u32], start: usize) -> Result<Tensor> {
        forward::record(
            batch,
            &self.weights,
            &self.plan,
            &self.caches,
            tokens,
            start,
        )
    }

    fn check_fits(&self, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(ModelError::NoTokens);
        }
        if self.position + tokens.len() > self.max_context() {
            return Err(ModelError::ContextOverflow {
                position: self.position,
                tokens: tokens.len(),
                max_context: self.max_context(),
            });
        }
        Ok(())
    }
}

/// The device keeps bind groups from one step to the next, and they hold this model's weights and
/// KV caches alive: they go with the model.
impl<G: Deref<Target = Gpu>> Drop for GpuModel<G> {
    fn drop(&mut self) {
        self.gpu.forget_bind_groups();
    }
}

impl<G: Deref<Target = Gpu>> LanguageModel for GpuModel<G> {
    fn context_length(&self) -> usize {
        self.max_context()
    }

    fn position(&self) -> usize {
        self.position
    }

    async fn forward(&mut self, tokens: &[u32]) -> std::result::Result<Vec<f32>, GenerateError> {
        self.forward_tokens(tokens)
            .await
            .map_err(|e| GenerateError::Model(e.to_string()))
    }

    fn max_top_k(&self) -> usize {
        GpuModel::max_top_k(self)
    }

    fn compile_kernels(&self, prompt_tokens: usize) -> std::result::Result<(), GenerateError> {
        GpuModel::compile_kernels(self, prompt_tokens)
            .map_err(|e| GenerateError::Model(e.to_string()))
    }

    async fn forward_top_k(
        &mut self,
        tokens: &[u32],
        k: usize,
    ) -> std::result::Result<Vec<(u32, f32)>, GenerateError> {
        GpuModel::forward_top_k(self, tokens, k)
            .await
            .map_err(|e| GenerateError::Model(e.to_string()))
    }
}
