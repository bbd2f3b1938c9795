//! The minijinja environment a template runs in, set up like the one Hugging Face transformers
//! renders chat templates with, and the mapping of its errors to [`ChatError`].

use minijinja::{AutoEscape, Environment, Error, ErrorKind};

use super::ChatError;

/// The name the template is stored under (it appears in error messages: `(in chat_template:3)`).
pub(super) const TEMPLATE_NAME: &str = "chat_template";

/// The budget of one render. One unit pays for one instruction or 64 bytes of strings built or
/// written, so a render gets at most about a million instructions and 64 MiB of text. Real
/// templates use little of it: Qwen2.5's template spends 166 units on a four-message
/// conversation and 64k on 400 messages of 2 KiB (800 KiB, past any context window), while a
/// runaway loop is stopped after about 30 ms natively.
const FUEL: u64 = 1_000_000;

/// Compiles `text` once, so a broken template is reported when it is loaded.
pub(super) fn compile(text: String) -> Result<Environment<'static>, ChatError> {
    let mut env = Environment::new();
    // transformers: `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
    // extensions=[loopcontrols])`. The block settings change the output's whitespace, so they
    // must match for the text to be exactly what the model saw in training.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ChatError::Syntax(e.to_string()))?;
    env.set_syntax(syntax);
    // Prompts are plain text; the template name must not switch on HTML escaping.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // `.strip()`, `.startswith()`, `.split()`, `.items()`, ... on strings, dicts and lists.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.set_fuel(Some(FUEL));
    // The default recursion limit (500 levels of minijinja frames) stays: it is the level
    // minijinja validated as safe for its stack use.
    env.add_template_owned(TEMPLATE_NAME, text)
        .map_err(|e| ChatError::Syntax(e.to_string()))?;
    Ok(env)
}

/// Marks an error as raised by the template itself, so it maps to [`ChatError::Rejected`].
#[derive(Debug, thiserror::Error)]
#[error("raised by the template")]
struct RaisedByTemplate;

/// transformers' `raise_exception(message)`: templates call it to refuse a conversation.
fn raise_exception(message: String) -> Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message).with_source(RaisedByTemplate))
}

/// Sorts a render error into the [`ChatError`] the caller can act on. Messages keep minijinja's
/// location suffix (`... (in chat_template:3)`).
pub(super) fn render_error(error: Error) -> ChatError {
    let raised = std::error::Error::source(&error).is_some_and(|s| s.is::<RaisedByTemplate>());
    if raised {
        return ChatError::Rejected(error.detail().unwrap_or("(no message)").to_owned());
    }
    let runaway = error.kind() == ErrorKind::OutOfFuel
        || error
            .detail()
            .is_some_and(|d| d.contains("recursion limit"));
    if runaway {
        return ChatError::ResourceLimit(error.to_string());
    }
    match error.kind() {
        ErrorKind::SyntaxError => ChatError::Syntax(error.to_string()),
        _ => ChatError::Render(error.to_string()),
    }
}
