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

/// glibc gives a thread that allocates while another holds an arena an
/// arena of its own, up to eight per core, and seldom returns their free
/// memory to the system. The SQLite driver runs a thread per connection, and
/// under the soak (BENCHMARKS.md) the server's resident memory kept rising
/// with the default, and far more slowly with two arenas. So the arenas
/// are capped at the number of cores, unless the operator chose a number
/// with glibc's own `MALLOC_ARENA_MAX`.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let cores = i32::try_from(cores).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets an allocator parameter; it is called
        // before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores);
        }
    }
}

fn main() -> ExitCode {
    cap_malloc_arenas();
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
