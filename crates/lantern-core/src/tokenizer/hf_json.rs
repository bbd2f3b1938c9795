//! Hugging Face `tokenizer.json` files, through the `tokenizers` crate (the reference
//! implementation, so encoding matches what the model was trained with). This module adds what
//! streaming needs and the crate does not offer: the bytes of each single token.

use tokenizers::ModelWrapper;

use super::error::{Result, TokenizerError};
use super::gguf_vocab::piece_bytes;
use super::vocab::{TokenKind, Vocab};
use super::{Backend, Flags, SpecialIds, Tokenizer, spm};

/// Vocabularies are dense in practice; a file claiming ids far beyond its token count would make
/// us allocate for nothing.
const MAX_VOCAB: usize = 1 << 22;

/// How the file's decoder turns tokens back into text, as far as single-token bytes go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PieceStyle {
    /// GPT-2 byte-level alphabet.
    ByteLevel,
    /// `▁` for spaces and `<0xXX>` byte fallback (Llama 2 style).
    SentencePiece,
    /// Anything else (WordPiece, …): each token decoded on its own by the crate.
    Decoder,
}

pub(super) fn load(json: &[u8]) -> Result<Tokenizer> {
    let mut inner =
        tokenizers::Tokenizer::from_bytes(json).map_err(|e| TokenizerError::Json(e.to_string()))?;
    // Files made for batched training pad and truncate (MiniLM's: to 128 tokens). Lantern wants
    // the text's own ids; the model decides what to do with a text longer than its context,
    // and says so, instead of the tokenizer silently dropping the rest.
    inner.with_padding(None);
    inner
        .with_truncation(None)
        .map_err(|e| TokenizerError::Json(e.to_string()))?;
    let style = piece_style(json)?;

    let by_text = inner.get_vocab(true);
    let n = by_text
        .values()
        .map(|&id| id as usize + 1)
        .max()
        .unwrap_or(0);
    if n > MAX_VOCAB || n > by_text.len().saturating_mul(2) {
        return Err(TokenizerError::Json(format!(
            "ids go up to {} for only {} tokens",
            n.saturating_sub(1),
            by_text.len()
        )));
    }
    let mut texts = vec![String::new(); n];
    for (text, &id) in &by_text {
        texts[id as usize] = text.clone();
    }
    let mut kinds: Vec<TokenKind> = texts
        .iter()
        .map(|t| {
            if style == PieceStyle::SentencePiece && spm::byte_token_value(t).is_some() {
                TokenKind::Byte
            } else {
                TokenKind::Normal
            }
        })
        .collect();
    for (&id, added) in inner.get_added_tokens_decoder().iter() {
        if let Some(kind) = kinds.get_mut(id as usize) {
            *kind = if added.special {
                TokenKind::Control
            } else {
                TokenKind::UserDefined
            };
        }
    }
    let vocab = Vocab::new(texts, kinds)?;

    let pieces = vocab
        .iter()
        .map(|(id, text, kind)| match style {
            PieceStyle::ByteLevel => Ok(piece_bytes(text, kind, false)),
            PieceStyle::SentencePiece => Ok(piece_bytes(text, kind, true)),
            PieceStyle::Decoder => decode(&inner, &[id], false).map(|s| s.into_bytes().into()),
        })
        .collect::<Result<Vec<_>>>()?;

    // tokenizer.json does not name BOS/EOS (tokenizer_config.json does); its post-processor adds
    // what the model needs. The usual names give the roles a caller may ask about.
    let find = |names: &[&str]| names.iter().find_map(|n| vocab.id(n));
    let eos = find(&["</s>", "<|endoftext|>", "<eos>", "[SEP]"]);
    let ids = SpecialIds {
        bos: find(&["<s>", "<bos>", "[CLS]"]),
        eos,
        eot: None,
        unknown: find(&["<unk>", "[UNK]"]),
        padding: find(&["<pad>", "[PAD]"]),
        end_of_generation: eos.into_iter().collect(),
    };
    Ok(Tokenizer::assemble(
        Backend::Json(Box::new(inner)),
        vocab,
        pieces,
        ids,
        Flags::default(),
    ))
}

fn piece_style(json: &[u8]) -> Result<PieceStyle> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| TokenizerError::Json(e.to_string()))?;
    let mut types = Vec::new();
    collect_types(&value["decoder"], &mut types);
    Ok(if types.contains(&"ByteLevel") {
        PieceStyle::ByteLevel
    } else if types.contains(&"ByteFallback") || types.contains(&"Metaspace") {
        PieceStyle::SentencePiece
    } else {
        PieceStyle::Decoder
    })
}

/// The `type` names of a decoder and of the decoders of a `Sequence`.
fn collect_types<'v>(decoder: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    if let Some(t) = decoder["type"].as_str() {
        out.push(t);
    }
    if let Some(list) = decoder["decoders"].as_array() {
        for d in list {
            collect_types(d, out);
        }
    }
}

pub(super) fn model_type(tokenizer: &tokenizers::Tokenizer) -> String {
    match tokenizer.get_model() {
        ModelWrapper::BPE(_) => "BPE",
        ModelWrapper::WordPiece(_) => "WordPiece",
        ModelWrapper::WordLevel(_) => "WordLevel",
        ModelWrapper::Unigram(_) => "Unigram",
    }
    .to_owned()
}

pub(super) fn encode(
    tokenizer: &tokenizers::Tokenizer,
    text: &str,
    add_special: bool,
) -> Result<Vec<u32>> {
    let encoding = tokenizer
        .encode(text, add_special)
        .map_err(|e| TokenizerError::Encode(e.to_string()))?;
    Ok(encoding.get_ids().to_vec())
}

pub(super) fn decode(
    tokenizer: &tokenizers::Tokenizer,
    ids: &[u32],
    skip_special: bool,
) -> Result<String> {
    tokenizer
        .decode(ids, skip_special)
        .map_err(|e| TokenizerError::Encode(e.to_string()))
}
