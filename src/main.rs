//! The `errcontract` command: `serve` (the reference server) and `lint` (case files).
//! The only place besides the test harness that prints or chooses an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, documented in README.md.
mod exit {
    /// Everything held.
    pub const OK: u8 = 0;
    /// Case files have problems.
    pub const INVALID_CASES: u8 = 1;
    /// The schemas or the command line are broken, or the server could not start.
    pub const SETUP: u8 = 2;
}

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
    /// Check case files against case.schema.json and the status/code table.
    Lint {
        /// The cases directory (or one case file).
        #[arg(default_value = "cases")]
        dir: PathBuf,
        /// The schemas directory.
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { dir, schemas } => lint(&dir, schemas),
    }
}

fn lint(dir: &std::path::Path, schemas: Option<PathBuf>) -> ExitCode {
    let schemas = schemas.unwrap_or_else(|| PathBuf::from("schemas"));
    let contract = match errcontract::contract::Contract::load(&schemas) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  help: point --schemas (or ERRCONTRACT_SCHEMAS) at the schemas directory");
            return ExitCode::from(exit::SETUP);
        }
    };
    let report = match errcontract::lint::lint_path(dir, &contract) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return ExitCode::from(exit::SETUP);
        }
    };
    for problem in &report.problems {
        println!("{problem}");
    }
    println!("{}", report.summary());
    if report.problems.is_empty() {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::INVALID_CASES)
    }
}
