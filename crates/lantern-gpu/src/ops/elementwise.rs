//! Launcher for `kernels/activation.wgsl`: the feed-forward activation of a decoder layer, gated
//! or plain. (The residual add is fused into the products' stores, [`crate::ops::Product::add_into`],
//! or with a post-norm into [`add_rms_norm`](crate::ops::add_rms_norm).)

use crate::batch::Batch;
use crate::error::Result;
use crate::kernel::{KernelSource, Specialization};
use crate::kernel_source;
use crate::ops::dim_u32;
use crate::ops::launch::{ELEMENTWISE_WG, elementwise_grid, same_shape};
use crate::tensor::Tensor;

pub const ACTIVATION: KernelSource = kernel_source!("activation" after "activation_fns");

/// The feed-forward activations of the decoders Lantern runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `x * sigmoid(x)` (Llama's SwiGLU gate).
    Silu,
    /// GELU with the tanh approximation (Gemma's GeGLU gate).
    GeluTanh,
}

impl Activation {
    /// The kernel's `ACTIVATION` constant.
    pub(crate) fn code(self) -> u32 {
        match self {
            Activation::Silu => 0,
            Activation::GeluTanh => 1,
        }
    }
}

/// Records `act(gate) * up`, elementwise; the result (shaped like `gate`) comes from the pool.
pub fn gated_activation(
    batch: &mut Batch<'_>,
    gate: &Tensor,
    up: &Tensor,
    activation: Activation,
) -> Result<Tensor> {
    same_shape("gated_activation", ("gate", gate), ("up", up))?;
    let out = batch.gpu().empty("activation output", gate.shape())?;
    launch_activation(batch, [gate, up], out, activation, Mode::Gated)
}

/// Records `act(gate) * up` where each row of `gate_up` (`[T, 2·w]`) is a gate row followed by
/// an up row, as a stacked gate/up projection computes them in one product; the result
/// (`[T, w]`, from the pool) equals [`gated_activation`] on the two halves.
pub fn gated_activation_stacked(
    batch: &mut Batch<'_>,
    gate_up: &Tensor,
    activation: Activation,
) -> Result<Tensor> {
    let (rows, cols) = crate::ops::matrix_dims("gated_activation_stacked", "gate_up", gate_up)?;
    if cols % 2 != 0 {
        return Err(crate::GpuError::Shape(format!(
            "gated_activation_stacked: rows of {cols} values do not split into gate and up halves"
        )));
    }
    let out = batch.gpu().empty("activation output", &[rows, cols / 2])?;
    // One input, bound twice (two read-only bindings of one buffer are fine).
    launch_activation(batch, [gate_up, gate_up], out, activation, Mode::Stacked)
}

/// How the activation kernel reads its input.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Gated,
    Stacked,
}

/// Records `act(x)`, elementwise; the result comes from the pool.
pub fn activation(batch: &mut Batch<'_>, x: &Tensor, activation: Activation) -> Result<Tensor> {
    // The kernel binds a second input either way; two read-only bindings of one buffer are fine.
    let out = batch.gpu().empty("activation output", x.shape())?;
    launch_activation(batch, [x, x], out, activation, Mode::Plain)
}

/// Dispatches the activation kernel on `[gate, up]` into `out` (whose last dimension is the
/// row width of the stacked mode).
fn launch_activation(
    batch: &mut Batch<'_>,
    [gate, up]: [&Tensor; 2],
    out: Tensor,
    activation: Activation,
    mode: Mode,
) -> Result<Tensor> {
    let gpu = batch.gpu();
    let n = out.len();
    if n == 0 {
        return Ok(out);
    }
    let width = *out.shape().last().unwrap_or(&1);
    let spec = Specialization::new()
        .u32("ACTIVATION", activation.code())
        .bool("GATED", mode != Mode::Plain)
        .bool("STACKED", mode == Mode::Stacked)
        .u32("WG_SIZE", ELEMENTWISE_WG);
    let params = [
        dim_u32("activation", "elements", n)?,
        dim_u32("activation", "row width", width)?,
    ];
    batch.dispatch(
        &ACTIVATION,
        &spec,
        &[gate.buffer(), up.buffer(), out.buffer()],
        bytemuck::cast_slice(&params),
        elementwise_grid(gpu, "activation", n, ELEMENTWISE_WG)?,
    )?;
    Ok(out)
}
