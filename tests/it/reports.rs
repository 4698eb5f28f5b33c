//! The reports a nightly CI check lives on, run as CI runs them: all four reports from a run
//! against a broken server, the same reports from nextest's one process per case (with and
//! without a partition) merged by `errcontract report`, the merge refusing fragments of
//! different targets or contracts, and the job summary appended for GitHub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::gate::valid_report;
use crate::support::{self, UNKNOWN_PATH_CASE};

/// Cases in three areas; against the broken server below, `routing/*` fail.
fn cases() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, path) in [
        ("routing/unknown-a", "/v2/no-such-thing-a"),
        ("routing/unknown-b", "/v2/no-such-thing-b"),
        ("models/unknown", "/v2/models-no-such"),
        ("billing/unknown", "/v2/billing-no-such"),
    ] {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", path)).expect("write");
    }
    dir
}

/// A target that answers the routing paths with a wrong status and code (and the right
/// envelope), and every other path as the contract says.
async fn broken_server() -> MockServer {
    let server = MockServer::start().await;
    let body = |code: &str| {
        serde_json::json!({"error": {"message": "m", "type": "invalid_request_error",
            "param": null, "code": code, "doc_url": "https://docs.getimg.ai/guides/errors"}})
    };
    Mock::given(wiremock::matchers::path_regex("^/v2/no-such-thing"))
        .respond_with(ResponseTemplate::new(400).set_body_json(body("invalid_parameter")))
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_json(body("not_found")))
        .mount(&server)
        .await;
    server
}

fn errcontract(cases: &Path, base: &str, reports: &Path, args: &[&str]) -> Command {
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .args(args)
        .env("ERRCONTRACT_CASES", cases)
        .env("ERRCONTRACT_BASE_URL", base)
        .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_REPORT_DIR", reports)
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .env_remove("NEXTEST")
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("errcontract runs")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Each of the four reports shows the failure of `case::routing/unknown-a` and holds no key.
fn four_reports_show_the_failure(dir: &Path) -> serde_json::Value {
    let junit = read(&dir.join("junit.xml"));
    assert!(
        junit.contains("testcase name=\"case::routing/unknown-a\"") && junit.contains("<failure"),
        "{junit}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.join("report.json"))).expect("json");
    valid_report(&json);
    let failed = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "case::routing/unknown-a")
        .expect("the case");
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["checks"]["status"], "failed");
    assert_eq!(
        failed["checks"]["schema"], "passed",
        "each check's result: {failed}"
    );
    assert_eq!(failed["evidence"]["response"]["status"], 400, "{failed}");
    assert!(
        failed["evidence"]["curl"]
            .as_str()
            .is_some_and(|c| c.starts_with("curl ")),
        "{failed}"
    );
    let summary = read(&dir.join("summary.md"));
    assert!(
        summary.contains("**2 of 4 cases fail the run.**")
            && summary.contains("## Failures (2)")
            && summary.contains("- `case::routing/unknown-a` (failed): failed "),
        "{summary}"
    );
    assert!(
        !summary.contains("(failed): case::routing/unknown-a"),
        "a failure line names its case once: {summary}"
    );
    assert!(
        summary.contains("**4 of 4 cases ran to a verdict.**"),
        "{summary}"
    );
    assert!(summary.contains("## Coverage"), "{summary}");
    let html = read(&dir.join("report.html"));
    assert!(
        html.contains("data-verdict=\"failed\" data-area=\"routing\"")
            && html.contains("case::routing/unknown-a")
            && html.contains("<table class=\"matrix\">"),
        "report.html shows the failure and the matrix"
    );
    assert!(
        !html.contains("http://") || !html.contains("<link"),
        "no external assets"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link "),
        "self-contained"
    );
    for (name, text) in [("junit", &junit), ("summary", &summary), ("html", &html)] {
        assert!(!text.contains(support::VALID_KEY), "the key is in {name}");
    }
    assert!(!json.to_string().contains(support::VALID_KEY));
    json
}

/// Verdicts by case, for comparing runs.
fn verdicts(doc: &serde_json::Value) -> BTreeMap<String, String> {
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_a_broken_server_writes_all_four_reports() {
    let server = broken_server().await;
    let cases = cases();
    let reports = tempfile::tempdir().expect("tempdir");
    let summary_file = reports.path().join("github-step-summary.md");
    std::fs::write(&summary_file, "earlier step\n").expect("write");
    let mut cmd = errcontract(cases.path(), &server.uri(), reports.path(), &[]);
    cmd.env("GITHUB_STEP_SUMMARY", &summary_file);
    let o = output(cmd).await;
    assert_eq!(
        o.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    four_reports_show_the_failure(reports.path());
    let step = read(&summary_file);
    assert!(
        step.starts_with("earlier step\n# errcontract: ") && step.contains("## Failures (2)"),
        "summary.md is appended to $GITHUB_STEP_SUMMARY: {step}"
    );
}

/// nextest's protocol, step by step: `--list --format terse`, then one process per case with
/// `--exact NAME --nocapture` and `NEXTEST=1`; `--partition count:K/N` gives shard K every
/// N-th test of the list. (A real `cargo nextest run` inside `cargo test` would wait on the
/// build lock.)
async fn nextest_like(cases: &Path, base: &str, shards: usize, root: &Path) -> Vec<PathBuf> {
    let list = output(errcontract(
        cases,
        base,
        &root.join("list"),
        &["--list", "--format", "terse"],
    ))
    .await;
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(String::from)
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let dirs: Vec<PathBuf> = (1..=shards)
        .map(|k| root.join(format!("shard-{k}")))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let mut cmd = errcontract(
            cases,
            base,
            &dirs[i % shards],
            &[name, "--exact", "--nocapture"],
        );
        cmd.env("NEXTEST", "1")
            .env("NEXTEST_RUN_ID", format!("run-of-{shards}-shards"))
            .env("NEXTEST_EXECUTION_MODE", "process-per-test");
        let o = output(cmd).await;
        let failed = name.starts_with("case::routing/");
        assert_eq!(
            o.status.success(),
            !failed,
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    for d in &dirs {
        assert!(
            !d.join("junit.xml").exists(),
            "a process of one case writes only its fragment"
        );
    }
    dirs
}

/// `errcontract report DIRS --out OUT`, knowing the suite the run was of.
fn merge(dirs: &[PathBuf], out: &Path, cases: &Path) -> Output {
    crate::support::errcontract()
        .arg("report")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .env("ERRCONTRACT_CASES", cases)
        .output()
        .expect("errcontract report runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_per_case_with_and_without_partitions_merges_into_the_same_reports() {
    let server = broken_server().await;
    let cases = cases();
    let root = tempfile::tempdir().expect("tempdir");
    let whole = root.path().join("whole");
    let o = output(errcontract(cases.path(), &server.uri(), &whole, &[])).await;
    assert_eq!(o.status.code(), Some(101));
    let expected = verdicts(&four_reports_show_the_failure(&whole));

    for shards in [1, 2] {
        let here = root.path().join(format!("nextest-{shards}"));
        let dirs = nextest_like(cases.path(), &server.uri(), shards, &here).await;
        let out = here.join("merged");
        let m = merge(&dirs, &out, cases.path());
        assert_eq!(
            m.status.code(),
            Some(101),
            "the merged run's verdict: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        assert!(
            String::from_utf8_lossy(&m.stderr).contains("merged 4 fragments (4 cases)"),
            "{}",
            String::from_utf8_lossy(&m.stderr)
        );
        let merged = four_reports_show_the_failure(&out);
        assert_eq!(verdicts(&merged), expected, "{shards} shard(s)");
        if shards == 2 {
            // One shard's directory missing: the merge says which cases have no result.
            let half = merge(&dirs[..1], &here.join("half"), cases.path());
            assert_eq!(
                half.status.code(),
                Some(101),
                "a failure found outranks the missing cases: {}",
                String::from_utf8_lossy(&half.stderr)
            );
            assert!(
                String::from_utf8_lossy(&half.stderr)
                    .contains("2 case(s) of the suite have no result in the fragments"),
                "{}",
                String::from_utf8_lossy(&half.stderr)
            );
            let partial = crate::support::errcontract()
                .arg("report")
                .arg(&dirs[0])
                .args(["--partial", "--out"])
                .arg(here.join("partial"))
                .env("ERRCONTRACT_CASES", cases.path())
                .output()
                .expect("errcontract report runs");
            assert_eq!(partial.status.code(), Some(101), "the half's own verdict");
        }
        assert_eq!(merged["coverage"], {
            let w: serde_json::Value =
                serde_json::from_str(&read(&whole.join("report.json"))).expect("json");
            w["coverage"].clone()
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_of_different_targets_or_contracts_are_refused() {
    let server = broken_server().await;
    let cases = cases();
    let root = tempfile::tempdir().expect("tempdir");
    let a = root.path().join("a");
    let b = root.path().join("b");
    output(errcontract(cases.path(), &server.uri(), &a, &[])).await;
    let other = broken_server().await;
    output(errcontract(cases.path(), &other.uri(), &b, &[])).await;
    let m = merge(&[a.clone(), b], &root.path().join("m"), cases.path());
    assert_eq!(m.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&m.stderr).contains("targets differ"),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );

    let schemas = root.path().join("schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    let shipped = crate::support::root().join("schemas");
    for entry in std::fs::read_dir(&shipped).expect("schemas") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, schemas.join(p.file_name().expect("name"))).expect("copy");
    }
    let codes = schemas.join("codes.json");
    let text = read(&codes).replacen(
        "\"description\": \"",
        "\"description\": \"(a vendor's copy) ",
        1,
    );
    std::fs::write(&codes, text).expect("write");
    let c = root.path().join("c");
    let mut cmd = errcontract(cases.path(), &server.uri(), &c, &[]);
    cmd.env("ERRCONTRACT_SCHEMAS", &schemas);
    output(cmd).await;
    let m = merge(&[a, c], &root.path().join("m2"), cases.path());
    assert_eq!(m.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&m.stderr).contains("contracts differ"),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let empty = merge(
        &[root.path().join("m")],
        &root.path().join("m3"),
        cases.path(),
    );
    assert_eq!(empty.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_missing_cases_of_the_suite_fails_unless_partial() {
    let server = broken_server().await;
    let run_cases = tempfile::tempdir().expect("tempdir");
    let file = run_cases.path().join("models/unknown.json");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &file,
        UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", "/v2/models-x"),
    )
    .expect("write");
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("run");
    let o = output(errcontract(run_cases.path(), &server.uri(), &dir, &[])).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The suite has four cases; the run had one.
    let suite = cases();
    let m = merge(
        std::slice::from_ref(&dir),
        &root.path().join("m"),
        suite.path(),
    );
    assert_eq!(
        m.status.code(),
        Some(i32::from(errcontract::exit::INCOMPLETE)),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let summary = read(&root.path().join("m/summary.md"));
    assert!(
        summary.contains("have no result in the fragments"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "**1 of 4 cases ran to a verdict; the other 3: 3 × no result in the fragments"
        ),
        "{summary}"
    );
    // A CI test view reads junit.xml: it must not show green.
    let junit = read(&root.path().join("m/junit.xml"));
    assert!(junit.contains("errors=\"3\""), "{junit}");
    for name in [
        "case::routing/unknown-a",
        "case::routing/unknown-b",
        "case::billing/unknown",
    ] {
        assert!(
            junit.contains(&format!("<testcase name=\"{name}\"")),
            "{name} missing from junit: {junit}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&read(&root.path().join("m/report.json"))).expect("json");
    valid_report(&json);
    assert_eq!(json["missing"].as_array().map(Vec::len), Some(3), "{json}");
    let partial = crate::support::errcontract()
        .arg("report")
        .arg(&dir)
        .args(["--partial", "--out"])
        .arg(root.path().join("p"))
        .env("ERRCONTRACT_CASES", suite.path())
        .output()
        .expect("errcontract report runs");
    assert_eq!(
        partial.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );
}

/// A nightly run against a real target that is not allowed billable cases: the console and
/// summary.md start with how little ran and why; junit counts the rest as skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_summary_starts_with_how_many_cases_ran_and_why_the_rest_did_not() {
    let server = broken_server().await;
    let cases = cases();
    for name in ["images/a", "images/b", "images/c"] {
        let file = cases.path().join(format!("{name}.json"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let billable =
            support::RESOLUTION_CASE.replacen("{", "{\n  \"billable_if_accepted\": true,", 1);
        std::fs::write(file, billable).expect("write");
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("r");
    let mut cmd = errcontract(cases.path(), &server.uri(), &dir, &[]);
    cmd.env_remove("ERRCONTRACT_ALLOW_BILLABLE");
    let o = output(cmd).await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let headline = "4 of 7 cases ran to a verdict; the other 3: 3 × ";
    let after_trials = stdout
        .split("test result:")
        .nth(1)
        .expect("libtest's result line");
    let first = after_trials
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(first.starts_with(headline), "console: {stdout}");
    assert!(first.contains("ERRCONTRACT_ALLOW_BILLABLE"), "{first}");
    let summary = read(&dir.join("summary.md"));
    let top = summary.lines().nth(2).unwrap_or_default();
    assert!(top.starts_with(&format!("**{headline}")), "{summary}");
    let html = read(&dir.join("report.html"));
    assert!(
        html.contains(&format!("<p class=\"ran\">{headline}")),
        "report.html starts its summary the same way"
    );
    let junit = read(&dir.join("junit.xml"));
    assert!(
        junit.contains("skipped=\"3\"") && junit.contains("disabled=\"0\""),
        "not-run cases are skipped, not disabled: {junit}"
    );
}

/// A filtered run into a report directory that holds a whole run keeps that run's fragments
/// (they hold results the filtered run did not replace); a whole run replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_run_keeps_the_earlier_runs_fragments() {
    let server = broken_server().await;
    let cases = cases();
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("r");
    let runs = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("fragments"))
            .map(|e| {
                e.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    output(errcontract(cases.path(), &server.uri(), &dir, &[])).await;
    let whole = runs(&dir);
    assert_eq!(whole.len(), 1, "{whole:?}");
    output(errcontract(cases.path(), &server.uri(), &dir, &["models/"])).await;
    let after = runs(&dir);
    assert_eq!(
        after.len(),
        2,
        "the whole run's fragments are kept: {after:?}"
    );
    assert!(after.contains(&whole[0]), "{after:?}");
    output(errcontract(cases.path(), &server.uri(), &dir, &[])).await;
    assert_eq!(
        runs(&dir).len(),
        1,
        "a whole run is the directory's only writer"
    );
}

/// The reports name a case file the same way wherever the run was started (history keyed on
/// junit classnames must not break across machines): below the cases directory's parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_name_case_files_alike_wherever_the_run_started() {
    let server = broken_server().await;
    let cases = cases();
    let root = tempfile::tempdir().expect("tempdir");
    let parent = cases.path().parent().expect("a parent").to_path_buf();
    let base = cases
        .path()
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let mut files = Vec::new();
    for (i, cwd) in [root.path().to_path_buf(), parent].iter().enumerate() {
        let dir = root.path().join(format!("r{i}"));
        let mut cmd = errcontract(cases.path(), &server.uri(), &dir, &[]);
        cmd.current_dir(cwd);
        output(cmd).await;
        let json: serde_json::Value =
            serde_json::from_str(&read(&dir.join("report.json"))).expect("json");
        let file = json["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["name"] == "case::routing/unknown-a")
            .expect("the case")["file"]
            .as_str()
            .expect("file")
            .to_string();
        let junit = read(&dir.join("junit.xml"));
        assert!(
            junit.contains(&format!("classname=\"{file}\"")),
            "{file}: {junit}"
        );
        files.push(file);
    }
    assert_eq!(files[0], format!("{base}/routing/unknown-a.json"));
    assert_eq!(files[0], files[1]);
}
