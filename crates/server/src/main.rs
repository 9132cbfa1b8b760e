//! The `licet-server` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    licet_server::cli::main()
}
