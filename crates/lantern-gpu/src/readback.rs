//! Async readback: map a staging buffer and copy its bytes out. The same code runs natively, where
//! `Device::poll` drives the map callback, and in the browser, where the event loop does (and
//! `poll` does nothing).

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::pool::PooledBuffer;

pub(crate) async fn read_staging(gpu: &Gpu, staging: &PooledBuffer) -> Result<Vec<u8>> {
    read_mapped(gpu, staging.buffer(), staging.size()).await
}

/// Maps the first `size` bytes of a `MAP_READ` buffer, copies them out and unmaps it.
pub(crate) async fn read_mapped(gpu: &Gpu, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer.map_async(wgpu::MapMode::Read, 0..size, move |result| {
        let _ = sender.send(result);
    });
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let mapped = receiver
        .await
        .map_err(|_| GpuError::Readback("the map request was dropped".into()))?;
    if let Err(e) = mapped {
        gpu.check_alive()?;
        return Err(GpuError::Readback(e.to_string()));
    }
    let bytes = {
        let view = buffer
            .get_mapped_range(0..size)
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        view.to_vec()
    };
    buffer.unmap();
    Ok(bytes)
}
