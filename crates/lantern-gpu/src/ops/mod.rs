//! Typed launchers, one per kernel in `src/kernels/`. Each checks shapes and device limits, takes
//! its output from the buffer pool, and records one dispatch into a [`Batch`](crate::Batch).
//! The CPU reference of each op is in [`crate::reference`].

pub mod attention;
pub mod attention_inputs;
pub mod elementwise;
pub mod embedding;
pub mod kv_cache;
mod launch;
pub mod matmul;
pub mod norm;
pub mod quant_matmul;
pub mod quant_matvec;
pub mod rope;
pub mod softmax;
pub mod stream_read;
pub mod top_k;

pub use attention::{AttentionParams, AttentionSplit, attention};
pub use attention_inputs::{HeadTransform, Heads, attention_inputs};
pub use elementwise::{Activation, activation, gated_activation, gated_activation_stacked};
pub use embedding::{embedding, upload_ids};
pub use kv_cache::KvCache;
pub use matmul::{MatmulTiling, matmul, matmul_tiled};
pub use norm::{RmsNorm, add_rms_norm, rms_norm};
pub use quant_matmul::{QuantMatmulTiling, quant_matmul};
pub use quant_matvec::{MatvecShape, Product, WeightedStream, gated_quant_matvec, quant_matvec};
pub use rope::{Rope, RopeStyle};
pub use softmax::softmax;
pub use stream_read::{ReadPattern, stream_read, stream_read_weights};
pub use top_k::{decode_top_k, top_k};

use crate::error::{GpuError, Result};
use crate::tensor::Tensor;

/// The (rows, cols) of a rank-2 tensor, or an error naming the op and operand.
pub(crate) fn matrix_dims(op: &str, operand: &str, t: &Tensor) -> Result<(usize, usize)> {
    match *t.shape() {
        [rows, cols] => Ok((rows, cols)),
        ref other => Err(GpuError::Shape(format!(
            "{op}: {operand} must be a matrix, got shape {other:?}"
        ))),
    }
}

/// A dimension as the u32 kernels index with, or an error when it does not fit.
pub(crate) fn dim_u32(op: &str, what: &str, n: usize) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| GpuError::Shape(format!("{op}: {what} = {n} exceeds u32 indexing")))
}
