//! Lantern in the browser: the wasm-bindgen API that `pkg/` wraps (from a Web Worker, see
//! `pkg/worker.js`). An [`Engine`] is one WebGPU device: it reports the adapter, runs the kernel
//! self-check and loads [`TextModel`]s from a stream of chunks. Every fallible call rejects with
//! a JavaScript `Error` carrying a clear message.

mod params;
mod source;
mod text_model;

use std::rc::Rc;

use js_sys::{Function, Promise};
use lantern_gpu::{Gpu, GpuOptions};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

pub use text_model::TextModel;

pub(crate) type JsResult<T> = Result<T, JsError>;

pub(crate) fn error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

pub(crate) fn to_js<T: Serialize>(value: &T) -> JsResult<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(error)
}

/// What [`Engine::measure_rooflines`] resolves to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RooflineReport {
    bandwidth_gb_per_second: f64,
    probe_buffer_bytes: u64,
    probe_pattern: String,
    matmul_peak_gflops: f64,
    matmul_peak_kernel: String,
    dispatch_microseconds: f64,
}

/// A WebGPU device with Lantern's buffer pool and compiled kernels.
#[wasm_bindgen]
pub struct Engine {
    gpu: Rc<Gpu>,
}

#[wasm_bindgen]
impl Engine {
    /// Requests an adapter and device; rejects with a message saying what is missing when the
    /// browser has no WebGPU.
    pub async fn create() -> Result<Engine, JsError> {
        let gpu = Gpu::new(GpuOptions::default()).await.map_err(error)?;
        Ok(Engine { gpu: Rc::new(gpu) })
    }

    /// The adapter's name, backend, optional features and limits.
    #[wasm_bindgen(js_name = adapterInfo)]
    pub fn adapter_info(&self) -> Result<JsValue, JsError> {
        to_js(self.gpu.report())
    }

    /// Runs every kernel on awkward shapes against its CPU reference (compiled into this module).
    #[wasm_bindgen(js_name = selfCheck)]
    pub fn self_check(&self) -> Promise {
        let gpu = self.gpu.clone();
        future_to_promise(async move {
            let report = lantern_gpu::selfcheck::run(&gpu).await.map_err(error)?;
            Ok(to_js(&report)?)
        })
    }

    /// Measures this device's rooflines for a benchmark report: `{ bandwidthGbPerSecond,
    /// probeBufferBytes, probePattern, matmulPeakGflops, matmulPeakKernel, dispatchMicroseconds }`
    /// (streaming bandwidth over a buffer of up to 256 MiB, the fastest 1024² matrix product among
    /// Lantern's kernels, and what one more dispatch costs, measured on `dispatches` of them).
    /// Takes seconds; run it between generations.
    #[wasm_bindgen(js_name = measureRooflines)]
    pub fn measure_rooflines(&self, dispatches: usize) -> Promise {
        let gpu = self.gpu.clone();
        future_to_promise(async move {
            let r = lantern_gpu::roofline::measure(&gpu, dispatches, text_model::performance_now)
                .await
                .map_err(error)?;
            Ok(to_js(&RooflineReport {
                bandwidth_gb_per_second: r.bandwidth.gigabytes_per_second(),
                probe_buffer_bytes: r.bandwidth.buffer_bytes,
                probe_pattern: format!("{:?}", r.bandwidth.pattern),
                matmul_peak_gflops: r.matmul_peak.gigaflops(),
                matmul_peak_kernel: format!("{:?}", r.matmul_peak.kernel),
                dispatch_microseconds: r.dispatch_ms * 1e3,
            })?)
        })
    }

    /// Why the device was lost, or `undefined` while it works. A lost engine loads nothing; the
    /// caller creates a new one.
    #[wasm_bindgen(js_name = lostReason)]
    pub fn lost_reason(&self) -> Option<String> {
        self.gpu.check_alive().err().map(|e| e.to_string())
    }

    /// Destroys the device at once, freeing all its memory; every model on it stops working.
    /// (Also how tests provoke a lost device.)
    #[wasm_bindgen(js_name = destroyDevice)]
    pub fn destroy_device(&self) {
        self.gpu.device.destroy();
    }

    /// Bytes of GPU buffers this engine has created (weights, KV caches, activations).
    #[wasm_bindgen(js_name = gpuBytesCreated)]
    pub fn gpu_bytes_created(&self) -> f64 {
        self.gpu.pool().stats().bytes_created as f64
    }

    /// Loads a GGUF text model from a stream of chunks: `nextChunk()` resolves to the file's
    /// next `Uint8Array`, or `null` at the end. Each chunk goes to the GPU before the next is
    /// asked for, so the wasm heap never holds the file. `options`: `{ totalBytes?, sha256?,
    /// maxContext?, precision? }`; `onProgress({ receivedBytes, uploadedBytes, totalBytes })`
    /// is called per chunk. Resolves to a [`TextModel`].
    #[wasm_bindgen(js_name = loadText)]
    pub fn load_text(
        &self,
        next_chunk: Function,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Promise {
        let gpu = self.gpu.clone();
        future_to_promise(async move {
            let options = params::from_js(options)?;
            let model = TextModel::load(gpu, next_chunk, options, on_progress).await?;
            Ok(model.into())
        })
    }
}
