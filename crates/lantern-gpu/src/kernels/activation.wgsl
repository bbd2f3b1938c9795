// Feed-forward activation, elementwise over n f32 values:
//   gated (GATED = true):  out = act(gate) * up    (SwiGLU for SiLU, GeGLU for GELU-tanh)
//   plain (GATED = false): out = act(gate)         (the launcher binds the input as `up` too)
//   stacked (STACKED = true, gated): gate and up are the two halves of each row of one
//     [T, 2·width] input (a stacked gate/up projection computed as one product), out is [T, width]
//
// The activations are activation_fns.wgsl's (prepended).
//
// Specializable: ACTIVATION (0 = SiLU, 1 = GELU-tanh), GATED, STACKED, WG_SIZE.

struct Params {
    n: u32,
    // STACKED: outputs per row (the input rows hold 2·width values)
    width: u32,
}

const GATED: bool = true;
const STACKED: bool = false;
const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

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
