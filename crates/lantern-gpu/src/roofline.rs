//! The adapter's rooflines, measured together for a benchmark's report: what it streams at best
//! (decode is set against it), the fastest of Lantern's matrix products (prefill is), and what
//! one more dispatch costs (a decode step's other floor). Natively `lantern bench` reports them,
//! in the browser `Lantern.measureRooflines` (the npm package).

use crate::bandwidth::{self, Bandwidth};
use crate::device::Gpu;
use crate::error::Result;
use crate::matmul_peak::{self, MatmulPeak};

/// The side of the matmul probe's square matrices: compute-bound on any adapter, 4 MiB each,
/// and the size of a prompt's larger products.
pub const MATMUL_PEAK_N: usize = 1024;

/// What [`measure`] found.
#[derive(Clone, Copy, Debug)]
pub struct Rooflines {
    /// The best of three bandwidth probes over a buffer of up to 256 MiB.
    pub bandwidth: Bandwidth,
    pub matmul_peak: MatmulPeak,
    /// What one more dispatch costs a submission, in milliseconds.
    pub dispatch_ms: f64,
}

/// Measures the three, timed with `now_ms` (a monotonic clock in milliseconds). The bandwidth
/// probe reads its buffer as often in one submission as 100 ms take and keeps the best of three
/// runs, since a roofline is a maximum and a shared machine only ever slows a run down; the
/// dispatch cost is measured on `dispatches` dispatches (a decode step's count). Takes seconds,
/// and the probes' buffers (256 MiB at most) go back to the pool.
pub async fn measure(gpu: &Gpu, dispatches: usize, now_ms: impl Fn() -> f64) -> Result<Rooflines> {
    let bandwidth = bandwidth::measure(gpu, 256 << 20, 100.0, 3, &now_ms).await?;
    let dispatch_ms = bandwidth::dispatch_cost(gpu, dispatches, &now_ms).await?;
    let matmul_peak = matmul_peak::measure(gpu, MATMUL_PEAK_N, 200.0, &now_ms).await?;
    Ok(Rooflines {
        bandwidth,
        matmul_peak,
        dispatch_ms,
    })
}

/// Times `submit(count)` (recording `count` copies of some work into one submission and
/// waiting for it) with `now_ms` for `count` = `first`, 4·`first`, 16·`first`, … until a
/// submission takes at least `min_ms` or `count` reaches `max`: so that the submission's and the
/// readback's fixed costs are small beside the work even on a fast GPU. Returns what the last
/// submission returned, its count and its milliseconds.
pub(crate) async fn time_growing<T>(
    first: u32,
    max: u32,
    min_ms: f64,
    now_ms: impl Fn() -> f64,
    mut submit: impl AsyncFnMut(u32) -> Result<T>,
) -> Result<(T, u32, f64)> {
    let mut count = first.max(1);
    loop {
        let started = now_ms();
        let value = submit(count).await?;
        let milliseconds = now_ms() - started;
        if milliseconds >= min_ms || count >= max {
            return Ok((value, count, milliseconds));
        }
        count *= 4;
    }
}
