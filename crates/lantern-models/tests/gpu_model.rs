//! The GPU model against the CPU reference (`lantern_models::reference`: weights dequantized to
//! f32, f64 accumulation, written independently of the GPU code), on the real model files.
//!
//! Logits tolerance: max |gpu − reference| ≤ 1e-4 of the reference logits' spread (max − min),
//! and the same argmax. Why that size: the GPU sums in f32 in its own order (split rows,
//! split attention, fused norms) where the reference sums in f64, so each op is off by a few
//! f32 roundings (~1e-7 relative), compounded over 30 (SmolLM2) or 18 (Gemma) layers. Measured
//! on lavapipe: 1.4e-6 (SmolLM2) and 1.8e-6 (Gemma 3) of the spread; prefill vs one-by-one
//! decode 1.7e-6 and 0.9e-6. The bound leaves ~50× headroom for other adapters' summation
//! orders and FMA contraction, while a real bug (a wrong index, a missing norm, rope on the wrong
//! pairs, an off-by-one position) moves logits by percents of the spread.
//!
//! f16 precision (where the adapter has `shader-f16`): the weight products round weights and
//! activations to f16 (2⁻¹¹ relative) instead of f32 (2⁻²⁴), 8,000× coarser, so the bound is
//! `F16_LOGIT_TOLERANCE`, set from what lavapipe measured (see the constant), with the same
//! argmax required.
//!
//! Greedy: the first 32 tokens of `generate::generate` at temperature 0 equal
//! `ReferenceModel::greedy`'s, for three prompts per model.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::ops::ControlFlow;
use std::path::PathBuf;

use lantern_core::GgmlType;
use lantern_core::gguf::{GgufFile, GgufWriter};
use lantern_core::quant::dequantize_to_vec;
use lantern_core::sampling::SamplerConfig;
use lantern_core::tokenizer::Tokenizer;
use lantern_gpu::ops;
use lantern_gpu::quant::WeightFormat;
use lantern_gpu::testing::{test_gpu, test_gpu_with_weight_textures};
use lantern_gpu::{Gpu, GpuError, GpuOptions, Precision};
use lantern_models::generate::{
    GenerateError, GenerateOptions, LanguageModel, SystemClock, generate,
};
use lantern_models::model::{GpuModel, ModelError, ModelOptions, SliceChunks};
use lantern_models::reference::ReferenceModel;

const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

/// Fraction of the reference logits' spread the GPU logits may differ by (see the module docs).
const LOGIT_TOLERANCE: f32 = 1e-4;

/// The same for f16 products. Measured on lavapipe: 1.9e-3 (SmolLM2) and 2.6e-3 (Gemma 3) of
/// the spread, prefill vs decode 2.1e-3 and 1.7e-3; 1e-2 leaves ~4× headroom, while a real
/// bug still moves logits by percents of the spread.
const F16_LOGIT_TOLERANCE: f32 = 1e-2;

fn model_bytes(name: &str) -> Vec<u8> {
    let dir =
        lantern_core::cache::models_dir().expect("no models folder: set LANTERN_CACHE or HOME");
    let path: PathBuf = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. These tests need the real model files; fetch them with models/fetch.py",
            path.display()
        )
    })
}

/// Small context: the tests use a few dozen positions, and smaller caches load faster.
fn options() -> ModelOptions {
    ModelOptions {
        max_context: 256,
        ..ModelOptions::default()
    }
}

fn options_in(precision: Precision) -> ModelOptions {
    ModelOptions {
        precision,
        ..options()
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Max |a − b| as a fraction of `reference`'s spread.
fn relative_error(gpu: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(gpu.len(), reference.len(), "logit counts differ");
    let max = reference.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let min = reference.iter().cloned().fold(f32::INFINITY, f32::min);
    let worst = gpu
        .iter()
        .zip(reference)
        .map(|(g, r)| (g - r).abs())
        .fold(
            0f32,
            |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
        );
    worst / (max - min)
}

fn assert_close(what: &str, gpu: &[f32], reference: &[f32], tolerance: f32) -> f32 {
    let err = relative_error(gpu, reference);
    assert!(
        err <= tolerance,
        "{what}: logits differ by {err:.2e} of their spread (tolerance {tolerance})"
    );
    assert_eq!(argmax(gpu), argmax(reference), "{what}: argmax differs");
    err
}

/// Prompt logits and the first decode steps against the reference; prefill against feeding the
/// same tokens one at a time. All within `tolerance` of the spread, with the same argmax.
async fn check_logits(
    gpu: &Gpu,
    file_name: &str,
    prompt: &str,
    precision: Precision,
    tolerance: f32,
) {
    let bytes = model_bytes(file_name);
    let file = GgufFile::open(&bytes).unwrap();
    let tokenizer = Tokenizer::from_gguf(file.metadata()).unwrap();
    let reference = ReferenceModel::from_gguf(&file).unwrap();
    let mut model = GpuModel::from_gguf_bytes(gpu, &bytes, &options_in(precision))
        .await
        .unwrap();
    assert_eq!(model.precision(), precision);
    let ids = tokenizer.encode(prompt, true, false).unwrap();

    let mut cache = reference.new_cache();
    let mut want = Vec::new();
    for &t in &ids {
        want = reference.step(&mut cache, t).unwrap();
    }
    let got = model.forward_tokens(&ids).await.unwrap();
    let mut worst = assert_close(&format!("{file_name}: prompt"), &got, &want, tolerance);
    // Decode steps, feeding the reference's own argmax so both see the same tokens.
    let mut fed = ids.clone();
    for step in 0..4 {
        let next = argmax(&want) as u32;
        fed.push(next);
        want = reference.step(&mut cache, next).unwrap();
        let got = model.forward_tokens(&[next]).await.unwrap();
        worst = worst.max(assert_close(
            &format!("{file_name}: decode step {step}"),
            &got,
            &want,
            tolerance,
        ));
    }

    // Prefill of all tokens at once equals decoding them one by one.
    model.reset();
    let mut one_by_one = Vec::new();
    for &t in &fed {
        one_by_one = model.forward_tokens(&[t]).await.unwrap();
    }
    model.reset();
    let prefill = model.forward_tokens(&fed).await.unwrap();
    let prefill_vs_decode = assert_close(
        &format!("{file_name}: prefill vs decode"),
        &prefill,
        &one_by_one,
        tolerance,
    );
    println!(
        "{file_name} in {precision}: {} prompt tokens; worst logit error vs reference {worst:.2e} of the spread; \
         prefill vs decode {prefill_vs_decode:.2e}",
        ids.len()
    );
}

/// Greedy generation through the shared loop against the reference's greedy continuation.
async fn check_greedy(gpu: &Gpu, file_name: &str, prompts: &[&str], expect_first: Option<&str>) {
    let bytes = model_bytes(file_name);
    let file = GgufFile::open(&bytes).unwrap();
    let tokenizer = Tokenizer::from_gguf(file.metadata()).unwrap();
    let reference = ReferenceModel::from_gguf(&file).unwrap();
    let mut model = GpuModel::from_gguf_bytes(gpu, &bytes, &options())
        .await
        .unwrap();
    let options = GenerateOptions {
        max_tokens: 32,
        sampler: SamplerConfig::greedy(),
        ignore_end_of_generation: true,
        ..GenerateOptions::default()
    };
    for (i, prompt) in prompts.iter().enumerate() {
        let ids = tokenizer.encode(prompt, true, false).unwrap();
        model.reset();
        let generation = generate(
            &mut model,
            &tokenizer,
            &ids,
            &options,
            &SystemClock::default(),
            |_| ControlFlow::Continue(()),
        )
        .await
        .unwrap();
        let want = reference.greedy(&ids, 32).unwrap();
        assert_eq!(
            generation.tokens,
            want,
            "{file_name}, prompt {prompt:?}: GPU {:?} vs reference {:?}",
            generation.text,
            tokenizer.decode(&want, true).unwrap()
        );
        if i == 0
            && let Some(first) = expect_first
        {
            assert!(
                generation.text.starts_with(first),
                "{prompt:?} continued with {:?}",
                generation.text
            );
        }
        println!("{file_name}: {prompt:?} -> {:?}", generation.text);
    }
}

#[test]
fn smollm2_logits_match_reference() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        check_logits(
            &gpu,
            SMOLLM2,
            "The capital of France is",
            Precision::F32,
            LOGIT_TOLERANCE,
        )
        .await;
    });
}

#[test]
fn gemma3_logits_match_reference() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        check_logits(
            &gpu,
            GEMMA3,
            "The quick brown fox jumps over the lazy",
            Precision::F32,
            LOGIT_TOLERANCE,
        )
        .await;
    });
}

/// Both models with f16 products, where the adapter has shader-f16; and on a device without
/// it, asking for f16 is a load error that names the feature.
#[test]
fn f16_logits_stay_close_to_reference() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        if gpu.report().features.shader_f16 {
            let prompt = "The capital of France is";
            check_logits(&gpu, SMOLLM2, prompt, Precision::F16, F16_LOGIT_TOLERANCE).await;
            let prompt = "The quick brown fox jumps over the lazy";
            check_logits(&gpu, GEMMA3, prompt, Precision::F16, F16_LOGIT_TOLERANCE).await;
        } else {
            println!(
                "f16 logits skipped: {} has no shader-f16",
                gpu.report().name
            );
        }
        let options = GpuOptions {
            disable_f16: true,
            ..GpuOptions::default()
        };
        let plain = Gpu::new(options).await.unwrap();
        let bytes = model_bytes(SMOLLM2);
        let Err(err) = GpuModel::from_gguf_bytes(&plain, &bytes, &options_in(Precision::F16)).await
        else {
            panic!("f16 loaded without shader-f16");
        };
        assert!(
            matches!(err, ModelError::Gpu(GpuError::MissingFeature { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("shader-f16"), "{err}");
    });
}

#[test]
fn smollm2_greedy_matches_reference() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        check_greedy(
            &gpu,
            SMOLLM2,
            &[
                "The capital of France is",
                "Water boils at a temperature of",
                "def fibonacci(n):",
            ],
            Some(" Paris"),
        )
        .await;
    });
}

#[test]
fn gemma3_greedy_matches_reference() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        check_greedy(
            &gpu,
            GEMMA3,
            &[
                "The capital of France is",
                "Once upon a time, there was a",
                "import numpy as np\n",
            ],
            None,
        )
        .await;
    });
}

#[test]
fn a_truncated_file_and_a_full_cache_are_clear_errors() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        let bytes = model_bytes(SMOLLM2);
        let file = GgufFile::open(&bytes).unwrap();

        // The header is whole but the data stops 1000 bytes early, as a broken download would.
        let cut = &bytes[..bytes.len() - 1000];
        let mut source = SliceChunks::new(cut, 1 << 20);
        let Err(err) = GpuModel::from_stream(&gpu, file.header(), &mut source, &options()).await
        else {
            panic!("a truncated file loaded");
        };
        assert!(
            matches!(
                err,
                ModelError::Truncated {
                    missing_bytes: 1000
                }
            ),
            "{err}"
        );

        let small = ModelOptions {
            max_context: 4,
            ..ModelOptions::default()
        };
        let mut model = GpuModel::from_gguf_bytes(&gpu, &bytes, &small)
            .await
            .unwrap();
        model.forward_tokens(&[1, 2, 3]).await.unwrap();
        let Err(err) = model.forward_tokens(&[4, 5]).await else {
            panic!("5 positions fit a 4-position cache");
        };
        assert!(
            matches!(
                err,
                ModelError::ContextOverflow {
                    position: 3,
                    tokens: 2,
                    max_context: 4
                }
            ),
            "{err}"
        );
        // The failed call changed nothing: the last position is still free, and a token id
        // outside the vocabulary is refused without taking it either.
        let vocab = model.config().vocab_size;
        let err = model.forward_tokens(&[vocab]).await.err();
        assert!(
            err.is_some(),
            "a token id outside the vocabulary was accepted"
        );
        model.forward_tokens(&[4]).await.unwrap();
    });
}

/// The resource rules: weights take at most 1.1× the GGUF's tensor bytes on the GPU (no
/// dequantized copies), and once warm a decode step creates no buffer (everything comes back
/// from the pool) and no bind group (the device keeps those of the step before); dropping the
/// model lets go of the bind groups that held its buffers.
#[test]
fn weights_stay_compact_and_decode_steps_allocate_nothing() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        for name in [SMOLLM2, GEMMA3] {
            let bytes = model_bytes(name);
            let file = GgufFile::open(&bytes).unwrap();
            let tensor_bytes: u64 = file.tensors().iter().map(|t| t.n_bytes()).sum();
            let mut model = GpuModel::from_gguf_bytes(&gpu, &bytes, &options())
                .await
                .unwrap();
            let ratio = model.weight_bytes() as f64 / tensor_bytes as f64;
            assert!(
                ratio <= 1.1,
                "{name}: weights take {ratio:.3}× the file's tensor bytes"
            );

            model.forward_tokens(&[1, 2, 3]).await.unwrap();
            for token in [4, 5] {
                model.forward_tokens(&[token]).await.unwrap();
            }
            let warm = gpu.pool().stats().created;
            let warm_groups = gpu.bind_group_stats();
            for token in 6..12 {
                model.forward_tokens(&[token]).await.unwrap();
            }
            assert_eq!(
                gpu.pool().stats().created,
                warm,
                "{name}: decode steps created buffers after warm-up"
            );
            let groups = gpu.bind_group_stats();
            assert_eq!(
                groups.created, warm_groups.created,
                "{name}: decode steps created bind groups after warm-up"
            );
            let dispatches = model.decode_dispatches().unwrap() as u64;
            assert!(
                groups.reused >= warm_groups.reused + 6 * dispatches,
                "{name}: 6 decode steps of {dispatches} dispatches reused {} bind groups",
                groups.reused - warm_groups.reused
            );
            drop(model);
            assert_eq!(
                gpu.bind_group_stats().cached,
                0,
                "{name}: dropped model's groups kept"
            );
        }
    });
}

/// Exposes only `forward`, so the loop samples from full logits.
struct FullLogits<'a, 'g>(&'a mut GpuModel<&'g Gpu>);

impl LanguageModel for FullLogits<'_, '_> {
    fn context_length(&self) -> usize {
        self.0.max_context()
    }

    fn position(&self) -> usize {
        LanguageModel::position(&*self.0)
    }

    async fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, GenerateError> {
        LanguageModel::forward(&mut *self.0, tokens).await
    }
}

/// The GPU model as it is, counting which forward the loop chose.
struct Counting<'a, 'g> {
    model: &'a mut GpuModel<&'g Gpu>,
    full: usize,
    top_k: usize,
}

impl LanguageModel for Counting<'_, '_> {
    fn context_length(&self) -> usize {
        self.model.max_context()
    }

    fn position(&self) -> usize {
        LanguageModel::position(&*self.model)
    }

    async fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>, GenerateError> {
        self.full += 1;
        LanguageModel::forward(&mut *self.model, tokens).await
    }

    fn max_top_k(&self) -> usize {
        self.model.max_top_k()
    }

    async fn forward_top_k(
        &mut self,
        tokens: &[u32],
        k: usize,
    ) -> Result<Vec<(u32, f32)>, GenerateError> {
        self.top_k += 1;
        LanguageModel::forward_top_k(&mut *self.model, tokens, k).await
    }
}

/// Sampling from the GPU's top-k read-back gives the same tokens as sampling from the full
/// logits, greedy and seeded top-k/top-p/min-p/temperature; and the pairs read back are exactly
/// the full logits' top k (the same values, ties to the lower id).
#[test]
fn generation_through_gpu_top_k_matches_full_logits() {
    pollster::block_on(async {
        let gpu = test_gpu().await;
        let bytes = model_bytes(SMOLLM2);
        let file = GgufFile::open(&bytes).unwrap();
        let tokenizer = Tokenizer::from_gguf(file.metadata()).unwrap();
        let mut model = GpuModel::from_gguf_bytes(&gpu, &bytes, &options())
            .await
            .unwrap();
        let prompt = tokenizer
            .encode("Once upon a time, in a small village,", true, false)
            .unwrap();

        let logits = model.forward_tokens(&prompt).await.unwrap();
        model.reset();
        let top = model
            .forward_top_k(&prompt, ops::top_k::MAX_K)
            .await
            .unwrap();
        let bits = |v: &[(u32, f32)]| v.iter().map(|&(i, x)| (i, x.to_bits())).collect::<Vec<_>>();
        let want = lantern_gpu::reference::top_k(&logits, ops::top_k::MAX_K);
        assert_eq!(bits(&top), bits(&want));

        let samplers = [
            SamplerConfig::greedy(),
            SamplerConfig {
                temperature: 0.8,
                top_k: 40,
                seed: 1234,
                ..SamplerConfig::default()
            },
        ];
        for sampler in samplers {
            let options = GenerateOptions {
                max_tokens: 16,
                sampler: sampler.clone(),
                ignore_end_of_generation: true,
                ..GenerateOptions::default()
            };
            model.reset();
            let full = generate(
                &mut FullLogits(&mut model),
                &tokenizer,
                &prompt,
                &options,
                &SystemClock::default(),
                |_| ControlFlow::Continue(()),
            )
            .await
            .unwrap();
            model.reset();
            let mut counting = Counting {
                model: &mut model,
                full: 0,
                top_k: 0,
            };
            let top_k = generate(
                &mut counting,
                &tokenizer,
                &prompt,
                &options,
                &SystemClock::default(),
                |_| ControlFlow::Continue(()),
            )
            .await
            .unwrap();
            assert_eq!(
                (counting.full, counting.top_k),
                (0, 16),
                "{sampler:?}: the top-k path was not taken"
            );
            assert_eq!(
                top_k.tokens, full.tokens,
                "{sampler:?}: {:?} vs {:?}",
                top_k.text, full.text
            );
            println!("{sampler:?}: {:?}", top_k.text);
        }
    });
}

/// Tensors stored as F32 (the exact values of their Q4_1 blocks) in the mixed file: layer 0's up
/// (gate and up as two products), layer 0's k (q, k and v as three) and layer 1's v (q and k
/// stacked, v apart).
const UNSTACKED: [&str; 3] = [
    "blk.0.ffn_up.weight",
    "blk.0.attn_k.weight",
    "blk.1.attn_v.weight",
];

/// A file whose stacked projections differ in format runs them as separate products (or shorter
/// stacks) instead of one stacked product, and gives the logits of the original file: exactly
/// after the prompt (each output is the same dot product either way, the stacked activation
/// equals the separate one bit for bit, and the attention inputs are read wherever the products
/// left them), and to f32 rounding after a decode step (see below).
#[test]
fn projections_of_different_formats_run_unstacked_with_the_same_logits() {
    pollster::block_on(async {
        // Weights in storage buffers, whose sizes are exactly their repacked bytes (a texture
        // pads its last row), whatever the adapter prefers: the model in the storage other
        // adapters use, natively too.
        let gpu = test_gpu_with_weight_textures(false).await;
        let bytes = model_bytes(SMOLLM2);
        let file = GgufFile::open(&bytes).unwrap();
        let mut writer = GgufWriter::new(file.header().version());
        for (key, value) in file.metadata().iter() {
            writer.add_metadata(key, value.clone());
        }
        for info in file.tensors() {
            let data = file.tensor_data(info).unwrap();
            if UNSTACKED.contains(&info.name()) {
                let n = info.n_elements() as usize;
                let values = dequantize_to_vec(info.ggml_type(), data, n).unwrap();
                let f32_bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                writer.add_tensor(info.name(), GgmlType::F32, info.shape(), f32_bytes);
            } else {
                writer.add_tensor(info.name(), info.ggml_type(), info.shape(), data.to_vec());
            }
        }
        let mixed_bytes = writer.to_bytes();

        let tokenizer = Tokenizer::from_gguf(file.metadata()).unwrap();
        let prompt = tokenizer
            .encode("Projections, stacked or not:", true, false)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut logits = Vec::new();
        let mut sizes = Vec::new();
        for model_bytes in [&bytes, &mixed_bytes] {
            let mut model = GpuModel::from_gguf_bytes(&gpu, model_bytes, &options())
                .await
                .unwrap();
            let prefill = model.forward_tokens(&prompt).await.unwrap();
            let decode = model
                .forward_tokens(&[argmax(&prefill) as u32])
                .await
                .unwrap();
            logits.push((bits(&prefill), bits(&decode)));
            sizes.push(model.weight_bytes());
        }
        // The mixed file's matrices were loaded as F32: 4 bytes a value instead of Q4_1's 20
        // bytes per 32 (plus its rows' padding; up is 1536×576, k and v 192×576).
        let row_bytes = |format: WeightFormat| format.repacked_row_bytes(576).unwrap();
        assert_eq!(
            sizes[1] - sizes[0],
            (1536 + 2 * 192) * (row_bytes(WeightFormat::F32) - row_bytes(WeightFormat::Q4_1)),
            "{sizes:?}"
        );
        assert!(logits[0].0 == logits[1].0, "prefill logits differ");
        // A decode step's Q4_1 products scale each 32-value unit's sum once, where F32 products
        // add up the scaled values, so there the logits agree to f32 rounding, not bit for bit
        // (a product read from the wrong place would be off by the logits' own size).
        let (stacked, unstacked) = (&logits[0].1, &logits[1].1);
        let largest = stacked
            .iter()
            .fold(0f32, |m, &b| m.max(f32::from_bits(b).abs()));
        let worst = stacked
            .iter()
            .zip(unstacked)
            .map(|(&a, &b)| (f32::from_bits(a) - f32::from_bits(b)).abs())
            .fold(0f32, f32::max);
        println!("decode logits: largest {largest}, largest difference {worst}");
        assert!(
            worst <= 1e-5 * largest,
            "decode logits differ by up to {worst}"
        );
    });
}
