//! Checks against the real SmolLM2-135M-Instruct Q4_1 GGUF. The file must be present (fetch it
//! with `python3 models/fetch.py --default`); a missing model fails loudly rather than
//! skipping, so a green run always means the real file was read.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use lantern_core::GgmlType;
use lantern_core::gguf::GgufFile;
use lantern_core::quant::dequantize_to_vec;

const MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn model_path() -> PathBuf {
    lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME) so the test can find models/")
        .join(MODEL)
}

fn f16(b: &[u8]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()
}

#[test]
fn smollm2_q4_1_known_facts() {
    let path = model_path();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the test model {} ({e}). Fetch it with `python3 models/fetch.py --default` \
             (or point LANTERN_CACHE at a directory containing models/{MODEL}).",
            path.display()
        )
    });
    let file = GgufFile::open(&bytes).expect("real model opens");
    let h = file.header();
    let md = file.metadata();
    assert_eq!(h.version(), 3);
    assert_eq!(md.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(md.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(md.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(md.get_u32("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(md.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(md.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(md.get_u32("llama.context_length").unwrap(), 8192);
    assert_eq!(md.get_f32("llama.rope.freq_base").unwrap(), 100000.0);
    assert_eq!(md.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    let tokens = md.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    assert_eq!(
        &tokens[..3],
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    );
    assert_eq!(
        md.get_i32_array("tokenizer.ggml.token_type").unwrap().len(),
        49152
    );
    assert_eq!(
        md.get_str_array("tokenizer.ggml.merges").unwrap().len(),
        48900
    );
    assert_eq!(md.get_u32("tokenizer.ggml.eos_token_id").unwrap(), 2);
    assert!(!md.get_bool("tokenizer.ggml.add_bos_token").unwrap());

    // 30 blocks x 9 tensors + token_embd + output_norm; tied embeddings, so no output.weight.
    assert_eq!(file.tensors().len(), 272);
    assert!(file.tensor("output.weight").is_err());
    let embd = file.tensor("token_embd.weight").unwrap();
    assert_eq!(
        (embd.ggml_type(), embd.shape()),
        (GgmlType::Q8_0, &[576u64, 49152][..])
    );
    assert_eq!(file.tensors()[0].name(), "token_embd.weight");
    let q = file.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!(
        (q.ggml_type(), q.shape()),
        (GgmlType::Q4_1, &[576u64, 576][..])
    );
    assert_eq!(
        file.tensor("blk.0.attn_k.weight").unwrap().shape(),
        [576, 192]
    );
    for t in file.tensors() {
        if t.name().ends_with("norm.weight") {
            assert_eq!(
                (t.ggml_type(), t.shape()),
                (GgmlType::F32, &[576u64][..]),
                "{}",
                t.name()
            );
        } else if t.name() != "token_embd.weight" {
            assert_eq!(t.ggml_type(), GgmlType::Q4_1, "{}", t.name());
        }
    }
    // Data starts right after the header (already 32-aligned here) and the tensors tile the
    // data section, each padded to 32 bytes, up to the last byte of the file.
    assert_eq!(h.data_offset(), 1_785_664);
    assert_eq!(h.required_file_size(), bytes.len() as u64);
    let mut sorted: Vec<_> = file.tensors().iter().map(|t| t.byte_range()).collect();
    sorted.sort_by_key(|r| r.start);
    for pair in sorted.windows(2) {
        assert_eq!(pair[1].start, pair[0].end.next_multiple_of(32));
    }

    // Embeddings: every value finite, and the first block equals d * q from the raw bytes.
    let raw = file.tensor_data(embd).unwrap();
    let values = dequantize_to_vec(GgmlType::Q8_0, raw, embd.n_elements() as usize).unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    let d = f16(&raw[0..2]);
    for j in 0..32 {
        assert_eq!(
            values[j],
            f32::from(raw[2 + j] as i8) * d,
            "token_embd element {j}"
        );
    }
    // Row 1 (<|im_start|>) starts at block 576 / 32 = 18.
    let block = &raw[18 * 34..19 * 34];
    assert_eq!(values[576], f32::from(block[2] as i8) * f16(&block[0..2]));
    let mean_abs = values.iter().map(|v| v.abs() as f64).sum::<f64>() / values.len() as f64;
    eprintln!("token_embd mean |x| = {mean_abs}");
    assert!(
        (1e-3..1.0).contains(&mean_abs),
        "implausible embedding scale {mean_abs}"
    );

    // A Q4_1 weight: first block by hand (nibble * d + m), and all values finite.
    let raw = file.tensor_data(q).unwrap();
    let values = dequantize_to_vec(GgmlType::Q4_1, raw, q.n_elements() as usize).unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    let (d, m) = (f16(&raw[0..2]), f16(&raw[2..4]));
    for j in 0..16 {
        assert_eq!(values[j], f32::from(raw[4 + j] & 15) * d + m);
        assert_eq!(values[j + 16], f32::from(raw[4 + j] >> 4) * d + m);
    }

    // RMS-norm weights are plain f32 and finite.
    let norm = dequantize_to_vec(
        GgmlType::F32,
        file.tensor_data_by_name("output_norm.weight").unwrap(),
        576,
    )
    .unwrap();
    assert!(norm.iter().all(|v| v.is_finite()));
    eprintln!("output_norm first values {:?}", &norm[..4]);
}
