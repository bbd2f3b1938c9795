// quant_matvec.wgsl's reads of x for a normed input (NORMED_INPUT): x is the residual stream,
// multiplied as RMSNorm(x) ⊙ (norm_weight + offset). Each invocation (whole rows, one row of x)
// loads all of x, so it sums x² on the way (in quant_matvec.wgsl's `input_squares`: only functions
// are replaced) and scales its products' sums once at the end.

// Values 4i .. 4i+3 of x (one row: i is a vec4 of it), times the norm's weights.
fn input(i: u32) -> vec4<f32> {
    let v = x[i];
    input_squares += dot(v, v);
    return v * (norm_weight[i] + NORM_WEIGHT_OFFSET);
}

// 1 / rms(x), from the squares of all of x that `input` has returned.
fn norm_scale() -> f32 {
    return inverseSqrt(input_squares / f32(params.units * 32u) + params.norm_eps);
}
