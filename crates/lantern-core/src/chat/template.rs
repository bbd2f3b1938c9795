//! [`ChatTemplate`]: a compiled template, where it came from, and rendering a conversation.

use std::collections::BTreeMap;
use std::fmt;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

use super::{BuiltIn, CalendarDate, ChatError, Message, TemplateFamily, engine, tokenizer_config};
use crate::gguf::Metadata;

/// The GGUF metadata key holding the model's default chat template.
pub const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";

/// Where the template text came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateSource {
    /// The GGUF's `tokenizer.chat_template`.
    Gguf,
    /// `chat_template` in a Hugging Face `tokenizer_config.json`.
    TokenizerConfig,
    /// Text the caller supplied (a `chat_template.jinja`, a user's override).
    Supplied,
    /// Lantern's own template, because the model file had none (or the caller asked for it).
    BuiltIn(BuiltIn),
}

impl TemplateSource {
    /// Whether Lantern supplied the template rather than the model's files or the caller.
    pub fn is_built_in(self) -> bool {
        matches!(self, TemplateSource::BuiltIn(_))
    }
}

/// The special-token texts templates print (`bos_token`, `eos_token`). `None` leaves the
/// variable undefined, which Jinja prints as nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<String>,
    pub eos: Option<String>,
}

impl SpecialTokens {
    /// The texts of `tokenizer.ggml.bos_token_id` and `eos_token_id` in `tokenizer.ggml.tokens`.
    /// Missing keys give `None`; an id past the vocabulary is an error.
    pub fn from_gguf(metadata: &Metadata) -> Result<Self, ChatError> {
        let Ok(vocab) = metadata.get_str_array("tokenizer.ggml.tokens") else {
            return Ok(SpecialTokens::default());
        };
        let text_of = |key: &'static str| -> Result<Option<String>, ChatError> {
            if metadata.get(key).is_none() {
                return Ok(None);
            }
            let id = metadata.get_u64(key)?;
            let token = usize::try_from(id).ok().and_then(|i| vocab.get(i));
            match token {
                Some(text) => Ok(Some(text.clone())),
                None => Err(ChatError::BadTokenId {
                    key,
                    id,
                    vocab_size: vocab.len(),
                }),
            }
        };
        Ok(SpecialTokens {
            bos: text_of("tokenizer.ggml.bos_token_id")?,
            eos: text_of("tokenizer.ggml.eos_token_id")?,
        })
    }
}

/// How to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// End the prompt with the opening of an assistant turn, so the model writes the reply.
    /// `true` by default (generating the next reply is what a chat runtime does); `false`
    /// renders a finished conversation, e.g. to count its tokens.
    pub add_generation_prompt: bool,
    /// Today's date for templates that call `strftime_now` (see [`CalendarDate`]); `None`
    /// leaves `strftime_now` undefined, so such templates use their own default date.
    pub date: Option<CalendarDate>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            add_generation_prompt: true,
            date: None,
        }
    }
}

/// A rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatPrompt {
    /// The prompt text. Encode it with special-token parsing on, so the template's markers
    /// (`<|im_start|>`, `<start_of_turn>`, `<bos>`) become their single token ids.
    pub text: String,
    /// Whether `text` already begins with the model's BOS token text, printed by the template.
    pub starts_with_bos: bool,
}

impl ChatPrompt {
    /// Whether the tokenizer should still prepend BOS: only when the vocabulary asks for it
    /// (`tokenizer.ggml.add_bos_token`, `add_bos_token` in tokenizer_config.json) and the
    /// template has not written it already. A doubled BOS measurably degrades output, which is
    /// why llama.cpp warns about it.
    pub fn needs_bos(&self, vocab_adds_bos: bool) -> bool {
        vocab_adds_bos && !self.starts_with_bos
    }
}

/// A chat template ready to render conversations. Compiling happens once, when it is created,
/// so a template with a syntax error is refused before any conversation reaches it.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    text: String,
    source: TemplateSource,
    family: TemplateFamily,
    tokens: SpecialTokens,
    stop_strings: Vec<String>,
}

impl ChatTemplate {
    /// The template of a GGUF file: its `tokenizer.chat_template`, or when that is missing or
    /// empty, the built-in template for its `general.architecture` ([`ChatError::NoTemplate`]
    /// when there is none).
    pub fn from_gguf(metadata: &Metadata) -> Result<Self, ChatError> {
        let tokens = SpecialTokens::from_gguf(metadata)?;
        // A present key of the wrong type is a broken file (an error), not a missing template.
        let text = match metadata.get(CHAT_TEMPLATE_KEY) {
            Some(_) => metadata.get_str(CHAT_TEMPLATE_KEY)?,
            None => "",
        };
        if text.trim().is_empty() {
            let architecture = metadata.get_str("general.architecture")?;
            return Self::for_architecture(architecture, tokens);
        }
        Self::compile(text.to_owned(), TemplateSource::Gguf, tokens)
    }

    /// The template of a Hugging Face model: `chat_template` from its `tokenizer_config.json`
    /// (the entry named `default` when there are several), or when there is none, the built-in
    /// template for `model_type` (from its `config.json`). Newer repositories keep the
    /// template in a separate `chat_template.jinja`: pass that to [`ChatTemplate::from_text`].
    pub fn from_tokenizer_config(json: &str, model_type: Option<&str>) -> Result<Self, ChatError> {
        let config = tokenizer_config::parse(json)?;
        match config.template {
            Some(text) if !text.trim().is_empty() => {
                Self::compile(text, TemplateSource::TokenizerConfig, config.tokens)
            }
            _ => Self::for_architecture(model_type.unwrap_or("(unknown)"), config.tokens),
        }
    }

    /// A template text from anywhere else.
    pub fn from_text(text: impl Into<String>, tokens: SpecialTokens) -> Result<Self, ChatError> {
        Self::compile(text.into(), TemplateSource::Supplied, tokens)
    }

    /// The built-in template for an architecture, or [`ChatError::NoTemplate`].
    pub fn for_architecture(architecture: &str, tokens: SpecialTokens) -> Result<Self, ChatError> {
        match BuiltIn::for_architecture(architecture) {
            Some(built_in) => Self::built_in(built_in, tokens),
            None => Err(ChatError::NoTemplate {
                architecture: architecture.to_owned(),
            }),
        }
    }

    /// One of Lantern's templates, chosen by the caller.
    pub fn built_in(built_in: BuiltIn, tokens: SpecialTokens) -> Result<Self, ChatError> {
        Self::compile(
            built_in.text().to_owned(),
            TemplateSource::BuiltIn(built_in),
            tokens,
        )
    }

    fn compile(
        text: String,
        source: TemplateSource,
        tokens: SpecialTokens,
    ) -> Result<Self, ChatError> {
        let family = TemplateFamily::detect(&text);
        let mut stop_strings: Vec<String> = family
            .end_of_turn()
            .map(str::to_owned)
            .into_iter()
            .collect();
        let eos = tokens.eos.as_ref().filter(|eos| !eos.is_empty());
        if let Some(eos) = eos.filter(|eos| !stop_strings.contains(eos)) {
            stop_strings.push(eos.clone());
        }
        Ok(ChatTemplate {
            env: engine::compile(text.clone())?,
            text,
            source,
            family,
            tokens,
            stop_strings,
        })
    }

    pub fn source(&self) -> TemplateSource {
        self.source
    }

    pub fn family(&self) -> TemplateFamily {
        self.family
    }

    /// The template text (the model's, or Lantern's built-in one).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.tokens
    }

    /// Texts that end the assistant's turn when generated: the family's end-of-turn marker
    /// (`<|im_end|>`, `<end_of_turn>`) and the model's EOS, without duplicates.
    pub fn stop_strings(&self) -> &[String] {
        &self.stop_strings
    }

    /// Renders `messages` into the prompt text, exactly as the template writes it.
    pub fn render(
        &self,
        messages: &[Message],
        options: &RenderOptions,
    ) -> Result<ChatPrompt, ChatError> {
        let template = self
            .env
            .get_template(engine::TEMPLATE_NAME)
            .map_err(engine::render_error)?;
        let text = template
            .render(self.context(messages, options))
            .map_err(engine::render_error)?;
        let starts_with_bos = self
            .tokens
            .bos
            .as_ref()
            .is_some_and(|bos| !bos.is_empty() && text.starts_with(bos.as_str()));
        Ok(ChatPrompt {
            text,
            starts_with_bos,
        })
    }

    /// The variables transformers passes to a chat template (those Lantern can fill).
    fn context(&self, messages: &[Message], options: &RenderOptions) -> Value {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                Value::from(BTreeMap::from([
                    ("role", Value::from(m.role.as_str())),
                    ("content", Value::from(m.content.as_str())),
                ]))
            })
            .collect();
        let mut context = BTreeMap::from([
            ("messages", Value::from(messages)),
            (
                "add_generation_prompt",
                Value::from(options.add_generation_prompt),
            ),
        ]);
        if let Some(bos) = &self.tokens.bos {
            context.insert("bos_token", Value::from(bos.as_str()));
        }
        if let Some(eos) = &self.tokens.eos {
            context.insert("eos_token", Value::from(eos.as_str()));
        }
        if let Some(date) = options.date {
            let strftime_now = move |format: &str| {
                date.strftime(format).map_err(|e| {
                    Error::new(ErrorKind::InvalidOperation, format!("strftime_now: {e}"))
                })
            };
            context.insert("strftime_now", Value::from_function(strftime_now));
        }
        Value::from(context)
    }
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source", &self.source)
            .field("family", &self.family)
            .field("tokens", &self.tokens)
            .field("stop_strings", &self.stop_strings)
            .field("text_len", &self.text.len())
            .finish_non_exhaustive()
    }
}
