//! Dequantizer tests: blocks are packed by hand here, from the format descriptions, and the
//! expected values are computed from the unpacked choices (d, m, scales, quants) directly, so
//! the tests check the bit layout independently of the implementation.

mod common;
// Runs natively and in headless Chromium (see common/mod.rs).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::{Prng, f16_bits};
use lantern_core::GgmlType;
use lantern_core::quant::{QuantError, dequantize, dequantize_to_vec};

/// Exactly representable f16 scales, including negative and small ones.
const SCALES: [f32; 6] = [0.5, -0.25, 1.5, 0.0078125, 3.0, -2.0];

#[track_caller]
fn check(ty: GgmlType, bytes: &[u8], expected: &[f32]) {
    let got = dequantize_to_vec(ty, bytes, expected.len()).unwrap();
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(
            g.to_bits(),
            e.to_bits(),
            "{ty} element {i}: got {g}, expected {e}"
        );
    }
}

#[test]
fn f32_is_little_endian_passthrough() {
    let vals = [
        1.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        1e-40,
        -123.456,
    ];
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    check(GgmlType::F32, &bytes, &vals);
}

#[test]
fn f16_including_subnormals_and_infinities() {
    let cases: [(u16, f32); 7] = [
        (0x3C00, 1.0),
        (0xC000, -2.0),
        (0x3555, 0.333_251_95),
        (0x0001, 2f32.powi(-24)), // smallest subnormal
        (0x7BFF, 65504.0),        // largest finite
        (0x7C00, f32::INFINITY),
        (0x8000, -0.0),
    ];
    let bytes: Vec<u8> = cases.iter().flat_map(|(b, _)| b.to_le_bytes()).collect();
    let expected: Vec<f32> = cases.iter().map(|c| c.1).collect();
    check(GgmlType::F16, &bytes, &expected);
}

#[test]
fn bf16_is_the_top_half_of_f32() {
    let cases: [(u16, f32); 5] = [
        (0x3F80, 1.0),
        (0xC040, -3.0),
        (0x4049, 3.140625),
        (0x0001, f32::from_bits(0x0001_0000)),
        (0xFF80, f32::NEG_INFINITY),
    ];
    let bytes: Vec<u8> = cases.iter().flat_map(|(b, _)| b.to_le_bytes()).collect();
    let expected: Vec<f32> = cases.iter().map(|c| c.1).collect();
    check(GgmlType::BF16, &bytes, &expected);
}

/// Packs 32 4-bit values: byte j = element j (low nibble) | element j+16 (high nibble).
fn pack_nibbles_32(q: &[u8]) -> Vec<u8> {
    (0..16)
        .map(|j| (q[j] & 15) | ((q[j + 16] & 15) << 4))
        .collect()
}

/// Bit i of the u32 = fifth bit of element i.
fn pack_fifth_bits_32(q: &[u8]) -> [u8; 4] {
    let mut qh = 0u32;
    for (i, &v) in q.iter().enumerate() {
        qh |= u32::from(v >> 4) << i;
    }
    qh.to_le_bytes()
}

#[test]
fn q8_0() {
    let mut rng = Prng::new(1);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for d in SCALES {
        let q: Vec<i8> = (0..32).map(|_| rng.byte() as i8).collect();
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend(q.iter().map(|&v| v as u8));
        expected.extend(q.iter().map(|&v| f32::from(v) * d));
    }
    check(GgmlType::Q8_0, &bytes, &expected);
}

#[test]
fn q4_0() {
    let mut rng = Prng::new(2);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for d in SCALES {
        let q: Vec<u8> = (0..32).map(|_| rng.byte() & 15).collect();
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend(pack_nibbles_32(&q));
        expected.extend(q.iter().map(|&v| (f32::from(v) - 8.0) * d));
    }
    check(GgmlType::Q4_0, &bytes, &expected);
}

#[test]
fn q4_1() {
    let mut rng = Prng::new(3);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for (i, d) in SCALES.into_iter().enumerate() {
        let m = SCALES[(i + 2) % SCALES.len()] * 4.0;
        let q: Vec<u8> = (0..32).map(|_| rng.byte() & 15).collect();
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend_from_slice(&f16_bits(m));
        bytes.extend(pack_nibbles_32(&q));
        expected.extend(q.iter().map(|&v| f32::from(v) * d + m));
    }
    check(GgmlType::Q4_1, &bytes, &expected);
}

#[test]
fn q5_0() {
    let mut rng = Prng::new(4);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for d in SCALES {
        let q: Vec<u8> = (0..32).map(|_| rng.byte() & 31).collect();
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend_from_slice(&pack_fifth_bits_32(&q));
        bytes.extend(pack_nibbles_32(&q));
        expected.extend(q.iter().map(|&v| (f32::from(v) - 16.0) * d));
    }
    check(GgmlType::Q5_0, &bytes, &expected);
}

#[test]
fn q5_1() {
    let mut rng = Prng::new(5);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for (i, d) in SCALES.into_iter().enumerate() {
        let m = -SCALES[(i + 1) % SCALES.len()];
        let q: Vec<u8> = (0..32).map(|_| rng.byte() & 31).collect();
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend_from_slice(&f16_bits(m));
        bytes.extend_from_slice(&pack_fifth_bits_32(&q));
        bytes.extend(pack_nibbles_32(&q));
        expected.extend(q.iter().map(|&v| f32::from(v) * d + m));
    }
    check(GgmlType::Q5_1, &bytes, &expected);
}

/// Packs 8 six-bit scales and mins into Q4_K/Q5_K's 12 bytes: sub-blocks 0..3 whole in the
/// low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 split into a low nibble
/// in bytes 8..11 (scale low, min high) and top 2 bits in the high bits of bytes 0..7.
fn pack_scales_k4(sc: &[u8; 8], mn: &[u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for j in 0..4 {
        s[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        s[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
        s[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
    }
    s
}

/// Chooses 6-bit scales and mins, making sure high values (top bits set) appear in the
/// sub-blocks 4..7 whose bits are split across bytes.
fn k4_scales(rng: &mut Prng) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..8 {
        sc[j] = rng.byte() & 63;
        mn[j] = rng.byte() & 63;
    }
    sc[5] = 63;
    mn[6] = 48;
    (sc, mn)
}

#[test]
fn q4_k() {
    let mut rng = Prng::new(6);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for (d, dmin) in [(0.5f32, 0.25f32), (-0.0078125, 1.5), (3.0, -2.0)] {
        let (sc, mn) = k4_scales(&mut rng);
        let q: Vec<u8> = (0..256).map(|_| rng.byte() & 15).collect();
        // Element e: 64-element chunk c = e / 64; the first 32 of a chunk are low nibbles of
        // qs[32c + l], the next 32 the high nibbles of the same bytes; sub-block = e / 32.
        let mut qs = [0u8; 128];
        for (e, &v) in q.iter().enumerate() {
            let (c, r) = (e / 64, e % 64);
            qs[32 * c + r % 32] |= if r < 32 { v } else { v << 4 };
        }
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend_from_slice(&f16_bits(dmin));
        bytes.extend_from_slice(&pack_scales_k4(&sc, &mn));
        bytes.extend_from_slice(&qs);
        for (e, &v) in q.iter().enumerate() {
            let s = e / 32;
            expected.push(d * f32::from(sc[s]) * f32::from(v) - dmin * f32::from(mn[s]));
        }
    }
    check(GgmlType::Q4_K, &bytes, &expected);
}

#[test]
fn q5_k() {
    let mut rng = Prng::new(7);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for (d, dmin) in [(0.25f32, 0.5f32), (1.5, -0.0078125), (-2.0, 3.0)] {
        let (sc, mn) = k4_scales(&mut rng);
        let q: Vec<u8> = (0..256).map(|_| rng.byte() & 31).collect();
        // Low 4 bits laid out as in Q4_K; the fifth bit of element e goes to bit (e / 32) of
        // qh[e % 32].
        let mut qs = [0u8; 128];
        let mut qh = [0u8; 32];
        for (e, &v) in q.iter().enumerate() {
            let (c, r) = (e / 64, e % 64);
            qs[32 * c + r % 32] |= if r < 32 { v & 15 } else { (v & 15) << 4 };
            qh[e % 32] |= (v >> 4) << (e / 32);
        }
        bytes.extend_from_slice(&f16_bits(d));
        bytes.extend_from_slice(&f16_bits(dmin));
        bytes.extend_from_slice(&pack_scales_k4(&sc, &mn));
        bytes.extend_from_slice(&qh);
        bytes.extend_from_slice(&qs);
        for (e, &v) in q.iter().enumerate() {
            let s = e / 32;
            expected.push(d * f32::from(sc[s]) * f32::from(v) - dmin * f32::from(mn[s]));
        }
    }
    check(GgmlType::Q5_K, &bytes, &expected);
}

#[test]
fn q6_k() {
    let mut rng = Prng::new(8);
    let (mut bytes, mut expected) = (Vec::new(), Vec::new());
    for d in [0.0078125f32, -0.5, 1.5] {
        let q: Vec<u8> = (0..256).map(|_| rng.byte() & 63).collect();
        let mut sc: Vec<i8> = (0..16).map(|_| rng.byte() as i8).collect();
        sc[3] = -128;
        sc[12] = 127;
        // Element e: half n = e / 128; within it quarter k = (e % 128) / 32 and l = e % 32.
        // Low 4 bits: nibble (k / 2) of ql[64n + 32(k % 2) + l]. High 2 bits: bits 2k..2k+2 of
        // qh[32n + l]. Scale: sc[8n + 2k + l / 16].
        let mut ql = [0u8; 128];
        let mut qh = [0u8; 64];
        for (e, &v) in q.iter().enumerate() {
            let (n, k, l) = (e / 128, (e % 128) / 32, e % 32);
            let low = v & 15;
            ql[64 * n + 32 * (k % 2) + l] |= if k < 2 { low } else { low << 4 };
            qh[32 * n + l] |= (v >> 4) << (2 * k);
        }
        bytes.extend_from_slice(&ql);
        bytes.extend_from_slice(&qh);
        bytes.extend(sc.iter().map(|&s| s as u8));
        bytes.extend_from_slice(&f16_bits(d));
        for (e, &v) in q.iter().enumerate() {
            let (n, k, l) = (e / 128, (e % 128) / 32, e % 32);
            let s = sc[8 * n + 2 * k + l / 16];
            expected.push(d * f32::from(s) * (f32::from(v) - 32.0));
        }
    }
    check(GgmlType::Q6_K, &bytes, &expected);
}

#[test]
fn length_mismatches_and_unsupported_types_are_errors() {
    let mut out = vec![0.0f32; 64];
    assert_eq!(
        dequantize(GgmlType::Q8_0, &[0; 67], 64, &mut out),
        Err(QuantError::InputLength {
            ty: GgmlType::Q8_0,
            n_elements: 64,
            expected: 68,
            got: 67
        })
    );
    assert_eq!(
        dequantize(GgmlType::Q8_0, &[0; 68], 64, &mut out[..63]),
        Err(QuantError::OutputLength {
            expected: 64,
            got: 63
        })
    );
    let err = dequantize(GgmlType::Q4_K, &[0; 144], 100, &mut out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "100 elements is not a multiple of the Q4_K block size 256"
    );
    for ty in [
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q8_K,
        GgmlType::I32,
    ] {
        assert_eq!(
            dequantize_to_vec(ty, &[], 0),
            Err(QuantError::Unsupported(ty))
        );
    }
    // A bogus element count is rejected before anything is allocated.
    assert!(dequantize_to_vec(GgmlType::F32, &[0; 4], usize::MAX / 4).is_err());
    assert_eq!(dequantize_to_vec(GgmlType::Q4_0, &[], 0), Ok(vec![]));
}
