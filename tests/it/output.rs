//! Where the run's output goes: a stream that cannot be written ends the run with its own
//! code and a word on the other stream, never a panic; `serve --addr` takes the addresses a
//! user types.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use errcontract::exit;

use crate::support;

fn one_case_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("routing")).expect("mkdir");
    std::fs::write(
        dir.path().join("routing/unknown-path.json"),
        support::UNKNOWN_PATH_CASE,
    )
    .expect("write");
    dir
}

fn dev_full() -> Option<std::fs::File> {
    match std::fs::OpenOptions::new().write(true).open("/dev/full") {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("skipped: /dev/full cannot be opened here ({e})");
            None
        }
    }
}

#[test]
fn a_stdout_that_cannot_be_written_is_said_on_stderr_with_its_own_code() {
    let Some(full) = dev_full() else { return };
    let cases = one_case_dir();
    let out = crate::support::errcontract()
        .arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .stdout(full)
        .output()
        .expect("errcontract runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OUTPUT_UNWRITABLE)),
        "{stderr}"
    );
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `serve --addr` with the address form given; the banner's first line, and that it answers.
fn serve_answers_on(addr_arg: &str, connect: &str) {
    let mut child = crate::support::errcontract()
        .args(["serve", "--addr", addr_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("banner");
    let answered = std::net::TcpStream::connect(connect).is_ok();
    let _ = child.kill();
    let out = child.wait_with_output().expect("serve ends");
    assert!(
        first.contains("reference server"),
        "serve --addr {addr_arg}: {first}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        answered,
        "serve --addr {addr_arg} does not accept on {connect}"
    );
}

fn free_port(host: &str) -> Option<u16> {
    let l = std::net::TcpListener::bind((host, 0)).ok()?;
    Some(l.local_addr().ok()?.port())
}

#[test]
fn serve_accepts_a_host_name_and_a_bracketed_ipv6_address() {
    let port = free_port("127.0.0.1").expect("a free port");
    // `localhost` resolves to its first address, which may be ::1 or 127.0.0.1.
    let first = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port))
        .ok()
        .and_then(|mut a| a.next())
        .expect("localhost resolves");
    serve_answers_on(&format!("localhost:{port}"), &first.to_string());
    match free_port("::1") {
        Some(port) => serve_answers_on(&format!("[::1]:{port}"), &format!("[::1]:{port}")),
        None => eprintln!("skipped [::1]: no IPv6 loopback here"),
    }
}

#[test]
fn a_stderr_that_cannot_be_written_is_said_on_stdout_with_its_own_code() {
    let Some(full) = dev_full() else { return };
    let cases = one_case_dir();
    let reports = tempfile::tempdir().expect("tempdir");
    // A run that writes reports says so on stderr.
    let out = crate::support::errcontract()
        .arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env("ERRCONTRACT_REPORT_DIR", reports.path())
        .env_remove("ERRCONTRACT_BASE_URL")
        .stderr(full)
        .output()
        .expect("errcontract runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OUTPUT_UNWRITABLE)),
        "{stdout}"
    );
    assert!(stdout.contains("cannot write to stderr"), "{stdout}");
}
