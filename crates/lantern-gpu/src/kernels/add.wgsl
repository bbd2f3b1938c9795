// Residual add in place: x += y, elementwise over n f32 values.
//
// One invocation per element; the flat index is recovered from a 2D grid of workgroups.

struct Params {
    n: u32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    if (i < params.n) {
        x[i] += y[i];
    }
}
