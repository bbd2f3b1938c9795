// A layer's new heads made ready for attention, in one dispatch: for T tokens at cache rows
// position .. position + T,
//   q heads: QK-norm (optional), rope (optional)  -> q_out  [T, q_heads, head_dim]
//   k heads: QK-norm (optional), rope (optional)  -> k_cache row position + t
//   v heads: copied                                -> v_cache row position + t
// Unfused this took up to five dispatches (two norms, two ropes, the cache write) and two extra
// passes over q and k. The heads are read where the projections left them: each of q, k and v is
// `count` heads starting `offset` elements into rows of `stride` elements, so one stacked QKV
// product (all three in one row) and three separate products are read alike.
//
// QK-norm: head / sqrt(mean(head²) + eps) * (w + weight_offset), as rms_norm.wgsl.
//
// Rope: token t sits at position + t; pair i of a head's leading 2 * half_rot dimensions turns by
// (position + t) * f_i radians, f_i = scale * base^(-2i / rotary_dims). NEOX pairs (x[i],
// x[i + half_rot]); otherwise adjacent values (x[2i], x[2i + 1]). Dimensions past the rotated ones
// are left as they are (normalised, when QK-norm is on).
//
// Rope accuracy. The textbook f32 evaluation — theta = f32(position) * pow(base, …), then sin/cos
// — is off by up to ~1e-3 rad at position 8192: theta itself is rounded to f32 (an ulp of 8192 is
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
// One workgroup per (token, head) of q, k and v together; its invocations stride over the head's
// pairs (one invocation on SwiftShader: `ops::launch::row_reduction`). Specializable: FREQ_VECS
// (the frequency table's length in vec4s, two pairs each, at least one), WG_SIZE (a power of two).

struct Params {
    tokens: u32,
    q_heads: u32,
    kv_heads: u32,
    head_dim: u32,
    // Element offset of each source's first head in token 0's row, and its row stride.
    q_offset: u32,
    q_stride: u32,
    k_offset: u32,
    k_stride: u32,
    v_offset: u32,
    v_stride: u32,
    // The cache row of token 0, which is also its rope position.
    position: u32,
    // Rotated pairs per head; 0 turns rope off.
    half_rot: u32,
    neox: u32,
    // 1: QK-norm q and k heads with q_norm and k_norm.
    normalize: u32,
    eps: f32,
    weight_offset: f32,
    // Turns per position of pair i as a 64-bit fraction: (low word, high word) at
    // freqs[i / 2][2 * (i % 2)] and [2 * (i % 2) + 1].
    freqs: array<vec4<u32>, FREQ_VECS>,
}

const FREQ_VECS: u32 = 16u;
const WG_SIZE: u32 = 64u;

// 2pi / 2^32: radians per unit of the 32-bit turn fraction.
const RADIANS_PER_UNIT: f32 = 1.4629180792671596e-9;

const KIND_Q: u32 = 0u;
const KIND_K: u32 = 1u;
const KIND_V: u32 = 2u;

@group(0) @binding(0) var<storage, read> q_src: array<f32>;
@group(0) @binding(1) var<storage, read> k_src: array<f32>;
@group(0) @binding(2) var<storage, read> v_src: array<f32>;
@group(0) @binding(3) var<storage, read> q_norm: array<f32>;
@group(0) @binding(4) var<storage, read> k_norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

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

// (sin, cos) of pair i's angle at `position`.
fn pair_sin_cos(position: u32, i: u32) -> vec2<f32> {
    let f = params.freqs[i / 2u];
    let lane = 2u * (i % 2u);
    // Top word of (position * turns) mod 2^64; u32 products wrap, which is the modulo we want.
    return sin_cos_turn(position * f[lane + 1u] + mul_hi(position, f[lane]));
}

// Storage bindings cannot be chosen through a pointer portably, so the head's kind picks them
// here; it is the same for the whole workgroup, so these branches do not diverge.
fn load(kind: u32, i: u32) -> f32 {
    switch kind {
        case KIND_Q: { return q_src[i]; }
        case KIND_K: { return k_src[i]; }
        default: { return v_src[i]; }
    }
}

fn norm_weight(kind: u32, d: u32) -> f32 {
    if (kind == KIND_Q) {
        return q_norm[d];
    }
    return k_norm[d];
}

fn store(kind: u32, i: u32, value: f32) {
    switch kind {
        case KIND_Q: { q_out[i] = value; }
        case KIND_K: { k_cache[i] = value; }
        default: { v_cache[i] = value; }
    }
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let heads = params.q_heads + 2u * params.kv_heads;
    let slot = wg.x + wg.y * groups.x;
    // Uniform across the workgroup, so returning keeps the barriers below in uniform control flow.
    if (slot >= params.tokens * heads) {
        return;
    }
    let t = slot / heads;
    let h = slot % heads;
    let hd = params.head_dim;
    let cache_row = (params.position + t) * params.kv_heads;

    var kind = KIND_Q;
    var src = params.q_offset + t * params.q_stride + h * hd;
    var dst = (t * params.q_heads + h) * hd;
    if (h >= params.q_heads + params.kv_heads) {
        let kv = h - params.q_heads - params.kv_heads;
        kind = KIND_V;
        src = params.v_offset + t * params.v_stride + kv * hd;
        dst = (cache_row + kv) * hd;
    } else if (h >= params.q_heads) {
        let kv = h - params.q_heads;
        kind = KIND_K;
        src = params.k_offset + t * params.k_stride + kv * hd;
        dst = (cache_row + kv) * hd;
    }

    if (kind == KIND_V) {
        for (var d = li; d < hd; d += WG_SIZE) {
            store(kind, dst + d, load(kind, src + d));
        }
        return;
    }

    // QK-norm's scale, reduced by workgroup_sum.wgsl (prepended).
    var inv = 1.0;
    if (params.normalize != 0u) {
        var sum = 0.0;
        for (var d = li; d < hd; d += WG_SIZE) {
            let v = load(kind, src + d);
            sum = fma(v, v, sum);
        }
        inv = inverseSqrt(workgroup_sum(li, sum) / f32(hd) + params.eps);
    }

    let position = params.position + t;
    for (var i = li; i < params.half_rot; i += WG_SIZE) {
        var a = 2u * i;
        var b = a + 1u;
        if (params.neox != 0u) {
            a = i;
            b = i + params.half_rot;
        }
        var x0 = load(kind, src + a);
        var x1 = load(kind, src + b);
        if (params.normalize != 0u) {
            x0 = x0 * inv * (norm_weight(kind, a) + params.weight_offset);
            x1 = x1 * inv * (norm_weight(kind, b) + params.weight_offset);
        }
        let sc = pair_sin_cos(position, i);
        store(kind, dst + a, x0 * sc.y - x1 * sc.x);
        store(kind, dst + b, x0 * sc.x + x1 * sc.y);
    }
    for (var d = 2u * params.half_rot + li; d < hd; d += WG_SIZE) {
        var x = load(kind, src + d);
        if (params.normalize != 0u) {
            x = x * inv * (norm_weight(kind, d) + params.weight_offset);
        }
        store(kind, dst + d, x);
    }
}
