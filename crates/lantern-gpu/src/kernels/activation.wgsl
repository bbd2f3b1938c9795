// Feed-forward activation, elementwise over n f32 values:
//   gated (GATED = true):  out = act(gate) * up    (SwiGLU for SiLU, GeGLU for GELU-tanh)
//   plain (GATED = false): out = act(gate)         (the launcher binds the input as `up` too)
//   stacked (STACKED = true, gated): gate and up are the two halves of each row of one
//     [T, 2·width] input (a stacked gate/up projection computed as one product), out is [T, width]
//
// Both activations are written as v * sigmoid(a) with 1 / (1 + exp(-a)):
//   SiLU:      a = v
//   GELU-tanh: a = 2 * sqrt(2/pi) * (v + 0.044715 v³), because 0.5 * (1 + tanh(z)) = sigmoid(2z).
// The sigmoid form never divides infinity by infinity (tanh as sinh/cosh does for large inputs),
// and its relative error stays that of `exp`. The exponent is clamped at 80: past it the result
// is below 1e-34 * |v| either way, and no intermediate overflows to infinity (which WGSL does not
// promise to carry through).
//
// Specializable: ACTIVATION (0 = SiLU, 1 = GELU-tanh), GATED, STACKED, WG_SIZE.

struct Params {
    n: u32,
    // STACKED: outputs per row (the input rows hold 2·width values)
    width: u32,
}

const ACTIVATION: u32 = 0u;
const GATED: bool = true;
const STACKED: bool = false;
const WG_SIZE: u32 = 256u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn sigmoid(a: f32) -> f32 {
    return 1.0 / (1.0 + exp(min(-a, 80.0)));
}

fn act(v: f32) -> f32 {
    if (ACTIVATION == 0u) {
        return v * sigmoid(v);
    }
    return v * sigmoid(2.0 * SQRT_2_OVER_PI * fma(0.044715 * v * v, v, v));
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    if (i >= params.n) {
        return;
    }
    var g = i;
    var v = i;
    if (STACKED) {
        let row = i / params.width;
        g = i + row * params.width;
        v = g + params.width;
    }
    let a = act(gate[g]);
    // `up` is read in both forms so that it stays in the pipeline's automatic bind group layout.
    let u = up[v];
    out[i] = select(a, a * u, GATED);
}
