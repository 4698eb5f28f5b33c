//! Secrets: the API keys of every role, and their redaction from everything errcontract shows
//! or writes.
//!
//! A key is replaced wherever it appears raw, percent-encoded or base64-encoded (standard and
//! URL-safe alphabets, at every byte alignment, so a key inside a longer base64 blob such as a
//! Basic credential is caught too).

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// The shortest value treated as a secret; shorter ones would redact ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// Known secrets, each with a label naming where it came from (its env var).
#[derive(Clone, Default)]
pub struct Secrets {
    /// (label, form) pairs: every form of every secret.
    forms: Vec<(String, String)>,
    /// The raw values, for leak detection.
    raw: Vec<(String, String)>,
    /// Every form at once, so a text costs one pass however many keys and forms there are;
    /// leftmost-longest, so a form inside a longer one is replaced by the longer.
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the values, not even in a debug dump.
        f.debug_struct("Secrets")
            .field("count", &self.raw.len())
            .finish()
    }
}

impl Secrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a secret with the label shown in its place (e.g. `ERRCONTRACT_API_KEY`).
    pub fn add(&mut self, label: &str, value: &str) {
        if value.len() < MIN_SECRET_LEN || self.raw.iter().any(|(_, v)| v == value) {
            return;
        }
        self.raw.push((label.to_string(), value.to_string()));
        for form in encoded_forms(value) {
            self.forms.push((label.to_string(), form));
        }
        // The forms are a few dozen short strings; building fails only past the automaton's
        // size limits, and then every text is checked form by form instead.
        self.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(self.forms.iter().map(|(_, f)| f))
            .ok();
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// `text` with every form of every secret replaced by `[REDACTED:<label>]`.
    pub fn redact(&self, text: &str) -> String {
        if let Some(m) = &self.matcher {
            if !m.is_match(text) {
                return text.to_string();
            }
            let mut out = String::with_capacity(text.len());
            m.replace_all_with(text, &mut out, |hit, _, out| {
                out.push_str(&format!("[REDACTED:{}]", self.forms[hit.pattern()].0));
                true
            });
            return out;
        }
        let mut out = text.to_string();
        let mut longest_first: Vec<&(String, String)> = self.forms.iter().collect();
        longest_first.sort_by_key(|(_, f)| std::cmp::Reverse(f.len()));
        for (label, form) in longest_first {
            out = out.replace(form.as_str(), &format!("[REDACTED:{label}]"));
        }
        out
    }

    /// The labels of the secrets that appear in `text`, in any form.
    pub fn found_in(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = match &self.matcher {
            Some(m) => m
                .find_iter(text)
                .map(|hit| self.forms[hit.pattern()].0.clone())
                .collect(),
            None => self
                .forms
                .iter()
                .filter(|(_, form)| text.contains(form.as_str()))
                .map(|(label, _)| label.clone())
                .collect(),
        };
        found.sort();
        found.dedup();
        found
    }
}

/// Every form in which a secret may appear in text: raw, percent-encoded, and the base64 runs
/// that any encoding containing it must contain.
pub fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    // Encoders differ on the unreserved characters (`-._~`), so both spellings are forms.
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    for set in [percent_encoding::NON_ALPHANUMERIC, UNRESERVED] {
        let pct = percent_encoding::utf8_percent_encode(value, set).to_string();
        if pct != value {
            forms.push(pct);
        }
    }
    let bytes = value.as_bytes();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        // Only whole 3-byte groups made entirely of the secret's bytes encode the same way
        // wherever the secret sits at this alignment.
        let first_group = offset.div_ceil(3);
        let last_group = (offset + bytes.len()) / 3;
        if last_group <= first_group {
            continue;
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&padded);
            let (start, end) = (first_group * 4, (last_group * 4).min(enc.len()));
            if end > start && end - start >= 8 {
                forms.push(enc[start..end].to_string());
            }
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_redacted() {
        let mut s = Secrets::new();
        s.add("ERRCONTRACT_API_KEY", "sk_live_abc/123+xyz");
        let b64 = base64::engine::general_purpose::STANDARD.encode("user:sk_live_abc/123+xyz");
        let pct = "sk_live_abc%2F123%2Bxyz";
        for text in [
            "key sk_live_abc/123+xyz here".to_string(),
            format!("Basic {b64}"),
            format!("?key={pct}"),
        ] {
            let red = s.redact(&text);
            assert!(s.found_in(&red).is_empty(), "{red}");
            assert!(red.contains("[REDACTED:ERRCONTRACT_API_KEY]"), "{red}");
        }
    }

    #[test]
    fn short_values_are_not_secrets() {
        let mut s = Secrets::new();
        s.add("X", "abc");
        assert_eq!(s.redact("abc"), "abc");
    }
}
