//! WGSL kernels: sources embedded from `src/kernels/*.wgsl`, compile-time specialization, and a
//! cache of compiled pipelines.
//!
//! Specialization rewrites a kernel's own `const NAME: TYPE = default;` declarations before the
//! source is compiled. The `.wgsl` files therefore stay valid WGSL (their defaults compile as they
//! are, after the prelude a kernel names in [`kernel_source!`]), and any constant can size a
//! workgroup array or the workgroup itself — which WGSL `override` constants cannot portably do.
//!
//! A kernel that can compute in f16 declares `alias real = f32;` and does its arithmetic in
//! `real`; [`Specialization::precision`] with [`Precision::F16`] turns that into
//! `alias real = f16;` and adds `enable f16;`, so one source serves both paths.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{GpuError, Result};

/// A kernel's WGSL source; declare one with [`kernel_source!`](crate::kernel_source).
#[derive(Clone, Copy, Debug)]
pub struct KernelSource {
    pub name: &'static str,
    pub wgsl: &'static str,
}

/// Embeds `src/kernels/NAME.wgsl` as a [`KernelSource`] named NAME; with `after "PRELUDE", …`,
/// each `src/kernels/PRELUDE.wgsl` (WGSL functions several kernels share, written against the
/// kernel's own constants) comes first, in order.
#[macro_export]
macro_rules! kernel_source {
    ($name:literal $(after $($prelude:literal),+)?) => {
        $crate::kernel::KernelSource {
            name: $name,
            wgsl: concat!(
                $($(
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/kernels/", $prelude, ".wgsl")),
                    "\n",
                )+)?
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/kernels/", $name, ".wgsl")),
            ),
        }
    };
}

/// The arithmetic type of kernels that offer a choice (those declaring `alias real = f32;`).
/// Accumulation stays f32 either way; the kernels say what they compute in `real`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 throughout: every adapter has it, and the tests compare it with tight bounds.
    #[default]
    F32,
    /// Weights decoded and multiplied in f16 (half the registers and workgroup memory, twice
    /// the arithmetic rate on most GPUs), short runs of products summed in f16 and then added
    /// to f32 accumulators. Needs the adapter's `shader-f16` feature.
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            _ => Err(format!("unknown precision {s:?} (f32 or f16)")),
        }
    }
}

/// Values for a kernel's specializable constants, as WGSL literals, its arithmetic precision,
/// and which of its entry points runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Specialization {
    values: Vec<(&'static str, String)>,
    /// Module-scope variables to declare otherwise: (name, `var<…> name: type`).
    declarations: Vec<(&'static str, String)>,
    /// Sets of WGSL functions that replace the kernel's functions of the same names, in order.
    functions: Vec<&'static str>,
    /// Functions whose bodies are left out (see [`Specialization::empty_function`]).
    emptied: Vec<&'static str>,
    precision: Precision,
    entry_point: Option<&'static str>,
    /// Leave the loops marked `// unroll` as loops (see [`Specialization::rolled_loops`]).
    rolled: bool,
}

impl Specialization {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u32(mut self, name: &'static str, value: u32) -> Self {
        self.values.push((name, format!("{value}u")));
        self
    }

    pub fn f32(mut self, name: &'static str, value: f32) -> Self {
        // `{:?}` always prints a decimal point or exponent, so WGSL reads it as a float.
        self.values.push((name, format!("{value:?}")));
        self
    }

    pub fn bool(mut self, name: &'static str, value: bool) -> Self {
        self.values.push((name, value.to_string()));
        self
    }

    /// Declares the kernel's module-scope variable `name` as `declaration` (`var<…> name: TYPE`,
    /// its attributes kept): for a binding that some launches bind otherwise, such as a storage
    /// array read as a uniform block of a fixed length.
    pub fn declare(mut self, name: &'static str, declaration: String) -> Self {
        self.declarations.push((name, declaration));
        self
    }

    /// Replaces each of the kernel's functions that `functions` (WGSL source) defines again by
    /// that definition: for a variant that reads a resource another way, such as weights from a
    /// texture (`kernels/weight_texture.wgsl`), whose variable [`Self::declare`] retypes. A
    /// function runs from a line starting `fn NAME(` to the next line that is `}`; those the
    /// kernel does not define are skipped, but a kernel that defines none of them is an error.
    /// Each call adds a set (a function another set replaced may be replaced again).
    pub fn replace_functions(mut self, functions: &'static str) -> Self {
        self.functions.push(functions);
        self
    }

    /// Leaves out the body of the kernel's function `name`, which must return nothing and open
    /// its body on the line of its name: for code this variant never runs but would still
    /// compile, behind a branch on a constant. Compilers parse, unroll and inline such code
    /// before they drop the branch, and unrolled it can be most of a shader.
    pub fn empty_function(mut self, name: &'static str) -> Self {
        self.emptied.push(name);
        self
    }

    /// Computes in `precision` (the kernel must declare `alias real = f32;`).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Runs the kernel's entry point `name` instead of `main`: for variants whose code must not
    /// be in the compiled shader at all, even where it would never run (a barrier, for one, is
    /// costly on CPU adapters wherever it stands).
    pub fn entry_point(mut self, name: &'static str) -> Self {
        self.entry_point = Some(name);
        self
    }

    /// Leaves the loops the kernel marks `// unroll` rolled when `rolled` is true: for marked
    /// loops whose copies would make a shader too long for some adapter's compiler
    /// ([`crate::Gpu::unroll_long_loops`]). The marker is a comment, so the source is valid
    /// either way.
    pub fn rolled_loops(mut self, rolled: bool) -> Self {
        self.rolled = rolled;
        self
    }

    /// The kernel's source with each named constant's value replaced, `real` switched to f16
    /// when asked, and the loops it marks `// unroll` unrolled (see `src/unroll.rs`) unless
    /// asked to leave them rolled.
    pub fn apply(&self, kernel: &KernelSource) -> Result<String> {
        let mut lines: Vec<String> = kernel.wgsl.lines().map(str::to_owned).collect();
        if self.precision == Precision::F16 {
            let alias = lines
                .iter_mut()
                .find(|line| line.trim() == REAL_F32)
                .ok_or_else(|| GpuError::Kernel {
                    kernel: kernel.name.to_string(),
                    message: format!(
                        "has no `{REAL_F32}` declaration, so it cannot compute in f16"
                    ),
                })?;
            *alias = "alias real = f16;".into();
            // Extensions must be enabled before any declaration.
            lines.insert(0, "enable f16;".into());
        }
        for (name, value) in &self.values {
            let line = lines
                .iter_mut()
                .find(|line| const_declaration(line).is_some_and(|(ident, _, _)| ident == *name))
                .ok_or_else(|| GpuError::Kernel {
                    kernel: kernel.name.to_string(),
                    message: format!("has no `const {name}: TYPE = …;` declaration to specialize"),
                })?;
            let (_, ty, _) = const_declaration(line).expect("matched above");
            let indent = &line[..line.len() - line.trim_start().len()];
            *line = format!("{indent}const {name}: {ty} = {value};");
        }
        for (name, declaration) in &self.declarations {
            let (line, at) = lines
                .iter_mut()
                .find_map(|line| {
                    let at = var_declaration(line, name)?;
                    Some((line, at))
                })
                .ok_or_else(|| GpuError::Kernel {
                    kernel: kernel.name.to_string(),
                    message: format!("has no `var<…> {name}: TYPE;` declaration to replace"),
                })?;
            *line = format!("{}{declaration};", &line[..at]);
        }
        for functions in &self.functions {
            replace_functions(&mut lines, functions).map_err(|message| GpuError::Kernel {
                kernel: kernel.name.to_string(),
                message,
            })?;
        }
        for name in &self.emptied {
            let body = function_lines(&lines, name)
                .filter(|lines_of| lines[*lines_of.start()].trim_end().ends_with('{'))
                .ok_or_else(|| GpuError::Kernel {
                    kernel: kernel.name.to_string(),
                    message: format!(
                        "has no function `{name}` whose body opens on its first line to empty"
                    ),
                })?;
            lines.drain(body.start() + 1..*body.end());
        }
        let source = lines.join("\n");
        if self.rolled {
            return Ok(source);
        }
        crate::unroll::unroll_loops(&source).map_err(|message| GpuError::Kernel {
            kernel: kernel.name.to_string(),
            message,
        })
    }
}

/// How a kernel that can compute in f16 declares its arithmetic type.
const REAL_F32: &str = "alias real = f32;";

/// Where the declaration of the module-scope variable `name` starts in `line` (after its
/// attributes), if `line` is `[@attributes] var<…> NAME: TYPE;`.
fn var_declaration(line: &str, name: &str) -> Option<usize> {
    let at = line.find("var<")?;
    let (_, rest) = line[at..].split_once('>')?;
    let (ident, _) = rest.split_once(':')?;
    (ident.trim() == name && line.trim_end().ends_with(';')).then_some(at)
}

/// The lines of the function `name` in `lines`: from `fn NAME(` to the next line that is `}`.
fn function_lines<S: AsRef<str>>(
    lines: &[S],
    name: &str,
) -> Option<std::ops::RangeInclusive<usize>> {
    let head = format!("fn {name}(");
    let start = lines
        .iter()
        .position(|line| line.as_ref().starts_with(&head))?;
    let end = start
        + lines[start..]
            .iter()
            .position(|line| line.as_ref() == "}")?;
    Some(start..=end)
}

/// Replaces the functions of `lines` that `functions` defines again (see
/// [`Specialization::replace_functions`]).
fn replace_functions(lines: &mut Vec<String>, functions: &str) -> std::result::Result<(), String> {
    let source: Vec<&str> = functions.lines().collect();
    let names = source.iter().filter_map(|line| {
        let (name, _) = line.strip_prefix("fn ")?.split_once('(')?;
        Some(name)
    });
    let mut replaced = 0;
    for name in names {
        let new = function_lines(&source, name)
            .ok_or_else(|| format!("replacement function `{name}` has no closing `}}` line"))?;
        if let Some(old) = function_lines(lines, name) {
            let new = source[new].iter().map(|line| line.to_string());
            lines.splice(old, new);
            replaced += 1;
        }
    }
    if replaced == 0 {
        return Err("defines none of the functions to replace".into());
    }
    Ok(())
}

/// Parses `const NAME: TYPE = VALUE;` (with an explicit type) into (NAME, TYPE, VALUE).
pub(crate) fn const_declaration(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.trim_start().strip_prefix("const ")?;
    let (ident, rest) = rest.split_once(':')?;
    let (ty, value) = rest.split_once('=')?;
    let value = value.trim_end().strip_suffix(';')?;
    Some((ident.trim(), ty.trim(), value.trim()))
}

/// Compiled pipelines, one per (kernel, specialization): by kernel name, then specialization, so
/// that the lookup each dispatch makes borrows the caller's specialization instead of cloning it.
#[derive(Default)]
pub(crate) struct KernelCache {
    pipelines: Mutex<HashMap<&'static str, HashMap<Specialization, wgpu::ComputePipeline>>>,
}

impl KernelCache {
    /// The pipeline for `kernel` specialized by `spec` if it was compiled before.
    pub(crate) fn cached(
        &self,
        kernel: &KernelSource,
        spec: &Specialization,
    ) -> Option<wgpu::ComputePipeline> {
        self.pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(kernel.name)?
            .get(spec)
            .cloned()
    }

    /// The pipeline for `kernel` specialized by `spec`, compiling it on first use. Compilation
    /// errors surface through the caller's error scope (see [`crate::Batch`]).
    pub(crate) fn pipeline(
        &self,
        device: &wgpu::Device,
        kernel: &KernelSource,
        spec: &Specialization,
    ) -> Result<wgpu::ComputePipeline> {
        if let Some(pipeline) = self.cached(kernel, spec) {
            return Ok(pipeline);
        }
        let pipeline = Self::compile(device, kernel, spec)?;
        self.insert(kernel, spec, pipeline.clone());
        Ok(pipeline)
    }

    /// Compiles `kernel` specialized by `spec`, without caching it.
    pub(crate) fn compile(
        device: &wgpu::Device,
        kernel: &KernelSource,
        spec: &Specialization,
    ) -> Result<wgpu::ComputePipeline> {
        let source = spec.apply(kernel)?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.name),
            layout: None,
            module: &module,
            entry_point: Some(spec.entry_point.unwrap_or("main")),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        Ok(pipeline)
    }

    pub(crate) fn insert(
        &self,
        kernel: &KernelSource,
        spec: &Specialization,
        pipeline: wgpu::ComputePipeline,
    ) {
        self.pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kernel.name)
            .or_default()
            .insert(spec.clone(), pipeline);
    }

    /// How many pipelines have been compiled.
    pub(crate) fn len(&self) -> usize {
        self.pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(HashMap::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: KernelSource = KernelSource {
        name: "k",
        wgsl: "const TILE: u32 = 16u;\n  const SCALE: f32 = 1.0;\nconst DERIVED = TILE * 2u;\n",
    };

    #[test]
    fn specialization_rewrites_typed_constants_only() {
        let out = Specialization::new()
            .u32("TILE", 8)
            .f32("SCALE", 0.5)
            .apply(&K)
            .unwrap();
        assert_eq!(
            out,
            "const TILE: u32 = 8u;\n  const SCALE: f32 = 0.5;\nconst DERIVED = TILE * 2u;"
        );
        let err = Specialization::new()
            .u32("DERIVED", 3)
            .apply(&K)
            .unwrap_err();
        assert!(err.to_string().contains("DERIVED"), "{err}");
        let err = Specialization::new()
            .u32("MISSING", 3)
            .apply(&K)
            .unwrap_err();
        assert!(err.to_string().contains("MISSING"), "{err}");
    }

    #[test]
    fn f16_precision_switches_the_real_alias_and_enables_f16() {
        const REAL: KernelSource = KernelSource {
            name: "real",
            wgsl: "const N: u32 = 1u;\nalias real = f32;\nfn f(x: real) -> real { return x; }",
        };
        let same = Specialization::new().apply(&REAL).unwrap();
        assert_eq!(same, REAL.wgsl);
        let out = Specialization::new()
            .u32("N", 2)
            .precision(Precision::F16)
            .apply(&REAL)
            .unwrap();
        assert_eq!(
            out,
            "enable f16;\nconst N: u32 = 2u;\nalias real = f16;\nfn f(x: real) -> real { return x; }"
        );
        let err = Specialization::new()
            .precision(Precision::F16)
            .apply(&K)
            .unwrap_err();
        assert!(err.to_string().contains("alias real = f32;"), "{err}");
        assert_eq!("f16".parse(), Ok(Precision::F16));
        assert!("f64".parse::<Precision>().is_err());
    }

    #[test]
    fn declarations_replace_a_variable_keeping_its_attributes() {
        const BINDINGS: KernelSource = KernelSource {
            name: "bindings",
            wgsl: "@group(0) @binding(1) var<storage, read> x: array<f32>;\n@group(0) @binding(2) var<storage, read> xs: array<f32>;",
        };
        let out = Specialization::new()
            .declare("x", "var<uniform> x: array<vec4<f32>, 4>".into())
            .apply(&BINDINGS)
            .unwrap();
        assert_eq!(
            out,
            "@group(0) @binding(1) var<uniform> x: array<vec4<f32>, 4>;\n@group(0) @binding(2) var<storage, read> xs: array<f32>;"
        );
        let err = Specialization::new()
            .declare("y", "var<uniform> y: f32".into())
            .apply(&BINDINGS)
            .unwrap_err();
        assert!(err.to_string().contains("y:"), "{err}");
    }

    #[test]
    fn emptied_functions_keep_their_heads() {
        const BLOCKS: KernelSource = KernelSource {
            name: "blocks",
            wgsl: "fn big(r: u32) {\n    acc += f(r);\n    acc += g(r);\n}\nfn small() {\n    acc = 0.0;\n}\nfn wrapped(\n    r: u32,\n) {\n    acc = 1.0;\n}",
        };
        let out = Specialization::new()
            .empty_function("big")
            .apply(&BLOCKS)
            .unwrap();
        assert_eq!(
            out,
            "fn big(r: u32) {\n}\nfn small() {\n    acc = 0.0;\n}\nfn wrapped(\n    r: u32,\n) {\n    acc = 1.0;\n}"
        );
        // A head over several lines, or no such function, is an error naming it.
        for name in ["wrapped", "missing"] {
            let err = Specialization::new()
                .empty_function(name)
                .apply(&BLOCKS)
                .unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn functions_are_replaced_by_name() {
        const READS: KernelSource = KernelSource {
            name: "reads",
            wgsl: "fn word(i: u32) -> u32 {\n    return w[i];\n}\nfn main() {\n    word(0u);\n}",
        };
        let out = Specialization::new()
            .replace_functions("// from a texture\nfn word(i: u32) -> u32 {\n    return t(i);\n}\nfn quad(i: u32) -> u32 {\n    return 0u;\n}")
            .apply(&READS)
            .unwrap();
        assert_eq!(
            out,
            "fn word(i: u32) -> u32 {\n    return t(i);\n}\nfn main() {\n    word(0u);\n}"
        );
        let err = Specialization::new()
            .replace_functions("fn other() {\n}")
            .apply(&READS)
            .unwrap_err();
        assert!(err.to_string().contains("none of the functions"), "{err}");
    }

    #[test]
    fn marked_loops_unroll_unless_kept_rolled() {
        const LOOP: KernelSource = KernelSource {
            name: "loop",
            wgsl: "const N: u32 = 4u;\nfor (var r = 0u; r < N; r++) { // unroll\n    a[r] = 0.0;\n}",
        };
        let unrolled = Specialization::new().u32("N", 2).apply(&LOOP).unwrap();
        assert_eq!(
            unrolled,
            "const N: u32 = 2u;\n{\n    const r = 0u;\n    a[r] = 0.0;\n}\n{\n    const r = 1u;\n    a[r] = 0.0;\n}"
        );
        let rolled = Specialization::new()
            .u32("N", 2)
            .rolled_loops(true)
            .apply(&LOOP)
            .unwrap();
        assert_eq!(rolled, LOOP.wgsl.replace("4u", "2u"));
        // The choice is part of the pipeline cache's key.
        assert_ne!(
            Specialization::new().rolled_loops(true),
            Specialization::new()
        );
    }

    #[test]
    fn floats_stay_floats() {
        let out = Specialization::new().f32("SCALE", 2.0).apply(&K).unwrap();
        assert!(out.contains("const SCALE: f32 = 2.0;"), "{out}");
        let out = Specialization::new().f32("SCALE", 1e-6).apply(&K).unwrap();
        assert!(out.contains("const SCALE: f32 = 1e-6;"), "{out}");
    }
}
