//! Repacking GGUF rows into the GPU layout of the module docs, from a stream of chunks of any
//! size (a browser download delivers whatever the network hands it).

use super::WeightFormat;
use crate::error::{GpuError, Result};

/// Repacks a tensor's GGUF bytes as they arrive: whole rows come out at once, and at most one
/// partial row is held back until the rest of it arrives.
pub struct Repacker {
    format: WeightFormat,
    /// GGUF bytes of one row.
    row_bytes: usize,
    /// The start of a row whose remaining bytes have not arrived yet; always shorter than a row.
    /// Grows with what arrives (a row's size comes from a file's header, so nothing is reserved
    /// for it up front).
    partial: Vec<u8>,
    rows: u64,
}

impl Repacker {
    /// A repacker for rows of `cols` values; `cols` must be a whole number of blocks.
    pub fn new(format: WeightFormat, cols: usize) -> Result<Self> {
        let row_bytes = format
            .gguf_bytes(1, cols)
            .filter(|&bytes| cols > 0 && usize::try_from(bytes).is_ok())
            .ok_or_else(|| {
                GpuError::Shape(format!(
                    "a {format} row holds whole blocks of {} values, but it has {cols} columns",
                    format.block_len()
                ))
            })?;
        Ok(Repacker {
            format,
            row_bytes: row_bytes as usize,
            partial: Vec::new(),
            rows: 0,
        })
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }

    /// GGUF bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Rows repacked so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes held back: the part of a row received so far.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Appends the repacked form of every row that `chunk` completes to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        let size = self.row_bytes;
        if !self.partial.is_empty() {
            let take = (size - self.partial.len()).min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() < size {
                return;
            }
            repack_row(self.format, &self.partial, out);
            self.partial.clear();
            self.rows += 1;
        }
        let whole = chunk.len() / size;
        for row in chunk.chunks_exact(size) {
            repack_row(self.format, row, out);
        }
        self.rows += whole as u64;
        self.partial.extend_from_slice(&chunk[whole * size..]);
    }

    /// Ends the stream; a row left incomplete is an error (the tensor was truncated).
    pub fn finish(self) -> Result<u64> {
        if self.partial.is_empty() {
            Ok(self.rows)
        } else {
            Err(GpuError::Shape(format!(
                "the {} data ended {} bytes into row {} (a row is {} bytes)",
                self.format,
                self.partial.len(),
                self.rows,
                self.row_bytes
            )))
        }
    }
}

/// Repacks a whole tensor of rows of `cols` values at once.
pub fn repack(format: WeightFormat, cols: usize, gguf: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut repacker = Repacker::new(format, cols)?;
    repacker.push(gguf, &mut out);
    repacker.finish()?;
    Ok(out)
}

/// One row, GGUF bytes in, repacked bytes appended. The layouts are those of the module docs;
/// `kernels/quant_blocks.wgsl` reads exactly these offsets.
fn repack_row(format: WeightFormat, row: &[u8], out: &mut Vec<u8>) {
    let blocks = row.chunks_exact(format.gguf_block_bytes());
    let start = out.len();
    // (quants, high bits, scales) of a planar format's GGUF block, as byte ranges.
    let planes: &[std::ops::Range<usize>] = match format {
        // Already word-aligned throughout.
        WeightFormat::F32 | WeightFormat::F16 | WeightFormat::Q4_K => {
            out.extend_from_slice(row);
            return;
        }
        // ql[128], qh[64], scales[16], d: each block padded to 16 bytes (module docs). No planes.
        WeightFormat::Q6_K => {
            let padding =
                [0; WeightFormat::Q6_K.block_bytes() - WeightFormat::Q6_K.gguf_block_bytes()];
            for block in blocks.clone() {
                out.extend_from_slice(block);
                out.extend_from_slice(&padding);
            }
            &[]
        }
        // d, qs[32]
        WeightFormat::Q8_0 => &[2..34, 0..0, 0..2],
        // d, qs[16]
        WeightFormat::Q4_0 => &[2..18, 0..0, 0..2],
        // d, m, qs[16]
        WeightFormat::Q4_1 => &[4..20, 0..0, 0..4],
        // d, qh[4], qs[16]
        WeightFormat::Q5_0 => &[6..22, 2..6, 0..2],
    };
    for plane in planes {
        for block in blocks.clone() {
            out.extend_from_slice(&block[plane.clone()]);
        }
    }
    let padded = format
        .repacked_row_bytes(row.len() / format.gguf_block_bytes() * format.block_len())
        .expect("a whole row of blocks") as usize;
    out.resize(start + padded, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn q8_0_rows_are_quants_then_scales_then_padding() {
        let row = pattern(2 * 34);
        let out = repack(WeightFormat::Q8_0, 64, &row).unwrap();
        assert_eq!(out.len(), 80);
        assert_eq!(&out[..32], &row[2..34]);
        assert_eq!(&out[32..64], &row[36..68]);
        assert_eq!(&out[64..68], &[row[0], row[1], row[34], row[35]]);
        assert_eq!(&out[68..], &[0; 12]);
    }

    #[test]
    fn q5_0_rows_are_quants_then_high_bits_then_scales() {
        let row = pattern(3 * 22);
        let out = repack(WeightFormat::Q5_0, 96, &row).unwrap();
        assert_eq!(out.len(), 80);
        for b in 0..3 {
            let block = &row[22 * b..22 * (b + 1)];
            assert_eq!(&out[16 * b..16 * (b + 1)], &block[6..22], "quants of {b}");
            assert_eq!(
                &out[48 + 4 * b..52 + 4 * b],
                &block[2..6],
                "high bits of {b}"
            );
            assert_eq!(&out[60 + 2 * b..62 + 2 * b], &block[0..2], "scale of {b}");
        }
        assert_eq!(&out[66..], &[0; 14]);
    }

    #[test]
    fn q4_1_rows_keep_scale_and_offset_together() {
        let row = pattern(2 * 20);
        let out = repack(WeightFormat::Q4_1, 64, &row).unwrap();
        assert_eq!(out.len(), 48);
        assert_eq!(&out[..16], &row[4..20]);
        assert_eq!(&out[16..32], &row[24..40]);
        assert_eq!(&out[32..36], &row[0..4]);
        assert_eq!(&out[36..40], &row[20..24]);
        assert_eq!(&out[40..], &[0; 8]);
    }

    #[test]
    fn any_chunking_gives_the_same_bytes_and_holds_back_less_than_a_row() {
        for format in WeightFormat::ALL {
            let cols = 3 * format.block_len();
            let row_bytes = 3 * format.gguf_block_bytes();
            let gguf = pattern(row_bytes * 5);
            let whole = repack(format, cols, &gguf).unwrap();
            let repacked_row = format.repacked_row_bytes(cols).unwrap() as usize;
            assert_eq!(whole.len(), 5 * repacked_row, "{format}");
            for chunk in [1, 3, 7, 33, 211, 1000] {
                let mut repacker = Repacker::new(format, cols).unwrap();
                let mut out = Vec::new();
                for piece in gguf.chunks(chunk) {
                    repacker.push(piece, &mut out);
                    assert!(repacker.pending() < row_bytes);
                    // Everything received so far is either repacked or pending.
                    let received = repacker.rows() as usize * row_bytes + repacker.pending();
                    assert_eq!(out.len(), repacker.rows() as usize * repacked_row);
                    assert!(received <= gguf.len());
                }
                repacker.push(&[], &mut out);
                assert_eq!(
                    repacker.finish().unwrap(),
                    5,
                    "{format} in chunks of {chunk}"
                );
                assert_eq!(out, whole, "{format} in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn rows_must_be_whole_blocks() {
        for cols in [0, 31, 100] {
            assert!(Repacker::new(WeightFormat::Q4_1, cols).is_err(), "{cols}");
        }
        assert!(Repacker::new(WeightFormat::Q4_K, 32).is_err());
    }

    #[test]
    fn a_truncated_tensor_is_an_error() {
        let err = repack(WeightFormat::Q6_K, 256, &pattern(210 + 17)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("Q6_K") && message.contains("17 bytes"),
            "{message}"
        );
    }
}
