//! `errcontract traffic`: recorded traffic (HAR as mitmproxy writes it, our NDJSON, gzip,
//! stdin) checked with the checks that need no case, grouped into trials, gated and reported
//! as a run is. Fixtures: `tests/fixtures/traffic/mitmproxy-kept.har` is traffic from the
//! reference server with wire changes that keep the contract (a `Content-Encoding: gzip`
//! whose text HAR stores decoded, a base64 body, an HTTP-date `Retry-After`, an extra member,
//! a masked key in a message, chunked); `mitmproxy-broken.har` is the same with three breaks
//! (a 500 for `invalid_parameter`, an HTML 404, a failed video with a code not in the table).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    crate::support::root()
        .join("tests/fixtures/traffic")
        .join(name)
}

fn traffic(args: &[&str], env: &[(&str, &Path)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = crate::support::errcontract();
    cmd.arg("traffic")
        .args(args)
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .env_remove("ERRCONTRACT_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("errcontract starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("stdin written");
    }
    drop(input);
    child.wait_with_output().expect("errcontract ends")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("report.json"))
        .expect("report.json parses")
}

#[test]
fn a_mitmproxy_har_that_keeps_the_contract_passes_whatever_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture("mitmproxy-kept.har");
    let out = traffic(
        &[har.to_str().unwrap()],
        &[("ERRCONTRACT_REPORT_DIR", dir.path())],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("read 8 exchange(s); checked 6 (errors and video polls) in 6 trial(s)"),
        "{all}"
    );
    assert!(
        all.contains("test traffic::GET /v2/videos/generations/{id}::server_error ... ok"),
        "{all}"
    );
    assert!(
        all.contains("mitmproxy-kept.har: entry 8: no response: not checked"),
        "{all}"
    );
    let doc = report(dir.path());
    assert!(
        doc["target"].as_str().unwrap().starts_with("traffic: ")
            && doc["target"]
                .as_str()
                .unwrap()
                .ends_with("mitmproxy-kept.har"),
        "{}",
        doc["target"]
    );
    for file in ["junit.xml", "summary.md", "report.html"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
}

#[test]
fn a_har_with_breaks_fails_each_group_with_the_break_named_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixture("mitmproxy-broken.har");
    let out = traffic(
        &[har.to_str().unwrap()],
        &[("ERRCONTRACT_REPORT_DIR", dir.path())],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    for (trial, check) in [
        (
            "traffic::POST /v2/images/generations::invalid_parameter",
            "table",
        ),
        ("traffic::other::not_found", "content_type"),
        (
            "traffic::GET /v2/videos/generations/{id}::unknown_code",
            "poll",
        ),
    ] {
        assert!(all.contains(&format!("test {trial} ... FAILED")), "{all}");
        let doc = report(dir.path());
        let case = doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == trial)
            .unwrap_or_else(|| panic!("{trial} in report.json"));
        assert_eq!(case["outcome"], "failed");
        assert_eq!(case["failed_checks"], serde_json::json!([check]), "{case}");
        assert!(
            case["file"]
                .as_str()
                .unwrap()
                .contains("mitmproxy-broken.har: entry "),
            "{case}"
        );
    }
    assert!(
        all.contains("mitmproxy-broken.har: entry 0 (2026-12-01T10:00:00.000000+00:00) POST /v2/images/generations → 500"),
        "{all}"
    );
    // The valid key of the recording never reaches a report.
    for file in ["junit.xml", "report.json", "summary.md", "report.html"] {
        let written = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!written.contains("sk_test_errcontract_"), "{file}");
    }
    assert!(!all.contains("sk_test_errcontract_valid"), "{all}");
}

#[test]
fn the_known_failures_gate_applies_to_traffic_trials() {
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known.json");
    std::fs::write(
        &known,
        r#"{"known_failures": [
          {"case": "traffic::POST /v2/images/generations::invalid_parameter", "reason": "500 for bad values", "ticket": "https://t.example/1", "checks": ["table"]},
          {"glob": "traffic::other::*", "reason": "html 404s", "ticket": "https://t.example/2", "checks": ["content_type"]},
          {"case": "traffic::GET /v2/videos/generations/{id}::unknown_code", "reason": "new codes", "ticket": "https://t.example/3"}
        ]}"#,
    )
    .unwrap();
    let har = fixture("mitmproxy-broken.har");
    let out = traffic(
        &[har.to_str().unwrap()],
        &[("ERRCONTRACT_EXPECTATIONS", &known)],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains(
            "test traffic::other::not_found ... ignored, expected failure (https://t.example/2)"
        ),
        "{all}"
    );
    // The same file on traffic that keeps the contract: unexpected passes fail the gate.
    let out = traffic(
        &[fixture("mitmproxy-kept.har").to_str().unwrap()],
        &[("ERRCONTRACT_EXPECTATIONS", &known)],
        None,
    );
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
}

#[test]
fn gzip_and_stdin_are_read_and_nothing_checked_is_a_guard() {
    let har = std::fs::read(fixture("mitmproxy-broken.har")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&har).unwrap();
    let out = traffic(&["-"], &[], Some(&gz.finish().unwrap()));
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let quiet = r#"{"log": {"version": "1.2", "entries": [
      {"request": {"method": "GET", "url": "https://api.example/v2/models", "headers": []},
       "response": {"status": 200, "headers": [], "content": {"size": 2, "text": "[]"}}}]}}"#;
    let out = traffic(&["-"], &[], Some(quiet.as_bytes()));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains("nothing was checked: of the 1 exchange(s) read, none was an error"),
        "{all}"
    );
}

#[test]
fn bad_input_is_located_and_the_rest_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let ndjson = dir.path().join("t.ndjson");
    let good = r#"{"request":{"method":"GET","url":"/v2/nope"},"response":{"status":404,"headers":[["content-type","text/html"]],"body":"<h1>no</h1>"}}"#;
    std::fs::write(
        &ndjson,
        format!("{good}\nnot json at all\n\n{{\"request\": 1}}\n{good}\n"),
    )
    .unwrap();
    let truncated = dir.path().join("cut.har");
    let har = std::fs::read(fixture("mitmproxy-broken.har")).unwrap();
    std::fs::write(&truncated, &har[..har.len() / 2]).unwrap();
    let v2 = dir.path().join("v2.har");
    std::fs::write(&v2, r#"{"log": {"version": "2.0", "entries": []}}"#).unwrap();
    let out = traffic(
        &[
            ndjson.to_str().unwrap(),
            truncated.to_str().unwrap(),
            v2.to_str().unwrap(),
            "/no/such/file.har",
        ],
        &[],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(
        all.contains("t.ndjson:2:2: not an exchange (expected ident): skipped"),
        "{all}"
    );
    assert!(
        all.contains("t.ndjson:4:13: not an exchange (invalid type: integer `1`, expected a request or response object): skipped"),
        "{all}"
    );
    assert!(all.contains("cut.har:"), "{all}");
    assert!(
        all.contains(
            "truncated: the file ends inside the HAR, after 4 entries were read (they were checked)"
        ),
        "{all}"
    );
    assert!(
        all.contains("HAR version 2.0: only HAR 1.x is read"),
        "{all}"
    );
    assert!(all.contains("/no/such/file.har: cannot read it"), "{all}");
    assert!(
        all.contains("traffic::other::no_code: 2 of 2 exchanges broke the contract"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn a_key_the_recorder_took_out_of_a_response_still_fails_no_leak() {
    // As `errcontract proxy --record` writes a response that echoed a key: the body redacted,
    // the record saying which key it carried. Without `keys_redacted` the same body passes.
    let line = |redacted: &str| {
        format!(
            r#"{{"time":"2026-12-01T10:00:00Z","request":{{"method":"POST","url":"/v2/images/generations","headers":[["authorization","[REDACTED]"]]}},"response":{{"status":401,"headers":[["content-type","application/json"]],"body":"{{\"error\":{{\"message\":\"Invalid API key provided: [REDACTED:ERRCONTRACT_API_KEY]\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\",\"doc_url\":\"https://docs.getimg.ai/errors#invalid_api_key\"}}}}"{redacted}}}}}"#
        )
    };
    let leaked = line(r#","keys_redacted":["ERRCONTRACT_API_KEY"]"#);
    let out = traffic(&["-"], &[], Some(leaked.as_bytes()));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(
        all.contains("no_leak") && all.contains("the API key of ERRCONTRACT_API_KEY"),
        "{all}"
    );
    let clean = line("");
    let out = traffic(&["-"], &[], Some(clean.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A HAR entry: `method url → status`, a JSON or other body (None: not recorded).
fn har_entry(method: &str, url: &str, status: u16, mime: &str, body: Option<&str>) -> Value {
    let mut content =
        serde_json::json!({ "size": body.map_or(-1, |b| b.len() as i64), "mimeType": mime });
    if let Some(b) = body {
        content["text"] = Value::from(b);
    }
    serde_json::json!({
        "startedDateTime": "2026-12-01T10:00:00.000Z",
        "_resourceType": "fetch",
        "request": { "method": method, "url": url, "httpVersion": "HTTP/1.1",
                     "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0 },
        "response": { "status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                      "headers": [{ "name": "Content-Type", "value": mime }], "cookies": [],
                      "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1 },
        "cache": {}, "timings": { "send": 0, "wait": 1, "receive": 0 }
    })
}

const NOT_FOUND: &str = r#"{"error":{"message":"Unrecognized request URL: GET /v2/nope.","type":"invalid_request_error","param":null,"code":"not_found","doc_url":"https://docs.getimg.ai/errors#not_found"}}"#;

#[test]
fn a_browser_capture_is_checked_for_the_api_only_and_keys_in_urls_are_never_shown() {
    let key = "sk_live_QUERYKEY_777abc";
    let har = serde_json::json!({
        // A member before `log` and a byte order mark, as some tools write them.
        "comment": "exported by a browser",
        "log": { "version": "1.2", "creator": { "name": "WebInspector", "version": "537.36" },
        "pages": [], "entries": [
            har_entry("GET", "https://api.example/v2/nope", 404, "application/json", Some(NOT_FOUND)),
            // A break whose URL carries a key: the failure shows the exchange, never the key.
            har_entry("GET", &format!("https://api.example/v2/models/x?api_key={key}"), 500, "text/html", Some("<h1>oops</h1>")),
            // HEAD has no body by HTTP's rules: nothing to parse, nothing failed.
            har_entry("HEAD", "https://api.example/v2/nope", 404, "application/json", Some("")),
            // The page's other hosts: not the API's.
            har_entry("GET", "https://app.example/favicon.ico", 404, "text/html", Some("<html>no</html>")),
            har_entry("POST", "https://www.google-analytics.com/g/collect", 403, "text/plain", Some("denied")),
        ]}
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("browser.har");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(serde_json::to_vec_pretty(&har).unwrap());
    std::fs::write(&file, bytes).unwrap();
    let reports = dir.path().join("reports");
    let out = traffic(
        &[file.to_str().unwrap()],
        &[("ERRCONTRACT_REPORT_DIR", &reports)],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(all.contains("checked 3"), "the API's three errors: {all}");
    assert!(
        all.contains("GET /v2/models/x → 500"),
        "the break is shown by its path: {all}"
    );
    assert!(
        all.contains("not the API's: 2 exchange(s)") && all.contains("--host"),
        "{all}"
    );
    for name in ["junit.xml", "report.json", "summary.md", "report.html"] {
        let text = std::fs::read_to_string(reports.join(name)).unwrap();
        assert!(!text.contains(key), "{name} shows the key of the URL");
    }
    assert!(!all.contains(key), "{all}");

    assert!(
        !all.contains("favicon") && !all.contains("collect"),
        "{all}"
    );

    // Named as the API's host, the favicon's host is checked whole: its HTML 404 breaks.
    let out = traffic(
        &[file.to_str().unwrap(), "--host", "app.example"],
        &[],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(all.contains("GET /favicon.ico"), "{all}");
}

#[test]
fn a_file_that_cannot_be_read_fails_its_own_trial_and_the_others_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.har");
    let not_json = dir.path().join("notes.har");
    std::fs::write(&not_json, "these are notes, not a capture\n").unwrap();
    let good = fixture("mitmproxy-kept.har");
    let out = traffic(
        &[
            good.to_str().unwrap(),
            missing.to_str().unwrap(),
            not_json.to_str().unwrap(),
        ],
        &[],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    for bad in [&missing, &not_json] {
        assert!(
            all.contains(&format!("traffic::unreadable::{}", bad.display())),
            "{all}"
        );
    }
    assert!(all.contains("cannot read it"), "{all}");
    // The good file's groups were still checked and held.
    assert!(
        all.contains("traffic::GET /v2/") || all.contains("traffic::POST /v2/"),
        "{all}"
    );
}
