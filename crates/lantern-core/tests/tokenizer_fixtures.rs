//! Tokenizers against independent references: llama.cpp's tokenizer test suite (vocabulary-only
//! GGUFs with `.inp` texts and `.out` ids that were produced by the models' own Hugging Face
//! tokenizers), our two real models against ids llama.cpp produced for them, and
//! all-MiniLM-L6-v2's tokenizer.json against the BERT ids of the same suite.
//!
//! The files come from `python3 models/fetch.py tokenizer-fixtures` (the test script runs it);
//! a missing file fails the test with that instruction rather than skipping it.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use lantern_core::gguf::{GgufHeader, Parsed};
use lantern_core::tokenizer::{PreTokenizerKind, Tokenizer, TokenizerError, TokenizerKind};

const SEPARATOR: &str = "\n__ggml_vocab_test__\n";

fn models_file(relative: &str) -> PathBuf {
    let path = lantern_core::cache::models_dir()
        .expect("no cache folder: set LANTERN_CACHE or HOME")
        .join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run `python3 models/fetch.py tokenizer-fixtures` (and `--all` for the models)",
        path.display()
    );
    path
}

fn gguf_tokenizer(path: &PathBuf) -> Result<Tokenizer, TokenizerError> {
    let bytes = std::fs::read(path).unwrap();
    let Parsed::Complete(header) = GgufHeader::parse(&bytes).unwrap() else {
        panic!("{}: header incomplete", path.display());
    };
    Tokenizer::from_gguf(header.metadata())
}

/// The texts of a `.inp` file and the expected ids of its `.out` file, paired.
fn cases(inp: &PathBuf, out: &PathBuf) -> Vec<(String, Vec<u32>)> {
    let texts = std::fs::read_to_string(inp).unwrap();
    let mut texts: Vec<&str> = texts.split(SEPARATOR).collect();
    assert_eq!(texts.pop(), Some(""), "the .inp ends with a separator");
    let ids = std::fs::read_to_string(out).unwrap();
    let ids: Vec<Vec<u32>> = ids
        .lines()
        .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        texts.len(),
        ids.len(),
        "{} texts vs {} id lines",
        texts.len(),
        ids.len()
    );
    texts.into_iter().map(str::to_owned).zip(ids).collect()
}

/// How encoding is called, and whether decoding must give the text back.
#[derive(Clone, Copy)]
struct Mode {
    add_special: bool,
    parse_special: bool,
    round_trip: bool,
}

/// The suite's settings: no BOS/EOS, special tokens not parsed, and decoding gives the text back.
const PLAIN: Mode = Mode {
    add_special: false,
    parse_special: false,
    round_trip: true,
};

/// Checks every case and reports every mismatch at once.
fn check_suite(tokenizer: &Tokenizer, cases: &[(String, Vec<u32>)], name: &str, mode: Mode) {
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = tokenizer
            .encode(text, mode.add_special, mode.parse_special)
            .unwrap();
        if &got != expected {
            failures.push(format!(
                "  {text:?}\n    expected {expected:?}\n    got      {got:?}"
            ));
            continue;
        }
        if mode.round_trip {
            let decoded = tokenizer.decode(&got, false).unwrap();
            if &decoded != text {
                failures.push(format!("  {text:?} decodes back to {decoded:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn llama_cpp_suite(vocab: &str, expected_kind: TokenizerKind) {
    let dir = "tokenizer-fixtures";
    let gguf = models_file(&format!("{dir}/ggml-vocab-{vocab}.gguf"));
    let tokenizer = gguf_tokenizer(&gguf).unwrap();
    assert_eq!(tokenizer.kind(), expected_kind);
    let cases = cases(
        &models_file(&format!("{dir}/ggml-vocab-{vocab}.gguf.inp")),
        &models_file(&format!("{dir}/ggml-vocab-{vocab}.gguf.out")),
    );
    assert!(cases.len() >= 40, "suite has {} cases", cases.len());
    check_suite(&tokenizer, &cases, vocab, PLAIN);
}

#[test]
fn gpt2_matches_llama_cpp_suite() {
    llama_cpp_suite("gpt-2", TokenizerKind::ByteLevelBpe(PreTokenizerKind::Gpt2));
}

#[test]
fn llama_bpe_matches_llama_cpp_suite() {
    llama_cpp_suite(
        "llama-bpe",
        TokenizerKind::ByteLevelBpe(PreTokenizerKind::Llama3),
    );
}

#[test]
fn qwen2_matches_llama_cpp_suite() {
    llama_cpp_suite(
        "qwen2",
        TokenizerKind::ByteLevelBpe(PreTokenizerKind::Qwen2),
    );
}

#[test]
fn llama_spm_matches_llama_cpp_suite() {
    llama_cpp_suite("llama-spm", TokenizerKind::SentencePiece);
}

#[test]
fn phi3_spm_matches_llama_cpp_suite() {
    llama_cpp_suite("phi-3", TokenizerKind::SentencePiece);
}

#[test]
fn unsupported_vocabularies_are_named_in_the_error() {
    let err = gguf_tokenizer(&models_file("tokenizer-fixtures/ggml-vocab-gemma-4.gguf"))
        .err()
        .expect("gemma4 vocabularies are not supported yet");
    assert!(
        matches!(err, TokenizerError::UnsupportedModel(ref m) if m == "gemma4"),
        "{err}"
    );
    assert!(err.to_string().contains("'gemma4'"), "{err}");
}

/// all-MiniLM-L6-v2 uses BERT's uncased WordPiece vocabulary, the one llama.cpp's bert-bge suite
/// was made with; through tokenizer.json it must give the same ids.
#[test]
fn minilm_tokenizer_json_matches_bert_suite() {
    let json = std::fs::read(models_file("all-minilm-l6-v2/tokenizer.json")).unwrap();
    let tokenizer = Tokenizer::from_tokenizer_json(&json).unwrap();
    assert_eq!(
        tokenizer.kind(),
        TokenizerKind::HuggingFace("WordPiece".into())
    );
    assert_eq!(tokenizer.vocab_size(), 30522);
    let cases = cases(
        &models_file("tokenizer-fixtures/ggml-vocab-bert-bge.gguf.inp"),
        &models_file("tokenizer-fixtures/ggml-vocab-bert-bge.gguf.out"),
    );
    // WordPiece lowercases and drops accents, so decoding does not give the text back.
    let mode = Mode {
        round_trip: false,
        ..PLAIN
    };
    check_suite(&tokenizer, &cases, "MiniLM tokenizer.json", mode);
    // With special tokens the post-processor wraps the text in [CLS] … [SEP].
    let ids = tokenizer.encode("Hello world", true, true).unwrap();
    assert_eq!(ids.first(), Some(&101));
    assert_eq!(ids.last(), Some(&102));
    assert_eq!(tokenizer.decode(&ids, true).unwrap(), "hello world");
}

/// Ids llama.cpp produced for our two models on llama.cpp's corpus plus 38 harder texts (see
/// tests/fixtures/tokenizer/README.md for how, and for the rules they exercise).
fn model_suite(model_file: &str, fetch_name: &str, expected: &str) {
    let gguf = lantern_core::cache::models_dir().unwrap().join(model_file);
    assert!(
        gguf.is_file(),
        "{} is missing: run `python3 models/fetch.py {fetch_name}`",
        gguf.display()
    );
    let tokenizer = gguf_tokenizer(&gguf).unwrap();
    // The crate's directory as cargo and nextest set it when they run the test, rather than as
    // compiled in: a test binary built from a checkout elsewhere (a shared target directory
    // reuses it while the sources are older than it) would look there.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let fixtures = crate_dir.join("tests/fixtures/tokenizer");
    let plain = cases(
        &fixtures.join("corpus.inp"),
        &fixtures.join(format!("{expected}.out")),
    );
    assert_eq!(plain.len(), 84);
    check_suite(&tokenizer, &plain, expected, PLAIN);

    // With BOS added as the model asks and control tokens parsed (the chat path).
    let special = cases(
        &fixtures.join("corpus.inp"),
        &fixtures.join(format!("{expected}.special.out")),
    );
    let chat = Mode {
        add_special: true,
        parse_special: true,
        round_trip: false,
    };
    check_suite(&tokenizer, &special, &format!("{expected} (special)"), chat);
}

#[test]
fn smollm2_matches_llama_cpp() {
    model_suite(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "smollm2-135m-instruct",
        "smollm2",
    );
}

#[test]
fn gemma3_matches_llama_cpp() {
    model_suite("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m", "gemma3");
}
