//! A text model loaded on an [`Engine`](crate::Engine)'s device: generation from a prompt,
//! chat with the model's template, and the figures a page shows.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::rc::Rc;

use js_sys::{Function, Promise};
use lantern_core::chat::ChatTemplate;
use lantern_core::tokenizer::Tokenizer;
use lantern_gpu::Gpu;
use lantern_models::chat::ChatSession;
use lantern_models::generate::{Chunk, Clock, GenerateOptions, generate};
use lantern_models::model::{GpuModel, ModelOptions, read_header};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::params::{self, GenerateParams, GenerationResult, LoadParams};
use crate::source::JsChunks;
use crate::{JsResult, error, to_js};

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`, in a window and in a worker alike.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub(crate) fn performance_now() -> f64;
}

struct PerformanceClock;

impl Clock for PerformanceClock {
    fn now_ms(&self) -> f64 {
        performance_now()
    }
}

struct Loaded {
    model: GpuModel<Rc<Gpu>>,
    tokenizer: Tokenizer,
    /// `Err` holds why this model cannot chat (its file has no usable template).
    chat: Result<ChatSession, String>,
}

/// What a page shows about a loaded model.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo {
    architecture: String,
    /// `general.name` from the file, when it has one.
    name: Option<String>,
    vocab_size: u32,
    layers: u32,
    hidden_size: u32,
    /// Positions the KV cache holds: the longest prompt plus reply.
    context_length: usize,
    /// The context length the model was trained for.
    trained_context_length: u32,
    precision: &'static str,
    weight_bytes: u64,
    kv_cache_bytes: u64,
    /// Weight bytes one decoded token reads.
    decode_bytes_per_token: u64,
    /// Kernel dispatches one decode step records.
    decode_dispatches: usize,
    file_bytes: u64,
    load_ms: f64,
    can_chat: bool,
}

/// Where a model's state is: ready, lent to the generation that is running, or unloaded.
enum Slot {
    Ready(Box<Loaded>),
    Generating,
    Unloaded,
}

type SharedSlot = Rc<RefCell<Slot>>;

/// The model, taken out of its slot for one generation (no `RefCell` borrow is held across the
/// GPU's awaits); put back when dropped, or freed then if the model was unloaded meanwhile.
struct Lent {
    slot: SharedSlot,
    loaded: Option<Box<Loaded>>,
}

impl Lent {
    fn take(slot: &SharedSlot) -> JsResult<Lent> {
        let mut state = slot.borrow_mut();
        match std::mem::replace(&mut *state, Slot::Generating) {
            Slot::Ready(loaded) => Ok(Lent {
                slot: slot.clone(),
                loaded: Some(loaded),
            }),
            other => {
                let why = match other {
                    Slot::Generating => {
                        "this model is already generating; wait for it or abort it first"
                    }
                    _ => "this model was unloaded",
                };
                *state = other;
                Err(error(why))
            }
        }
    }

    fn get(&mut self) -> &mut Loaded {
        self.loaded.as_mut().expect("lent until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let Some(loaded) = self.loaded.take() else {
            return;
        };
        let mut state = self.slot.borrow_mut();
        if matches!(*state, Slot::Generating) {
            *state = Slot::Ready(loaded);
        } else {
            drop(state);
            free(*loaded);
        }
    }
}

/// Drops the model's buffers and returns the pool's spare buffers to the device.
fn free(loaded: Loaded) {
    let gpu = loaded.model.gpu().clone();
    drop(loaded);
    gpu.trim();
}

/// A text model on the GPU. Generations on one model run one at a time.
#[wasm_bindgen]
pub struct TextModel {
    slot: SharedSlot,
    info: ModelInfo,
}

/// Calls `on_chunk({ text, token })` for each piece; a callback returning `false` cancels.
fn chunk_callback(on_chunk: Function) -> impl FnMut(&Chunk) -> ControlFlow<()> {
    move |chunk| {
        let value = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&value, &"text".into(), &chunk.text.as_str().into());
        let token = chunk.token.map_or(JsValue::NULL, JsValue::from);
        let _ = js_sys::Reflect::set(&value, &"token".into(), &token);
        match on_chunk.call1(&JsValue::NULL, &value) {
            Ok(answer) if answer == JsValue::FALSE => ControlFlow::Break(()),
            Ok(_) => ControlFlow::Continue(()),
            // A throwing callback cannot see more tokens: stop rather than lose the error.
            Err(_) => ControlFlow::Break(()),
        }
    }
}

impl TextModel {
    pub(crate) async fn load(
        gpu: Rc<Gpu>,
        next_chunk: Function,
        params: LoadParams,
        on_progress: Option<Function>,
    ) -> JsResult<TextModel> {
        let started = performance_now();
        gpu.check_alive().map_err(error)?;
        let options = ModelOptions {
            max_context: params
                .max_context
                .unwrap_or(ModelOptions::default().max_context),
            precision: params.precision()?,
            ..ModelOptions::default()
        };
        let chunks = JsChunks::new(
            next_chunk,
            on_progress,
            params.total_bytes,
            params.sha256.clone(),
        );
        let (header, mut source) = read_header(chunks, params.total_bytes)
            .await
            .map_err(error)?;
        let metadata = header.metadata();
        let tokenizer = Tokenizer::from_gguf(metadata).map_err(error)?;
        let chat = ChatTemplate::from_gguf(metadata)
            .map(ChatSession::new)
            .map_err(|e| e.to_string());
        let name = metadata.get_str("general.name").ok().map(str::to_owned);
        let model = GpuModel::from_stream(gpu.clone(), &header, &mut source, &options)
            .await
            .map_err(error)?;
        source.source_mut().finish().await.map_err(error)?;
        let config = model.config();
        let info = ModelInfo {
            architecture: config.architecture.gguf_name().to_owned(),
            name,
            vocab_size: config.vocab_size,
            layers: config.n_layers,
            hidden_size: config.hidden_size,
            context_length: model.max_context(),
            trained_context_length: config.context_length,
            precision: model.precision().name(),
            weight_bytes: model.weight_bytes(),
            kv_cache_bytes: model.cache_bytes(),
            decode_bytes_per_token: model.decode_weight_bytes(),
            decode_dispatches: model.decode_dispatches().map_err(error)?,
            file_bytes: header.required_file_size(),
            load_ms: performance_now() - started,
            can_chat: chat.is_ok(),
        };
        Ok(TextModel {
            slot: Rc::new(RefCell::new(Slot::Ready(Box::new(Loaded {
                model,
                tokenizer,
                chat,
            })))),
            info,
        })
    }

    /// Runs `task` on the model, lent to it for its length: a second concurrent call, and a
    /// call after unloading, are refused.
    fn with_model<F, R>(
        &self,
        options: JsValue,
        task: impl FnOnce(Lent, GenerateOptions) -> F + 'static,
    ) -> Promise
    where
        F: std::future::Future<Output = JsResult<R>> + 'static,
        GenerationResult: From<R>,
    {
        let slot = self.slot.clone();
        let options = params::from_js::<GenerateParams>(options).and_then(GenerateParams::options);
        future_to_promise(async move {
            let generation = task(Lent::take(&slot)?, options?).await?;
            Ok(to_js(&GenerationResult::from(generation))?)
        })
    }
}

#[wasm_bindgen]
impl TextModel {
    /// Architecture, sizes, context, precision and GPU memory of the model.
    pub fn info(&self) -> JsResult<JsValue> {
        to_js(&self.info)
    }

    /// Multiply-adds a prompt of `tokens` tokens takes (every layer's matrices per token, causal
    /// attention, the output projection once): what a benchmark sets prefill speed against the
    /// matrix-product peak with.
    #[wasm_bindgen(js_name = promptMultiplyAdds)]
    pub fn prompt_multiply_adds(&self, tokens: usize) -> JsResult<f64> {
        let mut lent = Lent::take(&self.slot)?;
        Ok(lent.get().model.prompt_multiply_adds(tokens) as f64)
    }

    /// Token ids of `text` (BOS added when the model wants one, special tokens as plain text).
    pub fn tokenize(&self, text: &str) -> JsResult<Vec<u32>> {
        let mut lent = Lent::take(&self.slot)?;
        lent.get()
            .tokenizer
            .encode(text, true, false)
            .map_err(error)
    }

    /// Continues `prompt` from an empty context, calling `onChunk({ text, token })` as text
    /// becomes final; `onChunk` returning `false` stops it. Resolves to `{ text, tokens,
    /// finishReason, promptTokens, generatedTokens, prefillMs, decodeMs, …TokensPerSecond }`.
    pub fn generate(&self, prompt: String, options: JsValue, on_chunk: Function) -> Promise {
        self.with_model(options, move |mut lent, options| async move {
            let Loaded {
                model,
                tokenizer,
                chat,
            } = lent.get();
            let ids = tokenizer.encode(&prompt, true, false).map_err(error)?;
            model.reset();
            if let Ok(session) = chat {
                session.forget();
            }
            generate(
                model,
                tokenizer,
                &ids,
                &options,
                &PerformanceClock,
                chunk_callback(on_chunk),
            )
            .await
            .map_err(error)
        })
    }

    /// The assistant's reply to `messages` (`[{ role, content }]`, the whole conversation),
    /// rendered with the model's chat template; turns already in the KV cache are not
    /// recomputed. Streams and resolves like [`generate`](Self::generate).
    pub fn chat(&self, messages: JsValue, options: JsValue, on_chunk: Function) -> Promise {
        let messages = params::messages(messages);
        self.with_model(options, move |mut lent, options| async move {
            let messages = messages?;
            let Loaded {
                model,
                tokenizer,
                chat,
            } = lent.get();
            let session = chat
                .as_mut()
                .map_err(|why| error(format!("this model cannot chat: {why}")))?;
            session
                .reply(
                    model,
                    tokenizer,
                    &messages,
                    &options,
                    &PerformanceClock,
                    chunk_callback(on_chunk),
                )
                .await
                .map_err(error)
        })
    }

    /// Frees the model's GPU memory (weights and KV cache): now, or when the generation
    /// running ends (abort it to make that soon). Later calls say it was unloaded.
    pub fn unload(&self) {
        let previous = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Unloaded);
        if let Slot::Ready(loaded) = previous {
            free(*loaded);
        }
    }
}
