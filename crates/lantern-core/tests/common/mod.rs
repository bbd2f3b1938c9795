//! Shared test helpers: a tiny deterministic PRNG, a sample GGUF file covering every
//! metadata type, and a raw byte builder for hand-made hostile headers.
#![allow(dead_code)]

use lantern_core::GgmlType;
use lantern_core::gguf::{GgufWriter, MetadataArray, MetadataValue};

/// xorshift64*: deterministic, dependency-free, good enough to pick bytes and quants.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Every metadata value type, including nested arrays (with differently typed inner arrays,
/// and an empty one).
pub fn all_metadata() -> Vec<(String, MetadataValue)> {
    use MetadataValue as V;
    vec![
        ("t.u8".into(), V::U8(200)),
        ("t.i8".into(), V::I8(-100)),
        ("t.u16".into(), V::U16(60_000)),
        ("t.i16".into(), V::I16(-30_000)),
        ("t.u32".into(), V::U32(4_000_000_000)),
        ("t.i32".into(), V::I32(-2_000_000_000)),
        ("t.f32".into(), V::F32(-1.25e-5)),
        ("t.bool_true".into(), V::Bool(true)),
        ("t.bool_false".into(), V::Bool(false)),
        ("t.string".into(), V::String("héllo, wörld ✓".into())),
        ("t.empty_string".into(), V::String(String::new())),
        ("t.u64".into(), V::U64(u64::MAX - 7)),
        ("t.i64".into(), V::I64(i64::MIN + 3)),
        ("t.f64".into(), V::F64(std::f64::consts::PI)),
        ("a.u8".into(), V::Array(MetadataArray::U8(vec![0, 1, 255]))),
        (
            "a.i8".into(),
            V::Array(MetadataArray::I8(vec![-128, 0, 127])),
        ),
        ("a.u16".into(), V::Array(MetadataArray::U16(vec![1, 65535]))),
        (
            "a.i16".into(),
            V::Array(MetadataArray::I16(vec![-32768, 32767])),
        ),
        (
            "a.u32".into(),
            V::Array(MetadataArray::U32(vec![7, u32::MAX])),
        ),
        (
            "a.i32".into(),
            V::Array(MetadataArray::I32(vec![-1, 2, i32::MIN])),
        ),
        (
            "a.f32".into(),
            V::Array(MetadataArray::F32(vec![0.5, -0.0, 1e30])),
        ),
        (
            "a.bool".into(),
            V::Array(MetadataArray::Bool(vec![true, false, true])),
        ),
        (
            "a.string".into(),
            V::Array(MetadataArray::String(vec![
                "a".into(),
                "".into(),
                "Ġthe".into(),
            ])),
        ),
        ("a.u64".into(), V::Array(MetadataArray::U64(vec![u64::MAX]))),
        (
            "a.i64".into(),
            V::Array(MetadataArray::I64(vec![i64::MIN, 5])),
        ),
        (
            "a.f64".into(),
            V::Array(MetadataArray::F64(vec![1e300, -2.5])),
        ),
        ("a.empty".into(), V::Array(MetadataArray::F32(vec![]))),
        (
            "a.nested".into(),
            V::Array(MetadataArray::Array(vec![
                MetadataArray::I32(vec![1, 2, 3]),
                MetadataArray::String(vec!["x".into()]),
                MetadataArray::Array(vec![
                    MetadataArray::U8(vec![9]),
                    MetadataArray::Bool(vec![]),
                ]),
                MetadataArray::U64(vec![]),
            ])),
        ),
    ]
}

/// A small valid file: all metadata types plus tensors of several types with random data.
pub fn sample_writer(version: u32) -> GgufWriter {
    let mut rng = Prng::new(42);
    let mut w = GgufWriter::new(version);
    w.add_metadata(
        "general.architecture",
        MetadataValue::String("llama".into()),
    );
    for (k, v) in all_metadata() {
        w.add_metadata(k, v);
    }
    let mut f32_data = Vec::new();
    for i in 0..24 {
        f32_data.extend_from_slice(&(i as f32 * 0.5 - 3.0).to_le_bytes());
    }
    w.add_tensor("norm.weight", GgmlType::F32, &[24], f32_data);
    w.add_tensor(
        "embd.weight",
        GgmlType::Q8_0,
        &[64, 3],
        rng.bytes(34 * 2 * 3),
    );
    w.add_tensor(
        "blk.0.q.weight",
        GgmlType::Q4_1,
        &[32, 2, 2],
        rng.bytes(20 * 4),
    );
    w.add_tensor(
        "blk.0.k.weight",
        GgmlType::Q4_K,
        &[256, 2],
        rng.bytes(144 * 2),
    );
    w.add_tensor("scalar", GgmlType::F16, &[], vec![0x00, 0x3C]);
    w
}

pub fn sample_file(version: u32) -> Vec<u8> {
    sample_writer(version).to_bytes()
}

/// Raw little-endian byte builder for headers no writer would produce.
#[derive(Default)]
pub struct Raw(pub Vec<u8>);

impl Raw {
    pub fn gguf(version: u32, tensor_count: u64, kv_count: u64) -> Self {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(tensor_count).u64(kv_count);
        r
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
}

/// f16 bits of `x`, asserting the value is exactly representable so tests stay exact.
pub fn f16_bits(x: f32) -> [u8; 2] {
    let h = half::f16::from_f32(x);
    assert_eq!(h.to_f32(), x, "{x} is not exactly representable in f16");
    h.to_bits().to_le_bytes()
}

// Tests that need no files also run in headless Chromium (`scripts/test.sh browser`), written
// once: such a file puts, right after `mod common;`,
//     #[cfg(target_arch = "wasm32")]
//     use wasm_bindgen_test::wasm_bindgen_test as test;
// so its plain `#[test]`s are wasm-bindgen tests on wasm32 and ordinary tests natively. The
// import must be written in the file itself: one generated by a macro may not shadow the
// prelude's `test`. The line below makes the runner use the browser rather than Node.js.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
