//! One forward pass recorded into one [`Batch`]: the same math as `crate::reference`, on the
//! GPU. Prefill (T tokens) and decode (T = 1) multiply with `quant_matvec`, which takes a
//! prompt's tokens a few at a time (see [`linear`]).
//!
//! Scratch tensors are simply dropped when no longer needed: a dropped tensor's buffer goes back
//! to the pool and a later launcher of the same batch may get it, which is safe because every
//! launcher writes its output with a dispatch recorded after the last read of the old contents
//! (commands run in order). The only `queue.write_buffer` of the pass, the token ids, is uploaded
//! before recording starts and held by the batch, so it cannot land in a recycled buffer.

use lantern_core::config::{
    Activation as ConfigActivation, AttentionLayout, ModelConfig, RopeScaling,
    RopeStyle as ConfigRopeStyle,
};
use lantern_gpu::ops::{
    self, Activation, AttentionParams, HeadTransform, Heads, KvCache, RmsNorm, Rope, RopeStyle,
};
use lantern_gpu::quant::QuantMatrix;
use lantern_gpu::{Batch, Precision, Tensor};

use super::weights::{FeedForward, Weights};
use super::{ModelError, Result};

/// Per-layer constants of the pass, worked out once from the config at load.
pub(super) struct Plan {
    pub norm: RmsNorm,
    pub activation: Activation,
    pub embedding_scale: f32,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub final_logit_softcap: Option<f32>,
    pub precision: Precision,
    pub layers: Vec<LayerPlan>,
}

pub(super) struct LayerPlan {
    pub rope: Option<Rope>,
    pub attention: AttentionParams,
}

impl Plan {
    /// Soft-capping (Gemma 2 style) of read-back logits, where the model has it: it touches
    /// only the vector read back, so it is done on the CPU.
    pub fn soft_cap(&self, logits: &mut [f32]) {
        if let Some(cap) = self.final_logit_softcap {
            for v in logits {
                *v = cap * (*v / cap).tanh();
            }
        }
    }

    pub fn new(c: &ModelConfig, precision: Precision) -> Result<Plan> {
        let activation = match c.activation {
            ConfigActivation::Silu => Activation::Silu,
            ConfigActivation::GeluTanh => Activation::GeluTanh,
            ConfigActivation::Gelu => {
                return Err(ModelError::Unsupported(
                    "the exact (erf) GELU has no GPU kernel; only SiLU and GELU-tanh do".into(),
                ));
            }
        };
        if !c.attention.causal {
            return Err(ModelError::Unsupported(
                "bidirectional attention (an encoder) is not a language model".into(),
            ));
        }
        let mut norm = RmsNorm::new(c.norm.eps);
        norm.weight_offset = c.norm.weight_offset;
        let layers = (0..c.n_layers)
            .map(|l| {
                let sliding = c.is_sliding(l);
                let rope = match (&c.rope, c.rope_base(l)) {
                    (Some(r), Some(base)) => {
                        let style = match r.style {
                            ConfigRopeStyle::Normal => RopeStyle::Normal,
                            ConfigRopeStyle::Neox => RopeStyle::Neox,
                        };
                        let mut rope = Rope::new(style, r.dims as usize, base);
                        // As the reference: linear scaling applies to global layers only.
                        if let RopeScaling::Linear { factor } = r.scaling
                            && !sliding
                        {
                            rope.position_scale = 1.0 / factor;
                        }
                        Some(rope)
                    }
                    _ => None,
                };
                let mut attention = AttentionParams::new(c.attention.query_scale());
                attention.window = match c.attention.layout {
                    AttentionLayout::Interleaved { window, .. } if sliding => Some(window as usize),
                    _ => None,
                };
                LayerPlan { rope, attention }
            })
            .collect();
        Ok(Plan {
            norm,
            activation,
            embedding_scale: c.embedding_scale,
            n_heads: c.n_heads as usize,
            n_kv_heads: c.n_kv_heads as usize,
            head_dim: c.head_dim as usize,
            final_logit_softcap: c.final_logit_softcap,
            precision,
            layers,
        })
    }
}

/// `x·Wᵀ` for `x` of `[T, cols]`, with the matrix-vector kernel for any T: it decodes each weight
/// unit once for `PREFILL_TOKENS` tokens of x. The tiled matrix-matrix kernel (`quant_matmul`)
/// lost everywhere it was measured: on CPU adapters 2.5× (barriers there cost in proportion to a
/// workgroup's size), and on an H200 (Vulkan, SmolLM2, 128-token prompt, `lantern profile`) its
/// products took 432 ms of a 440 ms prefill against 21 ms for this kernel's (72 ms with its
/// smallest tiles): prefill went from 289 to 3846 tokens/s.
fn linear(batch: &mut Batch<'_>, plan: &Plan, x: &Tensor, w: &QuantMatrix) -> Result<Tensor> {
    Ok(ops::quant_matvec(batch, w, x, plan.precision)?)
}

/// The `count` heads that start `first` values into the concatenated rows of `products` (the
/// outputs of a layer's stacked q, k and v matrices, in row order).
fn heads_at(products: &[Tensor], first: usize, count: usize) -> Heads<'_> {
    let mut offset = first;
    for tensor in products {
        let width = tensor.shape()[1];
        if offset < width {
            return Heads {
                tensor,
                offset,
                count,
            };
        }
        offset -= width;
    }
    unreachable!("the products hold q, k and v")
}

/// Records the forward pass of `tokens` at positions `start ..` (writing their keys and values
/// into `caches`) into `batch`, and returns the (not yet computed) `[1, vocab]` logits after the
/// last token.
pub(super) fn record(
    batch: &mut Batch<'_>,
    weights: &Weights,
    plan: &Plan,
    caches: &[KvCache],
    tokens: &[u32],
    start: usize,
) -> Result<Tensor> {
    let gpu = batch.gpu();
    let t = tokens.len();
    let (nh, nkv, hd) = (plan.n_heads, plan.n_kv_heads, plan.head_dim);
    let ids = ops::upload_ids(gpu, tokens, weights.embedding.rows())?;
    let b = batch;

    // The residual stream, [T, hidden], updated in place by each block.
    let x = ops::embedding(b, &weights.embedding, &ids, plan.embedding_scale)?;
    b.hold(ids);
    let mut h = ops::rms_norm(b, &x, &weights.layers[0].attn_norm, plan.norm)?;

    for (l, (layer, lp)) in weights.layers.iter().zip(&plan.layers).enumerate() {
        // Attention block: h is the normalised residual. The q, k and v products (stacked
        // where alike) leave their heads side by side in rows; one dispatch norms and ropes q
        // and k where they lie, and appends k and v to the cache.
        let products = layer
            .qkv
            .iter()
            .map(|m| linear(b, plan, &h, m))
            .collect::<Result<Vec<_>>>()?;
        let [q, k, v] = [(0, nh), (nh, nkv), (nh + nkv, nkv)]
            .map(|(first, count)| heads_at(&products, first * hd, count));
        let transform = HeadTransform {
            qk_norm: match (&layer.q_norm, &layer.k_norm) {
                (Some(qn), Some(kn)) => Some((qn, kn, plan.norm)),
                _ => None,
            },
            rope: lp.rope,
        };
        let q = ops::attention_inputs(b, Some(q), k, v, &transform, &caches[l], start)?
            .expect("queries were given");
        let attn =
            ops::attention(b, &q, &caches[l], start, &lp.attention)?.reshape(&[t, nh * hd])?;
        let attn_out = linear(b, plan, &attn, &layer.o)?;
        // x += attn_out (post-normed where the model has it), and the feed-forward block's
        // pre-norm, in one pass.
        let post = layer.post_attn_norm.as_ref();
        h = ops::add_rms_norm(b, &x, &attn_out, post, &layer.ffn_norm, plan.norm)?;

        let inner = match &layer.ffn {
            FeedForward::Stacked(gate_up) => {
                ops::gated_quant_matvec(b, gate_up, &h, plan.activation, plan.precision)?
            }
            FeedForward::Gated { gate, up } => {
                let up = linear(b, plan, &h, up)?;
                let gate = linear(b, plan, &h, gate)?;
                ops::gated_activation(b, &gate, &up, plan.activation)?
            }
            FeedForward::Plain(up) => {
                let up = linear(b, plan, &h, up)?;
                ops::activation(b, &up, plan.activation)?
            }
        };
        let ffn_out = linear(b, plan, &inner, &layer.down)?;
        // x += ffn_out (post-normed where the model has it), fused with the next norm: the next
        // layer's attention pre-norm, or after the last layer the output norm.
        let next_norm = match weights.layers.get(l + 1) {
            Some(next) => &next.attn_norm,
            None => &weights.output_norm,
        };
        let post = layer.post_ffn_norm.as_ref();
        h = ops::add_rms_norm(b, &x, &ffn_out, post, next_norm, plan.norm)?;
    }

    // Only the last token's logits are needed: project just its (normalised) row.
    let last = if t == 1 {
        h
    } else {
        let hidden = weights.embedding.cols();
        let last = gpu.empty("last hidden state", &[1, hidden])?;
        b.copy(&h, (t - 1) * hidden, &last, 0, hidden)?;
        last
    };
    let output = weights.output.as_ref().unwrap_or(&weights.embedding);
    Ok(ops::quant_matvec(b, output, &last, plan.precision)?)
}
