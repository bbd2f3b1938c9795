// quant_matvec.wgsl's stores for a product that adds into the residual stream and prepares it for
// the next norm (RESIDUAL_OUTPUT and WEIGHTED_OUTPUT; one row of x, whole rows per invocation,
// one part): besides the residual's new value, the value times the next norm's weight, and the
// invocation's sum of its new values squared, so that the next products need not go over x
// twice for the norm (weighted_input.wgsl).

// residual[row] += value; weighted_out[row] = the new value · (next_norm_weight[row] + offset).
fn store(token: u32, row: u32, value: f32) {
    if (row < output_rows() && token < params.m) {
        let i = params.out_offset + row;
        let updated = y[i] + value;
        y[i] = updated;
        weighted_out[i] = updated * (next_norm_weight[i] + NORM_WEIGHT_OFFSET);
        output_squares = fma(updated, updated, output_squares);
    }
}

// The invocation's sum of squares, at its index in the whole grid (0 for rows past the end).
fn store_square_sum(linear: u32, li: u32) {
    square_sums_out[linear * WG_SIZE + li] = output_squares;
}
