// Decoding of quantized weight blocks, shared by quant_matvec.wgsl, quant_matmul.wgsl and
// embedding.wgsl: the launchers prepend this file to the kernel's own source. The kernel declares
// the weights as `weights: array<u32>` in the repacked, word-aligned layout of `src/quant/mod.rs`,
// and reads them only through `weight_word` and `four_words` (and quant_matvec.wgsl's
// `weight_quad`): a matrix kept in a texture (`WeightStorage::Texture`) has its launcher declare
// `weights` as one and replace these functions with weight_texture.wgsl's.
//
// Why one file with a specialized FORMAT rather than one kernel file per format: the eight decoders
// share the kernels around them (tiling, reduction, edge handling), which would otherwise be
// copied eight times. `kernel::Specialization` sets FORMAT (and the block geometry) before
// compilation, so `switch FORMAT` has a constant selector and the shader compiler keeps only the
// one case; the pipeline cache holds one pipeline per format.
//
// Every format is decoded in units of 32 consecutive values of a row: a whole block of the
// 32-value formats (F32 and F16 are grouped by 32 too), or one of the eight 32-value sub-blocks of
// a Q4_K/Q6_K super-block. Rows are stored as `src/quant/mod.rs` lays them out: block after block,
// or for Q8_0, Q4_0, Q4_1 and Q5_0 in planes (all the row's quants, then its high bits, then its
// scales), which start every block's quants on a 16-byte boundary; `row_start` and `unit_at`
// find a unit in either. `unit_at` reads a unit's scales once; `unit_values(u, j)` then yields
// values 4j..4j+3 (j = 0..7) from one or two words of quants, loaded as needed.
// `decode_values` is the arithmetic alone, given those words, for kernels that load them
// themselves (quant_matvec.wgsl loads the 4 words of a 4-bit unit once for all 32 values).
//
// Values are bit-identical to ggml's dequantizers (lantern-core's `quant::dequantize`): each one is
// `f32(q) * d + m` where `f32(q) * d` is exact in f32 (the significant bits of q and d add up to
// at most 24 in every format: 8 and 11 for Q8_0, 5 and 19 for Q6_K), so whether or not the
// compiler fuses the add, the value is rounded once, exactly as ggml rounds it. Symmetric formats
// subtract their offset from the integer first (m = 0).
//
// Values come out as `real`: f32 (exact, as above) unless a launcher specializes the kernel to
// f16 (`kernel::Precision::F16`), where that f32 value is rounded once to f16 (relative error at
// most 2⁻¹¹).

// The arithmetic type of `unit_values` and of the kernels' products: f32, or f16 when specialized.
alias real = f32;

const FMT_F32: u32 = 0u;
const FMT_F16: u32 = 1u;
const FMT_Q8_0: u32 = 2u;
const FMT_Q4_0: u32 = 3u;
const FMT_Q4_1: u32 = 4u;
const FMT_Q5_0: u32 = 5u;
const FMT_Q4_K: u32 = 6u;
const FMT_Q6_K: u32 = 7u;

// Specialized from `WeightFormat`: the decoder, the repacked block size in words (formats stored
// block after block), and the 32-value units per block (1, or 8 for the 256-value K-quants).
const FORMAT: u32 = 0u;
const BLOCK_WORDS: u32 = 32u;
const UNITS_PER_BLOCK: u32 = 1u;

// Word `i` of the weights.
fn weight_word(i: u32) -> u32 {
    return weights[i];
}

// Words i .. i+3 of the weights, `i` a multiple of 4 (a texture gives them in one load).
fn four_words(i: u32) -> vec4<u32> {
    return vec4<u32>(weights[i], weights[i + 1u], weights[i + 2u], weights[i + 3u]);
}

// Texels per row of a weight texture (weight_texture.wgsl); specialized from
// `quant::WEIGHT_TEXTURE_WIDTH`.
const WEIGHT_TEXTURE_WIDTH: u32 = 2048u;

// One unit's scales and where its quants are. Fields a format does not need stay zero.
struct Unit {
    q: u32,      // word index of the unit's first quant word
    q_high: bool, // Q4_K and Q6_K: the unit's quants are the high nibbles of their bytes
    h: u32,      // Q5_0: the 32 fifth bits; Q6_K: word index of the high 2-bit planes
    h_mask: u32, // Q6_K: the bits of each qh byte holding this unit's 2 high bits
    h_scale: f32, // Q6_K: what makes those bits, where they are, 16 times the high bits' value
    d: vec2<f32>, // scale of values 0..15 and 16..31 (they differ only in Q6_K)
    m: f32,      // offset added after scaling (Q4_1, Q4_K)
}

fn f16_low(word: u32) -> f32 {
    return unpack2x16float(word).x;
}

// Field `mask` of each of the four bytes of `word` (`mask` repeats the field in every byte:
// 0x0f0f0f0f for the low nibbles), as exact floats in place: component c is the field times
// 2^(its offset in the byte) divided by `BYTE_PLACES[c]`, which the caller folds into its scale
// (powers of two: the value stays exact). Each byte is masked where it lies and converted as an
// i32 (exact: a field has at most 8 significant bits); byte 3's field may hold bit 31, so its sign
// bit is flipped first, which makes the i32 the field minus 2^31, added back as a float.
// Shifting each byte down instead (`vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)`, then a u32
// conversion) is what SwiftShader compiles worst: every shift into a loop over its lanes, and a
// u32-to-f32 conversion into several instructions. Decoded without them (natively on Chromium's
// SwiftShader, examples/matvec_speed.rs, alternating builds) its products ran 1.4-2.1× faster for
// Q4_1, 1.7-1.9× for Q4_K and 2.3-2.8× for Q8_0, Q6_K and Q5_0; lavapipe's stayed within the
// noise.
fn byte_fields(word: u32, mask: u32) -> vec4<f32> {
    let f = word & mask;
    return vec4<f32>(
        f32(bitcast<i32>(f & 0xffu)),
        f32(bitcast<i32>(f & 0xff00u)),
        f32(bitcast<i32>(f & 0xff0000u)),
        f32(bitcast<i32>((f & 0xff000000u) ^ 0x80000000u)) + 2147483648.0,
    );
}

// The places of the bytes in `byte_fields`: byte c is 2^(8c) times up.
const BYTE_PLACES = vec4<f32>(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);

// Masks for `byte_fields`: all of each byte, its low nibble, its high nibble.
const BYTES = 0xffffffffu;
const LOW_NIBBLES = 0x0f0f0f0fu;
const HIGH_NIBBLES = 0xf0f0f0f0u;

// The low or high nibbles of `word` (0..15) times `scale`, exactly where the product is: the
// nibbles' places are folded into the scale.
fn nibbles(word: u32, high: bool, scale: f32) -> vec4<f32> {
    let places = BYTE_PLACES * select(1.0, 1.0 / 16.0, high);
    return byte_fields(word, select(LOW_NIBBLES, HIGH_NIBBLES, high)) * (places * scale);
}

// Byte `i` of the 12-byte Q4_K scales in words 1..3 of a block's `header` (its first 4 words).
fn scale_byte(header: vec4<u32>, i: u32) -> u32 {
    return (header[1u + i / 4u] >> (8u * (i % 4u))) & 0xffu;
}

// Whether a unit's quants are 4 words, each holding the low bits of 8 values: the 4-bit
// 32-value formats keep values k and k + 16 in one byte.
const FOUR_QUANT_WORDS = FORMAT == FMT_Q4_0 || FORMAT == FMT_Q4_1 || FORMAT == FMT_Q5_0;

// The word (from the unit's first quant word) holding the low bits of values 4j..4j+3.
fn quant_word(j: u32) -> u32 {
    if (FOUR_QUANT_WORDS) {
        return j % 4u;
    }
    return j;
}

// Whether rows are stored in planes (WeightFormat::planar).
const PLANAR = FORMAT == FMT_Q8_0 || FORMAT == FMT_Q4_0 || FORMAT == FMT_Q4_1 || FORMAT == FMT_Q5_0;

// Words of a planar format's quants per block: 32 bytes for Q8_0, 16 for the 4-bit formats.
const PLANE_QUANT_WORDS = select(4u, 8u, FORMAT == FMT_Q8_0);

// Words of one repacked row of `row_blocks` blocks (WeightFormat::repacked_row_bytes / 4): a planar
// row's quants, Q5_0's high-bit words, its f16 scales (with Q4_1's offsets, a word per block);
// a blocked row's blocks. Either padded to a multiple of 4 words, so that every row starts a
// 16-byte texel of a weight texture (and a planar row's quants a `vec4<u32>`).
fn row_words(row_blocks: u32) -> u32 {
    if (PLANAR) {
        var words = row_blocks * PLANE_QUANT_WORDS;
        if (FORMAT == FMT_Q5_0) {
            words += row_blocks;
        }
        if (FORMAT == FMT_Q4_1) {
            words += row_blocks;
        } else {
            words += (row_blocks + 1u) / 2u;
        }
        return (words + 3u) / 4u * 4u;
    }
    return (row_blocks * BLOCK_WORDS + 3u) / 4u * 4u;
}

// The first word of row `row` of a matrix (part) of `row_blocks` blocks per row.
fn row_start(row: u32, row_blocks: u32) -> u32 {
    return row * row_words(row_blocks);
}

// The f16 scale of block `b` in the scales plane starting at word `plane`: two per word.
fn plane_scale(plane: u32, b: u32) -> f32 {
    return unpack2x16float(weight_word(plane + b / 2u))[b % 2u];
}

// Unit `unit` (0 .. row_blocks * UNITS_PER_BLOCK) of the row whose first word is `row`.
fn unit_at(row: u32, row_blocks: u32, unit: u32) -> Unit {
    // Initialised explicitly: this is inlined into loops, where Chromium's compiler has been seen
    // to keep a previous iteration's values in an uninitialised `var` (see ARCHITECTURE.md).
    var u = Unit(0u, false, 0u, 0u, 0.0, vec2<f32>(0.0), 0.0);
    // Planar formats: the unit is block `unit`; its quants, then the planes after the quants.
    u.q = row + unit * PLANE_QUANT_WORDS;
    let after_quants = row + row_blocks * PLANE_QUANT_WORDS;
    // Formats stored block after block: the block and the unit's place in it.
    let block = row + unit / UNITS_PER_BLOCK * BLOCK_WORDS;
    let sub = unit % UNITS_PER_BLOCK;
    switch FORMAT {
        case FMT_Q8_0: {
            // qs[32]; 32 values, one byte each
            u.d = vec2<f32>(plane_scale(after_quants, unit));
        }
        case FMT_Q4_0: {
            // qs[16]; byte k holds value k (low nibble) and value k + 16 (high nibble)
            u.d = vec2<f32>(plane_scale(after_quants, unit));
        }
        case FMT_Q4_1: {
            // qs[16] as Q4_0's; d and m, a word per block
            let dm = unpack2x16float(weight_word(after_quants + unit));
            u.d = vec2<f32>(dm.x);
            u.m = dm.y;
        }
        case FMT_Q5_0: {
            // qs[16] as Q4_0's; qh, a word per block: bit k is the fifth bit of value k
            u.h = weight_word(after_quants + unit);
            u.d = vec2<f32>(plane_scale(after_quants + row_blocks, unit));
        }
        case FMT_Q4_K: {
            let header = four_words(block);
            return q4k_unit(block, header, sub);
        }
        case FMT_Q6_K: {
            // ql[128] qh[64] scales[16] d. Sub-block s is quarter k = s % 4 of 128-value half
            // h = s / 4: low 4 bits in nibble k / 2 of ql[64h + 32(k % 2) ..][0..32], high 2 bits at
            // bit 2k of qh[32h ..][0..32], and signed 8-bit scales 8h + 2k (values 0..15) and
            // 8h + 2k + 1 (values 16..31).
            let half = sub / 4u;
            let k = sub % 4u;
            let d = f16_low(weight_word(block + 52u));
            let s = 8u * half + 2u * k;
            let scales = bitcast<i32>(weight_word(block + 48u + s / 4u));
            let shift = 8u * (s % 4u);
            u.q = block + 16u * half + 8u * (k % 2u);
            u.q_high = k >= 2u;
            u.h = block + 32u + 8u * half;
            u.h_mask = 0x03030303u << (2u * k);
            u.h_scale = 16.0 / f32(1u << (2u * k));
            u.d = d * vec2<f32>(f32(extractBits(scales, shift, 8u)), f32(extractBits(scales, shift + 8u, 8u)));
        }
        default: {
            // F32 and F16: values as they are.
            u.q = block;
        }
    }
    return u;
}

// Sub-block `sub` of the Q4_K block at word `block`, whose first 4 words are `header`.
// d dmin scales[12] qs[128]: sub-block s lives in the 32 bytes of 64-value chunk s / 2, in their
// low nibbles for even s and high nibbles for odd s. Its 6-bit scale and min are packed as in
// ggml's get_scale_min_k4. With `sub` a constant (decode's blockwise loop in quant_matvec.wgsl)
// every shift here is by a constant.
fn q4k_unit(block: u32, header: vec4<u32>, sub: u32) -> Unit {
    var u = Unit(0u, false, 0u, 0u, 0.0, vec2<f32>(0.0), 0.0);
    let dmin = unpack2x16float(header.x);
    var scale: u32;
    var min: u32;
    if (sub < 4u) {
        scale = scale_byte(header, sub) & 63u;
        min = scale_byte(header, sub + 4u) & 63u;
    } else {
        scale = (scale_byte(header, sub + 4u) & 0xfu) | ((scale_byte(header, sub - 4u) >> 6u) << 4u);
        min = (scale_byte(header, sub + 4u) >> 4u) | ((scale_byte(header, sub) >> 6u) << 4u);
    }
    u.q = block + 4u + 8u * (sub / 2u);
    u.q_high = sub % 2u == 1u;
    u.d = vec2<f32>(dmin.x * f32(scale));
    u.m = -(dmin.y * f32(min));
    return u;
}

// Decode's products need no decoded value for the formats whose 32 values are `d · q + m` with
// one d and one m per unit (Q8_0, Q4_0, Q4_1, Q5_0, Q4_K): Σ (d·q + m)·x = d·Σ q·x + m·Σ x, so a row's
// unit costs the fields' products with x and two multiply-adds, rather than a scale and an
// offset per value (quant_matvec.wgsl). The fields come out "placed": each one times 2^24, as
// an exact f32, brought there by integer multiplies by powers of two and masks, with no shifts
// (SwiftShader compiles a shift into a loop over its lanes, a multiply into one instruction).
// The products are then rounded differently from `decode_values`' (each unit's sum is scaled,
// not each value), within f32's rounding of a 32-term sum.
const SUMMED_UNITS = FORMAT == FMT_Q8_0 || FORMAT == FMT_Q4_0 || FORMAT == FMT_Q4_1 || FORMAT == FMT_Q5_0 || FORMAT == FMT_Q4_K;

// What a placed field is times its value.
const FIELD_PLACE = 16777216.0;

// Words of a unit's quants: word k holds values 4k..4k+3 (Q8_0's bytes, Q4_K's low or high
// nibbles), or for the 4-bit 32-value formats values 4k..4k+3 in its low nibbles and
// 4k+16..4k+19 in its high ones (4 words).
const UNIT_QUANT_WORDS = select(8u, 4u, FOUR_QUANT_WORDS);

// The four signed bytes of `word`, placed: each multiplied up to the top byte.
fn placed_bytes(word: u32) -> vec4<f32> {
    let top = (vec4<u32>(word) * vec4<u32>(0x1000000u, 0x10000u, 0x100u, 1u)) & vec4<u32>(0xff000000u);
    return vec4<f32>(bitcast<vec4<i32>>(top));
}

// The four low (`high` false) or high nibbles of `word` (0..15), placed. Bytes 0..2's nibbles are
// multiplied up to bits 24..27; byte 3's high nibble is in bits 28..31 already, which an i32
// holds as the nibble minus 8, times 2^28, once the top bit is flipped: it is scaled down to
// 2^24 and 8 added back.
fn placed_nibbles(word: u32, high: bool) -> vec4<f32> {
    let up = select(vec3<u32>(0x1000000u, 0x10000u, 0x100u), vec3<u32>(0x100000u, 0x1000u, 0x10u), high);
    let first = vec3<f32>(bitcast<vec3<i32>>((vec3<u32>(word) * up) & vec3<u32>(0x0f000000u)));
    let last_mask = select(0x0f000000u, 0xf0000000u, high);
    let last_flip = select(0u, 0x80000000u, high);
    let last = f32(bitcast<i32>((word & last_mask) ^ last_flip));
    return vec4<f32>(first, select(last, last * 0.0625 + 8.0 * FIELD_PLACE, high));
}

// Q5_0's fifth bits of values 4i..4i+3 (bits 4i..4i+3 of `qh`), each 16 times its value, placed.
// Each bit is multiplied up to bit 31, where an i32 holds it as -2^31: scaled by -1/8, 2^28.
fn placed_fifth_bits(qh: u32, i: u32) -> vec4<f32> {
    let up = vec4<u32>(0x80000000u, 0x40000000u, 0x20000000u, 0x10000000u) >> vec4<u32>(4u * i);
    return vec4<f32>(bitcast<vec4<i32>>((vec4<u32>(qh) * up) & vec4<u32>(0x80000000u))) * -0.125;
}

// Σ placed field · x over the values of unit u's quant word k, `word` (see UNIT_QUANT_WORDS):
// `x_low` is x at values 4k..4k+3, and `x_high` (the 4-bit 32-value formats) at 4k+16..4k+19.
// (k is a constant where this is called, so the shifts of Q5_0's bit masks fold away.)
fn placed_dot(u: Unit, k: u32, word: u32, x_low: vec4<f32>, x_high: vec4<f32>) -> f32 {
    switch FORMAT {
        case FMT_Q5_0: {
            let low = placed_nibbles(word, false) + placed_fifth_bits(u.h, k);
            let high = placed_nibbles(word, true) + placed_fifth_bits(u.h, k + 4u);
            return dot(low, x_low) + dot(high, x_high);
        }
        case FMT_Q8_0: {
            return dot(placed_bytes(word), x_low);
        }
        case FMT_Q4_K: {
            return dot(placed_nibbles(word, u.q_high), x_low);
        }
        default: {
            return dot(placed_nibbles(word, false), x_low) + dot(placed_nibbles(word, true), x_high);
        }
    }
}

// Whether a unit's values have an offset (`unit_total` needs Σ x).
const UNIT_OFFSET = FORMAT == FMT_Q4_0 || FORMAT == FMT_Q4_1 || FORMAT == FMT_Q5_0 || FORMAT == FMT_Q4_K;

// A unit's share of a product: `field_sum` is Σ placed_dot over its words, `x_sum` Σ x over its
// 32 values (formats with UNIT_OFFSET).
fn unit_total(u: Unit, field_sum: f32, x_sum: f32) -> f32 {
    let scaled = field_sum * (u.d.x / FIELD_PLACE);
    switch FORMAT {
        case FMT_Q4_0: {
            return scaled - 8.0 * u.d.x * x_sum;
        }
        case FMT_Q5_0: {
            return scaled - 16.0 * u.d.x * x_sum;
        }
        case FMT_Q4_1, FMT_Q4_K: {
            return scaled + u.m * x_sum;
        }
        default: {
            return scaled;
        }
    }
}

// Values 4j .. 4j+3 (j = 0..7) of a unit, loading the words they are in.
fn unit_values(u: Unit, j: u32) -> vec4<real> {
    switch FORMAT {
        case FMT_F32: {
            let w = u.q + 4u * j;
            return vec4<real>(bitcast<vec4<f32>>(four_words(w)));
        }
        case FMT_F16: {
            let w = u.q + 2u * j;
            return vec4<real>(vec4<f32>(unpack2x16float(weight_word(w)), unpack2x16float(weight_word(w + 1u))));
        }
        case FMT_Q6_K: {
            return decode_values(u, j, weight_word(u.q + j), weight_word(u.h + j));
        }
        default: {
            return decode_values(u, j, weight_word(u.q + quant_word(j)), 0u);
        }
    }
}

// Values 4j .. 4j+3 (j = 0..7) of a unit of a quantized format, from `low`, its quant word
// `quant_word(j)`, and for Q6_K `high`, its high-bits word j.
fn decode_values(u: Unit, j: u32, low: u32, high: u32) -> vec4<real> {
    // Each value is `f32(q) * d + m` as above, with q * d exact: the fields' places are powers of
    // two, folded into d; an offset subtracted after scaling (Q8_0, Q4_0) leaves a result that is
    // exact too, (q - offset) * d having few enough bits. Q5_0 and Q6_K sum two fields into q first.
    switch FORMAT {
        case FMT_Q8_0: {
            // The sign bits flipped, the bytes are q + 128, unsigned.
            let fields = byte_fields(low ^ 0x80808080u, BYTES);
            return vec4<real>(fields * (BYTE_PLACES * u.d.x) - 128.0 * u.d.x);
        }
        case FMT_Q4_0: {
            let high = j >= 4u;
            return vec4<real>(nibbles(low, high, u.d.x) - 8.0 * u.d.x);
        }
        case FMT_Q4_1: {
            let high = j >= 4u;
            return vec4<real>(nibbles(low, high, u.d.x) + u.m);
        }
        case FMT_Q5_0: {
            // Fifth bits 4j .. 4j+3 of qh, each masked in place, times 16.
            let high = j >= 4u;
            let bits = vec4<u32>(u.h >> (4u * j)) & vec4<u32>(1u, 2u, 4u, 8u);
            let fifth = vec4<f32>(bitcast<vec4<i32>>(bits)) * vec4<f32>(16.0, 8.0, 4.0, 2.0);
            let q = nibbles(low, high, 1.0) + fifth;
            return vec4<real>((q - 16.0) * u.d.x);
        }
        case FMT_Q4_K: {
            return vec4<real>(nibbles(low, u.q_high, u.d.x) + u.m);
        }
        case FMT_Q6_K: {
            let q = nibbles(low, u.q_high, 1.0) + byte_fields(high, u.h_mask) * (BYTE_PLACES * u.h_scale);
            return vec4<real>((q - 32.0) * u.d[j / 4u]);
        }
        default: {
            // F32 and F16 have no quants: `unit_values` reads them.
            return vec4<real>(0.0);
        }
    }
}
