//! The two things a chat template needs from a Hugging Face `tokenizer_config.json`: the
//! `chat_template` and the BOS/EOS token texts.

use serde_json::Value;

use super::{ChatError, SpecialTokens};

pub(super) struct TokenizerConfig {
    pub template: Option<String>,
    pub tokens: SpecialTokens,
}

pub(super) fn parse(json: &str) -> Result<TokenizerConfig, ChatError> {
    let config: Value =
        serde_json::from_str(json).map_err(|e| ChatError::TokenizerConfig(e.to_string()))?;
    let Value::Object(config) = config else {
        return Err(bad("the file is not a JSON object"));
    };
    let template = match config.get("chat_template") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Array(named)) => Some(default_of_named(named)?),
        Some(_) => return Err(bad("`chat_template` is neither a string nor a list")),
    };
    let tokens = SpecialTokens {
        bos: token_text(config.get("bos_token"), "bos_token")?,
        eos: token_text(config.get("eos_token"), "eos_token")?,
    };
    Ok(TokenizerConfig { template, tokens })
}

/// Several templates as `[{"name": ..., "template": ...}]` (e.g. `default` and `tool_use`):
/// like transformers, take the one named `default` and refuse to guess otherwise.
fn default_of_named(named: &[Value]) -> Result<String, ChatError> {
    let mut names = Vec::new();
    for entry in named {
        let name = entry.get("name").and_then(Value::as_str);
        let text = entry.get("template").and_then(Value::as_str);
        let (Some(name), Some(text)) = (name, text) else {
            return Err(bad(
                "a `chat_template` list entry lacks a string `name` or `template`",
            ));
        };
        if name == "default" {
            return Ok(text.to_owned());
        }
        names.push(name);
    }
    Err(bad(&format!(
        "`chat_template` lists templates {names:?} but none named \"default\""
    )))
}

/// A special token is written either as its text or as an AddedToken object
/// (`{"content": "<s>", "lstrip": false, ...}`).
fn token_text(value: Option<&Value>, key: &str) -> Result<Option<String>, ChatError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Object(token)) => match token.get("content") {
            Some(Value::String(text)) => Ok(Some(text.clone())),
            _ => Err(bad(&format!("`{key}` has no string `content`"))),
        },
        Some(_) => Err(bad(&format!(
            "`{key}` is neither a string nor a token object"
        ))),
    }
}

fn bad(message: &str) -> ChatError {
    ChatError::TokenizerConfig(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_templates_and_tokens_in_both_shapes() {
        let c = parse(
            r#"{"chat_template": "{{ x }}", "bos_token": "<s>",
                "eos_token": {"content": "</s>", "lstrip": false, "__type": "AddedToken"}}"#,
        )
        .unwrap();
        assert_eq!(c.template.as_deref(), Some("{{ x }}"));
        assert_eq!(c.tokens.bos.as_deref(), Some("<s>"));
        assert_eq!(c.tokens.eos.as_deref(), Some("</s>"));

        let c = parse(
            r#"{"chat_template": [{"name": "tool_use", "template": "T"},
                                  {"name": "default", "template": "D"}], "bos_token": null}"#,
        )
        .unwrap();
        assert_eq!(c.template.as_deref(), Some("D"));
        assert_eq!(c.tokens.bos, None);

        assert!(parse("{}").unwrap().template.is_none());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for json in [
            "not json",
            "[]",
            r#"{"chat_template": 3}"#,
            r#"{"chat_template": [{"name": "tool_use", "template": "T"}]}"#,
            r#"{"chat_template": [{"name": "default"}]}"#,
            r#"{"bos_token": {"lstrip": true}}"#,
            r#"{"eos_token": 2}"#,
        ] {
            assert!(
                matches!(parse(json), Err(ChatError::TokenizerConfig(_))),
                "{json}"
            );
        }
    }
}
