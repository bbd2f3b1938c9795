//! Launcher for `kernels/matmul.wgsl`: C = A·B for row-major f32 matrices.

use crate::batch::Batch;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::{dim_u32, matrix_dims};
use crate::tensor::Tensor;

pub const KERNEL: KernelSource = kernel_source!("matmul");

/// The block sizes `matmul.wgsl` is specialized with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulTiling {
    pub tile_m: u32,
    pub tile_n: u32,
    pub tile_k: u32,
    pub thread_m: u32,
    pub thread_n: u32,
}

impl Default for MatmulTiling {
    /// 64×64 output blocks, 4×4 per invocation: 256 invocations and 8 KiB of workgroup memory,
    /// within WebGPU's guaranteed minimum limits.
    fn default() -> Self {
        MatmulTiling {
            tile_m: 64,
            tile_n: 64,
            tile_k: 16,
            thread_m: 4,
            thread_n: 4,
        }
    }
}

impl MatmulTiling {
    fn specialization(&self) -> Specialization {
        Specialization::new()
            .u32("TILE_M", self.tile_m)
            .u32("TILE_N", self.tile_n)
            .u32("TILE_K", self.tile_k)
            .u32("THREAD_M", self.thread_m)
            .u32("THREAD_N", self.thread_n)
    }

    fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let bad = |message: String| {
            Err(GpuError::Kernel {
                kernel: "matmul".into(),
                message,
            })
        };
        if [
            self.tile_m,
            self.tile_n,
            self.tile_k,
            self.thread_m,
            self.thread_n,
        ]
        .contains(&0)
            || !self.tile_m.is_multiple_of(self.thread_m)
            || !self.tile_n.is_multiple_of(self.thread_n)
        {
            return bad(format!(
                "tiling {self:?}: tiles must be non-zero multiples of the per-thread block"
            ));
        }
        let invocations = (self.tile_m / self.thread_m) * (self.tile_n / self.thread_n);
        if invocations > limits.max_compute_invocations_per_workgroup {
            return bad(format!(
                "tiling {self:?} needs {invocations} invocations per workgroup; the device allows {}",
                limits.max_compute_invocations_per_workgroup
            ));
        }
        let shared = (self.tile_m + self.tile_n) * self.tile_k * 4;
        if shared > limits.max_compute_workgroup_storage_size {
            return bad(format!(
                "tiling {self:?} needs {shared} bytes of workgroup memory; the device allows {}",
                limits.max_compute_workgroup_storage_size
            ));
        }
        Ok(())
    }
}

/// Records C = A·B with the default tiling; C comes from the pool.
pub fn matmul(batch: &mut Batch<'_>, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    matmul_tiled(batch, a, b, MatmulTiling::default())
}

pub fn matmul_tiled(
    batch: &mut Batch<'_>,
    a: &Tensor,
    b: &Tensor,
    tiling: MatmulTiling,
) -> Result<Tensor> {
    let (m, k) = matrix_dims("matmul", "A", a)?;
    let (kb, n) = matrix_dims("matmul", "B", b)?;
    if k != kb {
        return Err(GpuError::Shape(format!(
            "matmul: A is {m}×{k} but B is {kb}×{n}"
        )));
    }
    let gpu = batch.gpu();
    tiling.check(gpu.limits())?;
    let c = gpu.empty("matmul output", &[m, n])?;
    if m == 0 || n == 0 {
        return Ok(c);
    }
    let col_blocks = n.div_ceil(tiling.tile_n as usize) as u64;
    let row_blocks = m.div_ceil(tiling.tile_m as usize) as u64;
    let grid = gpu.grid("matmul", row_blocks * col_blocks)?;
    let params = [
        dim_u32("matmul", "M", m)?,
        dim_u32("matmul", "N", n)?,
        dim_u32("matmul", "K", k)?,
        col_blocks as u32,
    ];
    batch.dispatch(
        &KERNEL,
        &tiling.specialization(),
        &[a.buffer(), b.buffer(), c.buffer()],
        bytemuck::cast_slice(&params),
        grid,
    )?;
    Ok(c)
}
