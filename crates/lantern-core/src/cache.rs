//! Where Lantern keeps fetched models natively: `$LANTERN_CACHE/models`, else
//! `$XDG_CACHE_HOME/lantern/models`, else `~/.cache/lantern/models` — the same rule as
//! `models/fetch.py` and `scripts/setup.sh`. (Browsers cache with the Cache API instead.)

use std::path::PathBuf;

/// The models folder, or `None` when neither `LANTERN_CACHE`, `XDG_CACHE_HOME` nor `HOME` is set.
pub fn models_dir() -> Option<PathBuf> {
    let env = |key| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = env("LANTERN_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|x| x.join("lantern")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/lantern")))?;
    Some(cache.join("models"))
}
