//! Rotary position embedding's parameters, and the frequency table its kernel reads: rope runs
//! inside `kernels/attention_inputs.wgsl` (see [`crate::ops::attention_inputs`]), on the way from
//! the projections to attention.

use crate::error::{GpuError, Result};

/// How rope pairs the dimensions it rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RopeStyle {
    /// Adjacent pairs `(x[2i], x[2i+1])` (ggml's normal rope; Llama from GGUF).
    Normal,
    /// The two halves `(x[i], x[i + dims/2])` (GPT-NeoX, Hugging Face's `rotate_half`; Gemma).
    Neox,
}

/// One layer's rope: pair `i` of the first `rotary_dims` dimensions turns by
/// `position * position_scale * base^(-2i / rotary_dims)` radians.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rope {
    pub style: RopeStyle,
    /// Leading dimensions of each head that are rotated: even, at most the head size.
    pub rotary_dims: usize,
    /// Frequency base; Gemma 3 uses 10 000 on sliding-window layers and 1 000 000 on global ones.
    pub base: f32,
    /// Multiplies positions: `1 / factor` for linear rope scaling, else 1.
    pub position_scale: f32,
}

impl Rope {
    pub fn new(style: RopeStyle, rotary_dims: usize, base: f32) -> Self {
        Rope {
            style,
            rotary_dims,
            base,
            position_scale: 1.0,
        }
    }

    /// The kernel's frequency table: for each pair, the turns per position (radians / 2pi)
    /// modulo 1 as a 64-bit binary fraction, split into (low, high) words. Computed in f64, so
    /// the angle at any position is as exact as the f64 frequency it comes from.
    pub(crate) fn turn_table(&self) -> Vec<u32> {
        let half = self.rotary_dims / 2;
        let mut words = Vec::with_capacity(half.next_multiple_of(2) * 2);
        for i in 0..half {
            let radians = f64::from(self.position_scale)
                * f64::from(self.base).powf(-2.0 * i as f64 / self.rotary_dims as f64);
            let turns = (radians / std::f64::consts::TAU).fract();
            // turns < 1, so this is below 2^64; the scaling by a power of two is exact.
            let fixed = (turns * 2f64.powi(64)) as u64;
            words.extend([fixed as u32, (fixed >> 32) as u32]);
        }
        // Whole vec4s: two pairs each.
        words.resize(half.next_multiple_of(2) * 2, 0);
        words
    }

    pub(crate) fn check(&self, head_dim: usize) -> Result<()> {
        if self.rotary_dims == 0
            || !self.rotary_dims.is_multiple_of(2)
            || self.rotary_dims > head_dim
        {
            return Err(GpuError::Shape(format!(
                "rope: {} rotated dimensions must be even, non-zero and at most the head size {head_dim}",
                self.rotary_dims
            )));
        }
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.base) || !positive(self.position_scale) {
            return Err(GpuError::Shape(format!(
                "rope: base {} and position scale {} must be positive numbers",
                self.base, self.position_scale
            )));
        }
        Ok(())
    }
}
