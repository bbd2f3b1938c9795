//! Where a submission's GPU time goes, kernel by kernel: while profiling is on, every dispatch
//! runs in a compute pass of its own whose start and end the GPU stamps (WebGPU's
//! `timestamp-query`), and the stamps come back with the profile.
//!
//! A pass per dispatch changes what is measured a little: the kernels' own times are right, but
//! the gaps between them hold a pass boundary each, which a normal batch does not have.

use std::collections::HashMap;

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::readback::read_mapped;

/// The dispatches of one batch that get timestamps: two queries each, and WebGPU allows 4096
/// queries in a query set. Later dispatches of a larger batch run, uncounted.
pub const MAX_PROFILED_DISPATCHES: u32 = 2048;

/// Profiling state of a device: the submitted batches whose timestamps are still on the GPU.
#[derive(Default)]
pub(crate) struct Profiler {
    pending: Vec<PendingBatch>,
}

struct PendingBatch {
    label: &'static str,
    kernels: Vec<&'static str>,
    unprofiled: usize,
    readback: wgpu::Buffer,
}

/// One batch's query set while it is recorded.
pub(crate) struct BatchTimestamps {
    query_set: wgpu::QuerySet,
    kernels: Vec<&'static str>,
    unprofiled: usize,
}

impl BatchTimestamps {
    pub(crate) fn new(gpu: &Gpu) -> Self {
        BatchTimestamps {
            query_set: gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * MAX_PROFILED_DISPATCHES,
            }),
            kernels: Vec::new(),
            unprofiled: 0,
        }
    }

    /// The timestamp writes for the pass of the next dispatch, of `kernel`; None once the query
    /// set is full.
    pub(crate) fn next(
        &mut self,
        kernel: &'static str,
    ) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let index = self.kernels.len() as u32;
        if index >= MAX_PROFILED_DISPATCHES {
            self.unprofiled += 1;
            return None;
        }
        self.kernels.push(kernel);
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(2 * index),
            end_of_pass_write_index: Some(2 * index + 1),
        })
    }

    /// Records resolving the timestamps into a buffer the CPU can map, at the end of the batch.
    pub(crate) fn resolve(
        self,
        gpu: &Gpu,
        label: &'static str,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Option<ResolvedTimestamps> {
        if self.kernels.is_empty() {
            return None;
        }
        let queries = 2 * self.kernels.len() as u32;
        let bytes = u64::from(queries) * 8;
        let buffer = |label, usage| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolved = buffer(
            "profile resolve",
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = buffer(
            "profile readback",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        encoder.resolve_query_set(&self.query_set, 0..queries, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &readback, 0, bytes);
        Some(ResolvedTimestamps(PendingBatch {
            label,
            kernels: self.kernels,
            unprofiled: self.unprofiled,
            readback,
        }))
    }
}

/// A batch's timestamps on their way back: handed to the device's profiler once submitted.
pub(crate) struct ResolvedTimestamps(PendingBatch);

/// One dispatch's time on the GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct DispatchTime {
    pub kernel: &'static str,
    /// From the batch's first timestamp, in nanoseconds.
    pub start_ns: f64,
    pub duration_ns: f64,
}

/// The timed dispatches of one submitted batch, in recording order.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchProfile {
    pub label: &'static str,
    pub dispatches: Vec<DispatchTime>,
    /// Dispatches past [`MAX_PROFILED_DISPATCHES`], not timed.
    pub unprofiled: usize,
}

impl BatchProfile {
    /// From the first dispatch's start to the last one's end.
    pub fn span_ns(&self) -> f64 {
        self.dispatches
            .iter()
            .map(|d| d.start_ns + d.duration_ns)
            .fold(0.0, f64::max)
    }

    /// The sum of the dispatches' own times.
    pub fn busy_ns(&self) -> f64 {
        self.dispatches.iter().map(|d| d.duration_ns).sum()
    }
}

/// Every batch submitted while profiling was on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub batches: Vec<BatchProfile>,
}

/// One kernel's share of some batches: how often it ran and for how long in all.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTotal {
    pub kernel: &'static str,
    pub dispatches: usize,
    pub duration_ns: f64,
}

impl Profile {
    /// The batches recorded under `label` ("decode", "prefill", …).
    pub fn labelled<'p>(&'p self, label: &'p str) -> impl Iterator<Item = &'p BatchProfile> + 'p {
        self.batches.iter().filter(move |b| b.label == label)
    }

    /// Per kernel, over the batches labelled `label`: dispatches and time, longest first.
    pub fn kernel_totals(&self, label: &str) -> Vec<KernelTotal> {
        let mut totals: HashMap<&'static str, KernelTotal> = HashMap::new();
        for d in self.labelled(label).flat_map(|b| &b.dispatches) {
            let total = totals.entry(d.kernel).or_insert(KernelTotal {
                kernel: d.kernel,
                dispatches: 0,
                duration_ns: 0.0,
            });
            total.dispatches += 1;
            total.duration_ns += d.duration_ns;
        }
        let mut totals: Vec<KernelTotal> = totals.into_values().collect();
        totals.sort_by(|a, b| {
            b.duration_ns
                .total_cmp(&a.duration_ns)
                .then(a.kernel.cmp(b.kernel))
        });
        totals
    }
}

impl Gpu {
    /// Starts timing every dispatch of the batches created from now on, until
    /// [`finish_profiling`](Self::finish_profiling). Needs the adapter's `timestamp-query`.
    pub fn start_profiling(&self) -> Result<()> {
        if !self.report().features.timestamp_query {
            return Err(GpuError::MissingFeature {
                what: "profiling kernel times".into(),
                feature: "timestamp-query",
            });
        }
        *self.profiler() = Some(Profiler::default());
        Ok(())
    }

    /// Whether batches created now are profiled.
    pub(crate) fn profiling(&self) -> bool {
        self.profiler().is_some()
    }

    /// Hands a submitted batch's timestamps to the profiler.
    pub(crate) fn submitted(&self, timestamps: ResolvedTimestamps) {
        if let Some(profiler) = self.profiler().as_mut() {
            profiler.pending.push(timestamps.0);
        }
    }

    /// Stops profiling and returns the times of every batch submitted since
    /// [`start_profiling`](Self::start_profiling) (nothing if it was not started).
    pub async fn finish_profiling(&self) -> Result<Profile> {
        let Some(profiler) = self.profiler().take() else {
            return Ok(Profile::default());
        };
        let period_ns = f64::from(self.queue.get_timestamp_period());
        let mut profile = Profile::default();
        for batch in profiler.pending {
            let raw = read_mapped(self, &batch.readback, batch.readback.size()).await?;
            let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
            let first = ticks.iter().step_by(2).copied().min().unwrap_or(0);
            let dispatches = batch
                .kernels
                .iter()
                .zip(ticks.chunks_exact(2))
                .map(|(&kernel, pair)| DispatchTime {
                    kernel,
                    start_ns: pair[0].saturating_sub(first) as f64 * period_ns,
                    // A GPU may stamp out of order across passes; a negative time is noise.
                    duration_ns: pair[1].saturating_sub(pair[0]) as f64 * period_ns,
                })
                .collect();
            profile.batches.push(BatchProfile {
                label: batch.label,
                dispatches,
                unprofiled: batch.unprofiled,
            });
        }
        Ok(profile)
    }
}
