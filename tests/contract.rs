//! The conformance run: `cargo test --test contract`. Every case in `cases/` is one trial named
//! `case::<area>/<name>`; the logic lives in `errcontract::harness`.

fn main() -> std::process::ExitCode {
    errcontract::harness::main(libtest_mimic::Arguments::from_args())
}
