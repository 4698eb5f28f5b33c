//! The `errcontract` command: `serve` (the reference server), `lint` (case files), `run` (the
//! suite), `report` (merge report fragments), `expectations` (a known-failures file from a
//! run), `diff` (two runs compared) and `derive` (the cases a template derives). The only
//! place besides the test harness that prints or chooses an exit code.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use errcontract::exit;

#[derive(Parser, Debug)]
#[command(
    name = "errcontract",
    bin_name = "errcontract",
    version,
    about = "Conformance suite for the getimg.ai v2 error contract"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in reference server: a getimg.ai v2 API on this machine.
    Serve(errcontract::reference::ServeArgs),
    /// Run the conformance suite, like `cargo test --test contract -- ARGS` (same environment).
    Run {
        /// libtest arguments: a filter, --exact, --list, --ignored, --test-threads N, --format json ...
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check case files against case.schema.json and the status/code table.
    Lint {
        /// The cases directory (or one case file); by default ERRCONTRACT_CASES, else the one
        /// `run` uses (this build's `cases/`).
        dir: Option<PathBuf>,
        /// The schemas directory (by default the one `run` uses: this build's `schemas/`).
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
    /// Write the known-failures file a run implies (for ERRCONTRACT_EXPECTATIONS): one entry per
    /// failing case, sorted; an existing file's reasons, tickets and expiries are kept, entries
    /// of cases that pass now are dropped, new ones are marked FILL IN.
    Expectations {
        /// The run's report.json (ERRCONTRACT_REPORT_DIR).
        #[arg(long)]
        from: PathBuf,
        /// The known-failures file to write (updated in place when it exists); stdout if left out.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Merge the report fragments of runs (nextest's one process per case, or the shards of a
    /// run split over several machines) into junit.xml, report.json, summary.md and report.html.
    Report {
        /// Directories holding fragments (ERRCONTRACT_REPORT_DIR of each run or shard); searched
        /// for `fragments/` below them.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the reports go (default: the first directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Accept fragments that cover only part of the suite (a filtered run); without it,
        /// cases with no result make the merge fail (a shard missing, a process killed).
        #[arg(long)]
        partial: bool,
    },
    /// Compare two runs' report.json: new failures, fixed cases, newly inconclusive or ignored
    /// cases, cases added or removed, in Markdown.
    Diff {
        /// The earlier run's report.json.
        old: PathBuf,
        /// The later run's report.json.
        new: PathBuf,
        /// Exit 101 when a case fails in the later run that did not in the earlier (or is new
        /// and fails): a pull-request gate.
        #[arg(long)]
        fail_on_new: bool,
    },
    /// Check recorded traffic against the contract: every error (status 400 or more) and every
    /// poll of a video generation, with the checks that need no case; exchanges grouped by
    /// endpoint and code into trials, gated and reported as a run is (ERRCONTRACT_REPORT_DIR,
    /// ERRCONTRACT_EXPECTATIONS, the same exit codes).
    Traffic {
        /// HAR 1.x files (browsers, mitmproxy, gateways) or errcontract's NDJSON (`proxy
        /// --record`), gzip-compressed or not; `-` reads stdin.
        #[arg(required = true)]
        files: Vec<String>,
        /// The API's host, as in the capture's URLs (repeatable): every exchange with it is
        /// checked, whatever its path. Without it, exchanges below /v2/ are, on any host, and a
        /// browser's other hosts (assets, analytics) are left out.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// A recording reverse proxy on loopback: forwards every request to the upstream unchanged,
    /// checks each exchange as it passes (one line per contract break), and on SIGINT/SIGTERM
    /// or --idle-exit writes the reports and exits as a run does.
    Proxy {
        /// The API to forward to (staging, or `errcontract serve`); TLS, ERRCONTRACT_CA_CERT
        /// and the proxy variables apply as in a run.
        #[arg(long)]
        upstream: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:4011")]
        listen: std::net::SocketAddr,
        /// Write every exchange to FILE as NDJSON, keys redacted (`errcontract traffic FILE`
        /// checks it again).
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Stop after SECS seconds with no request under way and none finished (a request
        /// waiting for a slow answer keeps the proxy up).
        #[arg(long, value_name = "SECS")]
        idle_exit: Option<u64>,
    },
    /// Print the cases a template derives, as case files (or write them below --out).
    Derive {
        /// The template file (`*.template.json`).
        template: PathBuf,
        /// The cases directory: its `*.models.json` files give the models' values, and the
        /// template's name is its path below it (by default the one `run` uses: this build's
        /// `cases/`).
        #[arg(long, env = "ERRCONTRACT_CASES")]
        cases: Option<PathBuf>,
        /// Write each case to DIR/<name>.json instead of printing it.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The schemas directory.
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    errcontract::pipe::quiet_on_closed_pipe();
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { dir, schemas } => lint(
            &dir.or_else(|| std::env::var_os("ERRCONTRACT_CASES").map(PathBuf::from))
                .unwrap_or_else(errcontract::settings::default_cases_dir),
            schemas,
        ),
        Command::Derive {
            template,
            cases,
            out,
            schemas,
        } => derive(
            &template,
            &cases.unwrap_or_else(errcontract::settings::default_cases_dir),
            out.as_deref(),
            schemas,
        ),
        Command::Serve(args) => serve(&args),
        Command::Expectations { from, output } => expectations(&from, output.as_deref()),
        Command::Diff {
            old,
            new,
            fail_on_new,
        } => diff(&old, &new, fail_on_new),
        Command::Report { dirs, out, partial } => merge_reports(&dirs, out, partial),
        Command::Traffic { files, hosts } => traffic(&files, &hosts),
        Command::Proxy {
            upstream,
            listen,
            record,
            idle_exit,
        } => proxy(&upstream, listen, record, idle_exit),
        Command::Run { args } => {
            let argv = std::iter::once("errcontract-run".to_string()).chain(args);
            errcontract::harness::main(libtest_mimic::Arguments::from_iter(argv))
        }
    }
}

fn serve(args: &errcontract::reference::ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::code(exit::SETUP);
        }
    };
    let config = args.config();
    let addr = args.addr();
    let banner = errcontract::reference::banner(&config, addr);
    // Bound first: a busy port or two roles sharing a key is said before any "listening".
    let bound = match runtime.block_on(errcontract::reference::bind(config, addr)) {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "  help: {}",
                match e {
                    errcontract::reference::BindError::Address { .. } =>
                        "pick a free address with --addr 127.0.0.1:PORT",
                    errcontract::reference::BindError::Config(_) =>
                        "fix the flag or ERRCONTRACT_REFERENCE_* variable it names; each role needs its own key (--valid-key, --zero-balance-key, --revoked-key, --throttled-key)",
                }
            );
            return exit::code(exit::SETUP);
        }
    };
    println!("{banner}");
    match runtime.block_on(bound.serve()) {
        Ok(()) => exit::code(exit::OK),
        Err(e) => {
            eprintln!("error: serving on {addr} stopped: {e}");
            exit::code(exit::SETUP)
        }
    }
}

fn contract(schemas: Option<PathBuf>) -> Result<errcontract::contract::Contract, ExitCode> {
    // The run's default, wherever errcontract is run from, so lint, derive and the run judge by
    // the same contract.
    let schemas = schemas.unwrap_or_else(errcontract::contract::default_schemas_dir);
    errcontract::contract::Contract::load(&schemas).map_err(|e| {
        eprintln!("error: {e}");
        eprintln!("  help: point --schemas (or ERRCONTRACT_SCHEMAS) at the schemas directory");
        exit::code(exit::SETUP)
    })
}

fn derive(
    template: &std::path::Path,
    cases: &std::path::Path,
    out: Option<&std::path::Path>,
    schemas: Option<PathBuf>,
) -> ExitCode {
    let contract = match contract(schemas) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let given = template.display().to_string();
    // Both as absolute paths, so the template's name is its path below the cases directory
    // however each was given (`cases/x.template.json` from the repository, or an absolute one).
    let (template, cases) = match (
        std::fs::canonicalize(template),
        std::fs::canonicalize(cases),
    ) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(e), _) => {
            eprintln!(
                "error: cannot read the template {}: {e}",
                template.display()
            );
            return exit::code(exit::SETUP);
        }
        (_, Err(e)) => {
            eprintln!(
                "error: cannot read the cases directory {}: {e}",
                cases.display()
            );
            eprintln!("  help: name it with --cases DIR or ERRCONTRACT_CASES");
            return exit::code(exit::SETUP);
        }
    };
    if template.is_dir() {
        eprintln!(
            "error: {} is a directory; derive takes one template file (*.template.json)",
            template.display()
        );
        eprintln!("  help: `errcontract lint DIR` checks every template below a directory");
        return exit::code(exit::SETUP);
    }
    if !template.starts_with(&cases) {
        eprintln!(
            "error: the template {} is not below the cases directory {}",
            template.display(),
            cases.display()
        );
        eprintln!(
            "  help: name its cases directory with --cases DIR (its *.models.json give the models' values)"
        );
        return exit::code(exit::SETUP);
    }
    let (template, cases) = (template.as_path(), cases.as_path());
    let files = match errcontract::derive::derive_template(cases, template, &contract) {
        Ok(files) => files,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            return exit::code(exit::INVALID_CASES);
        }
    };
    // A fault the model lists leave no value for is no case file to print (its trial is
    // ignored in a run, with the same words).
    let (files, untried): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| f.derived.untried.is_none());
    for file in &untried {
        eprintln!(
            "errcontract: {} not printed: {}",
            file.name,
            file.derived.untried.as_deref().unwrap_or_default()
        );
    }
    let mut stdout = std::io::stdout().lock();
    for file in &files {
        let written = match out {
            None => writeln!(stdout, "{}", file.text),
            Some(dir) => {
                let path = dir.join(format!("{}.json", file.name));
                let result = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&path, &file.text));
                if let Err(e) = result {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return exit::code(exit::SETUP);
                }
                writeln!(stdout, "{}", path.display())
            }
        };
        // A closed pipe (`| head`) ends the listing, not in a panic.
        if written.is_err() {
            return exit::code(exit::OK);
        }
    }
    eprintln!("errcontract: {} cases derived from {given}", files.len(),);
    exit::code(exit::OK)
}

fn lint(dir: &std::path::Path, schemas: Option<PathBuf>) -> ExitCode {
    let contract = match contract(schemas) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = match errcontract::lint::lint_path(dir, &contract) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return exit::code(exit::SETUP);
        }
    };
    if report.files == 0 {
        eprintln!(
            "error: no case files (*.json) found below {}",
            dir.display()
        );
        eprintln!("  help: point lint at a directory of case files; the run refuses this one too");
        return exit::code(exit::SETUP);
    }
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    for problem in &report.problems {
        println!("{problem}");
    }
    println!("{}", report.summary());
    if report.problems.is_empty() {
        exit::code(exit::OK)
    } else {
        exit::code(exit::INVALID_CASES)
    }
}

fn expectations(from: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let report = match errcontract::report::json::Document::read(from) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  help: pass the report.json a run wrote into ERRCONTRACT_REPORT_DIR");
            return exit::code(exit::SETUP);
        }
    };
    let existing = match output.filter(|p| p.exists()).map(std::fs::read_to_string) {
        None => None,
        Some(Ok(text)) => Some(text),
        Some(Err(e)) => {
            eprintln!(
                "error: cannot read {}: {e}",
                output.unwrap_or(from).display()
            );
            return exit::code(exit::SETUP);
        }
    };
    // A run that ended on a guard (the key refused, the target gone) failed for reasons that
    // are not the target's gaps: no entry may be written from it.
    if let Some(guard) = report.guards.first() {
        eprintln!(
            "error: {}: the run ended on a guard, so its failures are not the target's gaps: {}",
            from.display(),
            guard.message.lines().next().unwrap_or_default()
        );
        eprintln!(
            "  help: fix what the guard says and run again; write the known-failures file from a run that ended without one"
        );
        return exit::code(exit::SETUP);
    }
    // `$schema` as seen from where the file goes (stdout: the current directory).
    let dir = match output.and_then(std::path::Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let schema =
        errcontract::gate::schema_reference(&dir, &errcontract::contract::default_schemas_dir());
    let trials = report.cases.iter().map(|c| errcontract::gate::RunTrial {
        name: &c.name,
        subject: c.subject,
        verdict: c.outcome,
        failed: &c.failed_checks,
    });
    let written = match errcontract::gate::write_from_run(trials, existing.as_deref(), schema) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {}: {e}", output.unwrap_or(from).display());
            eprintln!("  help: write to another file with -o, or fix this one");
            return exit::code(exit::SETUP);
        }
    };
    match output {
        None => print!("{}", written.text),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &written.text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return exit::code(exit::SETUP);
            }
            eprintln!("wrote {}", path.display());
        }
    }
    let list = |names: &[String]| names.join(", ");
    if !written.added.is_empty() {
        eprintln!(
            "{} new entr{} to fill in (reason, ticket; the gate refuses FILL IN): {}",
            written.added.len(),
            if written.added.len() == 1 { "y" } else { "ies" },
            list(&written.added)
        );
    }
    if !written.removed.is_empty() {
        eprintln!("removed (these pass now): {}", list(&written.removed));
    }
    if !written.widened.is_empty() {
        eprintln!(
            "marked FILL IN (they fail in more checks than listed: confirm each new break): {}",
            list(&written.widened)
        );
    }
    if !written.narrowed.is_empty() {
        eprintln!(
            "narrowed to the checks that still fail (partly fixed): {}",
            list(&written.narrowed)
        );
    }
    if !written.expanded.is_empty() {
        eprintln!(
            "globs replaced by the cases they still fail (part of each area is fixed): {}",
            list(&written.expanded)
        );
    }
    eprintln!("kept as written: {}", written.kept);
    exit::code(exit::OK)
}

fn diff(old: &std::path::Path, new: &std::path::Path, fail_on_new: bool) -> ExitCode {
    let read = |p: &std::path::Path| errcontract::report::json::Document::read(p);
    match (read(old), read(new)) {
        (Ok(o), Ok(n)) => {
            let shown = |p: &std::path::Path| p.display().to_string();
            print!(
                "{}",
                errcontract::report::diff(&o, &n, &shown(old), &shown(new))
            );
            let new_failures = errcontract::report::new_failures(&o, &n);
            if fail_on_new && !new_failures.is_empty() {
                eprintln!(
                    "error: {} case(s) fail now that did not: {}",
                    new_failures.len(),
                    new_failures.join(", ")
                );
                return exit::code(exit::FAILED);
            }
            exit::code(exit::OK)
        }
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            eprintln!("  help: pass two report.json files runs wrote into ERRCONTRACT_REPORT_DIR");
            exit::code(exit::SETUP)
        }
    }
}

fn merge_reports(dirs: &[PathBuf], out: Option<PathBuf>, partial: bool) -> ExitCode {
    // This environment's settings: its keys are redacted too (fragments are redacted already),
    // its ERRCONTRACT_MAX_INCONCLUSIVE judges the merged run.
    let settings = errcontract::settings::Settings::from_env().ok();
    let merged = match errcontract::session::merge(dirs, out.as_deref(), partial, settings.as_ref())
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "  help: pass the ERRCONTRACT_REPORT_DIR of each run or shard of one contract run against one target"
            );
            return exit::code(exit::SETUP);
        }
    };
    let concluded = &merged.concluded;
    match &concluded.written {
        errcontract::session::Written::Files {
            files,
            step_summary,
        } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            eprintln!(
                "merged {} fragment{} ({} cases) into {}",
                merged.fragments,
                if merged.fragments == 1 { "" } else { "s" },
                merged.cases,
                names.join(", ")
            );
            if let Some(e) = step_summary {
                eprintln!("warning: cannot append summary.md to $GITHUB_STEP_SUMMARY: {e}");
            }
        }
        errcontract::session::Written::Failed { dir, error } => {
            eprintln!("error: cannot write reports to {}: {error}", dir.display());
        }
        errcontract::session::Written::Nothing | errcontract::session::Written::KeptTheRuns(_) => {}
    }
    for note in &merged.notes {
        eprintln!("note: {note}");
    }
    for guard in &concluded.guards {
        eprintln!("error: {guard}");
    }
    exit::code(concluded.exit_code)
}

fn settings() -> Result<errcontract::settings::Settings, ExitCode> {
    errcontract::settings::Settings::from_env().map_err(|e| {
        eprintln!("error: {e}");
        exit::code(exit::SETUP)
    })
}

fn setup_failed(e: &errcontract::session::SetupError) -> ExitCode {
    eprintln!("error: {e}");
    if let Some(help) = e.help() {
        eprintln!("  help: {help}");
    }
    exit::code(e.exit_code())
}

fn traffic(files: &[String], hosts: &[String]) -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match errcontract::session::check_files(files, hosts, settings) {
        Ok(outcome) => traffic_done(&outcome),
        Err(e) => setup_failed(&e),
    }
}

/// What a traffic check (or the proxy) came to: the input's problems, each group's verdict,
/// the closing text, the guards, the reports.
fn traffic_done(outcome: &errcontract::session::TrafficOutcome) -> ExitCode {
    use errcontract::gate::Verdict;
    for p in &outcome.problems {
        eprintln!("warning: {p}");
    }
    if outcome.problems_total > outcome.problems.len() {
        eprintln!(
            "warning: … and {} more problems with the input",
            outcome.problems_total - outcome.problems.len()
        );
    }
    println!(
        "read {} exchange(s); checked {} (errors and video polls) in {} trial(s)",
        outcome.exchanges,
        outcome.checked,
        outcome.trials.len()
    );
    if outcome.body_not_recorded > 0 {
        println!(
            "not recorded: {} checked exchange(s) have no response body: their body checks were skipped",
            outcome.body_not_recorded
        );
    }
    if outcome.out_of_scope > 0 {
        println!(
            "not the API's: {} exchange(s) to other hosts or outside /v2/ were not checked (--host HOST checks every path of a host)",
            outcome.out_of_scope
        );
    }
    if outcome.key_not_recorded > 0 {
        println!(
            "not recorded: {} checked exchange(s) carry no Authorization (a sanitized capture): the echo of the request's own key was not checked",
            outcome.key_not_recorded
        );
    }
    let mut failed = Vec::new();
    for t in &outcome.trials {
        let word = match t.verdict {
            Verdict::Passed => "ok".to_string(),
            Verdict::ExpectedFailure => {
                format!("ignored, {}", t.reason.as_deref().unwrap_or_default())
            }
            v if v.fails_the_run() => {
                failed.push(t);
                "FAILED".to_string()
            }
            v => v.as_str().to_string(),
        };
        println!("test {} ... {word}", t.name);
    }
    for t in failed {
        println!(
            "\n---- {} ----\n{}",
            t.name,
            t.message.as_deref().unwrap_or("")
        );
    }
    let finished = &outcome.finished;
    for text in &finished.closing {
        println!("\n{text}");
    }
    for guard in &finished.concluded.guards {
        eprintln!("errcontract: error: {guard}");
    }
    errcontract::harness::print_written(&finished.concluded.written);
    exit::code(finished.concluded.exit_code)
}

fn proxy(
    upstream: &str,
    listen: std::net::SocketAddr,
    record: Option<PathBuf>,
    idle_exit: Option<u64>,
) -> ExitCode {
    use errcontract::session::Live;
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let options = errcontract::session::ProxyOptions {
        upstream: upstream.to_string(),
        listen,
        record,
        idle_exit: idle_exit.map(std::time::Duration::from_secs),
    };
    let mut live = |event: Live<'_>| match event {
        Live::Listening(addr, upstream) => {
            println!("errcontract proxy: listening on http://{addr}, forwarding to {upstream}");
            println!("  stop with ctrl-c (SIGINT) or SIGTERM: the reports are written then");
        }
        Live::Break(line) => println!("break: {line}"),
        Live::Upstream(why) => eprintln!("warning: the upstream could not be asked: {why}"),
        Live::RecordFailed(why) => {
            eprintln!("warning: cannot write the recording ({why}): recording stopped")
        }
    };
    match errcontract::session::proxy(settings, options, &mut live) {
        Ok(outcome) => {
            match outcome.stopped {
                errcontract::session::Stopped::Idle => {
                    println!("errcontract proxy: no traffic for the idle time: stopped")
                }
                errcontract::session::Stopped::Signal(s) => {
                    println!("errcontract proxy: stopped by {}", s.as_str())
                }
            }
            traffic_done(&outcome.traffic)
        }
        Err(e) => setup_failed(&e),
    }
}
