//! How quantized weights are stored and read, checked through the products against
//! lantern-core's CPU dequantizer and an f64 product, natively (lavapipe here) and in headless
//! Chromium (SwiftShader): textures or storage buffers, word or 16-byte loads, exact repacked
//! sizes, matrices split into parts and streamed in odd chunks, and the errors of bad shapes and
//! streams. Tolerance: see `reference::quant::compare_matmul_wt`.

use common::{
    check_matmul, check_matvec, check_matvec_rows, random_matrix, stream_and_check_matvec,
};
use lantern_gpu::ops::quant_matmul::quant_matmul;
use lantern_gpu::ops::quant_matvec::{MatvecShape, quant_matvec};
use lantern_gpu::quant::{
    FLUSH_BYTES, QuantMatrix, WEIGHT_TEXTURE_WIDTH, WeightFormat, WeightStorage,
};
use lantern_gpu::reference::quant::{compare_matmul_wt, random_blocks};
use lantern_gpu::testing::{Rng, test_gpu_with_weight_textures, test_gpu_with_word_loads};
use lantern_gpu::{GpuError, Precision, gpu_test};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

// The word-load path (`Gpu::wide_loads` false: SwiftShader's) on adapters that would load 16
// bytes at a time, for decode and for several rows of X, in CPU and GPU workgroup shapes. In
// Chromium, whose SwiftShader loads words anyway, this repeats quant_kernels.rs's tests.
gpu_test!(matvec_with_word_loads_matches_reference, |_gpu| {
    let gpu = test_gpu_with_word_loads().await;
    assert!(!gpu.wide_loads());
    check_matvec(&gpu, None, Precision::F32, 31).await;
    check_matvec_rows(&gpu, None, 32).await;
    let shape = MatvecShape {
        threads_per_row: 4,
        rows_per_workgroup: 16,
        rows_per_thread: 2,
        tokens: 3,
    };
    check_matvec_rows(&gpu, Some(shape), 33).await;
});

// Weights in the storage the adapter would not choose (`GpuOptions::weight_textures`): storage
// buffers on lavapipe, textures on SwiftShader and GPUs, so that every adapter checks both ways
// of reading them; in decode, over rows of X (prefill), in the tiled product, and in a matrix
// split into parts of several texture rows each, streamed in chunks that end mid-row.
gpu_test!(weights_in_the_other_storage_match_reference, |gpu| {
    let textures = !gpu.weights_in_textures();
    let other = test_gpu_with_weight_textures(textures).await;
    assert_eq!(other.weights_in_textures(), textures);
    check_matvec(&other, None, Precision::F32, 41).await;
    check_matvec_rows(&other, None, 42).await;
    check_matmul(&other, None, Precision::F32, 43).await;

    let mut rng = Rng::new(44);
    let format = WeightFormat::Q4_1;
    let (rows, cols) = (300, 2048);
    let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
    let row_bytes = format.repacked_row_bytes(cols).unwrap();
    let matrix =
        QuantMatrix::with_part_limit(&other, "W", format, rows, cols, 120 * row_bytes).unwrap();
    let storage = if textures {
        WeightStorage::Texture
    } else {
        WeightStorage::Buffer
    };
    assert_eq!(matrix.storage(), storage);
    assert_eq!(matrix.parts().len(), 3);
    // A part of 100 rows of 1280 bytes is 8000 texels: three texture rows of 2048 and most of a
    // fourth.
    assert!(row_bytes * 100 > 3 * 16 * WEIGHT_TEXTURE_WIDTH as u64);
    let what = format!("{format} in {storage:?} parts");
    stream_and_check_matvec(&other, &matrix, &gguf, 10_000, &w, &mut rng, &what).await;
});

// Weights live in exactly-sized buffers: the repacked size, no pool slack.
gpu_test!(weights_take_their_repacked_size_exactly, |gpu| {
    let mut rng = Rng::new(8);
    let pool_before = gpu.pool().stats();
    for format in WeightFormat::ALL {
        let (rows, cols) = (7, 2 * format.block_len());
        let (gguf, _) = random_matrix(format, rows, cols, &mut rng);
        let matrix = QuantMatrix::upload(&gpu, "W", format, rows, cols, &gguf).unwrap();
        assert_eq!(matrix.gguf_bytes(), gguf.len() as u64);
        assert_eq!(
            matrix.size_bytes(),
            format.repacked_bytes(rows, cols).unwrap(),
            "{format}"
        );
        // Two-block rows are the worst case for the planar formats' padding (Q4_0: 36 bytes
        // padded to 48); a real row of 18 or more blocks gains at most 4%.
        let ratio = matrix.size_bytes() as f64 / gguf.len() as f64;
        assert!(ratio <= 1.34, "{format}: {ratio}");
    }
    assert_eq!(gpu.pool().stats().created, pool_before.created);
});

// A matrix split across several buffers (parts of a few rows, forced by a small part limit) gives
// the same products, and streaming its bytes in odd chunk sizes — blocks split across chunks and
// chunks spanning part boundaries — fills it correctly.
gpu_test!(
    split_matrix_streamed_in_odd_chunks_matches_reference,
    |gpu| {
        let mut rng = Rng::new(9);
        for format in WeightFormat::ALL {
            let (rows, cols) = (23, 2 * format.block_len());
            let row_bytes = format.repacked_row_bytes(cols).unwrap();
            let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
            for (chunk, part_rows) in [(1, 5), (7, 4), (33, 23), (1000, 1), (gguf.len(), 6)] {
                let matrix = QuantMatrix::with_part_limit(
                    &gpu,
                    "W",
                    format,
                    rows,
                    cols,
                    part_rows * row_bytes,
                )
                .unwrap();
                let parts = matrix.parts();
                assert_eq!(parts.len(), rows.div_ceil(part_rows as usize));
                assert!(
                    parts
                        .iter()
                        .all(|p| p.size_bytes() <= part_rows * row_bytes)
                );
                assert_eq!(matrix.size_bytes(), rows as u64 * row_bytes);
                let mut writer = matrix.writer(&gpu);
                for piece in gguf.chunks(chunk) {
                    writer.write(piece).unwrap();
                }
                writer.finish().unwrap();

                let x = rng.vec(cols, -1.0, 1.0);
                let xm = rng.vec(3 * cols, -1.0, 1.0);
                let mut batch = gpu.batch("split");
                let tx = gpu.upload("x", &x, &[1, cols]).unwrap();
                let txm = gpu.upload("X", &xm, &[3, cols]).unwrap();
                let y = quant_matvec(&mut batch, &matrix, &tx, Precision::F32).unwrap();
                assert_eq!(y.shape(), &[1, rows]);
                let ym = quant_matmul(&mut batch, &txm, &matrix, Precision::F32).unwrap();
                assert_eq!(batch.dispatch_count(), 2 * parts.len());
                batch.submit().await.unwrap();
                let what = format!("{format} in {} parts, chunks of {chunk}", parts.len());
                let cmp = compare_matmul_wt(&gpu.read(&y).await.unwrap(), &x, &w, 1, cols, rows);
                assert!(cmp.passed, "matvec, {what}: {cmp:?}");
                let cmp = compare_matmul_wt(&gpu.read(&ym).await.unwrap(), &xm, &w, 3, cols, rows);
                assert!(cmp.passed, "matmul, {what}: {cmp:?}");
            }
        }
    }
);

// A model-sized matrix (the size of Gemma 3's FFN projections), larger than the writer's flush
// interval so the upload submits in between, in the default shapes.
gpu_test!(
    matrix_larger_than_a_flush_interval_matches_reference,
    |gpu| {
        let mut rng = Rng::new(11);
        let format = WeightFormat::Q8_0;
        let (rows, cols) = (4200, 2048);
        let (gguf, w) = random_matrix(format, rows, cols, &mut rng);
        assert!(gguf.len() as u64 > FLUSH_BYTES);
        let matrix = QuantMatrix::new(&gpu, "W", format, rows, cols).unwrap();
        let what = format!("{format} matvec {rows}x{cols}");
        stream_and_check_matvec(&gpu, &matrix, &gguf, 1 << 20, &w, &mut rng, &what).await;
    }
);

gpu_test!(
    bad_shapes_and_streams_are_errors_naming_the_problem,
    |gpu| {
        let format = WeightFormat::Q8_0;
        let message = |e: GpuError| e.to_string();

        // A row that cannot fit one part at all names the limit.
        let row_bytes = format.repacked_row_bytes(64).unwrap();
        let e = QuantMatrix::with_part_limit(&gpu, "blk.0.ffn_up", format, 4, 64, row_bytes - 1)
            .err()
            .expect("a row one byte larger than a part");
        assert!(matches!(e, GpuError::TooLarge { .. }), "{e}");
        assert!(message(e).contains("blk.0.ffn_up: one row of 64 Q8_0 values"));
        let limits = gpu.limits();
        let largest = if gpu.weights_in_textures() {
            u64::from(WEIGHT_TEXTURE_WIDTH) * u64::from(limits.max_texture_dimension_2d) * 16
        } else {
            limits.max_storage_buffer_binding_size
        };
        // A Q8_0 block takes 34 bytes of a row (its GGUF bytes, spread over the row's planes).
        let cols = ((largest / 34 + 1) * 32) as usize;
        let e = QuantMatrix::new(&gpu, "wide", format, 1, cols)
            .err()
            .expect("a row larger than a binding or texture");
        let text = message(e);
        assert!(
            [
                "maxStorageBufferBindingSize",
                "maxBufferSize",
                "maxTextureDimension2D"
            ]
            .iter()
            .any(|limit| text.contains(limit)),
            "{text}"
        );

        // Rows of partial blocks.
        let e = QuantMatrix::new(&gpu, "odd", WeightFormat::Q4_K, 2, 320)
            .err()
            .expect("320 is not a multiple of 256");
        assert!(message(e).contains("320 columns"));

        // Streams that end early or run long.
        let mut rng = Rng::new(10);
        let gguf = random_blocks(format, 4, &mut rng);
        let matrix = QuantMatrix::new(&gpu, "W", format, 2, 64).unwrap();
        let mut writer = matrix.writer(&gpu);
        writer.write(&gguf[..100]).unwrap();
        let text = message(writer.finish().unwrap_err());
        assert!(text.contains("ended 32 bytes into row 1"), "{text}");
        let mut writer = matrix.writer(&gpu);
        writer.write(&gguf[..68]).unwrap();
        let text = message(writer.finish().unwrap_err());
        assert!(text.contains("only 1 of 2 rows"), "{text}");
        let mut writer = matrix.writer(&gpu);
        let mut long = gguf.clone();
        long.extend_from_slice(&gguf[..34]);
        let text = message(writer.write(&long).unwrap_err());
        assert!(text.contains("more data than a 2×64 Q8_0 matrix"), "{text}");

        // Two tensors stacked into one matrix, each through its own rows writer; a writer
        // past its rows, or over rows outside the matrix, is an error.
        let other = random_blocks(format, 6, &mut rng);
        let stacked = QuantMatrix::new(&gpu, "stacked", format, 5, 64).unwrap();
        let mut first = stacked.rows_writer(&gpu, 0..2).unwrap();
        let mut second = stacked.rows_writer(&gpu, 2..5).unwrap();
        second.write(&other).unwrap();
        first.write(&gguf).unwrap();
        first.finish().unwrap();
        second.finish().unwrap();
        let mut whole = gguf.clone();
        whole.extend_from_slice(&other);
        let reference = QuantMatrix::upload(&gpu, "whole", format, 5, 64, &whole).unwrap();
        let x = gpu.upload("x", &[0.25; 64], &[64]).unwrap();
        let mut batch = gpu.batch("stacked");
        let y1 = quant_matvec(&mut batch, &stacked, &x, Precision::F32).unwrap();
        let y2 = quant_matvec(&mut batch, &reference, &x, Precision::F32).unwrap();
        batch.submit().await.unwrap();
        assert_eq!(gpu.read(&y1).await.unwrap(), gpu.read(&y2).await.unwrap());
        let mut writer = stacked.rows_writer(&gpu, 0..2).unwrap();
        let text = message(writer.write(&whole).unwrap_err());
        assert!(text.contains("more data than a 2×64 Q8_0 matrix"), "{text}");
        let text = message(
            stacked
                .rows_writer(&gpu, 4..6)
                .err()
                .expect("rows past the end"),
        );
        assert!(text.contains("rows 4..6 of a matrix of 5 rows"), "{text}");

        // Operands of the wrong length.
        let matrix = QuantMatrix::upload(&gpu, "W", format, 2, 64, &gguf).unwrap();
        let mut batch = gpu.batch("bad shapes");
        let x = gpu.upload("x", &[0.0; 32], &[32]).unwrap();
        let e = quant_matvec(&mut batch, &matrix, &x, Precision::F32)
            .err()
            .expect("32 ≠ 64");
        assert!(matches!(e, GpuError::Shape(_)), "{e}");
        let x = gpu.upload("X", &[0.0; 96], &[3, 32]).unwrap();
        let e = quant_matmul(&mut batch, &x, &matrix, Precision::F32)
            .err()
            .expect("32 ≠ 64");
        assert!(matches!(e, GpuError::Shape(_)), "{e}");
        assert_eq!(batch.dispatch_count(), 0);
        batch.submit().await.unwrap();
    }
);
