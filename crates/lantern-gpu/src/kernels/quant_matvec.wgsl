// Quantized matrix-vector product for decode: y[row] = Σ_c W[row, c] · x[c], for the rows of one
// weight part (quant_blocks.wgsl, prepended, decodes W's blocks in registers).
//
// A workgroup computes ROWS_PER_WG rows with THREADS_PER_ROW invocations each. The invocations of a
// row take its 32-value units in turn (unit t, t + THREADS_PER_ROW, …), accumulate in f32, and
// reduce their partial sums through workgroup memory in log2(THREADS_PER_ROW) steps. No subgroup
// operations: WebGPU may lack them, and a row's reduction is a few steps out of hundreds of loads.
// Specializable: THREADS_PER_ROW (a power of two), ROWS_PER_WG, and the format constants.
//
// Precision: f32 by default (F16 weights are widened with unpack2x16float, core WGSL, so that
// path needs no `shader-f16`). Specialized to f16 (`kernel::Precision::F16`), weights are decoded
// and x rounded to f16, each group of four products is summed in f16 by `dot`, and the groups are
// added up in the f32 accumulator.

struct Params {
    rows: u32,           // rows in this part
    units: u32,          // 32-value units per row (cols / 32)
    row_blocks: u32,     // blocks per row
    out_offset: u32,     // index in y of this part's first row
}

const THREADS_PER_ROW: u32 = 8u;
const ROWS_PER_WG: u32 = 32u;
const WG_SIZE: u32 = THREADS_PER_ROW * ROWS_PER_WG;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let lane = li % THREADS_PER_ROW;
    let row = (wg.x + wg.y * groups.x) * ROWS_PER_WG + li / THREADS_PER_ROW;

    var acc = 0.0;
    // Rows past the end still join the reduction below: barriers need the whole workgroup.
    if (row < params.rows) {
        let row_block = row * params.row_blocks;
        for (var unit = lane; unit < params.units; unit += THREADS_PER_ROW) {
            let u = unit_at((row_block + unit / UNITS_PER_BLOCK) * BLOCK_WORDS, unit % UNITS_PER_BLOCK);
            let xi = unit * 8u;
            for (var j = 0u; j < 8u; j++) {
                acc += f32(dot(unit_values(u, j), vec4<real>(x[xi + j])));
            }
        }
    }

    partial[li] = acc;
    for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) {
            partial[li] += partial[li + stride];
        }
    }
    if (lane == 0u && row < params.rows) {
        y[params.out_offset + row] = partial[li];
    }
}
