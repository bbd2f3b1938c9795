//! Checks against the real all-MiniLM-L6-v2 `model.safetensors` (F32 weights plus one I64
//! buffer). The file must be present (`python3 models/fetch.py all-minilm-l6-v2`); a missing
//! model fails loudly rather than skipping.

// Reads the models folder: native only.
#![cfg(not(target_arch = "wasm32"))]

use lantern_core::safetensors::{Dtype, Parsed, SafetensorsFile, SafetensorsHeader};

#[test]
fn minilm_safetensors_known_facts() {
    let path = lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME) so the test can find models/")
        .join("all-minilm-l6-v2/model.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); fetch it with `python3 models/fetch.py all-minilm-l6-v2`",
            path.display()
        )
    });
    let file = SafetensorsFile::open(&bytes).expect("real model opens");
    let header = file.header();
    assert_eq!(header.header_len(), 11_416);
    assert_eq!(header.metadata()["format"], "pt");
    assert_eq!(file.tensors().len(), 104);
    let f32_count = file
        .tensors()
        .iter()
        .filter(|t| t.dtype() == Dtype::F32)
        .count();
    assert_eq!(f32_count, 103);
    let parameters: u64 = file.tensors().iter().map(|t| t.n_elements()).sum();
    assert_eq!(parameters, 22_713_728);
    // Data order: position_ids is first, the pooler's weight last and ending the file.
    assert_eq!(file.tensors()[0].name(), "embeddings.position_ids");
    let last = file.tensors().last().unwrap();
    assert_eq!(last.name(), "pooler.dense.weight");
    assert_eq!(last.byte_range().end, bytes.len() as u64);

    // The header alone (as a browser would fetch it first) describes the same tensors.
    match SafetensorsHeader::parse_with_file_size(&bytes[..11_416], bytes.len() as u64) {
        Ok(Parsed::Complete(h)) => assert_eq!(h.tensors(), file.tensors()),
        other => panic!("header prefix: {other:?}"),
    }

    let embeddings = file.tensor("embeddings.word_embeddings.weight").unwrap();
    assert_eq!(embeddings.shape(), [30522, 384]);
    assert_eq!(embeddings.info().data_offsets(), 796_672..47_678_464);
    let values = embeddings.to_f32_vec().unwrap();
    // Read independently with Python's struct module from the same file (as f32 bits:
    // -0.019989014, -0.00340271, -0.014678955).
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&values[..3]), [0xbca3c000, 0xbb5f0000, 0xbc708000]);
    assert!(values.iter().all(|v| v.is_finite()));
    let mean_abs = values.iter().map(|v| v.abs() as f64).sum::<f64>() / values.len() as f64;
    assert!(
        (1e-3..1.0).contains(&mean_abs),
        "implausible embedding scale {mean_abs}"
    );
    let bias = file
        .tensor("encoder.layer.5.output.LayerNorm.bias")
        .unwrap();
    // -0.036307398, 0.06616555.
    assert_eq!(
        bits(&bias.to_f32_vec().unwrap()[..2]),
        [0xbd14b711, 0x3d8781ce]
    );

    // The I64 buffer is listed with its bytes, but is not a float tensor.
    let ids = file.tensor("embeddings.position_ids").unwrap();
    assert_eq!((ids.dtype(), ids.shape()), (Dtype::I64, &[1u64, 512][..]));
    let first: Vec<i64> = ids.data()[..32]
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(first, [0, 1, 2, 3]);
    assert!(
        ids.to_f32_vec()
            .unwrap_err()
            .to_string()
            .contains("has dtype I64")
    );
}
