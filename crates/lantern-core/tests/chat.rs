//! Chat templates against references that do not come from Lantern: the real templates in the
//! models' files, and llama.cpp's expected outputs. Native only: it reads the models folder
//! (`python3 models/fetch.py --default gemma-3-270m tokenizer-fixtures`); missing files fail
//! loudly rather than skipping, so a green run means the real templates were rendered.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lantern_core::chat::{
    BuiltIn, CalendarDate, ChatError, ChatTemplate, Message, RenderOptions, SpecialTokens,
    TemplateFamily, TemplateSource,
};
use lantern_core::gguf::{GgufFile, GgufHeader, GgufWriter, Metadata, MetadataValue, Parsed};

fn models_file(name: &str) -> PathBuf {
    lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME) so the test can find models/")
        .join(name)
}

fn read_or_explain(name: &str) -> Vec<u8> {
    let path = models_file(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}). Fetch it with `python3 models/fetch.py tokenizer-fixtures` \
             (or point LANTERN_CACHE at a directory with models/{name}).",
            path.display()
        )
    })
}

fn fixture_template(name: &str) -> String {
    String::from_utf8(read_or_explain(&format!("tokenizer-fixtures/{name}")))
        .expect("template is UTF-8")
}

/// The metadata of a model file, reading only as much of it as the header needs (the streaming
/// parse), not hundreds of megabytes of weights.
fn gguf_metadata(name: &str) -> Metadata {
    let path = models_file(name);
    let mut file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "cannot open {} ({e}). Fetch it with `python3 models/fetch.py --default gemma-3-270m`.",
            path.display()
        )
    });
    let mut prefix = Vec::new();
    let mut want = 1 << 20;
    loop {
        let have = prefix.len() as u64;
        (&mut file)
            .take(want - have)
            .read_to_end(&mut prefix)
            .unwrap();
        match GgufHeader::parse(&prefix).expect("real model header parses") {
            Parsed::Complete(header) => return header.metadata().clone(),
            Parsed::NeedMoreBytes { at_least } => {
                assert!(prefix.len() as u64 == want, "file ends inside its header");
                want = at_least.max(want * 2);
            }
        }
    }
}

fn prompt(template: &ChatTemplate, messages: &[Message]) -> String {
    template
        .render(messages, &RenderOptions::default())
        .unwrap()
        .text
}

fn tokens(bos: &str, eos: &str) -> SpecialTokens {
    SpecialTokens {
        bos: Some(bos.into()),
        eos: Some(eos.into()),
    }
}

/// A conversation with a system message, two user turns and an assistant turn between them.
fn with_system() -> Vec<Message> {
    vec![
        Message::system("You are Lantern, a concise assistant."),
        Message::user("What is WebGPU?"),
        Message::assistant("A web API for GPU compute and graphics."),
        Message::user("Does it run in Chromium?"),
    ]
}

fn without_system() -> Vec<Message> {
    with_system().split_off(1)
}

/// ChatML for [`with_system`]'s turns after the given system text, written out by hand.
fn chatml_expected(system: &str) -> String {
    format!(
        "<|im_start|>system\n{system}<|im_end|>\n\
         <|im_start|>user\nWhat is WebGPU?<|im_end|>\n\
         <|im_start|>assistant\nA web API for GPU compute and graphics.<|im_end|>\n\
         <|im_start|>user\nDoes it run in Chromium?<|im_end|>\n\
         <|im_start|>assistant\n"
    )
}

// --- SmolLM2 (the template inside the real GGUF) ---------------------------------------------

#[test]
fn smollm2_gguf_template_renders_chatml() {
    let metadata = gguf_metadata("SmolLM2-135M-Instruct.Q4_1.gguf");
    let template = ChatTemplate::from_gguf(&metadata).unwrap();
    assert_eq!(template.source(), TemplateSource::Gguf);
    assert_eq!(template.family(), TemplateFamily::ChatMl);
    // SmolLM2's EOS is `<|im_end|>` itself, so it is listed once.
    assert_eq!(template.stop_strings(), ["<|im_end|>"]);

    assert_eq!(
        prompt(&template, &with_system()),
        chatml_expected("You are Lantern, a concise assistant.")
    );
    // Without a system message SmolLM2's template writes its own (read from the template:
    // `if loop.first and messages[0]['role'] != 'system'`).
    assert!(
        template
            .text()
            .contains("named SmolLM, trained by Hugging Face")
    );
    assert_eq!(
        prompt(&template, &without_system()),
        chatml_expected("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    );

    // SmolLM2's BOS token is `<|im_start|>`, so its prompts do begin with BOS and the
    // tokenizer must not add one (the file says not to anyway).
    let tokens = template.special_tokens();
    assert_eq!(tokens.bos.as_deref(), Some("<|im_start|>"));
    let rendered = template
        .render(&with_system(), &RenderOptions::default())
        .unwrap();
    assert!(rendered.starts_with_bos);
    assert!(!rendered.needs_bos(metadata.get_bool("tokenizer.ggml.add_bos_token").unwrap()));
}

#[test]
fn smollm2_matches_llama_cpp_chatml_expectation() {
    let template =
        ChatTemplate::from_gguf(&gguf_metadata("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    // With a system message first, SmolLM2's template is plain ChatML, so llama.cpp's expected
    // ChatML output for its own conversation applies.
    assert_eq!(
        prompt(&template, &llama_cpp::conversation()),
        llama_cpp::CHATML_EXPECTED
    );
}

// --- Qwen2.5 (template fetched from the model repository's tokenizer config) -----------------

#[test]
fn qwen25_template_renders_chatml_with_its_default_system_prompt() {
    let text = fixture_template("Qwen-Qwen2.5-7B-Instruct.jinja");
    // As a model repository ships it: inside tokenizer_config.json (Qwen has no BOS token).
    let config = serde_json::json!({
        "chat_template": text,
        "bos_token": null,
        "eos_token": {"content": "<|im_end|>", "lstrip": false, "rstrip": false},
    });
    let template = ChatTemplate::from_tokenizer_config(&config.to_string(), Some("qwen2")).unwrap();
    assert_eq!(template.source(), TemplateSource::TokenizerConfig);
    assert_eq!(template.family(), TemplateFamily::ChatMl);
    assert_eq!(template.stop_strings(), ["<|im_end|>"]);

    assert_eq!(
        prompt(&template, &with_system()),
        chatml_expected("You are Lantern, a concise assistant.")
    );
    assert_eq!(
        prompt(&template, &without_system()),
        chatml_expected("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
    );
    assert_eq!(
        prompt(&template, &llama_cpp::conversation()),
        llama_cpp::CHATML_EXPECTED
    );
    let rendered = template
        .render(&with_system(), &RenderOptions::default())
        .unwrap();
    assert!(!rendered.starts_with_bos);
}

#[test]
fn a_long_conversation_stays_within_the_budget() {
    // 400 turns of 2 KiB (800 KiB, far past any context window) through Qwen's template: the
    // render budget is for runaway templates, not for real conversations.
    let template = ChatTemplate::from_text(
        fixture_template("Qwen-Qwen2.5-7B-Instruct.jinja"),
        SpecialTokens::default(),
    )
    .unwrap();
    let turn = "word ".repeat(400);
    let conversation: Vec<Message> = (0..400)
        .map(|i| {
            if i % 2 == 0 {
                Message::user(turn.clone())
            } else {
                Message::assistant(turn.clone())
            }
        })
        .collect();
    let text = prompt(&template, &conversation);
    assert!(text.len() > 400 * turn.len());
}

// --- Gemma -----------------------------------------------------------------------------------

#[test]
fn gemma3_270m_has_no_template_and_gets_the_built_in_one() {
    let metadata = gguf_metadata("gemma-3-270m-q4_k_m.gguf");
    assert!(
        metadata.get("tokenizer.chat_template").is_none(),
        "the fallback is only exercised while this file has no template"
    );
    let template = ChatTemplate::from_gguf(&metadata).unwrap();
    assert_eq!(template.source(), TemplateSource::BuiltIn(BuiltIn::Gemma));
    assert_eq!(template.family(), TemplateFamily::Gemma);
    assert_eq!(template.stop_strings(), ["<end_of_turn>", "<eos>"]);

    let rendered = template
        .render(&with_system(), &RenderOptions::default())
        .unwrap();
    assert_eq!(
        rendered.text,
        "<bos><start_of_turn>user\nYou are Lantern, a concise assistant.\n\nWhat is WebGPU?\
         <end_of_turn>\n<start_of_turn>model\nA web API for GPU compute and graphics.<end_of_turn>\n\
         <start_of_turn>user\nDoes it run in Chromium?<end_of_turn>\n<start_of_turn>model\n"
    );
    // The file asks the tokenizer to add BOS, but the template already wrote it.
    assert!(metadata.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert!(rendered.starts_with_bos);
    assert!(!rendered.needs_bos(true));
}

#[test]
fn built_in_gemma_matches_llama_cpp_gemma_expectation() {
    // llama.cpp formats Gemma conversations with a system message the same way (folded into
    // the first user turn, contents trimmed); its test case has an empty BOS.
    let template = ChatTemplate::built_in(BuiltIn::Gemma, SpecialTokens::default()).unwrap();
    assert_eq!(
        prompt(&template, &llama_cpp::conversation()),
        llama_cpp::GEMMA_EXPECTED
    );
}

#[test]
fn gemma2_template_refuses_a_system_message_and_otherwise_matches_the_built_in() {
    let gemma2 = ChatTemplate::from_text(
        fixture_template("google-gemma-2-2b-it.jinja"),
        tokens("<bos>", "<eos>"),
    )
    .unwrap();
    assert_eq!(gemma2.source(), TemplateSource::Supplied);
    assert_eq!(gemma2.family(), TemplateFamily::Gemma);
    match gemma2.render(&with_system(), &RenderOptions::default()) {
        Err(ChatError::Rejected(message)) => assert_eq!(message, "System role not supported"),
        other => panic!("expected the template's own exception, got {other:?}"),
    }
    // llama.cpp's gemma-7b-it template makes the same refusal.
    let gemma1 =
        ChatTemplate::from_text(llama_cpp::GEMMA_TEMPLATE, SpecialTokens::default()).unwrap();
    assert!(matches!(
        gemma1.render(&llama_cpp::conversation(), &RenderOptions::default()),
        Err(ChatError::Rejected(m)) if m == "System role not supported"
    ));

    // Without a system message, Google's template and ours write the same turns.
    let built_in = ChatTemplate::built_in(BuiltIn::Gemma, tokens("<bos>", "<eos>")).unwrap();
    let mut padded = without_system();
    padded[1].content = "\n  A web API for GPU compute and graphics.  \n".into();
    for add_generation_prompt in [true, false] {
        let options = RenderOptions {
            add_generation_prompt,
            date: None,
        };
        assert_eq!(
            gemma2.render(&padded, &options).unwrap(),
            built_in.render(&padded, &options).unwrap()
        );
    }
    // ... including the refusal of turns out of order.
    let out_of_order = [Message::user("a"), Message::user("b")];
    for template in [&gemma2, &built_in] {
        assert!(matches!(
            template.render(&out_of_order, &RenderOptions::default()),
            Err(ChatError::Rejected(m)) if m.contains("roles must alternate")
        ));
    }
}

// --- Python-isms, via llama.cpp's expected outputs ---------------------------------------------

#[test]
fn llama_cpp_templates_with_python_methods_and_block_whitespace() {
    for case in llama_cpp::JINJA_CASES {
        let template = ChatTemplate::from_text(case.template, tokens(case.bos, case.eos)).unwrap();
        assert_eq!(
            prompt(&template, &llama_cpp::conversation()),
            case.expected,
            "{}",
            case.name
        );
    }
}

#[test]
fn python_string_methods_slices_and_loop_controls() {
    let template = ChatTemplate::from_text(
        r##"{%- for m in messages[1:] if m.role != "system" -%}
    {%- if m.content.strip().startswith("#") %}{% continue %}{% endif -%}
    {{- m.role.upper() }}:{{ m.content.split(" ")[-1] | title }}{{ "|" if not loop.last }}
{%- endfor -%}
{%- if messages[0].content is string and "lantern" in messages[0].content.lower() %}!{% endif %}"##,
        SpecialTokens::default(),
    )
    .unwrap();
    let conversation = [
        Message::system("Lantern here"),
        Message::user("  # a comment  "),
        Message::user("hello big world"),
        Message::assistant("ok then"),
    ];
    assert_eq!(
        prompt(&template, &conversation),
        "USER:World|ASSISTANT:Then!"
    );
}

#[test]
fn strftime_now_prints_the_callers_date_or_stays_undefined() {
    // The guard Llama 3.x templates use around `strftime_now`.
    let template = ChatTemplate::from_text(
        r#"{%- if strftime_now is defined %}{{ strftime_now("%d %b %Y") }}{% else %}26 Jul 2024{% endif %}"#,
        SpecialTokens::default(),
    )
    .unwrap();
    let with_date = RenderOptions {
        date: CalendarDate::new(2025, 3, 9),
        ..RenderOptions::default()
    };
    let rendered = |options: &RenderOptions| template.render(&[], options).unwrap().text;
    assert_eq!(rendered(&with_date), "09 Mar 2025");
    assert_eq!(rendered(&RenderOptions::default()), "26 Jul 2024");

    let unsupported =
        ChatTemplate::from_text(r#"{{ strftime_now("%Z") }}"#, SpecialTokens::default()).unwrap();
    assert!(matches!(
        unsupported.render(&[], &with_date),
        Err(ChatError::Render(m)) if m.contains("%Z")
    ));
}

// --- Choosing the template from a file -----------------------------------------------------

fn gguf_with(entries: Vec<(&str, MetadataValue)>) -> Metadata {
    let mut writer = GgufWriter::new(3);
    for (key, value) in entries {
        writer.add_metadata(key, value);
    }
    let bytes = writer.to_bytes();
    GgufFile::open(&bytes).unwrap().metadata().clone()
}

#[test]
fn no_template_and_no_built_in_is_a_clear_error() {
    let metadata = gguf_with(vec![(
        "general.architecture",
        MetadataValue::String("llama".into()),
    )]);
    match ChatTemplate::from_gguf(&metadata) {
        Err(ChatError::NoTemplate { architecture }) => assert_eq!(architecture, "llama"),
        other => panic!("expected NoTemplate, got {other:?}"),
    }
    // tokenizer_config.json without a template: the built-in one by model_type, or the error.
    assert_eq!(
        ChatTemplate::from_tokenizer_config(r#"{"bos_token": "<bos>"}"#, Some("gemma3_text"))
            .unwrap()
            .source(),
        TemplateSource::BuiltIn(BuiltIn::Gemma)
    );
    assert!(matches!(
        ChatTemplate::from_tokenizer_config("{}", None),
        Err(ChatError::NoTemplate { .. })
    ));
    // ChatML only when asked for, and reported as Lantern's.
    let chatml = ChatTemplate::built_in(BuiltIn::ChatMl, SpecialTokens::default()).unwrap();
    assert_eq!(chatml.source(), TemplateSource::BuiltIn(BuiltIn::ChatMl));
    assert_eq!(chatml.family(), TemplateFamily::ChatMl);
    assert_eq!(
        prompt(&chatml, &llama_cpp::conversation()),
        llama_cpp::CHATML_EXPECTED
    );
}

#[test]
fn gguf_template_tokens_and_broken_metadata() {
    let vocab = MetadataValue::Array(lantern_core::gguf::MetadataArray::String(vec![
        "<s>".into(),
        "</s>".into(),
    ]));
    let metadata = gguf_with(vec![
        (
            "general.architecture",
            MetadataValue::String("llama".into()),
        ),
        (
            "tokenizer.chat_template",
            MetadataValue::String(
                "{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}".into(),
            ),
        ),
        ("tokenizer.ggml.tokens", vocab.clone()),
        ("tokenizer.ggml.bos_token_id", MetadataValue::U32(0)),
        ("tokenizer.ggml.eos_token_id", MetadataValue::U32(1)),
    ]);
    let template = ChatTemplate::from_gguf(&metadata).unwrap();
    assert_eq!(template.source(), TemplateSource::Gguf);
    assert_eq!(template.family(), TemplateFamily::Other);
    assert_eq!(template.stop_strings(), ["</s>"]);
    let rendered = template
        .render(&[Message::user("hi")], &RenderOptions::default())
        .unwrap();
    assert_eq!(rendered.text, "<s>[hi]</s>");
    assert!(rendered.starts_with_bos);

    let wrong_type = gguf_with(vec![
        (
            "general.architecture",
            MetadataValue::String("llama".into()),
        ),
        ("tokenizer.chat_template", MetadataValue::U32(7)),
    ]);
    assert!(matches!(
        ChatTemplate::from_gguf(&wrong_type),
        Err(ChatError::Gguf(_))
    ));
    let bad_id = gguf_with(vec![
        (
            "general.architecture",
            MetadataValue::String("gemma3".into()),
        ),
        ("tokenizer.ggml.tokens", vocab),
        ("tokenizer.ggml.bos_token_id", MetadataValue::U32(5)),
    ]);
    assert!(matches!(
        ChatTemplate::from_gguf(&bad_id),
        Err(ChatError::BadTokenId {
            id: 5,
            vocab_size: 2,
            ..
        })
    ));
}

// --- Hostile templates -------------------------------------------------------------------------

#[test]
fn hostile_templates_fail_cleanly_and_quickly() {
    let load = |text: &str| ChatTemplate::from_text(text, SpecialTokens::default());
    for broken in [
        "{% for %}",
        "{% if messages %}unclosed",
        "{{ messages[0] ",
        "{% generation %}x{% endgeneration %}",
        &format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000)),
    ] {
        assert!(
            matches!(load(broken), Err(ChatError::Syntax(_))),
            "{:.40}",
            broken
        );
    }

    let conversation = [Message::user("hello")];
    for (what, runaway) in [
        (
            "nested loops",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        ),
        ("a huge string", r#"{{ "x" * 90000000 }}"#),
        (
            "endless recursion",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        ),
        (
            "a recursive loop",
            "{% for m in messages recursive %}{{ loop([m]) }}{% endfor %}",
        ),
    ] {
        let template = load(runaway).unwrap();
        let start = Instant::now();
        let result = template.render(&conversation, &RenderOptions::default());
        assert!(
            matches!(result, Err(ChatError::ResourceLimit(_))),
            "{what}: {result:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what} took {:?}",
            start.elapsed()
        );
    }

    for (what, failing) in [
        ("unknown function", "{{ no_such_function() }}"),
        ("unknown filter", "{{ messages | no_such_filter }}"),
        (
            "unknown method",
            "{{ messages[0].content.no_such_method() }}",
        ),
        ("bad operands", "{{ messages[0].content + 1 }}"),
        ("attribute of undefined", "{{ nothing.here }}"),
    ] {
        let template = load(failing).unwrap();
        assert!(
            matches!(
                template.render(&conversation, &RenderOptions::default()),
                Err(ChatError::Render(_))
            ),
            "{what}"
        );
    }
}

/// Cases from llama.cpp's `tests/test-chat-template.cpp` (vendored in llama-cpp-python 0.3.36):
/// its conversation, template strings and expected outputs, copied as data. Where a case has a
/// separate `expected_output_jinja` (the output of rendering the template itself rather than
/// llama.cpp's hand-written formatter) that is the one used, since Lantern renders templates.
mod llama_cpp {
    use lantern_core::chat::Message;

    pub fn conversation() -> Vec<Message> {
        vec![
            Message::system("You are a helpful assistant"),
            Message::user("Hello"),
            Message::assistant("Hi there"),
            Message::user("Who are you"),
            Message::assistant("   I am an assistant   "),
            Message::user("Another question"),
        ]
    }

    /// teknium/OpenHermes-2.5-Mistral-7B, the ChatML case.
    pub const CHATML_EXPECTED: &str = "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n";

    /// google/gemma-7b-it: the template raises on a system message; llama.cpp's own Gemma
    /// formatter folds it into the first user turn, which is the `expected_output` here.
    pub const GEMMA_TEMPLATE: &str = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
    pub const GEMMA_EXPECTED: &str = "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n";

    pub struct Case {
        pub name: &'static str,
        pub template: &'static str,
        pub expected: &'static str,
        pub bos: &'static str,
        pub eos: &'static str,
    }

    pub const JINJA_CASES: &[Case] = &[
        Case {
            name: "teknium/OpenHermes-2.5-Mistral-7B",
            template: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
            expected: CHATML_EXPECTED,
            bos: "",
            eos: "",
        },
        // `.strip()`, `messages[1:]`, `not ... in ...`, raise_exception.
        Case {
            name: "bofenghuang/vigogne-2-70b-chat",
            template: "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif true == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}{% set system_message = 'Vous êtes Vigogne, un assistant IA créé par Zaion Lab. Vous suivez extrêmement bien les instructions. Aidez autant que vous le pouvez.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
            expected: "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>[INST] Who are you [/INST] I am an assistant </s>[INST] Another question [/INST]",
            bos: "",
            eos: "</s>",
        },
        // namespace(), `is defined`, and newlines between blocks that trim_blocks/lstrip_blocks
        // must remove exactly as transformers' environment does.
        Case {
            name: "deepseek-ai/deepseek-coder-33b-instruct",
            template: "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
            expected: "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n",
            bos: "",
            eos: "",
        },
        // `.title()`.
        Case {
            name: "openchat/openchat-3.5-0106",
            template: "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + ': ' + message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}{% endif %}",
            expected: "GPT4 Correct System: You are a helpful assistant<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>GPT4 Correct User: Who are you<|end_of_turn|>GPT4 Correct Assistant:    I am an assistant   <|end_of_turn|>GPT4 Correct User: Another question<|end_of_turn|>GPT4 Correct Assistant:",
            bos: "",
            eos: "",
        },
        // range(), `messages|length`, mixed `{%-`/`{%` with newlines between blocks.
        Case {
            name: "TheBloke/FusionNet_34Bx2_MoE-AWQ",
            template: "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
            expected: "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are you [/INST]    I am an assistant    </s><s>[INST] Another question [/INST]",
            bos: "<s>",
            eos: "</s>",
        },
    ];
}
