//! The cases' regexes (`message_matches`, header `matches`), compiled once per process: lint
//! proves each compiles, and the checks match it against every response (polls, retries, a
//! thousand cases sharing one pattern); compiling costs far more than matching.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use regex::Regex;

/// The compiled pattern, or why it does not compile.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Regex, regex::Error>>>> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = map.get(pattern) {
        return known.clone();
    }
    let compiled = Regex::new(pattern);
    map.insert(pattern.to_string(), compiled.clone());
    compiled
}

/// The compiled pattern, or None for one that does not compile (lint refuses such a case before
/// it runs, so the checks skip it rather than fail it twice).
pub fn compiled(pattern: &str) -> Option<Regex> {
    compile(pattern).ok()
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
