//! Launcher for `kernels/top_k.wgsl` (GPUs) and `kernels/top_k_serial.wgsl` (CPU adapters): the
//! k largest logits and their ids, sorted (value descending, ties to the lower id), so a decode
//! step can read back k pairs instead of the whole vocabulary. Argmax is `k = 1`. The CPU
//! reference is [`crate::reference::top_k`].

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::launch::pow2_workgroup;
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("top_k" after "top_k_order");
pub const SERIAL_KERNEL: KernelSource = kernel_source!("top_k_serial" after "top_k_order");

/// The largest k [`top_k`] takes. Each of the k results costs one round of a workgroup-wide
/// reduction (log2 256 = 8 barrier steps) in both stages, and the merge reads 256 runs of k
/// pairs; 64 covers the top-k settings people use (llama.cpp's default is 40) at a cost that is
/// small beside the output projection. Workgroup memory does not limit k (3 KiB for any k).
pub const MAX_K: usize = 64;

/// Elements one invocation of the select stage may own: one bit each in a u32 mask.
const MAX_ITEMS: usize = 32;

/// CPU adapters: invocations scanning the logits, each keeping its own top k (a few SIMD slices
/// per core; the merge then takes at most 64 runs of k pairs on one invocation).
const SERIAL_RUNS: usize = 64;
/// CPU adapters: logits per scanning invocation below which fewer invocations scan (one, in a
/// single dispatch, for up to this many logits).
const SERIAL_MIN_ITEMS: usize = 1024;
const _: () = assert!(SERIAL_MIN_ITEMS / 2 >= MAX_K, "a run must hold k logits");
/// `top_k_serial.wgsl`'s workgroup: one SIMD slice of lavapipe's (8 lanes), two of
/// SwiftShader's; with no barrier, its size matters only for how the scan spreads over cores.
const SERIAL_WORKGROUP: usize = 8;

/// Records the top `k` of `logits` (`[n]`, or `[1, n]`). Returns a `[min(k, n), 2]` tensor of
/// (id, value) pairs stored as bits (read it back and decode with [`decode_top_k`]): the exact
/// input values, best first, ties to the lower id, −inf entries ranked last like any value.
///
/// Two stages: up to 256 workgroups each take the top k of a slice, then one workgroup merges
/// their sorted runs (skipped when a single workgroup covers the whole vector). With 256
/// invocations this handles up to 2,097,152 logits. On CPU adapters (`Gpu::cpu_workgroups`),
/// where those stages' barriers are costly, up to 64 invocations each keep the top k of their
/// share of the logits and one merges them ([`SERIAL_KERNEL`]), for any n.
pub fn top_k(batch: &mut Batch<'_>, logits: &Tensor, k: usize) -> Result<Tensor> {
    let op = KERNEL.name;
    let n = match *logits.shape() {
        [n] | [1, n] => n,
        ref other => {
            return Err(GpuError::Shape(format!(
                "{op}: logits must be [n] or [1, n], got shape {other:?}"
            )));
        }
    };
    if k == 0 || k > MAX_K {
        return Err(GpuError::Shape(format!(
            "{op}: k = {k} is outside 1..={MAX_K}"
        )));
    }
    let gpu = batch.gpu();
    let k = k.min(n);
    let out = gpu.empty("top-k pairs", &[k, 2])?;
    if k == 0 {
        return Ok(out);
    }
    if gpu.cpu_workgroups() {
        top_k_serial(batch, logits, &out, n, k)?;
        return Ok(out);
    }
    // 256 invocations on a GPU; on a CPU adapter the smallest workgroup from 64 up that can still
    // merge n logits in two stages (see `Gpu::cpu_workgroups`).
    let mut want = gpu.reduction_workgroup_limit(256) as usize;
    while want < 256 && n > want * want * MAX_ITEMS {
        want *= 2;
    }
    let wg = pow2_workgroup(gpu, want, 1, 256) as usize;
    // Few enough workgroups that the merge has one run per invocation; as many as that allows,
    // for parallelism.
    let items = n.div_ceil(wg * wg).max(1);
    if items > MAX_ITEMS {
        return Err(GpuError::Shape(format!(
            "{op}: {n} logits exceed the {} one workgroup of {wg} can merge",
            wg * wg * MAX_ITEMS
        )));
    }
    let runs = n.div_ceil(wg * items);
    let spec = Specialization::new().u32("WG_SIZE", wg as u32);
    let params = |n: usize, items: usize| -> Result<[u32; 4]> {
        Ok([dim_u32(op, "n", n)?, k as u32, items as u32, 0])
    };
    if runs == 1 {
        batch.dispatch(
            &KERNEL,
            &spec.clone().bool("MERGE", false),
            &[logits.buffer(), out.buffer()],
            bytemuck::cast_slice(&params(n, items)?),
            [1, 1, 1],
        )?;
        return Ok(out);
    }
    let partial = gpu.empty("top-k runs", &[runs * k, 2])?;
    batch.dispatch(
        &KERNEL,
        &spec.clone().bool("MERGE", false),
        &[logits.buffer(), partial.buffer()],
        bytemuck::cast_slice(&params(n, items)?),
        [runs as u32, 1, 1],
    )?;
    batch.dispatch(
        &KERNEL,
        &spec.bool("MERGE", true),
        &[partial.buffer(), out.buffer()],
        bytemuck::cast_slice(&params(runs, 1)?),
        [1, 1, 1],
    )?;
    batch.hold(partial);
    Ok(out)
}

/// [`top_k`] on a CPU adapter: `runs` invocations scan every `runs`-th logit into sorted runs of
/// k pairs, then one invocation merges the runs into `out`; a single run is `out` itself.
fn top_k_serial(
    batch: &mut Batch<'_>,
    logits: &Tensor,
    out: &Tensor,
    n: usize,
    k: usize,
) -> Result<()> {
    let op = SERIAL_KERNEL.name;
    let runs = n.div_ceil(SERIAL_MIN_ITEMS).clamp(1, SERIAL_RUNS);
    // Every run is full: more than SERIAL_MIN_ITEMS / 2 logits each where there are several
    // runs, and k ≤ n where there is one.
    debug_assert!(n / runs >= k);
    let spec = Specialization::new()
        .u32("WG_SIZE", SERIAL_WORKGROUP as u32)
        .u32("MAX_K", MAX_K as u32);
    let params = |n: usize, stride: usize| -> Result<[u32; 4]> {
        Ok([dim_u32(op, "n", n)?, k as u32, stride as u32, 0])
    };
    // Several runs go to a scratch tensor for the merge; a single one is the result.
    let partial = (runs > 1)
        .then(|| batch.gpu().empty("top-k runs", &[runs * k, 2]))
        .transpose()?;
    batch.dispatch(
        &SERIAL_KERNEL,
        &spec.clone().bool("PAIRS", false),
        &[logits.buffer(), partial.as_ref().unwrap_or(out).buffer()],
        bytemuck::cast_slice(&params(n, runs)?),
        [runs.div_ceil(SERIAL_WORKGROUP) as u32, 1, 1],
    )?;
    if let Some(partial) = partial {
        batch.dispatch(
            &SERIAL_KERNEL,
            &spec.bool("PAIRS", true),
            &[partial.buffer(), out.buffer()],
            bytemuck::cast_slice(&params(runs * k, 1)?),
            [1, 1, 1],
        )?;
        batch.hold(partial);
    }
    Ok(())
}

/// The (id, value) pairs of a read-back [`top_k`] result.
pub fn decode_top_k(raw: &[f32]) -> Vec<(u32, f32)> {
    raw.chunks_exact(2)
        .map(|pair| (pair[0].to_bits(), pair[1]))
        .collect()
}
