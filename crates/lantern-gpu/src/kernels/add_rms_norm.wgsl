// Residual add fused with the RMSNorm that follows it in every pre-norm decoder layer:
//   x += y;  h = x / sqrt(mean(x²) + eps) * (w + offset)
// over the rows of [rows, cols] f32 matrices, where y is optionally RMS-normalised first with its
// own weight (Gemma's post-attention and post-feed-forward "sandwich" norms):
//   x += y / sqrt(mean(y²) + eps) * (w_y + offset)
// Unfused this is two or three passes over x and y (the norm of y writes it, the add writes x,
// the norm reads it back) and as many dispatches; here each invocation adds, stores and squares
// the same elements in one pass, and reads only its own writes back for the final scaling.
//
// One workgroup per row, reduced by workgroup_sum.wgsl (prepended; on SwiftShader one invocation
// per workgroup, `ops::launch::row_reduction`). Specializable: WG_SIZE (a power of two).

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    weight_offset: f32,
    // 1: normalise y with y_weight before adding it.
    normalize_y: u32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> y_weight: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> h: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

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

    var inv_y = 1.0;
    if (params.normalize_y != 0u) {
        var y_sum = 0.0;
        for (var i = li; i < params.cols; i += WG_SIZE) {
            let v = y[base + i];
            y_sum = fma(v, v, y_sum);
        }
        inv_y = inverseSqrt(workgroup_sum(li, y_sum) / f32(params.cols) + params.eps);
    }

    var sum = 0.0;
    for (var i = li; i < params.cols; i += WG_SIZE) {
        var add = y[base + i];
        if (params.normalize_y != 0u) {
            add = add * inv_y * (y_weight[i] + params.weight_offset);
        }
        let v = x[base + i] + add;
        x[base + i] = v;
        sum = fma(v, v, sum);
    }
    let inv = inverseSqrt(workgroup_sum(li, sum) / f32(params.cols) + params.eps);

    // The same invocation wrote x[base + i] above, so no barrier is needed to read it back.
    for (var i = li; i < params.cols; i += WG_SIZE) {
        h[base + i] = x[base + i] * inv * (w[i] + params.weight_offset);
    }
}
