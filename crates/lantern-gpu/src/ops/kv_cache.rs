//! One layer's key/value cache and the launcher for `kernels/kv_cache_write.wgsl`.

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::launch::{ELEMENTWISE_WG, elementwise_grid, heads_dims, same_shape};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("kv_cache_write");

/// Keys and values of one layer, [max_ctx, kv_heads, head_dim] each, allocated once: a decode
/// step writes its row in place and allocates nothing. The cache does not track how many rows
/// are filled; the caller passes positions (and attends to `0 .. start + T`).
pub struct KvCache {
    keys: Tensor,
    values: Tensor,
}

impl KvCache {
    /// Both caches from the pool (whose size classes may round each up by at most 25%; the
    /// buffers return to the pool for the next conversation when the cache is dropped).
    pub fn new(gpu: &Gpu, max_ctx: usize, kv_heads: usize, head_dim: usize) -> Result<KvCache> {
        let shape = [max_ctx, kv_heads, head_dim];
        Ok(KvCache {
            keys: gpu.empty("key cache", &shape)?,
            values: gpu.empty("value cache", &shape)?,
        })
    }

    pub fn keys(&self) -> &Tensor {
        &self.keys
    }

    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// Positions the cache holds.
    pub fn max_ctx(&self) -> usize {
        self.keys.shape()[0]
    }

    pub fn kv_heads(&self) -> usize {
        self.keys.shape()[1]
    }

    pub fn head_dim(&self) -> usize {
        self.keys.shape()[2]
    }

    /// Records writing `k` and `v` ([T, kv_heads, head_dim]) at positions `position .. position + T`,
    /// both in one dispatch.
    pub fn write(
        &self,
        batch: &mut Batch<'_>,
        k: &Tensor,
        v: &Tensor,
        position: usize,
    ) -> Result<()> {
        same_shape("kv_cache_write", ("k", k), ("v", v))?;
        let (tokens, kv_heads, head_dim) = heads_dims("kv_cache_write", "k", k)?;
        if (kv_heads, head_dim) != (self.kv_heads(), self.head_dim()) {
            return Err(GpuError::Shape(format!(
                "kv_cache_write: k has {kv_heads} heads of {head_dim} but the cache holds {} of {}",
                self.kv_heads(),
                self.head_dim()
            )));
        }
        if position.saturating_add(tokens) > self.max_ctx() {
            return Err(GpuError::Shape(format!(
                "kv_cache_write: positions {position}..{} are past the cache's {} positions",
                position.saturating_add(tokens),
                self.max_ctx()
            )));
        }
        let n = k.len();
        if n == 0 {
            return Ok(());
        }
        let params = [
            dim_u32("kv_cache_write", "elements", n)?,
            dim_u32("kv_cache_write", "offset", position * kv_heads * head_dim)?,
        ];
        let gpu = batch.gpu();
        batch.dispatch(
            &KERNEL,
            &Specialization::new().u32("WG_SIZE", ELEMENTWISE_WG),
            &[
                k.buffer(),
                v.buffer(),
                self.keys.buffer(),
                self.values.buffer(),
            ],
            bytemuck::cast_slice(&params),
            elementwise_grid(gpu, "kv_cache_write", n, ELEMENTWISE_WG)?,
        )
    }
}
