//! Tokenizers: the vocabularies embedded in GGUF files (byte-level BPE and SentencePiece-style,
//! following llama.cpp's algorithms so ids match it exactly) and Hugging Face `tokenizer.json`
//! files (through the `tokenizers` crate), behind one [`Tokenizer`].
//!
//! Decoding is byte-based: every token has the bytes it stands for ([`Tokenizer::token_bytes`]),
//! and [`TextStream`] turns a stream of tokens into text without ever emitting half a character,
//! however the model splits one across tokens.

mod bpe;
mod byte_level;
mod error;
mod gguf_vocab;
mod hf_json;
mod pretokenize;
mod special;
mod spm;
mod stream;
mod vocab;

pub use error::{Result, TokenizerError};
pub use pretokenize::PreTokenizerKind;
pub use stream::TextStream;
pub use vocab::TokenKind;

use crate::gguf::Metadata;
use special::{Fragment, SpecialTokens};
use vocab::Vocab;

/// Which algorithm turns text into ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// GGUF `gpt2` vocabulary: byte-level BPE with a pre-tokenizer.
    ByteLevelBpe(PreTokenizerKind),
    /// GGUF `llama` vocabulary: SentencePiece-style BPE over scores, with byte fallback.
    SentencePiece,
    /// A `tokenizer.json`; the string is its model type (`BPE`, `WordPiece`, `Unigram`, …).
    HuggingFace(String),
}

/// Ids with a role. `end_of_generation` holds every id that ends a reply: EOS, end-of-turn and
/// end-of-text tokens (a chat model stops at `<|im_end|>` or `<end_of_turn>`, not only at EOS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub unknown: Option<u32>,
    pub padding: Option<u32>,
    pub end_of_generation: Vec<u32>,
}

/// Whether the model's own rules add BOS/EOS, and whether SentencePiece puts a space before text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub add_bos: bool,
    pub add_eos: bool,
    pub add_space_prefix: bool,
}

enum Backend {
    Bpe(bpe::BytePairEncoder),
    Spm(spm::SentencePiece),
    Json(Box<tokenizers::Tokenizer>),
}

pub struct Tokenizer {
    backend: Backend,
    vocab: Vocab,
    specials: SpecialTokens,
    /// The bytes each token decodes to (control tokens: their text, shown only on request).
    pieces: Vec<Box<[u8]>>,
    ids: SpecialIds,
    flags: Flags,
}

impl Tokenizer {
    /// The tokenizer embedded in a GGUF file's metadata (`tokenizer.ggml.*`).
    pub fn from_gguf(metadata: &Metadata) -> Result<Self> {
        gguf_vocab::load(metadata)
    }

    /// A Hugging Face `tokenizer.json`. BOS/EOS handling is the file's own post-processor.
    pub fn from_tokenizer_json(json: &[u8]) -> Result<Self> {
        hf_json::load(json)
    }

    fn assemble(
        backend: Backend,
        vocab: Vocab,
        pieces: Vec<Box<[u8]>>,
        ids: SpecialIds,
        flags: Flags,
    ) -> Self {
        let specials = SpecialTokens::from_vocab(&vocab);
        Tokenizer {
            backend,
            vocab,
            specials,
            pieces,
            ids,
            flags,
        }
    }

    pub fn kind(&self) -> TokenizerKind {
        match &self.backend {
            Backend::Bpe(bpe) => TokenizerKind::ByteLevelBpe(bpe.pre_tokenizer()),
            Backend::Spm(_) => TokenizerKind::SentencePiece,
            Backend::Json(t) => TokenizerKind::HuggingFace(hf_json::model_type(t)),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn special_ids(&self) -> &SpecialIds {
        &self.ids
    }

    pub fn flags(&self) -> Flags {
        self.flags
    }

    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.ids.end_of_generation.contains(&id)
    }

    /// The token's text as stored in the vocabulary (`Ġthe`, `▁the`, `<0x0A>`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.vocab.text(id)
    }

    pub fn token_kind(&self, id: u32) -> Option<TokenKind> {
        self.vocab.kind(id)
    }

    /// The id of a token given its vocabulary text (`<|im_end|>`).
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.id(text)
    }

    /// The bytes the token stands for in decoded text. A character may span several tokens, so
    /// these need not be valid UTF-8 on their own; [`TextStream`] reassembles them.
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        self.pieces
            .get(id as usize)
            .map(|p| &p[..])
            .ok_or(TokenizerError::UnknownTokenId {
                id,
                vocab_size: self.vocab.len(),
            })
    }

    /// Control, unknown and unused tokens: structure, not text.
    fn is_hidden_by_default(&self, id: u32) -> bool {
        matches!(
            self.vocab.kind(id),
            Some(TokenKind::Control | TokenKind::Unknown | TokenKind::Unused)
        )
    }

    /// Text to ids.
    ///
    /// `add_special`: add BOS/EOS as the model's metadata asks (a prompt that already starts
    /// with BOS text, as rendered chat templates often do, wants `false`). `parse_special`:
    /// recognise control tokens such as `<|im_start|>` written in the text; leave it off for
    /// text a user typed. User-defined tokens are always recognised.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>> {
        if let Backend::Json(t) = &self.backend {
            return hf_json::encode(t, text, add_special);
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.flags.add_bos {
            out.extend(self.ids.bos);
        }
        // SentencePiece puts a space before the text, and again after every special token.
        let mut after_special = true;
        for fragment in self.specials.split(text, parse_special) {
            match fragment {
                Fragment::Token(id) => {
                    out.push(id);
                    after_special = true;
                }
                Fragment::Text(raw) => {
                    match &self.backend {
                        Backend::Bpe(bpe) => bpe.encode(&self.vocab, raw, &mut out)?,
                        Backend::Spm(spm) => {
                            let prefix = self.flags.add_space_prefix && after_special;
                            spm.encode(&self.vocab, raw, prefix, &mut out)
                        }
                        Backend::Json(_) => unreachable!("handled above"),
                    }
                    after_special = false;
                }
            }
        }
        if add_special && self.flags.add_eos {
            out.extend(self.ids.eos);
        }
        Ok(out)
    }

    /// Ids to text. `skip_special` leaves out control tokens (BOS, `<|im_end|>`, …). Invalid
    /// UTF-8 (a character cut off at the end) becomes U+FFFD. For SentencePiece vocabularies the
    /// space that encoding put before the text is removed again, so `decode(encode(s)) == s`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        if let Backend::Json(t) = &self.backend {
            return hf_json::decode(t, ids, skip_special);
        }
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            if skip_special && self.is_hidden_by_default(id) {
                continue;
            }
            bytes.extend_from_slice(self.token_bytes(id)?);
        }
        if self.flags.add_space_prefix && bytes.first() == Some(&b' ') {
            bytes.remove(0);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A streaming decoder for generated tokens; see [`TextStream`].
    pub fn stream(&self, skip_special: bool) -> TextStream {
        TextStream::new(skip_special)
    }
}
