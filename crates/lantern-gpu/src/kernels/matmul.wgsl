// Tiled f32 matrix product C[M,N] = A[M,K] · B[K,N], all row-major.
//
// Each workgroup computes a TILE_M × TILE_N block of C. Per step along K it stages a TILE_M × TILE_K
// slice of A and a TILE_K × TILE_N slice of B in workgroup memory (zero-padded past the edges, so
// sizes need not be multiples of the tile), then every invocation accumulates a THREAD_M × THREAD_N
// block of C in registers: each value loaded from workgroup memory is used THREAD_N (or THREAD_M)
// times. Specializable: the TILE_* and THREAD_* constants (TILE_M / THREAD_M × TILE_N / THREAD_N
// invocations must fit the device's workgroup limits).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // Workgroups along N; the flat workgroup index is split into (row block, column block).
    col_blocks: u32,
}

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREAD_M: u32 = 4u;
const THREAD_N: u32 = 4u;
const WG_X: u32 = TILE_N / THREAD_N;
const WG_Y: u32 = TILE_M / THREAD_M;
const INVOCATIONS: u32 = WG_X * WG_Y;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Stored K-major ([k][m] and [k][n]) so the inner loop reads consecutive addresses.
var<workgroup> tile_a: array<f32, TILE_K * TILE_M>;
var<workgroup> tile_b: array<f32, TILE_K * TILE_N>;

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

    // Indexed by constants only: the loops over THREAD_M and THREAD_N are unrolled (see
    // quant_matvec.wgsl on why SwiftShader and lavapipe need that).
    var acc: array<f32, THREAD_M * THREAD_N>;
    var a_reg: array<f32, THREAD_M>;
    var b_reg: array<f32, THREAD_N>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        for (var i = li; i < TILE_M * TILE_K; i += INVOCATIONS) {
            let r = i / TILE_K;
            let kk = i % TILE_K;
            var v = 0.0;
            if (row0 + r < params.m && k0 + kk < params.k) {
                v = a[(row0 + r) * params.k + k0 + kk];
            }
            tile_a[kk * TILE_M + r] = v;
        }
        for (var i = li; i < TILE_K * TILE_N; i += INVOCATIONS) {
            let kk = i / TILE_N;
            let col = i % TILE_N;
            var v = 0.0;
            if (k0 + kk < params.k && col0 + col < params.n) {
                v = b[(k0 + kk) * params.n + col0 + col];
            }
            tile_b[kk * TILE_N + col] = v;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
                a_reg[tm] = tile_a[kk * TILE_M + lid.y * THREAD_M + tm];
            }
            for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                b_reg[tn] = tile_b[kk * TILE_N + lid.x * THREAD_N + tn];
            }
            for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
                for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
                    acc[tm * THREAD_N + tn] = fma(a_reg[tm], b_reg[tn], acc[tm * THREAD_N + tn]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var tm = 0u; tm < THREAD_M; tm++) { // unroll
        let row = row0 + lid.y * THREAD_M + tm;
        for (var tn = 0u; tn < THREAD_N; tn++) { // unroll
            let col = col0 + lid.x * THREAD_N + tn;
            if (row < params.m && col < params.n) {
                c[row * params.n + col] = acc[tm * THREAD_N + tn];
            }
        }
    }
}
