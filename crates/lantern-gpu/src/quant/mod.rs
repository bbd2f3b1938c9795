//! Quantized weights on the GPU: the formats the kernels read, the word-aligned layout blocks are
//! repacked into at upload, and [`QuantMatrix`], a weight matrix in exactly-sized buffers.
//!
//! Decode is memory-bandwidth bound, so weights stay quantized in GPU memory and the kernels
//! (`kernels/quant_*.wgsl`) dequantize them in registers; nothing is ever expanded to f32 in memory.
//!
//! # Layout
//!
//! WGSL storage buffers hold 32-bit words only (no `u8`/`u16`), but GGUF blocks of several formats
//! are not multiples of 4 bytes, so a block would straddle words differently depending on its index.
//! Each block is therefore repacked at upload into a layout whose size is a multiple of 4 bytes:
//! the quants first (so they start on a word), then the scales, then zero padding. All fields keep
//! their GGUF byte order; bytes are little-endian within a word, as WebGPU reads them.
//!
//! | format | values per block | GGUF bytes | repacked bytes (words) | repacked layout                         | ratio |
//! |--------|-----------------:|-----------:|-----------------------:|-----------------------------------------|------:|
//! | F32    | 32               | 128        | 128 (32)               | unchanged                               | 1     |
//! | F16    | 32               | 64         | 64 (16)                | unchanged                               | 1     |
//! | Q8_0   | 32               | 34         | 36 (9)                 | `qs[32] d:f16 pad[2]`                   | 1.059 |
//! | Q4_0   | 32               | 18         | 20 (5)                 | `qs[16] d:f16 pad[2]`                   | 1.111 |
//! | Q4_1   | 32               | 20         | 20 (5)                 | unchanged: `d:f16 m:f16 qs[16]`         | 1     |
//! | Q5_0   | 32               | 22         | 24 (6)                 | `qs[16] qh:u32 d:f16 pad[2]`            | 1.091 |
//! | Q4_K   | 256              | 144        | 144 (36)               | unchanged: `d dmin scales[12] qs[128]`  | 1     |
//! | Q6_K   | 256              | 210        | 212 (53)               | `ql[128] qh[64] scales[16] d:f16 pad[2]` (GGUF order plus padding) | 1.010 |
//!
//! F32 and F16 have no blocks in GGUF; they are grouped by 32 values here so that every format
//! presents the kernels with the same unit of work: 32 consecutive values of a row (a whole block
//! of the 32-value formats, one of the eight sub-blocks of a K-quant super-block). Rows therefore
//! need a multiple of 32 columns (256 for the K-quants), which every GGUF weight matrix has.
//!
//! The padding costs at most 11% (Q4_0) and nothing for Q4_1 and Q4_K. All tensors of the two target
//! models take 1.018× their GGUF bytes (SmolLM2-135M Q4_1, Q8_0 embedding) and 1.059× (Gemma 3
//! 270M: Q5_0, Q8_0, Q4_K, Q6_K), within the 1.1× budget. Pairing blocks (two 18-byte Q4_0 blocks
//! fill 9 words exactly) would remove the padding at the cost of blocks that no longer start on a
//! word; no target model needs it.
//!
//! Blocks are repacked one at a time, so a tensor can be repacked as it downloads: see
//! [`Repacker`] and [`MatrixWriter`].

mod matrix;
mod repack;

pub use matrix::{FLUSH_BYTES, MatrixWriter, QuantMatrix, WeightPart};
pub use repack::{Repacker, repack};

use std::fmt;

use crate::kernel::Specialization;

/// A quantized kernel's source: `kernels/quant_blocks.wgsl` (the block decoders) followed by
/// `kernels/NAME.wgsl`, as one [`KernelSource`](crate::kernel::KernelSource) named NAME.
macro_rules! quant_kernel_source {
    ($name:literal) => {
        $crate::kernel_source!($name after "quant_blocks")
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

    /// Bytes of one block after repacking: a multiple of 4.
    pub const fn block_bytes(self) -> usize {
        match self {
            WeightFormat::Q8_0 => 36,
            WeightFormat::Q4_0 => 20,
            WeightFormat::Q5_0 => 24,
            WeightFormat::Q6_K => 212,
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
        self.row_bytes(cols, self.block_bytes())?
            .checked_mul(rows as u64)
    }

    fn row_bytes(self, cols: usize, block_bytes: usize) -> Option<u64> {
        cols.is_multiple_of(self.block_len())
            .then(|| (cols / self.block_len()) as u64 * block_bytes as u64)
    }
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repacked_blocks_are_word_aligned_and_at_most_one_word_more() {
        for format in WeightFormat::ALL {
            let (gguf, gpu) = (format.gguf_block_bytes(), format.block_bytes());
            assert_eq!(gpu % 4, 0, "{format}");
            assert!(gpu >= gguf && gpu - gguf < 4, "{format}: {gguf} -> {gpu}");
            assert_eq!(format.block_len() % UNIT_LEN, 0, "{format}");
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
        assert_eq!(WeightFormat::Q8_0.repacked_bytes(3, 64), Some(3 * 2 * 36));
        assert_eq!(WeightFormat::Q4_K.gguf_bytes(1, 128), None);
        assert_eq!(WeightFormat::F16.repacked_bytes(2, 32), Some(128));
        assert_eq!(WeightFormat::F32.gguf_bytes(usize::MAX, 32), None);
    }
}
