//! The token table shared by every tokenizer kind: texts, kinds and the text → id index.

use std::collections::HashMap;

use super::error::{Result, TokenizerError};

/// What a token is for, from GGUF's `tokenizer.ggml.token_type` (or tokenizer.json's added
/// tokens). It decides how the token is matched in text and how it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Ordinary text.
    Normal,
    /// The unknown-token placeholder.
    Unknown,
    /// Structural tokens (`<s>`, `<|im_start|>`, `<start_of_turn>`): matched in text only when
    /// the caller asks to parse special tokens, and left out of decoded text by default.
    Control,
    /// Tokens added by the model's authors: always matched in text as a whole, decoded verbatim.
    UserDefined,
    /// Reserved slots that never occur.
    Unused,
    /// SentencePiece byte-fallback tokens, `<0x0A>`.
    Byte,
}

impl TokenKind {
    /// llama.cpp's `llama_token_type` numbering, as stored in GGUF. Unknown numbers read as
    /// `Normal`, as llama.cpp treats its "undefined" attribute.
    pub fn from_gguf(code: i32) -> Self {
        match code {
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => Self::Normal,
        }
    }

    /// Matched as a whole in the text before the tokenizer's own algorithm runs.
    pub(crate) fn is_special(self) -> bool {
        matches!(self, Self::Control | Self::UserDefined | Self::Unknown)
    }
}

pub(crate) struct Vocab {
    texts: Vec<String>,
    kinds: Vec<TokenKind>,
    index: HashMap<String, u32>,
}

impl Vocab {
    pub(crate) fn new(mut texts: Vec<String>, kinds: Vec<TokenKind>) -> Result<Self> {
        if texts.len() != kinds.len() {
            return Err(TokenizerError::Inconsistent(format!(
                "{} tokens but {} token types",
                texts.len(),
                kinds.len()
            )));
        }
        if u32::try_from(texts.len()).is_err() {
            return Err(TokenizerError::Inconsistent(format!(
                "{} tokens do not fit 32-bit ids",
                texts.len()
            )));
        }
        // llama.cpp renames empty tokens the same way, so ids stay aligned with its output and
        // several empty slots do not collide below.
        for (id, text) in texts.iter_mut().enumerate() {
            if text.is_empty() {
                *text = format!("[EMPTY_{id}]");
            }
        }
        let mut index = HashMap::with_capacity(texts.len());
        for (id, text) in texts.iter().enumerate() {
            // Two ids with one text would make encoding depend on which one the index kept.
            if let Some(first) = index.insert(text.clone(), id as u32) {
                return Err(TokenizerError::Inconsistent(format!(
                    "tokens {first} and {id} have the same text {text:?}"
                )));
            }
        }
        Ok(Vocab {
            texts,
            kinds,
            index,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    pub(crate) fn id(&self, text: &str) -> Option<u32> {
        self.index.get(text).copied()
    }

    pub(crate) fn text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(String::as_str)
    }

    pub(crate) fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }

    /// Makes a token a control token, keeping byte and unused tokens as they are.
    pub(crate) fn mark_control(&mut self, id: u32) {
        if let Some(kind) = self.kinds.get_mut(id as usize)
            && matches!(kind, TokenKind::Normal | TokenKind::UserDefined)
        {
            *kind = TokenKind::Control;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &str, TokenKind)> {
        self.texts
            .iter()
            .zip(&self.kinds)
            .enumerate()
            .map(|(id, (text, &kind))| (id as u32, text.as_str(), kind))
    }
}
