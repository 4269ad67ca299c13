//! `tongban`: the platform binary: the developer commands (`tongban app ...`),
//! the server (`tongban serve`), the marketplace commands that talk to a
//! server (`org`, `key`, `review`, `release`, `app publish`) and the local
//! operator commands (`admin`, `audit verify`). `cli/mod.rs` lists them all.

use std::process::ExitCode;

use clap::Parser;
use tongban::cli;

/// Logs go to standard error: warnings, plus one line per HTTP request, by
/// default; `TONGBAN_LOG` takes an `EnvFilter` directive instead, and
/// `TONGBAN_LOG_FORMAT=json` writes one JSON object per line for a log
/// collector.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TONGBAN_LOG")
        .unwrap_or_else(|_| format!("warn,{}=info", tongban::request_log::TARGET).into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("TONGBAN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
}

fn main() -> ExitCode {
    init_logs();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            e.exit_code()
        }
    }
}
