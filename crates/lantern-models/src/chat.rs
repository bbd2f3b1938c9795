//! A conversation with a model: the whole message list is rendered with the model's chat
//! template on every turn (as an OpenAI-style API receives it), and only the tokens that differ
//! from what the KV cache already holds are computed. Shared by `lantern chat` and the browser.

use std::ops::{ControlFlow, Deref};

use lantern_core::chat::{ChatTemplate, Message, RenderOptions};
use lantern_core::tokenizer::Tokenizer;
use lantern_gpu::Gpu;

use crate::generate::{
    Chunk, Clock, GenerateError, GenerateOptions, Generation, LanguageModel, generate,
};
use crate::model::GpuModel;

/// A reply, and how much of its prompt the KV cache already held.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatTurn {
    pub generation: Generation,
    /// Tokens of the rendered conversation, cached or not.
    pub prompt_tokens: usize,
    /// Of those, the ones reused from the cache (the generation's timings count only the rest).
    pub cached_tokens: usize,
}

pub struct ChatSession {
    template: ChatTemplate,
    /// The tokens whose keys and values are in the model's cache, in order.
    cached: Vec<u32>,
}

impl ChatSession {
    pub fn new(template: ChatTemplate) -> Self {
        ChatSession {
            template,
            cached: Vec::new(),
        }
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The token ids of `messages` rendered with the template, ending with the opening of the
    /// assistant's turn (BOS included when the vocabulary wants it and the template has not
    /// written it).
    pub fn prompt_ids(
        &self,
        tokenizer: &Tokenizer,
        messages: &[Message],
    ) -> Result<Vec<u32>, GenerateError> {
        let prompt = self.template.render(messages, &RenderOptions::default())?;
        let mut ids = tokenizer.encode(&prompt.text, false, true)?;
        if prompt.needs_bos(tokenizer.flags().add_bos) {
            ids.splice(0..0, tokenizer.special_ids().bos);
        }
        Ok(ids)
    }

    /// Generates the assistant's reply to `messages`, streaming it through `on_chunk`. The
    /// template's end-of-turn strings are added to `options.stop`. The model must not have run
    /// anything but this session's turns since the last call (or [`forget`](Self::forget) first).
    pub async fn reply<G: Deref<Target = Gpu>>(
        &mut self,
        model: &mut GpuModel<G>,
        tokenizer: &Tokenizer,
        messages: &[Message],
        options: &GenerateOptions,
        clock: &dyn Clock,
        on_chunk: impl FnMut(&Chunk) -> ControlFlow<()>,
    ) -> Result<ChatTurn, GenerateError> {
        let ids = self.prompt_ids(tokenizer, messages)?;
        let mut options = options.clone();
        options
            .stop
            .extend(self.template.stop_strings().iter().cloned());
        // Reuse the cached prefix; at least one token must be fed to get logits.
        let cached = self.cached.len().min(model.position());
        let common = self.cached[..cached]
            .iter()
            .zip(&ids)
            .take_while(|(a, b)| a == b)
            .count();
        let keep = common.min(ids.len().saturating_sub(1));
        model.rewind(keep);
        // Until this turn succeeds, only the kept prefix is known to be in the cache.
        self.cached.truncate(keep);
        let generation =
            generate(model, tokenizer, &ids[keep..], &options, clock, on_chunk).await?;
        let prompt_tokens = ids.len();
        self.cached = ids;
        self.cached.extend(&generation.tokens);
        self.cached.truncate(model.position());
        Ok(ChatTurn {
            generation,
            prompt_tokens,
            cached_tokens: keep,
        })
    }

    /// Forgets what the cache holds: the next reply computes its whole prompt.
    pub fn forget(&mut self) {
        self.cached.clear();
    }
}
