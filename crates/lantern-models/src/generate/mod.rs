//! The generation loop: prompt → prefill → sample → decode, streaming text as it becomes
//! complete, until end-of-generation, a stop string, the token budget, the context's end or the
//! caller's cancellation.
//!
//! It is written once for every model: anything that implements [`LanguageModel`] (the GPU
//! model, the CPU reference) runs through the same loop, natively and in the browser. The loop
//! is async because reading logits back from WebGPU is; it never blocks on anything itself.

mod stop;

use std::future::Future;
use std::ops::ControlFlow;

use lantern_core::chat::ChatError;
use lantern_core::sampling::{Sampler, SamplerConfig, SamplingError};
use lantern_core::tokenizer::{TextStream, Tokenizer, TokenizerError};
use thiserror::Error;

use stop::{Matched, StopMatcher};

/// A model that turns tokens into next-token logits, keeping its own KV cache.
pub trait LanguageModel {
    /// The most positions the model (and its cache) can hold.
    fn context_length(&self) -> usize;

    /// Tokens already in the cache: the position the next token will take.
    fn position(&self) -> usize;

    /// Runs `tokens` at the next positions and returns the logits that follow the last of them.
    fn forward(&mut self, tokens: &[u32]) -> impl Future<Output = Result<Vec<f32>, GenerateError>>;

    /// Prepares what a prompt of `prompt_tokens` tokens and the decode steps after it will run
    /// (a GPU model compiles their pipelines at once, on every core); the default does nothing.
    fn compile_kernels(&self, prompt_tokens: usize) -> Result<(), GenerateError> {
        let _ = prompt_tokens;
        Ok(())
    }

    /// The largest `k` [`forward_top_k`](Self::forward_top_k) takes; 0 (the default) when the
    /// model does not offer it.
    fn max_top_k(&self) -> usize {
        0
    }

    /// [`forward`](Self::forward), returning only the `k` highest logits as (id, logit) pairs
    /// (ties to the lower id), for 1 ≤ `k` ≤ [`max_top_k`](Self::max_top_k): a GPU model
    /// selects them on the GPU and reads back k pairs instead of the vocabulary. The default
    /// refuses (the loop only calls it when `max_top_k` allows).
    fn forward_top_k(
        &mut self,
        tokens: &[u32],
        k: usize,
    ) -> impl Future<Output = Result<Vec<(u32, f32)>, GenerateError>> {
        let _ = (tokens, k);
        async move {
            Err(GenerateError::Model(
                "this model does not select top-k logits itself".into(),
            ))
        }
    }
}

/// What a forward step returned: every logit, or only the highest ones.
enum Scores {
    Logits(Vec<f32>),
    TopK(Vec<(u32, f32)>),
}

/// Runs `tokens`, asking the model for just the top `top_k` logits when that is enough.
async fn forward<M: LanguageModel>(
    model: &mut M,
    tokens: &[u32],
    top_k: Option<usize>,
) -> Result<Scores, GenerateError> {
    Ok(match top_k {
        Some(k) => Scores::TopK(model.forward_top_k(tokens, k).await?),
        None => Scores::Logits(model.forward(tokens).await?),
    })
}

/// Time in milliseconds from an arbitrary origin: `performance.now()` in a browser,
/// [`SystemClock`] natively. Only differences are used.
pub trait Clock {
    fn now_ms(&self) -> f64;
}

#[cfg(not(target_arch = "wasm32"))]
pub struct SystemClock(std::time::Instant);

#[cfg(not(target_arch = "wasm32"))]
impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(std::time::Instant::now())
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1e3
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// The most tokens to generate. Default 256.
    pub max_tokens: usize,
    /// Generation ends when the text contains one of these; it is not part of the output.
    pub stop: Vec<String>,
    pub sampler: SamplerConfig,
    /// Keep going past end-of-generation tokens (for benchmarks). Default false.
    pub ignore_end_of_generation: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 256,
            stop: Vec::new(),
            sampler: SamplerConfig::default(),
            ignore_end_of_generation: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token (EOS, `<|im_end|>`, `<end_of_turn>`, …).
    EndOfGeneration,
    MaxTokens,
    /// The text reached this stop string.
    Stop(String),
    /// The caller's callback asked to stop.
    Cancelled,
    /// The cache is full: the model cannot take another position.
    ContextFull,
}

/// What the callback sees after each token: the token, and the text that became final with it
/// (empty while a character or a possible stop string is incomplete). The last call may carry
/// text without a token, when held-back text is released at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub token: Option<u32>,
    pub text: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    pub prompt_tokens: usize,
    /// Time to process the prompt, up to the first logits.
    pub prefill_ms: f64,
    pub generated_tokens: usize,
    /// Time from the first logits to the end.
    pub decode_ms: f64,
}

impl Timings {
    pub fn prefill_tokens_per_second(&self) -> f64 {
        per_second(self.prompt_tokens, self.prefill_ms)
    }

    pub fn decode_tokens_per_second(&self) -> f64 {
        per_second(self.generated_tokens, self.decode_ms)
    }
}

fn per_second(tokens: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        tokens as f64 * 1e3 / ms
    } else {
        0.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    /// Every sampled token, including a final end-of-generation token.
    pub tokens: Vec<u32>,
    /// The text shown, without end-of-generation tokens and stop strings.
    pub text: String,
    pub finish: FinishReason,
    pub timings: Timings,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GenerateError {
    #[error("the prompt is empty: a model needs at least one token to continue from")]
    EmptyPrompt,
    #[error(
        "the prompt has {prompt_tokens} tokens but only {available} of the model's {context_length}-token context are free (at least one is needed for the reply)"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        available: usize,
        context_length: usize,
    },
    #[error("sampling: {0}")]
    Sampling(#[from] SamplingError),
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
    #[error("chat template: {0}")]
    Chat(#[from] ChatError),
    /// The model itself failed (GPU error, lost device, …).
    #[error("model: {0}")]
    Model(String),
}

/// Generates a continuation of `prompt` (ids, BOS included if the model wants one), calling
/// `on_chunk` after every token; returning [`ControlFlow::Break`] from it cancels generation
/// between tokens.
pub async fn generate<M: LanguageModel>(
    model: &mut M,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    options: &GenerateOptions,
    clock: &dyn Clock,
    mut on_chunk: impl FnMut(&Chunk) -> ControlFlow<()>,
) -> Result<Generation, GenerateError> {
    if prompt.is_empty() {
        return Err(GenerateError::EmptyPrompt);
    }
    let context_length = model.context_length();
    let available = context_length.saturating_sub(model.position());
    if prompt.len() >= available {
        return Err(GenerateError::ContextOverflow {
            prompt_tokens: prompt.len(),
            available,
            context_length,
        });
    }
    let mut sampler = Sampler::new(options.sampler.clone())?;
    sampler.accept_all(prompt);
    // Without logit bias or penalties, and greedy or with a top-k filter, every sampling step
    // looks only at the top-k logits: the model can select them (on the GPU) and hand back k
    // pairs instead of the vocabulary, and the sampler gives the same tokens from them.
    let top_k = sampler
        .top_k_candidates()
        .filter(|&k| k <= model.max_top_k());

    // (The prefill's time includes compiling its pipelines and the decode step's, as it did
    // when the first pass compiled them one by one.)
    let started = clock.now_ms();
    model.compile_kernels(prompt.len())?;
    let mut scores = forward(model, prompt, top_k).await?;
    let first_logits = clock.now_ms();

    let mut stream = TextStream::new(true);
    let mut stops = StopMatcher::new(&options.stop);
    let mut tokens = Vec::new();
    let mut text = String::new();
    let finish = loop {
        if tokens.len() >= options.max_tokens {
            break FinishReason::MaxTokens;
        }
        let token = match &scores {
            Scores::Logits(logits) => sampler.sample(logits)?,
            Scores::TopK(candidates) => sampler.sample_top_k(candidates)?,
        };
        sampler.accept(token);
        tokens.push(token);
        if !options.ignore_end_of_generation && tokenizer.is_end_of_generation(token) {
            break FinishReason::EndOfGeneration;
        }
        let piece = stream.push(tokenizer, token)?;
        let (shown, stopped) = match stops.push(&piece) {
            Matched::Continue(shown) => (shown, None),
            Matched::Stop { text, stop } => (text, Some(stop)),
        };
        text.push_str(&shown);
        let chunk = Chunk {
            token: Some(token),
            text: shown,
        };
        if let Some(stop) = stopped {
            // Generation ends here whatever the callback answers.
            let _ = on_chunk(&chunk);
            break FinishReason::Stop(stop);
        }
        if on_chunk(&chunk).is_break() {
            break FinishReason::Cancelled;
        }
        if tokens.len() >= options.max_tokens {
            break FinishReason::MaxTokens;
        }
        if model.position() >= context_length {
            break FinishReason::ContextFull;
        }
        scores = forward(model, &[token], top_k).await?;
    };
    if !matches!(finish, FinishReason::Stop(_)) {
        // Text held back for a stop string that never came, and a character cut off at the end.
        let mut rest = stops.push(&stream.finish());
        let tail = match &mut rest {
            Matched::Continue(shown) => std::mem::take(shown) + &stops.finish(),
            Matched::Stop { text, .. } => std::mem::take(text),
        };
        if !tail.is_empty() {
            text.push_str(&tail);
            let _ = on_chunk(&Chunk {
                token: None,
                text: tail,
            });
        }
    }
    let timings = Timings {
        prompt_tokens: prompt.len(),
        prefill_ms: first_logits - started,
        generated_tokens: tokens.len(),
        decode_ms: clock.now_ms() - first_logits,
    };
    Ok(Generation {
        tokens,
        text,
        finish,
        timings,
    })
}
