//! Repacking GGUF blocks into the word-aligned layout of the module docs, from a stream of chunks
//! of any size (a browser download delivers whatever the network hands it).

use super::WeightFormat;
use crate::error::{GpuError, Result};

/// Repacks a tensor's GGUF bytes as they arrive: whole blocks come out at once, and at most one
/// partial block is held back until the rest of it arrives.
pub struct Repacker {
    format: WeightFormat,
    /// The start of a block whose remaining bytes have not arrived yet; always shorter than a block.
    partial: Vec<u8>,
    blocks: u64,
}

impl Repacker {
    pub fn new(format: WeightFormat) -> Self {
        Repacker {
            format,
            partial: Vec::with_capacity(format.gguf_block_bytes()),
            blocks: 0,
        }
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }

    /// Blocks repacked so far.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Bytes held back: the part of a block received so far.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Appends the repacked form of every block that `chunk` completes to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        let size = self.format.gguf_block_bytes();
        if !self.partial.is_empty() {
            let take = (size - self.partial.len()).min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() < size {
                return;
            }
            repack_block(self.format, &self.partial, out);
            self.partial.clear();
            self.blocks += 1;
        }
        let whole = chunk.len() / size;
        out.reserve(whole * self.format.block_bytes());
        for block in chunk.chunks_exact(size) {
            repack_block(self.format, block, out);
        }
        self.blocks += whole as u64;
        self.partial.extend_from_slice(&chunk[whole * size..]);
    }

    /// Ends the stream; a block left incomplete is an error (the tensor was truncated).
    pub fn finish(self) -> Result<u64> {
        if self.partial.is_empty() {
            Ok(self.blocks)
        } else {
            Err(GpuError::Shape(format!(
                "the {} data ended {} bytes into block {} (a block is {} bytes)",
                self.format,
                self.partial.len(),
                self.blocks,
                self.format.gguf_block_bytes()
            )))
        }
    }
}

/// Repacks a whole tensor at once.
pub fn repack(format: WeightFormat, gguf: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(gguf.len() / format.gguf_block_bytes() * format.block_bytes());
    let mut repacker = Repacker::new(format);
    repacker.push(gguf, &mut out);
    repacker.finish()?;
    Ok(out)
}

/// One block, GGUF bytes in, repacked bytes appended. The layouts are those of the module docs;
/// `kernels/quant_blocks.wgsl` reads exactly these offsets.
fn repack_block(format: WeightFormat, b: &[u8], out: &mut Vec<u8>) {
    debug_assert_eq!(b.len(), format.gguf_block_bytes());
    match format {
        // Already word-aligned throughout.
        WeightFormat::F32 | WeightFormat::F16 | WeightFormat::Q4_1 | WeightFormat::Q4_K => {
            out.extend_from_slice(b)
        }
        // d, qs[32] -> qs[32], d, pad
        WeightFormat::Q8_0 => {
            out.extend_from_slice(&b[2..34]);
            out.extend_from_slice(&b[0..2]);
            out.extend_from_slice(&[0, 0]);
        }
        // d, qs[16] -> qs[16], d, pad
        WeightFormat::Q4_0 => {
            out.extend_from_slice(&b[2..18]);
            out.extend_from_slice(&b[0..2]);
            out.extend_from_slice(&[0, 0]);
        }
        // d, qh[4], qs[16] -> qs[16], qh[4], d, pad
        WeightFormat::Q5_0 => {
            out.extend_from_slice(&b[6..22]);
            out.extend_from_slice(&b[2..6]);
            out.extend_from_slice(&b[0..2]);
            out.extend_from_slice(&[0, 0]);
        }
        // ql[128], qh[64], scales[16], d: only the final f16 is off a word boundary's end.
        WeightFormat::Q6_K => {
            out.extend_from_slice(b);
            out.extend_from_slice(&[0, 0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn q8_0_moves_the_scale_behind_the_quants() {
        let block = pattern(34);
        let out = repack(WeightFormat::Q8_0, &block).unwrap();
        assert_eq!(&out[..32], &block[2..]);
        assert_eq!(&out[32..], &[block[0], block[1], 0, 0]);
    }

    #[test]
    fn q5_0_puts_quants_then_high_bits_then_scale() {
        let block = pattern(22);
        let out = repack(WeightFormat::Q5_0, &block).unwrap();
        assert_eq!(&out[..16], &block[6..22]);
        assert_eq!(&out[16..20], &block[2..6]);
        assert_eq!(&out[20..], &[block[0], block[1], 0, 0]);
    }

    #[test]
    fn any_chunking_gives_the_same_bytes_and_holds_back_less_than_a_block() {
        for format in WeightFormat::ALL {
            let gguf = pattern(format.gguf_block_bytes() * 5);
            let whole = repack(format, &gguf).unwrap();
            assert_eq!(whole.len(), 5 * format.block_bytes(), "{format}");
            for chunk in [1, 3, 7, 33, 211, 1000] {
                let mut repacker = Repacker::new(format);
                let mut out = Vec::new();
                for piece in gguf.chunks(chunk) {
                    repacker.push(piece, &mut out);
                    assert!(repacker.pending() < format.gguf_block_bytes());
                    // Everything received so far is either repacked or pending.
                    let received =
                        repacker.blocks() as usize * format.gguf_block_bytes() + repacker.pending();
                    assert_eq!(out.len(), repacker.blocks() as usize * format.block_bytes());
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
    fn a_truncated_tensor_is_an_error() {
        let err = repack(WeightFormat::Q6_K, &pattern(210 + 17)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("Q6_K") && message.contains("17 bytes"),
            "{message}"
        );
    }
}
