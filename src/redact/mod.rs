//! Secrets: the API keys of every role, and their redaction from everything errcontract shows
//! or writes.
//!
//! A key is replaced wherever it appears raw, hex-encoded or base64-encoded (standard and
//! URL-safe alphabets, at every byte alignment, so a key inside a longer base64 blob such as a
//! Basic credential is caught too, and the whole blob is replaced), and also where it appears
//! only once escapes are undone ([`views`]: JSON `\uXXXX` and `\/`, `%HH` of any byte, `\xHH`,
//! a line break inside it).

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

mod views;

/// The shortest value treated as a secret; shorter ones would redact ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// How much of a text is searched at once (see `Secrets::spans`).
const WINDOW: usize = 64 * 1024;

/// One spelling of one secret.
#[derive(Clone)]
struct Form {
    label: String,
    text: String,
    /// A run of base64: the blob around it is the secret's too, and is replaced whole.
    base64: bool,
}

/// Known secrets, each with a label naming where it came from (its env var).
#[derive(Clone, Default)]
pub struct Secrets {
    /// Every form of every secret.
    forms: Vec<Form>,
    /// The raw values, for leak detection.
    raw: Vec<(String, String)>,
    /// Every form at once, so a text costs one pass however many keys and forms there are;
    /// leftmost-longest, so a form inside a longer one is replaced by the longer.
    matcher: Option<AhoCorasick>,
    /// Each form's substring searcher, for when there is no automaton (a literal, or past the
    /// automaton's limits); built once with the form.
    finders: Vec<memchr::memmem::Finder<'static>>,
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

    /// One value met on the way (a case's own `Authorization`), searched for without an
    /// automaton: its dozen encoded forms each get a substring searcher, which for the few texts
    /// of one response costs far less than building an automaton would. The views with escapes
    /// undone are computed again for it (once per text).
    pub fn literal(label: &str, value: &str) -> Self {
        let mut secrets = Self::new();
        secrets.push(label, value);
        secrets
    }

    /// Add a secret with the label shown in its place (e.g. `ERRCONTRACT_API_KEY`).
    pub fn add(&mut self, label: &str, value: &str) {
        if !self.push(label, value) {
            return;
        }
        // The forms are a few dozen short strings; building fails only past the automaton's
        // size limits, and then every text is searched form by form instead.
        self.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(self.forms.iter().map(|f| &f.text))
            .ok();
    }

    /// Record `value` and its forms; false when it is too short to be a secret or known.
    fn push(&mut self, label: &str, value: &str) -> bool {
        if value.len() < MIN_SECRET_LEN || self.raw.iter().any(|(_, v)| v == value) {
            return false;
        }
        self.raw.push((label.to_string(), value.to_string()));
        let b64 = base64_runs(value);
        for text in encoded_forms(value) {
            self.finders
                .push(memchr::memmem::Finder::new(text.as_bytes()).into_owned());
            self.forms.push(Form {
                label: label.to_string(),
                base64: b64.contains(&text),
                text,
            });
        }
        true
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The label of a secret with exactly this value, if it is one.
    pub fn label_of(&self, value: &str) -> Option<&str> {
        self.raw
            .iter()
            .find(|(_, v)| v == value)
            .map(|(l, _)| l.as_str())
    }

    /// `text` with every form of every secret replaced by `[REDACTED:<label>]`.
    pub fn redact(&self, text: &str) -> String {
        let spans = self.spans(text);
        if spans.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, form) in spans {
            out.push_str(&text[at..start]);
            out.push_str(&format!("[REDACTED:{}]", self.forms[form].label));
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// The first `max` bytes of a body as text, redacted *before* it is cut: a key that
    /// straddles the cut would otherwise leave its first part behind, matching no secret.
    pub fn excerpt(&self, bytes: &[u8], max: usize) -> String {
        let whole = self.redact(&String::from_utf8_lossy(bytes));
        if whole.len() <= max {
            return whole;
        }
        let mut cut = max;
        while !whole.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}… ({} bytes more)", &whole[..cut], whole.len() - cut)
    }

    /// The labels of the secrets that appear in `text`, in any form.
    pub fn found_in(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .spans(text)
            .into_iter()
            .map(|(_, _, form)| self.forms[form].label.clone())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Where secrets are in `text`: sorted, disjoint byte ranges on character boundaries, each
    /// with the form that matched first.
    fn spans(&self, text: &str) -> Vec<(usize, usize, usize)> {
        if self.forms.is_empty() {
            return Vec::new();
        }
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        // A long text (a report) is searched window by window, so its decoded views stay a few
        // times a window, not a few times the text; windows overlap by more than the longest
        // spelling of a secret, so one that crosses a boundary is whole in the next window.
        let overlap = 64 + 24 * self.raw.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + WINDOW + overlap).min(bytes.len());
            let window = &bytes[start..end];
            let shift = |(s, e): (usize, usize)| (start + s, start + e);
            self.collect(window, |s, e| shift((s, e)), &mut found);
            for view in views::views(window) {
                self.collect(&view.bytes, |s, e| shift(view.original(s, e)), &mut found);
            }
            start += WINDOW;
        }
        found.sort();
        let mut merged: Vec<(usize, usize, usize)> = Vec::with_capacity(found.len());
        for (mut start, mut end, form) in found {
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            while !text.is_char_boundary(end) {
                end += 1;
            }
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end, form)),
            }
        }
        merged
    }

    /// The hits in `hay`, each mapped to a range of the original text by `original`.
    fn collect(
        &self,
        hay: &[u8],
        original: impl Fn(usize, usize) -> (usize, usize),
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let mut push = |start: usize, end: usize, form: usize| {
            let (start, end) = if self.forms[form].base64 {
                base64_blob(hay, start, end)
            } else {
                (start, end)
            };
            let (start, end) = original(start, end);
            out.push((start, end, form));
        };
        match &self.matcher {
            Some(m) => {
                for hit in m.find_iter(hay) {
                    push(hit.start(), hit.end(), hit.pattern().as_usize());
                }
            }
            None => {
                for (form, finder) in self.finders.iter().enumerate() {
                    let len = finder.needle().len();
                    for start in finder.find_iter(hay) {
                        push(start, start + len, form);
                    }
                }
            }
        }
    }
}

/// The whole base64 blob around the run at `start..end`: the characters a base64 encoder
/// writes, and its padding, so no tail of an encoded key is left beside the label.
fn base64_blob(hay: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    while start > 0 && alphabet(hay[start - 1]) {
        start -= 1;
    }
    while end < hay.len() && alphabet(hay[end]) {
        end += 1;
    }
    while end < hay.len() && hay[end] == b'=' {
        end += 1;
    }
    (start, end)
}

/// Every form in which a secret may appear in text as written: raw, percent-encoded (both
/// spellings of the unreserved characters), hex (either case), and the base64 runs that any
/// encoding containing it must contain. Other escapes are undone before matching ([`views`]).
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
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    forms.push(hex.to_ascii_uppercase());
    forms.push(hex);
    forms.extend(base64_runs(value));
    forms.sort();
    forms.dedup();
    forms
}

/// The base64 runs that any base64 text containing `value` must contain, at each alignment.
fn base64_runs(value: &str) -> Vec<String> {
    let mut runs = Vec::new();
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
                runs.push(enc[start..end].to_string());
            }
        }
    }
    runs
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

    /// Every spelling a target was seen to send a key back in: each is found and redacted
    /// whole, leaving nothing of the key beside the label.
    #[test]
    fn a_key_is_redacted_in_every_encoding_with_no_tail_left() {
        const KEY: &str = "sk_live_abc/123+xyz";
        let mut s = Secrets::new();
        s.add("K", KEY);
        let every_u: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let every_pct: String = KEY.bytes().map(|b| format!("%{b:02x}")).collect();
        let hex: String = KEY.bytes().map(|b| format!("{b:02X}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x{KEY}"));
        for (what, text) in [
            (
                "JSON \\/",
                format!(r#"{{"m":"{}"}}"#, KEY.replace('/', "\\/")),
            ),
            ("every char \\u", format!(r#"{{"m":"key {every_u}!"}}"#)),
            ("every byte %", format!("?k={every_pct}&x")),
            ("hex", format!("0x{hex}.")),
            ("base64 tail", format!("b64 {b64} end")),
            ("line break", "key sk_live_a\r\nbc/123+xyz ok".to_string()),
            (
                "escaped line break",
                "key sk_live_abc/1\\n23+xyz ok".to_string(),
            ),
        ] {
            assert_eq!(s.found_in(&text), ["K"], "{what}: {text}");
            let red = s.redact(&text);
            assert!(s.found_in(&red).is_empty(), "{what}: {red}");
            assert!(red.contains("[REDACTED:K]"), "{what}: {red}");
            let (before, after) = red.split_once("[REDACTED:K]").unwrap_or_default();
            assert!(
                !after.starts_with(|c: char| c.is_ascii_alphanumeric() || "=/+%\\".contains(c)),
                "{what}: a tail is left: {red}"
            );
            assert!(text.starts_with(before), "{what}: {red}");
        }
    }

    /// A long report is searched in windows: a key in any form is caught wherever it sits,
    /// across a window's edge too.
    #[test]
    fn a_key_across_a_window_edge_of_a_long_text_is_redacted() {
        const KEY: &str = "sk_live_abc/123+xyz";
        let mut s = Secrets::new();
        s.add("K", KEY);
        let every_u: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        for form in [KEY.to_string(), every_u] {
            for at in [WINDOW - 3, WINDOW - 40, 2 * WINDOW - 1, 3 * WINDOW + 7] {
                let text = format!("{}{form}{}", "x".repeat(at), "y".repeat(WINDOW));
                let red = s.redact(&text);
                assert!(s.found_in(&red).is_empty(), "at {at}");
                assert_eq!(red.matches("[REDACTED:K]").count(), 1, "at {at}");
                assert_eq!(red.len(), text.len() - form.len() + "[REDACTED:K]".len());
            }
        }
    }

    #[test]
    fn text_without_a_key_is_untouched_escapes_and_all() {
        let mut s = Secrets::new();
        s.add("K", "sk_live_abc/123+xyz");
        let text = "100% {\"a\":\"\\u00e9\\/\"}\nline \u{e9}";
        assert_eq!(s.redact(text), text);
        assert!(s.found_in(text).is_empty());
    }

    #[test]
    fn short_values_are_not_secrets() {
        let mut s = Secrets::new();
        s.add("X", "abc");
        assert_eq!(s.redact("abc"), "abc");
    }
}
