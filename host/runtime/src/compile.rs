//! Compiling components. Compiling is the step a hostile package aims at: a
//! million tiny functions, or one straight-line function of megabytes, costs
//! Cranelift minutes and gigabytes. The marketplace's cost check refuses
//! what is over the platform's bounds before anything compiles; what passes
//! is compiled by [`Compiler::Isolated`] in a child process (the same
//! `tongban` binary, `tongban compile-component`), which limits its own
//! address space and CPU time before it reads the component, under a
//! wall-clock bound the parent enforces. A compile past any bound is a clear
//! refusal naming the bound, and the server's own memory and threads are
//! never touched by it.
//!
//! The child compiles with the same compilation settings as the serving
//! engine (`engine::build_compile_engine`), so its artifact loads there; the
//! parent deserializes it, which also checks it against the pooling
//! allocator's bounds. Loading compiled code is running it: the artifact is
//! trusted because this binary's own child wrote it into this node's cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{EngineSettings, build_compile_engine};

/// The hidden subcommand of the `tongban` binary that runs the child.
pub const CHILD_COMMAND: &str = "compile-component";

/// How components are compiled.
#[derive(Debug, Clone)]
pub enum Compiler {
    /// In this process: for tests and benchmarks, which compile only the
    /// project's own fixtures.
    InProcess,
    /// In a child process of `program` (the `tongban` binary), under `limits`.
    Isolated { program: PathBuf, limits: CompileLimits },
}

impl Compiler {
    /// The isolated compiler of the running `tongban` binary, with the
    /// platform's limits.
    pub fn this_binary() -> std::io::Result<Compiler> {
        // `/proc/self/exe` is the very binary running, even after an upgrade
        // replaced the file on disk, so the child compiles for this engine.
        let program = if Path::new("/proc/self/exe").exists() {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        Ok(Compiler::Isolated {
            program,
            limits: CompileLimits::default(),
        })
    }
}

/// The bounds of one compile in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    /// CPU time, over all the compiler's threads.
    pub cpu_seconds: u64,
    /// The child's whole address space.
    pub address_space_bytes: u64,
    /// Wall-clock time, enforced by the parent.
    pub wall: Duration,
}

impl Default for CompileLimits {
    fn default() -> CompileLimits {
        CompileLimits {
            cpu_seconds: 60,
            address_space_bytes: 4 * 1024 * 1024 * 1024,
            wall: Duration::from_secs(120),
        }
    }
}

/// The most of the child's error output the parent keeps.
const MAX_CHILD_STDERR: u64 = 16 * 1024;

/// What the child is told.
#[derive(Debug, Clone)]
pub struct ChildArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub fuel: bool,
    pub cpu_seconds: u64,
    pub address_space_bytes: u64,
}

impl ChildArgs {
    fn to_args(&self) -> Vec<String> {
        vec![
            CHILD_COMMAND.into(),
            "--fuel".into(),
            self.fuel.to_string(),
            "--cpu-seconds".into(),
            self.cpu_seconds.to_string(),
            "--address-space-bytes".into(),
            self.address_space_bytes.to_string(),
            self.input.display().to_string(),
            self.output.display().to_string(),
        ]
    }
}

/// The child's work: limit this process, then compile `input` into the
/// artifact `output`. Called by `tongban compile-component` only. A panic
/// (the compiler's threads cannot start under the memory limit, say) is
/// answered as an error too, so the parent always gets a message.
pub fn run_child(args: &ChildArgs) -> Result<(), String> {
    std::panic::set_hook(Box::new(|_| {}));
    match std::panic::catch_unwind(|| compile_limited(args)) {
        Ok(result) => result,
        Err(panic) => {
            let said = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(format!("the compiler stopped: {said}"))
        }
    }
}

fn compile_limited(args: &ChildArgs) -> Result<(), String> {
    limit_this_process(args.cpu_seconds, args.address_space_bytes)?;
    let bytes = std::fs::read(&args.input).map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let settings = EngineSettings {
        fuel: args.fuel,
        ..EngineSettings::default()
    };
    let engine = build_compile_engine(&settings).map_err(|e| format!("cannot build the compiler: {e:#}"))?;
    let artifact = engine
        .precompile_component(&bytes)
        .map_err(|e| format!("the component does not compile: {e:#}"))?;
    std::fs::write(&args.output, artifact).map_err(|e| format!("cannot write {}: {e}", args.output.display()))
}

/// Set the CPU-time and address-space limits of this process, and lower its
/// priority below the server's.
fn limit_this_process(cpu_seconds: u64, address_space_bytes: u64) -> Result<(), String> {
    // SAFETY: `setpriority` changes only this process's scheduling priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
    // The soft CPU limit sends SIGXCPU; the hard one, a second later, kills.
    set_limit(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
    set_limit(libc::RLIMIT_AS, address_space_bytes, address_space_bytes)
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Result<(), String> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `setrlimit` reads the struct we pass and changes only this
    // process's limits.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot limit the compiler process: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Compile `bytes` in a child of `program` into the artifact at `output`.
/// The error names the bound that was hit, or the compiler's own message.
pub(crate) fn compile_in_child(
    program: &Path,
    limits: &CompileLimits,
    fuel: bool,
    bytes: &[u8],
    output: &Path,
) -> Result<(), String> {
    let mut input = output.as_os_str().to_owned();
    input.push(".input");
    let input = PathBuf::from(input);
    std::fs::write(&input, bytes).map_err(|e| format!("cannot stage the component for compiling: {e}"))?;
    let result = run_child_process(program, limits, fuel, &input, output);
    let _ = std::fs::remove_file(&input);
    if result.is_err() {
        let _ = std::fs::remove_file(output);
    }
    result
}

fn run_child_process(
    program: &Path,
    limits: &CompileLimits,
    fuel: bool,
    input: &Path,
    output: &Path,
) -> Result<(), String> {
    let args = ChildArgs {
        input: input.to_owned(),
        output: output.to_owned(),
        fuel,
        cpu_seconds: limits.cpu_seconds,
        address_space_bytes: limits.address_space_bytes,
    };
    let mut child = Command::new(program)
        .args(args.to_args())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the compiler process {}: {e}", program.display()))?;
    // Read the child's error output as it comes (bounded), so a chatty
    // child can never block on a full pipe.
    let stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut stderr = stderr;
        let _ = (&mut stderr).take(MAX_CHILD_STDERR).read_to_end(&mut kept);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        String::from_utf8_lossy(&kept).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= limits.wall => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for the compiler process: {e}")),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!(
            "compiling took longer than {} s, the platform's bound",
            limits.wall.as_secs()
        ));
    };
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    // Out of address space shows as an allocation that failed, or as
    // threads or mappings the kernel would not give.
    let over_memory = [
        "memory allocation of",
        "out of memory",
        "Cannot allocate memory",
        "Resource temporarily unavailable",
    ]
    .iter()
    .any(|sign| stderr.contains(sign));
    Err(match status.signal() {
        Some(libc::SIGXCPU) => format!(
            "compiling used more than {} s of CPU time, the platform's bound",
            limits.cpu_seconds
        ),
        Some(libc::SIGKILL) => format!(
            "the compiler process was killed: past {} s of CPU time, or by the system for want of memory",
            limits.cpu_seconds
        ),
        _ if over_memory => format!(
            "compiling needed more than {} MiB of memory, the platform's bound",
            limits.address_space_bytes / (1024 * 1024)
        ),
        _ => {
            let said = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            if said.is_empty() {
                format!("the compiler process failed ({status})")
            } else {
                said.to_owned()
            }
        }
    })
}
