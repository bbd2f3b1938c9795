//! The reference forward pass: weights dequantized to f32, every operation written out as the
//! plain math of the architecture, one token at a time, dot products accumulated in f64. Slow by
//! design and meant to be obviously right rather than fast; the GPU model is checked against it.
//!
//! One decoder serves Llama and Gemma 3 because [`ModelConfig`] spells out where they differ
//! (norm placement, QK-norm, rope layout and base per layer, sliding windows, activation,
//! embedding scale).

mod math;
mod weights;

use lantern_core::config::{ModelConfig, RopeScaling};
use lantern_core::gguf::GgufFile;
use thiserror::Error;

pub use weights::Weights;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReferenceError {
    #[error("model config: {0}")]
    Config(#[from] lantern_core::config::ConfigError),
    #[error("tensor '{0}' is missing")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<u64>,
        got: Vec<u64>,
    },
    #[error("tensor '{name}': {reason}")]
    Tensor { name: String, reason: String },
    #[error("token id {id} is outside the vocabulary ({vocab} tokens)")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("position {0} is past the model's context")]
    ContextFull(usize),
}

pub type Result<T> = std::result::Result<T, ReferenceError>;

/// Keys and values of every position seen so far, per layer.
pub struct ReferenceCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    len: usize,
}

impl ReferenceCache {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

pub struct ReferenceModel {
    config: ModelConfig,
    weights: Weights,
}

impl ReferenceModel {
    /// Reads the config and dequantizes every weight of a GGUF model.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let config = ModelConfig::from_gguf(file.header())?;
        let weights = Weights::from_gguf(file, &config)?;
        Ok(ReferenceModel { config, weights })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn new_cache(&self) -> ReferenceCache {
        let n = self.config.n_layers as usize;
        ReferenceCache {
            keys: vec![Vec::new(); n],
            values: vec![Vec::new(); n],
            len: 0,
        }
    }

    /// Runs `token` at the next position of `cache` and returns the logits that predict the
    /// token after it.
    pub fn step(&self, cache: &mut ReferenceCache, token: u32) -> Result<Vec<f32>> {
        let c = &self.config;
        let w = &self.weights;
        let pos = cache.len;
        if pos >= c.context_length as usize {
            return Err(ReferenceError::ContextFull(pos));
        }
        let vocab = w.embedding.rows;
        if token as usize >= vocab {
            return Err(ReferenceError::TokenOutOfRange { id: token, vocab });
        }
        let (hd, n_heads, n_kv) = (
            c.head_dim as usize,
            c.n_heads as usize,
            c.n_kv_heads as usize,
        );
        let eps = c.norm.eps;

        let mut x: Vec<f32> = w
            .embedding
            .row(token as usize)
            .iter()
            .map(|v| v * c.embedding_scale)
            .collect();

        for (l, layer) in w.layers.iter().enumerate() {
            // Attention block.
            let h = math::rms_norm(&x, &layer.attn_norm, eps);
            let mut q = layer.q.matvec(&h);
            let mut k = layer.k.matvec(&h);
            let v = layer.v.matvec(&h);
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                for head in q.chunks_mut(hd) {
                    head.copy_from_slice(&math::rms_norm(head, qn, eps));
                }
                for head in k.chunks_mut(hd) {
                    head.copy_from_slice(&math::rms_norm(head, kn, eps));
                }
            }
            if let (Some(rope), Some(base)) = (&c.rope, c.rope_base(l as u32)) {
                let position = match rope.scaling {
                    RopeScaling::Linear { factor } if !c.is_sliding(l as u32) => {
                        pos as f64 / factor as f64
                    }
                    _ => pos as f64,
                };
                for head in q.chunks_mut(hd).chain(k.chunks_mut(hd)) {
                    math::rope(head, rope.dims as usize, base, position, rope.style);
                }
            }
            cache.keys[l].extend_from_slice(&k);
            cache.values[l].extend_from_slice(&v);

            let window = match c.attention.layout {
                lantern_core::config::AttentionLayout::Interleaved { window, .. }
                    if c.is_sliding(l as u32) =>
                {
                    Some(window as usize)
                }
                _ => None,
            };
            // Positions this query may see: all earlier ones, or the last `window` of them.
            let first = window.map_or(0, |w| (pos + 1).saturating_sub(w));
            let scale = c.attention.query_scale() as f64;
            let group = n_heads / n_kv;
            let mut attn = vec![0f32; n_heads * hd];
            for head in 0..n_heads {
                let kv = head / group;
                let qh = &q[head * hd..(head + 1) * hd];
                let scores: Vec<f64> = (first..=pos)
                    .map(|p| {
                        let kp = &cache.keys[l][(p * n_kv + kv) * hd..][..hd];
                        math::dot(qh, kp) * scale
                    })
                    .collect();
                let weights = math::softmax(&scores);
                let out = &mut attn[head * hd..(head + 1) * hd];
                for (p, weight) in (first..=pos).zip(&weights) {
                    let vp = &cache.values[l][(p * n_kv + kv) * hd..][..hd];
                    for (o, &vv) in out.iter_mut().zip(vp) {
                        *o += (weight * vv as f64) as f32;
                    }
                }
            }
            let mut attn_out = layer.o.matvec(&attn);
            if let Some(post) = &layer.post_attn_norm {
                attn_out = math::rms_norm(&attn_out, post, eps);
            }
            math::add_in_place(&mut x, &attn_out);

            // Feed-forward block.
            let h = math::rms_norm(&x, &layer.ffn_norm, eps);
            let up = layer.up.matvec(&h);
            let inner: Vec<f32> = match &layer.gate {
                Some(gate) => gate
                    .matvec(&h)
                    .iter()
                    .zip(&up)
                    .map(|(&g, &u)| math::activate(c.activation, g) * u)
                    .collect(),
                None => up
                    .iter()
                    .map(|&u| math::activate(c.activation, u))
                    .collect(),
            };
            let mut ffn_out = layer.down.matvec(&inner);
            if let Some(post) = &layer.post_ffn_norm {
                ffn_out = math::rms_norm(&ffn_out, post, eps);
            }
            math::add_in_place(&mut x, &ffn_out);
        }
        cache.len += 1;

        let x = math::rms_norm(&x, &w.output_norm, eps);
        let output = w.output.as_ref().unwrap_or(&w.embedding);
        let mut logits = output.matvec(&x);
        if let Some(cap) = c.final_logit_softcap {
            for v in &mut logits {
                *v = cap * (*v / cap).tanh();
            }
        }
        Ok(logits)
    }

    /// Greedy continuation: feeds `prompt`, then appends the argmax token `n` times (lowest id on
    /// ties). Returns only the generated ids.
    pub fn greedy(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        let mut cache = self.new_cache();
        let mut logits = Vec::new();
        for &t in prompt {
            logits = self.step(&mut cache, t)?;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let next = math::argmax(&logits);
            out.push(next);
            if out.len() < n {
                logits = self.step(&mut cache, next)?;
            }
        }
        Ok(out)
    }
}

/// A conversation with the reference model: the model plus its cache, ready for
/// [`crate::generate::generate`].
pub struct ReferenceSession<'m> {
    model: &'m ReferenceModel,
    cache: ReferenceCache,
}

impl ReferenceModel {
    pub fn session(&self) -> ReferenceSession<'_> {
        ReferenceSession {
            model: self,
            cache: self.new_cache(),
        }
    }
}

impl crate::generate::LanguageModel for ReferenceSession<'_> {
    fn context_length(&self) -> usize {
        self.model.config.context_length as usize
    }

    fn position(&self) -> usize {
        self.cache.len
    }

    async fn forward(
        &mut self,
        tokens: &[u32],
    ) -> std::result::Result<Vec<f32>, crate::generate::GenerateError> {
        let mut logits = Vec::new();
        for &token in tokens {
            logits = self
                .model
                .step(&mut self.cache, token)
                .map_err(|e| crate::generate::GenerateError::Model(e.to_string()))?;
        }
        Ok(logits)
    }
}
