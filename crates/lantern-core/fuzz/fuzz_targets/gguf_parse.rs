//! GGUF: the streaming header parse, the whole-file open, tensor views, dequantization and the
//! typed config must never panic, and must agree with each other.
#![no_main]

use lantern_core::config::ModelConfig;
use lantern_core::gguf::{GgufFile, GgufHeader, Parsed};
use lantern_core::quant;
use libfuzzer_sys::fuzz_target;

/// Dequantize only tensors this small, so one input cannot take seconds.
const MAX_DEQUANT_ELEMENTS: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    // A prefix parse of any cut: never panics, whatever the answer.
    let cut = data
        .first()
        .map_or(0, |&b| data.len() * usize::from(b) / 255);
    let _ = GgufHeader::parse(&data[..cut]);

    let Ok(file) = GgufFile::open(data) else {
        return;
    };
    let header = file.header();
    // The header alone parses to the same thing, as a streaming loader would see it.
    let prefix = &data[..header.header_len() as usize];
    match GgufHeader::parse(prefix) {
        Ok(Parsed::Complete(h)) => assert_eq!(h.tensors(), header.tensors()),
        other => panic!("header prefix of an open file: {other:?}"),
    }
    assert!(header.required_file_size() <= data.len() as u64);
    for t in file.tensors() {
        let bytes = file.tensor_data(t).expect("ranges were validated");
        assert_eq!(bytes.len() as u64, t.n_bytes());
        if quant::is_supported(t.ggml_type()) && t.n_elements() <= MAX_DEQUANT_ELEMENTS {
            quant::dequantize_to_vec(t.ggml_type(), bytes, t.n_elements() as usize)
                .expect("a validated tensor dequantizes");
        }
    }
    if let Ok(config) = ModelConfig::from_gguf(header) {
        config.validate().expect("from_gguf validates");
        for layer in 0..config.n_layers.min(64) {
            let _ = (config.is_sliding(layer), config.rope_base(layer));
        }
    }
});
