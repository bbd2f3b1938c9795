//! Unrolling of the loops a kernel marks, before it is compiled.
//!
//! A loop written as
//!
//! ```wgsl
//! for (var r = 0u; r < ROWS; r++) { // unroll
//!     acc[r] += w[r] * x;
//! }
//! ```
//!
//! whose bound is a literal or a constant declared in the source with a literal value (after
//! [`crate::kernel::Specialization`] has set it), becomes one block per iteration, each declaring
//! its own `const r = 0u;`, `const r = 1u;`, …. Array indices made of such constants are constant
//! in the compiled shader. That is what SwiftShader needs: it keeps a function's arrays in memory
//! and compiles an access at an index that varies at run time into a gather of its four lanes,
//! where a constant index is one plain load (measured in Chromium, quant_matvec with 8 rows per
//! invocation: products 1.5–2.5× faster with its row loops unrolled). Other compilers unroll such
//! loops themselves; for them the marker changes nothing.
//!
//! The marked loop's body may not contain `break` or `continue` (a block cannot end an iteration
//! early), nor its own closing brace in a comment. Copies make the shader longer, and SwiftShader
//! compiles long shaders slowly: with attention's loops over 8–12 rows and 2–4 dimensions
//! unrolled, Chromium lost the device or timed out compiling it. Mark only loops whose copies
//! stay few, or have the launcher keep them rolled where the shader would be too long
//! (`Specialization::rolled_loops`, as attention does off lavapipe).

use crate::kernel::const_declaration;

/// The most iterations a marked loop may have: beyond that the copies would bloat the shader.
const MAX_ITERATIONS: u32 = 64;

const MARKER: &str = "// unroll";

/// `wgsl` with every marked loop unrolled (nested ones too), or what stopped it.
pub(crate) fn unroll_loops(wgsl: &str) -> Result<String, String> {
    let mut lines: Vec<String> = wgsl.lines().map(str::to_owned).collect();
    // Outer loops first: their copies carry the inner loops' markers, expanded in later rounds.
    while let Some((start, var, bound)) = lines.iter().enumerate().find_map(|(i, line)| {
        marked_loop(line).map(|(var, bound)| (i, var.to_owned(), bound.to_owned()))
    }) {
        let end = closing_line(&lines, start)?;
        let count = iterations(&lines, &bound)?;
        let body = &lines[start + 1..end];
        if let Some(word) = body
            .iter()
            .flat_map(|line| code(line).split(|c: char| !c.is_alphanumeric() && c != '_'))
            .find(|word| *word == "break" || *word == "continue")
        {
            return Err(format!(
                "the loop over {var} at line {} has `{word}`, which an unrolled copy cannot run",
                start + 1
            ));
        }
        let indent = &lines[start][..lines[start].len() - lines[start].trim_start().len()];
        let mut copies = Vec::with_capacity(count as usize * (body.len() + 3));
        for i in 0..count {
            copies.push(format!("{indent}{{"));
            copies.push(format!("{indent}    const {var} = {i}u;"));
            copies.extend(body.iter().cloned());
            copies.push(format!("{indent}}}"));
        }
        lines.splice(start..=end, copies);
    }
    Ok(lines.join("\n"))
}

/// (variable, bound) of `for (var V = 0u; V < BOUND; V++) { // unroll`.
fn marked_loop(line: &str) -> Option<(&str, &str)> {
    let header = line.trim().strip_suffix(MARKER)?.trim_end();
    let rest = header.strip_prefix("for (var ")?.strip_suffix(") {")?;
    let (var, rest) = rest.split_once(" = 0u; ")?;
    let (condition, step) = rest.split_once("; ")?;
    let bound = condition.strip_prefix(var)?.strip_prefix(" < ")?;
    (step == format!("{var}++")).then_some((var, bound))
}

/// A line without its `//` comment.
fn code(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

/// The line holding the brace that closes the loop opened on line `start`.
fn closing_line(lines: &[String], start: usize) -> Result<usize, String> {
    let mut depth = 0i32;
    for (i, line) in lines.iter().enumerate().skip(start) {
        for c in code(line).chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
        }
        if depth == 0 {
            if code(line).trim() != "}" {
                return Err(format!(
                    "the loop at line {} must end with a line holding only its `}}` (line {})",
                    start + 1,
                    i + 1
                ));
            }
            return Ok(i);
        }
    }
    Err(format!("the loop at line {} is never closed", start + 1))
}

/// The value of `bound`: a `u32` literal, or a constant declared `const BOUND: u32 = LITERAL;`.
fn iterations(lines: &[String], bound: &str) -> Result<u32, String> {
    let literal = |text: &str| text.trim().trim_end_matches('u').parse::<u32>().ok();
    let value = literal(bound).or_else(|| {
        lines.iter().find_map(|line| match const_declaration(line) {
            Some((name, _, value)) if name == bound => literal(value),
            _ => None,
        })
    });
    match value {
        Some(n) if n <= MAX_ITERATIONS => Ok(n),
        Some(n) => Err(format!(
            "a loop to unroll runs {n} times, more than {MAX_ITERATIONS}"
        )),
        None => Err(format!(
            "a loop to unroll is bounded by `{bound}`, which is neither a literal nor a constant declared with one"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_loop_becomes_a_block_per_iteration() {
        let source = "const ROWS: u32 = 3u;\nfn f() {\n    for (var r = 0u; r < ROWS; r++) { // unroll\n        acc[r] += 1.0;\n    }\n}";
        let unrolled = unroll_loops(source).unwrap();
        assert_eq!(
            unrolled,
            "const ROWS: u32 = 3u;\nfn f() {\n    {\n        const r = 0u;\n        acc[r] += 1.0;\n    }\n    {\n        const r = 1u;\n        acc[r] += 1.0;\n    }\n    {\n        const r = 2u;\n        acc[r] += 1.0;\n    }\n}"
        );
    }

    #[test]
    fn nested_loops_and_literal_bounds_unroll_too() {
        let source = "for (var t = 0u; t < 2u; t++) { // unroll\n  for (var r = 0u; r < 2u; r++) { // unroll\n    a[t * 2u + r] = 0.0;\n  }\n}";
        let unrolled = unroll_loops(source).unwrap();
        assert_eq!(unrolled.matches("a[t * 2u + r] = 0.0;").count(), 4);
        assert_eq!(unrolled.matches("const t = 1u;").count(), 1);
        assert_eq!(unrolled.matches("const r = 1u;").count(), 2);
        assert!(!unrolled.contains("for ("));
    }

    #[test]
    fn unmarked_loops_and_zero_trip_loops() {
        let plain = "for (var r = 0u; r < 4u; r++) {\n  a[r] = 0.0;\n}";
        assert_eq!(unroll_loops(plain).unwrap(), plain);
        let empty = "x;\nfor (var r = 0u; r < 0u; r++) { // unroll\n  a[r] = 0.0;\n}\ny;";
        assert_eq!(unroll_loops(empty).unwrap(), "x;\ny;");
    }

    #[test]
    fn what_cannot_be_unrolled_is_an_error() {
        let unknown = "for (var r = 0u; r < params.n; r++) { // unroll\n  a[r] = 0.0;\n}";
        assert!(unroll_loops(unknown).unwrap_err().contains("params.n"));
        let too_many = "for (var r = 0u; r < 65u; r++) { // unroll\n  a[r] = 0.0;\n}";
        assert!(unroll_loops(too_many).unwrap_err().contains("65"));
        let breaks = "for (var r = 0u; r < 2u; r++) { // unroll\n  if (a[r] > 0.0) { break; }\n}";
        assert!(unroll_loops(breaks).unwrap_err().contains("break"));
        let open = "for (var r = 0u; r < 2u; r++) { // unroll\n  a[r] = 0.0;";
        assert!(unroll_loops(open).unwrap_err().contains("never closed"));
        let shared_line = "for (var r = 0u; r < 2u; r++) { // unroll\n  a[r] = 0.0; }";
        assert!(unroll_loops(shared_line).is_err());
    }
}
