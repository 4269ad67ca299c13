//! `tongban`: the platform binary. Today it carries the developer commands
//! (`tongban app new|build|check|run`); the server and marketplace commands
//! join it as they land.

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
