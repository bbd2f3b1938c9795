// Quantized matrix-vector product for decode and prefill: y[t, row] = Σ_c W[row, c] · x[t, c], for
// the rows of one weight part (quant_blocks.wgsl, prepended, decodes W's blocks in registers), and
// for each of the m rows of x (m = 1 in decode).
//
// A workgroup computes ROWS_PER_WG × ROWS_PER_THREAD rows with THREADS_PER_ROW invocations per
// ROWS_PER_THREAD consecutive rows, for TOKENS rows of x: each weight unit is decoded once and
// multiplied with TOKENS vectors, and each x value loaded serves ROWS_PER_THREAD rows (on CPU
// adapters; GPUs take 1). The invocations of a row take its 32-value units in turn (unit t, t + THREADS_PER_ROW, …), accumulate in f32, and
// reduce their partial sums through workgroup memory in log2(THREADS_PER_ROW) steps. No subgroup
// operations: WebGPU may lack them, and a row's reduction is a few steps out of hundreds of loads.
// With THREADS_PER_ROW = 1 (CPU adapters) the launcher picks the entry point `main_whole_rows`,
// which has no reduction and no barrier. Prefill uses this kernel with
// TOKENS > 1 rather than the tiled matrix-matrix one, which was slower on CPU adapters and on an
// H200 alike.
// Specializable: THREADS_PER_ROW (a power of two), ROWS_PER_WG, ROWS_PER_THREAD, TOKENS,
// GATED_OUTPUT and ACTIVATION (activation_fns.wgsl), NORMED_INPUT, WEIGHTED_INPUT,
// RESIDUAL_OUTPUT, WEIGHTED_OUTPUT, NORM_WEIGHT_OFFSET, LONG_BODIES, and the format constants.
//
// In decode (TOKENS = 1) in f32, the formats whose units have one scale and one offset (Q8_0,
// Q4_0, Q4_1, Q5_0, Q4_K: SUMMED_UNITS in quant_blocks.wgsl) are not decoded at all: a row's unit sums
// its quant fields times x, then scales that sum once and adds its offset times Σ x.
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
    norm_eps: f32,       // NORMED_INPUT, WEIGHTED_INPUT: the RMSNorm's epsilon
    square_sums: u32,    // WEIGHTED_INPUT: the partial sums of x² in `square_sums_in`
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

const THREADS_PER_ROW: u32 = 8u;
const ROWS_PER_WG: u32 = 32u;
const ROWS_PER_THREAD: u32 = 1u;
const TOKENS: u32 = 1u;
// Whether decode scales each unit's sum once (`SUMMED_UNITS` formats): in f32, not in f16, whose
// range the placed fields exceed.
const SCALE_SUMS: bool = true;
const WG_SIZE: u32 = THREADS_PER_ROW * ROWS_PER_WG;
// A stacked gate/up matrix (rows 0 .. rows/2 the gate's, the rest the up projection's) whose
// product is written as act(gate) · up (activation_fns.wgsl, prepended): rows/2 outputs per row of
// x, each invocation's ROWS_PER_THREAD rows being OUTPUTS_PER_THREAD gate rows and the up rows
// of the same outputs. Whole rows per invocation only (the entry point `main_whole_rows`).
const GATED_OUTPUT: bool = false;
// Rows of y each invocation (or group of THREADS_PER_ROW) writes.
const OUTPUTS_PER_THREAD = select(ROWS_PER_THREAD, ROWS_PER_THREAD / 2u, GATED_OUTPUT);
// x is the residual stream, multiplied as RMSNorm(x) ⊙ (norm_weight + offset): the product sums
// W·(x ⊙ (norm_weight + offset)) and scales it by 1 / rms(x) before storing, the invocation
// summing x² over the values it loads anyway. Whole rows per invocation and one row of x only
// (decode on CPU adapters), where each invocation loads all of x: the norm then needs no
// dispatch of its own.
const NORMED_INPUT: bool = false;
// y += W·x rather than y = W·x: the residual stream updated by the product's store.
const RESIDUAL_OUTPUT: bool = false;
// x is the residual stream times the norm's weights, x ⊙ (norm_weight + offset), and the partial
// sums of x² are in `square_sums_in`, both left by the product that last added into the stream
// (WEIGHTED_OUTPUT): the product scales its sums by 1 / rms(x) from those before storing, for
// RMSNorm(x) ⊙ (norm_weight + offset) at almost the cost of a plain input. Whole rows per
// invocation and one row of x only.
const WEIGHTED_INPUT: bool = false;
// With RESIDUAL_OUTPUT: also writes each new value of the residual stream times the next norm's
// weights to `weighted_out`, and each invocation's sum of its new values squared to
// `square_sums_out[invocation]`, for the next products (WEIGHTED_INPUT). Whole rows per
// invocation, one row of x and one part only.
const WEIGHTED_OUTPUT: bool = false;
// NORMED_INPUT, WEIGHTED_OUTPUT: added to each of the norm's weights (1 for Gemma weights stored
// as w - 1), a constant so that the usual 0 costs nothing per value.
const NORM_WEIGHT_OFFSET: f32 = 0.0;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
// Decode on CPU adapters binds x as a uniform block instead (`var<uniform> x: array<vec4<f32>,
// cols / 4>`, ops/quant_matvec.rs): every lane reads the same x, and lavapipe compiles a uniform
// load at an index that varies at run time into a gather, where it compiles a storage load into
// a loop over its SIMD lanes with a branch and a bounds check per lane.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// The same buffer as `weights`, bound again to be read 16 bytes at a time.
@group(0) @binding(3) var<storage, read> weight_quads: array<vec4<u32>>;
// The bindings of the fusions, after the weights' quads in this order, then the uniform
// parameters: NORMED_INPUT's norm weight, one per value of x (a uniform block where x is one);
// WEIGHTED_INPUT's partial sums of x²; WEIGHTED_OUTPUT's next norm weight, weighted residual and
// partial sums. A variant's unused ones are referenced by no function it keeps (the replacing
// functions of normed_input.wgsl, weighted_input.wgsl and weighted_output.wgsl use them), so
// they are absent from its pipeline's layout, and their numbers out of the way.
const FUSED_BINDINGS = select(0u, 1u, NORMED_INPUT) + select(0u, 1u, WEIGHTED_INPUT) + select(0u, 3u, WEIGHTED_OUTPUT);
const PARAMS_BINDING = 4u + FUSED_BINDINGS;
@group(0) @binding(select(100u, 4u, NORMED_INPUT)) var<storage, read> norm_weight: array<vec4<f32>>;
@group(0) @binding(select(101u, 4u, WEIGHTED_INPUT)) var<storage, read> square_sums_in: array<vec4<f32>>;
@group(0) @binding(select(102u, 4u, WEIGHTED_OUTPUT)) var<storage, read> next_norm_weight: array<f32>;
@group(0) @binding(select(103u, 5u, WEIGHTED_OUTPUT)) var<storage, read_write> weighted_out: array<f32>;
@group(0) @binding(select(104u, 6u, WEIGHTED_OUTPUT)) var<storage, read_write> square_sums_out: array<f32>;
@group(0) @binding(PARAMS_BINDING) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_SIZE>;

// Words 4i .. 4i+3 of the weights, in one 16-byte load.
fn weight_quad(i: u32) -> vec4<u32> {
    return weight_quads[i];
}

// Formats whose units keep their quants in 8 words from a 16-byte boundary: Q8_0 (planar rows) and
// Q4_K (blocks of 36 words, quants from word 4). The 4-bit planar formats have FOUR_QUANT_WORDS.
const EIGHT_QUANT_WORDS = FORMAT == FMT_Q8_0 || FORMAT == FMT_Q4_K;

// Whether quants are loaded 16 bytes at a time (`Gpu::wide_loads`), or a word at a time.
const QUAD_LOADS: bool = true;

// Whether `values` takes its quant words from `unit_quad` (rather than `unit_values` loading them).
const PRELOADED = FOUR_QUANT_WORDS || (EIGHT_QUANT_WORDS && QUAD_LOADS);

// Quads of quant words per unit that `unit_quad` loads (1 where it loads none).
const QUADS_PER_UNIT = select(1u, 2u, EIGHT_QUANT_WORDS && QUAD_LOADS);

// Rows of an invocation whose units' second quads it keeps: all, or none (one unused entry).
const HI_QUAD_ROWS = select(1u, ROWS_PER_THREAD, QUADS_PER_UNIT == 2u);

// Quad `i` (0 .. QUADS_PER_UNIT) of a unit's quant words, loaded whole, once for all the unit's 32
// values, where `unit_values` would load a word per four values (twice per word for the 4-bit
// formats: once per nibble); zeros where `unit_values` reads them instead. On a CPU adapter a
// load is a loop over the SIMD lanes with a bounds check per value, and loads are what its
// products spend most on (see MatvecShape). Measured on lavapipe (examples/matvec_speed.rs,
// alternating runs): the 4-bit units' words loaded once rather than twice made SmolLM2's Q4_1
// products 1.3× faster and Gemma 3's Q5_0 ones 1.2×; then with QUAD_LOADS (one 16-byte load per
// quad, which the planar rows of src/quant/mod.rs align) Q4_1 1.1–1.26×, Q8_0 1.2× and Q4_K
// 1.07× more.
fn unit_quad(u: Unit, i: u32) -> vec4<u32> {
    if (QUAD_LOADS && PRELOADED) {
        return weight_quad(u.q / 4u + i);
    }
    if (FOUR_QUANT_WORDS) {
        return four_words(u.q);
    }
    return vec4<u32>(0u);
}

// Quant word k (0 .. UNIT_QUANT_WORDS) of unit u, from its quads (of `unit_quad`) `lo` and `hi`
// when it loaded them. The quads come as two vec4s, and the one for k is picked by a branch, not
// by indexing an array with k: lavapipe keeps an array indexed by a loop variable in memory,
// which made its Q8_0 and Q4_K products 2× slower; and SwiftShader ran the products 1.1–1.5×
// slower with both quads in one struct.
fn unit_quant_word(u: Unit, lo: vec4<u32>, hi: vec4<u32>, k: u32) -> u32 {
    if (PRELOADED) {
        if (QUADS_PER_UNIT == 2u && k >= 4u) {
            return hi[k % 4u];
        }
        return lo[k % 4u];
    }
    return weight_word(u.q + k);
}

// Values 4j .. 4j+3 of unit u, whose quads (of `unit_quad`) are `lo` and `hi`, decoded from the
// quant word `unit_quant_word` picks for j: word j, or for the 4-bit formats word j % 4, in whose
// low (j < 4) or high nibbles they are.
fn values(u: Unit, lo: vec4<u32>, hi: vec4<u32>, j: u32) -> vec4<real> {
    if (PRELOADED) {
        return decode_values(u, j, unit_quant_word(u, lo, hi, j), 0u);
    }
    return unit_values(u, j);
}

// The rows and tokens of invocation `li` of workgroup `linear` (the grid flattened).
struct Place {
    lane: u32,        // which of its row's THREADS_PER_ROW invocations it is
    first_row: u32,   // the first of its ROWS_PER_THREAD rows (GATED_OUTPUT: of its outputs)
    first_token: u32, // the first of its TOKENS rows of x
}

fn place(linear: u32, li: u32) -> Place {
    return Place(
        li % THREADS_PER_ROW,
        ((linear % params.row_groups) * ROWS_PER_WG + li / THREADS_PER_ROW) * OUTPUTS_PER_THREAD,
        (linear / params.row_groups) * TOKENS,
    );
}

// This invocation's share of its rows' sums, filled in by `products`: acc[t * ROWS_PER_THREAD + r]
// for token first_token + t and row first_row + r (all of it when THREADS_PER_ROW = 1). Private
// to the invocation; not a returned array, whose copy made lavapipe's prefill products (64
// values each) up to 10% slower.
//
// Every loop over rows and tokens is unrolled (`// unroll`, src/unroll.rs), so that `acc`, `u`,
// `lo`, `row` and `w` are only ever indexed by constants. SwiftShader keeps such arrays in memory
// and turns an index that varies at run time into a gather across its lanes, and lavapipe does
// not unroll the 8 × 8 loops of a prefill product itself: unrolled, SwiftShader's products ran
// 1.5–2.5× faster (Chromium, alternating builds) and lavapipe's prefill products 2–3× faster
// (examples/matvec_speed.rs --tokens 64). For that, the token loop always runs TOKENS times:
// rows of x past M repeat the last one, and their sums are not stored.
var<private> acc: array<f32, TOKENS * ROWS_PER_THREAD>;

// Values 4i .. 4i+3 of x. NORMED_INPUT replaces this and `norm_scale` by normed_input.wgsl's,
// so that norm_weight is in no other variant's bindings (a variable referenced in a branch that
// never runs still is).
fn input(i: u32) -> vec4<f32> {
    return x[i];
}

// NORMED_INPUT: Σ x² over the values of x that `input` has returned.
var<private> input_squares: f32;

// WEIGHTED_OUTPUT: Σ over the rows this invocation has stored of their new values squared.
var<private> output_squares: f32;

// NORMED_INPUT: 1 / rms(x), from the values of x that `input` has returned.
fn norm_scale() -> f32 {
    return 1.0;
}

// Decode in f32 for the formats whose units are summed (SUMMED_UNITS in quant_blocks.wgsl): each
// row's unit sums its quant fields times x, then scales that sum once and adds its offset times Σ x.
const SUMMED_DECODE = TOKENS == 1u && SUMMED_UNITS && SCALE_SUMS;

// Decode of Q4_K with whole rows per invocation (CPU adapters) goes block by block
// (`add_q4k_block`) rather than unit by unit.
const BLOCKWISE_Q4_K = SUMMED_DECODE && FORMAT == FMT_Q4_K && THREADS_PER_ROW == 1u;

// Quad `i` of the weights (words 4i .. 4i+3): one 16-byte load, or four word loads.
fn quad_at(i: u32) -> vec4<u32> {
    if (QUAD_LOADS) {
        return weight_quad(i);
    }
    return four_words(4u * i);
}

// BLOCKWISE_Q4_K: adds block `block` of each of the invocation's rows (`row`: their first words)
// times x (from vec4 `x_start`) to `acc`. Each row's 4-word header (d, dmin, the packed scales) is
// loaded once for the block's 8 units rather than per unit, the loop over sub-block pairs is
// unrolled so that the scales are decoded with constant shifts (`q4k_unit`), and each quant word
// is loaded once for the two sub-blocks in its low and high nibbles.
fn add_q4k_block(row: ptr<function, array<u32, ROWS_PER_THREAD>>, x_start: u32, block: u32) {
    var base: array<u32, ROWS_PER_THREAD>;
    var header: array<vec4<u32>, ROWS_PER_THREAD>;
    for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
        base[r] = (*row)[r] + block * BLOCK_WORDS;
        header[r] = quad_at(base[r] / 4u);
    }
    for (var pair = 0u; pair < 4u; pair++) { // unroll
        let xi = x_start + (block * 8u + 2u * pair) * 8u;
        var low: array<Unit, ROWS_PER_THREAD>;
        var high: array<Unit, ROWS_PER_THREAD>;
        var lo: array<vec4<u32>, ROWS_PER_THREAD>;
        var hi: array<vec4<u32>, ROWS_PER_THREAD>;
        var low_sums: array<f32, ROWS_PER_THREAD>;
        var high_sums: array<f32, ROWS_PER_THREAD>;
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            low[r] = q4k_unit(base[r], header[r], 2u * pair);
            high[r] = q4k_unit(base[r], header[r], 2u * pair + 1u);
            lo[r] = unit_quad(low[r], 0u);
            hi[r] = unit_quad(low[r], 1u);
            low_sums[r] = 0.0;
            high_sums[r] = 0.0;
        }
        var low_x_sum = 0.0;
        var high_x_sum = 0.0;
        for (var k = 0u; k < 8u; k++) { // unroll
            let x_low = input(xi + k);
            let x_high = input(xi + 8u + k);
            low_x_sum += dot(x_low, vec4<f32>(1.0));
            high_x_sum += dot(x_high, vec4<f32>(1.0));
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                let word = unit_quant_word(low[r], lo[r], hi[r], k);
                low_sums[r] += dot(placed_nibbles(word, false), x_low);
                high_sums[r] += dot(placed_nibbles(word, true), x_high);
            }
        }
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            acc[r] += unit_total(low[r], low_sums[r], low_x_sum) + unit_total(high[r], high_sums[r], high_x_sum);
        }
    }
}

// Whether the adapter's compiler takes long unrolled bodies (`Gpu::unroll_long_loops`).
const LONG_BODIES: bool = true;

// Decode of Q6_K with whole rows per invocation, in f32, goes block by block (`add_q6k_block`)
// rather than unit by unit on lavapipe (LONG_BODIES): its products ran 1.65–1.95× faster
// (examples/matvec_speed.rs, alternating builds). SwiftShader's ran no faster, and took 4 s
// longer to compile.
const BLOCKWISE_Q6_K = TOKENS == 1u && SCALE_SUMS && FORMAT == FMT_Q6_K && THREADS_PER_ROW == 1u && LONG_BODIES;

// BLOCKWISE_Q6_K: adds block `block` of each of the invocation's rows (`row`: their first words)
// times x (from vec4 `x_start`) to `acc`. A Q6_K unit's words are shared: a low-bits word by
// the two units in its low and high nibbles, a high-bits word by the four units of a 128-value
// half (quant_blocks.wgsl's `unit_at`), and unit by unit each was loaded once per unit, twice
// or four times in all. Here each 16-value quarter of the four units of a half (`part`) loads
// its three quads once: low bits of units 0 and 2 (`low_a`), of units 1 and 3 (`low_b`), high
// bits of all four, 14 quad loads per block and row against 144 word loads. Each unit's 16
// values share one scale, applied once to their sum.
fn add_q6k_block(row: ptr<function, array<u32, ROWS_PER_THREAD>>, x_start: u32, block: u32) {
    var base: array<u32, ROWS_PER_THREAD>;
    var scales: array<vec4<u32>, ROWS_PER_THREAD>;
    var d: array<f32, ROWS_PER_THREAD>;
    for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
        base[r] = ((*row)[r] + block * BLOCK_WORDS) / 4u;
        scales[r] = quad_at(base[r] + 12u);
        d[r] = f16_low(quad_at(base[r] + 13u).x);
    }
    for (var half = 0u; half < 2u; half++) {
        for (var part = 0u; part < 2u; part++) { // unroll
            // x at values 16·part .. 16·part + 15 of each of the half's units (unit 4·half + k).
            var xs: array<vec4<f32>, 16>;
            var x_sums: array<f32, 4>;
            for (var k = 0u; k < 4u; k++) { // unroll
                x_sums[k] = 0.0;
                for (var m = 0u; m < 4u; m++) { // unroll
                    xs[4u * k + m] = input(x_start + (block * 8u + 4u * half + k) * 8u + 4u * part + m);
                    x_sums[k] += dot(xs[4u * k + m], vec4<f32>(1.0));
                }
            }
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                let low_a = quad_at(base[r] + 4u * half + part);
                let low_b = quad_at(base[r] + 4u * half + 2u + part);
                let high = quad_at(base[r] + 8u + 2u * half + part);
                for (var k = 0u; k < 4u; k++) { // unroll
                    var sum = 0.0;
                    for (var m = 0u; m < 4u; m++) { // unroll
                        let low = select(low_a[m], low_b[m], k % 2u == 1u);
                        let q = nibbles(low, k >= 2u, 1.0) + byte_fields(high[m], 0x03030303u << (2u * k)) * (BYTE_PLACES * (16.0 / f32(1u << (2u * k))));
                        sum += dot(q, xs[4u * k + m]);
                    }
                    // Signed scale 8·half + 2k + part of the 16 in words 12 .. 15 of the block.
                    let s = 8u * half + 2u * k + part;
                    let scale = f32(extractBits(bitcast<i32>(scales[r][s / 4u]), 8u * (s % 4u), 8u));
                    acc[r] += d[r] * scale * (sum - 32.0 * x_sums[k]);
                }
            }
        }
    }
}

fn products(at: Place) {
    let lane = at.lane;
    let first_row = at.first_row;
    let first_token = at.first_token;
    let x_row = params.units * 8u; // vec4s per row of x

    for (var t = 0u; t < TOKENS; t++) { // unroll
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            acc[t * ROWS_PER_THREAD + r] = 0.0;
        }
    }
    // Rows past the end (an invocation's ROWS_PER_THREAD rows may straddle it) compute the last
    // row again, their sums not written, rather than branch per row inside the loop; they also
    // join the reduction below (barriers need the whole workgroup).
    if (first_token < params.m) {
        let last_token = min(TOKENS, params.m - first_token) - 1u;
        var row: array<u32, ROWS_PER_THREAD>;
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            row[r] = row_start(weight_row(first_row, r), params.row_blocks);
        }
        if (BLOCKWISE_Q4_K) {
            for (var block = 0u; block < params.row_blocks; block++) {
                add_q4k_block(&row, first_token * x_row, block);
            }
            return;
        }
        if (BLOCKWISE_Q6_K) {
            for (var block = 0u; block < params.row_blocks; block++) {
                add_q6k_block(&row, first_token * x_row, block);
            }
            return;
        }
        for (var unit = lane; unit < params.units; unit += THREADS_PER_ROW) {
            var u: array<Unit, ROWS_PER_THREAD>;
            // Each row's first quad, and its second where units have two (one unused entry else).
            var lo: array<vec4<u32>, ROWS_PER_THREAD>;
            var hi: array<vec4<u32>, HI_QUAD_ROWS>;
            for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                u[r] = unit_at(row[r], params.row_blocks, unit);
                lo[r] = unit_quad(u[r], 0u);
                if (QUADS_PER_UNIT == 2u) {
                    hi[r % HI_QUAD_ROWS] = unit_quad(u[r], 1u);
                }
            }
            let xi = first_token * x_row + unit * 8u;
            if (SUMMED_DECODE) {
                // Decode: each row's unit summed unscaled, then scaled once (quant_blocks.wgsl).
                var sums: array<f32, ROWS_PER_THREAD>;
                for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                    sums[r] = 0.0;
                }
                var x_sum = 0.0;
                // (8 iterations, the 4-bit formats' last 4 empty: the unroller needs a literal.)
                for (var k = 0u; k < 8u; k++) { // unroll
                    if (k < UNIT_QUANT_WORDS) {
                        let x_low = input(xi + k);
                        var x_high = x_low;
                        if (FOUR_QUANT_WORDS) {
                            x_high = input(xi + k + 4u);
                        }
                        if (UNIT_OFFSET) {
                            x_sum += dot(x_low, vec4<f32>(1.0));
                            if (FOUR_QUANT_WORDS) {
                                x_sum += dot(x_high, vec4<f32>(1.0));
                            }
                        }
                        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                            let word = unit_quant_word(u[r], lo[r], hi[r % HI_QUAD_ROWS], k);
                            sums[r] += placed_dot(u[r], k, word, x_low, x_high);
                        }
                    }
                }
                for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                    acc[r] += unit_total(u[r], sums[r], x_sum);
                }
                continue;
            }
            for (var j = 0u; j < 8u; j++) {
                if (TOKENS == 1u) {
                    // Decode's loop for the formats not summed per unit (and for f16), kept
                    // free of the token loop. Each x load serves ROWS_PER_THREAD rows: on a CPU
                    // adapter, where a load costs about as much per value as decoding one, x's
                    // loads would otherwise outnumber W's.
                    let xv = vec4<real>(input(xi + j));
                    for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                        acc[r] += f32(dot(values(u[r], lo[r], hi[r % HI_QUAD_ROWS], j), xv));
                    }
                } else {
                    var w: array<vec4<real>, ROWS_PER_THREAD>;
                    for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                        w[r] = values(u[r], lo[r], hi[r % HI_QUAD_ROWS], j);
                    }
                    for (var t = 0u; t < TOKENS; t++) { // unroll
                        let xv = vec4<real>(x[xi + min(t, last_token) * x_row + j]);
                        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
                            acc[t * ROWS_PER_THREAD + r] += f32(dot(w[r], xv));
                        }
                    }
                }
            }
        }
    }
}

// Rows of y this part writes: one per weight row, or GATED_OUTPUT one per gate and up row pair.
fn output_rows() -> u32 {
    return select(params.rows, params.rows / 2u, GATED_OUTPUT);
}

// Row r (0 .. ROWS_PER_THREAD) of the weights of the invocation whose first row (GATED_OUTPUT:
// output) is `first`: past the last, the last again.
fn weight_row(first: u32, r: u32) -> u32 {
    if (GATED_OUTPUT) {
        let outputs = output_rows();
        let output = min(first + r % OUTPUTS_PER_THREAD, outputs - 1u);
        return select(output, outputs + output, r >= OUTPUTS_PER_THREAD);
    }
    return min(first + r, params.rows - 1u);
}

// y[token, out_offset + row], for rows and tokens that exist.
fn store(token: u32, row: u32, value: f32) {
    if (row < output_rows() && token < params.m) {
        let i = token * params.out_stride + params.out_offset + row;
        if (RESIDUAL_OUTPUT) {
            y[i] += value;
        } else {
            y[i] = value;
        }
    }
}

// WEIGHTED_OUTPUT: what weighted_output.wgsl's `store` has summed, written for the invocation `li`
// of workgroup `linear`; nothing otherwise.
fn store_square_sum(linear: u32, li: u32) {
}

// THREADS_PER_ROW > 1 (GPUs): a row's invocations add up their shares through workgroup memory.
@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let at = place(wg.x + wg.y * groups.x, li);
    products(at);
    for (var i = 0u; i < TOKENS * ROWS_PER_THREAD; i++) {
        partial[li] = acc[i];
        for (var stride = THREADS_PER_ROW / 2u; stride > 0u; stride /= 2u) {
            workgroupBarrier();
            if (at.lane < stride) {
                partial[li] += partial[li + stride];
            }
        }
        if (at.lane == 0u) {
            store(at.first_token + i / ROWS_PER_THREAD, at.first_row + i % ROWS_PER_THREAD, partial[li]);
        }
        // Lane 0 has read its neighbours' sums before they are overwritten for the next one.
        workgroupBarrier();
    }
}

// THREADS_PER_ROW = 1 (CPU adapters): each invocation has whole rows, so nothing is reduced and
// the entry point has no barrier at all. A barrier anywhere in a shader, even one that never
// runs (THREADS_PER_ROW = 1 makes `main`'s loop empty), made lavapipe's products 1.04–1.76×
// slower (examples/matvec_speed.rs, alternating runs): its compiler does not drop it.
@compute @workgroup_size(WG_SIZE, 1, 1)
fn main_whole_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let at = place(wg.x + wg.y * groups.x, li);
    products(at);
    if (NORMED_INPUT || WEIGHTED_INPUT) {
        let scale = norm_scale();
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            acc[r] *= scale;
        }
    }
    for (var t = 0u; t < TOKENS; t++) { // unroll
        for (var r = 0u; r < ROWS_PER_THREAD; r++) { // unroll
            let i = t * ROWS_PER_THREAD + r;
            if (!GATED_OUTPUT) {
                store(at.first_token + t, at.first_row + r, acc[i]);
            } else if (r < OUTPUTS_PER_THREAD) {
                store(at.first_token + t, at.first_row + r, act(acc[i]) * acc[i + OUTPUTS_PER_THREAD]);
            }
        }
    }
    store_square_sum(wg.x + wg.y * groups.x, li);
}
