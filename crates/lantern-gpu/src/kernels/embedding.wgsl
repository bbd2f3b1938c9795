// Embedding gather: out[t, :] = dequantize(table row ids[t]) * scale, for the rows of one weight
// part (quant_blocks.wgsl, prepended, decodes the blocks exactly as the matrix kernels do, so
// the table stays quantized in memory; tied models reuse it as their output matrix).
//
// One invocation per (token, 32-value unit). A table split into parts is gathered with one
// dispatch per part; tokens whose row lies in another part are skipped by this one, so every
// output value is written by exactly one dispatch.

struct Params {
    tokens: u32,
    units: u32,      // 32-value units per row (cols / 32)
    row_blocks: u32, // blocks per row
    first_row: u32,  // table row of this part's first row
    part_rows: u32,
    scale: f32,
}

const WG_SIZE: u32 = 64u;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let index = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    if (index >= params.tokens * params.units) {
        return;
    }
    let t = index / params.units;
    let unit = index % params.units;
    // Unsigned wrap-around sends rows before this part past `part_rows` too.
    let row = ids[t] - params.first_row;
    if (row >= params.part_rows) {
        return;
    }
    let u = unit_at(row_start(row, params.row_blocks), params.row_blocks, unit);
    let o = index * 8u;
    for (var j = 0u; j < 8u; j++) {
        out[o + j] = vec4<f32>(unit_values(u, j)) * params.scale;
    }
}
