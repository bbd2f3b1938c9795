//! The original 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
//!
//! Shared layout quirk: byte `j` of `qs` holds element `j` in its low nibble and element
//! `j + 16` in its high nibble (not two adjacent elements), so the two halves of a block
//! dequantize from the same bytes.

use super::f16_at;

/// f16 d, 16 bytes of nibbles; value = (q - 8) * d.
pub(super) fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..16 {
        let q = b[2 + j];
        y[j] = (i32::from(q & 0x0F) - 8) as f32 * d;
        y[j + 16] = (i32::from(q >> 4) - 8) as f32 * d;
    }
}

/// f16 d, f16 m, 16 bytes of nibbles; value = q * d + m.
pub(super) fn q4_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for j in 0..16 {
        let q = b[4 + j];
        y[j] = f32::from(q & 0x0F) * d + m;
        y[j + 16] = f32::from(q >> 4) * d + m;
    }
}

/// The fifth bit of element `j` is bit `j` of the little-endian u32 `qh`.
#[inline]
fn fifth_bit(qh: u32, j: usize) -> u8 {
    (((qh >> j) & 1) as u8) << 4
}

/// f16 d, u32 qh, 16 bytes of nibbles; value = (q5 - 16) * d.
pub(super) fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let q = b[6 + j];
        let lo = (q & 0x0F) | fifth_bit(qh, j);
        let hi = (q >> 4) | fifth_bit(qh, j + 16);
        y[j] = (i32::from(lo) - 16) as f32 * d;
        y[j + 16] = (i32::from(hi) - 16) as f32 * d;
    }
}

/// f16 d, f16 m, u32 qh, 16 bytes of nibbles; value = q5 * d + m.
pub(super) fn q5_1(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for j in 0..16 {
        let q = b[8 + j];
        let lo = (q & 0x0F) | fifth_bit(qh, j);
        let hi = (q >> 4) | fifth_bit(qh, j + 16);
        y[j] = f32::from(lo) * d + m;
        y[j + 16] = f32::from(hi) * d + m;
    }
}

/// f16 d, 32 signed bytes; value = q * d.
pub(super) fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        y[j] = f32::from(b[2 + j] as i8) * d;
    }
}
