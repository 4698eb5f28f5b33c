//! The `errcontract` command: `serve` (the reference server), `lint` (case files) and `run`
//! (the suite). The only place besides the test harness that prints or chooses an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use errcontract::exit;

#[derive(Parser, Debug)]
#[command(
    name = "errcontract",
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
        /// The cases directory (or one case file).
        #[arg(default_value = "cases")]
        dir: PathBuf,
        /// The schemas directory (by default the one `run` uses: this build's `schemas/`).
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    errcontract::pipe::quiet_on_closed_pipe();
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { dir, schemas } => lint(&dir, schemas),
        Command::Serve(args) => serve(&args),
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

fn lint(dir: &std::path::Path, schemas: Option<PathBuf>) -> ExitCode {
    // The run's default, wherever lint is run from, so lint and run judge by the same contract.
    let schemas = schemas.unwrap_or_else(errcontract::contract::default_schemas_dir);
    let contract = match errcontract::contract::Contract::load(&schemas) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  help: point --schemas (or ERRCONTRACT_SCHEMAS) at the schemas directory");
            return exit::code(exit::SETUP);
        }
    };
    let report = match errcontract::case::lint_path(dir, &contract) {
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
