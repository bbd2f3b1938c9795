// The feed-forward activations, shared by activation.wgsl and quant_matvec.wgsl (which writes a
// stacked gate/up product as act(gate) · up): `act` is SiLU (ACTIVATION = 0) or GELU with the tanh
// approximation (ACTIVATION = 1).
//
// Both are written as v * sigmoid(a) with 1 / (1 + exp(-a)):
//   SiLU:      a = v
//   GELU-tanh: a = 2 * sqrt(2/pi) * (v + 0.044715 v³), because 0.5 * (1 + tanh(z)) = sigmoid(2z).
// The sigmoid form never divides infinity by infinity (tanh as sinh/cosh does for large inputs),
// and its relative error stays that of `exp`. The exponent is clamped at 80: past it the result
// is below 1e-34 * |v| either way, and no intermediate overflows to infinity (which WGSL does not
// promise to carry through).

const ACTIVATION: u32 = 0u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

fn sigmoid(a: f32) -> f32 {
    return 1.0 / (1.0 + exp(min(-a, 80.0)));
}

fn act(v: f32) -> f32 {
    if (ACTIVATION == 0u) {
        return v * sigmoid(v);
    }
    return v * sigmoid(2.0 * SQRT_2_OVER_PI * fma(0.044715 * v * v, v, v));
}
