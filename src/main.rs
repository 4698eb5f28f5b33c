//! The `errcontract` command: `serve` (the reference server), `lint` (case files), `run`
//! (the suite) and `derive` (the cases a template derives). The only place besides the test
//! harness that prints or chooses an exit code.

use std::io::Write as _;
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
        /// The schemas directory.
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
    /// Print the cases a template derives, as case files (or write them below --out).
    Derive {
        /// The template file (`*.template.json`).
        template: PathBuf,
        /// The cases directory: its `*.models.json` files give the models' values, and the
        /// template's name is its path below it.
        #[arg(long, env = "ERRCONTRACT_CASES", default_value = "cases")]
        cases: PathBuf,
        /// Write each case to DIR/<name>.json instead of printing it.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The schemas directory.
        #[arg(long, env = "ERRCONTRACT_SCHEMAS")]
        schemas: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Lint { dir, schemas } => lint(&dir, schemas),
        Command::Derive {
            template,
            cases,
            out,
            schemas,
        } => derive(&template, &cases, out.as_deref(), schemas),
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
    println!("{}", errcontract::reference::banner(&config, addr));
    match runtime.block_on(errcontract::reference::serve(config, addr)) {
        Ok(()) => exit::code(exit::OK),
        Err(e) => {
            eprintln!("error: cannot serve on {addr}: {e}");
            eprintln!("  help: pick a free address with --addr 127.0.0.1:PORT");
            exit::code(exit::SETUP)
        }
    }
}

fn contract(schemas: Option<PathBuf>) -> Result<errcontract::contract::Contract, ExitCode> {
    let schemas = schemas.unwrap_or_else(|| PathBuf::from("schemas"));
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
    let files = match errcontract::case::derive_template(cases, template, &contract) {
        Ok(files) => files,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            return exit::code(exit::INVALID_CASES);
        }
    };
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
    eprintln!(
        "errcontract: {} cases derived from {}",
        files.len(),
        template.display()
    );
    exit::code(exit::OK)
}

fn lint(dir: &std::path::Path, schemas: Option<PathBuf>) -> ExitCode {
    let contract = match contract(schemas) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = match errcontract::case::lint_path(dir, &contract) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return exit::code(exit::SETUP);
        }
    };
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
