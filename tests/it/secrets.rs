//! Secrets, proven: the whole suite runs against a target that echoes the request's
//! Authorization header everywhere it can (response headers, the error message, `param`,
//! `code`, a `doc_url` query, base64 and URL-encoded, JSON-escaped as `\/` and as `\uXXXX`,
//! hex, every byte percent-encoded, split by a line break), with a distinct canary key for every
//! role. Nothing errcontract prints or writes may contain any canary in any form. A property
//! test does the same with generated keys of every printable character class.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One canary per role: characters that change under base64 and percent-encoding included.
const CANARIES: &[(&str, &str)] = &[
    ("ERRCONTRACT_API_KEY", "sk_canary_valid/Q7+xLm=9d"),
    ("ERRCONTRACT_REVOKED_API_KEY", "sk_canary_revoked~Zr4.Tq"),
    ("ERRCONTRACT_ZERO_BALANCE_API_KEY", "sk_canary_zero-W2k8Pn"),
    ("ERRCONTRACT_THROTTLED_API_KEY", "sk_canary_throttled_Hx3v"),
];

/// Percent-encoding that keeps RFC 3986's unreserved characters, as URL builders do.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Echo the Authorization header back in every place a response has.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let token = auth.trim_start_matches("Bearer ").to_string();
        let pct = utf8_percent_encode(&auth, UNRESERVED).to_string();
        let pct_all = utf8_percent_encode(&token, NON_ALPHANUMERIC).to_string();
        let b64 = STANDARD.encode(&auth);
        let b64_url = URL_SAFE_NO_PAD.encode(format!("user:{token}"));
        let (first, second) = token.split_at(token.len() / 2);
        let body = json!({"error": {
            "message": format!("Invalid key {auth} (token {token}, b64 {b64}, {b64_url}, url {pct}, hex {}, bytes {}, split {first}\n{second}, @SLASHED@, @ESCAPED@)", hex(&token), every_byte_percent(&token)),
            "type": "invalid_request_error",
            "param": token,
            "code": auth,
            "doc_url": format!("https://docs.getimg.ai/guides/errors?key={pct}&k2={pct_all}"),
            "debug": b64,
        }});
        // Vary the status by path so success, redirect, rate-limit and error paths all render.
        let status = match request.url.path().len() % 5 {
            0 => 200,
            1 => 302,
            2 => 429,
            3 => 500,
            _ => 400,
        };
        // serde_json writes neither escape, so they are put in by hand: `\/` as PHP writes it,
        // and every character as `\uXXXX`.
        let body = body
            .to_string()
            .replace("@SLASHED@", &slashed(&token))
            .replace("@ESCAPED@", &every_char_escaped(&token));
        ResponseTemplate::new(status)
            .set_body_raw(body.into_bytes(), &format!("application/json; echo={pct}"))
            .insert_header("x-echo-authorization", auth.as_str())
            .insert_header(
                "location",
                format!("https://elsewhere.example/cb?auth={pct}"),
            )
            .insert_header("retry-after", token.as_str())
            .insert_header("x-ratelimit-limit", token.as_str())
            .insert_header("x-ratelimit-remaining", b64.as_str())
            .insert_header("x-ratelimit-reset", pct_all.as_str())
            .insert_header("x-echo-hex", hex(&token))
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn every_byte_percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn slashed(s: &str) -> String {
    s.replace('/', "\\/")
}

fn every_char_escaped(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

/// Every form a canary could take in output.
fn forms(canary: &str) -> Vec<String> {
    let mut forms = errcontract::redact::encoded_forms(canary);
    forms.push(utf8_percent_encode(canary, UNRESERVED).to_string());
    forms.push(STANDARD.encode(canary));
    forms.push(hex(canary));
    forms.push(every_byte_percent(canary));
    forms.push(every_byte_percent(canary).to_lowercase());
    forms.push(every_char_escaped(canary));
    if canary.contains('/') {
        forms.push(slashed(canary));
    }
    let (first, second) = canary.split_at(canary.len() / 2);
    forms.push(format!("{first}\\n{second}"));
    forms.push(format!("{first}\n{second}"));
    forms.sort();
    forms.dedup();
    forms
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_key_appears_in_any_output_or_report() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(Echo).mount(&server).await;
    let reports = tempfile::tempdir().expect("tempdir");
    let report_dir = reports.path().join("out");
    let cases = crate::support::root().join("cases");

    let mut cmd = crate::support::errcontract();
    cmd.args(["run", "--test-threads", "4"])
        .env("ERRCONTRACT_BASE_URL", server.uri())
        .env(
            "ERRCONTRACT_FEATURES",
            "fault_injection,content_policy_trigger,video_failure_trigger",
        )
        .env("ERRCONTRACT_ALLOW_BILLABLE", "1")
        .env("ERRCONTRACT_REPORT_DIR", &report_dir)
        .env("ERRCONTRACT_CASES", &cases)
        .env("ERRCONTRACT_TIMEOUT_S", "2")
        .env("ERRCONTRACT_CASE_DEADLINE_S", "5")
        // Every request gets an answer at once; the default 5 rps would only slow the run.
        .env("ERRCONTRACT_RPS", "0")
        // On a loaded machine a few answers may miss the 2 s timeout; every case must still be
        // sent, so the stopped-answering cut-off stays out of this test.
        .env("ERRCONTRACT_MAX_TIMEOUTS", "1000")
        // The CI job's summary page is a file written too.
        .env(
            "GITHUB_STEP_SUMMARY",
            report_dir.join("github-step-summary.md"),
        );
    for (var, canary) in CANARIES {
        cmd.env(var, canary);
    }
    // And what one nextest process writes: its case's fragment.
    let mut one = crate::support::errcontract();
    one.args([
        "run",
        "--exact",
        "case::auth/images-revoked-key",
        "--nocapture",
    ])
    .env("ERRCONTRACT_BASE_URL", server.uri())
    .env("ERRCONTRACT_REPORT_DIR", report_dir.join("nextest"))
    .env("ERRCONTRACT_CASES", &cases)
    .env("ERRCONTRACT_RPS", "0")
    .env("NEXTEST", "1")
    .env("NEXTEST_RUN_ID", "canary-run");
    for (var, canary) in CANARIES {
        one.env(var, canary);
    }
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();

    // The test can fail: the run sent every canary, got echoes, failed cases, wrote reports.
    let received = server.received_requests().await.unwrap_or_default();
    for (var, canary) in CANARIES {
        let sent = received.iter().any(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains(canary))
        });
        assert!(
            sent,
            "no request carried the {var} canary; the scan would prove nothing"
        );
    }
    assert!(
        !output.status.success(),
        "against an echoing target cases must fail\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("FAILED"),
        "the run must fail cases\n{stdout}"
    );
    for (var, _) in CANARIES {
        assert!(
            stdout.contains(&format!("[REDACTED:{var}]")),
            "the output never shows {var} redacted, so its echo was never rendered\n{stdout}"
        );
    }
    // The merge of the run's fragments is a file written too.
    let mut merge = crate::support::errcontract();
    merge
        .arg("report")
        .arg(&report_dir)
        .arg("--out")
        .arg(report_dir.join("merged"));
    for (var, canary) in CANARIES {
        merge.env(var, canary);
    }
    let merged = merge.output().expect("errcontract report runs");
    assert!(
        String::from_utf8_lossy(&merged.stderr).contains("merged 1 fragment"),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let one = one.output().expect("one nextest-style process runs");
    // What `diff` and `expectations` print are outputs too.
    let printed: Vec<(String, Output)> = [
        vec![
            "diff".to_string(),
            report_dir.join("report.json").display().to_string(),
            report_dir.join("merged/report.json").display().to_string(),
        ],
        vec![
            "expectations".to_string(),
            "--from".to_string(),
            report_dir.join("report.json").display().to_string(),
        ],
    ]
    .into_iter()
    .map(|args| {
        let o = crate::support::errcontract()
            .args(&args)
            .output()
            .expect("errcontract runs");
        (args[0].clone(), o)
    })
    .collect();
    assert!(
        printed.iter().all(|(_, o)| !o.stdout.is_empty()),
        "diff and expectations print something to scan"
    );
    let files = files_below(&report_dir);
    for name in [
        "junit.xml",
        "report.json",
        "summary.md",
        "report.html",
        "run.json",
        "merged/report.html",
        "github-step-summary.md",
        "case_3A_3Aauth_2Fimages-revoked-key.json",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} was not written: {files:?}\n{stderr}"
        );
    }

    let mut outputs: Vec<(String, String)> = vec![
        ("stdout".into(), stdout.clone()),
        ("stderr".into(), stderr.clone()),
        (
            "one process's output".into(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&one.stdout),
                String::from_utf8_lossy(&one.stderr)
            ),
        ),
    ];
    for (name, o) in &printed {
        outputs.push((
            format!("errcontract {name}"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ));
    }
    for f in &files {
        let bytes = std::fs::read(f).expect("read a report");
        outputs.push((
            f.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let mut hits = Vec::new();
    for (var, canary) in CANARIES {
        for form in forms(canary) {
            for (name, text) in &outputs {
                let n = text.matches(form.as_str()).count();
                if n > 0 {
                    let at = text.find(form.as_str()).unwrap_or(0);
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(80)
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    let context: String = text[from..].chars().take(200).collect();
                    hits.push(format!(
                        "{var} as {form:?}: {n} time(s) in {name}, e.g. …{context}…"
                    ));
                }
            }
        }
    }
    eprintln!(
        "secrets: scanned stdout ({} bytes), stderr ({} bytes) and {} report file(s) for {} forms of {} canaries: {} hit(s)",
        stdout.len(),
        stderr.len(),
        files.len(),
        CANARIES.iter().map(|(_, c)| forms(c).len()).sum::<usize>(),
        CANARIES.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "canaries leaked:\n{}", hits.join("\n"));
}

/// Echo the bearer token in the error message in every encoding a target was seen to use.
struct EveryEncoding;

impl Respond for EveryEncoding {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_start_matches("Bearer ")
            .to_string();
        let json = serde_json::to_string(&token).unwrap_or_default();
        let (first, second) = token.split_at(token.len() / 2);
        let split = serde_json::to_string(&format!("{first}\n{second}")).unwrap_or_default();
        let forms = [
            json.clone(),
            slashed(&json),
            format!("\"{}\"", every_char_escaped(&token)),
            format!("\"{}\"", every_byte_percent(&token)),
            format!("\"{}\"", hex(&token)),
            format!("\"{}\"", STANDARD.encode(format!("user:{token}"))),
            split,
        ];
        let body = format!(
            r#"{{"error":{{"message":"Unsupported resolution '4K'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter","echo":[{}]}}}}"#,
            forms.join(",")
        );
        ResponseTemplate::new(400)
            .set_body_raw(body.into_bytes(), "application/json")
            .insert_header("x-echo", hex(&token).as_str())
    }
}

/// The spellings of `key` the echo sends, as they would appear in any output.
fn echoed_forms(key: &str) -> Vec<String> {
    let (first, second) = key.split_at(key.len() / 2);
    let mut forms = vec![
        key.to_string(),
        slashed(key),
        every_char_escaped(key),
        every_byte_percent(key),
        hex(key),
        STANDARD.encode(format!("user:{key}")),
        format!("{first}\\n{second}"),
        format!("{first}\n{second}"),
    ];
    let json = serde_json::to_string(key).unwrap_or_default();
    forms.push(json.trim_matches('"').to_string());
    forms.sort();
    forms.dedup();
    forms
}

/// Generated keys of every printable-ASCII class (what an Authorization header can carry),
/// each reflected in every encoding: the case fails `no_leak`, and no output or report holds
/// the key in any of them.
#[test]
fn a_generated_key_reflected_in_every_encoding_reaches_no_output() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(EveryEncoding)
            .mount(&server)
            .await;
        server
    });
    let cases = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        cases.path().join("resolution.json"),
        crate::support::RESOLUTION_CASE,
    )
    .expect("write");
    let keys = prop_oneof![
        "[A-Za-z0-9]{8,32}",
        "[!-~]{8,32}",
        "[A-Za-z0-9_\\-./+=~%\\\\\"]{8,32}",
    ]
    .prop_map(|rest| format!("sk_{rest}"));
    let mut runner = TestRunner::new(Config {
        cases: 8,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&keys, |key| {
        let reports = tempfile::tempdir().expect("tempdir");
        let output = crate::support::errcontract()
            .arg("run")
            .env("ERRCONTRACT_BASE_URL", server.uri())
            .env("ERRCONTRACT_CASES", cases.path())
            .env("ERRCONTRACT_API_KEY", &key)
            .env("ERRCONTRACT_ALLOW_BILLABLE", "1")
            .env("ERRCONTRACT_REPORT_DIR", reports.path())
            .env("ERRCONTRACT_RPS", "0")
            .output()
            .expect("errcontract runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        prop_assert!(
            stdout.contains("[no_leak]")
                && stdout.contains("contains the API key of ERRCONTRACT_API_KEY"),
            "no_leak did not fail:\n{stdout}"
        );
        let mut outputs = vec![
            ("stdout".to_string(), stdout),
            (
                "stderr".to_string(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            ),
        ];
        let files = files_below(reports.path());
        // junit.xml, report.json, summary.md, report.html and the run's fragment.
        prop_assert_eq!(files.len(), 5, "{:?}", files);
        for f in files {
            let text = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
            outputs.push((f.display().to_string(), text));
        }
        for form in echoed_forms(&key) {
            for (name, text) in &outputs {
                prop_assert!(!text.contains(&form), "{:?} in {}:\n{}", form, name, text);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
