//! The tokenizers of the two real models: special tokens, BOS, end-of-generation ids, and
//! streaming decode of text whose characters span several tokens (emoji, CJK).

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use lantern_core::gguf::{GgufHeader, Parsed};
use lantern_core::tokenizer::{PreTokenizerKind, TextStream, Tokenizer, TokenizerKind};

fn model_tokenizer(file: &str, fetch_name: &str) -> Tokenizer {
    let path: PathBuf = lantern_core::cache::models_dir()
        .expect("no cache folder: set LANTERN_CACHE or HOME")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `python3 models/fetch.py {fetch_name}`",
        path.display()
    );
    // The tokenizer lives in the header; read only that much of the file.
    let bytes = std::fs::read(&path).unwrap();
    let Parsed::Complete(header) = GgufHeader::parse(&bytes).unwrap() else {
        panic!("header incomplete");
    };
    Tokenizer::from_gguf(header.metadata()).unwrap()
}

fn smollm2() -> Tokenizer {
    model_tokenizer("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct")
}

fn gemma3() -> Tokenizer {
    model_tokenizer("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m")
}

/// Texts whose characters are several bytes long and often split across tokens.
const MULTIBYTE: &[&str] = &[
    "🦀 Rust and 🦙 llamas: 👩‍👩‍👧‍👦 family, 🇫🇷 flag, 👍🏽 thumbs.",
    "我想在苹果工作。東京は日本の首都です。서울은 한국의 수도입니다.",
    "Ünïcödé ñ, e\u{301} (combining), Ω≈ç√∫, \u{1F600}\u{1F601}\u{1F602}",
    "🤖🧠✨ emoji-only runs 🫠🫡🪿",
];

/// Streams `ids` one token at a time and checks what comes out: never a replacement character,
/// and exactly the text at the end. Returns how many tokens ended mid-character (held back).
fn stream_all(tokenizer: &Tokenizer, ids: &[u32], expected: &str) -> usize {
    let mut stream = TextStream::new(true);
    let mut text = String::new();
    let mut held_back = 0;
    for &id in ids {
        let chunk = stream.push(tokenizer, id).unwrap();
        assert!(
            !chunk.contains('\u{FFFD}'),
            "broken character emitted: {chunk:?}"
        );
        if stream.pending_len() > 0 {
            held_back += 1;
        }
        text.push_str(&chunk);
    }
    text.push_str(&stream.finish());
    assert_eq!(text, expected);
    held_back
}

#[test]
fn smollm2_is_byte_level_bpe_with_chatml_specials() {
    let tok = smollm2();
    assert_eq!(
        tok.kind(),
        TokenizerKind::ByteLevelBpe(PreTokenizerKind::SmolLm)
    );
    assert_eq!(tok.vocab_size(), 49152);
    let ids = tok.special_ids();
    assert_eq!((ids.bos, ids.eos), (Some(1), Some(2)));
    assert_eq!(tok.token_text(1), Some("<|im_start|>"));
    assert_eq!(tok.token_text(2), Some("<|im_end|>"));
    assert!(tok.is_end_of_generation(2));
    assert!(!tok.is_end_of_generation(1));

    let prompt = "<|im_start|>user\nHi!<|im_end|>\n";
    let parsed = tok.encode(prompt, false, true).unwrap();
    assert_eq!(parsed.first(), Some(&1));
    assert_eq!(parsed.iter().filter(|&&id| id == 2).count(), 1);
    // Typed by a user, the same text must not turn into control tokens.
    let literal = tok.encode(prompt, false, false).unwrap();
    assert!(
        !literal.contains(&1) && !literal.contains(&2),
        "{literal:?}"
    );
    assert_eq!(tok.decode(&literal, false).unwrap(), prompt);
    // Decoding the parsed ids shows the control tokens only when asked.
    assert_eq!(tok.decode(&parsed, false).unwrap(), prompt);
    assert_eq!(tok.decode(&parsed, true).unwrap(), "user\nHi!\n");
}

#[test]
fn smollm2_splits_digits_one_by_one() {
    let tok = smollm2();
    let ids = tok.encode("12345", false, false).unwrap();
    let pieces: Vec<&str> = ids.iter().map(|&id| tok.token_text(id).unwrap()).collect();
    assert_eq!(pieces, ["1", "2", "3", "4", "5"]);
}

#[test]
fn gemma3_is_sentencepiece_with_bos_and_turn_tokens() {
    let tok = gemma3();
    assert_eq!(tok.kind(), TokenizerKind::SentencePiece);
    assert_eq!(tok.vocab_size(), 262144);
    let ids = tok.special_ids();
    assert_eq!((ids.bos, ids.eos), (Some(2), Some(1)));
    let end_of_turn = tok.token_id("<end_of_turn>").unwrap();
    assert!(tok.is_end_of_generation(end_of_turn));
    assert!(tok.is_end_of_generation(1));

    let with_bos = tok.encode("Hello world", true, false).unwrap();
    assert_eq!(with_bos[0], 2, "Gemma adds BOS");
    assert_eq!(
        tok.encode("Hello world", false, false).unwrap(),
        with_bos[1..]
    );
    assert_eq!(tok.decode(&with_bos, true).unwrap(), "Hello world");

    let turn = tok
        .encode("<start_of_turn>user\nHi<end_of_turn>\n", false, true)
        .unwrap();
    assert_eq!(turn[0], tok.token_id("<start_of_turn>").unwrap());
    assert!(turn.contains(&end_of_turn));
}

#[test]
fn streaming_never_breaks_a_character_smollm2() {
    let tok = smollm2();
    let mut held_back = 0;
    for text in MULTIBYTE {
        let ids = tok.encode(text, false, false).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), *text, "round trip");
        held_back += stream_all(&tok, &ids, text);
    }
    // The test means something only if characters really were split across tokens.
    assert!(held_back > 5, "only {held_back} tokens ended mid-character");
}

#[test]
fn streaming_never_breaks_a_character_gemma3() {
    let tok = gemma3();
    let mut held_back = 0;
    for text in MULTIBYTE {
        let ids = tok.encode(text, false, false).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), *text, "round trip");
        held_back += stream_all(&tok, &ids, text);
    }
    // Gemma has most emoji as whole tokens; a rare one falls back to <0xXX> byte tokens.
    let rare = "\u{1FAE8}\u{1F9CC}"; // shaking face, troll: recent, likely absent
    let ids = tok.encode(rare, false, false).unwrap();
    held_back += stream_all(&tok, &ids, rare);
    assert!(held_back > 0, "no token ended mid-character");
}
