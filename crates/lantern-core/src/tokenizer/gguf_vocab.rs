//! Building a [`Tokenizer`] from GGUF metadata (`tokenizer.ggml.*`), with llama.cpp's defaults
//! for what a file leaves out.

use super::bpe::BytePairEncoder;
use super::error::{Result, TokenizerError};
use super::pretokenize::PreTokenizerKind;
use super::spm::{self, SentencePiece};
use super::vocab::{TokenKind, Vocab};
use super::{Backend, Flags, SpecialIds, Tokenizer, byte_level};
use crate::gguf::{GgufError, Metadata};

/// Token texts that end a turn or a text in common formats. llama.cpp recognises the same texts
/// (whatever the metadata says), stops generating at them, and treats them as control tokens,
/// which also decides how text containing them is split.
const END_OF_GENERATION_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
];

/// A key that may be absent: absent is `None`, present with a wrong type is an error.
fn optional<T>(result: crate::gguf::Result<T>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(GgufError::MissingKey(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn load(metadata: &Metadata) -> Result<Tokenizer> {
    let model = metadata.get_str("tokenizer.ggml.model")?;
    let texts = metadata.get_str_array("tokenizer.ggml.tokens")?.to_vec();
    let n = texts.len();
    let kinds = match optional(metadata.get_i32_array("tokenizer.ggml.token_type"))? {
        Some(types) if types.len() < n => {
            return Err(TokenizerError::Inconsistent(format!(
                "{n} tokens but only {} token types",
                types.len()
            )));
        }
        Some(types) => types[..n]
            .iter()
            .map(|&t| TokenKind::from_gguf(t))
            .collect(),
        None => vec![TokenKind::Normal; n],
    };
    let mut vocab = Vocab::new(texts, kinds)?;

    let id = |key: &str| -> Result<Option<u32>> {
        // An id outside the vocabulary is ignored, as llama.cpp does, rather than trusted.
        Ok(optional(metadata.get_u32(key))?.filter(|&id| (id as usize) < n))
    };
    let mut ids = SpecialIds {
        bos: id("tokenizer.ggml.bos_token_id")?,
        eos: id("tokenizer.ggml.eos_token_id")?,
        eot: id("tokenizer.ggml.eot_token_id")?,
        unknown: id("tokenizer.ggml.unknown_token_id")?,
        padding: id("tokenizer.ggml.padding_token_id")?,
        end_of_generation: Vec::new(),
    };

    let (backend, is_spm) = match model {
        "gpt2" => {
            let pre = match optional(metadata.get_str("tokenizer.ggml.pre"))? {
                Some(name) => PreTokenizerKind::from_gguf_name(name)?,
                None => PreTokenizerKind::Default,
            };
            let merges = metadata.get_str_array("tokenizer.ggml.merges")?;
            (
                Backend::Bpe(BytePairEncoder::new(&vocab, merges, pre)?),
                false,
            )
        }
        "llama" => {
            let scores = match optional(metadata.get_f32_array("tokenizer.ggml.scores"))? {
                Some(s) if s.len() < n => {
                    return Err(TokenizerError::Inconsistent(format!(
                        "{n} tokens but only {} scores",
                        s.len()
                    )));
                }
                Some(s) => s[..n].to_vec(),
                None => vec![0.0; n],
            };
            let backend = Backend::Spm(SentencePiece::new(&vocab, scores, ids.unknown));
            (backend, true)
        }
        other => return Err(TokenizerError::UnsupportedModel(other.to_owned())),
    };

    // llama.cpp's defaults: SentencePiece adds BOS and a leading space; BPE adds neither, except
    // Llama 3-style vocabularies, which add BOS. The file's own flags override them.
    let bpe_adds_bos =
        matches!(&backend, Backend::Bpe(b) if b.pre_tokenizer() == PreTokenizerKind::Llama3);
    let flag = |key: &str, default: bool| -> Result<bool> {
        Ok(optional(metadata.get_bool(key))?.unwrap_or(default))
    };
    let flags = Flags {
        add_bos: flag("tokenizer.ggml.add_bos_token", is_spm || bpe_adds_bos)?,
        add_eos: flag("tokenizer.ggml.add_eos_token", false)?,
        add_space_prefix: flag("tokenizer.ggml.add_space_prefix", is_spm)?,
    };
    if flags.add_bos && ids.bos.is_none() {
        return Err(TokenizerError::Inconsistent(
            "the metadata asks to add BOS but names no BOS token".into(),
        ));
    }

    ids.end_of_generation = [ids.eos, ids.eot].into_iter().flatten().collect();
    for text in END_OF_GENERATION_TEXTS {
        if let Some(id) = vocab.id(text) {
            if !ids.end_of_generation.contains(&id) {
                ids.end_of_generation.push(id);
            }
            // Gemma's `</s>` is typed user-defined; as a control token it is no longer cut out
            // of text a user typed.
            vocab.mark_control(id);
        }
    }

    let pieces = vocab
        .iter()
        .map(|(_, text, kind)| piece_bytes(text, kind, is_spm))
        .collect();
    Ok(Tokenizer::assemble(backend, vocab, pieces, ids, flags))
}

/// What a token decodes to (llama.cpp's `token_to_piece`): special and user-defined tokens are
/// their text; normal tokens undo the vocabulary's space escaping; byte tokens are their byte.
pub(super) fn piece_bytes(text: &str, kind: TokenKind, is_spm: bool) -> Box<[u8]> {
    match kind {
        TokenKind::Control | TokenKind::Unknown | TokenKind::UserDefined => text.as_bytes().into(),
        TokenKind::Unused => Box::default(),
        TokenKind::Byte => match spm::byte_token_value(text) {
            Some(b) => Box::new([b]),
            None => text.as_bytes().into(),
        },
        TokenKind::Normal if is_spm => text.replace(spm::SPACE, " ").into_bytes().into(),
        TokenKind::Normal => byte_level::decode(text).into(),
    }
}
