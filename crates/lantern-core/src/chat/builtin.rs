//! Lantern's own templates, for model files that carry none.

/// A template shipped with Lantern (the `.jinja` files beside this module).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuiltIn {
    /// Gemma's turn format with the system message folded into the first user turn; chosen
    /// automatically for the `gemma`, `gemma2` and `gemma3` architectures.
    Gemma,
    /// ChatML; never chosen automatically (see the module docs), only when asked for.
    ChatMl,
}

impl BuiltIn {
    /// The built-in template for an architecture: GGUF's `general.architecture`, or
    /// `model_type` from a Hugging Face `config.json` (`gemma3_text` for the 270M model).
    pub fn for_architecture(architecture: &str) -> Option<Self> {
        match architecture {
            "gemma" | "gemma2" | "gemma3" | "gemma3_text" => Some(BuiltIn::Gemma),
            _ => None,
        }
    }

    /// The template text.
    pub const fn text(self) -> &'static str {
        match self {
            BuiltIn::Gemma => include_str!("templates/gemma.jinja"),
            BuiltIn::ChatMl => include_str!("templates/chatml.jinja"),
        }
    }
}
