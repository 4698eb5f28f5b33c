//! The conformance run: `cargo test --test contract`. Every case in `cases/` is one trial named
//! `case::<area>/<name>`; the logic lives in `errcontract::harness`.

fn main() -> std::process::ExitCode {
    errcontract::pipe::quiet_on_closed_pipe();
    errcontract::harness::main(libtest_mimic::Arguments::from_args())
}
