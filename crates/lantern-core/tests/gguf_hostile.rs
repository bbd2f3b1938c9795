//! Malformed and hostile GGUF inputs: every one must give an error (or, for a short prefix,
//! a request for more bytes) whose message names the problem; none may panic.

mod common;
// Runs natively and in headless Chromium (see common/mod.rs).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::{Prng, Raw, sample_file};
use lantern_core::GgmlType;
use lantern_core::gguf::{GgufFile, GgufHeader, GgufWriter, MetadataValue, Parsed, RawTensor};
use lantern_core::quant;

/// Opens `bytes` and asserts the error message contains `needle`.
#[track_caller]
fn assert_open_err(bytes: &[u8], needle: &str) {
    match GgufFile::open(bytes) {
        Ok(_) => panic!("expected an error containing {needle:?}, but the file opened"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error {:?} does not contain {needle:?}",
            e.to_string()
        ),
    }
}

/// A one-tensor file built through the writer, with raw control over the tensor fields.
fn one_tensor(shape: &[u64], type_id: u32, data_len: usize, offset: Option<u64>) -> Vec<u8> {
    let mut w = GgufWriter::new(3);
    w.add_raw_tensor(RawTensor {
        name: "x".into(),
        shape: shape.to_vec(),
        type_id,
        data: vec![0; data_len],
        offset,
    });
    w.to_bytes()
}

#[test]
fn every_header_prefix_needs_more_bytes_and_never_opens() {
    let bytes = sample_file(3);
    let header_len = GgufFile::open(&bytes).unwrap().header().header_len() as usize;
    for len in 0..header_len {
        let prefix = &bytes[..len];
        match GgufHeader::parse(prefix) {
            Ok(Parsed::NeedMoreBytes { at_least }) => {
                assert!(
                    at_least > len as u64 && at_least <= header_len as u64,
                    "len {len}: at_least {at_least}"
                );
            }
            other => panic!("prefix of {len} bytes: expected NeedMoreBytes, got {other:?}"),
        }
        let err = GgufFile::open(prefix).unwrap_err().to_string();
        assert!(
            err.contains("but the file has") || err.contains("remain in the file"),
            "len {len}: {err}"
        );
    }
    // Past the header, what is missing is tensor data.
    for len in header_len..bytes.len() {
        let err = GgufFile::open(&bytes[..len]).unwrap_err().to_string();
        assert!(err.contains("data ends at byte"), "len {len}: {err}");
    }
}

#[test]
fn wrong_magic_is_rejected_even_from_a_short_prefix() {
    let mut bytes = sample_file(3);
    bytes[..4].copy_from_slice(b"GGML");
    assert_open_err(&bytes, "not a GGUF file");
    let err = GgufHeader::parse(b"GX").unwrap_err().to_string();
    assert!(err.contains("not a GGUF file"), "{err}");
    assert_open_err(b"", "magic ends at byte 4 but the file has 0 bytes");
}

#[test]
fn unsupported_versions_are_rejected() {
    assert_open_err(&Raw::gguf(1, 0, 0).0, "GGUF version 1 is not supported");
    assert_open_err(&Raw::gguf(99, 0, 0).0, "unsupported GGUF version 99");
    assert_open_err(&Raw::gguf(0, 0, 0).0, "unsupported GGUF version 0");
    assert_open_err(&Raw::gguf(3u32.swap_bytes(), 0, 0).0, "big-endian");
}

#[test]
fn absurd_tensor_count_is_rejected_before_allocating() {
    assert_open_err(
        &Raw::gguf(3, u64::MAX, 0).0,
        "header field 'tensor_count': count 18446744073709551615 is absurd",
    );
    assert_open_err(
        &Raw::gguf(3, 1 << 40, 0).0,
        "header field 'tensor_count': count 1099511627776 is too large",
    );
    // With unknown file size, a non-overflowing absurd count is a (huge) request for bytes.
    let err = GgufHeader::parse(&Raw::gguf(3, u64::MAX, 0).0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is absurd"), "{err}");
    match GgufHeader::parse(&Raw::gguf(3, 1 << 40, 0).0).unwrap() {
        Parsed::NeedMoreBytes { at_least } => assert!(at_least > 24 << 40),
        Parsed::Complete(_) => panic!("cannot be complete"),
    }
}

#[test]
fn absurd_kv_count_is_rejected() {
    assert_open_err(
        &Raw::gguf(3, 0, u64::MAX).0,
        "header field 'metadata_kv_count': count 18446744073709551615 is absurd",
    );
    assert_open_err(
        &Raw::gguf(3, 0, 1 << 40).0,
        "header field 'metadata_kv_count': count 1099511627776 is too large",
    );
}

#[test]
fn absurd_array_count_is_rejected() {
    for (elem_type, count, needle) in [
        (
            0u32,
            u64::MAX,
            "metadata key 'arr': array of 18446744073709551615 UINT8: count 18446744073709551615 is absurd",
        ),
        (
            8,
            1 << 40,
            "metadata key 'arr': array of 1099511627776 STRING: count 1099511627776 is too large",
        ),
        (
            9,
            1 << 62,
            "array of 4611686018427387904 ARRAY: count 4611686018427387904 is absurd",
        ),
    ] {
        let mut r = Raw::gguf(3, 0, 1);
        r.str("arr").u32(9).u32(elem_type).u64(count).zeros(64);
        assert_open_err(&r.0, needle);
    }
}

#[test]
fn absurd_string_lengths_are_rejected() {
    let mut r = Raw::gguf(3, 0, 1);
    r.str("s").u32(8).u64(1 << 40).zeros(16);
    assert_open_err(
        &r.0,
        "metadata key 's': string of 1099511627776 bytes ends at byte",
    );
    let mut r = Raw::gguf(3, 0, 1);
    r.str("s").u32(8).u64(u64::MAX).zeros(16);
    assert_open_err(
        &r.0,
        "metadata key 's': string of 18446744073709551615 bytes: size arithmetic overflows",
    );
    let mut r = Raw::gguf(3, 0, 1);
    r.u64(u64::MAX - 1).zeros(16);
    assert_open_err(
        &r.0,
        "metadata entry #0 key: string of 18446744073709551614 bytes",
    );
    let mut w = GgufWriter::new(3);
    w.add_raw_tensor(RawTensor {
        name: "t".into(),
        shape: vec![1],
        type_id: 0,
        data: vec![0; 4],
        offset: None,
    });
    let mut bytes = w.to_bytes();
    bytes[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert_open_err(
        &bytes,
        "tensor info #0 name: string of 1099511627776 bytes ends at byte",
    );
}

#[test]
fn too_many_dimensions() {
    assert_open_err(
        &one_tensor(&[1, 1, 1, 1, 1], 0, 4, None),
        "tensor 'x': 5 dimensions, at most 4 are supported",
    );
    let mut r = Raw::gguf(3, 1, 0);
    r.str("y").u32(u32::MAX).zeros(64);
    assert_open_err(&r.0, "tensor 'y': 4294967295 dimensions");
}

#[test]
fn overflowing_shapes() {
    assert_open_err(
        &one_tensor(&[1 << 32, 1 << 32, 2], 0, 0, None),
        "overflows 64 bits when computing its element count",
    );
    assert_open_err(
        &one_tensor(&[1 << 62], 0, 0, None),
        "overflows 64 bits when computing its byte size",
    );
    assert_open_err(
        &one_tensor(&[32, (1 << 59) - 1], GgmlType::Q8_0.id(), 0, None),
        "computing its byte size",
    );
    // Fits in u64 but not in the file.
    assert_open_err(
        &one_tensor(&[1 << 20, 1 << 20], 0, 4, None),
        "tensor 'x': data ends at byte",
    );
}

#[test]
fn unknown_tensor_type_names_tensor_and_id() {
    assert_open_err(
        &one_tensor(&[32], 4, 32, None),
        "tensor 'x': unknown ggml type id 4",
    );
    assert_open_err(
        &one_tensor(&[32], 1000, 32, None),
        "tensor 'x': unknown ggml type id 1000",
    );
}

#[test]
fn innermost_dimension_must_be_a_block_multiple() {
    assert_open_err(
        &one_tensor(&[48, 2], GgmlType::Q8_0.id(), 200, None),
        "tensor 'x': innermost dimension 48 is not a multiple of the Q8_0 block size 32",
    );
    assert_open_err(
        &one_tensor(&[], GgmlType::Q4_K.id(), 0, None),
        "not a multiple of the Q4_K block size 256",
    );
}

#[test]
fn offset_past_end_of_file() {
    let bytes = one_tensor(&[8], 0, 32, Some(4096));
    let header = match GgufHeader::parse(&bytes).unwrap() {
        Parsed::Complete(h) => h,
        Parsed::NeedMoreBytes { .. } => panic!("whole file given"),
    };
    let msg = format!(
        "tensor 'x': data ends at byte {} but the file has {} bytes",
        header.data_offset() + 4096 + 32,
        bytes.len()
    );
    assert_open_err(&bytes, &msg);
    assert_eq!(
        header
            .validate_file_size(bytes.len() as u64)
            .unwrap_err()
            .to_string(),
        msg
    );
}

#[test]
fn misaligned_offset() {
    assert_open_err(
        &one_tensor(&[8], 0, 32, Some(8)),
        "tensor 'x': offset 8 is not a multiple of the alignment 32",
    );
}

#[test]
fn bad_alignment_values() {
    for (a, needle) in [(0u32, "got 0"), (3, "got 3"), (48, "got 48")] {
        let mut w = GgufWriter::new(3);
        w.add_metadata("general.alignment", MetadataValue::U32(a));
        assert_open_err(
            &w.to_bytes(),
            &format!("general.alignment must be a non-zero power of two, {needle}"),
        );
    }
    let mut w = GgufWriter::new(3);
    w.add_metadata("general.alignment", MetadataValue::U64(32));
    assert_open_err(
        &w.to_bytes(),
        "general.alignment must have type UINT32, got UINT64",
    );
}

#[test]
fn overflowing_offset_plus_size() {
    assert_open_err(
        &one_tensor(&[8], 0, 32, Some(u64::MAX - 31)),
        "tensor 'x': data offset 18446744073709551584 plus size 32 overflows",
    );
}

#[test]
fn malformed_metadata_values() {
    let mut r = Raw::gguf(3, 0, 1);
    r.str("k").u32(13).zeros(8);
    assert_open_err(&r.0, "metadata key 'k': unknown metadata value type 13");
    let mut r = Raw::gguf(3, 0, 1);
    r.str("k").u32(9).u32(77).u64(0);
    assert_open_err(&r.0, "metadata key 'k': unknown metadata value type 77");
    let mut r = Raw::gguf(3, 0, 1);
    r.str("k").u32(7).u8(2);
    assert_open_err(&r.0, "metadata key 'k': bool byte is 2, expected 0 or 1");
    let mut r = Raw::gguf(3, 0, 1);
    r.str("k").u32(9).u32(7).u64(3).u8(1).u8(0).u8(9);
    assert_open_err(&r.0, "metadata key 'k'[2]: bool byte is 9");
    let mut r = Raw::gguf(3, 0, 1);
    r.str("k").u32(8).u64(2).u8(0xC3).u8(0x28);
    assert_open_err(&r.0, "metadata key 'k': string is not valid UTF-8");
    let mut r = Raw::gguf(3, 0, 1);
    r.u64(1).u8(0xFF).u32(0).u8(0);
    assert_open_err(&r.0, "metadata entry #0 key: string is not valid UTF-8");
    let mut r = Raw::gguf(3, 0, 2);
    r.str("k").u32(0).u8(1).str("k").u32(0).u8(2);
    assert_open_err(&r.0, "duplicate metadata key 'k'");
}

#[test]
fn deeply_nested_arrays_are_capped() {
    let build = |levels: usize| {
        let mut r = Raw::gguf(3, 0, 1);
        r.str("deep").u32(9);
        for _ in 1..levels {
            r.u32(9).u64(1); // an array holding one array
        }
        r.u32(0).u64(0); // innermost: empty u8 array
        r.0
    };
    assert!(GgufFile::open(&build(8)).is_ok());
    assert_open_err(
        &build(9),
        "metadata key 'deep'[0][0][0][0][0][0][0][0]: arrays nested more than 8 levels deep",
    );
    // A long chain cannot overflow the stack.
    assert_open_err(&build(100_000), "nested more than 8 levels");
}

#[test]
fn duplicate_tensor_names() {
    let mut w = GgufWriter::new(3);
    w.add_tensor("t", GgmlType::F32, &[1], vec![0; 4]);
    w.add_tensor("t", GgmlType::F32, &[1], vec![0; 4]);
    assert_open_err(&w.to_bytes(), "duplicate tensor name 't'");
}

#[test]
fn random_mutations_never_panic() {
    let original = sample_file(3);
    let header_len = GgufFile::open(&original).unwrap().header().header_len() as usize;
    let mut rng = Prng::new(0x5EED);
    let (mut opened, mut failed) = (0, 0);
    for _ in 0..4000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            // Mostly hit the header, where the parsing happens.
            let pos = if rng.below(8) == 0 {
                rng.below(bytes.len() as u64)
            } else {
                rng.below(header_len as u64)
            } as usize;
            bytes[pos] = match rng.below(4) {
                0 => 0xFF,
                1 => 0,
                2 => bytes[pos] ^ (1 << rng.below(8)),
                _ => rng.byte(),
            };
        }
        if rng.below(10) == 0 {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        }
        let _ = GgufHeader::parse(&bytes[..rng.below(bytes.len() as u64 + 1) as usize]);
        match GgufFile::open(&bytes) {
            Ok(file) => {
                opened += 1;
                for t in file.tensors() {
                    let data = file.tensor_data(t).expect("validated range");
                    if quant::is_supported(t.ggml_type()) {
                        let out =
                            quant::dequantize_to_vec(t.ggml_type(), data, t.n_elements() as usize);
                        assert!(out.is_ok(), "{}: {:?}", t.name(), out.err());
                    }
                }
            }
            Err(e) => {
                failed += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // Both outcomes must actually be exercised for the loop to mean anything.
    assert!(
        opened > 100 && failed > 100,
        "opened {opened}, failed {failed}"
    );
}

#[test]
fn overlapping_tensor_ranges_are_rejected() {
    // F32 tensors `(name, element count, claimed offset)`; `None` lets the writer place it.
    let file = |tensors: &[(&str, u64, Option<u64>)]| {
        let mut w = GgufWriter::new(3);
        for &(name, n, offset) in tensors {
            w.add_raw_tensor(RawTensor {
                name: name.into(),
                shape: vec![n],
                type_id: GgmlType::F32.id(),
                data: vec![0; 4 * n as usize],
                offset,
            });
        }
        w.to_bytes()
    };
    // As laid out by the writer: back to back, fine.
    let ok = file(&[("a", 16, None), ("b", 8, None), ("c", 8, None)]);
    let data_offset = GgufFile::open(&ok).unwrap().header().data_offset();
    let bytes = |rel: u64, len: u64| data_offset + rel..data_offset + rel + len;
    // `c` claims `a`'s bytes: reported in file-position order, whatever the header order.
    assert_open_err(
        &file(&[("a", 16, None), ("b", 8, None), ("c", 8, Some(0))]),
        &format!(
            "tensors 'a' (bytes {:?}) and 'c' (bytes {:?}) overlap",
            bytes(0, 64),
            bytes(0, 32)
        ),
    );
    // A partial overlap: `b` starts in the second half of the 64-byte `a`.
    assert_open_err(
        &file(&[("a", 16, Some(0)), ("b", 8, Some(32)), ("c", 8, Some(96))]),
        &format!(
            "tensors 'a' (bytes {:?}) and 'b' (bytes {:?}) overlap",
            bytes(0, 64),
            bytes(32, 32)
        ),
    );
    // Empty tensors own no bytes, so sharing an offset with one is not an overlap.
    assert!(GgufFile::open(&file(&[("full", 8, Some(0)), ("empty", 0, Some(0))])).is_ok());
}
