// quant_matvec.wgsl's norm scale for a weighted input (WEIGHTED_INPUT): x is already
// x ⊙ (norm_weight + offset), so only 1 / rms(x) is left, from the partial sums of x² that the
// product which last added into the residual stream left (weighted_output.wgsl).

// 1 / rms(x), from the `params.square_sums` partial sums of x² (a multiple of 4).
fn norm_scale() -> f32 {
    var sums = vec4<f32>(0.0);
    for (var i = 0u; i < params.square_sums / 4u; i++) {
        sums += square_sums_in[i];
    }
    return inverseSqrt(dot(sums, vec4<f32>(1.0)) / f32(params.units * 32u) + params.norm_eps);
}
