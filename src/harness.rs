//! The conformance run behind `cargo test --test contract`: settings, discovery, one
//! libtest-mimic trial per case, the built-in reference server when no target is named, the
//! coverage matrix and the reports. `tests/contract.rs` only calls [`main`].

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::case::{self, Case, Feature, Role, TRIAL_PREFIX};
use crate::contract::Contract;
use crate::coverage::{self, Matrix};
use crate::probe::{Probe, ProbeConfig};
use crate::render;
use crate::report::{self, Entry};
use crate::run::{Outcome, Runner, Target};
use crate::settings::Settings;

/// Exit code of a run that could not start (settings, schemas, no cases, unreachable target).
pub const EXIT_SETUP: u8 = 2;

fn setup_error(what: &str, help: &str) -> ExitCode {
    eprintln!("errcontract: error: {what}");
    if !help.is_empty() {
        eprintln!("  help: {help}");
    }
    ExitCode::from(EXIT_SETUP)
}

/// Run the suite with libtest-style arguments; the exit code is libtest's (101 on a failure)
/// or [`EXIT_SETUP`].
pub fn main(args: Arguments) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return setup_error(&e.to_string(), ""),
    };
    let contract = match Contract::load(&settings.schemas_dir) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            return setup_error(
                &e.to_string(),
                "fix the schema, or point ERRCONTRACT_SCHEMAS at a valid schemas directory",
            );
        }
    };
    let endpoints = match coverage::load_endpoints(&settings.schemas_dir) {
        Ok(e) => e,
        Err(e) => {
            return setup_error(
                &e,
                "schemas/endpoints.json lists the API's endpoints for the coverage matrix",
            );
        }
    };

    // Discovery: with `--exact case::x`, load just that file (nextest runs one process per case).
    let exact_name = args
        .filter
        .as_deref()
        .filter(|f| args.exact && f.starts_with(TRIAL_PREFIX) && args.skip.is_empty());
    let loaded = match exact_name {
        Some(name) => {
            let file = case::file_of(&settings.cases_dir, name);
            let mut l = case::Loaded::default();
            if file.is_file() {
                match case::load(&settings.cases_dir, &file, &contract) {
                    Ok(c) => l.cases.push(c),
                    Err(e) => l
                        .broken
                        .push((case::case_name(&settings.cases_dir, &file), file, e)),
                }
            }
            l
        }
        None => match case::load_all(&settings.cases_dir, &contract) {
            Ok(l) => l,
            Err(e) => {
                return setup_error(
                    &format!(
                        "cannot read the cases directory {}: {e}",
                        settings.cases_dir.display()
                    ),
                    "point ERRCONTRACT_CASES at a directory of case files",
                );
            }
        },
    };
    if loaded.cases.is_empty() && loaded.broken.is_empty() {
        return match exact_name {
            Some(name) => setup_error(
                &format!(
                    "no case named {name} (looked for {})",
                    case::file_of(&settings.cases_dir, name).display()
                ),
                "list the cases with: cargo test --test contract -- --list",
            ),
            None => setup_error(
                &format!(
                    "no case files (*.json) found below {}",
                    settings.cases_dir.display()
                ),
                "point ERRCONTRACT_CASES at a directory of case files; a run of zero cases proves nothing",
            ),
        };
    }

    if args.list {
        // Listing must be cheap and silent: no server, no network, names only.
        let mut trials: Vec<Trial> = loaded
            .cases
            .iter()
            .map(|c| {
                Trial::test(c.trial_name(), || Ok(())).with_ignored_flag(c.spec.ignore.is_some())
            })
            .collect();
        trials.extend(
            loaded
                .broken
                .iter()
                .map(|(n, _, _)| Trial::test(format!("{TRIAL_PREFIX}{n}"), || Ok(()))),
        );
        trials.sort_by(|a, b| a.name().cmp(b.name()));
        return libtest_mimic::run(&args, trials).exit_code();
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => return setup_error(&format!("cannot start the async runtime: {e}"), ""),
    };
    let probe = match Probe::new(ProbeConfig {
        timeout: settings.timeout,
        connect_timeout: settings.connect_timeout,
        max_body: settings.max_body,
    }) {
        Ok(p) => p,
        Err(e) => return setup_error(&e.to_string(), ""),
    };

    // The target: the one named, or the built-in reference server.
    let (target, _server, header) = match &settings.base_url {
        Some(url) => {
            let target = Target::new(url, false, settings.keys.clone(), settings.features.clone());
            let keys: Vec<&str> = settings.keys.keys().map(|r| r.as_str()).collect();
            let features: Vec<&str> = settings.features.iter().map(|f| f.as_str()).collect();
            let header = format!(
                "errcontract: target {url} (ERRCONTRACT_BASE_URL); keys for roles: {}; features: {}; {}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                },
                if features.is_empty() {
                    "none".to_string()
                } else {
                    features.join(", ")
                },
                if settings.rps > 0.0 {
                    format!("at most {} requests/s (ERRCONTRACT_RPS)", settings.rps)
                } else {
                    "no request rate limit (ERRCONTRACT_RPS=0)".to_string()
                }
            );
            (target, None, header)
        }
        None => {
            let config = crate::reference::Config::default();
            let keys = config.keys();
            let server = match runtime.block_on(crate::reference::start(config)) {
                Ok(s) => s,
                Err(e) => {
                    return setup_error(
                        &format!("cannot start the built-in reference server: {e}"),
                        "",
                    );
                }
            };
            let mut by_role = std::collections::BTreeMap::new();
            by_role.insert(Role::Valid, keys.valid);
            by_role.insert(Role::ZeroBalance, keys.zero_balance);
            by_role.insert(Role::Revoked, keys.revoked);
            by_role.insert(Role::Throttled, keys.throttled);
            let target = Target::new(
                &server.base_url(),
                true,
                by_role,
                Feature::ALL.into_iter().collect(),
            );
            let header = format!(
                "errcontract: ERRCONTRACT_BASE_URL is unset: running against the built-in reference server at {}",
                server.base_url()
            );
            (target, Some(server), header)
        }
    };
    if matches!(args.format, Some(libtest_mimic::FormatSetting::Json)) {
        eprintln!("{header}");
    } else {
        println!("{header}");
    }
    let parked: Vec<String> = loaded
        .cases
        .iter()
        .filter_map(|c| {
            c.spec
                .ignore
                .as_ref()
                .map(|why| format!("  {} ignored by its file: {why}", c.trial_name()))
        })
        .collect();
    if !parked.is_empty() && !matches!(args.format, Some(libtest_mimic::FormatSetting::Json)) {
        println!("{}", parked.join("\n"));
    }
    if let Err(e) = runtime.block_on(reachable(&target.base_url, settings.connect_timeout)) {
        return setup_error(
            &format!("the target {} is unreachable: {e}", target.base_url),
            "check ERRCONTRACT_BASE_URL and that the service is up; no case was run",
        );
    }

    let runner = Arc::new(Runner::new(
        probe,
        contract.clone(),
        target.clone(),
        settings.clone(),
    ));
    let entries: Arc<Mutex<Vec<Entry>>> = Arc::new(Mutex::new(Vec::new()));
    let mut trials = Vec::new();
    for c in loaded.cases {
        let ignored = c.spec.ignore.is_some();
        trials.push(
            case_trial(c, runner.clone(), runtime.clone(), entries.clone())
                .with_ignored_flag(ignored),
        );
    }
    for (name, path, errors) in loaded.broken {
        let entries = entries.clone();
        let trial = format!("{TRIAL_PREFIX}{name}");
        trials.push(Trial::test(trial.clone(), move || {
            let message = format!("{trial}: {errors}");
            record(
                &entries,
                Entry {
                    trial,
                    file: render::display_path(&path),
                    result: None,
                    message: message.clone(),
                },
            );
            Err(Failed::from(message))
        }));
    }
    trials.sort_by(|a, b| a.name().cmp(b.name()));

    let conclusion = libtest_mimic::run(&args, trials);

    let entries = entries.lock().map(|e| e.clone()).unwrap_or_default();
    let results: Vec<_> = entries.iter().filter_map(|e| e.result.clone()).collect();
    let matrix = Matrix::build(&contract.table, &endpoints, &results);
    if results
        .iter()
        .any(|r| r.steps.iter().any(|s| s.exchange.is_some()))
    {
        let text = matrix.render();
        if matches!(args.format, Some(libtest_mimic::FormatSetting::Json)) {
            eprint!("\n{text}");
        } else {
            print!("\n{text}");
        }
    }
    let summary = ignored_summary(&results);
    if !summary.is_empty() {
        if matches!(args.format, Some(libtest_mimic::FormatSetting::Json)) {
            eprint!("\n{summary}");
        } else {
            print!("\n{summary}");
        }
    }
    if let Some(dir) = &settings.report_dir {
        let mut sorted = entries;
        sorted.sort_by(|a, b| a.trial.cmp(&b.trial));
        match report::write(dir, &target.base_url, &sorted, &matrix, &target.secrets) {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                eprintln!("errcontract: reports written: {}", names.join(", "));
            }
            Err(e) => {
                eprintln!(
                    "errcontract: error: cannot write reports to {}: {e}",
                    dir.display()
                );
                return ExitCode::from(EXIT_SETUP);
            }
        }
    }
    conclusion.exit_code()
}

/// Cases not run, grouped by reason, so a user sees what to set to run more of them.
fn ignored_summary(results: &[crate::run::CaseResult]) -> String {
    let mut by_reason: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in results {
        if let Outcome::Ignored(why) | Outcome::Inconclusive(why) = &r.outcome {
            *by_reason.entry(why.as_str()).or_default() += 1;
        }
    }
    if by_reason.is_empty() {
        return String::new();
    }
    let total: usize = by_reason.values().sum();
    let mut out = format!(
        "{total} case{} not run or not concluded:\n",
        if total == 1 { "" } else { "s" }
    );
    let mut rows: Vec<(&str, usize)> = by_reason.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (why, n) in rows {
        out.push_str(&format!("  {n:>4}  {why}\n"));
    }
    out
}

fn record(entries: &Mutex<Vec<Entry>>, entry: Entry) {
    // A poisoned lock means another trial panicked mid-push; its entry is lost, ours is kept.
    match entries.lock() {
        Ok(mut e) => e.push(entry),
        Err(p) => p.into_inner().push(entry),
    }
}

fn case_trial(
    case: Case,
    runner: Arc<Runner>,
    runtime: Arc<tokio::runtime::Runtime>,
    entries: Arc<Mutex<Vec<Entry>>>,
) -> Trial {
    Trial::ignorable_test(case.trial_name(), move || {
        let result = runtime.block_on(runner.run_case(&case));
        let message = render::failure(&case, &result, &runner.target().clone());
        let completion = match &result.outcome {
            Outcome::Passed => Ok(Completion::Completed),
            Outcome::Failed { .. } => Err(Failed::from(message.clone())),
            Outcome::Ignored(why) | Outcome::Inconclusive(why) => Ok(Completion::ignored_with(
                runner.target().secrets.redact(why),
            )),
        };
        record(
            &entries,
            Entry {
                trial: case.trial_name(),
                file: render::display_path(&case.path),
                result: Some(result),
                message,
            },
        );
        completion
    })
}

/// Whether a TCP connection to the target's host and port opens.
async fn reachable(base_url: &str, timeout: Duration) -> Result<(), String> {
    let url = reqwest::Url::parse(base_url).map_err(|e| e.to_string())?;
    let host = url
        .host_str()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no TCP connection within {timeout:?}")),
    }
}
