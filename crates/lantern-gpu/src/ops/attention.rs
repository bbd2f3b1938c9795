//! Launchers for `kernels/attention.wgsl` and `kernels/attention_merge.wgsl`: causal
//! grouped-query attention of new queries against a layer's [`KvCache`], for prefill (many
//! queries) and decode (one query, its context split over workgroups and merged). On a CPU
//! adapter (lavapipe, SwiftShader) both use `kernels/attention_cpu.wgsl` instead, which has no
//! workgroup memory or barriers: decode 2-3x faster there (README, "Performance").

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::kv_cache::KvCache;
use crate::ops::launch::{heads_dims, pow2_workgroup};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("attention");
pub const MERGE: KernelSource = kernel_source!("attention_merge");
pub const ON_CPU: KernelSource = kernel_source!("attention_cpu");

/// Query rows (token × head pairs sharing a kv head) per workgroup at most: each thread keeps
/// a score and an accumulator per row in registers.
const MAX_ROWS: usize = 16;
/// The merge kernel's `MAX_CHUNKS`: the most chunks a row's keys are split into.
pub const MAX_KEY_CHUNKS: usize = 256;
/// Workgroups to aim for before splitting the keys stops. WebGPU does not say how many compute
/// units a device has; 256 workgroups fill the largest GPUs a few times over, and on a small
/// one extra chunks cost only their partial results and the merge.
const TARGET_WORKGROUPS: usize = 256;
/// The fewest keys a chunk gets on a GPU. A workgroup walks its chunk's keys one tile after
/// another, and a decode step has one row block per kv head, so with chunks of a whole tile
/// (128 keys) a short context kept a few workgroups busy while the rest of the GPU idled:
/// measured on an H200 (`lantern profile`, SmolLM2 at 130–160 positions: 6 workgroups), attention
/// took 68 µs per layer, a third of the decode step; with chunks of 16 keys 34 µs (32 keys: 43),
/// and 24 µs once q and k were read as vec4s.
/// On a CPU adapter a chunk stays at least a tile: its workgroups run one after another anyway,
/// and every extra chunk adds partials to merge.
const GPU_MIN_CHUNK_KEYS: usize = 16;
const MERGE_WG: u32 = 64;

/// One layer's attention arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionParams {
    /// Multiplies `q·k`: `1 / sqrt(query_pre_attn_scalar)`, usually `1 / sqrt(head_dim)`.
    pub scale: f32,
    /// Scores become `cap * tanh(score / cap)` when set (Gemma 2's attention soft-capping).
    pub softcap: Option<f32>,
    /// A query at position `p` sees keys `p - window + 1 ..= p` when set (sliding-window layers).
    pub window: Option<usize>,
}

impl AttentionParams {
    pub fn new(scale: f32) -> Self {
        AttentionParams {
            scale,
            softcap: None,
            window: None,
        }
    }
}

/// How the work is cut. The default chooses from the shapes and the device; tests force splits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttentionSplit {
    /// Chunks each row block's keys are split into (1 ..= [`MAX_KEY_CHUNKS`]); more than one
    /// adds the merge pass.
    pub key_chunks: Option<usize>,
}

/// Records attention of `q` ([T, n_heads, head_dim], token `t` at position `start + t`, already
/// roped) against `cache`, whose positions `0 .. start + T` must be written. Returns
/// [T, n_heads, head_dim] from the pool.
pub fn attention(
    batch: &mut Batch<'_>,
    q: &Tensor,
    cache: &KvCache,
    start: usize,
    params: &AttentionParams,
) -> Result<Tensor> {
    attention_split(batch, q, cache, start, params, AttentionSplit::default())
}

/// [`attention`] with the key split chosen by the caller.
pub fn attention_split(
    batch: &mut Batch<'_>,
    q: &Tensor,
    cache: &KvCache,
    start: usize,
    params: &AttentionParams,
    split: AttentionSplit,
) -> Result<Tensor> {
    let (tokens, n_heads, head_dim) = heads_dims("attention", "q", q)?;
    let n_kv = cache.kv_heads();
    check(params, tokens, n_heads, head_dim, start, cache)?;
    let gpu = batch.gpu();
    let out = gpu.empty("attention output", q.shape())?;
    if tokens == 0 || n_heads == 0 || head_dim == 0 {
        return Ok(out);
    }
    let forced_chunks = forced_key_chunks(split)?;
    if gpu.cpu_workgroups()
        && let Some(rows) = cpu_rows(head_dim, n_heads / n_kv)
    {
        attention_on_cpu(batch, q, cache, start, params, forced_chunks, rows, &out)?;
        return Ok(out);
    }

    let limits = gpu.limits();
    let wg = pow2_workgroup(gpu, 128, 32, gpu.reduction_workgroup_limit(128)) as usize;
    // Workgroup memory: the staged queries and a tile of scores per row, plus three per-row floats.
    let rows_fitting =
        (limits.max_compute_workgroup_storage_size as usize / 4) / (head_dim + wg + 3);
    if rows_fitting == 0 {
        return Err(GpuError::Shape(format!(
            "attention: heads of {head_dim} do not fit this device's {} bytes of workgroup memory",
            limits.max_compute_workgroup_storage_size
        )));
    }
    let group = n_heads / n_kv;
    let rows_per_kv_head = tokens * group;
    let rows = rows_per_kv_head.min(MAX_ROWS).min(rows_fitting);
    let row_blocks = rows_per_kv_head.div_ceil(rows);

    let chunks = match forced_chunks {
        Some(c) => c,
        None => {
            // Split only while the workgroups are too few, and never below the fewest keys a
            // chunk gets.
            let span = visible_span(params, start, tokens);
            let wanted = TARGET_WORKGROUPS.div_ceil(n_kv * row_blocks);
            let min_keys = if gpu.cpu_workgroups() {
                wg
            } else {
                GPU_MIN_CHUNK_KEYS
            };
            wanted.min(span.div_ceil(min_keys)).clamp(1, MAX_KEY_CHUNKS)
        }
    };

    let op = "attention";
    let uniform = [
        dim_u32(op, "tokens", tokens)?,
        dim_u32(op, "heads", n_heads)?,
        dim_u32(op, "kv heads", n_kv)?,
        dim_u32(op, "start", start)?,
        window_param(params, start, tokens)?,
        chunks as u32,
        dim_u32(op, "row blocks", row_blocks)?,
        0,
        params.scale.to_bits(),
        params.softcap.unwrap_or(0.0).to_bits(),
    ];
    let spec = Specialization::new()
        .u32("WG", wg as u32)
        .u32("ROWS", rows as u32)
        .u32("HEAD_DIM", dim_u32(op, "head_dim", head_dim)?)
        .u32("DIMS_PER_THREAD", head_dim.div_ceil(wg) as u32)
        .rolled_loops(!gpu.unroll_long_loops());
    let grid = gpu.grid(op, (n_kv * row_blocks * chunks) as u64)?;
    let kernel = ChunkedKernel {
        source: &KERNEL,
        spec: &spec,
        uniform: &uniform,
        grid,
        chunks,
    };
    dispatch_and_merge(batch, &kernel, q, cache, &out)?;
    Ok(out)
}

/// One launch of attention.wgsl or attention_cpu.wgsl, which bind (q, keys, values,
/// output) alike and write the output itself with one chunk of keys, partials otherwise.
struct ChunkedKernel<'a> {
    source: &'a KernelSource,
    spec: &'a Specialization,
    uniform: &'a [u32],
    grid: [u32; 3],
    chunks: usize,
}

/// Records `kernel` into `out`, through partial results and attention_merge.wgsl when its keys
/// are split into chunks.
fn dispatch_and_merge(
    batch: &mut Batch<'_>,
    kernel: &ChunkedKernel<'_>,
    q: &Tensor,
    cache: &KvCache,
    out: &Tensor,
) -> Result<()> {
    let (tokens, n_heads, head_dim) = heads_dims("attention", "q", q)?;
    let partials = if kernel.chunks == 1 {
        None
    } else {
        let shape = [tokens * n_heads, kernel.chunks, head_dim + 2];
        Some(batch.gpu().empty("attention partials", &shape)?)
    };
    let written = partials.as_ref().unwrap_or(out);
    batch.dispatch(
        kernel.source,
        kernel.spec,
        &[
            q.buffer(),
            cache.keys().buffer(),
            cache.values().buffer(),
            written.buffer(),
        ],
        bytemuck::cast_slice(kernel.uniform),
        kernel.grid,
    )?;
    match partials {
        Some(partials) => merge_chunks(batch, partials, out),
        None => Ok(()),
    }
}

/// The caller's key split, checked.
fn forced_key_chunks(split: AttentionSplit) -> Result<Option<usize>> {
    match split.key_chunks {
        Some(c) if !(1..=MAX_KEY_CHUNKS).contains(&c) => Err(GpuError::Shape(format!(
            "attention: {c} key chunks is outside 1..={MAX_KEY_CHUNKS}"
        ))),
        chunks => Ok(chunks),
    }
}

/// Keys that the queries of positions `start .. start + tokens` see between them.
fn visible_span(params: &AttentionParams, start: usize, tokens: usize) -> usize {
    let context = start + tokens;
    params
        .window
        .map_or(context, |w| context.min(w.saturating_add(tokens - 1)))
}

/// The kernels' `window` parameter: the keys a query sees at most, or 0 for all before it. A
/// window at least as long as the context hides nothing, the same as none.
fn window_param(params: &AttentionParams, start: usize, tokens: usize) -> Result<u32> {
    dim_u32(
        "attention",
        "window",
        params.window.map_or(0, |w| w.min(start + tokens)),
    )
}

/// Records attention_merge.wgsl: `partials` ([rows, chunks, head_dim + 2]) into `out`.
fn merge_chunks(batch: &mut Batch<'_>, partials: Tensor, out: &Tensor) -> Result<()> {
    let gpu = batch.gpu();
    let op = "attention merge";
    let (rows, chunks, stride) = heads_dims(op, "partials", &partials)?;
    let merge = [
        dim_u32(op, "rows", rows)?,
        dim_u32(op, "chunks", chunks)?,
        dim_u32(op, "head_dim", stride - 2)?,
    ];
    let mut spec = Specialization::new()
        .u32("WG_SIZE", MERGE_WG)
        .u32("MAX_CHUNKS", MAX_KEY_CHUNKS as u32);
    if gpu.cpu_workgroups() {
        spec = spec.entry_point("main_without_barrier");
    }
    batch.dispatch(
        &MERGE,
        &spec,
        &[partials.buffer(), out.buffer()],
        bytemuck::cast_slice(&merge),
        gpu.grid(op, rows as u64)?,
    )?;
    batch.hold(partials);
    Ok(())
}

/// Keys per chunk that decode attention on a CPU adapter aims for: enough work per invocation
/// to outweigh its partial results and their merge, and chunks enough for every core's lanes.
const CPU_CHUNK_KEYS: usize = 32;

/// Invocations that keep a CPU adapter's lanes and cores busy without splitting the keys (8
/// workgroups of [`CPU_WG`]): a prefill has that many (token, head set) pairs from a few tokens
/// on, and splitting its keys too would only add partials and a merge.
const CPU_UNSPLIT_TASKS: usize = 64;

/// Invocations per workgroup of attention_cpu.wgsl: a SIMD group of lavapipe's (8 lanes) or two
/// of SwiftShader's (4).
const CPU_WG: u32 = 8;

/// The most vec4s of queries (and as many of outputs) one invocation of attention_cpu.wgsl keeps:
/// the unroller's limit on a loop's copies.
const CPU_VEC4S: usize = 64;

/// Query heads per invocation of attention_cpu.wgsl: as many of a kv head's `group` as its
/// private arrays hold, spread evenly over the sets; None when not even one head fits (heads
/// longer than 256 values), which leaves attention to attention.wgsl.
fn cpu_rows(head_dim: usize, group: usize) -> Option<usize> {
    if !head_dim.is_multiple_of(4) || head_dim / 4 > CPU_VEC4S || group == 0 {
        return None;
    }
    let most = CPU_VEC4S / (head_dim / 4);
    let sets = group.div_ceil(most);
    Some(group.div_ceil(sets))
}

/// Attention on a CPU adapter (attention_cpu.wgsl): one invocation per token, set of `rows`
/// heads and chunk of keys, without barriers; chunks merged by attention_merge.wgsl. The keys are
/// split only where the tokens and head sets alone leave lanes idle (decode).
#[allow(clippy::too_many_arguments)]
fn attention_on_cpu(
    batch: &mut Batch<'_>,
    q: &Tensor,
    cache: &KvCache,
    start: usize,
    params: &AttentionParams,
    forced_chunks: Option<usize>,
    rows: usize,
    out: &Tensor,
) -> Result<()> {
    let gpu = batch.gpu();
    let op = "attention";
    let (tokens, n_heads, head_dim) = heads_dims(op, "q", q)?;
    let n_kv = cache.kv_heads();
    let span = visible_span(params, start, tokens);
    let first = start + tokens - span;
    let row_sets = (n_heads / n_kv).div_ceil(rows);
    let unsplit_tasks = tokens * n_kv * row_sets;
    let chunks = forced_chunks.unwrap_or(if unsplit_tasks >= CPU_UNSPLIT_TASKS {
        1
    } else {
        span.div_ceil(CPU_CHUNK_KEYS).clamp(1, MAX_KEY_CHUNKS)
    });
    let chunk_keys = span.div_ceil(chunks);
    let uniform = [
        dim_u32(op, "heads", n_heads)?,
        dim_u32(op, "kv heads", n_kv)?,
        dim_u32(op, "start", start)?,
        dim_u32(op, "first key", first)?,
        chunks as u32,
        dim_u32(op, "chunk keys", chunk_keys)?,
        dim_u32(op, "row sets", row_sets)?,
        dim_u32(op, "tokens", tokens)?,
        params.scale.to_bits(),
        params.softcap.unwrap_or(0.0).to_bits(),
        window_param(params, start, tokens)?,
        0,
    ];
    let spec = Specialization::new()
        .u32("WG_SIZE", CPU_WG)
        .u32("ROWS", rows as u32)
        .u32("HEAD_DIM", head_dim as u32)
        .u32("HEAD_VEC4S", (head_dim / 4) as u32);
    let tasks = (unsplit_tasks * chunks) as u64;
    let kernel = ChunkedKernel {
        source: &ON_CPU,
        spec: &spec,
        uniform: &uniform,
        grid: gpu.grid(op, tasks.div_ceil(u64::from(CPU_WG)))?,
        chunks,
    };
    dispatch_and_merge(batch, &kernel, q, cache, out)
}

fn check(
    params: &AttentionParams,
    tokens: usize,
    n_heads: usize,
    head_dim: usize,
    start: usize,
    cache: &KvCache,
) -> Result<()> {
    let bad = |why: String| Err(GpuError::Shape(format!("attention: {why}")));
    let n_kv = cache.kv_heads();
    if head_dim != cache.head_dim() {
        return bad(format!(
            "q has heads of {head_dim} but the cache holds heads of {}",
            cache.head_dim()
        ));
    }
    if !head_dim.is_multiple_of(4) {
        return bad(format!(
            "heads of {head_dim} values: the kernel reads them 4 at a time"
        ));
    }
    if n_kv == 0 || !n_heads.is_multiple_of(n_kv) {
        return bad(format!(
            "{n_heads} query heads cannot share {n_kv} key/value heads evenly"
        ));
    }
    if start.saturating_add(tokens) > cache.max_ctx() {
        return bad(format!(
            "positions up to {} are past the cache's {}",
            start.saturating_add(tokens),
            cache.max_ctx()
        ));
    }
    if !params.scale.is_finite() {
        return bad(format!("scale {} is not finite", params.scale));
    }
    if let Some(cap) = params.softcap
        && !(cap.is_finite() && cap > 0.0)
    {
        return bad(format!("soft-cap {cap} must be a positive number"));
    }
    if params.window == Some(0) {
        return bad("a sliding window of 0 positions sees nothing".into());
    }
    Ok(())
}
