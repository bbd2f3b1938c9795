//! Buffer pool: buffers are handed out by size class and come back when their [`PooledBuffer`] is
//! dropped, so a steady stream of same-shaped work (a decode loop) allocates nothing after warm-up.
//!
//! Reuse is safe across submissions because WebGPU executes queue operations in order: a buffer
//! returned after one submission and rewritten for the next is never read by the earlier one.
//!
//! Of the free buffers of a class, the pool lends the first in a fixed order (wgpu's order of
//! buffer handles), not the last returned: so the same sequence of requests, starting from the
//! same free buffers, gets the same buffers whatever order they came back in. Each decode step
//! then binds exactly what the step before bound, and the device's cached bind groups serve it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::error::{GpuError, Result};

/// Usage of every buffer that kernels read or write.
pub const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);
/// Usage of the pool's activations: storage, and uniform too, because decode's products on CPU
/// adapters read x as a uniform block (see `ops::quant_matvec`).
pub const ACTIVATIONS: wgpu::BufferUsages = STORAGE.union(wgpu::BufferUsages::UNIFORM);
/// Usage of the small parameter blocks kernels take.
pub const UNIFORM: wgpu::BufferUsages =
    wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);
/// Usage of the staging buffers results are read back through.
pub const READBACK: wgpu::BufferUsages =
    wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

type FreeLists = HashMap<(u64, wgpu::BufferUsages), BTreeSet<wgpu::Buffer>>;

pub struct BufferPool {
    device: wgpu::Device,
    free: Arc<Mutex<FreeLists>>,
    max_buffer_size: u64,
    max_storage_binding: u64,
    stats: Arc<Mutex<PoolStats>>,
}

/// Counters that let tests and benchmarks check that steady-state work does not allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub created: u64,
    pub reused: u64,
    pub bytes_created: u64,
}

/// Anything a kernel can bind as a storage buffer: pooled activations, and (with the
/// text-generation kernels) long-lived weight buffers that are sized exactly, not by class.
pub trait Binding {
    fn binding(&self) -> wgpu::BindingResource<'_>;
}

/// A buffer on loan from the pool; `size` is what was asked for, the buffer may be larger.
pub struct PooledBuffer {
    buffer: wgpu::Buffer,
    size: u64,
    usage: wgpu::BufferUsages,
    home: Arc<Mutex<FreeLists>>,
}

impl PooledBuffer {
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// The size that was requested (the binding size kernels see).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Binding for PooledBuffer {
    fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: 0,
            size: wgpu::BufferSize::new(self.size),
        })
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let key = (self.buffer.size(), self.usage);
        if let Ok(mut free) = self.home.lock() {
            free.entry(key).or_default().insert(self.buffer.clone());
        }
    }
}

/// Rounds up to one of four steps per power of two (at most 25% slack), minimum 256 bytes.
pub fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    let pow = 63 - bytes.leading_zeros() as u64; // floor(log2)
    let step = (1u64 << pow) / 4;
    bytes.div_ceil(step) * step
}

impl BufferPool {
    pub(crate) fn new(device: wgpu::Device, limits: &wgpu::Limits) -> Self {
        BufferPool {
            device,
            free: Arc::default(),
            max_buffer_size: limits.max_buffer_size,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> PoolStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lends a buffer of at least `size` bytes (rounded up to a multiple of 4, as WebGPU requires).
    /// `what` names the tensor in the error when the device cannot hold it.
    pub fn acquire(
        &self,
        what: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<PooledBuffer> {
        let size = size.max(4).next_multiple_of(4);
        if usage.contains(wgpu::BufferUsages::STORAGE) && size > self.max_storage_binding {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                requested: size,
                limit: self.max_storage_binding,
                limit_name: "one storage binding (maxStorageBufferBindingSize)",
            });
        }
        if size > self.max_buffer_size {
            return Err(GpuError::TooLarge {
                what: what.to_string(),
                requested: size,
                limit: self.max_buffer_size,
                limit_name: "one buffer (maxBufferSize)",
            });
        }
        // The class may exceed the limit when `size` is just under it: then allocate exactly.
        let class = size_class(size).min(self.max_buffer_size).max(size);
        let recycled = self
            .free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&(class, usage))
            .and_then(BTreeSet::pop_first);
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = match recycled {
            Some(buffer) => {
                stats.reused += 1;
                buffer
            }
            None => {
                stats.created += 1;
                stats.bytes_created += class;
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(what),
                    size: class,
                    usage,
                    mapped_at_creation: false,
                })
            }
        };
        Ok(PooledBuffer {
            buffer,
            size,
            usage,
            home: self.free.clone(),
        })
    }

    /// Frees every idle buffer; [`crate::Gpu::trim`] calls it once no cached bind group holds them.
    pub(crate) fn trim(&self) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for buffer in free.drain().flat_map(|(_, v)| v) {
            buffer.destroy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_bound_slack_and_cover_the_request() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(1000), 1024);
        assert_eq!(size_class(1025), 1280);
        for bytes in [
            3u64,
            255,
            4097,
            65_537,
            1 << 20,
            (1 << 27) + 12,
            123_456_789,
        ] {
            let class = size_class(bytes);
            assert!(class >= bytes, "{bytes} -> {class}");
            assert!(
                class <= bytes.max(256) * 5 / 4 + 4,
                "{bytes} -> {class}: more than 25% slack"
            );
            assert_eq!(class % 4, 0);
        }
    }
}
