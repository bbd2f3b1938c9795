//! One layer's key/value cache. A model fills it through [`attention_inputs`], which appends
//! a step's keys and values as it prepares the queries.

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::ops::attention_inputs::{HeadTransform, Heads, attention_inputs};
use crate::ops::launch::{heads_dims, same_shape};
use crate::tensor::Tensor;

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

    /// Records writing `k` and `v` ([T, kv_heads, head_dim]) at positions `position .. position + T`
    /// as they are: [`attention_inputs`] without queries or transform.
    pub fn write(
        &self,
        batch: &mut Batch<'_>,
        k: &Tensor,
        v: &Tensor,
        position: usize,
    ) -> Result<()> {
        same_shape("kv_cache_write", ("k", k), ("v", v))?;
        let (_, kv_heads, head_dim) = heads_dims("kv_cache_write", "k", k)?;
        if (kv_heads, head_dim) != (self.kv_heads(), self.head_dim()) {
            return Err(GpuError::Shape(format!(
                "kv_cache_write: k has {kv_heads} heads of {head_dim} but the cache holds {} of {}",
                self.kv_heads(),
                self.head_dim()
            )));
        }
        let (k, v) = (Heads::all(k, kv_heads), Heads::all(v, kv_heads));
        attention_inputs(batch, None, k, v, &HeadTransform::default(), self, position)?;
        Ok(())
    }
}
