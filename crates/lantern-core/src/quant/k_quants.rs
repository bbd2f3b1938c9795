//! The 256-element "K" super-block formats (Q4_K, Q5_K, Q6_K).
//!
//! A super-block is 8 (Q4_K/Q5_K) or 16 (Q6_K) sub-blocks, each with its own small integer
//! scale, multiplied by a per-super-block f16 scale. That two-level scaling is what lets them
//! spend fewer bits on scales than the 32-element formats.

use super::f16_at;

/// Unpacks the 6-bit scale and min of sub-block `j` (0..8) from Q4_K/Q5_K's 12 scale bytes.
/// Bytes 0..4 hold scales 0..3 in their low 6 bits, bytes 4..8 hold mins 0..3 likewise; bytes
/// 8..12 hold the low 4 bits of scale (low nibble) and min (high nibble) for sub-blocks 4..7,
/// whose top 2 bits sit in the spare high bits of bytes 0..4 (scales) and 4..8 (mins).
#[inline]
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// The (scale, min) pairs of the two sub-blocks in 64-element chunk `c` of a Q4_K/Q5_K
/// super-block, multiplied out as ggml does: `d * scale` and `dmin * min`.
#[inline]
fn chunk_scales(c: usize, d: f32, dmin: f32, scales: &[u8]) -> [(f32, f32); 2] {
    [2 * c, 2 * c + 1].map(|j| {
        let (scale, min) = scale_min_k4(j, scales);
        (d * f32::from(scale), dmin * f32::from(min))
    })
}

/// f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles. Each 64-element chunk reads 32
/// bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
/// value = (d * scale) * q - (dmin * min).
pub(super) fn q4_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for c in 0..4 {
        let [(d1, min1), (d2, min2)] = chunk_scales(c, d, dmin, scales);
        let q = &qs[32 * c..32 * c + 32];
        let out = &mut y[64 * c..64 * c + 64];
        for l in 0..32 {
            out[l] = d1 * f32::from(q[l] & 0x0F) - min1;
            out[l + 32] = d2 * f32::from(q[l] >> 4) - min2;
        }
    }
}

/// Q4_K plus 32 bytes `qh`: the fifth bit of element `l` of sub-block `s` is bit `s` of
/// `qh[l]`. Layout: d, dmin, scales[12], qh[32], qs[128].
pub(super) fn q5_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for c in 0..4 {
        let [(d1, min1), (d2, min2)] = chunk_scales(c, d, dmin, scales);
        let q = &qs[32 * c..32 * c + 32];
        let out = &mut y[64 * c..64 * c + 64];
        for l in 0..32 {
            let hi1 = ((qh[l] >> (2 * c)) & 1) << 4;
            let hi2 = ((qh[l] >> (2 * c + 1)) & 1) << 4;
            out[l] = d1 * f32::from((q[l] & 0x0F) | hi1) - min1;
            out[l + 32] = d2 * f32::from((q[l] >> 4) | hi2) - min2;
        }
    }
}

/// ql[128] (low 4 bits), qh[64] (high 2 bits), 16 i8 scales, then f16 d at the end.
/// Each 128-element half uses 64 `ql` bytes, 32 `qh` bytes and 8 scales; within it, quarter
/// `k` (32 elements) takes nibble `k / 2` of `ql[l + 32 * (k % 2)]`, bits `2k..2k+2` of
/// `qh[l]`, and scale `l / 16 + 2k`. value = (d * scale) * (q6 - 32).
pub(super) fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let out = &mut y[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let h = qh[l];
            let q = [
                (ql[l] & 0x0F) | ((h & 3) << 4),
                (ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4),
                (ql[l] >> 4) | (((h >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((h >> 6) & 3) << 4),
            ];
            for (k, &qk) in q.iter().enumerate() {
                let scale = f32::from(sc[is + 2 * k] as i8);
                out[l + 32 * k] = d * scale * f32::from(qk as i8 - 32);
            }
        }
    }
}
