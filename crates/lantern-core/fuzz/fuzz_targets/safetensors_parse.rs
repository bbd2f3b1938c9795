//! safetensors: the streaming header parse, the whole-file open, views and f32 conversion must
//! never panic; and the reader must accept exactly the files the reference `safetensors` crate
//! accepts, reading the same tensors, except where it is deliberately stricter (see below).
#![no_main]

use std::collections::BTreeMap;

use lantern_core::safetensors::{Parsed, SafetensorsError, SafetensorsFile, SafetensorsHeader};
use libfuzzer_sys::fuzz_target;

/// Convert only tensors this small, so one input cannot take seconds.
const MAX_CONVERT_ELEMENTS: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let cut = data
        .first()
        .map_or(0, |&b| data.len() * usize::from(b) / 255);
    let _ = SafetensorsHeader::parse(&data[..cut]);

    let ours = SafetensorsFile::open(data);
    let reference = safetensors::SafeTensors::deserialize(data);
    match (&ours, &reference) {
        (Ok(file), Ok(reference)) => {
            check_file(data, file);
            let ours: BTreeMap<&str, (String, Vec<u64>, &[u8])> = file
                .views()
                .map(|v| v.expect("validated"))
                .map(|v| {
                    (
                        v.name(),
                        (v.dtype().to_string(), v.shape().to_vec(), v.data()),
                    )
                })
                .collect();
            let theirs: BTreeMap<&str, (String, Vec<u64>, &[u8])> = reference
                .iter()
                .map(|(name, v)| {
                    let shape = v.shape().iter().map(|&d| d as u64).collect();
                    (name, (v.dtype().to_string(), shape, v.data()))
                })
                .collect();
            assert_eq!(ours, theirs);
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("accepted a file the reference rejects ({e})"),
        // Stricter than the reference on purpose: the format requires the JSON to start with
        // '{', and a repeated name is ambiguous (the reference's map keeps the last one).
        (
            Err(SafetensorsError::NotAnObject { .. } | SafetensorsError::DuplicateTensor(_)),
            Ok(_),
        ) => {}
        (Err(e), Ok(_)) => panic!("rejected a file the reference accepts: {e}"),
    }
});

fn check_file(data: &[u8], file: &SafetensorsFile) {
    let header = file.header();
    assert_eq!(header.required_file_size(), data.len() as u64);
    match SafetensorsHeader::parse(&data[..header.header_len() as usize]) {
        Ok(Parsed::Complete(h)) => assert_eq!(h.tensors(), header.tensors()),
        other => panic!("header prefix of an open file: {other:?}"),
    }
    for view in file.views() {
        let view = view.expect("ranges were validated");
        if view.dtype().ggml_type().is_some() && view.n_elements() <= MAX_CONVERT_ELEMENTS {
            let values = view
                .to_f32_vec()
                .expect("a validated float tensor converts");
            assert_eq!(values.len() as u64, view.n_elements());
        }
    }
}
