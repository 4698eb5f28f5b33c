//! The harness contract that cargo test and nextest rely on: `--list --format terse` prints
//! exactly one `name: test` line per case and nothing else; `--ignored` lists just the ignored;
//! `--exact NAME` loads and runs one case; setup errors stop the run with a distinct exit code.

use std::path::Path;
use std::process::Output;

use crate::support;

const GOOD: &str = support::UNKNOWN_PATH_CASE;

fn cases_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let routing = dir.path().join("routing");
    std::fs::create_dir_all(&routing).expect("mkdir");
    std::fs::write(routing.join("unknown-path.json"), GOOD).expect("write");
    std::fs::write(
        routing.join("wrong-method.json"),
        GOOD.replace(
            "\"GET\", \"path\": \"/v2/no-such-thing\"",
            "\"DELETE\", \"path\": \"/v2/models\"",
        ),
    )
    .expect("write");
    std::fs::write(
        routing.join("parked.json"),
        GOOD.replace(
            "\"tags\"",
            "\"ignore\": \"TICKET-1: parked while the route moves\",\n  \"tags\"",
        ),
    )
    .expect("write");
    dir
}

fn run(cases: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .args(args)
        .env("ERRCONTRACT_CASES", cases)
        .env_remove("ERRCONTRACT_BASE_URL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run errcontract")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_terse_prints_exactly_one_line_per_case() {
    let dir = cases_dir();
    let out = run(dir.path(), &["--list", "--format", "terse"], &[]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "case::routing/parked: test\ncase::routing/unknown-path: test\ncase::routing/wrong-method: test\n"
    );
}

#[test]
fn list_ignored_lists_only_the_ignored() {
    let dir = cases_dir();
    let out = run(
        dir.path(),
        &["--list", "--format", "terse", "--ignored"],
        &[],
    );
    assert_eq!(stdout(&out), "case::routing/parked: test\n");
}

#[test]
fn exact_runs_one_case_and_the_first_line_names_the_target() {
    let dir = cases_dir();
    // The fast path loads only the named file: a broken neighbour is not even read.
    std::fs::write(dir.path().join("routing/broken.json"), "{ not json").expect("write");
    let out = run(dir.path(), &["case::routing/wrong-method", "--exact"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("errcontract: ERRCONTRACT_BASE_URL is unset: running against the built-in reference server at http://127.0.0.1:"), "{text}");
    assert!(text.contains("running 1 test"), "{text}");
    assert!(text.contains("1 passed; 0 failed"), "{text}");
}

#[test]
fn an_ignored_case_is_named_with_its_reason_and_runs_on_request() {
    let dir = cases_dir();
    let out = run(dir.path(), &["routing/"], &[]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "case::routing/parked ignored by its file: TICKET-1: parked while the route moves"
        ),
        "{text}"
    );
    assert!(text.contains("2 passed; 0 failed; 1 ignored"), "{text}");
    // A filter that selects only parked cases tests nothing: a guard, not a green run.
    let out = run(dir.path(), &["parked"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("are all ignored by their files")
            && stderr(&out).contains("--include-ignored"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), &["--include-ignored", "parked"], &[]);
    assert!(
        stdout(&out).contains("1 passed; 0 failed; 0 ignored"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_key_turns_a_case_into_an_ignored_test_with_the_reason() {
    // Against a named target without ERRCONTRACT_API_KEY, a case needing the valid role is ignored.
    let dir = cases_dir();
    std::fs::write(
        dir.path().join("routing/needs-key.json"),
        GOOD.replace("\"GET\"", "\"GET\", \"auth\": \"revoked\""),
    )
    .expect("write");
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", server.local_addr().expect("addr"));
    let out = run(
        dir.path(),
        &["needs-key"],
        &[
            ("ERRCONTRACT_BASE_URL", &base),
            ("ERRCONTRACT_TIMEOUT_S", "1"),
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("needs a revoked key: set ERRCONTRACT_REVOKED_API_KEY"),
        "{text}"
    );
}

#[test]
fn zero_cases_is_a_setup_error_not_a_green_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case files (*.json) found below"));
}

#[test]
fn an_exact_name_that_does_not_exist_selects_no_case() {
    let dir = cases_dir();
    let out = run(dir.path(), &["case::routing/nope", "--exact"], &[]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(errcontract::exit::NO_CASE_RUN))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case named case::routing/nope"));
}

#[test]
fn an_unreachable_target_stops_the_run_before_any_case() {
    let dir = cases_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let out = run(
        dir.path(),
        &[],
        &[
            ("ERRCONTRACT_BASE_URL", &format!("http://127.0.0.1:{port}")),
            ("ERRCONTRACT_CONNECT_TIMEOUT_S", "1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(errcontract::exit::UNREACHABLE))
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is unreachable"), "{err}");
    assert!(!stdout(&out).contains("running"), "no case may run");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let dir = cases_dir();
    let out = run(
        dir.path(),
        &[],
        &[("ERRCONTRACT_BASE_URL", "http://staging.example.com")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ERRCONTRACT_ALLOW_INSECURE=1"));
}

#[test]
fn a_broken_schema_stops_the_run_and_names_the_file() {
    let dir = cases_dir();
    let schemas = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(errcontract::contract::default_schemas_dir()).expect("schemas") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, schemas.path().join(path.file_name().expect("name"))).expect("copy");
    }
    std::fs::write(schemas.path().join("error.schema.json"), "{ \"type\": ").expect("write");
    let out = run(
        dir.path(),
        &[],
        &[(
            "ERRCONTRACT_SCHEMAS",
            schemas.path().to_str().expect("utf-8"),
        )],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error.schema.json:1:10: not valid JSON"),
        "{err}"
    );
}

#[test]
fn a_duplicate_key_in_codes_json_is_refused_not_last_wins() {
    let dir = cases_dir();
    let schemas = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(errcontract::contract::default_schemas_dir()).expect("schemas") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, schemas.path().join(path.file_name().expect("name"))).expect("copy");
    }
    let codes = std::fs::read_to_string(schemas.path().join("codes.json")).expect("read");
    let doubled = codes.replacen(
        "\"status\": 429,",
        "\"status\": 400,\n      \"status\": 429,",
        1,
    );
    assert_ne!(doubled, codes);
    std::fs::write(schemas.path().join("codes.json"), doubled).expect("write");
    let schemas_dir = schemas.path().to_str().expect("utf-8");
    let out = run(dir.path(), &[], &[("ERRCONTRACT_SCHEMAS", schemas_dir)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("codes.json: the key \"status\" appears twice in one object"),
        "{err}"
    );
    let lint = crate::support::errcontract()
        .args(["lint", "--schemas", schemas_dir])
        .arg(dir.path())
        .output()
        .expect("lint");
    assert_eq!(lint.status.code(), Some(2));
}

#[test]
fn reports_are_written_for_ci() {
    let dir = cases_dir();
    let reports = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &[],
        &[(
            "ERRCONTRACT_REPORT_DIR",
            reports.path().to_str().expect("utf-8"),
        )],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    let junit = std::fs::read_to_string(reports.path().join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("testcase name=\"case::routing/unknown-path\""),
        "{junit}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.path().join("report.json")).expect("report.json"),
    )
    .expect("json");
    assert_eq!(json["summary"]["passed"], 2);
    assert_eq!(
        json["summary"]["ignored"], 1,
        "a case its file parks is not run, but reported with its reason"
    );
    crate::gate::valid_report(&json);
}

#[test]
fn billable_and_feature_cases_are_ignored_on_other_targets_with_the_reason() {
    let dir = cases_dir();
    std::fs::write(
        dir.path().join("routing/billable.json"),
        GOOD.replace("\"tags\"", "\"billable_if_accepted\": true,\n  \"tags\""),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("routing/fault.json"),
        GOOD.replace(
            "\"tags\"",
            "\"requires\": [\"fault_injection\"],\n  \"tags\"",
        ),
    )
    .expect("write");
    // A named target (the reference server's own code, reached as an outside target).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt
        .block_on(errcontract::reference::start(
            errcontract::reference::Config::default(),
        ))
        .expect("start");
    let base = server.base_url();
    let key = errcontract::reference::Config::default().keys().valid;
    let envs = [
        ("ERRCONTRACT_BASE_URL", base.as_str()),
        ("ERRCONTRACT_API_KEY", key.as_str()),
    ];
    let text = stdout(&run(dir.path(), &["routing/"], &envs));
    assert!(
        text.contains(
            "ignored (billable if the target wrongly accepts it: set ERRCONTRACT_ALLOW_BILLABLE=1"
        ),
        "{text}"
    );
    assert!(
        text.contains("ignored (needs the target feature fault_injection"),
        "{text}"
    );
    assert!(
        text.contains("3 cases not run or not concluded:\n     1  billable if"),
        "{text}"
    );
    assert!(!text.contains(&key), "the key was printed");
    let envs = [
        envs[0],
        envs[1],
        ("ERRCONTRACT_ALLOW_BILLABLE", "1"),
        ("ERRCONTRACT_FEATURES", "fault_injection"),
    ];
    let text = stdout(&run(dir.path(), &["routing/billable"], &envs));
    assert!(text.contains("1 passed"), "{text}");
}

/// `errcontract … | head`: the reader goes away; errcontract must end quietly, never panic.
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_errcontract_quietly() {
    use std::os::fd::FromRawFd;
    use std::os::unix::process::ExitStatusExt;
    let dir = cases_dir();
    for args in [
        &["lint", dir.path().to_str().expect("utf-8")][..],
        &["run", "--list"][..],
        &["run"][..],
    ] {
        let mut fds = [0; 2];
        // SAFETY: a fresh pipe; the read end is closed at once, so any write to it fails.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        unsafe { libc::close(fds[0]) };
        // SAFETY: fds[1] is an open descriptor that this File now owns alone.
        let write_end = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let out = crate::support::errcontract()
            .args(args)
            .env("ERRCONTRACT_CASES", dir.path())
            .env(
                "ERRCONTRACT_SCHEMAS",
                errcontract::contract::default_schemas_dir(),
            )
            .env_remove("ERRCONTRACT_BASE_URL")
            .stdout(write_end)
            .output()
            .expect("errcontract runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn lint_outside_the_repository_finds_the_schemas_the_run_uses() {
    let dir = cases_dir();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = crate::support::errcontract()
        .arg("lint")
        .arg(dir.path())
        .current_dir(elsewhere.path())
        .env_remove("ERRCONTRACT_SCHEMAS")
        .output()
        .expect("lint runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 case files checked: 3 clean"));
}

/// A failure against the built-in server reproduces: the curl's server can be started again
/// on the same address, and the one-case command names the cases directory it came from.
#[test]
fn a_failure_on_the_built_in_server_says_how_to_reproduce_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("wrong-param.json"),
        GOOD.replace("\"param\": null", "\"param\": \"path\""),
    )
    .expect("write");
    let out = run(dir.path(), &[], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(101), "{text}");
    let curl = text
        .lines()
        .find(|l| l.trim_start().starts_with("curl "))
        .unwrap_or_else(|| panic!("no curl line in\n{text}"));
    let addr = curl
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {curl}"));
    assert!(
        text.contains(&format!(
            "start one on its address with `cargo run -- serve --addr {addr}`"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ERRCONTRACT_CASES='{}' cargo test --test contract -- --exact case::wrong-param",
            dir.path().display()
        )),
        "{text}"
    );
}

/// The matrix explains its cells, and a code a case expected that never came back shows as a
/// gap, in the cell and in a line of its own.
#[test]
fn the_coverage_matrix_has_a_legend_and_shows_expected_codes_that_never_came() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("found.json"), GOOD).expect("write");
    std::fs::write(
        dir.path().join("not-gone.json"),
        GOOD.replace("/v2/no-such-thing", "/v2/models"),
    )
    .expect("write");
    let out = run(dir.path(), &[], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains(
            "N/M✗: N held, M in cases that failed; ?N: N steps expected the code and got another"
        ),
        "{text}"
    );
    assert!(
        text.contains("expected codes that never came back: not_found from GET /v2/models (1)"),
        "{text}"
    );
    let models_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("GET /v2/models "))
        .unwrap_or_else(|| panic!("no GET /v2/models row in\n{text}"));
    assert!(models_row.contains("?1"), "{models_row}");
}
