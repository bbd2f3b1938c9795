//! The samplers against independent references: hand-computed values on small logit vectors, a
//! brute-force version of the documented chain (full sorts, std's `exp`), published PRNG
//! vectors, and a chi-square test of the draw. Runs natively and in headless Chromium, where
//! the same seed must give the same tokens.

mod common;
// Runs natively and in headless Chromium (see common/mod.rs).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use common::Prng;
use lantern_core::sampling::exp::exp;
use lantern_core::sampling::{
    Sampler, SamplerConfig, SamplingError, SplitMix64, TokenProb, Xoshiro256StarStar,
};

// ---------------------------------------------------------------------------------------------
// Helpers and the brute-force reference
// ---------------------------------------------------------------------------------------------

/// Settings with every filter off: temperature 1, so probabilities are plain softmax.
fn plain() -> SamplerConfig {
    SamplerConfig {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        ..SamplerConfig::default()
    }
}

fn sampler(config: SamplerConfig) -> Sampler {
    Sampler::new(config).expect("valid config")
}

fn distribution(config: SamplerConfig, recent: &[u32], logits: &[f32]) -> Vec<(u32, f64)> {
    let mut s = sampler(config);
    s.accept_all(recent);
    let dist = s.distribution(logits).expect("distribution");
    dist.iter()
        .map(|&TokenProb { token, prob }| (token, prob))
        .collect()
}

/// Softmax of `logits` (f64, std's exp) over the given token ids, in the given order.
fn softmax(ids: &[u32], logits: &[f64]) -> Vec<(u32, f64)> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = w.iter().sum();
    ids.iter().zip(w).map(|(&id, w)| (id, w / sum)).collect()
}

/// Same tokens, probabilities equal to 1e-12 relative.
#[track_caller]
fn assert_same_distribution(got: &[(u32, f64)], want: &[(u32, f64)]) {
    let ids = |d: &[(u32, f64)]| d.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(ids(got), ids(want), "kept tokens differ");
    for (&(id, g), &(_, w)) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs() + 1e-300,
            "token {id}: probability {g}, expected {w}"
        );
    }
}

/// Logit bias and penalties in f32, as documented (llama.cpp's arithmetic), token by token.
fn reference_adjusted(logits: &[f32], config: &SamplerConfig, recent: &[u32]) -> Vec<f32> {
    let mut l = logits.to_vec();
    for &(token, bias) in &config.logit_bias {
        l[token as usize] += bias;
    }
    let window = &recent[recent.len().saturating_sub(config.penalty_last_n)..];
    let mut distinct = window.to_vec();
    distinct.sort();
    distinct.dedup();
    for token in distinct {
        let count = window.iter().filter(|&&t| t == token).count() as f32;
        let Some(x) = l.get_mut(token as usize) else {
            continue;
        };
        if *x == f32::NEG_INFINITY {
            continue;
        }
        *x = if *x <= 0.0 {
            *x * config.repetition_penalty
        } else {
            *x / config.repetition_penalty
        };
        *x -= count * config.frequency_penalty + config.presence_penalty;
    }
    l
}

/// The documented chain after the penalties, written the obvious way: rank everything with a
/// full sort, normalized softmax with std's `exp`, each filter literally as described.
/// Returns the survivors in ascending id order with their probabilities.
fn reference_distribution(adjusted: &[f32], config: &SamplerConfig) -> Vec<(u32, f64)> {
    let mut ranked: Vec<(u32, f32)> = (0..adjusted.len() as u32)
        .map(|i| (i, adjusted[i as usize]))
        .filter(|&(_, l)| l > f32::NEG_INFINITY)
        .collect();
    ranked.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    if config.temperature == 0.0 {
        return vec![(ranked[0].0, 1.0)];
    }
    if config.top_k > 0 {
        ranked.truncate(config.top_k);
    }
    let ids: Vec<u32> = ranked.iter().map(|x| x.0).collect();
    let logits: Vec<f64> = ranked.iter().map(|x| f64::from(x.1)).collect();
    let p = softmax(&ids, &logits);
    // top-p: the smallest prefix of the ranking whose probability reaches top_p.
    let mut keep = ranked.len();
    if config.top_p < 1.0 {
        let mut cum = 0.0;
        for (i, &(_, pi)) in p.iter().enumerate() {
            cum += pi;
            if cum >= f64::from(config.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    // min-p: at least min_p × the top probability.
    let kept: Vec<usize> = (0..keep)
        .filter(|&i| p[i].1 >= f64::from(config.min_p) * p[0].1)
        .collect();
    // Temperature over the survivors.
    let t = f64::from(config.temperature);
    let ids: Vec<u32> = kept.iter().map(|&i| ids[i]).collect();
    let scaled: Vec<f64> = kept.iter().map(|&i| logits[i] / t).collect();
    let mut out: Vec<(u32, f64)> = softmax(&ids, &scaled)
        .into_iter()
        .filter(|&(_, q)| q > 0.0)
        .collect();
    out.sort_by_key(|x| x.0);
    out
}

/// Inverse CDF over a normalized distribution in id order.
fn reference_draw(dist: &[(u32, f64)], u: f64) -> u32 {
    let mut cum = 0.0;
    for &(token, p) in dist {
        cum += p;
        if u < cum {
            return token;
        }
    }
    dist.last().unwrap().0
}

/// `n` logits uniform in [lo, hi), from the test's own PRNG (not the one under test).
fn random_logits(rng: &mut Prng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| lo + (hi - lo) * ((rng.next_u64() >> 40) as f32 / (1u32 << 24) as f32))
        .collect()
}

/// Noise in [−2, 2) plus `peaks` tokens raised by 6 to 10: the shape of a real model's
/// logits (a few plausible tokens, a long tail).
fn peaked_logits(rng: &mut Prng, n: usize, peaks: usize) -> Vec<f32> {
    let mut l = random_logits(rng, n, -2.0, 2.0);
    for _ in 0..peaks {
        let i = rng.below(n as u64) as usize;
        l[i] += 6.0 + 4.0 * ((rng.next_u64() >> 40) as f32 / (1u32 << 24) as f32);
    }
    l
}

fn first_max(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// ln of each probability, as f32 logits.
fn log_probs(p: &[f64]) -> Vec<f32> {
    p.iter().map(|p| p.ln() as f32).collect()
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

#[test]
fn splitmix64_matches_published_outputs() {
    // Rosetta Code, "Pseudo-random numbers/Splitmix64": the first five outputs for seed 1234567.
    let mut rng = SplitMix64::new(1234567);
    let want = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ];
    for w in want {
        assert_eq!(rng.next_u64(), w);
    }
    // And the first output for seed 0 (splitmix64.c).
    assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
}

#[test]
fn xoshiro256starstar_matches_the_reference_implementation() {
    // From state {1, 2, 3, 4}; values produced with Vigna's xoshiro256starstar.c (the test
    // vector `rand_xoshiro` checks against).
    let mut rng = Xoshiro256StarStar::from_state([1, 2, 3, 4]);
    let want = [
        11520,
        0,
        1509978240,
        1215971899390074240,
        1216172134540287360,
        607988272756665600,
        16172922978634559625,
        8476171486693032832,
        10595114339597558777,
        2904607092377533576,
    ];
    for w in want {
        assert_eq!(rng.next_u64(), w);
    }
}

#[test]
fn seeding_is_four_splitmix64_outputs_and_floats_take_the_top_53_bits() {
    let mut seeder = SplitMix64::new(99);
    let state = [0; 4].map(|_: u64| seeder.next_u64());
    let (mut a, mut b) = (
        Xoshiro256StarStar::seed_from_u64(99),
        Xoshiro256StarStar::from_state(state),
    );
    for _ in 0..100 {
        assert_eq!(a.next_u64(), b.next_u64());
    }
    // 11520 >> 11 = 5, so the first float from {1, 2, 3, 4} is exactly 5·2⁻⁵³; the second is 0.
    let mut rng = Xoshiro256StarStar::from_state([1, 2, 3, 4]);
    assert_eq!(rng.next_f64(), 5.0 / 9007199254740992.0);
    assert_eq!(rng.next_f64(), 0.0);
    for _ in 0..10_000 {
        let u = rng.next_f64();
        assert!((0.0..1.0).contains(&u), "{u}");
    }
    // The all-zero state would be stuck at zero; it is replaced.
    assert_ne!(Xoshiro256StarStar::from_state([0; 4]).next_u64(), 0);
}

// ---------------------------------------------------------------------------------------------
// exp
// ---------------------------------------------------------------------------------------------

/// Distance in ulps between two non-negative finite doubles (their bit patterns are ordered).
fn ulps(a: f64, b: f64) -> u64 {
    a.to_bits().abs_diff(b.to_bits())
}

#[test]
fn exp_is_within_one_ulp_of_std_over_its_whole_range() {
    // Every finite, non-zero result: x from the underflow to the overflow threshold, evenly
    // spaced, densely around 0 (the reduction's k = 0 and k = ±1 branches), and at random.
    let mut xs: Vec<f64> = Vec::new();
    let (lo, hi) = (-745.13, 709.78);
    xs.extend((0..=200_000).map(|i| lo + (hi - lo) * i as f64 / 200_000.0));
    xs.extend((0..=20_000).map(|i| -2.0 + 4.0 * i as f64 / 20_000.0));
    xs.extend((0..=2_000).map(|i| 1e-9 * (i as f64 - 1000.0)));
    let mut rng = Prng::new(7);
    xs.extend((0..100_000).map(|_| lo + (hi - lo) * (rng.next_u64() >> 11) as f64 / 2f64.powi(53)));
    let (mut worst, mut differing) = ((0, 0.0), 0);
    for &x in &xs {
        let d = ulps(exp(x), x.exp());
        differing += (d > 0) as usize;
        if d > worst.0 {
            worst = (d, x);
        }
    }
    println!(
        "portable exp vs std exp: max {} ulp (at x = {}); {differing} of {} results differ",
        worst.0,
        worst.1,
        xs.len()
    );
    assert!(worst.0 <= 1, "{} ulps at x = {}", worst.0, worst.1);
}

#[test]
fn exp_special_values() {
    assert_eq!(exp(0.0), 1.0);
    assert_eq!(exp(-0.0), 1.0);
    assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    assert_eq!(exp(f64::INFINITY), f64::INFINITY);
    assert!(exp(f64::NAN).is_nan());
    assert_eq!(exp(710.0), f64::INFINITY);
    assert!(exp(709.78).is_finite() && exp(709.78) > 1e308);
    assert_eq!(exp(-746.0), 0.0);
    let tiny = exp(-745.0);
    assert!(
        tiny > 0.0 && tiny < f64::MIN_POSITIVE,
        "subnormal, got {tiny}"
    );
    assert!(ulps(exp(1.0), std::f64::consts::E) <= 1);
    assert!(ulps(exp(std::f64::consts::LN_2), 2.0) <= 1);
}

#[test]
fn exp_gives_the_same_bits_on_every_platform() {
    // FNV-1a over the bits of exp at 4,096 points across its range. The constant was computed
    // natively (x86-64); this test passing in wasm too is the check that the implementation
    // uses nothing platform-dependent. std's exp does not pass it: over these points glibc's
    // differs from this one in 373 results (hash 0x0e98_3eef_f37e_6265), while wasm's (Rust's
    // libm port of the same fdlibm code) matches it bit for bit.
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for i in 0..4096 {
        let x = -745.0 + 1454.5 * i as f64 / 4095.0 + 1e-3 * (i % 7) as f64;
        for byte in exp(x).to_bits().to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    assert_eq!(hash, EXP_HASH, "hash {hash:#018x}");
}
const EXP_HASH: u64 = 0x6398_f19e_a1f4_e577;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn defaults_are_llama_cpps_and_valid() {
    let c = SamplerConfig::default();
    assert_eq!(
        (c.temperature, c.top_k, c.top_p, c.min_p),
        (0.8, 40, 0.95, 0.05)
    );
    assert_eq!(
        (
            c.repetition_penalty,
            c.frequency_penalty,
            c.presence_penalty
        ),
        (1.0, 0.0, 0.0)
    );
    assert_eq!(c.penalty_last_n, 64);
    assert!(c.logit_bias.is_empty());
    assert!(c.validate().is_ok());
    assert!(SamplerConfig::greedy().validate().is_ok());
    assert_eq!(SamplerConfig::greedy().temperature, 0.0);
}

#[test]
fn nonsense_settings_are_rejected_with_their_name() {
    let d = SamplerConfig::default;
    let cases: Vec<(SamplerConfig, &str)> = vec![
        (
            SamplerConfig {
                temperature: -0.5,
                ..d()
            },
            "temperature = -0.5",
        ),
        (
            SamplerConfig {
                temperature: f32::NAN,
                ..d()
            },
            "temperature = NaN",
        ),
        (
            SamplerConfig {
                temperature: f32::INFINITY,
                ..d()
            },
            "temperature = inf",
        ),
        (SamplerConfig { top_p: 0.0, ..d() }, "top_p = 0"),
        (SamplerConfig { top_p: 1.5, ..d() }, "top_p = 1.5"),
        (SamplerConfig { top_p: -0.1, ..d() }, "top_p = -0.1"),
        (
            SamplerConfig {
                top_p: f32::NAN,
                ..d()
            },
            "top_p = NaN",
        ),
        (SamplerConfig { min_p: -0.1, ..d() }, "min_p = -0.1"),
        (SamplerConfig { min_p: 1.01, ..d() }, "min_p = 1.01"),
        (
            SamplerConfig {
                min_p: f32::NAN,
                ..d()
            },
            "min_p = NaN",
        ),
        (
            SamplerConfig {
                repetition_penalty: 0.0,
                ..d()
            },
            "repetition_penalty = 0",
        ),
        (
            SamplerConfig {
                repetition_penalty: -1.0,
                ..d()
            },
            "repetition_penalty = -1",
        ),
        (
            SamplerConfig {
                repetition_penalty: f32::NAN,
                ..d()
            },
            "repetition_penalty = NaN",
        ),
        (
            SamplerConfig {
                frequency_penalty: f32::NAN,
                ..d()
            },
            "frequency_penalty = NaN",
        ),
        (
            SamplerConfig {
                frequency_penalty: f32::NEG_INFINITY,
                ..d()
            },
            "frequency_penalty = -inf",
        ),
        (
            SamplerConfig {
                presence_penalty: f32::INFINITY,
                ..d()
            },
            "presence_penalty = inf",
        ),
        (
            SamplerConfig {
                logit_bias: vec![(3, f32::NAN)],
                ..d()
            },
            "logit_bias = NaN for token 3",
        ),
        (
            SamplerConfig {
                logit_bias: vec![(4, f32::INFINITY)],
                ..d()
            },
            "logit_bias = inf for token 4",
        ),
    ];
    for (config, needle) in cases {
        let err = Sampler::new(config.clone()).expect_err(needle);
        assert!(
            matches!(err, SamplingError::InvalidConfig { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert_eq!(config.validate(), Err(err));
    }
    // The edges of each range are fine, and so is banning with -inf.
    let ok = [
        SamplerConfig {
            top_p: 1.0,
            min_p: 1.0,
            temperature: 0.0,
            ..d()
        },
        SamplerConfig {
            min_p: 0.0,
            repetition_penalty: 0.01,
            frequency_penalty: -2.0,
            ..d()
        },
        SamplerConfig {
            logit_bias: vec![(0, f32::NEG_INFINITY), (1, -1e30)],
            ..d()
        },
        SamplerConfig {
            top_k: usize::MAX,
            penalty_last_n: usize::MAX,
            ..d()
        },
    ];
    for config in ok {
        assert!(Sampler::new(config).is_ok());
    }
}

// ---------------------------------------------------------------------------------------------
// Bad logits
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_logits_are_errors_not_panics() {
    for config in [SamplerConfig::greedy(), SamplerConfig::default()] {
        let mut s = sampler(config.clone());
        assert_eq!(s.sample(&[]), Err(SamplingError::EmptyLogits));
        let err = s.sample(&[0.0, 1.0, f32::NAN]).unwrap_err();
        assert!(
            matches!(err, SamplingError::InvalidLogit { token: 2, value } if value.is_nan()),
            "{err:?}"
        );
        assert!(err.to_string().contains("token 2"), "{err}");
        assert_eq!(
            s.sample(&[f32::INFINITY, 0.0]),
            Err(SamplingError::InvalidLogit {
                token: 0,
                value: f32::INFINITY
            })
        );
        let banned = Err(SamplingError::AllTokensBanned { vocab_size: 3 });
        assert_eq!(s.sample(&[f32::NEG_INFINITY; 3]), banned);
        let mut s = sampler(SamplerConfig {
            logit_bias: vec![(0, f32::NEG_INFINITY), (1, f32::NEG_INFINITY)],
            ..config.clone()
        });
        assert_eq!(s.sample(&[1.0, 2.0, f32::NEG_INFINITY]), banned);
        // After a failure the sampler still works.
        assert_eq!(s.sample(&[1.0, 2.0, 3.0]), Ok(2));
        let mut s = sampler(SamplerConfig {
            logit_bias: vec![(5, 1.0)],
            ..config.clone()
        });
        assert_eq!(
            s.sample(&[0.0; 5]),
            Err(SamplingError::BiasTokenOutOfRange {
                token: 5,
                vocab_size: 5
            })
        );
    }
}

#[test]
fn overflow_from_bias_or_penalties_is_an_error() {
    let mut s = sampler(SamplerConfig {
        logit_bias: vec![(0, 3e38)],
        ..plain()
    });
    assert_eq!(
        s.sample(&[3e38, 0.0]),
        Err(SamplingError::AdjustedLogitOverflow { token: 0 })
    );
    let mut s = sampler(SamplerConfig {
        repetition_penalty: 0.5,
        ..plain()
    });
    s.accept(1);
    assert_eq!(
        s.sample(&[0.0, 3e38]),
        Err(SamplingError::AdjustedLogitOverflow { token: 1 })
    );
}

// ---------------------------------------------------------------------------------------------
// Greedy
// ---------------------------------------------------------------------------------------------

#[test]
fn greedy_is_argmax() {
    let mut rng = Prng::new(1);
    for n in [1, 2, 3, 17, 1000, 32_000, 262_144] {
        let logits = random_logits(&mut rng, n, -30.0, 30.0);
        let mut s = sampler(SamplerConfig::greedy());
        assert_eq!(s.sample(&logits).unwrap(), first_max(&logits), "n = {n}");
        assert_eq!(
            s.distribution(&logits).unwrap(),
            vec![TokenProb {
                token: first_max(&logits),
                prob: 1.0
            }]
        );
    }
}

#[test]
fn greedy_ties_go_to_the_lowest_id() {
    let mut s = sampler(SamplerConfig::greedy());
    assert_eq!(s.sample(&[1.0, 5.0, 5.0, 2.0]), Ok(1));
    assert_eq!(s.sample(&[0.0; 7]), Ok(0));
    assert_eq!(s.sample(&[f32::NEG_INFINITY, -0.0, 0.0]), Ok(1));
    assert_eq!(s.sample(&[f32::NEG_INFINITY, f32::MIN, f32::MIN]), Ok(1));
}

#[test]
fn greedy_uses_no_randomness_and_honours_bias_and_penalties() {
    let logits = [0.1, 3.0, 2.9, -1.0];
    let a: Vec<u32> = {
        let mut s = sampler(SamplerConfig {
            seed: 1,
            ..SamplerConfig::greedy()
        });
        (0..5).map(|_| s.sample(&logits).unwrap()).collect()
    };
    let b: Vec<u32> = {
        let mut s = sampler(SamplerConfig {
            seed: 2,
            ..SamplerConfig::greedy()
        });
        (0..5).map(|_| s.sample(&logits).unwrap()).collect()
    };
    assert_eq!(a, vec![1; 5]);
    assert_eq!(a, b);
    let mut s = sampler(SamplerConfig {
        logit_bias: vec![(1, f32::NEG_INFINITY)],
        ..SamplerConfig::greedy()
    });
    assert_eq!(s.sample(&logits), Ok(2));
    // A repetition penalty of 1.1 brings 3.0 down to 2.727…, below 2.9.
    let mut s = sampler(SamplerConfig {
        repetition_penalty: 1.1,
        ..SamplerConfig::greedy()
    });
    s.accept(1);
    assert_eq!(s.sample(&logits), Ok(2));
}

// ---------------------------------------------------------------------------------------------
// Filters, each against hand-computed expectations
// ---------------------------------------------------------------------------------------------

#[test]
fn temperature_scales_logits_before_the_softmax() {
    let logits = [1.0, 2.0, 3.0];
    for t in [0.25f32, 0.5, 1.0, 2.0, 7.0] {
        let got = distribution(
            SamplerConfig {
                temperature: t,
                ..plain()
            },
            &[],
            &logits,
        );
        let want = softmax(
            &[0, 1, 2],
            &[1.0 / t as f64, 2.0 / t as f64, 3.0 / t as f64],
        );
        assert_same_distribution(&got, &want);
    }
    // exp(-1/T) underflows for tiny T: only the top token is left, not a NaN.
    let got = distribution(
        SamplerConfig {
            temperature: 1e-6,
            ..plain()
        },
        &[],
        &logits,
    );
    assert_eq!(got, vec![(2, 1.0)]);
}

#[test]
fn top_k_keeps_the_k_highest_logits() {
    let logits = [1.0, 3.0, 2.0, 3.0, 0.0];
    let top = |k: usize| {
        distribution(
            SamplerConfig {
                top_k: k,
                ..plain()
            },
            &[],
            &logits,
        )
    };
    assert_same_distribution(&top(1), &[(1, 1.0)]); // tie between 1 and 3: lower id
    assert_same_distribution(&top(2), &[(1, 0.5), (3, 0.5)]);
    assert_same_distribution(&top(3), &softmax(&[1, 2, 3], &[3.0, 2.0, 3.0]));
    let all = softmax(&[0, 1, 2, 3, 4], &[1.0, 3.0, 2.0, 3.0, 0.0]);
    for k in [0, 5, 6, 1000, usize::MAX] {
        assert_same_distribution(&top(k), &all);
    }
    // Ties at the boundary keep the lowest ids.
    let got = distribution(
        SamplerConfig {
            top_k: 2,
            ..plain()
        },
        &[],
        &[1.0, 2.0, 2.0, 2.0],
    );
    assert_same_distribution(&got, &[(1, 0.5), (2, 0.5)]);
    // The same with more tokens than the one-pass selection buffers (2k): all tied, and
    // rising so that every token displaces an earlier one.
    let ids = |d: Vec<(u32, f64)>| d.into_iter().map(|x| x.0).collect::<Vec<_>>();
    let got = distribution(
        SamplerConfig {
            top_k: 3,
            ..plain()
        },
        &[],
        &[0.5; 1000],
    );
    assert_eq!(ids(got), [0, 1, 2]);
    let rising: Vec<f32> = (0..1000).map(|i| i as f32 / 100.0).collect();
    let got = distribution(
        SamplerConfig {
            top_k: 3,
            ..plain()
        },
        &[],
        &rising,
    );
    assert_eq!(ids(got), [997, 998, 999]);
    // -inf tokens never count towards k.
    let got = distribution(
        SamplerConfig {
            top_k: 3,
            ..plain()
        },
        &[],
        &[f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY],
    );
    assert_same_distribution(&got, &[(1, 1.0)]);
}

#[test]
fn top_p_keeps_the_smallest_set_reaching_p() {
    // Probabilities 0.1, 0.4, 0.2, 0.3.
    let p = [0.1, 0.4, 0.2, 0.3];
    let logits = log_probs(&p);
    let top = |top_p: f32| distribution(SamplerConfig { top_p, ..plain() }, &[], &logits);
    let renorm = |ids: &[u32]| {
        let kept: Vec<f64> = ids.iter().map(|&i| f64::from(logits[i as usize])).collect();
        softmax(ids, &kept)
    };
    assert_same_distribution(&top(0.05), &renorm(&[1]));
    assert_same_distribution(&top(0.35), &renorm(&[1]));
    assert_same_distribution(&top(0.5), &renorm(&[1, 3]));
    assert_same_distribution(&top(0.75), &renorm(&[1, 2, 3]));
    assert_same_distribution(&top(0.95), &renorm(&[0, 1, 2, 3]));
    assert_same_distribution(&top(1.0), &renorm(&[0, 1, 2, 3]));
    // Exactly reaching p is enough, and ties go to the lower ids: four equal tokens, p = 0.5.
    let got = distribution(
        SamplerConfig {
            top_p: 0.5,
            ..plain()
        },
        &[],
        &[0.0; 4],
    );
    assert_same_distribution(&got, &[(0, 0.5), (1, 0.5)]);
}

#[test]
fn min_p_drops_tokens_below_a_fraction_of_the_top() {
    // Probabilities 0.5, 0.3, 0.15, 0.05: the threshold is min_p × 0.5.
    let p = [0.5, 0.3, 0.15, 0.05];
    let logits = log_probs(&p);
    let keep = |min_p: f32| {
        distribution(SamplerConfig { min_p, ..plain() }, &[], &logits)
            .iter()
            .map(|x| x.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(keep(0.0), [0, 1, 2, 3]);
    assert_eq!(keep(0.05), [0, 1, 2, 3]); // 0.05 ≥ 0.025
    assert_eq!(keep(0.2), [0, 1, 2]); // 0.05 < 0.1 ≤ 0.15
    assert_eq!(keep(0.5), [0, 1]); // 0.15 < 0.25
    assert_eq!(keep(0.61), [0]); // 0.3 < 0.305
    assert_eq!(keep(1.0), [0]);
    // min_p = 1 keeps every token tied for the top.
    let got = distribution(
        SamplerConfig {
            min_p: 1.0,
            ..plain()
        },
        &[],
        &[2.0, 1.0, 2.0],
    );
    assert_same_distribution(&got, &[(0, 0.5), (2, 0.5)]);
}

#[test]
fn filters_apply_in_llama_cpp_order() {
    // Probabilities 0.4, 0.3, 0.2, 0.1; top_p = 0.75, min_p = 0.4 (threshold 0.16).
    // top-p first (llama.cpp): 0.4, 0.7, 0.9 ≥ 0.75 keeps {0, 1, 2}; min-p keeps all three.
    // min-p first would renormalize to 0.444, 0.778 ≥ 0.75 and keep only {0, 1}.
    let p = [0.4, 0.3, 0.2, 0.1];
    let logits = log_probs(&p);
    let got = distribution(
        SamplerConfig {
            top_p: 0.75,
            min_p: 0.4,
            ..plain()
        },
        &[],
        &logits,
    );
    assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 2]);

    // Filters judge the temperature-1 distribution; temperature only reshapes the survivors.
    // (Temperature first, Hugging Face's order, would flatten p at T = 5 and keep all four.)
    for t in [0.2f32, 1.0, 5.0] {
        let got = distribution(
            SamplerConfig {
                top_p: 0.6,
                temperature: t,
                ..plain()
            },
            &[],
            &logits,
        );
        let want = softmax(
            &[0, 1],
            &[
                f64::from(logits[0]) / f64::from(t),
                f64::from(logits[1]) / f64::from(t),
            ],
        );
        assert_same_distribution(&got, &want);
    }

    // top-k before top-p: with k = 2 the mass is renormalized over {0, 1} (0.571, 0.429), so
    // top_p = 0.5 keeps only token 0.
    let got = distribution(
        SamplerConfig {
            top_k: 2,
            top_p: 0.5,
            ..plain()
        },
        &[],
        &logits,
    );
    assert_same_distribution(&got, &[(0, 1.0)]);
}

#[test]
fn filters_match_the_brute_force_chain_on_random_inputs() {
    let mut rng = Prng::new(2024);
    for case in 0..300 {
        let n = 1 + rng.below(300) as usize;
        let logits = if case % 2 == 0 {
            random_logits(&mut rng, n, -8.0, 8.0)
        } else {
            let peaks = 1 + rng.below(5) as usize;
            peaked_logits(&mut rng, n, peaks)
        };
        let config = SamplerConfig {
            temperature: [0.0, 0.3, 0.8, 1.0, 1.7][rng.below(5) as usize],
            top_k: [0, 1, 5, 40, 1000][rng.below(5) as usize],
            top_p: [1.0, 0.95, 0.9, 0.5, 0.1][rng.below(5) as usize],
            min_p: [0.0, 0.05, 0.1, 0.5][rng.below(4) as usize],
            ..SamplerConfig::default()
        };
        let got = distribution(config.clone(), &[], &logits);
        let want = reference_distribution(&logits, &config);
        assert_same_distribution(&got, &want);
        let sum: f64 = got.iter().map(|x| x.1).sum();
        assert!((sum - 1.0).abs() < 1e-12, "case {case}: sum {sum}");
    }
}

#[test]
fn a_262144_token_vocabulary_matches_the_brute_force_chain() {
    // Gemma 3's vocabulary size. The sampler selects partially; the reference sorts it all.
    let mut rng = Prng::new(262_144);
    let logits = peaked_logits(&mut rng, 262_144, 200);
    let configs = [
        SamplerConfig::default(),
        // top-p alone must rank most of the vocabulary (the tail holds a quarter of the mass).
        SamplerConfig {
            top_k: 0,
            min_p: 0.0,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            top_k: 0,
            top_p: 1.0,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            top_k: 5,
            top_p: 1.0,
            min_p: 0.0,
            ..plain()
        },
        SamplerConfig::greedy(),
    ];
    for config in configs {
        let got = distribution(config.clone(), &[], &logits);
        assert_same_distribution(&got, &reference_distribution(&logits, &config));
    }
}

// ---------------------------------------------------------------------------------------------
// Penalties and logit bias, against hand-computed logits
// ---------------------------------------------------------------------------------------------

/// The distribution with every filter off is the softmax of the adjusted logits, so this
/// checks the adjusted logits themselves.
#[track_caller]
fn assert_adjusted(config: SamplerConfig, recent: &[u32], logits: &[f32], want: &[f64]) {
    let got = distribution(config, recent, logits);
    let ids: Vec<u32> = (0..want.len() as u32).collect();
    assert_same_distribution(&got, &softmax(&ids, want));
}

const LOGITS: [f32; 4] = [2.0, -1.0, 0.5, 3.0];

#[test]
fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
    // Token 0 seen twice, token 1 once: the penalty applies once per distinct token.
    let c = SamplerConfig {
        repetition_penalty: 2.0,
        ..plain()
    };
    assert_adjusted(c, &[0, 1, 0], &LOGITS, &[1.0, -2.0, 0.5, 3.0]);
    // Below 1 it rewards repeats instead.
    let c = SamplerConfig {
        repetition_penalty: 0.5,
        ..plain()
    };
    assert_adjusted(c, &[0, 1], &LOGITS, &[4.0, -0.5, 0.5, 3.0]);
}

#[test]
fn frequency_and_presence_penalties_subtract_count_and_once() {
    // Token 0 twice: 2 − (2·0.5 + 0.25) = 0.75. Token 2 once: 0.5 − (0.5 + 0.25) = −0.25.
    let c = SamplerConfig {
        frequency_penalty: 0.5,
        presence_penalty: 0.25,
        ..plain()
    };
    assert_adjusted(c, &[0, 0, 2], &LOGITS, &[0.75, -1.0, -0.25, 3.0]);
    // All three: repetition first, then the subtraction (2/2 − 1.25, 0.5/2 − 0.75).
    let c = SamplerConfig {
        repetition_penalty: 2.0,
        frequency_penalty: 0.5,
        presence_penalty: 0.25,
        ..plain()
    };
    assert_adjusted(c, &[0, 0, 2], &LOGITS, &[-0.25, -1.0, -0.5, 3.0]);
}

#[test]
fn penalties_look_only_at_the_last_n_accepted_tokens() {
    let c = SamplerConfig {
        presence_penalty: 1.0,
        penalty_last_n: 2,
        ..plain()
    };
    let mut s = sampler(c.clone());
    s.accept_all(&[0, 1]);
    s.accept(2);
    assert_eq!(s.recent_tokens().collect::<Vec<_>>(), [1, 2]);
    assert_adjusted(c, &[0, 1, 2], &LOGITS, &[2.0, -2.0, -0.5, 3.0]);
    // penalty_last_n = 0 turns them off; tokens beyond the logits are ignored.
    let c = SamplerConfig {
        presence_penalty: 1.0,
        penalty_last_n: 0,
        ..plain()
    };
    assert_adjusted(c, &[0, 1, 2], &LOGITS, &[2.0, -1.0, 0.5, 3.0]);
    let c = SamplerConfig {
        presence_penalty: 1.0,
        ..plain()
    };
    assert_adjusted(c, &[3, 1_000_000], &LOGITS, &[2.0, -1.0, 0.5, 2.0]);
    // reset() forgets them.
    let mut s = sampler(SamplerConfig {
        presence_penalty: 1.0,
        ..plain()
    });
    s.accept_all(&[0, 1]);
    s.reset();
    assert_eq!(s.recent_tokens().count(), 0);
}

#[test]
fn logit_bias_adds_first_and_minus_infinity_bans() {
    // Bias is added before the penalties: (1 + 1) / 2 = 1, not 1/2 + 1.
    let c = SamplerConfig {
        logit_bias: vec![(0, 1.0)],
        repetition_penalty: 2.0,
        ..plain()
    };
    assert_adjusted(c, &[0], &[1.0, 0.0], &[1.0, 0.0]);
    // Entries for the same token add up.
    let c = SamplerConfig {
        logit_bias: vec![(2, 0.5), (1, -0.25), (2, 0.5)],
        ..plain()
    };
    assert_adjusted(c, &[], &[0.0, 0.0, 0.0], &[0.0, -0.25, 1.0]);
    // A banned token is never a candidate, whatever the filters, and is never drawn.
    let c = SamplerConfig {
        logit_bias: vec![(3, f32::NEG_INFINITY)],
        ..plain()
    };
    let got = distribution(c.clone(), &[], &LOGITS);
    assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 2]);
    let mut s = sampler(c);
    assert!((0..2000).all(|_| s.sample(&LOGITS).unwrap() != 3));
}

// ---------------------------------------------------------------------------------------------
// Randomness: determinism, distribution, and the same tokens natively and in wasm
// ---------------------------------------------------------------------------------------------

fn run(config: &SamplerConfig, steps: usize, logits: &[Vec<f32>]) -> Vec<u32> {
    let mut s = sampler(config.clone());
    (0..steps)
        .map(|i| {
            let token = s.sample(&logits[i % logits.len()]).unwrap();
            s.accept(token);
            token
        })
        .collect()
}

#[test]
fn a_seed_fixes_the_sequence() {
    let mut rng = Prng::new(3);
    let logits: Vec<Vec<f32>> = (0..4).map(|_| peaked_logits(&mut rng, 500, 20)).collect();
    let config = SamplerConfig {
        seed: 42,
        repetition_penalty: 1.2,
        ..SamplerConfig::default()
    };
    let a = run(&config, 200, &logits);
    assert_eq!(a, run(&config, 200, &logits));
    let other = run(
        &SamplerConfig {
            seed: 43,
            ..config.clone()
        },
        200,
        &logits,
    );
    assert_ne!(a, other);
    // reset() replays from the seed; a clone continues the same stream.
    let mut s = sampler(config);
    let first: Vec<u32> = (0..50).map(|i| s.sample(&logits[i % 4]).unwrap()).collect();
    let mut twin = s.clone();
    assert_eq!(
        (0..50)
            .map(|i| s.sample(&logits[i % 4]).unwrap())
            .collect::<Vec<_>>(),
        (0..50)
            .map(|i| twin.sample(&logits[i % 4]).unwrap())
            .collect::<Vec<_>>()
    );
    s.reset();
    assert_eq!(
        first,
        (0..50)
            .map(|i| s.sample(&logits[i % 4]).unwrap())
            .collect::<Vec<_>>()
    );
}

/// Pearson's chi-square statistic of observed counts against expected probabilities.
fn chi_square(counts: &[u64], probs: &[f64], draws: u64) -> f64 {
    counts
        .iter()
        .zip(probs)
        .map(|(&o, &p)| {
            let e = p * draws as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

#[test]
fn draws_follow_the_distribution_chi_square() {
    // 100,000 draws per case against the reference probabilities. Thresholds are the 99.9%
    // quantiles of chi-square with (kept − 1) degrees of freedom, so a correct sampler fails
    // one seed in a thousand; the seeds are fixed, so the test cannot flake. A token drawn
    // with probability 0.21 instead of 0.20 alone adds about 50 (1000² / 20000).
    let logits = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -3.0];
    let cases = [
        (
            SamplerConfig {
                temperature: 0.8,
                top_k: 6,
                ..plain()
            },
            6,
            20.515,
        ),
        (
            SamplerConfig {
                temperature: 1.2,
                top_p: 0.9,
                min_p: 0.05,
                ..plain()
            },
            5,
            18.467,
        ),
        (
            SamplerConfig {
                temperature: 1.0,
                ..plain()
            },
            8,
            24.322,
        ),
    ];
    for (i, (config, kept, threshold)) in cases.into_iter().enumerate() {
        let config = SamplerConfig {
            seed: 1000 + i as u64,
            ..config
        };
        let want = reference_distribution(&logits, &config);
        assert_eq!(want.len(), kept);
        let draws = 100_000;
        let mut counts = [0u64; 8];
        let mut s = sampler(config);
        for _ in 0..draws {
            counts[s.sample(&logits).unwrap() as usize] += 1;
        }
        // Filtered-out tokens are never drawn.
        let kept_ids: Vec<usize> = want.iter().map(|x| x.0 as usize).collect();
        for (id, &c) in counts.iter().enumerate() {
            assert!(
                kept_ids.contains(&id) || c == 0,
                "case {i}: token {id} drawn {c} times"
            );
        }
        let observed: Vec<u64> = kept_ids.iter().map(|&id| counts[id]).collect();
        let probs: Vec<f64> = want.iter().map(|x| x.1).collect();
        let stat = chi_square(&observed, &probs, draws);
        assert!(
            stat < threshold,
            "case {i}: chi-square {stat} ≥ {threshold}; counts {observed:?}"
        );
    }
}

/// Fixed logits for the cross-platform runs, built from integer arithmetic and exact float
/// operations only, so they are the same bits everywhere.
fn cross_platform_logits() -> Vec<Vec<f32>> {
    let mut rng = Prng::new(0xC0FFEE);
    (0..8).map(|_| peaked_logits(&mut rng, 4096, 12)).collect()
}

/// The tokens an independent computation expects: the reference chain (f64, std's exp, full
/// sorts) with the documented random stream, one `next_f64` per draw.
fn reference_run(config: &SamplerConfig, steps: usize, logits: &[Vec<f32>]) -> Vec<u32> {
    let mut rng = Xoshiro256StarStar::seed_from_u64(config.seed);
    let mut accepted: Vec<u32> = Vec::new();
    for i in 0..steps {
        let adjusted = reference_adjusted(&logits[i % logits.len()], config, &accepted);
        let dist = reference_distribution(&adjusted, config);
        accepted.push(reference_draw(&dist, rng.next_f64()));
    }
    accepted
}

#[test]
fn a_seeded_run_gives_the_same_tokens_natively_and_in_wasm() {
    let logits = cross_platform_logits();
    let filtered = SamplerConfig {
        temperature: 0.9,
        top_k: 64,
        top_p: 0.92,
        min_p: 0.01,
        repetition_penalty: 1.15,
        frequency_penalty: 0.1,
        presence_penalty: 0.05,
        penalty_last_n: 16,
        seed: 0x5EED,
        ..SamplerConfig::default()
    };
    let unfiltered = SamplerConfig {
        temperature: 1.3,
        seed: 7,
        ..plain()
    };
    for (config, pinned) in [
        (filtered, &PINNED_FILTERED),
        (unfiltered, &PINNED_UNFILTERED),
    ] {
        let got = run(&config, 64, &logits);
        // Derived: the sampler agrees with an independent f64 computation of the documented
        // chain on the same random stream (so the sequence is right, not just repeatable).
        assert_eq!(got, reference_run(&config, 64, &logits));
        // Pinned: the derivation uses std's exp, whose last bit differs between platforms, so
        // only a constant proves that wasm and native pick the same tokens. These are the
        // first 32 tokens the derivation gives natively; the browser run must match them.
        assert_eq!(got[..32], pinned[..], "got {:?}", &got[..32]);
    }
}
const PINNED_FILTERED: [u32; 32] = [
    3072, 2121, 2401, 2579, 2005, 2798, 3034, 339, 1286, 1123, 1938, 1849, 2010, 861, 3043, 339,
    1994, 1123, 1938, 486, 1828, 2434, 347, 339, 280, 2259, 3265, 46, 2005, 1584, 3034, 339,
];
const PINNED_UNFILTERED: [u32; 32] = [
    2798, 1123, 3265, 3907, 3974, 4064, 347, 339, 1286, 1123, 2201, 2468, 3974, 4064, 2671, 339,
    1286, 1204, 1578, 46, 1677, 2798, 3034, 339, 2955, 1123, 452, 1849, 1737, 2434, 430, 339,
];

// ---------------------------------------------------------------------------------------------
// Sampling from top-k candidates (what a GPU top-k reads back)
// ---------------------------------------------------------------------------------------------

/// The `k` highest logits with their ids, ties to the lower id (a full sort), in a scrambled
/// order: `sample_top_k` must not depend on the order it is given.
fn top_candidates(rng: &mut Prng, logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut pairs: Vec<(u32, f32)> = (0..logits.len() as u32)
        .zip(logits.iter().copied())
        .collect();
    pairs.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    pairs.truncate(k);
    for i in (1..pairs.len()).rev() {
        pairs.swap(i, rng.below(i as u64 + 1) as usize);
    }
    pairs
}

#[test]
fn sampling_top_k_candidates_equals_sampling_full_logits() {
    let mut rng = Prng::new(77);
    let settings = [
        SamplerConfig::greedy(),
        SamplerConfig {
            penalty_last_n: 0,
            seed: 5,
            ..SamplerConfig::default() // top-k 40, top-p 0.95, min-p 0.05, temperature 0.8
        },
        SamplerConfig {
            temperature: 1.7,
            top_k: 64,
            top_p: 0.6,
            min_p: 0.0,
            seed: 9,
            ..SamplerConfig::default() // penalties at their neutral values
        },
        SamplerConfig {
            temperature: 0.3,
            top_k: 5,
            top_p: 1.0,
            min_p: 0.2,
            seed: 1,
            ..SamplerConfig::default()
        },
    ];
    for config in settings {
        let k = sampler(config.clone())
            .top_k_candidates()
            .expect("candidates suffice");
        let (mut full, mut top) = (sampler(config.clone()), sampler(config.clone()));
        for step in 0..300 {
            let n = 50 + rng.below(5000) as usize;
            let mut logits = match step % 3 {
                0 => peaked_logits(&mut rng, n, 1 + step % 7),
                1 => random_logits(&mut rng, n, -3.0, 3.0),
                // Few distinct values: ties everywhere, at the k-th place too.
                _ => (0..n).map(|_| rng.below(4) as f32).collect(),
            };
            if step.is_multiple_of(5) {
                // Some banned tokens (as the model's own −inf logits).
                for _ in 0..n / 2 {
                    logits[rng.below(n as u64) as usize] = f32::NEG_INFINITY;
                }
            }
            // Sometimes more candidates than needed: the extra ones must change nothing.
            let given = k + (step % 2) * 7;
            let candidates = top_candidates(&mut rng, &logits, given);
            let want = full.sample(&logits).unwrap();
            let got = top.sample_top_k(&candidates).unwrap();
            assert_eq!(got, want, "{config:?}, step {step}");
            full.accept(want);
            top.accept(got);
        }
        // Both took the same values from the random stream.
        let logits = random_logits(&mut rng, 100, -1.0, 1.0);
        let candidates = top_candidates(&mut rng, &logits, k);
        assert_eq!(
            full.sample(&logits).unwrap(),
            top.sample_top_k(&candidates).unwrap()
        );
    }
}

#[test]
fn sampling_top_k_candidates_refuses_settings_that_need_every_logit() {
    let needs_all = [
        SamplerConfig {
            top_k: 0,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            repetition_penalty: 1.1,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            logit_bias: vec![(3, -1.0)],
            ..SamplerConfig::greedy()
        },
    ];
    for config in needs_all {
        let mut s = sampler(config.clone());
        assert_eq!(s.top_k_candidates(), None, "{config:?}");
        let err = s.sample_top_k(&[(0, 1.0), (1, 0.5)]).unwrap_err();
        assert!(
            matches!(err, SamplingError::CandidatesUnsupported(_)),
            "{err}"
        );
    }
    // Penalties with an empty window are off.
    let config = SamplerConfig {
        repetition_penalty: 1.3,
        penalty_last_n: 0,
        ..SamplerConfig::default()
    };
    assert_eq!(sampler(config).top_k_candidates(), Some(40));
    // Fewer candidates than top_k: refused, not silently sampled from.
    let mut s = sampler(SamplerConfig::default());
    let err = s.sample_top_k(&[(0, 1.0); 39]).unwrap_err();
    assert!(
        matches!(err, SamplingError::CandidatesUnsupported(_)),
        "{err}"
    );
    let err = sampler(SamplerConfig::greedy())
        .sample_top_k(&[])
        .unwrap_err();
    assert_eq!(err, SamplingError::EmptyLogits);
    let err = sampler(SamplerConfig::greedy())
        .sample_top_k(&[(2, 1.0), (7, f32::NAN)])
        .unwrap_err();
    assert!(
        matches!(err, SamplingError::InvalidLogit { token: 7, .. }),
        "{err}"
    );
}
