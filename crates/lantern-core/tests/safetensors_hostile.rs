//! safetensors: a valid hand-made file read back exactly, then malformed and hostile inputs,
//! each of which must give an error (or, for a short prefix, a request for more bytes) whose
//! message names the problem; none may panic.

mod common;
// Runs natively and in headless Chromium (see common/mod.rs).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::Prng;
use lantern_core::safetensors::{
    Dtype, MAX_HEADER_LEN, Parsed, SafetensorsError, SafetensorsFile, SafetensorsHeader,
};

/// A file from a raw JSON header and `data_len` data bytes (0, 1, 2, … mod 251).
fn raw(json: &str, data_len: usize) -> Vec<u8> {
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    out.extend((0..data_len).map(|i| (i % 251) as u8));
    out
}

/// A valid file: tensors back to back in the order given, as the reference writer lays them out.
fn build(tensors: &[(&str, &str, &[u64], Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![r#""__metadata__":{"format":"pt"}"#.to_owned()];
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let begin = data.len();
        data.extend_from_slice(bytes);
        entries.push(format!(
            r#""{name}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{begin},{}]}}"#,
            data.len()
        ));
    }
    let json = format!("{{{}}}", entries.join(","));
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn le<const N: usize, T>(values: &[T], to: impl Fn(&T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(to).collect()
}

/// One of every kind this reader treats differently: f32, f16, bf16, an integer type it can
/// list but not convert, and an empty tensor.
fn sample() -> Vec<u8> {
    let f32s = [1.5f32, -0.0, f32::MAX, 1e-40];
    // The largest f16 and the smallest normal one (2^-14).
    let f16s = [1.0f32, -2.5, 65504.0, 6.1035156e-5];
    let bf16s = [1.0f32, -3.0, 1.0e38, 0.15625];
    build(&[
        ("w.f32", "F32", &[2, 2], le(&f32s, |x| x.to_le_bytes())),
        (
            "w.f16",
            "F16",
            &[4],
            le(&f16s, |&x| half::f16::from_f32(x).to_le_bytes()),
        ),
        (
            "w.bf16",
            "BF16",
            &[1, 4],
            le(&bf16s, |&x| half::bf16::from_f32(x).to_le_bytes()),
        ),
        (
            "ids",
            "I64",
            &[3],
            le(&[7i64, -1, 1 << 40], |x| x.to_le_bytes()),
        ),
        ("empty", "F32", &[0, 5], vec![]),
        ("scalar", "F32", &[], 2.0f32.to_le_bytes().to_vec()),
    ])
}

#[track_caller]
fn assert_open_err(bytes: &[u8], needle: &str) {
    match SafetensorsFile::open(bytes) {
        Ok(_) => panic!("expected an error containing {needle:?}, but the file opened"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error {:?} does not contain {needle:?}",
            e.to_string()
        ),
    }
}

#[test]
fn a_valid_file_reads_back_exactly_and_without_copies() {
    let bytes = sample();
    let file = SafetensorsFile::open(&bytes).unwrap();
    let names: Vec<_> = file.tensors().iter().map(|t| t.name()).collect();
    // Data order; the empty tensor sits at the offset where it was written.
    assert_eq!(
        names,
        ["w.f32", "w.f16", "w.bf16", "ids", "empty", "scalar"]
    );
    assert_eq!(file.header().metadata()["format"], "pt");
    assert_eq!(
        file.header().required_file_size(),
        bytes.len() as u64,
        "the tensors tile the file"
    );

    let t = file.tensor("w.f32").unwrap();
    assert_eq!(
        (t.dtype(), t.shape(), t.n_elements()),
        (Dtype::F32, &[2u64, 2][..], 4)
    );
    assert_eq!(t.to_f32_vec().unwrap(), [1.5, -0.0, f32::MAX, 1e-40]);
    // Zero-copy: the view's bytes are the file's bytes at the absolute range.
    let range = t.info().byte_range();
    assert!(std::ptr::eq(
        t.data(),
        &bytes[range.start as usize..range.end as usize]
    ));
    assert_eq!(range.start, file.header().data_offset());

    let f16 = file.tensor("w.f16").unwrap().to_f32_vec().unwrap();
    assert_eq!(f16, [1.0, -2.5, 65504.0, 6.1035156e-5]);
    let bf16 = file.tensor("w.bf16").unwrap().to_f32_vec().unwrap();
    assert_eq!(
        bf16,
        [1.0, -3.0, half::bf16::from_f32(1.0e38).to_f32(), 0.15625]
    );
    assert_eq!(file.tensor("scalar").unwrap().to_f32_vec().unwrap(), [2.0]);
    assert!(
        file.tensor("empty")
            .unwrap()
            .to_f32_vec()
            .unwrap()
            .is_empty()
    );

    // Integers are listed and their bytes available, but they are not floats.
    let ids = file.tensor("ids").unwrap();
    assert_eq!(ids.dtype(), Dtype::I64);
    assert_eq!(&ids.data()[8..16], (-1i64).to_le_bytes());
    assert_eq!(
        ids.to_f32_vec().unwrap_err().to_string(),
        "tensor 'ids' has dtype I64; only F32, F16 and BF16 convert to f32"
    );
    let mut out = [0.0; 3];
    assert!(matches!(
        file.tensor("w.f32").unwrap().read_f32_into(&mut out),
        Err(SafetensorsError::Convert { .. })
    ));
    assert_eq!(
        file.tensor("nope").unwrap_err().to_string(),
        "no tensor named 'nope'"
    );
    assert_eq!(file.views().count(), 6);
}

#[test]
fn header_first_then_data_like_a_streaming_loader() {
    let bytes = sample();
    let header_len = SafetensorsFile::open(&bytes).unwrap().header().header_len() as usize;
    for len in 0..header_len {
        match SafetensorsHeader::parse(&bytes[..len]).unwrap() {
            Parsed::NeedMoreBytes { at_least } => {
                let expected = if len < 8 { 8 } else { header_len as u64 };
                assert_eq!(at_least, expected, "prefix of {len} bytes");
            }
            Parsed::Complete(_) => panic!("prefix of {len} bytes cannot be complete"),
        }
        // With the real size known, a short prefix is still just a request for more.
        assert!(matches!(
            SafetensorsHeader::parse_with_file_size(&bytes[..len], bytes.len() as u64),
            Ok(Parsed::NeedMoreBytes { .. })
        ));
        let err = SafetensorsFile::open(&bytes[..len])
            .unwrap_err()
            .to_string();
        assert!(err.contains("but the file has"), "len {len}: {err}");
    }
    // The header alone is enough to plan the download, then the data is attached.
    let header = match SafetensorsHeader::parse(&bytes[..header_len]).unwrap() {
        Parsed::Complete(h) => *h,
        Parsed::NeedMoreBytes { .. } => panic!("the whole header was given"),
    };
    assert_eq!(header.required_file_size(), bytes.len() as u64);
    assert_eq!(
        header.tensor("w.bf16").unwrap().byte_range().end,
        header_len as u64 + 32
    );
    let file = SafetensorsFile::from_header(header.clone(), &bytes).unwrap();
    assert_eq!(file.tensor("scalar").unwrap().to_f32_vec().unwrap(), [2.0]);
    // Past the header, what is missing is tensor data, named by tensor.
    for len in header_len..bytes.len() {
        let err = SafetensorsFile::open(&bytes[..len])
            .unwrap_err()
            .to_string();
        assert!(err.contains("data ends at byte"), "len {len}: {err}");
        assert!(SafetensorsFile::from_header(header.clone(), &bytes[..len]).is_err());
    }
}

#[test]
fn absurd_header_lengths_are_rejected_before_reading() {
    let mut bytes = sample();
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_open_err(
        &bytes,
        "header length 18446744073709551615 exceeds the 100000000-byte limit",
    );
    let err = SafetensorsHeader::parse(&(MAX_HEADER_LEN + 1).to_le_bytes()).unwrap_err();
    assert!(
        matches!(err, SafetensorsError::HeaderTooLarge { .. }),
        "{err}"
    );
    // Under the cap, but past the end of a file of known size: an error, not a request.
    let mut short = 1000u64.to_le_bytes().to_vec();
    short.extend_from_slice(b"{}");
    assert_open_err(&short, "header ends at byte 1008 but the file has 10 bytes");
    // Without a file size the same prefix asks for the whole header.
    assert!(matches!(
        SafetensorsHeader::parse(&short),
        Ok(Parsed::NeedMoreBytes { at_least: 1008 })
    ));
    assert_open_err(b"", "header length ends at byte 8 but the file has 0 bytes");
    // A GGUF file is not mistaken for one: its magic and version make an absurd length.
    assert_open_err(
        b"GGUF\x03\x00\x00\x00rest",
        "exceeds the 100000000-byte limit",
    );
}

#[test]
fn malformed_header_text() {
    let mut bytes = raw(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        4,
    );
    bytes[10] = 0xFF;
    assert_open_err(
        &bytes,
        "header is not valid UTF-8 (first bad byte at header byte 2)",
    );
    assert_open_err(
        &raw(r#"["a"]"#, 0),
        "does not start with '{' (it starts with byte 0x5b)",
    );
    assert_open_err(&raw(" {}", 0), "does not start with '{'");
    assert_open_err(&raw("", 0), "the header is empty");
    assert_open_err(
        &raw("{", 0),
        "header is not valid safetensors JSON: EOF while parsing",
    );
    assert_open_err(&raw("{} {}", 0), "trailing characters");
    // Trailing spaces are how writers pad the header to 8 bytes.
    assert!(SafetensorsFile::open(&raw("{}      ", 0)).is_ok());
    // A null `__metadata__` means none, as in the reference reader.
    let null = raw(r#"{"__metadata__":null}"#, 0);
    assert!(
        SafetensorsFile::open(&null)
            .unwrap()
            .header()
            .metadata()
            .is_empty()
    );
}

#[test]
fn malformed_entries_name_the_entry() {
    for (json, needle) in [
        (
            r#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#,
            "entry 'a': missing field `dtype`",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            "entry 'a': invalid value: integer `-1`",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            "entry 'a': invalid type: floating point `1.5`",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
            "entry 'a': trailing",
        ),
        (r#"{"a":7}"#, "entry 'a': invalid type: integer `7`"),
        (
            r#"{"__metadata__":{"format":1}}"#,
            "entry '__metadata__': invalid type: integer `1`, expected a string",
        ),
        (
            r#"{"__metadata__":{},"__metadata__":{}}"#,
            "entry '__metadata__': duplicate key",
        ),
        (
            r#"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#,
            "tensor 'a': unknown dtype 'F33'",
        ),
    ] {
        assert_open_err(&raw(json, 4), needle);
    }
}

/// `{"name": {dtype, shape, data_offsets}}` entries for hand-made layouts.
fn entries(list: &[(&str, &str, &[u64], [u64; 2])]) -> String {
    let body: Vec<String> = list
        .iter()
        .map(|(name, dtype, shape, [b, e])| {
            format!(r#""{name}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{b},{e}]}}"#)
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

#[test]
fn shape_and_offsets_must_agree() {
    assert_open_err(
        &raw(&entries(&[("a", "F32", &[2, 3], [0, 20])]), 20),
        "tensor 'a': shape [2, 3] of F32 needs 24 bytes but data_offsets span 20",
    );
    assert_open_err(
        &raw(&entries(&[("a", "F32", &[1], [8, 4])]), 8),
        "tensor 'a': data_offsets [8, 4] end before they begin",
    );
    assert_open_err(
        &raw(&entries(&[("a", "F32", &[1 << 32, 1 << 32], [0, 4])]), 4),
        "tensor 'a': shape [4294967296, 4294967296] of F32 overflows 64 bits",
    );
    // The element count fits but its bits do not.
    assert_open_err(
        &raw(&entries(&[("a", "F64", &[1 << 61], [0, 8])]), 8),
        "overflows 64 bits",
    );
    assert_open_err(
        &raw(&entries(&[("a", "F4", &[3], [0, 2])]), 2),
        "tensor 'a': 3 F4 elements do not fill a whole number of bytes",
    );
    // Sub-byte types that do fill whole bytes are fine.
    let file = raw(
        &entries(&[("a", "F4", &[4], [0, 2]), ("b", "F6_E2M3", &[4], [2, 5])]),
        5,
    );
    let file = SafetensorsFile::open(&file).unwrap();
    assert_eq!(file.tensor("b").unwrap().data().len(), 3);
    assert!(
        file.tensor("a")
            .unwrap()
            .to_f32_vec()
            .unwrap_err()
            .to_string()
            .contains("has dtype F4")
    );
}

#[test]
fn the_data_section_must_be_tiled_exactly() {
    assert_open_err(
        &raw(
            &entries(&[("a", "F32", &[4], [0, 16]), ("b", "F32", &[2], [8, 16])]),
            16,
        ),
        "tensors 'a' (data bytes 0..16) and 'b' (data bytes 8..16) overlap",
    );
    // Reported in data order whatever the header order.
    assert_open_err(
        &raw(
            &entries(&[("late", "U8", &[4], [0, 4]), ("early", "U8", &[4], [0, 4])]),
            4,
        ),
        "tensors 'late' (data bytes 0..4) and 'early' (data bytes 0..4) overlap",
    );
    assert_open_err(
        &raw(
            &entries(&[("a", "U8", &[4], [0, 4]), ("b", "U8", &[4], [8, 12])]),
            12,
        ),
        "tensor 'b' starts at data byte 8 but the bytes before it end at 4",
    );
    assert_open_err(
        &raw(&entries(&[("a", "U8", &[4], [4, 8])]), 8),
        "tensor 'a' starts at data byte 4 but the bytes before it end at 0",
    );
    assert_open_err(
        &raw(&entries(&[("a", "U8", &[4], [0, 4])]), 5),
        "the tensors end at byte",
    );
    assert_open_err(
        &raw(
            &entries(&[("a", "U8", &[4], [0, 4]), ("a", "U8", &[4], [4, 8])]),
            8,
        ),
        "duplicate tensor name 'a'",
    );
    // Offsets past the end of the file name the tensor.
    let json = entries(&[("a", "U8", &[4], [0, 4]), ("far", "U8", &[8], [4, 12])]);
    let bytes = raw(&json, 6);
    let header_len = 8 + json.len() as u64;
    assert_open_err(
        &bytes,
        &format!(
            "tensor 'far': data ends at byte {} but the file has {} bytes",
            header_len + 12,
            header_len + 6
        ),
    );
    // Offsets near u64::MAX: caught before any addition can overflow.
    assert_open_err(
        &raw(&entries(&[("a", "U8", &[4], [u64::MAX - 4, u64::MAX])]), 4),
        "tensor 'a' starts at data byte 18446744073709551611",
    );
    assert_open_err(
        &raw(&entries(&[("a", "U8", &[u64::MAX], [0, u64::MAX])]), 4),
        "tensor 'a': shape [18446744073709551615] of U8 overflows 64 bits",
    );
    // Sixteen contiguous tensors whose sizes each fit (in bits, too) but whose sum ends 6
    // bytes short of 2^64, so the data section cannot start after any header.
    let chunk = 1u64 << 60;
    let sizes: Vec<[u64; 1]> = (0..16)
        .map(|i| [if i < 15 { chunk } else { chunk - 6 }])
        .collect();
    let names: Vec<String> = (0..16).map(|i| format!("t{i}")).collect();
    let huge: Vec<(&str, &str, &[u64], [u64; 2])> = (0..16)
        .map(|i| {
            let begin = i as u64 * chunk;
            (
                names[i].as_str(),
                "U8",
                &sizes[i][..],
                [begin, begin + sizes[i][0]],
            )
        })
        .collect();
    assert_open_err(
        &raw(&entries(&huge), 4),
        "data section end overflows 64 bits",
    );
    let json = entries(&[("a", "U8", &[1 << 60], [0, 1 << 60])]);
    assert_open_err(
        &raw(&json, 4),
        &format!(
            "tensor 'a': data ends at byte {} but the file has",
            8 + json.len() as u64 + (1 << 60)
        ),
    );
    // Empty tensors own no bytes: they may share an offset with anything.
    let ok = raw(
        &entries(&[
            ("e1", "F32", &[0], [0, 0]),
            ("a", "U8", &[4], [0, 4]),
            ("e2", "F32", &[3, 0], [4, 4]),
            ("e3", "BF16", &[0], [4, 4]),
        ]),
        4,
    );
    assert_eq!(SafetensorsFile::open(&ok).unwrap().tensors().len(), 4);
}

#[test]
fn random_mutations_never_panic() {
    let original = sample();
    let header_len = SafetensorsFile::open(&original)
        .unwrap()
        .header()
        .header_len();
    let mut rng = Prng::new(0x5AFE);
    let (mut opened, mut failed) = (0, 0);
    for _ in 0..4000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(3) {
            // Mostly hit the JSON, where the parsing happens; the rest hits the data, which
            // must then convert whatever its bits say (NaN, infinities, subnormals).
            let pos = if rng.below(4) == 0 {
                (header_len + rng.below(bytes.len() as u64 - header_len)) as usize
            } else {
                rng.below(header_len) as usize
            };
            bytes[pos] = match rng.below(5) {
                0 => b"0123456789"[rng.below(10) as usize],
                1 => b"{}[],:\" "[rng.below(8) as usize],
                2 => bytes[pos] ^ (1 << rng.below(8)),
                3 => 0xFF,
                _ => rng.byte(),
            };
        }
        if rng.below(10) == 0 {
            bytes.truncate(rng.below(bytes.len() as u64) as usize);
        }
        let _ = SafetensorsHeader::parse(&bytes[..rng.below(bytes.len() as u64 + 1) as usize]);
        match SafetensorsFile::open(&bytes) {
            Ok(file) => {
                opened += 1;
                for view in file.views() {
                    let view = view.expect("validated range");
                    if view.dtype().ggml_type().is_some() {
                        let values = view.to_f32_vec();
                        assert!(values.is_ok(), "{}: {:?}", view.name(), values.err());
                    }
                }
            }
            Err(e) => {
                failed += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // Both outcomes must actually happen for the loop to mean anything.
    assert!(
        opened > 100 && failed > 100,
        "opened {opened}, failed {failed}"
    );
}
