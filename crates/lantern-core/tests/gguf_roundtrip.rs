//! Files written by the fixture writer read back exactly; accessors and streaming behave.

mod common;
// Runs natively and in headless Chromium (see common/mod.rs).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::{Prng, all_metadata, sample_file, sample_writer};
use lantern_core::GgmlType;
use lantern_core::gguf::{
    GgufError, GgufFile, GgufHeader, GgufWriter, MetadataArray, MetadataValue, Parsed,
};

fn roundtrip(version: u32) {
    let bytes = sample_file(version);
    let file = GgufFile::open(&bytes).expect("valid file opens");
    assert_eq!(file.header().version(), version);
    assert_eq!(file.header().alignment(), 32);
    let md = file.metadata();
    assert_eq!(md.len(), all_metadata().len() + 1);
    // Every value, in order, exactly as written (no NaNs in the sample, so == is exact).
    let read: Vec<(String, MetadataValue)> = md
        .iter()
        .skip(1)
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    assert_eq!(read, all_metadata());
    assert_eq!(md.get_str("general.architecture").unwrap(), "llama");
    // Floats compared bitwise too: -0.0 must stay -0.0.
    match md.get("a.f32") {
        Some(MetadataValue::Array(MetadataArray::F32(v))) => {
            assert_eq!(v[1].to_bits(), (-0.0f32).to_bits())
        }
        other => panic!("a.f32 read back as {other:?}"),
    }
}

#[test]
fn roundtrip_v2_all_metadata_types() {
    roundtrip(2);
}

#[test]
fn roundtrip_v3_all_metadata_types() {
    roundtrip(3);
}

#[test]
fn tensors_listed_in_file_order_with_shapes_types_and_ranges() {
    let bytes = sample_file(3);
    let file = GgufFile::open(&bytes).unwrap();
    let h = file.header();
    assert_eq!(h.data_offset() % 32, 0);
    assert!(h.data_offset() >= h.header_len() && h.data_offset() - h.header_len() < 32);
    let listing: Vec<(&str, GgmlType, Vec<u64>, u64, u64)> = file
        .tensors()
        .iter()
        .map(|t| {
            (
                t.name(),
                t.ggml_type(),
                t.shape().to_vec(),
                t.n_elements(),
                t.n_bytes(),
            )
        })
        .collect();
    assert_eq!(
        listing,
        vec![
            ("norm.weight", GgmlType::F32, vec![24], 24, 96),
            ("embd.weight", GgmlType::Q8_0, vec![64, 3], 192, 204),
            ("blk.0.q.weight", GgmlType::Q4_1, vec![32, 2, 2], 128, 80),
            ("blk.0.k.weight", GgmlType::Q4_K, vec![256, 2], 512, 288),
            ("scalar", GgmlType::F16, vec![], 1, 2),
        ]
    );
    // Writer places tensors back to back, each aligned: 0, 96, 224 (204 rounded), 320, 608.
    let rel: Vec<u64> = file.tensors().iter().map(|t| t.relative_offset()).collect();
    assert_eq!(rel, vec![0, 96, 320, 416, 704]);
    for t in file.tensors() {
        let r = t.byte_range();
        assert_eq!(r.start, h.data_offset() + t.relative_offset());
        assert_eq!(r.end - r.start, t.n_bytes());
    }
    assert_eq!(h.required_file_size(), bytes.len() as u64);
    assert_eq!(file.tensor("embd.weight").unwrap().row_bytes(), 68);
}

#[test]
fn tensor_data_is_a_zero_copy_view_of_the_right_bytes() {
    let bytes = sample_file(3);
    let file = GgufFile::open(&bytes).unwrap();
    let norm = file.tensor_data_by_name("norm.weight").unwrap();
    // Points into the caller's buffer (no copy) ...
    let start = file.tensor("norm.weight").unwrap().byte_range().start as usize;
    assert_eq!(norm.as_ptr(), bytes[start..].as_ptr());
    // ... and holds what the writer put there.
    let first = f32::from_le_bytes(norm[0..4].try_into().unwrap());
    let last = f32::from_le_bytes(norm[92..96].try_into().unwrap());
    assert_eq!((first, last), (-3.0, 8.5));
    assert_eq!(file.tensor_data_by_name("scalar").unwrap(), &[0x00, 0x3C]);
    let err = file.tensor_data_by_name("nope").unwrap_err();
    assert_eq!(err, GgufError::TensorNotFound("nope".into()));
}

#[test]
fn custom_alignment_is_honoured() {
    let mut w = GgufWriter::new(3);
    w.add_metadata("general.alignment", MetadataValue::U32(256));
    w.add_tensor("a", GgmlType::F32, &[3], vec![1; 12]);
    w.add_tensor("b", GgmlType::I8, &[5], vec![2; 5]);
    let bytes = w.to_bytes();
    let file = GgufFile::open(&bytes).unwrap();
    assert_eq!(file.header().alignment(), 256);
    assert_eq!(file.header().data_offset(), 256);
    assert_eq!(file.tensor("b").unwrap().relative_offset(), 256);
    assert_eq!(file.tensor_data_by_name("b").unwrap(), &[2; 5]);
}

#[test]
fn file_with_no_tensors_and_no_metadata() {
    let bytes = GgufWriter::new(2).to_bytes();
    let file = GgufFile::open(&bytes).unwrap();
    assert!(file.tensors().is_empty());
    assert!(file.metadata().is_empty());
    assert_eq!(file.header().header_len(), 24);
}

#[test]
fn typed_accessors_convert_and_report_problems() {
    let bytes = sample_file(3);
    let file = GgufFile::open(&bytes).unwrap();
    let md = file.metadata();
    // Integers of any type are accepted when the value fits.
    assert_eq!(md.get_u32("t.u8").unwrap(), 200);
    assert_eq!(md.get_u32("t.u16").unwrap(), 60_000);
    assert_eq!(md.get_u32("t.u32").unwrap(), 4_000_000_000);
    assert_eq!(md.get_u64("t.u64").unwrap(), u64::MAX - 7);
    assert_eq!(md.get_i64("t.i8").unwrap(), -100);
    let err = md.get_u32("t.i8").unwrap_err().to_string();
    assert!(err.contains("value -100 does not fit in u32"), "{err}");
    let err = md.get_u32("t.u64").unwrap_err().to_string();
    assert!(err.contains("does not fit in u32"), "{err}");
    let err = md.get_u32("t.string").unwrap_err().to_string();
    assert!(
        err.contains("'t.string' has type STRING, expected an integer type"),
        "{err}"
    );
    let err = md.get_str("missing.key").unwrap_err().to_string();
    assert_eq!(err, "metadata key 'missing.key' is missing");

    assert_eq!(md.get_f32("t.f32").unwrap(), -1.25e-5);
    assert_eq!(md.get_f32("t.f64").unwrap(), std::f64::consts::PI as f32);
    assert!(md.get_bool("t.bool_true").unwrap());
    assert!(!md.get_bool("t.bool_false").unwrap());
    let err = md.get_bool("t.u8").unwrap_err().to_string();
    assert!(err.contains("has type UINT8, expected BOOL"), "{err}");

    assert_eq!(md.get_str("t.string").unwrap(), "héllo, wörld ✓");
    assert_eq!(md.get_str_array("a.string").unwrap(), ["a", "", "Ġthe"]);
    assert_eq!(md.get_f32_array("a.f32").unwrap(), [0.5, -0.0, 1e30]);
    assert_eq!(md.get_i32_array("a.i32").unwrap(), [-1, 2, i32::MIN]);
    assert!(md.get_f32_array("a.empty").unwrap().is_empty());
    let err = md.get_str_array("a.i32").unwrap_err().to_string();
    assert!(
        err.contains("has type ARRAY of INT32, expected ARRAY of STRING"),
        "{err}"
    );
    let err = md.get_str("a.nested").unwrap_err().to_string();
    assert!(
        err.contains("has type ARRAY of ARRAY, expected STRING"),
        "{err}"
    );
    let nested = md.get_array("a.nested").unwrap();
    assert_eq!(
        nested.element_type(),
        lantern_core::gguf::MetadataType::Array
    );
    assert_eq!(nested.len(), 4);
}

#[test]
fn streaming_prefix_parse_converges_to_the_full_header() {
    let bytes = sample_file(3);
    let full = GgufFile::open(&bytes).unwrap();
    // Simulate a download arriving in uneven chunks; re-parse whenever we have `at_least`.
    let mut rng = Prng::new(7);
    let mut have = 0usize;
    let mut want = 0u64;
    let mut parses = 0;
    let header = loop {
        have = (have + 1 + rng.below(40) as usize).min(bytes.len());
        if (have as u64) < want {
            continue;
        }
        parses += 1;
        match GgufHeader::parse(&bytes[..have]).unwrap() {
            Parsed::Complete(h) => break h,
            Parsed::NeedMoreBytes { at_least } => {
                assert!(
                    at_least > have as u64,
                    "at_least {at_least} must exceed prefix {have}"
                );
                assert!(at_least >= want, "requests must not go backwards");
                want = at_least;
            }
        }
    };
    assert!(parses > 1);
    assert_eq!(header.tensors(), full.tensors());
    assert_eq!(header.data_offset(), full.header().data_offset());
    // Chunked loading: ranges can be checked from the size alone, then bytes attached.
    header.validate_file_size(bytes.len() as u64).unwrap();
    let err = header
        .validate_file_size(bytes.len() as u64 - 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tensor 'scalar': data ends at byte"), "{err}");
    let file = GgufFile::from_header(*header, &bytes).unwrap();
    assert_eq!(file.tensor_data_by_name("scalar").unwrap(), &[0x00, 0x3C]);
}

#[test]
fn parse_with_file_size_asks_for_bytes_only_within_the_file() {
    let bytes = sample_file(2);
    let n = bytes.len() as u64;
    match GgufHeader::parse_with_file_size(&bytes[..100], n).unwrap() {
        Parsed::NeedMoreBytes { at_least } => assert!(at_least > 100 && at_least <= n),
        Parsed::Complete(_) => panic!("100 bytes cannot hold the header"),
    }
    assert!(matches!(
        GgufHeader::parse_with_file_size(&bytes, n).unwrap(),
        Parsed::Complete(_)
    ));
    let err = GgufHeader::parse_with_file_size(&bytes, n - 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("prefix has"), "{err}");
}

#[test]
fn writer_is_deterministic() {
    assert_eq!(sample_writer(3).to_bytes(), sample_writer(3).to_bytes());
}
