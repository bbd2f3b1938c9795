//! Bind groups kept from one batch to the next.
//!
//! A decode step binds the same buffers, at the same ranges, to the same pipelines at every token:
//! the weights, the KV caches, and scratch buffers that the pool hands back in the same order
//! (see [`crate::pool`]). So the bind groups it needs are those the step before created, and
//! creating one is a large part of what recording a dispatch costs (validation, and a descriptor
//! set allocated and written natively; a call into the GPU process in a browser). A cached group
//! is looked up by its pipeline and its buffers' identities and ranges; parameters change between
//! steps but live in uniform buffers whose contents, not identities, change.
//!
//! An entry keeps its buffers alive, so entries that the last [`BATCHES_KEPT`] batches did not
//! use are dropped as each batch is submitted, and the cache is emptied before buffers are freed
//! on purpose ([`crate::Gpu::trim`]; a model dropping its weights calls
//! [`crate::Gpu::forget_bind_groups`]).

use std::collections::HashMap;
use std::sync::Mutex;

/// Groups stay cached while one of the last this-many batches (that dispatched anything) used
/// them: a decode loop uses the same groups every step, while a tensor that a test or a
/// one-off computation bound is let go soon after.
const BATCHES_KEPT: u64 = 2;

/// How many bind groups were created and reused, and how many are cached now: steady-state
/// decoding creates none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindGroupStats {
    pub created: u64,
    pub reused: u64,
    pub cached: usize,
}

#[derive(Default)]
pub(crate) struct BindGroupCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Each group with the number of the batch that last used it.
    groups: HashMap<Key, (wgpu::BindGroup, u64)>,
    /// The number of the batch being recorded.
    batch: u64,
    stats: BindGroupStats,
}

/// What makes two bind groups interchangeable: the pipeline (its layout) and each binding's
/// buffer and range, or texture view (weights kept in textures), in binding order.
#[derive(PartialEq, Eq, Hash)]
struct Key {
    pipeline: wgpu::ComputePipeline,
    resources: Vec<Resource>,
}

#[derive(PartialEq, Eq, Hash)]
enum Resource {
    Buffer(wgpu::Buffer, u64, Option<wgpu::BufferSize>),
    Texture(wgpu::TextureView),
}

impl BindGroupCache {
    /// The cached bind group of `pipeline` with `entries`, if one was created before.
    pub(crate) fn get(
        &self,
        pipeline: &wgpu::ComputePipeline,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> Option<wgpu::BindGroup> {
        let key = key(pipeline, entries)?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let batch = state.batch;
        let (group, used) = state.groups.get_mut(&key)?;
        *used = batch;
        let group = group.clone();
        state.stats.reused += 1;
        Some(group)
    }

    /// Creates the bind group of `pipeline`'s group 0 with `entries`, and caches it when all of
    /// them are buffer or texture view bindings. Validation errors surface through the caller's
    /// error scope.
    pub(crate) fn create(
        &self,
        device: &wgpu::Device,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        entries: &[wgpu::BindGroupEntry<'_>],
    ) -> wgpu::BindGroup {
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries,
        });
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.stats.created += 1;
        if let Some(key) = key(pipeline, entries) {
            let batch = state.batch;
            state.groups.insert(key, (group.clone(), batch));
        }
        group
    }

    /// Called as a batch that dispatched something is submitted: groups that the last
    /// [`BATCHES_KEPT`] such batches did not use are dropped.
    pub(crate) fn end_batch(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.batch += 1;
        let next = state.batch;
        state
            .groups
            .retain(|_, (_, used)| next - *used <= BATCHES_KEPT);
    }

    /// Drops every cached group, and with them the cache's hold on their buffers.
    pub(crate) fn clear(&self) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .groups
            .clear();
    }

    pub(crate) fn stats(&self) -> BindGroupStats {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        BindGroupStats {
            cached: state.groups.len(),
            ..state.stats
        }
    }
}

/// The cache key of `entries`, or `None` when one of them is neither a buffer nor a texture view.
fn key(pipeline: &wgpu::ComputePipeline, entries: &[wgpu::BindGroupEntry<'_>]) -> Option<Key> {
    let resources = entries
        .iter()
        .map(|entry| match &entry.resource {
            wgpu::BindingResource::Buffer(binding) => Some(Resource::Buffer(
                binding.buffer.clone(),
                binding.offset,
                binding.size,
            )),
            wgpu::BindingResource::TextureView(view) => Some(Resource::Texture((*view).clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Key {
        pipeline: pipeline.clone(),
        resources,
    })
}
