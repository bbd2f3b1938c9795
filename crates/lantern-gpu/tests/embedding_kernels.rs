//! The embedding gather against lantern-core's CPU dequantizer (bit-exact with ggml): every
//! format, tables split into several parts, repeated and boundary ids. Each output is one
//! dequantized value times the scale, a single f32 rounding on both sides, so the tolerance is
//! one rounding of the value (|ref| · 2⁻²³), not a matmul's accumulated bound.

use common::random_matrix;
use lantern_gpu::ops::{embedding, upload_ids};
use lantern_gpu::quant::{QuantMatrix, WeightFormat};
use lantern_gpu::reference::embedding::embedding as reference_embedding;
use lantern_gpu::testing::{Rng, compare, test_gpu_with_weight_textures};
use lantern_gpu::{Gpu, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

/// Gathers `ids` from a random `rows`×(`blocks` blocks) table stored in parts of at most
/// `part_rows` rows, and compares with the reference.
async fn check(gpu: &Gpu, format: WeightFormat, rows: usize, blocks: usize, part_rows: usize) {
    let mut rng = Rng::new(rows as u64 * 31 + blocks as u64);
    let cols = blocks * format.block_len();
    let (gguf, table) = random_matrix(format, rows, cols, &mut rng);
    let row_bytes = format.repacked_row_bytes(cols).unwrap();
    let matrix = QuantMatrix::with_part_limit(
        gpu,
        "table",
        format,
        rows,
        cols,
        part_rows as u64 * row_bytes,
    )
    .unwrap();
    {
        let mut writer = matrix.writer(gpu);
        writer.write(&gguf).unwrap();
        writer.finish().unwrap();
    }
    // First and last rows, a repeat, and rows on both sides of every part boundary.
    let mut ids: Vec<u32> = vec![0, (rows - 1) as u32, 0];
    for part in matrix.parts() {
        ids.push(part.first_row() as u32);
        ids.push((part.first_row() + part.rows() - 1) as u32);
    }
    ids.extend((0..5).map(|_| (rng.next_u64() % rows as u64) as u32));
    let scale = 1.7;

    let ids_tensor = upload_ids(gpu, &ids, rows).unwrap();
    let mut batch = gpu.batch("embedding test");
    let out = embedding(&mut batch, &matrix, &ids_tensor, scale).unwrap();
    assert_eq!(out.shape(), &[ids.len(), cols]);
    let got = batch.submit_and_read(&out).await.unwrap();
    let want = reference_embedding(&table, cols, &ids, scale);
    let cmp = compare(&got, &want, |_, r| r.abs() * f32::EPSILON + 1e-30);
    assert!(
        cmp.passed,
        "{format} {rows}x{cols} in {} parts: {cmp:?}",
        matrix.parts().len()
    );
}

gpu_test!(embedding_matches_reference_for_every_format, |gpu| {
    for format in WeightFormat::ALL {
        // One part; three uneven parts; one row per part.
        check(&gpu, format, 37, 3, 37).await;
        check(&gpu, format, 37, 2, 13).await;
        check(&gpu, format, 5, 1, 1).await;
    }
});

// The other storage than the adapter's (see quant_weights.rs): textures on SwiftShader and GPUs,
// storage buffers on lavapipe.
gpu_test!(embedding_from_the_other_storage_matches_reference, |gpu| {
    let other = test_gpu_with_weight_textures(!gpu.weights_in_textures()).await;
    for format in WeightFormat::ALL {
        check(&other, format, 37, 2, 13).await;
    }
});

gpu_test!(embedding_rejects_ids_outside_the_vocabulary, |gpu| {
    let Err(err) = upload_ids(&gpu, &[3, 10], 10) else {
        panic!("id 10 of a 10-token vocabulary was accepted");
    };
    assert!(err.to_string().contains("token id 10"), "{err}");
});
