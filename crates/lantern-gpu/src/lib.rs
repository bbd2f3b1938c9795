//! Lantern's WebGPU runtime, one code path for native wgpu (Vulkan/Metal/DX12) and browser WebGPU.
//!
//! - [`Gpu`]: adapter and device acquisition, limits and optional features ([`AdapterReport`]).
//! - [`pool::BufferPool`]: buffers are recycled by size class, so steady-state work allocates nothing.
//! - [`kernel`]: WGSL kernels live in `src/kernels/*.wgsl`; [`kernel::Specialization`] rewrites their
//!   `const` declarations at pipeline-creation time (compile-time specialization), pipelines are cached.
//! - [`Batch`]: records many dispatches into one command encoder and submits once; it can read a
//!   tensor back in the same submission ([`Batch::submit_and_read`]). Bind groups are kept from
//!   one batch to the next ([`BindGroupStats`]), so a decode step creates none after the first.
//! - [`ops`]: typed launchers, one per kernel; [`reference`]: the CPU reference of every op.

pub mod bandwidth;
pub mod batch;
mod bind_groups;
mod compile_ahead;
pub mod device;
pub mod error;
pub mod kernel;
pub mod matmul_peak;
pub mod ops;
pub mod pool;
pub mod profile;
pub mod quant;
mod readback;
pub mod reference;
pub mod roofline;
pub mod selfcheck;
pub mod tensor;
pub mod testing;
mod unroll;

pub use batch::Batch;
pub use bind_groups::BindGroupStats;
pub use device::{AdapterReport, Gpu, GpuOptions};
pub use error::{GpuError, Result};
pub use kernel::Precision;
pub use tensor::Tensor;
pub use wgpu;
