//! Case files: each kind of malformed file gives a clear error at file:line:column (the output
//! is snapshot-tested), one bad file never stops the others, and the corpus in `cases/` is
//! clean and covers every code of the table.

use std::collections::BTreeSet;

use errcontract::contract::default_schemas_dir;

use crate::support;

const GOOD: &str = support::UNKNOWN_PATH_CASE;

fn malformed() -> Vec<(&'static str, String)> {
    vec![
        (
            "not_json",
            "{\n  \"description\": \"x\",\n  \"tags\": [\"images\"]\n  \"request\": {}\n}\n"
                .to_string(),
        ),
        ("unknown_key", GOOD.replace("\"expect\"", "\"expcet\"")),
        (
            "wrong_type",
            GOOD.replace("\"status\": 404", "\"status\": \"404\""),
        ),
        (
            "code_not_in_table",
            GOOD.replace("\"code\": \"not_found\"", "\"code\": \"gone\""),
        ),
        (
            "status_disagrees_with_table",
            GOOD.replace("\"status\": 404", "\"status\": 400"),
        ),
        (
            "retryable_disagrees_with_table",
            GOOD.replace("\"param\": null", "\"param\": null, \"retryable\": true"),
        ),
        (
            "unbound_placeholder",
            GOOD.replace("/v2/no-such-thing", "/v2/videos/generations/{id}"),
        ),
        (
            "duplicate_key",
            GOOD.replace("\"tags\"", "\"description\": \"again\",\n  \"tags\""),
        ),
        (
            "error_status_without_code",
            GOOD.replace(", \"code\": \"not_found\", \"param\": null", ""),
        ),
    ]
}

#[test]
fn each_malformed_case_file_is_located_and_explained() {
    let mut all = String::new();
    for (name, text) in malformed() {
        let err = match support::try_case(&format!("bad/{name}"), &text) {
            Ok(_) => panic!("bad/{name} loaded"),
            Err(e) => e,
        };
        let rendered = err.to_string();
        assert!(
            rendered.contains(&format!("cases/bad/{name}.json:")),
            "{rendered}"
        );
        for e in &err.0 {
            assert!(e.at.line >= 1 && e.at.column >= 1);
        }
        all.push_str(&format!("== {name}\n{rendered}\n"));
    }
    insta::assert_snapshot!("malformed_case_files", all);
}

#[test]
fn positions_point_at_the_offending_value() {
    let err = support::try_case(
        "bad/wrong_type",
        &GOOD.replace("\"status\": 404", "\"status\": \"404\""),
    )
    .unwrap_err();
    assert_eq!((err.0[0].at.line, err.0[0].at.column), (5, 25), "{err}");
    assert_eq!(err.0[0].pointer, "/expect/status");
    let err =
        support::try_case("bad/unknown", &GOOD.replace("\"expect\"", "\"expcet\"")).unwrap_err();
    assert_eq!((err.0[0].at.line, err.0[0].at.column), (5, 3), "{err}");
}

#[test]
fn a_bad_case_file_fails_that_case_and_the_others_still_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let area = dir.path().join("routing");
    std::fs::create_dir_all(&area).expect("mkdir");
    std::fs::write(area.join("good.json"), GOOD).expect("write");
    std::fs::write(
        area.join("broken.json"),
        GOOD.replace("\"status\": 404", "\"status\": 400"),
    )
    .expect("write");
    let out = crate::support::errcontract()
        .args(["run", "--test-threads", "1"])
        .env("ERRCONTRACT_CASES", dir.path())
        .env_remove("ERRCONTRACT_BASE_URL")
        .output()
        .expect("run errcontract");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(101), "{stdout}");
    let line = |name: &str, verdict: &str| {
        regex::Regex::new(&format!(r"test case::routing/{name}\s+\.\.\. {verdict}")).expect("regex")
    };
    assert!(line("good", "ok").is_match(&stdout), "{stdout}");
    assert!(line("broken", "FAILED").is_match(&stdout), "{stdout}");
    assert!(
        stdout.contains(
            "broken.json:5:25: expect.status: expects status 400 with code \"not_found\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed; 1 failed"), "{stdout}");
}

fn corpus() -> errcontract::case::Loaded {
    let cases = crate::support::root().join("cases");
    errcontract::case::load_all(&cases, &support::contract()).expect("cases/ is readable")
}

#[test]
fn the_corpus_lints_clean() {
    let out = crate::support::errcontract()
        .arg("lint")
        .arg(crate::support::root().join("cases"))
        .arg("--schemas")
        .arg(default_schemas_dir())
        .output()
        .expect("run errcontract lint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "errcontract lint cases/ found problems:\n{stdout}"
    );
    assert!(stdout.contains(" 0 problems"), "{stdout}");
    assert!(corpus().broken.is_empty());
}

#[test]
fn every_code_of_the_table_has_a_case() {
    let loaded = corpus();
    let expected: BTreeSet<String> = loaded
        .cases
        .iter()
        .flat_map(|c| c.expected_codes())
        .map(String::from)
        .collect();
    let contract = support::contract();
    let missing: Vec<&str> = contract
        .table
        .codes()
        .filter(|c| !expected.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes of schemas/codes.json that no case in cases/ expects: {missing:?}"
    );
}

#[test]
fn lint_reports_every_problem_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in malformed() {
        std::fs::write(dir.path().join(format!("{name}.json")), text).expect("write");
    }
    std::fs::write(dir.path().join("good.json"), GOOD).expect("write");
    let out = crate::support::errcontract()
        .arg("lint")
        .arg(dir.path())
        .arg("--schemas")
        .arg(default_schemas_dir())
        .output()
        .expect("run errcontract lint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} case files checked: 1 clean",
            malformed().len() + 1
        )),
        "{stdout}"
    );
}

#[test]
fn a_case_file_starting_with_a_bom_is_named_as_such() {
    let err = support::try_case("bom", &format!("\u{feff}{GOOD}"))
        .expect_err("a BOM is refused")
        .to_string();
    assert!(
        err.contains("bom.json:1:1: the file starts with a byte order mark (BOM)"),
        "{err}"
    );
    assert!(
        err.contains("help: save it as UTF-8 without a BOM"),
        "{err}"
    );
}

#[test]
fn user_defined_tags_starting_with_x_are_allowed_and_unknown_tags_say_how() {
    let own = GOOD.replace("\"not_found\"]", "\"not_found\", \"x-acme-nightly\"]");
    assert_ne!(own, GOOD);
    support::case("own_tag", &own);
    let err = support::try_case("typo_tag", &GOOD.replace("\"not_found\"]", "\"nightly\"]"))
        .expect_err("an unknown tag is refused")
        .to_string();
    assert!(err.contains("unknown tag"), "{err}");
    assert!(err.contains("or one of your own starting with x-"), "{err}");
}

#[test]
fn an_authorization_header_in_any_letter_case_is_refused() {
    for name in [
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "AuThOrIzAtIoN",
    ] {
        let text = GOOD.replace(
            "\"path\": \"/v2/no-such-thing\"",
            &format!("\"path\": \"/v2/no-such-thing\", \"headers\": {{\"{name}\": \"Bearer x\"}}"),
        );
        assert_ne!(text, GOOD);
        assert!(
            support::try_case("auth_header", &text).is_err(),
            "{name} was accepted"
        );
    }
    let other = GOOD.replace(
        "\"path\": \"/v2/no-such-thing\"",
        "\"path\": \"/v2/no-such-thing\", \"headers\": {\"X-Authorization-Hint\": \"x\"}",
    );
    support::case("other_header", &other);
}
