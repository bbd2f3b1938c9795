// Quantized matrix-matrix product (the matmul peak probe's; prefill runs quant_matvec.wgsl, which
// was faster everywhere it was measured): Y[M, rows] = X[M, cols] · Wᵀ, X and Y row-major f32,
// W quantized (quant_blocks.wgsl, prepended, decodes its blocks). One dispatch covers the rows of
// one weight part, which are columns `col_offset ..` of Y.
//
// Tiled like matmul.wgsl: a workgroup computes a TILE_M × TILE_N block of Y (TILE_M rows of X,
// TILE_N rows of W). Per step along the columns it stages a TILE_M × TILE_K slice of X and the
// dequantized TILE_N × TILE_K slice of W in workgroup memory, so each weight is decoded once per
// workgroup and used TILE_M times; every invocation then accumulates THREAD_M × THREAD_N outputs in
// registers. TILE_K divides 32, so a step never leaves a 32-value unit and cols (a multiple of 32)
// needs no edge handling; rows of X and W past the end are zero-padded. Specializable: the TILE_*
// and THREAD_* constants, and the format constants.
//
// Precision: the tiles and products are `real` (quant_blocks.wgsl). Each step's TILE_K products
// are summed in `real` and then added to the f32 accumulators: in f32 that is just a summation
// order; specialized to f16 (`kernel::Precision::F16`) it halves workgroup memory and registers
// and runs the inner loop at f16 rate, while no sum longer than TILE_K is ever kept in f16.

struct Params {
    m: u32,          // rows of X and Y
    n: u32,          // weight rows in this part
    k: u32,          // cols
    ld_y: u32,       // row stride of Y: all weight rows
    col_offset: u32, // column of Y for this part's first weight row
    col_blocks: u32, // workgroups along n; the flat workgroup index splits into (row, column) block
    row_blocks: u32, // weight blocks per row
}

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREAD_M: u32 = 4u;
const THREAD_N: u32 = 4u;
const WG_X: u32 = TILE_N / THREAD_N;
const WG_Y: u32 = TILE_M / THREAD_M;
const INVOCATIONS: u32 = WG_X * WG_Y;
const GROUPS_K: u32 = TILE_K / 4u; // vec4 groups per tile row

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// K-major ([k][m] and [k][n]) so the inner loop reads consecutive addresses.
var<workgroup> tile_x: array<real, TILE_K * TILE_M>;
var<workgroup> tile_w: array<real, TILE_K * TILE_N>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let block = wg.x + wg.y * groups.x;
    let row0 = (block / params.col_blocks) * TILE_M;
    let col0 = (block % params.col_blocks) * TILE_N;
    let k4 = params.k / 4u;

    // Indexed by constants only: the loops over THREAD_M and THREAD_N are unrolled (see
    // quant_matvec.wgsl on why SwiftShader and lavapipe need that).
    var acc: array<f32, THREAD_M * THREAD_N>;
    var step_sum: array<real, THREAD_M * THREAD_N>;
    var x_reg: array<real, THREAD_M>;
    var w_reg: array<real, THREAD_N>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        for (var i = li; i < TILE_M * GROUPS_K; i += INVOCATIONS) {
            let r = i / GROUPS_K;
            let g = i % GROUPS_K;
            var v = vec4<real>(0.0);
            if (row0 + r < params.m) {
                v = vec4<real>(x[(row0 + r) * k4 + k0 / 4u + g]);
            }
            for (var c = 0u; c < 4u; c++) {
                tile_x[(4u * g + c) * TILE_M + r] = v[c];
            }
        }
        // The unit (32 values) this step lies in, and the vec4 group of it where the step starts.
        let unit = k0 / 32u;
        let j0 = (k0 % 32u) / 4u;
        for (var i = li; i < TILE_N * GROUPS_K; i += INVOCATIONS) {
            let n = i / GROUPS_K;
            let g = i % GROUPS_K;
            var v = vec4<real>(0.0);
            if (col0 + n < params.n) {
                let row = row_start(col0 + n, params.row_blocks);
                v = unit_values(unit_at(row, params.row_blocks, unit), j0 + g);
            }
            for (var c = 0u; c < 4u; c++) {
                tile_w[(4u * g + c) * TILE_N + n] = v[c];
            }
        }
        workgroupBarrier();

        // Zeroed explicitly each step (see ARCHITECTURE.md on loop-local arrays).
        for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
            for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                step_sum[tm * THREAD_N + tn] = real(0.0);
            }
        }
        for (var kk = 0u; kk < TILE_K; kk++) {
            for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
                x_reg[tm] = tile_x[kk * TILE_M + lid.y * THREAD_M + tm];
            }
            for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                w_reg[tn] = tile_w[kk * TILE_N + lid.x * THREAD_N + tn];
            }
            for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
                for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                    step_sum[tm * THREAD_N + tn] = fma(x_reg[tm], w_reg[tn], step_sum[tm * THREAD_N + tn]);
                }
            }
        }
        for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
            for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                acc[tm * THREAD_N + tn] += f32(step_sum[tm * THREAD_N + tn]);
            }
        }
        workgroupBarrier();
    }

    for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
        let row = row0 + lid.y * THREAD_M + tm;
        for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
            let col = col0 + lid.x * THREAD_N + tn;
            if (row < params.m && col < params.n) {
                y[row * params.ld_y + params.col_offset + col] = acc[tm * THREAD_N + tn];
            }
        }
    }
}
