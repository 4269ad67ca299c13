//! `tongban`: the platform binary: the developer commands (`tongban app ...`),
//! the server (`tongban serve`), the marketplace commands that talk to a
//! server (`org`, `key`, `review`, `release`, `app publish`) and the local
//! operator commands (`admin`, `audit verify`). `cli/mod.rs` lists them all.

use std::process::ExitCode;

use clap::Parser;
use tongban::cli;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TONGBAN_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            e.exit_code()
        }
    }
}
