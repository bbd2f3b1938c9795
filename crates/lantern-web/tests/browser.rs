//! The wasm API as JavaScript sees it, in headless Chromium.
#![cfg(target_arch = "wasm32")]

use lantern_web::Engine;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &key.into()).unwrap()
}

#[wasm_bindgen_test]
async fn engine_reports_adapter_and_passes_self_check() {
    let engine = Engine::create()
        .await
        .unwrap_or_else(|e| panic!("{:?}", JsValue::from(e)));
    let info = engine.adapter_info().unwrap();
    assert_eq!(
        get(&info, "backend").as_string().as_deref(),
        Some("BrowserWebGpu")
    );
    let binding = get(&get(&info, "limits"), "max_storage_buffer_binding_size")
        .as_f64()
        .unwrap();
    assert!(binding >= 128.0 * 1024.0 * 1024.0, "{binding}");
    let report = JsFuture::from(engine.self_check()).await.unwrap();
    assert_eq!(get(&report, "passed").as_bool(), Some(true), "{report:?}");
    // matmul ×3, softmax ×3, quant_matvec, quant_matmul and top_k, plus the two products in f16
    // where the adapter has shader-f16 (SwiftShader does not).
    let f16 = get(&get(&info, "features"), "shader_f16")
        .as_bool()
        .unwrap();
    let checks = js_sys::Array::from(&get(&report, "checks")).length();
    assert_eq!(checks, if f16 { 11 } else { 9 }, "{report:?}");
}
