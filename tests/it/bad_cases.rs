//! Bad case files (issue 5): every way a case file can be broken gives a clear error at
//! `file:line:column`, costs nothing but its own trial, and never takes the run down (a huge
//! file, 10,000 levels of nesting and bytes that are not UTF-8 included).

use std::path::Path;

use crate::support;

const GOOD: &str = r#"{
  "description": "an unknown path is not found",
  "tags": ["routing", "not_found"],
  "request": { "method": "GET", "path": "/v2/no-such-thing", "auth": "valid" },
  "expect": { "status": 404, "code": "not_found", "param": null }
}
"#;

/// One broken file: its name, its bytes, the line and column the error points at, and what
/// the error says.
struct Bad {
    name: &'static str,
    bytes: Vec<u8>,
    at: (usize, usize),
    says: &'static str,
}

fn bad(
    name: &'static str,
    bytes: impl Into<Vec<u8>>,
    at: (usize, usize),
    says: &'static str,
) -> Bad {
    Bad {
        name,
        bytes: bytes.into(),
        at,
        says,
    }
}

fn replaced(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "GOOD has no {from:?}");
    GOOD.replacen(from, to, 1)
}

fn catalog() -> Vec<Bad> {
    let huge = replaced(
        "an unknown path is not found",
        &"an unknown path is not found ".repeat(40_000),
    );
    let deep = format!(
        "{{\n  \"description\": {}{}\n}}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut not_utf8 = GOOD.as_bytes().to_vec();
    let at = GOOD.find("unknown path").expect("GOOD has the phrase");
    not_utf8.splice(at..at, [0xFF, 0xFE]);
    vec![
        bad("empty", "", (1, 1), "the file is empty"),
        bad("whitespace-only", "  \n\t\n", (1, 1), "the file is empty"),
        bad(
            "not-json",
            replaced(
                "\"tags\": [\"routing\", \"not_found\"],",
                "\"tags\": [\"routing\", \"not_found\"]",
            ),
            (4, 3),
            "not valid JSON",
        ),
        bad(
            "trailing-comma",
            replaced("\"param\": null }", "\"param\": null, }"),
            // serde_json notices the trailing comma at the brace after it.
            (5, 66),
            "not valid JSON: trailing comma",
        ),
        bad(
            "top-level-array",
            "[1, 2, 3]\n",
            (1, 1),
            "a case is a JSON object, not an array",
        ),
        bad(
            "top-level-string",
            "\"a case\"\n",
            (1, 1),
            "a case is a JSON object, not a string",
        ),
        bad(
            "unknown-key",
            replaced("\"expect\":", "\"expected\":"),
            (5, 3),
            "unknown key \"expected\"",
        ),
        bad(
            "unknown-key-nested",
            replaced("\"auth\": \"valid\"", "\"auth\": \"valid\", \"timeout\": 5"),
            (4, 79),
            "unknown key \"timeout\"",
        ),
        bad(
            "wrong-type-status",
            replaced("\"status\": 404", "\"status\": \"404\""),
            (5, 25),
            "is not of type \"integer\", found a string",
        ),
        bad(
            "wrong-type-tags",
            replaced("[\"routing\", \"not_found\"]", "\"routing\""),
            (3, 11),
            "is not of type \"array\", found a string",
        ),
        bad("huge", huge, (1, 1), "a case file may be at most 1048576"),
        bad(
            "deeply-nested",
            deep,
            (2, 81),
            "JSON nested deeper than 64 levels",
        ),
        bad(
            "invalid-utf8",
            not_utf8,
            (2, 22),
            "the file is not valid UTF-8",
        ),
        bad(
            "duplicate-key",
            replaced("\"tags\":", "\"description\": \"again\",\n  \"tags\":"),
            (3, 3),
            "duplicate key",
        ),
        bad(
            "unbound-placeholder",
            replaced("/v2/no-such-thing", "/v2/videos/generations/{id}"),
            (4, 41),
            "placeholder {id} is not captured by an earlier step",
        ),
        bad(
            "unknown-role",
            replaced("\"auth\": \"valid\"", "\"auth\": \"admin\""),
            (4, 70),
            "unknown auth \"admin\"",
        ),
        bad(
            "unknown-code",
            replaced("\"code\": \"not_found\"", "\"code\": \"gone\""),
            (5, 38),
            "\"gone\" is not a code of the table",
        ),
        bad(
            "status-contradicts-table",
            replaced("\"status\": 404", "\"status\": 400"),
            (5, 25),
            "expects status 400 with code \"not_found\", but the table gives \"not_found\" status 404",
        ),
        bad(
            "header-value-with-a-line-break",
            replaced(
                "\"auth\": \"valid\"",
                "\"auth\": \"valid\", \"headers\": { \"X-A\": \"b\\r\\nX-Injected: 1\" }",
            ),
            (4, 99),
            "\"b\\r\\nX-Injected: 1\" is not a valid HTTP header value",
        ),
        bad(
            "header-name-with-a-space",
            replaced(
                "\"auth\": \"valid\"",
                "\"auth\": \"valid\", \"headers\": { \"X A\": \"1\" }",
            ),
            (4, 99),
            "\"X A\" is not a valid HTTP header name",
        ),
        bad(
            "path-climbing-out-of-a-base-path",
            replaced("/v2/no-such-thing", "/v2/../no-such-thing"),
            (4, 41),
            "has a `.` or `..` segment",
        ),
        bad(
            "retryable-contradicts-table",
            replaced("\"param\": null", "\"param\": null, \"retryable\": true"),
            (5, 79),
            "expects a retryable error, but the table says \"not_found\" is non-retryable",
        ),
    ]
}

/// The error a file gets, loaded the way the harness loads it.
fn load_error(dir: &Path, b: &Bad) -> errcontract::case::CaseErrors {
    let file = dir.join("broken").join(format!("{}.json", b.name));
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&file, &b.bytes).expect("write");
    match errcontract::case::load(dir, &file, &support::contract()) {
        Ok(_) => panic!("{} loaded", b.name),
        Err(e) => e,
    }
}

#[test]
fn each_bad_case_file_is_refused_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    for b in catalog() {
        let err = load_error(dir.path(), &b);
        let rendered = err.to_string();
        let path = dir.path().join("broken").join(format!("{}.json", b.name));
        if !rendered.contains(b.says) {
            problems.push(format!(
                "{}: does not say {:?}:\n{rendered}",
                b.name, b.says
            ));
        }
        let (line, column) = b.at;
        let located = format!("{}:{line}:{column}: ", path.display());
        if !rendered.contains(&located) {
            problems.push(format!("{}: not at {line}:{column}:\n{rendered}", b.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ten_thousand_levels_of_nesting_do_not_overflow_a_small_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let deep = catalog()
        .into_iter()
        .find(|b| b.name == "deeply-nested")
        .expect("the catalog has it");
    // 256 KiB: a parser that recursed once per level would need far more for 10,000 levels.
    let err = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || load_error(&path, &deep).to_string())
        .expect("spawn")
        .join()
        .expect("loading deep nesting does not overflow the stack");
    assert!(err.contains("nested deeper than"), "{err}");
}

#[test]
fn each_bad_case_file_fails_only_its_own_trial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let routing = dir.path().join("routing");
    std::fs::create_dir_all(&routing).expect("mkdir");
    std::fs::write(routing.join("good.json"), GOOD).expect("write");
    let catalog = catalog();
    for b in &catalog {
        let broken = dir.path().join("broken");
        std::fs::create_dir_all(&broken).expect("mkdir");
        std::fs::write(broken.join(format!("{}.json", b.name)), &b.bytes).expect("write");
    }
    // No ERRCONTRACT_BASE_URL: the built-in reference server answers the good case.
    let out = crate::support::errcontract()
        .args(["run", "--test-threads", "2"])
        .env("ERRCONTRACT_CASES", dir.path())
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .output()
        .expect("run errcontract");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(101), "{stdout}");
    // `test case::x      ... ok`: libtest pads names to one width.
    let verdict = |trial: &str| -> Option<String> {
        stdout.lines().find_map(|l| {
            let (name, verdict) = l.strip_prefix("test ")?.split_once(" ... ")?;
            (name.trim() == trial).then(|| verdict.trim().to_string())
        })
    };
    assert_eq!(
        verdict("case::routing/good").as_deref(),
        Some("ok"),
        "{stdout}"
    );
    let mut problems = Vec::new();
    for b in &catalog {
        let trial = format!("case::broken/{}", b.name);
        if verdict(&trial).as_deref() != Some("FAILED") {
            problems.push(format!("{trial} is not a failed trial"));
            continue;
        }
        // libtest-mimic prints each failure under `---- <trial> ----`.
        let section = stdout
            .split(&format!("---- {trial} ----"))
            .nth(1)
            .and_then(|rest| rest.split("\n---- ").next())
            .unwrap_or("");
        let path = dir.path().join("broken").join(format!("{}.json", b.name));
        let (line, column) = b.at;
        let located = format!("{}:{line}:{column}: ", path.display());
        if !section.contains(&located) || !section.contains(b.says) {
            problems.push(format!(
                "{trial}: expected {located:?} and {:?} in:\n{section}",
                b.says
            ));
        }
    }
    assert!(problems.is_empty(), "{}\n\n{stdout}", problems.join("\n"));
    assert!(
        stdout.contains(&format!("1 passed; {} failed", catalog.len())),
        "{stdout}"
    );
}
