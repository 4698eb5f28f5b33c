//! The vendor regression gate, run as a vendor runs it (`errcontract run` with
//! `ERRCONTRACT_EXPECTATIONS`, against the built-in reference server): each rule of the gate,
//! `errcontract expectations --from`, and `errcontract diff`.

use std::path::{Path, PathBuf};
use std::process::Output;

use errcontract::exit;

use crate::support::UNKNOWN_PATH_CASE;

/// Passes against the reference server.
const FIXED: &str = UNKNOWN_PATH_CASE;

/// Fails in `param` only: the server says `param: null`.
fn param_gap() -> String {
    UNKNOWN_PATH_CASE.replace("\"param\": null", "\"param\": \"path\"")
}

/// Fails in `status`, `code` and `param`.
fn status_break() -> String {
    UNKNOWN_PATH_CASE.replace(
        "\"status\": 404, \"code\": \"not_found\", \"param\": null",
        "\"status\": 400, \"code\": \"invalid_parameter\", \"param\": \"x\"",
    )
}

struct Vendor {
    dir: tempfile::TempDir,
}

impl Vendor {
    fn new(cases: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Vendor { dir };
        for (name, text) in cases {
            v.case(name, text);
        }
        v
    }

    fn case(&self, name: &str, text: &str) {
        let path = self.cases().join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write case");
    }

    fn cases(&self) -> PathBuf {
        self.dir.path().join("cases")
    }

    fn known(&self) -> PathBuf {
        self.dir.path().join("known-failures.json")
    }

    fn write_known(&self, entries: &str) {
        std::fs::write(
            self.known(),
            format!("{{\"known_failures\": [\n{entries}\n]}}\n"),
        )
        .expect("write known failures");
    }

    fn reports(&self, run: &str) -> PathBuf {
        self.dir.path().join(run)
    }

    /// `errcontract run ARGS`, gated when the known-failures file exists, reports into `run`.
    fn run(&self, run: &str, args: &[&str]) -> Output {
        let mut cmd = crate::support::errcontract();
        cmd.arg("run")
            .args(args)
            .env("ERRCONTRACT_CASES", self.cases())
            .env("ERRCONTRACT_REPORT_DIR", self.reports(run))
            .env_remove("ERRCONTRACT_BASE_URL")
            .env_remove("ERRCONTRACT_EXPECTATIONS");
        if self.known().exists() {
            cmd.env("ERRCONTRACT_EXPECTATIONS", self.known());
        }
        cmd.output().expect("errcontract runs")
    }

    fn errcontract(&self, args: &[&str]) -> Output {
        crate::support::errcontract()
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("errcontract runs")
    }

    fn report(&self, run: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.reports(run).join("report.json"))
            .expect("report.json written");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("report.json parses");
        valid_report(&doc);
        doc
    }
}

/// Every report the suite writes is valid against `schemas/report.schema.json`.
pub fn valid_report(doc: &serde_json::Value) {
    let schema_path = crate::support::root().join("schemas/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("the report schema compiles");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "report.json breaks its schema: {errors:#?}"
    );
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// libtest's line of a trial (its name is padded to the longest).
fn line_of<'a>(text: &'a str, trial: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("test {trial} ")))
        .unwrap_or_else(|| panic!("no line for {trial} in:\n{text}"))
}

fn case_in<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the report"))
}

const PARAM_GAP_ENTRY: &str = r#"{"case": "g/param-gap", "reason": "names the path as null", "ticket": "https://tracker.example/API-1", "checks": ["param"]}"#;

#[test]
fn a_listed_failure_in_its_listed_checks_is_an_expected_failure_and_the_run_holds() {
    let v = Vendor::new(&[("g/fixed", FIXED), ("g/param-gap", &param_gap())]);
    v.write_known(PARAM_GAP_ENTRY);
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::OK)), "{text}");
    assert!(
        line_of(&text, "case::g/param-gap").ends_with(
            "... ignored (expected failure (https://tracker.example/API-1): names the path as null)"
        ),
        "{text}"
    );
    assert!(text.contains("1 expected failure ("), "{text}");
    let report = v.report("r");
    let c = case_in(&report, "case::g/param-gap");
    assert_eq!(c["outcome"], "expected_failure");
    assert_eq!(c["ticket"], "https://tracker.example/API-1");
    assert_eq!(c["failed_checks"], serde_json::json!(["param"]));
    assert_eq!(report["summary"]["expected_failure"], 1);
    // The vendor's reason stands next to the ticket in every report.
    let said = "expected failure (https://tracker.example/API-1): names the path as null";
    assert_eq!(c["reason"], said);
    for file in ["junit.xml", "summary.md", "report.html"] {
        let text = std::fs::read_to_string(v.reports("r").join(file)).expect("report");
        assert!(text.contains(said), "{file}: {text}");
    }
}

#[test]
fn a_known_param_gap_does_not_hide_a_new_status_break() {
    let v = Vendor::new(&[("g/param-gap", &status_break())]);
    v.write_known(PARAM_GAP_ENTRY);
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::FAILED)), "{text}");
    assert!(
        text.contains("new failure: ")
            && text.contains(
                "only in [param] (https://tracker.example/API-1); it now also fails [status, code]"
            ),
        "{text}"
    );
    assert_eq!(
        case_in(&v.report("r"), "case::g/param-gap")["outcome"],
        "failed"
    );
}

#[test]
fn a_listed_case_that_passes_is_an_unexpected_pass() {
    let v = Vendor::new(&[("g/param-gap", FIXED)]);
    v.write_known(PARAM_GAP_ENTRY);
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::FAILED)), "{text}");
    assert!(
        text.contains("case::g/param-gap: unexpected pass: remove it from"),
        "{text}"
    );
    assert_eq!(
        case_in(&v.report("r"), "case::g/param-gap")["outcome"],
        "unexpected_pass"
    );
}

#[test]
fn an_expired_entry_fails_the_run_naming_the_entry_and_its_ticket() {
    let v = Vendor::new(&[("g/param-gap", &param_gap())]);
    v.write_known(
        &PARAM_GAP_ENTRY.replace("\"checks\"", "\"expires\": \"2020-01-31\", \"checks\""),
    );
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::FAILED)), "{text}");
    assert!(
        text.contains("not an expected failure any more: its entry in")
            && text.contains("(https://tracker.example/API-1) expired on 2020-01-31"),
        "{text}"
    );
    assert!(
        line_of(&text, "gate::known-failures").ends_with("... FAILED"),
        "{text}"
    );
}

#[test]
fn an_entry_that_names_no_case_is_stale_and_fails_the_run() {
    let v = Vendor::new(&[("g/fixed", FIXED)]);
    v.write_known(
        r#"{"case": "g/gone", "reason": "r", "ticket": "https://tracker.example/API-9"}"#,
    );
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(
        code(&o),
        Some(i32::from(exit::STALE_EXPECTATIONS)),
        "{text}"
    );
    assert!(
        text.contains("stale entry (https://tracker.example/API-9): no case is named case::g/gone"),
        "{text}"
    );
    // nextest runs the gate's trial in a process of its own.
    let o = v.run("r2", &["--exact", "gate::known-failures"]);
    assert_eq!(
        code(&o),
        Some(i32::from(exit::STALE_EXPECTATIONS)),
        "{}",
        out(&o)
    );
    let listed = v.run("r3", &["--list", "--format", "terse"]);
    assert!(
        out(&listed).contains("gate::known-failures: test"),
        "{}",
        out(&listed)
    );
}

#[test]
fn an_unlisted_failure_fails_the_run_as_without_the_gate() {
    let v = Vendor::new(&[("g/param-gap", &param_gap()), ("g/other", &status_break())]);
    v.write_known(PARAM_GAP_ENTRY);
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::FAILED)), "{text}");
    assert!(
        line_of(&text, "case::g/other").ends_with("... FAILED"),
        "{text}"
    );
    assert!(
        line_of(&text, "case::g/param-gap").contains("... ignored (expected failure"),
        "{text}"
    );
}

#[test]
fn an_entry_not_filled_in_stops_the_run_before_anything_is_sent() {
    let v = Vendor::new(&[("g/fixed", FIXED)]);
    v.write_known(r#"{"case": "g/fixed", "reason": "FILL IN: why", "ticket": "FILL IN: the URL"}"#);
    let o = v.run("r", &[]);
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::SETUP)), "{text}");
    assert!(
        text.contains("known-failures.json:2:")
            && text.contains("known_failures[0].ticket: not filled in"),
        "{text}"
    );
    assert!(!text.contains("running "), "nothing may run: {text}");
}

/// The README's vendor-gate flow, end to end: a first run, the file written from it and
/// filled in, the gating run, a fix noticed as an unexpected pass, the file rewritten.
#[test]
fn the_vendor_gate_from_first_run_to_a_noticed_fix() {
    let v = Vendor::new(&[
        ("g/fixed", FIXED),
        ("g/param-gap", &param_gap()),
        ("g/status-break", &status_break()),
    ]);
    let first = v.run("first", &[]);
    assert_eq!(
        code(&first),
        Some(i32::from(exit::FAILED)),
        "{}",
        out(&first)
    );

    let report = v.reports("first").join("report.json");
    let report = report.to_str().expect("utf-8 path");
    let w = v.errcontract(&[
        "expectations",
        "--from",
        report,
        "-o",
        "known-failures.json",
    ]);
    assert_eq!(code(&w), Some(0), "{}", out(&w));
    assert!(out(&w).contains("2 new entries to fill in"), "{}", out(&w));
    let written = std::fs::read_to_string(v.known()).expect("written");
    let doc: serde_json::Value = serde_json::from_str(&written).expect("json");
    let names: Vec<&str> = doc["known_failures"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["case"].as_str().expect("case"))
        .collect();
    assert_eq!(
        names,
        ["case::g/param-gap", "case::g/status-break"],
        "sorted, failures only, named in full as derived trials are"
    );
    assert_eq!(
        doc["known_failures"][1]["checks"],
        serde_json::json!(["status", "code", "param"])
    );
    valid_known_failures_shape(&doc, false);

    // Not filled in yet: the gate refuses it.
    let refused = v.run("refused", &[]);
    assert_eq!(
        code(&refused),
        Some(i32::from(exit::SETUP)),
        "{}",
        out(&refused)
    );

    // A person fills in the entries; the gating run holds.
    let filled = written
        .replacen(
            "FILL IN: why this case fails on this target",
            "the path is not named",
            2,
        )
        .replacen(
            "FILL IN: the URL of the issue tracking it",
            "https://tracker.example/API-2",
            2,
        );
    std::fs::write(v.known(), &filled).expect("fill in");
    valid_known_failures_shape(&serde_json::from_str(&filled).expect("json"), true);
    let gated = v.run("gated", &[]);
    assert_eq!(code(&gated), Some(i32::from(exit::OK)), "{}", out(&gated));

    // The partner fixes the param gap: noticed.
    v.case("g/param-gap", FIXED);
    let fixed = v.run("fixed", &[]);
    assert_eq!(
        code(&fixed),
        Some(i32::from(exit::FAILED)),
        "{}",
        out(&fixed)
    );
    assert!(
        out(&fixed).contains("unexpected pass: remove it from"),
        "{}",
        out(&fixed)
    );

    // Rewriting from that run drops the fixed entry and keeps what the person wrote.
    let report = v.reports("fixed").join("report.json");
    let w = v.errcontract(&[
        "expectations",
        "--from",
        report.to_str().expect("utf-8"),
        "-o",
        "known-failures.json",
    ]);
    assert!(
        out(&w).contains("removed (these pass now): case::g/param-gap"),
        "{}",
        out(&w)
    );
    let rewritten = std::fs::read_to_string(v.known()).expect("rewritten");
    assert!(!rewritten.contains("g/param-gap"), "{rewritten}");
    assert!(
        rewritten.contains("https://tracker.example/API-2"),
        "{rewritten}"
    );
    let regated = v.run("regated", &[]);
    assert_eq!(
        code(&regated),
        Some(i32::from(exit::OK)),
        "{}",
        out(&regated)
    );

    // And the diff of the first and the fixed run says what changed.
    let d = v.errcontract(&[
        "diff",
        v.reports("first")
            .join("report.json")
            .to_str()
            .expect("utf-8"),
        v.reports("fixed")
            .join("report.json")
            .to_str()
            .expect("utf-8"),
    ]);
    let md = String::from_utf8_lossy(&d.stdout);
    assert!(
        md.contains("## Fixed (1)\n\n- `case::g/param-gap` (was failed, now unexpected_pass)"),
        "{md}"
    );
    assert!(!md.contains("## New failures"), "{md}");
}

/// The file `expectations` writes matches `schemas/known-failures.schema.json` once filled in
/// (and, unfilled, breaks it only where FILL IN stands).
fn valid_known_failures_shape(doc: &serde_json::Value, filled: bool) {
    let path = crate::support::root().join("schemas/known-failures.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| e.instance_path().to_string())
        .collect();
    if filled {
        assert!(errors.is_empty(), "{errors:#?}");
    } else {
        assert!(
            !errors.is_empty()
                && errors
                    .iter()
                    .all(|p| p.ends_with("/reason") || p.ends_with("/ticket")),
            "{errors:#?}"
        );
    }
}

#[test]
fn diff_names_new_failures_fixed_inconclusive_ignored_added_and_removed() {
    let v = Vendor::new(&[
        ("g/a", FIXED),
        ("g/b", &param_gap()),
        ("g/c", FIXED),
        ("g/removed", FIXED),
    ]);
    assert_eq!(code(&v.run("old", &[])), Some(i32::from(exit::FAILED)));
    std::fs::remove_file(v.cases().join("g/removed.json")).expect("remove");
    v.case("g/a", &status_break());
    v.case("g/b", FIXED);
    v.case(
        "g/c",
        &FIXED.replace("\"tags\"", "\"ignore\": \"API-7: parked\",\n  \"tags\""),
    );
    v.case("g/added", FIXED);
    let _ = v.run("new", &[]);
    let d = v.errcontract(&[
        "diff",
        v.reports("old")
            .join("report.json")
            .to_str()
            .expect("utf-8"),
        v.reports("new")
            .join("report.json")
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(code(&d), Some(0), "{}", out(&d));
    let md = String::from_utf8_lossy(&d.stdout);
    for want in [
        "## New failures (1)\n\n- `case::g/a` (was passed, now failed: [status, code, param])",
        "## Fixed (1)\n\n- `case::g/b` (was failed, now passed)",
        "## Added (1)\n\n- `case::g/added` (now passed)",
        "## Removed (1)\n\n- `case::g/removed` (was passed)",
        "## Newly ignored (1)\n\n- `case::g/c` (was passed, now ignored: ignored by its file: API-7: parked)",
        "| failed | 1 | 1 |",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
    let bad = v.errcontract(&["diff", "nope.json", "nope.json"]);
    assert_eq!(code(&bad), Some(i32::from(exit::SETUP)));

    // A pull-request gate: a new failure fails `--fail-on-new`; no new failure holds.
    let report = |run: &str| {
        v.reports(run)
            .join("report.json")
            .to_str()
            .expect("utf-8")
            .to_string()
    };
    let (old, new) = (report("old"), report("new"));
    let gated = v.errcontract(&["diff", "--fail-on-new", &old, &new]);
    assert_eq!(
        code(&gated),
        Some(i32::from(exit::FAILED)),
        "{}",
        out(&gated)
    );
    assert!(
        out(&gated).contains("1 case(s) fail now that did not: case::g/a"),
        "{}",
        out(&gated)
    );
    let same = v.errcontract(&["diff", "--fail-on-new", &new, &new]);
    assert_eq!(code(&same), Some(0), "{}", out(&same));
}

/// Every trial of the shipped corpus (derived names with `[0]` included) can be listed by its
/// exact name, and each entry covers its trial only: against the reference server every
/// case passes, so each entry is an unexpected pass, and none is stale.
#[test]
fn every_trial_of_the_corpus_is_held_by_its_exact_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str], known: Option<&Path>| {
        let mut cmd = crate::support::errcontract();
        cmd.arg("run")
            .args(args)
            .env_remove("ERRCONTRACT_CASES")
            .env_remove("ERRCONTRACT_BASE_URL")
            .env_remove("ERRCONTRACT_REPORT_DIR")
            .env_remove("ERRCONTRACT_EXPECTATIONS");
        if let Some(k) = known {
            cmd.env("ERRCONTRACT_EXPECTATIONS", k);
        }
        cmd.output().expect("errcontract runs")
    };
    let list = run(&["--list", "--format", "terse"], None);
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(String::from)
        .collect();
    assert!(
        names.iter().any(|n| n.contains("[0]")),
        "the corpus has derived names with [0]: {names:?}"
    );
    let entries: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({"case": n, "reason": "r", "ticket": "https://t.example/1"}))
        .chain([
            serde_json::json!({"glob": "derived::images/**", "reason": "r", "ticket": "https://t.example/2"}),
            serde_json::json!({"glob": "**", "checks": ["param"], "reason": "r", "ticket": "https://t.example/3"}),
        ])
        .collect();
    let known = dir.path().join("known-failures.json");
    std::fs::write(
        &known,
        serde_json::to_string(&serde_json::json!({"known_failures": entries})).expect("json"),
    )
    .expect("write");
    let o = run(&[], Some(&known));
    let text = out(&o);
    assert_eq!(code(&o), Some(i32::from(exit::FAILED)), "{text}");
    assert!(!text.contains("stale entry"), "{text}");
    let unexpected = text
        .lines()
        .filter(|l| l.contains(": unexpected pass: remove it from"))
        .count();
    let ignored = text
        .lines()
        .filter(|l| l.starts_with("test ") && l.contains("... ignored"))
        .count();
    assert_eq!(unexpected + ignored, names.len(), "{text}");
    assert!(unexpected > 200, "{unexpected}");
}

#[test]
fn expectations_refuses_a_run_that_ended_on_a_guard_and_points_at_the_schemas() {
    let v = Vendor::new(&[("g/param-gap", &param_gap())]);
    let first = v.run("first", &[]);
    assert_eq!(
        code(&first),
        Some(i32::from(exit::FAILED)),
        "{}",
        out(&first)
    );
    let from = v.reports("first").join("report.json");
    // Written inside the build's tree (a vendor's repository holding errcontract): `$schema`
    // is the path from there; outside it (sharing only `/`), there is none to give.
    let inside =
        tempfile::tempdir_in(crate::support::root().join("target")).expect("tempdir in target/");
    let nested = inside.path().join("ci/gate");
    std::fs::create_dir_all(&nested).expect("mkdir");
    for (file, in_tree) in [
        (nested.join("kf.json"), true),
        (v.dir.path().join("kf.json"), false),
    ] {
        let w = v.errcontract(&[
            "expectations",
            "--from",
            from.to_str().expect("utf-8"),
            "-o",
            file.to_str().expect("utf-8"),
        ]);
        assert_eq!(code(&w), Some(0), "{}", out(&w));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("json");
        match doc["$schema"].as_str() {
            Some(schema) => {
                assert!(
                    in_tree,
                    "a $schema through / breaks when either moves: {schema}"
                );
                let resolved = file.parent().expect("a parent").join(schema);
                assert!(
                    resolved.is_file(),
                    "$schema {schema} resolves to the schema"
                );
            }
            None => assert!(!in_tree, "no $schema written inside the tree"),
        }
    }

    // The same report, as a run that ended on a guard writes it.
    let mut guarded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&from).expect("report")).expect("json");
    guarded["guards"] = serde_json::json!([{
        "guard": "stopped_answering", "after": 5, "timeout_ms": 30000, "left": 1, "exit_code": 5,
        "message": "the target stopped answering: 5 requests in a row got no answer within 30s"
    }]);
    guarded["exit_code"] = serde_json::json!(5);
    let g = v.dir.path().join("guarded.json");
    std::fs::write(&g, guarded.to_string()).expect("write");
    let w = v.errcontract(&["expectations", "--from", g.to_str().expect("utf-8")]);
    assert_eq!(code(&w), Some(i32::from(exit::SETUP)), "{}", out(&w));
    assert!(
        out(&w).contains("the run ended on a guard") && out(&w).contains("stopped answering"),
        "{}",
        out(&w)
    );
    assert!(w.stdout.is_empty(), "nothing written");
}
