//! The `licet-server` binary: everything is in the library's `cli` module; this file only
//! chooses the allocator.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    licet_server::cli::main()
}
