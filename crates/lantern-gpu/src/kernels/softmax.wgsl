// Row-wise softmax over a [rows, cols] f32 matrix, numerically stable (subtracts the row maximum).
//
// One workgroup per row: the invocations stride over the row, then reduce the maximum and the sum
// of exponentials through workgroup memory in log2(WG_SIZE) steps. A row that is entirely -inf
// (fully masked) yields zeros rather than NaN. Specializable: WG_SIZE (a power of two).

struct Params {
    rows: u32,
    cols: u32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

// Leaves the reduction of `partial` (maximum when `take_max`, else sum) in partial[0].
fn reduce(li: u32, take_max: bool) {
    for (var stride = WG_SIZE / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (li < stride) {
            let other = partial[li + stride];
            partial[li] = select(partial[li] + other, max(partial[li], other), take_max);
        }
    }
    workgroupBarrier();
}

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

    var row_max = -0x1.fffffep+127f; // the lowest finite f32
    for (var i = li; i < params.cols; i += WG_SIZE) {
        row_max = max(row_max, x[base + i]);
    }
    partial[li] = row_max;
    reduce(li, true);
    let m = partial[0];
    workgroupBarrier();

    var sum = 0.0;
    for (var i = li; i < params.cols; i += WG_SIZE) {
        sum += exp(x[base + i] - m);
    }
    partial[li] = sum;
    reduce(li, false);
    let total = partial[0];

    // total == 0 only when every input is -inf (exp(-inf - m) = 0): a fully masked row.
    let inv = select(1.0 / total, 0.0, total == 0.0);
    for (var i = li; i < params.cols; i += WG_SIZE) {
        y[base + i] = exp(x[base + i] - m) * inv;
    }
}
