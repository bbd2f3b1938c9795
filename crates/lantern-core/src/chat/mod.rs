//! Chat templates: turning a conversation into the prompt text a model was trained on.
//!
//! Instruction-tuned models carry their own Jinja template (GGUF `tokenizer.chat_template`, or
//! `chat_template` in a Hugging Face `tokenizer_config.json`). [`ChatTemplate`] renders that
//! template with minijinja set up like the Jinja environment of Hugging Face transformers
//! (`trim_blocks`, `lstrip_blocks`, loop controls, Python string methods, `raise_exception`, an
//! optional `strftime_now`), so a model loaded by URL formats its prompt the way its authors
//! wrote it, not only the families Lantern knows.
//!
//! **No template in the file.** [`ChatTemplate::from_gguf`] then falls back by architecture to a
//! template of Lantern's own ([`BuiltIn`]; Gemma's for `gemma`/`gemma2`/`gemma3`, since the
//! Gemma 3 270M GGUF has none), reported as [`TemplateSource::BuiltIn`]. For any other
//! architecture it returns [`ChatError::NoTemplate`] instead of guessing ChatML the way llama.cpp
//! does: a base model, or one trained on another format, would get markers it never saw (often
//! not even special tokens in its vocabulary), and the only symptom would be poor answers.
//! Transformers refuses in the same case. A caller who wants ChatML anyway asks for it with
//! [`ChatTemplate::built_in`]`(`[`BuiltIn::ChatMl`]`, …)`.
//!
//! **BOS.** Many templates print `bos_token` themselves (Gemma's, Llama's, Mistral's), while
//! tokenizers may also prepend BOS (`tokenizer.ggml.add_bos_token`). [`ChatPrompt`] records
//! whether its text already begins with the BOS text; [`ChatPrompt::needs_bos`] tells the
//! caller whether to let the tokenizer add one, so the model never sees two. The prompt must be
//! encoded with special-token parsing on, so that `<|im_start|>` or `<start_of_turn>` become their
//! single token ids rather than text.
//!
//! **Stopping.** [`ChatTemplate::stop_strings`] lists the texts that end the assistant's turn:
//! the family's end-of-turn marker (`<|im_end|>`, `<end_of_turn>`) and the model's EOS.
//!
//! **Hostile templates.** A template comes from a file the user picked, so it is untrusted: syntax
//! errors, exceptions raised by the template, unknown functions, runaway loops (minijinja's fuel)
//! and deep recursion (its recursion limit) all come back as a [`ChatError`], never a panic or a
//! hang.

mod builtin;
mod date;
mod engine;
mod error;
mod family;
mod message;
mod template;
mod tokenizer_config;

pub use builtin::BuiltIn;
pub use date::CalendarDate;
pub use error::ChatError;
pub use family::TemplateFamily;
pub use message::{Message, Role};
pub use template::{
    CHAT_TEMPLATE_KEY, ChatPrompt, ChatTemplate, RenderOptions, SpecialTokens, TemplateSource,
};
