//! Benchmark (not a test): the cost of checking one error response (schema, table and field
//! checks) and of loading and linting 10,000 case files. Goals: under 5 µs and under 100 ms.
//!
//! Run: `cargo bench --bench checks` (release). Prints one line per measurement. The same two
//! measurements are rows of `cargo bench --bench suite` (BENCHMARKS.md).

#[path = "support/library.rs"]
mod library;

use std::time::Duration;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // 1. Checking one error response.
    let iterations = 20_000;
    let rounds = library::time_check_one_response(iterations, 7).expect("check bench");
    println!(
        "check one error response (status, envelope, schema, table, code, param, message, retryable, no_leak): {:.2} µs median of 7 rounds x {iterations} (goal < 5 µs)",
        median(rounds).as_nanos() as f64 / 1000.0
    );

    // 2. Loading and linting 10,000 case files.
    let files = 10_000;
    let many = tempfile::tempdir().expect("tempdir");
    for i in 0..files {
        let area = many.path().join(format!("area{}", i % 10));
        std::fs::create_dir_all(&area).expect("mkdir");
        std::fs::write(
            area.join(format!("case-{i:05}.json")),
            library::CASE.replace(" N", &format!(" {i}")),
        )
        .expect("write");
    }
    let rounds = library::time_load_all(many.path(), files, 5).expect("load bench");
    println!(
        "load and lint 10,000 case files (read, UTF-8, depth, JSON, spans, case.schema.json, table lint): {:.1} ms median of 5 (goal < 100 ms)",
        median(rounds).as_secs_f64() * 1000.0
    );
}
