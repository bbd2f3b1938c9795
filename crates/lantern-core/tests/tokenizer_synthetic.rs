//! Tokenizers on small hand-made vocabularies, where every expected id follows from the rules by
//! hand: merge order, tie-breaking, byte fallback, special-token splitting, streaming, and
//! metadata that contradicts itself. No files needed, so these also run in headless Chromium.

mod common;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use lantern_core::gguf::{GgufHeader, GgufWriter, MetadataArray, MetadataValue, Parsed};
use lantern_core::tokenizer::{TextStream, Tokenizer, TokenizerError};

const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const BYTE: i32 = 6;

struct Vocab {
    tokens: Vec<String>,
    types: Vec<i32>,
    scores: Vec<f32>,
}

impl Vocab {
    fn new() -> Self {
        Vocab {
            tokens: Vec::new(),
            types: Vec::new(),
            scores: Vec::new(),
        }
    }

    fn add(&mut self, text: &str, kind: i32, score: f32) -> &mut Self {
        self.tokens.push(text.to_owned());
        self.types.push(kind);
        self.scores.push(score);
        self
    }

    fn id(&self, text: &str) -> u32 {
        self.tokens.iter().position(|t| t == text).unwrap() as u32
    }

    fn ids(&self, texts: &[&str]) -> Vec<u32> {
        texts.iter().map(|t| self.id(t)).collect()
    }
}

fn string_array(items: &[&str]) -> MetadataValue {
    MetadataValue::Array(MetadataArray::String(
        items.iter().map(|s| s.to_string()).collect(),
    ))
}

/// A GGUF header holding just a tokenizer, run through the real reader.
fn build(entries: Vec<(&str, MetadataValue)>) -> Result<Tokenizer, TokenizerError> {
    let mut writer = GgufWriter::new(3);
    for (key, value) in entries {
        writer.add_metadata(key, value);
    }
    let bytes = writer.to_bytes();
    let Parsed::Complete(header) = GgufHeader::parse(&bytes).unwrap() else {
        panic!("writer produced an incomplete header");
    };
    Tokenizer::from_gguf(header.metadata())
}

fn vocab_entries(model: &str, v: &Vocab) -> Vec<(&'static str, MetadataValue)> {
    vec![
        ("tokenizer.ggml.model", MetadataValue::String(model.into())),
        (
            "tokenizer.ggml.tokens",
            MetadataValue::Array(MetadataArray::String(v.tokens.clone())),
        ),
        (
            "tokenizer.ggml.token_type",
            MetadataValue::Array(MetadataArray::I32(v.types.clone())),
        ),
        (
            "tokenizer.ggml.scores",
            MetadataValue::Array(MetadataArray::F32(v.scores.clone())),
        ),
    ]
}

/// Byte-level BPE: `Ġ` is the space byte, `Ã`+`©` the two bytes of `é`.
fn bpe_vocab() -> Vocab {
    let mut v = Vocab::new();
    for t in ["a", "b", "c", "Ġ", "Ã", "©", "1", "2"] {
        v.add(t, NORMAL, 0.0);
    }
    for t in ["ab", "abc", "Ġab", "aa", "Ãa"] {
        v.add(t, NORMAL, 0.0);
    }
    v.add("<|end|>", CONTROL, 0.0)
        .add("<tool>", USER_DEFINED, 0.0);
    v
}

fn bpe(v: &Vocab, merges: &[&str]) -> Tokenizer {
    let mut entries = vocab_entries("gpt2", v);
    entries.push(("tokenizer.ggml.pre", MetadataValue::String("gpt-2".into())));
    entries.push(("tokenizer.ggml.merges", string_array(merges)));
    entries.push((
        "tokenizer.ggml.eos_token_id",
        MetadataValue::U32(v.id("<|end|>")),
    ));
    build(entries).unwrap()
}

#[test]
fn bpe_merges_lowest_rank_first_and_leftmost_on_ties() {
    let v = bpe_vocab();
    let tok = bpe(&v, &["a b", "ab c", "Ġ ab", "a a"]);
    assert_eq!(tok.encode("abc", false, false).unwrap(), v.ids(&["abc"]));
    // "ab ab" splits into the words "ab" and " ab"; the second becomes Ġ+ab.
    assert_eq!(
        tok.encode("ab ab", false, false).unwrap(),
        v.ids(&["ab", "Ġab"])
    );
    // Three a's: the left pair merges first.
    assert_eq!(
        tok.encode("aaa", false, false).unwrap(),
        v.ids(&["aa", "a"])
    );
    // Rank decides, not position: in "aab", whichever of "a a" and "a b" ranks first wins.
    let tok = bpe(&v, &["a a", "a b"]);
    assert_eq!(
        tok.encode("aab", false, false).unwrap(),
        v.ids(&["aa", "b"])
    );
    let tok = bpe(&v, &["a b", "a a"]);
    assert_eq!(
        tok.encode("aab", false, false).unwrap(),
        v.ids(&["a", "ab"])
    );
}

#[test]
fn bpe_special_tokens_and_decoding() {
    let v = bpe_vocab();
    let tok = bpe(&v, &["a b"]);
    // Control tokens only when asked; user-defined always.
    assert_eq!(
        tok.encode("ab<|end|>", false, true).unwrap(),
        v.ids(&["ab", "<|end|>"])
    );
    let literal = tok.encode("ab<tool>c", false, false).unwrap();
    assert_eq!(literal, v.ids(&["ab", "<tool>", "c"]));
    assert!(tok.is_end_of_generation(v.id("<|end|>")));
    let ids = v.ids(&["ab", "Ġ", "Ã", "©", "<|end|>"]);
    assert_eq!(tok.decode(&ids, false).unwrap(), "ab é<|end|>");
    assert_eq!(tok.decode(&ids, true).unwrap(), "ab é");
}

#[test]
fn stream_holds_back_a_split_character() {
    let v = bpe_vocab();
    let tok = bpe(&v, &[]);
    let mut stream = TextStream::new(true);
    assert_eq!(stream.push(&tok, v.id("a")).unwrap(), "a");
    assert_eq!(
        stream.push(&tok, v.id("Ã")).unwrap(),
        "",
        "first byte of é held"
    );
    assert_eq!(stream.pending_len(), 1);
    assert_eq!(stream.push(&tok, v.id("©")).unwrap(), "é");
    assert_eq!(
        stream.push(&tok, v.id("<|end|>")).unwrap(),
        "",
        "control hidden"
    );
    // A character cut off for good becomes U+FFFD at the end, never earlier.
    assert_eq!(stream.push(&tok, v.id("Ã")).unwrap(), "");
    assert_eq!(stream.finish(), "\u{FFFD}");
    // Bytes that can never be part of a character are replaced at once, and text goes on.
    let mut stream = TextStream::new(false);
    assert_eq!(stream.push_bytes(&[b'x', 0xFF, b'y']), "x\u{FFFD}y");
    // A four-byte emoji fed byte by byte appears only when complete.
    let crab = "🦀".as_bytes();
    for &b in &crab[..3] {
        assert_eq!(stream.push_bytes(&[b]), "");
    }
    assert_eq!(stream.push_bytes(&crab[3..]), "🦀");
    assert!(tok.token_bytes(999).is_err());
}

/// SentencePiece style: `▁` for spaces, merges by score, `<0xXX>` byte fallback.
fn spm_vocab() -> Vocab {
    let mut v = Vocab::new();
    v.add("<unk>", 2, 0.0)
        .add("<s>", CONTROL, 0.0)
        .add("</s>", CONTROL, 0.0);
    for b in 0..=255u8 {
        v.add(&format!("<0x{b:02X}>"), BYTE, 0.0);
    }
    v.add("▁", NORMAL, -1.0)
        .add("a", NORMAL, -1.0)
        .add("b", NORMAL, -1.0)
        .add("▁a", NORMAL, -2.0)
        .add("ab", NORMAL, -1.5)
        .add("▁ab", NORMAL, -3.0)
        .add("bb", NORMAL, -2.5);
    v
}

fn spm(v: &Vocab, extra: Vec<(&'static str, MetadataValue)>) -> Tokenizer {
    let mut entries = vocab_entries("llama", v);
    entries.push(("tokenizer.ggml.bos_token_id", MetadataValue::U32(1)));
    entries.push(("tokenizer.ggml.eos_token_id", MetadataValue::U32(2)));
    entries.push(("tokenizer.ggml.unknown_token_id", MetadataValue::U32(0)));
    entries.extend(extra);
    build(entries).unwrap()
}

#[test]
fn spm_merges_highest_score_first_with_space_prefix() {
    let v = spm_vocab();
    let tok = spm(&v, vec![]);
    // "▁ab": "ab" (-1.5) beats "▁a" (-2), then "▁"+"ab" makes "▁ab".
    assert_eq!(tok.encode("ab", false, false).unwrap(), v.ids(&["▁ab"]));
    // BOS by default for SentencePiece; decode removes the prefix space again.
    let ids = tok.encode("ab ba", true, false).unwrap();
    assert_eq!(ids, v.ids(&["<s>", "▁ab", "▁", "b", "a"]));
    assert_eq!(tok.decode(&ids, true).unwrap(), "ab ba");
    // Ties on score: the leftmost pair merges ("bbb" → "bb" + "b").
    let ids = tok.encode("bbb", false, false).unwrap();
    assert_eq!(ids, v.ids(&["▁", "bb", "b"]));
    // Characters outside the vocabulary fall back to their UTF-8 bytes.
    let ids = tok.encode("é", false, false).unwrap();
    assert_eq!(ids, v.ids(&["▁", "<0xC3>", "<0xA9>"]));
    assert_eq!(tok.decode(&ids, false).unwrap(), "é");
    // Without the space prefix (Gemma's setting) the text is taken as is.
    let tok = spm(
        &v,
        vec![(
            "tokenizer.ggml.add_space_prefix",
            MetadataValue::Bool(false),
        )],
    );
    assert_eq!(tok.encode("ab", false, false).unwrap(), v.ids(&["ab"]));
}

#[test]
fn contradictory_metadata_is_refused_with_a_reason() {
    let v = spm_vocab();
    let mut short_types = vocab_entries("llama", &v);
    short_types[2].1 = MetadataValue::Array(MetadataArray::I32(vec![1; 3]));
    let err = build(short_types).err().unwrap();
    assert!(err.to_string().contains("token types"), "{err}");

    let mut short_scores = vocab_entries("llama", &v);
    short_scores[3].1 = MetadataValue::Array(MetadataArray::F32(vec![0.0; 3]));
    let err = build(short_scores).err().unwrap();
    assert!(err.to_string().contains("scores"), "{err}");

    let mut duplicate = Vocab::new();
    duplicate.add("a", NORMAL, 0.0).add("a", NORMAL, 0.0);
    let err = build(vocab_entries("llama", &duplicate)).err().unwrap();
    assert!(err.to_string().contains("same text"), "{err}");

    // SentencePiece adds BOS by default, so a vocabulary without one cannot encode.
    let err = build(vocab_entries("llama", &v)).err().unwrap();
    assert!(err.to_string().contains("BOS"), "{err}");

    let err = build(vocab_entries("t5", &v)).err().unwrap();
    assert!(
        matches!(err, TokenizerError::UnsupportedModel(ref m) if m == "t5"),
        "{err}"
    );

    let mut unknown_pre = vocab_entries("gpt2", &bpe_vocab());
    unknown_pre.push((
        "tokenizer.ggml.pre",
        MetadataValue::String("klingon".into()),
    ));
    unknown_pre.push(("tokenizer.ggml.merges", string_array(&[])));
    let err = build(unknown_pre).err().unwrap();
    assert!(err.to_string().contains("'klingon'"), "{err}");

    let mut wrong_type = vocab_entries("llama", &v);
    wrong_type[1].1 = MetadataValue::U32(7);
    let err = build(wrong_type).err().unwrap();
    assert!(err.to_string().contains("tokenizer.ggml.tokens"), "{err}");

    let mut no_merges = vocab_entries("gpt2", &bpe_vocab());
    no_merges.truncate(3);
    let err = build(no_merges).err().unwrap();
    assert!(err.to_string().contains("tokenizer.ggml.merges"), "{err}");
}

#[test]
fn out_of_range_special_ids_are_ignored() {
    let v = spm_vocab();
    let tok = spm(
        &v,
        vec![("tokenizer.ggml.eot_token_id", MetadataValue::U32(1 << 30))],
    );
    assert_eq!(tok.special_ids().eot, None);
    assert_eq!(tok.special_ids().end_of_generation, vec![2]);
}
