//! Lantern's built-in Gemma template, with no files involved, so these tests run natively and in
//! headless Chromium. The expected text is
//! written by hand from Gemma's turn format: `<bos>`, then `<start_of_turn>ROLE\n` + trimmed
//! content + `<end_of_turn>\n` per turn, the assistant named `model`, the system message at the
//! start of the first user turn followed by a blank line, and `<start_of_turn>model\n` to
//! prompt the reply.

mod common;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use lantern_core::chat::{
    BuiltIn, ChatError, ChatTemplate, Message, RenderOptions, SpecialTokens, TemplateFamily,
    TemplateSource,
};

fn gemma() -> ChatTemplate {
    let tokens = SpecialTokens {
        bos: Some("<bos>".into()),
        eos: Some("<eos>".into()),
    };
    ChatTemplate::built_in(BuiltIn::Gemma, tokens).expect("the built-in template compiles")
}

#[test]
fn built_in_gemma_multi_turn_with_system() {
    let template = gemma();
    let conversation = [
        Message::system("You are Lantern, a concise assistant."),
        Message::user("What is WebGPU?\n"),
        Message::assistant("  A web API for GPU compute and graphics.  "),
        Message::user("Does it run in Chromium?"),
    ];
    let prompt = template
        .render(&conversation, &RenderOptions::default())
        .unwrap();
    assert_eq!(
        prompt.text,
        "<bos><start_of_turn>user\n\
         You are Lantern, a concise assistant.\n\
         \n\
         What is WebGPU?<end_of_turn>\n\
         <start_of_turn>model\n\
         A web API for GPU compute and graphics.<end_of_turn>\n\
         <start_of_turn>user\n\
         Does it run in Chromium?<end_of_turn>\n\
         <start_of_turn>model\n"
    );
    // The template wrote BOS, so the tokenizer must not add a second one.
    assert!(prompt.starts_with_bos);
    assert!(!prompt.needs_bos(true));

    assert_eq!(template.source(), TemplateSource::BuiltIn(BuiltIn::Gemma));
    assert!(template.source().is_built_in());
    assert_eq!(template.family(), TemplateFamily::Gemma);
    assert_eq!(template.stop_strings(), ["<end_of_turn>", "<eos>"]);

    // Without the generation prompt the text ends after the last turn.
    let finished = template
        .render(
            &conversation[..3],
            &RenderOptions {
                add_generation_prompt: false,
                ..RenderOptions::default()
            },
        )
        .unwrap();
    assert!(
        finished.text.ends_with(
            "<start_of_turn>model\nA web API for GPU compute and graphics.<end_of_turn>\n"
        )
    );
}

#[test]
fn built_in_gemma_refuses_what_gemma_cannot_express() {
    let template = gemma();
    let options = RenderOptions::default();
    let rejected = |messages: &[Message]| match template.render(messages, &options) {
        Err(ChatError::Rejected(message)) => message,
        other => panic!("expected a rejection, got {other:?}"),
    };
    let alternation = rejected(&[Message::user("a"), Message::user("b")]);
    assert!(
        alternation.contains("roles must alternate"),
        "{alternation}"
    );
    let assistant_first = rejected(&[Message::assistant("a")]);
    assert!(
        assistant_first.contains("roles must alternate"),
        "{assistant_first}"
    );
    let late_system = rejected(&[
        Message::user("a"),
        Message::assistant("b"),
        Message::system("c"),
    ]);
    assert!(late_system.contains("system"), "{late_system}");
}

#[test]
fn unknown_roles_are_refused_when_the_message_is_built() {
    assert!(matches!(
        Message::parse("narrator", "Once upon a time"),
        Err(ChatError::UnknownRole(role)) if role == "narrator"
    ));
    assert_eq!(
        Message::parse("assistant", "hi").unwrap(),
        Message::assistant("hi")
    );
}
