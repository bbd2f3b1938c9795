// Rotary position embedding, in place on q or k laid out [T, heads, head_dim]. Token t sits at
// position start + t; pair i of its leading `2 * half_rot` dimensions turns by position * f_i
// radians, f_i = scale * base^(-2i / rotary_dims). NEOX pairs (x[i], x[i + half_rot]); otherwise
// adjacent values (x[2i], x[2i + 1]). Dimensions past the rotated ones are left as they are.
//
// Accuracy. The textbook f32 evaluation — theta = f32(position) * pow(base, …), then sin/cos —
// is off by up to ~1e-3 rad at position 8192: theta itself is rounded to f32 (an ulp of 8192 is
// 1e-3), and WGSL only bounds sin/cos inside [-pi, pi]. Instead:
//   - the CPU computes each f_i in f64 and sends it as 64-bit fixed-point *turns* per position
//     (f_i / 2pi scaled by 2^64) in the parameter block;
//   - the angle in turns, position * f_i / 2pi modulo 1, is then an exact integer product modulo
//     2^64, of which we keep the top 32 bits (truncation: under 2^-32 turns = 1.5e-9 rad);
//   - the top two bits pick the quadrant exactly, the rest is an angle in [-pi/4, pi/4) where
//     short Taylor series give sin and cos within an ulp or two, independent of the device's
//     built-in sin/cos.
// The rotated values end up within a few f32 ulps of an f64 evaluation at any position < 2^32.
//
// One invocation per rotated pair. Specializable: FREQ_VECS (the length of the frequency table in
// vec4s, two pairs each; the launcher sizes it to the rotated dimensions), WG_SIZE.

struct Params {
    // T * heads * half_rot: invocations with work.
    pairs: u32,
    heads: u32,
    head_dim: u32,
    half_rot: u32,
    start: u32,
    neox: u32,
    _pad0: u32,
    _pad1: u32,
    // Turns per position of pair i as a 64-bit fraction: (low word, high word) at
    // freqs[i / 2][2 * (i % 2)] and [2 * (i % 2) + 1].
    freqs: array<vec4<u32>, FREQ_VECS>,
}

const FREQ_VECS: u32 = 16u;
const WG_SIZE: u32 = 64u;

// 2pi / 2^32: radians per unit of the 32-bit turn fraction.
const RADIANS_PER_UNIT: f32 = 1.4629180792671596e-9;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

// The high 32 bits of the 64-bit product a * b, from 16-bit halves (WGSL has no 64-bit integers).
fn mul_hi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let carry = ((lo_lo >> 16u) + (hi_lo & 0xffffu) + (lo_hi & 0xffffu)) >> 16u;
    return a_hi * b_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + carry;
}

// (sin, cos) of 2pi * turn / 2^32.
fn sin_cos_turn(turn: u32) -> vec2<f32> {
    // Nearest quarter turn, and the signed remainder in [-2^29, 2^29) units: |y| <= pi/4.
    let quadrant = (turn + 0x20000000u) >> 30u;
    let y = f32(bitcast<i32>(turn - (quadrant << 30u))) * RADIANS_PER_UNIT;
    let y2 = y * y;
    // Taylor series to y^9 and y^10: the first omitted terms are below 2e-9 for |y| <= pi/4.
    let s = y + y * y2 * (-1.0 / 6.0 + y2 * (1.0 / 120.0 + y2 * (-1.0 / 5040.0 + y2 * (1.0 / 362880.0))));
    let c = 1.0 + y2 * (-0.5 + y2 * (1.0 / 24.0 + y2 * (-1.0 / 720.0 + y2 * (1.0 / 40320.0 + y2 * (-1.0 / 3628800.0)))));
    switch quadrant {
        case 0u: { return vec2<f32>(s, c); }
        case 1u: { return vec2<f32>(c, -s); }
        case 2u: { return vec2<f32>(-s, -c); }
        default: { return vec2<f32>(-c, s); }
    }
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let n = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    if (n >= params.pairs) {
        return;
    }
    let i = n % params.half_rot;
    let head_index = n / params.half_rot; // t * heads + head
    let t = head_index / params.heads;
    let position = params.start + t;

    let f = params.freqs[i / 2u];
    let lane = 2u * (i % 2u);
    let turns_lo = f[lane];
    let turns_hi = f[lane + 1u];
    // Top word of (position * turns) mod 2^64; u32 products wrap, which is the modulo we want.
    let turn = position * turns_hi + mul_hi(position, turns_lo);
    let sc = sin_cos_turn(turn);

    let base = head_index * params.head_dim;
    var a = base + 2u * i;
    var b = a + 1u;
    if (params.neox != 0u) {
        a = base + i;
        b = base + i + params.half_rot;
    }
    let x0 = x[a];
    let x1 = x[b];
    x[a] = x0 * sc.y - x1 * sc.x;
    x[b] = x0 * sc.x + x1 * sc.y;
}
