//! Everything that can go wrong choosing or rendering a chat template.

use crate::gguf::GgufError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(
        "the model has no chat template and Lantern has no built-in one for architecture \
         `{architecture}`; supply a template (ChatTemplate::from_text) or choose ChatML explicitly \
         (ChatTemplate::built_in(BuiltIn::ChatMl, ..))"
    )]
    NoTemplate { architecture: String },

    #[error("unknown chat role `{0}` (expected system, user or assistant)")]
    UnknownRole(String),

    /// The template does not parse (reported when the template is loaded, not at first use).
    #[error("invalid chat template: {0}")]
    Syntax(String),

    /// The template called `raise_exception(message)`: it refuses this conversation (a system
    /// message where the model has none, roles out of order). The message is the template's own.
    #[error("the chat template rejected the conversation: {0}")]
    Rejected(String),

    /// The template ran past its instruction/memory budget (fuel) or its recursion limit,
    /// which only a runaway template does.
    #[error("the chat template exceeded its resource limits: {0}")]
    ResourceLimit(String),

    /// Any other failure while rendering (unknown filter or method, bad operand types, ...).
    #[error("rendering the chat template failed: {0}")]
    Render(String),

    #[error("tokenizer_config.json: {0}")]
    TokenizerConfig(String),

    /// A special-token id in the GGUF metadata points past the vocabulary.
    #[error("{key} = {id} is not a token id (the vocabulary has {vocab_size} tokens)")]
    BadTokenId {
        key: &'static str,
        id: u64,
        vocab_size: usize,
    },

    #[error(transparent)]
    Gguf(#[from] GgufError),
}
