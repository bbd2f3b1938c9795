//! Streaming a GGUF file into its tensors chunk by chunk: whatever the chunk sizes, every tensor
//! is reassembled byte for byte (compared with the zero-copy views of the whole file), each is
//! reported complete exactly once, and nothing but tensor data is handed out.

mod common;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::{Prng, sample_file};
use lantern_core::gguf::{GgufFile, GgufHeader, Parsed, TensorStream};

/// Feeds `file[start..]` in chunks whose sizes come from `next_size`, and reassembles tensors.
fn reassemble(file: &[u8], start: usize, mut next_size: impl FnMut() -> usize) -> Vec<Vec<u8>> {
    let Parsed::Complete(header) = GgufHeader::parse(file).unwrap() else {
        panic!("incomplete");
    };
    let mut stream = TensorStream::new(&header, start as u64);
    let mut tensors: Vec<Vec<u8>> = header
        .tensors()
        .iter()
        .map(|t| Vec::with_capacity(t.n_bytes() as usize))
        .collect();
    let mut completed = vec![0; tensors.len()];
    let mut at = start;
    while at < file.len() {
        let end = (at + next_size().max(1)).min(file.len());
        for piece in stream.feed(&file[at..end]) {
            let data = &mut tensors[piece.tensor];
            assert_eq!(piece.offset, data.len() as u64, "pieces arrive in order");
            data.extend_from_slice(piece.bytes);
            if piece.completes {
                completed[piece.tensor] += 1;
                assert_eq!(data.len() as u64, header.tensors()[piece.tensor].n_bytes());
            }
        }
        at = end;
        assert_eq!(stream.position(), at as u64);
    }
    assert!(stream.is_complete());
    assert_eq!(stream.remaining(), 0);
    for (i, t) in header.tensors().iter().enumerate() {
        let expected = if t.n_bytes() == 0 { 0 } else { 1 };
        assert_eq!(
            completed[i],
            expected,
            "{} completed {} times",
            t.name(),
            completed[i]
        );
    }
    tensors
}

fn expected_tensors(file: &[u8]) -> Vec<Vec<u8>> {
    let gguf = GgufFile::open(file).unwrap();
    gguf.tensors()
        .iter()
        .map(|t| gguf.tensor_data(t).unwrap().to_vec())
        .collect()
}

#[test]
fn any_chunking_reassembles_every_tensor() {
    let file = sample_file(3);
    let expected = expected_tensors(&file);
    assert!(expected.len() >= 4);
    for size in [1, 3, 7, 32, 100, 4096, file.len()] {
        assert_eq!(reassemble(&file, 0, || size), expected, "chunks of {size}");
    }
    let mut rng = Prng::new(7);
    for _ in 0..20 {
        assert_eq!(reassemble(&file, 0, || rng.below(200) as usize), expected);
    }
}

#[test]
fn streaming_can_start_after_the_header() {
    let file = sample_file(2);
    let Parsed::Complete(header) = GgufHeader::parse(&file).unwrap() else {
        panic!("incomplete");
    };
    // A loader that used the first `header_len` bytes to parse continues from there.
    let start = header.header_len() as usize;
    assert_eq!(reassemble(&file, start, || 64), expected_tensors(&file));
    // The remaining count tells a loader how much more to fetch.
    let stream = TensorStream::new(&header, start as u64);
    assert_eq!(
        stream.remaining(),
        header.required_file_size() - start as u64
    );
}
