//! The GPU model against the CPU reference on a small synthetic Llama, natively and in headless
//! Chromium (`gpu_test!`): the browser cannot read the real model files, but this file is made
//! in memory. Its weights are random Q8_0, Q4_0 and F32 blocks, its shape awkward on purpose
//! (grouped-query attention, a tied output projection, a vocabulary that is not a tile multiple).
//!
//! Tolerance: max |gpu − reference| ≤ 1e-4 of the reference logits' spread, with the same
//! argmax — the bound `gpu_model.rs` justifies for the real models; two layers compound fewer
//! roundings than thirty.

use lantern_core::GgmlType;
use lantern_core::gguf::{GgufFile, GgufWriter, MetadataArray, MetadataValue};
use lantern_gpu::testing::test_gpu_with_gpu_workgroups;
use lantern_gpu::{Gpu, gpu_test};
use lantern_models::model::{GpuModel, ModelOptions};
use lantern_models::reference::ReferenceModel;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const HIDDEN: u64 = 64;
const HEADS: u32 = 4;
const KV_HEADS: u32 = 2;
const FFN: u64 = 96;
const LAYERS: u32 = 2;
const VOCAB: u64 = 83;
const TOLERANCE: f32 = 1e-4;

/// A small deterministic generator (the test must not depend on a platform's randomness).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// An f16 scale between ~0.008 and ~0.03 (exponent bits 0x20..0x27 of an f16).
    fn scale(&mut self) -> [u8; 2] {
        let bits = 0x2000u16 | (self.next() as u16 & 0x07ff);
        bits.to_le_bytes()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// `rows × cols` random blocks of `ty` (Q8_0: scale + 32 i8; Q4_0: scale + 16 bytes of nibbles).
fn matrix(rng: &mut Lcg, ty: GgmlType, rows: u64, cols: u64) -> Vec<u8> {
    let blocks = (rows * cols / 32) as usize;
    let payload = match ty {
        GgmlType::Q8_0 => 32,
        GgmlType::Q4_0 => 16,
        _ => unreachable!("only Q8_0 and Q4_0 here"),
    };
    (0..blocks)
        .flat_map(|_| {
            let mut block = rng.scale().to_vec();
            block.extend(rng.bytes(payload));
            block
        })
        .collect()
}

fn norm(rng: &mut Lcg, len: u64) -> Vec<u8> {
    (0..len)
        .flat_map(|_| (0.8 + (rng.next() % 400) as f32 / 1000.0).to_le_bytes())
        .collect()
}

fn synthetic_llama() -> Vec<u8> {
    let mut rng = Lcg(0x5eed);
    let head_dim = HIDDEN / HEADS as u64;
    let kv_dim = head_dim * KV_HEADS as u64;
    let mut w = GgufWriter::new(3);
    let meta = |w: &mut GgufWriter, key: &str, value: MetadataValue| {
        w.add_metadata(key, value);
    };
    meta(
        &mut w,
        "general.architecture",
        MetadataValue::String("llama".into()),
    );
    meta(&mut w, "llama.context_length", MetadataValue::U32(64));
    meta(
        &mut w,
        "llama.embedding_length",
        MetadataValue::U32(HIDDEN as u32),
    );
    meta(&mut w, "llama.block_count", MetadataValue::U32(LAYERS));
    meta(
        &mut w,
        "llama.feed_forward_length",
        MetadataValue::U32(FFN as u32),
    );
    meta(
        &mut w,
        "llama.attention.head_count",
        MetadataValue::U32(HEADS),
    );
    meta(
        &mut w,
        "llama.attention.head_count_kv",
        MetadataValue::U32(KV_HEADS),
    );
    meta(
        &mut w,
        "llama.attention.layer_norm_rms_epsilon",
        MetadataValue::F32(1e-5),
    );
    meta(&mut w, "llama.rope.freq_base", MetadataValue::F32(10000.0));
    let tokens = (0..VOCAB).map(|i| format!("t{i}")).collect();
    meta(
        &mut w,
        "tokenizer.ggml.tokens",
        MetadataValue::Array(MetadataArray::String(tokens)),
    );
    let q8 = GgmlType::Q8_0;
    let q4 = GgmlType::Q4_0;
    w.add_tensor(
        "token_embd.weight",
        q8,
        &[HIDDEN, VOCAB],
        matrix(&mut rng, q8, VOCAB, HIDDEN),
    );
    w.add_tensor(
        "output_norm.weight",
        GgmlType::F32,
        &[HIDDEN],
        norm(&mut rng, HIDDEN),
    );
    for i in 0..LAYERS {
        let mut t = |name: &str, ty: GgmlType, rows: u64, cols: u64| {
            let data = if ty == GgmlType::F32 {
                norm(&mut rng, rows)
            } else {
                matrix(&mut rng, ty, rows, cols)
            };
            let shape: Vec<u64> = if ty == GgmlType::F32 {
                vec![rows]
            } else {
                vec![cols, rows]
            };
            w.add_tensor(format!("blk.{i}.{name}.weight"), ty, &shape, data);
        };
        t("attn_norm", GgmlType::F32, HIDDEN, 1);
        t("attn_q", q8, HIDDEN, HIDDEN);
        // Layer 0's q, k and v differ in format (three products); layer 1's are alike, so the
        // loader stacks them into one product whose heads the attention inputs read in place.
        t("attn_k", if i == 0 { q4 } else { q8 }, kv_dim, HIDDEN);
        t("attn_v", q8, kv_dim, HIDDEN);
        t("attn_output", q4, HIDDEN, HIDDEN);
        t("ffn_norm", GgmlType::F32, HIDDEN, 1);
        t("ffn_gate", q4, FFN, HIDDEN);
        t("ffn_up", q4, FFN, HIDDEN);
        t("ffn_down", q8, HIDDEN, FFN);
    }
    w.to_bytes()
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// Largest |a − b| as a fraction of `b`'s spread.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    let spread =
        b.iter().cloned().fold(f32::MIN, f32::max) - b.iter().cloned().fold(f32::MAX, f32::min);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / spread
}

gpu_test!(synthetic_llama_matches_the_reference, |gpu| {
    check_synthetic_llama(&gpu).await;
});

// The same with workgroups shaped as for a GPU: products with lanes that reduce together, whose
// stacked outputs the attention inputs then read by row stride, and attention split into small
// chunks of keys and merged.
gpu_test!(
    synthetic_llama_in_gpu_workgroups_matches_the_reference,
    |_gpu| {
        check_synthetic_llama(&test_gpu_with_gpu_workgroups().await).await;
    }
);

async fn check_synthetic_llama(gpu: &Gpu) {
    let bytes = synthetic_llama();
    let file = GgufFile::open(&bytes).unwrap();
    let reference = ReferenceModel::from_gguf(&file).unwrap();
    let options = ModelOptions {
        max_context: 64,
        chunk_bytes: 4096, // many chunks, so tensors straddle them
        ..ModelOptions::default()
    };
    let mut model = GpuModel::from_gguf_bytes(gpu, &bytes, &options)
        .await
        .unwrap();
    let prompt = [3u32, 17, 42, 82, 0];
    let mut cache = reference.new_cache();
    let mut expected = Vec::new();
    for &t in &prompt {
        expected = reference.step(&mut cache, t).unwrap();
    }
    let mut logits = model.forward_tokens(&prompt).await.unwrap();
    for step in 0..3 {
        let error = relative_error(&logits, &expected);
        assert!(error <= TOLERANCE, "step {step}: {error:e} of the spread");
        assert_eq!(argmax(&logits), argmax(&expected), "step {step}");
        let next = argmax(&expected) as u32;
        expected = reference.step(&mut cache, next).unwrap();
        logits = model.forward_tokens(&[next]).await.unwrap();
    }
}

// Natively, `compile_kernels` compiles every pipeline of the prefill and the decode step after
// it (with the top-k selection) at once, so that running them compiles nothing more; in wasm
// it compiles nothing, and they compile as before. Either way the tokens are the same.
gpu_test!(kernels_compiled_ahead_leave_nothing_to_compile, |gpu| {
    let bytes = synthetic_llama();
    let options = ModelOptions {
        max_context: 64,
        ..ModelOptions::default()
    };
    let prompt = [3u32, 17, 42, 82, 0];
    let mut model = GpuModel::from_gguf_bytes(&gpu, &bytes, &options)
        .await
        .unwrap();
    let before = gpu.compiled_kernels();
    model.compile_kernels(prompt.len()).unwrap();
    let compiled = gpu.compiled_kernels();
    let first = model.forward_top_k(&prompt, 1).await.unwrap()[0].0;
    let second = model.forward_top_k(&[first], 1).await.unwrap()[0].0;
    if cfg!(not(target_arch = "wasm32")) {
        assert!(compiled > before, "nothing compiled ahead");
        assert_eq!(gpu.compiled_kernels(), compiled, "the passes compiled more");
    }
    // The same tokens as a model that compiles as it goes (the reference test checks those).
    let mut plain = GpuModel::from_gguf_bytes(&gpu, &bytes, &options)
        .await
        .unwrap();
    assert_eq!(plain.forward_top_k(&prompt, 1).await.unwrap()[0].0, first);
    assert_eq!(plain.forward_top_k(&[first], 1).await.unwrap()[0].0, second);
});
