//! A case's regexes (`message_matches`, header `matches`), compiled once per process: the same
//! case runs against many responses (polls, retries), and compiling dominates matching.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use regex::Regex;

/// The compiled pattern, or None for one that does not compile (lint refuses such a case before
/// it runs, so the checks skip it rather than fail it twice).
pub(super) fn compiled(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    map.entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_compiles_and_matches() {
        let rx = compiled(r"^\d+ s$").expect("compiles");
        assert!(rx.is_match("30 s"));
        assert!(!rx.is_match("soon"));
        assert_eq!(
            compiled(r"^\d+ s$")
                .map(|r| r.as_str().to_string())
                .as_deref(),
            Some(r"^\d+ s$")
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_none() {
        assert!(compiled("(unclosed").is_none());
    }
}
