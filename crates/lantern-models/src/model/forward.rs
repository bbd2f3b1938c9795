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
    self, Activation, AttentionParams, HeadTransform, Heads, KvCache, Product, RmsNorm, Rope,
    RopeStyle, WeightedStream,
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

/// What a block's products multiply: the residual stream through the block's pre-norm.
enum BlockInput<'a> {
    /// Normed already: by a norm kernel, or by one fused with the residual add (post-norms).
    Normed(Tensor),
    /// The residual stream `x`, which the products norm by `weight` themselves as they read it
    /// (decode on CPU adapters: [`Product::normed`]), saving the norm's dispatch.
    Normalising { x: &'a Tensor, weight: &'a Tensor },
    /// The residual stream already multiplied by the norm's weight, with partial sums of its
    /// squares, by the product that last added into it ([`Product::add_into_weighing`]): the
    /// products only scale their sums ([`Product::weighted`]), where `Normalising` has each of
    /// their invocations go over x twice more.
    Weighted(WeightedStream),
}

impl<'a> BlockInput<'a> {
    /// The residual stream `x` through the norm `weight`, for products like `w`: normed by the
    /// products where they can, else by one norm kernel for all of them.
    fn new(
        b: &mut Batch<'_>,
        plan: &Plan,
        x: &'a Tensor,
        weight: &'a Tensor,
        w: &QuantMatrix,
    ) -> Result<Self> {
        if Product::new(w, x).normalises_input(b.gpu()) {
            Ok(BlockInput::Normalising { x, weight })
        } else {
            Ok(BlockInput::Normed(ops::rms_norm(b, x, weight, plan.norm)?))
        }
    }

    /// The product of `w` with this input, in the plan's precision.
    fn product<'p>(&'p self, plan: &Plan, w: &'p QuantMatrix) -> Product<'p> {
        let product = match self {
            BlockInput::Normed(h) => Product::new(w, h),
            BlockInput::Normalising { x, weight } => Product::new(w, x).normed(weight, plan.norm),
            BlockInput::Weighted(stream) => {
                Product::new(w, &stream.weighted).weighted(&stream.square_sums, plan.norm)
            }
        };
        product.precision(plan.precision)
    }
}

/// After a block, the residual stream `x` += `w`·`inner`, and the next block's input through
/// the norm of `next`: the add in the product's store, unless the block post-norms its output
/// (`post`, Gemma 3), whose add is fused with the next pre-norm instead. `next` is the next
/// norm's weight and, if the next block's products may norm their input themselves, one of
/// their matrices.
fn add_block_output<'a>(
    b: &mut Batch<'_>,
    plan: &Plan,
    x: &'a Tensor,
    (w, inner): (&QuantMatrix, &Tensor),
    post: Option<&Tensor>,
    (next_norm, next): (&'a Tensor, Option<&QuantMatrix>),
) -> Result<BlockInput<'a>> {
    if post.is_some() {
        let out = linear(b, plan, inner, w)?;
        let h = ops::add_rms_norm(b, x, &out, post, next_norm, plan.norm)?;
        return Ok(BlockInput::Normed(h));
    }
    let product = Product::new(w, inner).precision(plan.precision);
    // Where the next products would norm their input themselves, this one readies it for them.
    if let Some(next) = next
        && Product::new(next, x).normalises_input(b.gpu())
        && product.weighs_output(b.gpu())
    {
        let stream = product.add_into_weighing(b, x, next_norm, plan.norm)?;
        return Ok(BlockInput::Weighted(stream));
    }
    product.add_into(b, x)?;
    match next {
        Some(next) => BlockInput::new(b, plan, x, next_norm, next),
        None => Ok(BlockInput::Normed(ops::rms_norm(
            b, x, next_norm, plan.norm,
        )?)),
    }
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
    let first = &weights.layers[0];
    let mut input = BlockInput::new(b, plan, &x, &first.attn_norm, &first.qkv[0])?;

    for (l, (layer, lp)) in weights.layers.iter().zip(&plan.layers).enumerate() {
        // Attention block. The q, k and v products (stacked where alike) leave their heads side
        // by side in rows; one dispatch norms and ropes q and k where they lie, and appends k
        // and v to the cache.
        let products = layer
            .qkv
            .iter()
            .map(|m| Ok(input.product(plan, m).record(b)?))
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
        let post = layer.post_attn_norm.as_ref();
        let ffn_first = match &layer.ffn {
            FeedForward::Stacked(m) | FeedForward::Gated { up: m, .. } | FeedForward::Plain(m) => m,
        };
        let next = (&layer.ffn_norm, Some(ffn_first));
        input = add_block_output(b, plan, &x, (&layer.o, &attn), post, next)?;

        let inner = match &layer.ffn {
            FeedForward::Stacked(gate_up) => input
                .product(plan, gate_up)
                .gated(plan.activation)
                .record(b)?,
            FeedForward::Gated { gate, up } => {
                let up = input.product(plan, up).record(b)?;
                let gate = input.product(plan, gate).record(b)?;
                ops::gated_activation(b, &gate, &up, plan.activation)?
            }
            FeedForward::Plain(up) => {
                let up = input.product(plan, up).record(b)?;
                ops::activation(b, &up, plan.activation)?
            }
        };
        // The next norm: the next layer's attention pre-norm, or after the last layer the
        // output norm, which a norm kernel applies (`None`): the output projection is the
        // largest product, where normalising in the product cost more than the dispatch it saves
        // (lavapipe, `examples/matvec_speed.rs --normed`, alternating runs: SmolLM2's Q8_0
        // projection took 6.6–10.9 ms against 6.4–8.2, its Q4_1 1536×576 products 0.13–0.16 ms
        // against 0.12–0.16, where a norm dispatch costs ~75 µs).
        let next = match weights.layers.get(l + 1) {
            Some(next) => (&next.attn_norm, Some(&next.qkv[0])),
            None => (&weights.output_norm, None),
        };
        let post = layer.post_ffn_norm.as_ref();
        input = add_block_output(b, plan, &x, (&layer.down, &inner), post, next)?;
    }

    // Only the last token's logits are needed: project just its (normalised) row.
    let output = weights.output.as_ref().unwrap_or(&weights.embedding);
    let input = match input {
        BlockInput::Normed(h) if t > 1 => {
            let hidden = weights.embedding.cols();
            let last = gpu.empty("last hidden state", &[1, hidden])?;
            b.copy(&h, (t - 1) * hidden, &last, 0, hidden)?;
            BlockInput::Normed(last)
        }
        input => input,
    };
    Ok(input.product(plan, output).record(b)?)
}
