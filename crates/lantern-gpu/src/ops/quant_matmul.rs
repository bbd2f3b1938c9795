//! Launcher for `kernels/quant_matmul.wgsl`: Y = X·Wᵀ for a quantized weight matrix, tiled (the
//! matmul peak probe and the self-check run it; prefill runs `quant_matvec`, faster where measured).

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Precision};
use crate::ops::{dim_u32, matrix_dims};
use crate::quant::{QuantMatrix, UNIT_LEN, quant_kernel_source};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = quant_kernel_source!("quant_matmul");

/// The block sizes `quant_matmul.wgsl` is specialized with: a workgroup computes `tile_m` rows of
/// X against `tile_n` weight rows, `tile_k` columns per step, `thread_m`×`thread_n` outputs per
/// invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantMatmulTiling {
    pub tile_m: u32,
    pub tile_n: u32,
    pub tile_k: u32,
    pub thread_m: u32,
    pub thread_n: u32,
}

impl QuantMatmulTiling {
    /// A tiling for `m` rows of X. Each weight is dequantized once per workgroup and reused
    /// `tile_m` times, so the tile follows `m` up to 64 instead of padding a short prompt to 64
    /// rows. All use 256 invocations and at most 12 KiB of workgroup memory (WebGPU guarantees
    /// 256 and 16 KiB).
    pub fn for_rows(m: usize) -> QuantMatmulTiling {
        let (tile_m, tile_k, thread_m) = match m {
            0..=16 => (16, 32, 1),
            17..=32 => (32, 32, 2),
            _ => (64, 16, 4),
        };
        QuantMatmulTiling {
            tile_m,
            tile_n: 64,
            tile_k,
            thread_m,
            thread_n: 4,
        }
    }

    fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let bad = |message: String| {
            Err(GpuError::Kernel {
                kernel: KERNEL.name.into(),
                message: format!("tiling {self:?}: {message}"),
            })
        };
        if self.thread_m == 0
            || self.thread_n == 0
            || self.tile_m == 0
            || self.tile_n == 0
            || !self.tile_m.is_multiple_of(self.thread_m)
            || !self.tile_n.is_multiple_of(self.thread_n)
        {
            return bad("tiles must be non-zero multiples of the per-invocation block".into());
        }
        // A step must stay inside one 32-value unit and cover whole vec4 groups.
        if ![4, 8, 16, 32].contains(&self.tile_k) {
            return bad("tile_k must be 4, 8, 16 or 32".into());
        }
        let (wg_x, wg_y) = (self.tile_n / self.thread_n, self.tile_m / self.thread_m);
        let invocations = wg_x as u64 * wg_y as u64;
        if invocations > limits.max_compute_invocations_per_workgroup as u64
            || wg_x > limits.max_compute_workgroup_size_x
            || wg_y > limits.max_compute_workgroup_size_y
        {
            return bad(format!(
                "{wg_x}×{wg_y} invocations per workgroup; the device allows {}",
                limits.max_compute_invocations_per_workgroup
            ));
        }
        let shared = (self.tile_m as u64 + self.tile_n as u64) * self.tile_k as u64 * 4;
        if shared > limits.max_compute_workgroup_storage_size as u64 {
            return bad(format!(
                "{shared} bytes of workgroup memory; the device allows {}",
                limits.max_compute_workgroup_storage_size
            ));
        }
        Ok(())
    }
}

/// Records Y = X·Wᵀ computed in `precision` (f32 accumulation either way) for X `[m, cols]`;
/// Y (from the pool) is `[m, rows]`.
pub fn quant_matmul(
    batch: &mut Batch<'_>,
    x: &Tensor,
    w: &QuantMatrix,
    precision: Precision,
) -> Result<Tensor> {
    let (m, _) = matrix_dims(KERNEL.name, "X", x)?;
    quant_matmul_tiled(batch, x, w, QuantMatmulTiling::for_rows(m), precision)
}

pub fn quant_matmul_tiled(
    batch: &mut Batch<'_>,
    x: &Tensor,
    w: &QuantMatrix,
    tiling: QuantMatmulTiling,
    precision: Precision,
) -> Result<Tensor> {
    let op = KERNEL.name;
    let (m, k) = matrix_dims(op, "X", x)?;
    if k != w.cols() {
        return Err(GpuError::Shape(format!(
            "{op}: X is {m}×{k} but {} is {}×{} (X·Wᵀ needs {} columns)",
            w.name(),
            w.rows(),
            w.cols(),
            w.cols()
        )));
    }
    let gpu = batch.gpu();
    tiling.check(gpu.limits())?;
    gpu.check_precision(&format!("{op} in f16"), precision)?;
    let y = gpu.empty("quant_matmul output", &[m, w.rows()])?;
    if m == 0 {
        return Ok(y);
    }
    debug_assert!(k.is_multiple_of(UNIT_LEN));
    let spec = w
        .specialization(&["weights"])
        .precision(precision)
        .u32("TILE_M", tiling.tile_m)
        .u32("TILE_N", tiling.tile_n)
        .u32("TILE_K", tiling.tile_k)
        .u32("THREAD_M", tiling.thread_m)
        .u32("THREAD_N", tiling.thread_n);
    let row_blocks = m.div_ceil(tiling.tile_m as usize) as u64;
    for part in w.parts() {
        let col_blocks = part.rows().div_ceil(tiling.tile_n as usize) as u64;
        let params = [
            dim_u32(op, "M", m)?,
            dim_u32(op, "rows", part.rows())?,
            dim_u32(op, "cols", k)?,
            dim_u32(op, "all rows", w.rows())?,
            dim_u32(op, "first row", part.first_row())?,
            col_blocks as u32,
            dim_u32(op, "blocks per row", w.row_blocks())?,
            0, // padding: uniform blocks are 16-byte multiples
        ];
        batch.dispatch(
            &KERNEL,
            &spec,
            &[part, x.buffer(), y.buffer()],
            bytemuck::cast_slice(&params),
            gpu.grid(op, row_blocks * col_blocks)?,
        )?;
    }
    Ok(y)
}
