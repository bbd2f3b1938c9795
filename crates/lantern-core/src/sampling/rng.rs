//! The sampler's random numbers: xoshiro256** (Blackman and Vigna), seeded through SplitMix64
//! as its authors recommend.
//!
//! Both are a handful of 64-bit integer operations, so a seed gives the same stream on every
//! platform, natively and in wasm. Implemented here rather than taken from `rand` so the
//! stream is part of Lantern's contract (a seed must keep producing the same text across
//! releases) and so the sampler has no dependencies.

/// SplitMix64 (Steele, Lea and Flood; Vigna's `splitmix64.c`). Used to expand a 64-bit seed
/// into xoshiro's 256-bit state, where nearby seeds must still give unrelated states.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Vigna's `xoshiro256starstar.c`): fast, 256 bits of state, and passes the
/// statistical test batteries, which is far more than sampling a token needs.
#[derive(Clone, Debug)]
pub struct Xoshiro256StarStar {
    s: [u64; 4],
}

impl Xoshiro256StarStar {
    /// The state is four consecutive SplitMix64 outputs (the same as `rand_xoshiro`'s
    /// `seed_from_u64`). They are never all zero, the one state xoshiro cannot leave.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut seeder = SplitMix64::new(seed);
        Xoshiro256StarStar {
            s: std::array::from_fn(|_| seeder.next_u64()),
        }
    }

    /// Starts from a raw state, for checking against the reference implementation's published
    /// outputs. An all-zero state would only ever produce zeros, so it is replaced by the
    /// state `seed_from_u64(0)` gives.
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] {
            return Self::seed_from_u64(0);
        }
        Xoshiro256StarStar { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits: the top 53 bits of one `next_u64`, times 2⁻⁵³
    /// (exact, so the value is the same everywhere).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
