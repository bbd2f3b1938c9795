//! Launch arithmetic shared by the transformer launchers: workgroup sizes within device limits,
//! grids for one-invocation-per-element kernels, and shape checks.

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::Specialization;
use crate::tensor::Tensor;

/// Invocations of the elementwise kernels (activation, add): WebGPU guarantees 256.
pub(crate) const ELEMENTWISE_WG: u32 = 256;

/// The power of two nearest above `want`, clamped to [`lo`, min(`hi`, device limit)]: sized to
/// the work (a 64-wide QK-norm row needs 64 invocations, not 256) without exceeding the device.
pub(crate) fn pow2_workgroup(gpu: &Gpu, want: usize, lo: u32, hi: u32) -> u32 {
    let limit = gpu.limits().max_compute_invocations_per_workgroup.min(hi);
    let limit = 1u32 << (31 - limit.max(1).leading_zeros()); // largest power of two ≤ limit
    let want = u32::try_from(want)
        .unwrap_or(u32::MAX)
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(limit);
    want.clamp(lo.min(limit), limit)
}

/// `workgroup_sum` for workgroups of one invocation, without barriers.
const LONE_INVOCATION_SUM: &str = include_str!("../kernels/workgroup_sum_alone.wgsl");

/// The specialization of a kernel that reduces each of its rows (of `want` values to spread over
/// invocations) in one workgroup through workgroup_sum.wgsl: on a GPU as many invocations as
/// [`pow2_workgroup`] gives (32 to 256, at most 64 on a CPU adapter). Where the adapter prefers
/// it ([`Gpu::lone_row_reductions`]: SwiftShader), one invocation per workgroup, which walks its
/// row alone, with a `workgroup_sum` that has no barrier (kernels/workgroup_sum_alone.wgsl).
pub(crate) fn row_reduction(gpu: &Gpu, want: usize) -> Specialization {
    if gpu.lone_row_reductions() {
        return Specialization::new()
            .u32("WG_SIZE", 1)
            .replace_functions(LONE_INVOCATION_SUM);
    }
    let wg = pow2_workgroup(gpu, want, 32, gpu.reduction_workgroup_limit(256));
    Specialization::new().u32("WG_SIZE", wg)
}

/// Grid for `n` elements at `wg` invocations each, split into 2D past the per-dimension limit.
pub(crate) fn elementwise_grid(gpu: &Gpu, what: &str, n: usize, wg: u32) -> Result<[u32; 3]> {
    gpu.grid(what, (n as u64).div_ceil(u64::from(wg)))
}

/// An error unless `a` and `b` have the same shape.
pub(crate) fn same_shape(op: &str, a: (&str, &Tensor), b: (&str, &Tensor)) -> Result<()> {
    if a.1.shape() == b.1.shape() {
        return Ok(());
    }
    Err(GpuError::Shape(format!(
        "{op}: {} has shape {:?} but {} has shape {:?}",
        a.0,
        a.1.shape(),
        b.0,
        b.1.shape()
    )))
}

/// `[T, heads, head_dim]`, or an error naming the op and operand.
pub(crate) fn heads_dims(op: &str, operand: &str, t: &Tensor) -> Result<(usize, usize, usize)> {
    match *t.shape() {
        [tokens, heads, head_dim] => Ok((tokens, heads, head_dim)),
        ref other => Err(GpuError::Shape(format!(
            "{op}: {operand} must be [tokens, heads, head_dim], got shape {other:?}"
        ))),
    }
}
