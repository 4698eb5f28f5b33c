//! Templates and derived cases as a user meets them: the trials `cargo test --test contract`
//! lists and runs, `errcontract derive` (its output lints clean), a broken template failing
//! only its own trial at file:line:column, and the one-line blame when a target answers a
//! derived fault with another, well-formed error.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support;

fn cases() -> PathBuf {
    crate::support::root().join("cases")
}

fn errcontract(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = crate::support::errcontract();
    cmd.args(args)
        .current_dir(crate::support::root())
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_CASES");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_templates_derive_at_least_150_distinct_trials_over_every_endpoint() {
    let out = errcontract(&["run", "--list", "--format", "terse"], &[])
        .output()
        .expect("errcontract runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let derived: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|n| n.starts_with("derived::"))
        .collect();
    let distinct: BTreeSet<&str> = derived.iter().copied().collect();
    assert_eq!(distinct.len(), derived.len(), "derived names are unique");
    assert!(
        distinct.len() >= 150,
        "only {} derived trials:\n{stdout}",
        distinct.len()
    );
    for name in [
        "derived::images/generations/drop/prompt",
        "derived::images/generations/type/prompt/number",
        "derived::images/generations/invalid/images[0].url/http",
        "derived::images/generations/unknown/images[0].errcontract_unknown",
        "derived::images/generations/auth/revoked",
        "derived::images/generations/precedence/drop/prompt/before/unsupported/resolution",
        "derived::billing/costs/drop/start",
    ] {
        assert!(distinct.contains(name), "{name} is not listed");
    }
    // Every endpoint of the coverage matrix has a template.
    let contract = support::contract();
    let loaded = errcontract::derive::derive_all(&cases(), &contract).expect("templates load");
    assert!(loaded.broken.is_empty(), "{:?}", loaded.broken);
    for endpoint in &contract.endpoints {
        assert!(
            loaded.cases.iter().any(|c| {
                let r = &c.steps[0].1.request;
                endpoint.matches(r.method.as_str(), &r.path)
            }),
            "no template for {}",
            endpoint.label()
        );
    }
}

#[test]
fn derive_prints_case_files_that_lint_clean() {
    let template = "cases/images/generations.template.json";
    let out = errcontract(&["derive", template], &[])
        .output()
        .expect("errcontract runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let printed: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("a stream of JSON case files");
    assert!(printed.len() > 50, "{} cases printed", printed.len());
    assert!(
        stderr.contains(&format!("{} cases derived from {template}", printed.len())),
        "{stderr}"
    );
    let dropped = printed
        .iter()
        .find(|c| c["expect"]["code"] == "parameter_missing" && c["expect"]["param"] == "prompt")
        .expect("the dropped prompt is among them");
    assert!(dropped["request"]["json"].get("prompt").is_none());
    assert_eq!(dropped["request"]["json"]["model"], "seedream-5-lite");

    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8");
    let written = errcontract(&["derive", template, "--out", out_dir], &[])
        .output()
        .expect("errcontract runs");
    assert!(written.status.success(), "{}", text(&written).1);
    assert!(
        dir.path()
            .join("images/generations/drop/prompt.json")
            .is_file()
    );
    let lint = errcontract(&["lint", out_dir], &[])
        .output()
        .expect("errcontract runs");
    let (lint_out, _) = text(&lint);
    assert!(lint.status.success(), "{lint_out}");
    assert!(
        lint_out.contains(&format!(
            "{n} case files checked: {n} clean, 0 problems",
            n = printed.len()
        )),
        "{lint_out}"
    );
}

const BROKEN_TEMPLATE: &str = r#"{
  "description": "a balance",
  "tags": ["billing"],
  "request": { "method": "GET", "path": "/v2/billing/balance" },
  "params": {
    "currency": { "in": "query", "required": true, "type": "string" }
  }
}
"#;

const BAD_TYPE: &str = r#"{
  "description": "the list of models",
  "tags": ["models"],
  "request": { "method": "GET", "path": "/v2/models" },
  "params": { "type": { "in": "query", "typo": true } }
}
"#;

const BROKEN_RULE: &str = r#"{
  "description": "a model",
  "tags": ["models"],
  "request": { "method": "GET", "path": "/v2/models/seedream-5-lite" },
  "params": {},
  "precedence": [{ "first": "auth/none", "then": "drop/nothing" }]
}
"#;

#[test]
fn a_broken_template_fails_only_its_own_trial_at_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let routing = dir.path().join("routing");
    std::fs::create_dir_all(&routing).expect("mkdir");
    std::fs::write(
        routing.join("unknown-path.json"),
        support::UNKNOWN_PATH_CASE,
    )
    .expect("write");
    let billing = dir.path().join("billing");
    std::fs::create_dir_all(&billing).expect("mkdir");
    std::fs::write(billing.join("balance.template.json"), BROKEN_TEMPLATE).expect("write");
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).expect("mkdir");
    std::fs::write(models.join("retrieve.template.json"), BROKEN_RULE).expect("write");
    std::fs::write(models.join("list.template.json"), BAD_TYPE).expect("write");
    let cases_dir = dir.path().to_str().expect("utf-8");

    let lint = errcontract(&["lint", cases_dir], &[])
        .output()
        .expect("errcontract runs");
    let (lint_out, _) = text(&lint);
    assert_eq!(
        lint.status.code(),
        Some(i32::from(errcontract::exit::INVALID_CASES))
    );
    for (file, at, says) in [
        (
            billing.join("balance.template.json"),
            "6:17",
            "params.currency: `currency` is not in the request's query",
        ),
        (
            models.join("retrieve.template.json"),
            "6:50",
            "precedence.0.then: `drop/nothing` is not a fault this template derives",
        ),
        (
            models.join("list.template.json"),
            "5:40",
            "params.type.typo: unknown key \"typo\"\n  help: the keys allowed here are: in, required, type, min_length, max_length, max_items, model_values, invalid",
        ),
    ] {
        let line = format!("{}:{at}: {says}", file.display());
        assert!(lint_out.contains(&line), "{line}\nnot in:\n{lint_out}");
    }
    assert!(
        lint_out.contains("4 case files checked: 1 clean, 3 problems"),
        "{lint_out}"
    );

    let template = billing.join("balance.template.json");
    let derive = errcontract(
        &[
            "derive",
            template.to_str().expect("utf-8"),
            "--cases",
            cases_dir,
        ],
        &[],
    )
    .output()
    .expect("errcontract runs");
    let (derive_out, derive_err) = text(&derive);
    assert_eq!(
        derive.status.code(),
        Some(i32::from(errcontract::exit::INVALID_CASES))
    );
    assert!(derive_out.is_empty(), "{derive_out}");
    assert!(
        derive_err.contains(&format!("{}:6:17: params.currency", template.display())),
        "{derive_err}"
    );

    let run = errcontract(&["run"], &[("ERRCONTRACT_CASES", cases_dir)])
        .output()
        .expect("errcontract runs");
    let (run_out, _) = text(&run);
    assert!(!run.status.success());
    let verdict = |trial: &str| {
        run_out
            .lines()
            .find(|l| l.starts_with(&format!("test {trial} ")))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(verdict("derived::billing/balance"), "FAILED", "{run_out}");
    assert_eq!(verdict("derived::models/retrieve"), "FAILED", "{run_out}");
    assert_eq!(verdict("case::routing/unknown-path"), "ok", "{run_out}");
}

/// A target that answers every image generation with a well-formed 400 naming `param` and `code`.
async fn blaming_target(code: &str, param: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/images/generations"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {
                "message": "Something is wrong with the request.",
                "type": "invalid_request_error",
                "param": param,
                "code": code
            }
        })))
        .mount(&server)
        .await;
    server
}

async fn run_one(server: &MockServer, trial: &str) -> (Output, String) {
    let mut cmd = errcontract(
        &["run", "--exact", trial],
        &[
            ("ERRCONTRACT_BASE_URL", &server.uri()),
            ("ERRCONTRACT_API_KEY", support::VALID_KEY),
            ("ERRCONTRACT_ALLOW_BILLABLE", "1"),
            ("ERRCONTRACT_RPS", "0"),
        ],
    );
    cmd.env("ERRCONTRACT_CASES", cases());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs");
    let stdout = text(&out).0;
    (out, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_fault_blamed_on_another_parameter_says_so_in_one_line() {
    let server = blaming_target("parameter_missing", "model").await;
    let (out, stdout) = run_one(&server, "derived::images/generations/drop/prompt").await;
    assert_eq!(
        out.status.code(),
        Some(i32::from(errcontract::exit::FAILED)),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  dropped `prompt`: the target blamed `model`\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "derived from cases/images/generations.template.json (drop/prompt); print it with: errcontract derive cases/images/generations.template.json"
        ),
        "{stdout}"
    );
    // The exact request it sent: the curl has the body without the prompt.
    let received = server.received_requests().await.unwrap_or_default();
    // Nothing of it comes from a model's list: the target is not asked for its models (a
    // nextest process runs one trial; only `unsupported/...` ones ask).
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(!stdout.contains("model values"), "{stdout}");
    let sent = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the derived request was sent");
    let body: Value = serde_json::from_slice(&sent.body).expect("a JSON body");
    assert!(body.get("prompt").is_none() && body["model"] == "seedream-5-lite");
    assert!(stdout.contains("curl "), "{stdout}");
    assert!(!stdout.contains(support::VALID_KEY), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_fault_answered_with_another_code_says_so_in_one_line() {
    let server = blaming_target("invalid_parameter", "prompt").await;
    let (_, stdout) = run_one(&server, "derived::images/generations/drop/prompt").await;
    assert!(
        stdout.contains(
            "dropped `prompt`: the target answered `invalid_parameter` instead of `parameter_missing`"
        ),
        "{stdout}"
    );
    let (_, stdout) = run_one(&server, "derived::images/generations/type/model/number").await;
    assert!(
        stdout.contains("sent `model` as a number (42): the target blamed `prompt`"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_trials_keep_the_preconditions_of_hand_written_cases() {
    let server = blaming_target("invalid_api_key", "model").await;
    let mut cmd = errcontract(
        &["run", "derived::images/generations/auth/"],
        &[
            ("ERRCONTRACT_BASE_URL", &server.uri()),
            ("ERRCONTRACT_API_KEY", support::VALID_KEY),
            ("ERRCONTRACT_RPS", "0"),
        ],
    );
    cmd.env("ERRCONTRACT_CASES", cases());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs");
    let stdout = text(&out).0;
    // Without ERRCONTRACT_ALLOW_BILLABLE nothing that could bill is sent (the model lookups are reads).
    let received = server.received_requests().await.unwrap_or_default();
    assert!(
        received.iter().all(|r| r.method.as_str() == "GET"),
        "{received:?}"
    );
    let line = |trial: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("test {trial} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("derived::images/generations/auth/revoked")
            .ends_with("ignored (needs a revoked key: set ERRCONTRACT_REVOKED_API_KEY)"),
        "{stdout}"
    );
    assert!(
        line("derived::images/generations/auth/none").contains(
            "ignored (billable if the target wrongly accepts it: set ERRCONTRACT_ALLOW_BILLABLE=1"
        ),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_values_come_from_the_targets_own_model_when_it_answers() {
    let server = blaming_target("invalid_parameter", "resolution").await;
    // The target's seedream-5-lite takes 1K too, so the first value another model takes and it
    // does not is 4K (the file's list would give 1K). Other models are not found.
    Mock::given(method("GET"))
        .and(path("/v2/models/seedream-5-lite"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "seedream-5-lite",
            "name": "Seedream 5.0 Lite",
            "type": "image",
            "created_at": "2026-02-24T00:00:00Z",
            "supported_aspect_ratios": ["1:1"],
            "supported_resolutions": ["2K", "1K", "3K"],
            "supported_durations": [],
            "supported_references": { "reference_image": 10 },
            "supports_sound": false,
            "pricing": { "currency": "USD", "rates": [] }
        })))
        .mount(&server)
        .await;
    let (out, stdout) = run_one(
        &server,
        "derived::images/generations/unsupported/resolution",
    )
    .await;
    assert!(
        stdout.contains(
            "model values for derived cases: 1 of 8 models from the target's GET /v2/models/{model}, the rest from *.models.json"
        ),
        "{stdout}"
    );
    assert!(out.status.success(), "{stdout}");
    let received = server.received_requests().await.unwrap_or_default();
    let generation = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the derived request was sent");
    let body: Value = serde_json::from_slice(&generation.body).expect("a JSON body");
    assert_eq!(body["resolution"], "4K", "{body}");
    let lookups = received
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(lookups, 8, "one GET per model of cases/catalog.models.json");
}

#[test]
fn list_names_the_derived_trials_without_reaching_the_target() {
    // --list starts no server: the names come from the files alone.
    let out = errcontract(
        &["run", "--list", "--format", "terse"],
        &[("ERRCONTRACT_BASE_URL", "http://127.0.0.1:9")],
    )
    .output()
    .expect("errcontract runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("derived::images/generations/unsupported/resolution: test"));
}

#[tokio::test]
async fn the_failure_of_a_derived_case_is_snapshot_tested() {
    let server = blaming_target("parameter_missing", "model").await;
    let loaded =
        errcontract::derive::derive_all(&cases(), &support::contract()).expect("templates");
    let case = loaded
        .cases
        .iter()
        .find(|c| c.name == "images/generations/drop/prompt")
        .expect("the derived case");
    let runner = support::runner(&server.uri());
    let result = runner.run_case(case).await;
    let message = errcontract::report::failure(case, &result, runner.target());
    assert!(message.contains("dropped `prompt`: the target blamed `model`"));
    insta::assert_snapshot!(
        "failure_derived_blamed_model",
        // The test runs in tests/, so the template's path is shown whole: the snapshot keeps it
        // below the repository, as a run from the root shows it.
        crate::checks::normalize(&message, &server.uri())
            .replace(&format!("{}/", support::root().display()), "")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_derived_trials_asks_the_target_nothing_of_its_models() {
    let server = blaming_target("parameter_missing", "prompt").await;
    // A filter, not --exact: every case and template is loaded, only case files are selected.
    let mut cmd = errcontract(
        &["run", "case::images/prompt-"],
        &[
            ("ERRCONTRACT_BASE_URL", &server.uri()),
            ("ERRCONTRACT_API_KEY", support::VALID_KEY),
            ("ERRCONTRACT_ALLOW_BILLABLE", "1"),
            ("ERRCONTRACT_RPS", "0"),
        ],
    );
    cmd.env("ERRCONTRACT_CASES", cases());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs");
    let stdout = text(&out).0;
    assert!(
        stdout.contains("test case::images/prompt-missing"),
        "{stdout}"
    );
    assert!(!stdout.contains("model values"), "{stdout}");
    let received = server.received_requests().await.unwrap_or_default();
    assert!(
        received.iter().all(|r| r.method.as_str() == "POST"),
        "only the cases' own requests: {received:?}"
    );
}

#[test]
fn a_template_whose_copies_would_be_too_large_is_refused_before_any_is_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    let url = format!("https://example.com/{}", "a".repeat(1100));
    let template = json!({
        "description": "many images",
        "tags": ["images"],
        "request": { "method": "POST", "path": "/v2/images/generations",
                     "json": { "model": "seedream-5-lite", "prompt": "p", "images": [{ "url": url }] } },
        "params": { "images": { "type": "array", "max_items": 1000 } }
    });
    let file = images.join("many.template.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&template).expect("json"),
    )
    .expect("write");
    let lint = errcontract(&["lint", dir.path().to_str().expect("utf-8")], &[])
        .output()
        .expect("errcontract runs");
    let (out, _) = text(&lint);
    assert_eq!(
        lint.status.code(),
        Some(i32::from(errcontract::exit::INVALID_CASES))
    );
    assert!(
        out.contains(&format!(
            "{}:22:20: params.images.max_items: 1001 copies of `images`'s first item make a case larger than 1048576 bytes",
            file.display()
        )),
        "{out}"
    );
}

/// A template whose own valid request breaks its own limits would derive trials that blame
/// the target (its `too_long/prompt` sends 4 characters, which any target accepts): lint
/// refuses it, at the limit.
#[test]
fn a_template_whose_valid_values_break_its_own_limits_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    let template = json!({
        "description": "limits the valid request breaks",
        "tags": ["images"],
        "request": { "method": "POST", "path": "/v2/images/generations",
                     "json": { "model": "m", "prompt": "a lighthouse at dusk",
                               "images": [{ "url": "https://e.example/1.png" }, { "url": "https://e.example/2.png" }],
                               "style": "none" } },
        "params": {
            "prompt": { "type": "string", "max_length": 3 },
            "model": { "type": "string", "min_length": 5 },
            "images": { "type": "array", "max_items": 1 },
            "style": { "type": "string", "invalid": { "same": "none" } }
        }
    });
    let file = images.join("limits.template.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&template).expect("json"),
    )
    .expect("write");
    let lint = errcontract(&["lint", dir.path().to_str().expect("utf-8")], &[])
        .output()
        .expect("errcontract runs");
    let (out, _) = text(&lint);
    assert_eq!(
        lint.status.code(),
        Some(i32::from(errcontract::exit::INVALID_CASES)),
        "{out}"
    );
    for says in [
        "params.prompt.max_length: the request's `prompt` is 20 characters long, over its own max_length 3",
        "params.model.min_length: the request's `model` is 1 characters long, under its own min_length 5",
        "params.images.max_items: the request's `images` has 2 items, over its own max_items 1",
        "params.style.invalid.same: the invalid value `same` is the request's own valid value",
    ] {
        assert!(out.contains(says), "{says}\nnot in:\n{out}");
    }
}

/// A target whose seedream-5-lite takes every resolution another model takes (and one more
/// aspect ratio): the template still derives all its trials, the same in one process, in
/// `--list` and in a process of one trial; the fault with nothing to send is ignored with the
/// reason, the precedence rule built on it too, and the rest run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_whose_models_take_every_value_only_leaves_a_trial_untried() {
    let server = blaming_target("invalid_parameter", "resolution").await;
    Mock::given(method("GET"))
        .and(path("/v2/models/seedream-5-lite"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "seedream-5-lite",
            "name": "Seedream 5.0 Lite",
            "type": "image",
            "supported_aspect_ratios": ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "4:5"],
            "supported_resolutions": ["2K", "3K", "1K", "4K"],
            "supported_durations": []
        })))
        .mount(&server)
        .await;
    let untried = "derived::images/generations/unsupported/resolution";
    let rule = "derived::images/generations/precedence/drop/prompt/before/unsupported/resolution";
    let envs = [
        ("ERRCONTRACT_BASE_URL", server.uri()),
        ("ERRCONTRACT_API_KEY", support::VALID_KEY.to_string()),
        ("ERRCONTRACT_ALLOW_BILLABLE", "1".to_string()),
        ("ERRCONTRACT_RPS", "0".to_string()),
        ("ERRCONTRACT_CASES", cases().display().to_string()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &'static [&'static str]| {
        let cmd = errcontract(args, &envs);
        async move {
            let mut cmd = cmd;
            tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("thread")
                .expect("errcontract runs")
        }
    };
    let whole = run(&["run", "derived::images/generations/"]).await;
    let (out, _) = text(&whole);
    let line = |out: &str, trial: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("test {trial} ")))
            .unwrap_or_else(|| panic!("no trial {trial} in:\n{out}"))
            .to_string()
    };
    assert!(
        line(&out, untried).contains(
            "ignored (nothing to send: `seedream-5-lite` takes every supported_resolutions"
        ),
        "{out}"
    );
    assert!(
        line(&out, rule).contains("ignored (nothing to send"),
        "{out}"
    );
    assert!(
        !out.contains("test derived::images/generations "),
        "the template is not broken: {out}"
    );
    assert!(
        line(&out, "derived::images/generations/drop/prompt").ends_with("FAILED"),
        "the other trials run: {out}"
    );

    let list = run(&["run", "--list", "derived::images/generations/"]).await;
    let (listed, _) = text(&list);
    for trial in [untried, rule] {
        assert!(listed.contains(&format!("{trial}: test")), "{listed}");
    }
    let one = run(&[
        "run",
        "--exact",
        "derived::images/generations/unsupported/resolution",
    ])
    .await;
    let (out, err) = text(&one);
    assert_eq!(one.status.code(), Some(0), "{out}{err}");
    assert!(
        line(&out, untried).contains("ignored (nothing to send"),
        "{out}"
    );

    let none = run(&[
        "run",
        "--exact",
        "derived::images/generations/unsupported/no-such",
    ])
    .await;
    let (out, err) = text(&none);
    assert_eq!(
        none.status.code(),
        Some(i32::from(errcontract::exit::NO_CASE_RUN)),
        "a trial that does not exist selects nothing: {out}{err}"
    );
}

/// `lint` and `derive` find the cases the way `run` does (this build's `cases/`, or
/// `ERRCONTRACT_CASES`), wherever they are started, and say plainly what is wrong otherwise.
#[test]
fn lint_and_derive_outside_the_repository_use_the_builds_cases() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        crate::support::errcontract()
            .args(args)
            .current_dir(elsewhere.path())
            .env_remove("ERRCONTRACT_CASES")
            .env_remove("ERRCONTRACT_SCHEMAS")
            .output()
            .expect("errcontract runs")
    };
    let lint = run(&["lint"]);
    let (out, err) = text(&lint);
    assert_eq!(lint.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("case files checked"), "{out}");
    let template = cases().join("billing/balance.template.json");
    let derive = run(&["derive", template.to_str().expect("utf-8")]);
    let (out, err) = text(&derive);
    assert_eq!(derive.status.code(), Some(0), "{err}");
    assert!(out.contains("\"description\""), "{out}");
    let dir = run(&["derive", cases().join("billing").to_str().expect("utf-8")]);
    let (_, err) = text(&dir);
    assert_eq!(
        dir.status.code(),
        Some(i32::from(errcontract::exit::SETUP)),
        "{err}"
    );
    assert!(
        err.contains("is a directory; derive takes one template file"),
        "{err}"
    );
    assert!(!err.contains(":1:1:"), "{err}");
}
