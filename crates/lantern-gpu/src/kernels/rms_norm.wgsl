// RMSNorm over the rows of a [rows, cols] f32 matrix: y = x / sqrt(mean(x²) + eps) * (w + offset).
//
// Serves both uses in a decoder: per token ([T, hidden] with a hidden-wide weight) and per head for
// QK-norm ([T * heads, head_dim] with a head_dim-wide weight). `weight_offset` is 1 for Gemma
// weights that store w - 1 (safetensors) and 0 otherwise.
//
// One workgroup per row: the invocations stride over the row summing squares, reduce them with
// workgroup_sum.wgsl (prepended), then scale the row. Specializable: WG_SIZE (a power of
// two; the launcher sizes it to the row so short QK-norm rows do not leave most invocations idle,
// and gives SwiftShader one invocation: `ops::launch::row_reduction`).

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    weight_offset: f32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.x + wg.y * groups.x;
    // Uniform across the workgroup, so returning keeps the barriers below in uniform control flow.
    if (row >= params.rows) {
        return;
    }
    let base = row * params.cols;

    var sum = 0.0;
    for (var i = li; i < params.cols; i += WG_SIZE) {
        let v = x[base + i];
        sum = fma(v, v, sum);
    }
    let inv = inverseSqrt(workgroup_sum(li, sum) / f32(params.cols) + params.eps);

    for (var i = li; i < params.cols; i += WG_SIZE) {
        y[base + i] = x[base + i] * inv * (w[i] + params.weight_offset);
    }
}
