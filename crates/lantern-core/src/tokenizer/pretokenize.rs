//! Pre-tokenizers of byte-level BPE vocabularies: the regular expressions that cut text into
//! words before merges run, one variant per `tokenizer.ggml.pre` family.
//!
//! Expressions apply in sequence, each to every piece the previous one produced, and text between
//! matches is kept as pieces of its own (llama.cpp's `unicode_regex_split` semantics). The
//! expressions are the models' own (from their tokenizer.json), with `(?i:…)` spelled out as
//! llama.cpp does.

use fancy_regex::Regex;

use super::error::{Result, TokenizerError};

/// GPT-2's expression, used as is by GPT-2 and, after a digit split, by SmolLM/StarCoder.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Llama 3: digits in groups of up to three, newlines kept apart from other whitespace.
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2: Llama 3's expression with single digits.
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// `tokenizer.ggml.pre` values this module knows, for error messages.
pub(crate) const SUPPORTED: &str = "gpt-2 (also mpt, olmo), llama-bpe (also llama3, llama-v3), \
    qwen2 (also stablelm2), smollm (also starcoder, refact), default";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizerKind {
    Gpt2,
    Llama3,
    Qwen2,
    /// Every digit on its own, then GPT-2's expression.
    SmolLm,
    /// What llama.cpp uses when a BPE vocabulary names no pre-tokenizer.
    Default,
}

impl PreTokenizerKind {
    pub fn from_gguf_name(name: &str) -> Result<Self> {
        Ok(match name {
            "gpt-2" | "gpt2" | "mpt" | "olmo" => Self::Gpt2,
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" => Self::Llama3,
            "qwen2" | "stablelm2" => Self::Qwen2,
            "smollm" | "starcoder" | "refact" => Self::SmolLm,
            "default" => Self::Default,
            other => {
                return Err(TokenizerError::UnsupportedPreTokenizer {
                    name: other.to_owned(),
                    supported: SUPPORTED,
                });
            }
        })
    }

    fn expressions(self) -> &'static [&'static str] {
        match self {
            Self::Gpt2 => &[GPT2],
            Self::Llama3 => &[LLAMA3],
            Self::Qwen2 => &[QWEN2],
            Self::SmolLm => &[r"\p{N}", GPT2],
            Self::Default => &[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"],
        }
    }

    /// llama.cpp: for these, a word that is already a whole token is not merged again, which
    /// matters where a merge sequence would not rebuild the token (Llama 3's tokenizer.json says
    /// `ignore_merges: true`).
    pub(crate) fn ignores_merges(self) -> bool {
        matches!(self, Self::Llama3)
    }
}

pub(crate) struct PreTokenizer {
    kind: PreTokenizerKind,
    regexes: Vec<Regex>,
}

impl PreTokenizer {
    pub(crate) fn new(kind: PreTokenizerKind) -> Result<Self> {
        let regexes = kind
            .expressions()
            .iter()
            .map(|expr| Regex::new(expr).map_err(|e| TokenizerError::PreTokenize(e.to_string())))
            .collect::<Result<_>>()?;
        Ok(PreTokenizer { kind, regexes })
    }

    pub(crate) fn kind(&self) -> PreTokenizerKind {
        self.kind
    }

    /// The words of `text`, in order; concatenated they give `text` back.
    pub(crate) fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>> {
        let mut pieces = vec![text];
        for regex in &self.regexes {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            for piece in pieces {
                let mut end_of_last = 0;
                for found in regex.find_iter(piece) {
                    let found = found.map_err(|e| TokenizerError::PreTokenize(e.to_string()))?;
                    if found.start() > end_of_last {
                        next.push(&piece[end_of_last..found.start()]);
                    }
                    if !found.as_str().is_empty() {
                        next.push(found.as_str());
                    }
                    end_of_last = found.end();
                }
                if end_of_last < piece.len() {
                    next.push(&piece[end_of_last..]);
                }
            }
            pieces = next;
        }
        Ok(pieces)
    }
}
