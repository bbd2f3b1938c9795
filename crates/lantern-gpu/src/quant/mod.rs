//! Quantized weights on the GPU: the formats the kernels read, the word-aligned layout blocks are
//! repacked into at upload, and [`QuantMatrix`], a weight matrix in exactly-sized buffers.
//!
//! Decode is memory-bandwidth bound, so weights stay quantized in GPU memory and the kernels
//! (`kernels/quant_*.wgsl`) dequantize them in registers; nothing is ever expanded to f32 in memory.
//!
//! # Layout
//!
//! WGSL storage buffers hold 32-bit words only (no `u8`/`u16`), but GGUF blocks of several formats
//! are not multiples of 4 bytes, so a block would straddle words differently depending on its
//! index. Weights are therefore repacked at upload, a row at a time. All fields keep their GGUF
//! byte order; bytes are little-endian within a word, as WebGPU reads them.
//!
//! **The 32-value quantized formats (Q8_0, Q4_0, Q4_1, Q5_0) are stored in planes per row**: the
//! quants of all the row's blocks, then (Q5_0) their high bits, then their scales, then zero
//! padding to a multiple of 16 bytes. Every block's quants thus start on a 16-byte boundary, so a
//! kernel loads a 4-bit block's 16 bytes of quants (a Q8_0 block's 32) with one (two) `vec4<u32>`
//! loads. On CPU adapters each load is a loop over the SIMD lanes with a bounds check per value,
//! and loading a Q4_1 block's quants as one 16-byte load instead of four words made lavapipe's
//! decode products up to 1.4× faster (see `kernels/quant_matvec.wgsl`).
//!
//! | format | values per block | GGUF bytes | a row of B blocks on the GPU                                  |
//! |--------|-----------------:|-----------:|---------------------------------------------------------------|
//! | F32    | 32               | 128        | blocks unchanged                                              |
//! | F16    | 32               | 64         | blocks unchanged                                              |
//! | Q8_0   | 32               | 34         | `qs[32]`×B, `d:f16`×B, pad to 16 bytes                        |
//! | Q4_0   | 32               | 18         | `qs[16]`×B, `d:f16`×B, pad to 16 bytes                        |
//! | Q4_1   | 32               | 20         | `qs[16]`×B, (`d:f16 m:f16`)×B, pad to 16 bytes                |
//! | Q5_0   | 32               | 22         | `qs[16]`×B, `qh:u32`×B, `d:f16`×B, pad to 16 bytes            |
//! | Q4_K   | 256              | 144        | blocks unchanged: `d dmin scales[12] qs[128]`                 |
//! | Q6_K   | 256              | 210        | blocks of 224 bytes: `ql[128] qh[64] scales[16] d:f16 pad[14]`              |
//!
//! F32 and F16 have no blocks in GGUF; they are grouped by 32 values here so that every format
//! presents the kernels with the same unit of work: 32 consecutive values of a row (a whole block
//! of the 32-value formats, one of the eight sub-blocks of a K-quant super-block). Rows therefore
//! need a multiple of 32 columns (256 for the K-quants), which every GGUF weight matrix has.
//!
//! Every row is padded to a multiple of 16 bytes, so that a row starts a texel when the matrix
//! lives in a texture ([`WeightStorage`]); F32, F16 and Q4_K rows already are.
//!
//! A planar row is its GGUF bytes plus fewer than 16 bytes of padding; a Q6_K block gains 14, so
//! that every block starts a `vec4<u32>` (decode loads a block's words 16 bytes at a time, and
//! each quad once for the sub-blocks that share it: `kernels/quant_matvec.wgsl`). The
//! two target models' weights take 1.018× their GGUF tensor bytes (SmolLM2-135M: Q4_1, with Q8_0
//! embeddings; its 576-value rows gain 8 bytes of 360) and 1.014× (Gemma 3 270M: Q5_0, Q8_0, Q4_K,
//! Q6_K; 1.012× with Q6_K blocks of 212 bytes), within the 1.1× budget (block after block, as
//! before the planes: 1.018× and 1.059×). A model quantized to Q6_K throughout takes 1.067×.
//!
//! Rows are repacked one at a time, so a tensor can be repacked as it downloads: see
//! [`Repacker`] and [`MatrixWriter`].

mod matrix;
mod repack;

pub use matrix::{
    FLUSH_BYTES, MatrixWriter, QuantMatrix, WEIGHT_TEXTURE_WIDTH, WeightPart, WeightStorage,
};
pub use repack::{Repacker, repack};

use std::fmt;

use crate::kernel::Specialization;

/// A quantized kernel's source: `kernels/quant_blocks.wgsl` (the block decoders), then the other
/// preludes named after `after`, then `kernels/NAME.wgsl`, as one
/// [`KernelSource`](crate::kernel::KernelSource) named NAME.
macro_rules! quant_kernel_source {
    ($name:literal $(after $($prelude:literal),+)?) => {
        $crate::kernel_source!($name after "quant_blocks" $($(, $prelude)+)?)
    };
}
pub(crate) use quant_kernel_source;

/// A weight storage format the quantized kernels read. Names follow ggml (`Q4_K`, not `Q4K`).
///
/// lantern-gpu does not depend on lantern-core: mapping a GGUF tensor's `GgmlType` to a
/// `WeightFormat` is the model loader's job.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q4_K,
    Q6_K,
}

/// Values per unit of kernel work: every format decodes 32 consecutive values of a row at a time.
pub const UNIT_LEN: usize = 32;

impl WeightFormat {
    pub const ALL: [WeightFormat; 8] = [
        WeightFormat::F32,
        WeightFormat::F16,
        WeightFormat::Q8_0,
        WeightFormat::Q4_0,
        WeightFormat::Q4_1,
        WeightFormat::Q5_0,
        WeightFormat::Q4_K,
        WeightFormat::Q6_K,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "F32",
            WeightFormat::F16 => "F16",
            WeightFormat::Q8_0 => "Q8_0",
            WeightFormat::Q4_0 => "Q4_0",
            WeightFormat::Q4_1 => "Q4_1",
            WeightFormat::Q5_0 => "Q5_0",
            WeightFormat::Q4_K => "Q4_K",
            WeightFormat::Q6_K => "Q6_K",
        }
    }

    /// Values per block (F32 and F16 are grouped by 32, see the module docs). Rows must hold a
    /// whole number of blocks.
    pub const fn block_len(self) -> usize {
        match self {
            WeightFormat::Q4_K | WeightFormat::Q6_K => 256,
            _ => 32,
        }
    }

    /// Bytes of one block as GGUF stores it.
    pub const fn gguf_block_bytes(self) -> usize {
        match self {
            WeightFormat::F32 => 128,
            WeightFormat::F16 => 64,
            WeightFormat::Q8_0 => 34,
            WeightFormat::Q4_0 => 18,
            WeightFormat::Q4_1 => 20,
            WeightFormat::Q5_0 => 22,
            WeightFormat::Q4_K => 144,
            WeightFormat::Q6_K => 210,
        }
    }

    /// Whether rows are stored in planes (quants, high bits, scales; module docs) rather than
    /// block after block.
    pub const fn planar(self) -> bool {
        matches!(
            self,
            WeightFormat::Q8_0 | WeightFormat::Q4_0 | WeightFormat::Q4_1 | WeightFormat::Q5_0
        )
    }

    /// Bytes one block takes in a repacked row, besides the row's padding: its GGUF bytes,
    /// spread over the planes in a planar row; a whole number of words in a blocked one.
    pub const fn block_bytes(self) -> usize {
        match self {
            WeightFormat::Q6_K => 224,
            other => other.gguf_block_bytes(),
        }
    }

    /// The `FMT_*` constant `kernels/quant_blocks.wgsl` selects this format's decoder by.
    pub(crate) const fn kernel_id(self) -> u32 {
        match self {
            WeightFormat::F32 => 0,
            WeightFormat::F16 => 1,
            WeightFormat::Q8_0 => 2,
            WeightFormat::Q4_0 => 3,
            WeightFormat::Q4_1 => 4,
            WeightFormat::Q5_0 => 5,
            WeightFormat::Q4_K => 6,
            WeightFormat::Q6_K => 7,
        }
    }

    /// The constants that select this format's decoder in `kernels/quant_blocks.wgsl`.
    pub(crate) fn specialization(self) -> Specialization {
        Specialization::new()
            .u32("FORMAT", self.kernel_id())
            // Planar formats address their planes instead (quant_blocks.wgsl, `row_words`).
            .u32("BLOCK_WORDS", (self.block_bytes() / 4) as u32)
            .u32("UNITS_PER_BLOCK", (self.block_len() / UNIT_LEN) as u32)
    }

    /// GGUF bytes of a `rows`×`cols` matrix, or `None` when a row is not a whole number of
    /// blocks or the size overflows.
    pub fn gguf_bytes(self, rows: usize, cols: usize) -> Option<u64> {
        self.row_bytes(cols, self.gguf_block_bytes())?
            .checked_mul(rows as u64)
    }

    /// Repacked (GPU) bytes of a `rows`×`cols` matrix; `None` as for [`Self::gguf_bytes`].
    pub fn repacked_bytes(self, rows: usize, cols: usize) -> Option<u64> {
        self.repacked_row_bytes(cols)?.checked_mul(rows as u64)
    }

    /// Repacked bytes of one row of `cols` values: a multiple of 16 (so that every planar row's
    /// quants start 16-byte aligned, and every row starts a texel of a weight texture).
    pub fn repacked_row_bytes(self, cols: usize) -> Option<u64> {
        let bytes = self.row_bytes(cols, self.block_bytes())?;
        Some(bytes.next_multiple_of(ROW_ALIGN))
    }

    fn row_bytes(self, cols: usize, block_bytes: usize) -> Option<u64> {
        cols.is_multiple_of(self.block_len())
            .then(|| (cols / self.block_len()) as u64 * block_bytes as u64)
    }
}

/// Rows are padded to this many bytes: a `vec4<u32>`, the widest load WGSL has, and a texel of
/// a weight texture (only Q6_K's and planar rows need padding).
const ROW_ALIGN: u64 = 16;

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repacked_rows_are_aligned_and_barely_larger() {
        for format in WeightFormat::ALL {
            assert_eq!(format.block_len() % UNIT_LEN, 0, "{format}");
            for blocks in [1, 2, 3, 18, 20, 48, 64] {
                let cols = blocks * format.block_len();
                let gguf = format.gguf_bytes(1, cols).unwrap();
                let gpu = format.repacked_row_bytes(cols).unwrap();
                assert_eq!(gpu % 16, 0, "{format} × {blocks}");
                // A planar row is padded once; a blocked format's blocks each start a quad.
                let slack = if format.planar() {
                    16
                } else {
                    assert_eq!(format.block_bytes() % 16, 0, "{format}");
                    16 * blocks as u64
                };
                assert!(
                    gpu >= gguf && gpu - gguf < slack,
                    "{format}: {gguf} -> {gpu}"
                );
            }
        }
    }

    /// The kernels name formats by the `FMT_*` constants of quant_blocks.wgsl; keep both in step.
    #[test]
    fn kernel_ids_match_the_wgsl_constants() {
        let wgsl = include_str!("../kernels/quant_blocks.wgsl");
        for format in WeightFormat::ALL {
            let line = format!(
                "const FMT_{}: u32 = {}u;",
                format.name(),
                format.kernel_id()
            );
            assert!(wgsl.contains(&line), "quant_blocks.wgsl lacks `{line}`");
        }
    }

    #[test]
    fn sizes_need_whole_blocks() {
        assert_eq!(WeightFormat::Q8_0.gguf_bytes(3, 64), Some(3 * 2 * 34));
        // Two Q8_0 blocks: 64 bytes of quants, 4 of scales, 12 of padding.
        assert_eq!(WeightFormat::Q8_0.repacked_bytes(3, 64), Some(3 * 80));
        // A Q6_K block of 210 bytes, padded to 224.
        assert_eq!(WeightFormat::Q6_K.repacked_bytes(2, 256), Some(2 * 224));
        assert_eq!(WeightFormat::Q4_K.gguf_bytes(1, 128), None);
        assert_eq!(WeightFormat::F16.repacked_bytes(2, 32), Some(128));
        assert_eq!(WeightFormat::F32.gguf_bytes(usize::MAX, 32), None);
    }
}
