//! The reference forward pass on the real models: the famous first check of any LLM runtime
//! ("The capital of France is" → " Paris"), which only comes out when the tokenizer, the config,
//! every dequantizer and every formula are right together.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use lantern_core::gguf::GgufFile;
use lantern_core::tokenizer::Tokenizer;
use lantern_models::reference::ReferenceModel;

fn load(file: &str, fetch_name: &str) -> Vec<u8> {
    let path = lantern_core::cache::models_dir().unwrap().join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `python3 models/fetch.py {fetch_name}`",
        path.display()
    );
    std::fs::read(&path).unwrap()
}

fn continue_greedily(bytes: &[u8], prompt: &str, n: usize) -> String {
    let file = GgufFile::open(bytes).unwrap();
    let tokenizer = Tokenizer::from_gguf(file.header().metadata()).unwrap();
    let model = ReferenceModel::from_gguf(&file).unwrap();
    let ids = tokenizer.encode(prompt, true, false).unwrap();
    let out = model.greedy(&ids, n).unwrap();
    tokenizer.decode(&out, true).unwrap()
}

#[test]
fn smollm2_knows_the_capital_of_france() {
    let bytes = load("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct");
    let text = continue_greedily(&bytes, "The capital of France is", 6);
    assert!(text.starts_with(" Paris"), "continued with {text:?}");
}

/// Gemma 3 270M is a base model: asked the bare question it rambles (" the capital of the
/// country of"), but given one example it answers, and it counts.
#[test]
fn gemma3_answers_by_example_and_counts() {
    let bytes = load("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m");
    let prompt = "The capital of France is Paris. The capital of Germany is";
    let text = continue_greedily(&bytes, prompt, 3);
    assert!(text.starts_with(" Berlin"), "continued with {text:?}");
    let text = continue_greedily(&bytes, "1, 2, 3, 4,", 8);
    assert!(text.starts_with(" 5, 6"), "continued with {text:?}");
}
