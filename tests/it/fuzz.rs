//! Property tests over arbitrary input: case loading and the response checks never panic on
//! any bytes (the loader and the checks are bounded by their caps: a case file's size limit,
//! the body cap, the nesting limit), and a key of any character class that a target reflects
//! in any encoding, in a body or a header, is caught by `no_leak` and redacted everywhere.
//! Case counts are bounded so the file runs in a few seconds; nothing here asserts speed.

use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use errcontract::check::{CheckContext, CheckName, check_response};
use errcontract::probe::Incoming;
use errcontract::redact::Secrets;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use proptest::test_runner::Config as PropConfig;

use crate::support;

const LABEL: &str = "ERRCONTRACT_API_KEY";

fn config(cases: u32) -> PropConfig {
    PropConfig {
        cases,
        // Shrunk failures are printed; nothing is written into the source tree.
        failure_persistence: None,
        ..PropConfig::default()
    }
}

/// A valid case file with `bytes` spliced in at `at`: close enough to valid to reach the later
/// stages of loading.
fn spliced(at: usize, bytes: &[u8]) -> Vec<u8> {
    let good = support::RESOLUTION_CASE.as_bytes();
    let at = at % (good.len() + 1);
    [&good[..at], bytes, &good[at..]].concat()
}

fn load(bytes: &[u8]) {
    let contract = support::contract();
    let path = Path::new("cases/fuzz.json");
    if let Err(errors) = errcontract::case::parse("fuzz".into(), path, bytes, &contract) {
        // Every error renders, with a place.
        let text = errors.to_string();
        assert!(text.contains("cases/fuzz.json:"), "{text}");
    }
}

fn response(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Incoming {
    Incoming {
        status,
        reason: String::new(),
        version: "HTTP/1.1".into(),
        headers,
        body: Bytes::from(body),
        decoded_from: None,
    }
}

fn secrets(key: &str) -> Secrets {
    let mut s = Secrets::new();
    s.add(LABEL, key);
    s
}

/// The checks' findings on one response, with the resolution case's expectation.
fn findings(secrets: &Secrets, resp: &Incoming) -> Vec<CheckName> {
    let contract = support::contract();
    let case = support::case("fuzz", support::RESOLUTION_CASE);
    let (base, step) = &case.steps[0];
    let at = format!("{base}/expect");
    let ctx = CheckContext {
        contract: &contract,
        expect: Some((&step.expect, &at)),
        secrets,
        request: None,
        now: SystemTime::now(),
    };
    check_response(&ctx, resp)
        .findings
        .iter()
        .map(|f| f.check)
        .collect()
}

/// A key of one character class: letters and digits, printable ASCII, or any visible Unicode.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{6,40}",
        "[!-~]{6,40}",
        "[\\PC&&[^\\s]]{6,30}",
        "[A-Za-z0-9_\\-./+=~%\\\\\"]{6,40}",
    ]
    .prop_map(|rest| format!("sk_{rest}"))
}

/// The ways a target was seen to write a key back, each as the text it sends.
fn encodings(key: &str, prefix: &[u8], split: usize) -> Vec<(&'static str, String)> {
    let every_u: String = key
        .encode_utf16()
        .map(|unit| format!("\\u{unit:04x}"))
        .collect();
    let every_pct: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let json = serde_json::to_string(key).expect("a string serialises");
    let blob = [prefix, key.as_bytes()].concat();
    let cut = key
        .char_indices()
        .map(|(i, _)| i)
        .filter(|&i| i > 0)
        .nth(split % (key.chars().count() - 1))
        .unwrap_or(1);
    vec![
        ("raw", key.to_string()),
        ("JSON string", json.clone()),
        ("JSON with \\/", json.replace('/', "\\/")),
        ("every unit as \\u", every_u),
        ("every byte %-encoded", every_pct),
        (
            "%-encoded",
            utf8_percent_encode(key, NON_ALPHANUMERIC).to_string(),
        ),
        ("hex", hex.clone()),
        ("HEX", hex.to_ascii_uppercase()),
        ("base64", STANDARD.encode(&blob)),
        ("base64url", URL_SAFE_NO_PAD.encode(&blob)),
        (
            "split by CRLF",
            format!("{}\r\n{}", &key[..cut], &key[cut..]),
        ),
        // As a JSON encoder writes a key with a line break in it.
        (
            "split by \\n in JSON",
            serde_json::to_string(&format!("{}\n{}", &key[..cut], &key[cut..]))
                .expect("a string serialises"),
        ),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn case_loading_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        load(&bytes);
    }

    #[test]
    fn case_loading_never_panics_on_a_valid_case_with_bytes_spliced_in(
        at in any::<usize>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        load(&spliced(at, &bytes));
    }

    #[test]
    fn the_checks_never_panic_on_an_arbitrary_response(
        status in 100u16..1000,
        headers in proptest::collection::vec(("[a-zA-Z-]{1,20}", "\\PC{0,40}"), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        spliced_in in proptest::collection::vec(any::<u8>(), 0..32),
        at in any::<usize>(),
    ) {
        let secrets = secrets("sk_fuzz_0123456789");
        let headers: Vec<(String, String)> =
            headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
        findings(&secrets, &response(status, headers.clone(), body));
        let envelope = br#"{"error":{"message":"Unsupported resolution '4K'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter"}}"#;
        let at = at % (envelope.len() + 1);
        let near = [&envelope[..at], &spliced_in[..], &envelope[at..]].concat();
        findings(&secrets, &response(status, headers, near));
    }

    #[test]
    fn decoding_never_panics_on_arbitrary_bytes(
        coding in prop_oneof![
            Just("gzip".to_string()),
            Just("deflate".to_string()),
            Just("br".to_string()),
            Just("gzip, br".to_string()),
            "[a-z, ]{0,12}",
        ],
        body in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let _ = errcontract::decode::decode(&coding, &body, 64 * 1024);
    }

    #[test]
    fn redaction_never_panics_and_leaves_no_key_in_arbitrary_text(
        key in key(),
        text in "\\PC{0,200}",
    ) {
        let s = secrets(&key);
        let red = s.redact(&text);
        prop_assert!(s.found_in(&red).is_empty(), "{red:?}");
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// A key of any character class, reflected in any encoding seen in the wild, in an error
    /// body or in a header: `no_leak` fails the response, and redaction leaves no trace of it.
    #[test]
    fn a_reflected_key_is_caught_by_no_leak_and_redacted_in_every_encoding(
        key in key(),
        prefix in proptest::collection::vec(any::<u8>(), 0..3),
        split in any::<usize>(),
    ) {
        let s = secrets(&key);
        for (how, form) in encodings(&key, &prefix, split) {
            let body = format!(
                r#"{{"error":{{"message":"Bad key {}.","type":"invalid_request_error","param":null,"code":"invalid_parameter"}}}}"#,
                form.replace(['\r', '\n'], "")
            );
            let in_body = if how.starts_with("split by CRLF") {
                format!(r#"{{"error":{{"message":"Bad key"}},"debug":"{form}"}}"#)
            } else {
                body
            };
            let checks = findings(&s, &response(400, vec![], in_body.clone().into_bytes()));
            prop_assert!(checks.contains(&CheckName::NoLeak), "{how}: {in_body:?}: {checks:?}");
            let in_header = vec![("x-debug".to_string(), form.replace(['\r', '\n'], ""))];
            if !how.starts_with("split") {
                let checks = findings(&s, &response(400, in_header, b"{}".to_vec()));
                prop_assert!(checks.contains(&CheckName::NoLeak), "{how} in a header: {form:?}: {checks:?}");
            }
            let red = s.redact(&in_body);
            prop_assert!(s.found_in(&red).is_empty(), "{how}: {red:?}");
            prop_assert!(!red.contains(key.as_str()), "{how}: {red:?}");
            prop_assert!(red.contains("[REDACTED:ERRCONTRACT_API_KEY]"), "{how}: {red:?}");
        }
    }
}
