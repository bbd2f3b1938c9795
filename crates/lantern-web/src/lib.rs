//! Lantern in the browser: the wasm-bindgen API that `pkg/` wraps. Today it opens the WebGPU
//! device, reports the adapter and runs the kernel self-check; text generation joins with the
//! model issues. Every fallible call rejects with a JavaScript `Error` carrying a clear message.

use std::rc::Rc;

use lantern_gpu::{Gpu, GpuOptions};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// A WebGPU device with Lantern's buffer pool and compiled kernels.
#[wasm_bindgen]
pub struct Engine {
    gpu: Rc<Gpu>,
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

#[wasm_bindgen]
impl Engine {
    /// Requests an adapter and device; rejects with a message saying what is missing when the
    /// browser has no WebGPU.
    pub async fn create() -> Result<Engine, JsError> {
        let gpu = Gpu::new(GpuOptions::default())
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Engine { gpu: Rc::new(gpu) })
    }

    /// The adapter's name, backend, optional features and limits.
    #[wasm_bindgen(js_name = adapterInfo)]
    pub fn adapter_info(&self) -> Result<JsValue, JsError> {
        to_js(self.gpu.report())
    }

    /// Runs every kernel on awkward shapes against its CPU reference (compiled into this module).
    #[wasm_bindgen(js_name = selfCheck)]
    pub fn self_check(&self) -> js_sys::Promise {
        let gpu = self.gpu.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let report = lantern_gpu::selfcheck::run(&gpu)
                .await
                .map_err(|e| JsError::new(&e.to_string()))?;
            Ok(to_js(&report)?)
        })
    }
}
