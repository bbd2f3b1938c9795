//! What can go wrong building or using a tokenizer.

use thiserror::Error;

use crate::gguf::GgufError;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TokenizerError {
    /// A `tokenizer.ggml.*` key is missing or has the wrong type.
    #[error("tokenizer metadata: {0}")]
    Metadata(#[from] GgufError),

    #[error(
        "unsupported tokenizer model '{0}' (supported: 'gpt2' byte-level BPE and 'llama' SentencePiece vocabularies, or a tokenizer.json)"
    )]
    UnsupportedModel(String),

    #[error("unsupported pre-tokenizer '{name}' (supported: {supported})")]
    UnsupportedPreTokenizer {
        name: String,
        supported: &'static str,
    },

    /// The metadata is readable but contradicts itself (lengths differ, ids out of range, …).
    #[error("tokenizer metadata is inconsistent: {0}")]
    Inconsistent(String),

    #[error("tokenizer.json could not be loaded: {0}")]
    Json(String),

    #[error("splitting the text into words failed: {0}")]
    PreTokenize(String),

    #[error("encoding failed: {0}")]
    Encode(String),

    #[error("token id {id} is outside the vocabulary ({vocab_size} tokens)")]
    UnknownTokenId { id: u32, vocab_size: usize },
}

pub type Result<T> = std::result::Result<T, TokenizerError>;
