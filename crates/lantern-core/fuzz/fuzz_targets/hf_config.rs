//! `config.json` (and a pooling config): any text gives a validated config or an error.
#![no_main]

use lantern_core::config::ModelConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line, when the input has several, doubles as a pooling config.
    let (config, pooling) = match text.split_once('\n') {
        Some((pooling, config)) if pooling.starts_with('{') => (config, Some(pooling)),
        _ => (text, None),
    };
    if let Ok(c) = ModelConfig::from_hf_config(config, pooling) {
        c.validate().expect("from_hf_config validates");
    }
});
