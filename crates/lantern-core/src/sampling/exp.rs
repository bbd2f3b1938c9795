//! `exp` that gives bit-identical results on every platform.
//!
//! `f64::exp` calls the platform's libm: glibc natively, Rust's bundled `libm` port in wasm.
//! Both are accurate to about an ulp but not always to the *same* ulp, and one differing bit in
//! a token's probability can move the boundary an inverse-CDF draw lands on, so a seeded run
//! could pick a different token in the browser than natively. This is FreeBSD's `e_exp.c`
//! (fdlibm, Sun Microsystems 1993: "Permission to use, copy, modify, and distribute this
//! software is freely granted, provided that this notice is preserved"), built only from IEEE
//! 754 +, −, ×, ÷, float→int truncation and bit manipulation, which every conforming platform
//! (x86-64 SSE2, AArch64, wasm) computes exactly the same way. Rust never fuses `a * b + c`
//! into an FMA on its own, so the compiler cannot change the roundings either.
//!
//! Accuracy: fdlibm states < 1 ulp; the tests measure at most 1 ulp from std's `exp` over
//! [−745, 709.8].

/// Largest x with a finite exp(x); above it the result is +inf.
const OVERFLOW_THRESHOLD: f64 = f64::from_bits(0x4086_2E42_FEFA_39EF); // 709.78…
/// Smallest x with a non-zero exp(x); below it the result is 0.
const UNDERFLOW_THRESHOLD: f64 = f64::from_bits(0xC087_4910_D52D_3051); // −745.13…
/// ln 2 split in two: `LN2_HI` has its low 32 bits zero, so k·LN2_HI is exact for |k| < 2²⁰.
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
const INV_LN2: f64 = f64::from_bits(0x3FF7_1547_652B_82FE);
/// Remez coefficients of R(r²) ≈ r·(eʳ+1)/(eʳ−1) − 2 on [0, (ln 2 / 2)²].
const P1: f64 = f64::from_bits(0x3FC5_5555_5555_553E);
const P2: f64 = f64::from_bits(0xBF66_C16C_16BE_BD93);
const P3: f64 = f64::from_bits(0x3F11_566A_AF25_DE2C);
const P4: f64 = f64::from_bits(0xBEBB_BD41_C5D2_6BF1);
const P5: f64 = f64::from_bits(0x3E66_3769_72BE_A4D0);
const TWO_POW_MINUS_1000: f64 = f64::from_bits(0x0170_0000_0000_0000);

/// eˣ, identical on every platform, within 1 ulp of the exact value. exp(0) is exactly 1,
/// exp(−inf) is 0, exp(+inf) is +inf and NaN stays NaN.
pub fn exp(x: f64) -> f64 {
    let high = (x.to_bits() >> 32) as u32;
    let negative = high >> 31 != 0;
    let abs_high = high & 0x7FFF_FFFF;

    // Non-finite arguments, overflow and underflow.
    if abs_high >= 0x4086_2E42 {
        if abs_high >= 0x7FF0_0000 {
            if x.is_nan() {
                return x;
            }
            return if negative { 0.0 } else { f64::INFINITY };
        }
        if x > OVERFLOW_THRESHOLD {
            return f64::INFINITY;
        }
        if x < UNDERFLOW_THRESHOLD {
            return 0.0;
        }
    }

    // Reduce: x = k·ln 2 + r with |r| ≤ ln 2 / 2, r carried as hi − lo for extra precision.
    let (r, hi, lo, k) = if abs_high > 0x3FD6_2E42 {
        // |x| > ln 2 / 2
        let (hi, lo, k) = if abs_high < 0x3FF0_A2B2 {
            // |x| < 1.5 ln 2: k is ±1.
            if negative {
                (x + LN2_HI, -LN2_LO, -1)
            } else {
                (x - LN2_HI, LN2_LO, 1)
            }
        } else {
            let k = (INV_LN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f64;
            (x - t * LN2_HI, t * LN2_LO, k)
        };
        (hi - lo, hi, lo, k)
    } else if abs_high < 0x3E30_0000 {
        // |x| < 2⁻²⁸: 1 + x is already correctly rounded (and exactly 1 for ±0).
        return 1.0 + x;
    } else {
        (x, 0.0, 0.0, 0)
    };

    // eʳ = 1 + 2r / (R(r²) − r), rearranged to keep the rounding error small.
    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    if k == 0 {
        return 1.0 - ((r * c) / (c - 2.0) - r);
    }
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    scale_by_power_of_two(y, k)
}

/// y·2ᵏ for the k `exp` produces (−1075 < k ≤ 1024), rounding at most once.
fn scale_by_power_of_two(y: f64, k: i32) -> f64 {
    let power_of_two = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    if k >= -1021 {
        if k == 1024 {
            // 2¹⁰²⁴ is not an f64; y < 1 here, so the result is still finite.
            return y * 2.0 * power_of_two(1023);
        }
        y * power_of_two(k)
    } else {
        // Subnormal result: scale into the normal range first (exact), round once at the end.
        y * power_of_two(k + 1000) * TWO_POW_MINUS_1000
    }
}
