//! The generation loop: against the CPU reference on SmolLM2 (greedy tokens equal the
//! reference's own greedy continuation, text equals the decoded tokens, stop strings and
//! cancellation end it where asked), and against a scripted model for the edges (context limits,
//! end-of-generation, seeded sampling).

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::ops::ControlFlow;

use lantern_core::gguf::GgufFile;
use lantern_core::sampling::SamplerConfig;
use lantern_core::tokenizer::Tokenizer;
use lantern_models::generate::{
    Chunk, FinishReason, GenerateError, GenerateOptions, LanguageModel, SystemClock, generate,
};
use lantern_models::reference::ReferenceModel;

fn smollm2_bytes() -> Vec<u8> {
    let path = lantern_core::cache::models_dir()
        .unwrap()
        .join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run `python3 models/fetch.py --default`",
        path.display()
    );
    std::fs::read(path).unwrap()
}

fn greedy(max_tokens: usize, stop: &[&str]) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        stop: stop.iter().map(|s| s.to_string()).collect(),
        sampler: SamplerConfig::greedy(),
        ignore_end_of_generation: false,
    }
}

#[test]
fn reference_model_through_the_loop() {
    let bytes = smollm2_bytes();
    let file = GgufFile::open(&bytes).unwrap();
    let tokenizer = Tokenizer::from_gguf(file.header().metadata()).unwrap();
    let model = ReferenceModel::from_gguf(&file).unwrap();
    let prompt = tokenizer
        .encode("The capital of France is", true, false)
        .unwrap();
    let clock = SystemClock::default();

    // Greedy through the loop = the reference's own greedy; streamed text = decoded tokens.
    let mut chunks = Vec::new();
    let out = pollster::block_on(generate(
        &mut model.session(),
        &tokenizer,
        &prompt,
        &greedy(8, &[]),
        &clock,
        |c: &Chunk| {
            chunks.push(c.clone());
            ControlFlow::Continue(())
        },
    ))
    .unwrap();
    assert_eq!(out.tokens, model.greedy(&prompt, 8).unwrap());
    assert_eq!(out.finish, FinishReason::MaxTokens);
    assert_eq!(out.text, tokenizer.decode(&out.tokens, true).unwrap());
    assert!(out.text.starts_with(" Paris"), "{:?}", out.text);
    let streamed: String = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(streamed, out.text);
    assert_eq!(out.timings.prompt_tokens, prompt.len());
    assert_eq!(out.timings.generated_tokens, 8);

    // A stop string taken from that text ends generation just before it.
    let stop = out.text[6..].split_whitespace().next().unwrap().to_owned();
    let at = out.text.find(&stop).unwrap();
    let stopped = pollster::block_on(generate(
        &mut model.session(),
        &tokenizer,
        &prompt,
        &greedy(8, &[&stop]),
        &clock,
        |_| ControlFlow::Continue(()),
    ))
    .unwrap();
    assert_eq!(stopped.finish, FinishReason::Stop(stop.clone()));
    assert_eq!(stopped.text, out.text[..at]);

    // Cancelling from the callback stops between tokens.
    let mut seen = 0;
    let cancelled = pollster::block_on(generate(
        &mut model.session(),
        &tokenizer,
        &prompt,
        &greedy(8, &[]),
        &clock,
        |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    ))
    .unwrap();
    assert_eq!(cancelled.finish, FinishReason::Cancelled);
    assert_eq!(cancelled.tokens, out.tokens[..2]);
}

/// A model whose next token is scripted: logits favour `script[position]`.
struct Scripted {
    script: Vec<u32>,
    vocab: usize,
    context: usize,
    position: usize,
}

impl LanguageModel for Scripted {
    fn context_length(&self) -> usize {
        self.context
    }

    fn position(&self) -> usize {
        self.position
    }

    async fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, GenerateError> {
        self.position += tokens.len();
        let mut logits = vec![0.0; self.vocab];
        let next = self.script[(self.position - 1) % self.script.len()];
        logits[next as usize] = 10.0;
        Ok(logits)
    }
}

fn tokenizer() -> Tokenizer {
    let bytes = smollm2_bytes();
    let header = match lantern_core::gguf::GgufHeader::parse(&bytes).unwrap() {
        lantern_core::gguf::Parsed::Complete(h) => h,
        _ => panic!("incomplete header"),
    };
    Tokenizer::from_gguf(header.metadata()).unwrap()
}

fn scripted(script: &[u32], context: usize) -> Scripted {
    Scripted {
        script: script.to_vec(),
        vocab: 49152,
        context,
        position: 0,
    }
}

fn run(
    model: &mut Scripted,
    tok: &Tokenizer,
    prompt: &[u32],
    options: &GenerateOptions,
) -> Result<lantern_models::generate::Generation, GenerateError> {
    pollster::block_on(generate(
        model,
        tok,
        prompt,
        options,
        &SystemClock::default(),
        |_| ControlFlow::Continue(()),
    ))
}

#[test]
fn end_of_generation_and_context_limits() {
    let tok = tokenizer();
    let hello = tok.encode("Hello world", false, false).unwrap();
    let eos = tok.special_ids().eos.unwrap();

    // The script says "Hello world" then <|im_end|>: generation ends there, EOS text hidden.
    // (After a one-token prompt the model is at position 1 and answers script[0].)
    let mut script = hello.clone();
    script.push(eos);
    let out = run(&mut scripted(&script, 100), &tok, &[7], &greedy(50, &[])).unwrap();
    assert_eq!(out.finish, FinishReason::EndOfGeneration);
    assert_eq!(out.text, "Hello world");
    assert_eq!(out.tokens.last(), Some(&eos));

    // A prompt that leaves no room is refused before any work, with the numbers.
    let err = run(
        &mut scripted(&script, 4),
        &tok,
        &[1, 2, 3, 4],
        &greedy(5, &[]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            GenerateError::ContextOverflow {
                prompt_tokens: 4,
                available: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(run(&mut scripted(&script, 4), &tok, &[], &greedy(5, &[])).is_err());

    // Generation that reaches the end of the context stops cleanly: 3 prompt positions leave 3
    // for generated tokens, and the logits of the last position still give a 4th token (which
    // never needs a cache slot).
    let out = run(&mut scripted(&[9], 6), &tok, &[1, 2, 3], &greedy(50, &[])).unwrap();
    assert_eq!(out.finish, FinishReason::ContextFull);
    assert_eq!(out.tokens.len(), 4);
}

#[test]
fn seeded_sampling_replays_and_seeds_differ() {
    let tok = tokenizer();
    // Token 0 has logit 10 and the other 49,151 have 0: about a third of the draws pick token 0
    // and the rest spread over the vocabulary, so twelve draws depend on the seed.
    let sampled = |seed| {
        let options = GenerateOptions {
            max_tokens: 12,
            sampler: SamplerConfig {
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
                min_p: 0.0,
                seed,
                ..SamplerConfig::default()
            },
            ignore_end_of_generation: true,
            ..GenerateOptions::default()
        };
        run(&mut scripted(&[0], 100), &tok, &[1], &options)
            .unwrap()
            .tokens
    };
    assert_eq!(sampled(5), sampled(5));
    assert_ne!(sampled(5), sampled(6));
}
