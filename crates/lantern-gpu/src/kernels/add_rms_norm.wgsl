// Residual add fused with the RMSNorm that follows it in every pre-norm decoder layer:
//   x += y;  h = x / sqrt(mean(x²) + eps) * (w + offset)
// over the rows of [rows, cols] f32 matrices. Unfused this is two passes over x (the add writes it,
// the norm reads it back) and two dispatches; here each invocation adds, stores and squares the same
// elements in one pass, and reads only its own writes back for the final scaling.
//
// One workgroup per row, reduced like rms_norm.wgsl. Specializable: WG_SIZE (a power of two).

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    weight_offset: f32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= params.rows) {
        return;
    }
    let base = row * params.cols;

    var sum = 0.0;
    for (var i = li; i < params.cols; i += WG_SIZE) {
        let v = x[base + i] + y[base + i];
        x[base + i] = v;
        sum = fma(v, v, sum);
    }
    partial[li] = sum;
    for (var stride = WG_SIZE / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (li < stride) {
            partial[li] += partial[li + stride];
        }
    }
    workgroupBarrier();
    let inv = inverseSqrt(partial[0] / f32(params.cols) + params.eps);

    // The same invocation wrote x[base + i] above, so no barrier is needed to read it back.
    for (var i = li; i < params.cols; i += WG_SIZE) {
        h[base + i] = x[base + i] * inv * (w[i] + params.weight_offset);
    }
}
