//! Case discovery against a hostile cases directory: links that loop, a FIFO named like a case,
//! a huge file, names that leave the directory, near-miss extensions, names that collide, an
//! empty directory. Each is run as a user would (`errcontract lint`, `run --list`, `run`), with
//! a deadline so a hang fails the test instead of stalling it.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use errcontract::contract::default_schemas_dir;

use crate::support;

const GOOD: &str = support::UNKNOWN_PATH_CASE;

/// The throttling case as shipped, its expectations only what the contract promises.
const SHIPPED_THROTTLE: &str = include_str!("../../cases/images/rate-limit-throttled.json");

/// Run errcontract with these arguments on `cases`, killed after 60 s (a hang is a failure).
fn errcontract(cases: &Path, args: &[&str]) -> Output {
    let mut cmd = crate::support::errcontract();
    cmd.args(args)
        .env("ERRCONTRACT_CASES", cases)
        .env("ERRCONTRACT_SCHEMAS", default_schemas_dir())
        .env_remove("ERRCONTRACT_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if args.first() == Some(&"lint") {
        cmd.arg(cases);
    }
    let mut child = cmd.spawn().expect("errcontract starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("errcontract {args:?} hung on {}", cases.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn dir_with_good_case() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("routing")).expect("mkdir");
    std::fs::write(dir.path().join("routing/unknown-path.json"), GOOD).expect("write");
    dir
}

#[cfg(unix)]
#[test]
fn symlink_loops_neither_hang_nor_copy_cases() {
    let dir = dir_with_good_case();
    std::os::unix::fs::symlink(".", dir.path().join("routing/self")).expect("link");
    std::os::unix::fs::symlink("..", dir.path().join("routing/up")).expect("link");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint));
    assert!(
        text(&lint).contains("1 case file checked"),
        "{}",
        text(&lint)
    );
    assert!(
        text(&lint).contains("a link to a directory is not followed"),
        "{}",
        text(&lint)
    );
    let list = errcontract(dir.path(), &["run", "--list", "--format", "terse"]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "case::routing/unknown-path: test\n"
    );
    let run = errcontract(dir.path(), &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
}

#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_case_hangs_nothing() {
    let dir = dir_with_good_case();
    let fifo = dir.path().join("routing/x.json");
    let c_path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0, "mkfifo");
    let lint = errcontract(dir.path(), &["lint"]);
    assert!(
        text(&lint).contains("x.json:1:1: not a regular file; skipped"),
        "{}",
        text(&lint)
    );
    let run = errcontract(dir.path(), &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let exact = errcontract(dir.path(), &["run", "--exact", "case::routing/x"]);
    assert_eq!(
        exact.status.code(),
        Some(i32::from(errcontract::exit::NO_CASE_RUN)),
        "{}",
        text(&exact)
    );
    let one = errcontract(dir.path(), &["lint"]);
    assert!(one.status.success(), "{}", text(&one));
}

#[test]
fn a_huge_case_file_is_refused_by_its_size_unread() {
    let dir = dir_with_good_case();
    let huge = std::fs::File::create(dir.path().join("routing/huge.json")).expect("create");
    // Sparse: 300 MB on paper, nothing on disk.
    huge.set_len(300 * 1024 * 1024).expect("set_len");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(1));
    assert!(
        text(&lint).contains("the file is 314572800 bytes; a case file may be at most"),
        "{}",
        text(&lint)
    );
}

#[test]
fn an_exact_name_that_leaves_the_cases_directory_is_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    let cases = outer.path().join("cases");
    std::fs::create_dir_all(&cases).expect("mkdir");
    std::fs::write(cases.join("good.json"), GOOD).expect("write");
    std::fs::create_dir_all(outer.path().join("outside")).expect("mkdir");
    std::fs::write(outer.path().join("outside/evil.json"), GOOD).expect("write");
    for name in [
        "case::../outside/evil",
        "case::/etc/x",
        "case::a//b",
        "case::./good",
    ] {
        let out = errcontract(&cases, &["run", "--exact", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(
            text(&out).contains("is not a case name: a name is a path below the cases directory"),
            "{name}: {}",
            text(&out)
        );
    }
}

#[test]
fn near_miss_extensions_are_warned_in_lint_and_in_the_run() {
    let dir = dir_with_good_case();
    std::fs::write(dir.path().join("routing/bad.JSON"), GOOD).expect("write");
    std::fs::write(dir.path().join("routing/notes.txt"), "x").expect("write");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint));
    let warning = "bad.JSON:1:1: ends in .JSON, so it is not read as a case: only *.json files are";
    assert!(text(&lint).contains(warning), "{}", text(&lint));
    assert!(text(&lint).contains("1 warning"), "{}", text(&lint));
    assert!(!text(&lint).contains("notes.txt"), "{}", text(&lint));
    let run = errcontract(dir.path(), &["run", "--list"]);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(warning),
        "{}",
        text(&run)
    );
}

#[test]
fn names_that_differ_only_in_case_fail_in_the_run_as_in_lint() {
    let dir = dir_with_good_case();
    std::fs::write(dir.path().join("routing/Unknown-Path.json"), GOOD).expect("write");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(1), "{}", text(&lint));
    let collides = "collides with";
    assert!(text(&lint).contains(collides), "{}", text(&lint));
    let run = errcontract(dir.path(), &["run"]);
    assert!(!run.status.success(), "{}", text(&run));
    assert!(text(&run).contains(collides), "{}", text(&run));
}

#[test]
fn x_json_and_x_json_json_are_two_trials_with_two_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("x.json"), GOOD).expect("write");
    std::fs::write(dir.path().join("x.json.json"), GOOD).expect("write");
    let list = errcontract(dir.path(), &["run", "--list", "--format", "terse"]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "case::x: test\ncase::x.json: test\n"
    );
}

#[test]
fn lint_and_the_run_both_refuse_an_empty_cases_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [&["lint"][..], &["run"][..]] {
        let out = errcontract(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("no case files (*.json) found below"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn an_unclosed_placeholder_is_a_lint_error_not_a_target_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("open.json"),
        GOOD.replace("/v2/no-such-thing", "/v2/videos/{id"),
    )
    .expect("write");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(1), "{}", text(&lint));
    assert!(
        text(&lint)
            .contains("request.path: the placeholder at character 12 of the path is never closed"),
        "{}",
        text(&lint)
    );
}

#[test]
fn lint_warns_when_a_retry_after_expectation_is_stricter_than_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let strict = SHIPPED_THROTTLE.replace(
        "\"Retry-After\": {\n        \"present\": true\n      }",
        "\"Retry-After\": {\n        \"present\": true,\n        \"matches\": \"^\\\\d+$\"\n      }",
    );
    assert_ne!(strict, SHIPPED_THROTTLE, "the shipped case changed shape");
    std::fs::write(dir.path().join("strict.json"), strict).expect("write");
    std::fs::write(dir.path().join("shipped.json"), SHIPPED_THROTTLE).expect("write");
    let lint = errcontract(dir.path(), &["lint"]);
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint));
    let out = text(&lint);
    assert!(
        out.contains("strict.json:29:20: expect.headers.Retry-After.matches: refuses a Retry-After the contract allows for \"rate_limit\" (delta-seconds or an HTTP-date): \"Wed, 21 Oct 2026 07:28:00 GMT\""),
        "{out}"
    );
    assert!(out.contains("2 clean, 0 problems, 1 warning"), "{out}");
}
