//! Which prompt format a template writes, recognised from the markers in its text.

/// The prompt format family, detected from the template text the way llama.cpp's
/// `llm_chat_detect_template` does (by the special markers a template prints). Rendering never
/// depends on it; it tells the generation loop which end-of-turn marker to stop at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateFamily {
    /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM, Qwen, OpenHermes, ...).
    ChatMl,
    /// `<start_of_turn>role\n…<end_of_turn>\n`, the assistant named `model` (Gemma 1–3).
    Gemma,
    /// Anything else; rendered all the same, with only the model's EOS to stop at.
    Other,
}

impl TemplateFamily {
    pub fn detect(template: &str) -> Self {
        let has = |marker: &str| template.contains(marker);
        // Phi-4 (`<|im_sep|>`) and SmolVLM (`<end_of_utterance>`) print `<|im_start|>` too but
        // are not ChatML; llama.cpp makes the same exceptions.
        if has("<|im_start|>") && !has("<|im_sep|>") && !has("<end_of_utterance>") {
            TemplateFamily::ChatMl
        } else if has("<start_of_turn>") {
            TemplateFamily::Gemma
        } else {
            TemplateFamily::Other
        }
    }

    /// The marker that closes every turn, which a model emits when its reply is complete.
    pub const fn end_of_turn(self) -> Option<&'static str> {
        match self {
            TemplateFamily::ChatMl => Some("<|im_end|>"),
            TemplateFamily::Gemma => Some("<end_of_turn>"),
            TemplateFamily::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TemplateFamily::{self, *};

    #[test]
    fn detects_by_markers() {
        assert_eq!(
            TemplateFamily::detect("{{ '<|im_start|>' + m.role }}"),
            ChatMl
        );
        assert_eq!(
            TemplateFamily::detect("{{ '<start_of_turn>model\\n' }}"),
            Gemma
        );
        assert_eq!(
            TemplateFamily::detect("<|im_start|>user<|im_sep|>{{ x }}"),
            Other
        );
        assert_eq!(TemplateFamily::detect("[INST] {{ x }} [/INST]"), Other);
    }
}
