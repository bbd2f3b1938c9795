//! What JavaScript passes in: generation options (camelCase, every field optional, the
//! defaults of [`GenerateOptions`] and [`SamplerConfig`]), load options and chat messages; and
//! what it gets back: a finished generation.

use std::collections::BTreeMap;

use lantern_core::chat::Message;
use lantern_core::sampling::SamplerConfig;
use lantern_gpu::Precision;
use lantern_models::chat::ChatTurn;
use lantern_models::generate::{FinishReason, GenerateOptions, Generation};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::JsResult;

/// A string or a list of strings (`stop: "\n"` or `stop: ["\n", "User:"]`, as OpenAI takes it).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GenerateParams {
    max_tokens: Option<usize>,
    temperature: Option<f32>,
    top_k: Option<usize>,
    top_p: Option<f32>,
    min_p: Option<f32>,
    repetition_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    penalty_last_n: Option<usize>,
    /// Token id (as a string key, like OpenAI's `logit_bias`) → bias added to its logit.
    logit_bias: Option<BTreeMap<String, f32>>,
    seed: Option<u64>,
    stop: Option<OneOrMany>,
    ignore_eos: Option<bool>,
}

/// `undefined` and `null` mean "all defaults"; an unknown field is an error (a typo would
/// otherwise be ignored silently).
pub(crate) fn from_js<T: for<'de> Deserialize<'de> + Default>(value: JsValue) -> JsResult<T> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| crate::error(format!("options: {e}")))
}

impl GenerateParams {
    pub fn options(self) -> JsResult<GenerateOptions> {
        let defaults = SamplerConfig::default();
        let logit_bias = self
            .logit_bias
            .unwrap_or_default()
            .into_iter()
            .map(|(id, bias)| {
                id.parse::<u32>()
                    .map(|id| (id, bias))
                    .map_err(|_| crate::error(format!("logitBias: '{id}' is not a token id")))
            })
            .collect::<JsResult<Vec<_>>>()?;
        Ok(GenerateOptions {
            max_tokens: self
                .max_tokens
                .unwrap_or(GenerateOptions::default().max_tokens),
            stop: match self.stop {
                None => Vec::new(),
                Some(OneOrMany::One(s)) => vec![s],
                Some(OneOrMany::Many(v)) => v,
            },
            sampler: SamplerConfig {
                temperature: self.temperature.unwrap_or(defaults.temperature),
                top_k: self.top_k.unwrap_or(defaults.top_k),
                top_p: self.top_p.unwrap_or(defaults.top_p),
                min_p: self.min_p.unwrap_or(defaults.min_p),
                repetition_penalty: self
                    .repetition_penalty
                    .unwrap_or(defaults.repetition_penalty),
                frequency_penalty: self.frequency_penalty.unwrap_or(defaults.frequency_penalty),
                presence_penalty: self.presence_penalty.unwrap_or(defaults.presence_penalty),
                penalty_last_n: self.penalty_last_n.unwrap_or(defaults.penalty_last_n),
                logit_bias,
                seed: self.seed.unwrap_or(defaults.seed),
            },
            ignore_end_of_generation: self.ignore_eos.unwrap_or(false),
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LoadParams {
    /// The file's size, when known (Content-Length, `Blob.size`): header fields and tensor
    /// ranges are checked against it before anything is allocated.
    pub total_bytes: Option<u64>,
    /// Lowercase hex SHA-256 the file must have.
    pub sha256: Option<String>,
    /// Positions the KV cache holds (capped at the model's context length). Default 4096.
    pub max_context: Option<usize>,
    /// "f32" (default) or "f16" (needs the adapter's shader-f16).
    pub precision: Option<String>,
}

impl LoadParams {
    pub fn precision(&self) -> JsResult<Precision> {
        match self.precision.as_deref() {
            None => Ok(Precision::F32),
            Some(p) => p
                .parse()
                .map_err(|e| crate::error(format!("precision: {e}"))),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct JsMessage {
    role: String,
    content: String,
}

pub(crate) fn messages(value: JsValue) -> JsResult<Vec<Message>> {
    let messages: Vec<JsMessage> = serde_wasm_bindgen::from_value(value)
        .map_err(|e| crate::error(format!("messages: {e}")))?;
    messages
        .into_iter()
        .map(|m| Message::parse(&m.role, m.content).map_err(|e| crate::error(e.to_string())))
        .collect()
}

/// A finished generation as JavaScript sees it. `finishReason` uses OpenAI's words where they
/// exist ("stop" for end-of-generation and stop strings, "length" for the token budget), plus
/// "abort" and "context_full".
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerationResult {
    text: String,
    tokens: Vec<u32>,
    finish_reason: &'static str,
    /// The stop string that ended generation, if one did.
    stop_string: Option<String>,
    /// Tokens of the prompt (for a chat, the whole rendered conversation).
    prompt_tokens: usize,
    /// Of those, the ones a chat found in the KV cache from earlier turns (not recomputed).
    cached_prompt_tokens: usize,
    generated_tokens: usize,
    prefill_ms: f64,
    decode_ms: f64,
    prefill_tokens_per_second: f64,
    decode_tokens_per_second: f64,
}

impl From<Generation> for GenerationResult {
    fn from(g: Generation) -> Self {
        let (finish_reason, stop_string) = match g.finish {
            FinishReason::EndOfGeneration => ("stop", None),
            FinishReason::Stop(s) => ("stop", Some(s)),
            FinishReason::MaxTokens => ("length", None),
            FinishReason::Cancelled => ("abort", None),
            FinishReason::ContextFull => ("context_full", None),
        };
        let t = g.timings;
        GenerationResult {
            text: g.text,
            tokens: g.tokens,
            finish_reason,
            stop_string,
            prompt_tokens: t.prompt_tokens,
            cached_prompt_tokens: 0,
            generated_tokens: t.generated_tokens,
            prefill_ms: t.prefill_ms,
            decode_ms: t.decode_ms,
            prefill_tokens_per_second: t.prefill_tokens_per_second(),
            decode_tokens_per_second: t.decode_tokens_per_second(),
        }
    }
}

impl From<ChatTurn> for GenerationResult {
    fn from(turn: ChatTurn) -> Self {
        GenerationResult {
            prompt_tokens: turn.prompt_tokens,
            cached_prompt_tokens: turn.cached_tokens,
            ..GenerationResult::from(turn.generation)
        }
    }
}
