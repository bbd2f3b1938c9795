//! Errors of the GPU runtime: values with a message a user can act on, never panics.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    /// No adapter at all: a browser without WebGPU, or a machine without a Vulkan/Metal/DX12 driver.
    #[error("no WebGPU adapter is available ({reason}). {hint}")]
    NoAdapter { reason: String, hint: &'static str },

    #[error("the GPU adapter refused to create a device: {0}")]
    DeviceRequest(String),

    /// A buffer or binding larger than the device allows. `what` names the tensor or buffer.
    #[error(
        "{what} needs {requested} bytes but this device allows at most {limit} bytes for {limit_name}"
    )]
    TooLarge {
        what: String,
        requested: u64,
        limit: u64,
        limit_name: &'static str,
    },

    /// A dispatch that needs more workgroups than the device allows in one dimension.
    #[error("{what} needs {requested} workgroups but this device allows {limit} per dimension")]
    TooManyWorkgroups {
        what: String,
        requested: u64,
        limit: u32,
    },

    /// An optional WebGPU feature the caller asked to use that this device does not have.
    #[error("{what} needs the adapter's optional `{feature}` feature, which this adapter lacks")]
    MissingFeature { what: String, feature: &'static str },

    #[error("kernel `{kernel}`: {message}")]
    Kernel { kernel: String, message: String },

    #[error("shapes do not fit: {0}")]
    Shape(String),

    #[error("reading a buffer back from the GPU failed: {0}")]
    Readback(String),

    /// The device was lost (driver reset, tab in background for long, GPU removed); make a new `Gpu`.
    #[error("the GPU device was lost ({0}); create a new device to continue")]
    DeviceLost(String),
}

pub type Result<T, E = GpuError> = std::result::Result<T, E>;
