// Quantized matrix-vector product for decode: y[t, row] = Σ_c W[row, c] · x[t, c], for the rows
// of one weight part (quant_blocks.wgsl, prepended, decodes W's blocks in registers), and for
// each of the m rows of x (m = 1 in decode).
//
// A workgroup computes ROWS_PER_WG rows with THREADS_PER_ROW invocations each, for TOKENS rows of
// x: each weight unit is decoded once and multiplied with TOKENS vectors. The invocations of a
// row take its 32-value units in turn (unit t, t + THREADS_PER_ROW, …), accumulate in f32, and
// reduce their partial sums through workgroup memory in log2(THREADS_PER_ROW) steps. No subgroup
// operations: WebGPU may lack them, and a row's reduction is a few steps out of hundreds of loads.
// With THREADS_PER_ROW = 1 (CPU adapters) there is no barrier at all, which is why prefill there
// uses this kernel with TOKENS > 1 rather than the tiled matrix-matrix one.
// Specializable: THREADS_PER_ROW (a power of two), ROWS_PER_WG, TOKENS, and the format constants.
//
// Precision: f32 by default (F16 weights are widened with unpack2x16float, core WGSL, so that
// path needs no `shader-f16`). Specialized to f16 (`kernel::Precision::F16`), weights are decoded
// and x rounded to f16, each group of four products is summed in f16 by `dot`, and the groups are
// added up in the f32 accumulator.

struct Params {
    rows: u32,           // rows in this part
    units: u32,          // 32-value units per row (cols / 32)
    row_blocks: u32,     // blocks per row
    out_offset: u32,     // index in a row of y of this part's first row
    m: u32,              // rows of x (tokens)
    out_stride: u32,     // values per row of y (the whole matrix's rows)
    row_groups: u32,     // workgroups along the rows; the rest of the grid walks the tokens
    _pad: u32,
}

const THREADS_PER_ROW: u32 = 8u;
const ROWS_PER_WG: u32 = 32u;
const TOKENS: u32 = 1u;
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
    let linear = wg.x + wg.y * groups.x;
    let row = (linear % params.row_groups) * ROWS_PER_WG + li / THREADS_PER_ROW;
    let first_token = (linear / params.row_groups) * TOKENS;
    let x_row = params.units * 8u; // vec4s per row of x

    var acc: array<f32, TOKENS>;
    for (var t = 0u; t < TOKENS; t++) {
        acc[t] = 0.0;
    }
    // Rows past the end still join the reduction below: barriers need the whole workgroup.
    if (row < params.rows && first_token < params.m) {
        let tokens = min(TOKENS, params.m - first_token);
        let row_block = row * params.row_blocks;
        for (var unit = lane; unit < params.units; unit += THREADS_PER_ROW) {
            let u = unit_at((row_block + unit / UNITS_PER_BLOCK) * BLOCK_WORDS, unit % UNITS_PER_BLOCK);
            let xi = first_token * x_row + unit * 8u;
            for (var j = 0u; j < 8u; j++) {
                let w = unit_values(u, j);
                if (TOKENS == 1u) {
                    // Decode's hot loop, kept free of the token loop.
                    acc[0] += f32(dot(w, vec4<real>(x[xi + j])));
                } else {
                    for (var t = 0u; t < tokens; t++) {
                        acc[t] += f32(dot(w, vec4<real>(x[xi + t * x_row + j])));
                    }
                }
            }
        }
    }

    for (var t = 0u; t < TOKENS; t++) {
        partial[li] = acc[t];
        for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
            workgroupBarrier();
            if (lane < stride) {
                partial[li] += partial[li + stride];
            }
        }
        let token = first_token + t;
        if (lane == 0u && row < params.rows && token < params.m) {
            y[token * params.out_stride + params.out_offset + row] = partial[li];
        }
        if (THREADS_PER_ROW > 1u) {
            // Lane 0 has read its neighbours' sums before they are overwritten for the next token.
            workgroupBarrier();
        }
    }
}
