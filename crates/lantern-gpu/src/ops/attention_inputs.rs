//! Launcher for `kernels/attention_inputs.wgsl`: a layer's new q, k and v heads made ready for
//! attention in one dispatch — QK-norm and rope on q and k, k and v appended to the [`KvCache`].

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::KernelSource;
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::kv_cache::KvCache;
use crate::ops::launch::row_reduction;
use crate::ops::norm::RmsNorm;
use crate::ops::rope::{Rope, RopeStyle};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("attention_inputs" after "workgroup_sum");

/// `count` heads in each token's row of `tensor`, starting `offset` elements into the row: a
/// projection's whole output, or its share of a stacked QKV product's. `tensor` is `[T, …]`;
/// its row is everything past the first axis.
#[derive(Clone, Copy)]
pub struct Heads<'a> {
    pub tensor: &'a Tensor,
    pub offset: usize,
    pub count: usize,
}

impl<'a> Heads<'a> {
    /// All of `tensor` (`[T, count · head_dim]` or `[T, count, head_dim]`) as `count` heads.
    pub fn all(tensor: &'a Tensor, count: usize) -> Self {
        Heads {
            tensor,
            offset: 0,
            count,
        }
    }
}

/// What happens to q and k heads on their way to attention; v heads are copied as they are.
#[derive(Clone, Copy, Default)]
pub struct HeadTransform<'a> {
    /// QK-norm (Gemma 3): each q head normalised with the first weight, each k head with the
    /// second (both `head_dim` long), before rope.
    pub qk_norm: Option<(&'a Tensor, &'a Tensor, RmsNorm)>,
    pub rope: Option<Rope>,
}

/// Records, for the `T` tokens of the three head sets at cache positions `position ..`:
/// q heads normed and roped into a new `[T, q.count, head_dim]` tensor (returned; `None` when
/// `q` is `None`), k heads normed and roped into `cache`'s keys, v heads copied into its values.
pub fn attention_inputs(
    batch: &mut Batch<'_>,
    q: Option<Heads<'_>>,
    k: Heads<'_>,
    v: Heads<'_>,
    transform: &HeadTransform<'_>,
    cache: &KvCache,
    position: usize,
) -> Result<Option<Tensor>> {
    let op = "attention_inputs";
    let head_dim = cache.head_dim();
    let kv_heads = cache.kv_heads();
    let tokens = k.tensor.shape().first().copied().unwrap_or(0);
    let bad = |why: String| Err(GpuError::Shape(format!("{op}: {why}")));
    if k.count != kv_heads || v.count != kv_heads {
        return bad(format!(
            "{} k and {} v heads given, but the cache holds {kv_heads}",
            k.count, v.count
        ));
    }
    let mut layout = Vec::with_capacity(6);
    for (name, heads) in [("q", q), ("k", Some(k)), ("v", Some(v))] {
        let Some(heads) = heads else {
            layout.extend([0, 0]);
            continue;
        };
        let (offset, stride) = row_layout(name, &heads, tokens, head_dim)?;
        layout.extend([
            dim_u32(op, "offset", offset)?,
            dim_u32(op, "stride", stride)?,
        ]);
    }
    if position.saturating_add(tokens) > cache.max_ctx() {
        return bad(format!(
            "positions {position}..{} are past the cache's {} positions",
            position.saturating_add(tokens),
            cache.max_ctx()
        ));
    }
    if let Some((q_norm, k_norm, _)) = transform.qk_norm
        && (q_norm.shape() != [head_dim] || k_norm.shape() != [head_dim])
    {
        return bad(format!(
            "QK-norm weights of shapes {:?} and {:?} do not match heads of {head_dim}",
            q_norm.shape(),
            k_norm.shape()
        ));
    }
    let table = match &transform.rope {
        Some(rope) => {
            rope.check(head_dim)?;
            rope.turn_table()
        }
        None => Vec::new(),
    };
    // The kernel's table is at least one vec4 long, used or not.
    let freq_vecs = (table.len() / 4).max(1);

    let gpu = batch.gpu();
    let q_heads = q.map_or(0, |q| q.count);
    let q_out = match q {
        Some(_) => Some(gpu.empty("attention queries", &[tokens, q_heads, head_dim])?),
        None => None,
    };
    let slots = tokens * (q_heads + 2 * kv_heads);
    if slots == 0 || head_dim == 0 {
        return Ok(q_out);
    }
    let (eps, weight_offset) = transform
        .qk_norm
        .map_or((0.0, 0.0), |(_, _, n)| (n.eps, n.weight_offset));
    let header = [
        dim_u32(op, "tokens", tokens)?,
        dim_u32(op, "q heads", q_heads)?,
        dim_u32(op, "kv heads", kv_heads)?,
        dim_u32(op, "head_dim", head_dim)?,
    ]
    .into_iter()
    .chain(layout)
    .chain([
        dim_u32(op, "position", position)?,
        transform.rope.map_or(0, |r| (r.rotary_dims / 2) as u32),
        u32::from(transform.rope.is_some_and(|r| r.style == RopeStyle::Neox)),
        u32::from(transform.qk_norm.is_some()),
        eps.to_bits(),
        weight_offset.to_bits(),
    ]);
    let params: Vec<u32> = header
        .chain(table)
        .chain(std::iter::repeat(0))
        .take(16 + 4 * freq_vecs)
        .collect();
    // The cache row index must not wrap either (position + T fits the cache, checked above).
    dim_u32(op, "cache elements", cache.max_ctx() * kv_heads * head_dim)?;

    // Enough invocations for a head's pairs (rope) or its values (a copy), within the device
    // (one where the adapter prefers it: `Gpu::lone_row_reductions`).
    let spec = row_reduction(gpu, head_dim / 2).u32("FREQ_VECS", freq_vecs as u32);
    // Bindings that a head set does not use get a buffer it never reads.
    let (q_src, q_norm, k_norm) = (
        q.map_or(k.tensor, |q| q.tensor),
        transform.qk_norm.map_or(k.tensor, |n| n.0),
        transform.qk_norm.map_or(k.tensor, |n| n.1),
    );
    // Without queries the output binding still needs a buffer of its own: writable bindings
    // must not alias. It is never written.
    let unused = match q_out {
        Some(_) => None,
        None => Some(gpu.empty("no attention queries", &[1])?),
    };
    let q_dst = q_out
        .as_ref()
        .or(unused.as_ref())
        .expect("one of the two is set");
    batch.dispatch(
        &KERNEL,
        &spec,
        &[
            q_src.buffer(),
            k.tensor.buffer(),
            v.tensor.buffer(),
            q_norm.buffer(),
            k_norm.buffer(),
            q_dst.buffer(),
            cache.keys().buffer(),
            cache.values().buffer(),
        ],
        bytemuck::cast_slice(&params),
        gpu.grid(op, slots as u64)?,
    )?;
    if let Some(unused) = unused {
        batch.hold(unused);
    }
    Ok(q_out)
}

/// (offset of token 0's first head, row stride) of `heads` in elements, checked against its
/// tensor: `[T, …]` rows of which the heads must fit.
fn row_layout(
    name: &str,
    heads: &Heads<'_>,
    tokens: usize,
    head_dim: usize,
) -> Result<(usize, usize)> {
    let shape = heads.tensor.shape();
    let stride: usize = shape.iter().skip(1).product();
    let end = heads
        .count
        .checked_mul(head_dim)
        .and_then(|n| n.checked_add(heads.offset));
    if shape.first() != Some(&tokens) || end.is_none_or(|end| end > stride) {
        return Err(GpuError::Shape(format!(
            "attention_inputs: {name}'s {} heads of {head_dim} at offset {} do not fit rows of \
             shape {shape:?} for {tokens} tokens",
            heads.count, heads.offset
        )));
    }
    Ok((heads.offset, stride))
}
