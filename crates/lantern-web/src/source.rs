//! A model file arriving from JavaScript chunk by chunk: whatever `nextChunk()` resolves to
//! (a `fetch` body, a `Blob`'s stream, the Cache API), copied into the wasm heap one chunk at a
//! time, so the whole file is never held there. The header is parsed from the first chunks
//! (`lantern_models::model::read_header`); the bytes are hashed as they pass when a checksum was
//! given, and progress is reported per chunk.

use js_sys::{Function, Promise, Uint8Array};
use lantern_models::model::{ChunkSource, ModelError};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub(crate) struct JsChunks {
    next_chunk: Function,
    on_progress: Option<Function>,
    total_bytes: Option<u64>,
    received: u64,
    /// Received and handed to the loader, which has finished with every chunk before asking for
    /// the next: these bytes are on the GPU (or were skipped).
    uploaded: u64,
    hash: Option<(Sha256, String)>,
}

fn js_message(value: &JsValue) -> String {
    js_sys::Error::from(value.clone())
        .message()
        .as_string()
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

impl JsChunks {
    /// `expected_sha256`: lowercase hex, checked once the last byte has arrived.
    pub fn new(
        next_chunk: Function,
        on_progress: Option<Function>,
        total_bytes: Option<u64>,
        expected_sha256: Option<String>,
    ) -> Self {
        JsChunks {
            next_chunk,
            on_progress,
            total_bytes,
            received: 0,
            uploaded: 0,
            hash: expected_sha256.map(|hex| (Sha256::new(), hex.to_ascii_lowercase())),
        }
    }

    async fn pull(&mut self) -> Result<Option<Vec<u8>>, ModelError> {
        let source = |e: JsValue| ModelError::Source(js_message(&e));
        let promise = self.next_chunk.call0(&JsValue::NULL).map_err(source)?;
        let value = JsFuture::from(Promise::resolve(&promise))
            .await
            .map_err(source)?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        if !value.is_instance_of::<Uint8Array>() {
            return Err(ModelError::Source(
                "nextChunk() must resolve to a Uint8Array, or null at the end".into(),
            ));
        }
        let chunk = Uint8Array::from(value).to_vec();
        self.received += chunk.len() as u64;
        if let Some((hasher, _)) = &mut self.hash {
            hasher.update(&chunk);
        }
        if let Some(total) = self.total_bytes
            && self.received > total
        {
            return Err(ModelError::Source(format!(
                "the file is longer than the {total} bytes announced"
            )));
        }
        self.report();
        Ok(Some(chunk))
    }

    fn report(&self) {
        if let Some(callback) = &self.on_progress {
            let progress = js_sys::Object::new();
            let set = |key: &str, value: JsValue| {
                let _ = js_sys::Reflect::set(&progress, &key.into(), &value);
            };
            set("receivedBytes", (self.received as f64).into());
            set("uploadedBytes", (self.uploaded as f64).into());
            set(
                "totalBytes",
                self.total_bytes
                    .map_or(JsValue::NULL, |t| (t as f64).into()),
            );
            // A throwing progress callback must not break the load.
            let _ = callback.call1(&JsValue::NULL, &progress);
        }
    }

    /// Reads what is left after the last tensor (hashing it) and checks the checksum.
    pub async fn finish(&mut self) -> Result<(), ModelError> {
        while self.next_chunk().await?.is_some() {}
        self.uploaded = self.received;
        self.report();
        if let Some((hasher, expected)) = self.hash.take() {
            let actual: String = hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if actual != expected {
                return Err(ModelError::Source(format!(
                    "the file's SHA-256 is {actual}, not the expected {expected}: it is corrupt or not the file asked for"
                )));
            }
        }
        Ok(())
    }
}

impl ChunkSource for JsChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ModelError> {
        self.uploaded = self.received;
        self.pull().await
    }
}
