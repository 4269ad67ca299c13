//! The reduced WASI every app gets: clocks, randomness, and stdout/stderr
//! captured into bounded pipes. The environment and arguments are empty, stdin
//! is empty, and there are no preopened directories, so the filesystem
//! interfaces are present (Rust's standard library imports them) but reach
//! nothing. Sockets are not linked at all; a component importing them is
//! refused at load.

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::random::{WasiRandom, WasiRandomCtx};
use wasmtime_wasi::{WasiCtx, WasiView};

/// The stdout and stderr capture of one call.
pub struct CapturedOutput {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

/// A WASI context with nothing but bounded stdout and stderr.
pub fn sandbox_ctx(output_cap: usize) -> (WasiCtx, CapturedOutput) {
    let stdout = MemoryOutputPipe::new(output_cap);
    let stderr = MemoryOutputPipe::new(output_cap);
    let ctx = WasiCtx::builder()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    (ctx, CapturedOutput { stdout, stderr })
}

struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Add the sandbox's WASI interfaces to a linker whose store data is a
/// [`WasiView`] (its `WasiCtx` from [`sandbox_ctx`], whose randomness the
/// random interfaces use, and its resource table). The store data is
/// generic, as wasmtime-wasi's own `add_to_linker` is, so this module knows
/// nothing of the runtime's store data.
pub fn link_sandbox_wasi<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    fn randomness<T: WasiView>(store: &mut T) -> &mut WasiRandomCtx {
        let ctx: &mut WasiCtx = store.ctx().ctx;
        ctx.random()
    }
    let l = linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, IoTable>(l, |s| s.ctx().table)?;
    wasmtime_wasi_io::bindings::wasi::io::poll::add_to_linker::<T, IoTable>(l, |s| s.ctx().table)?;
    wasmtime_wasi_io::bindings::wasi::io::streams::add_to_linker::<T, IoTable>(l, |s| s.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, |s| s.clocks())?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, |s| s.clocks())?;
    random::random::add_to_linker::<T, WasiRandom>(l, randomness::<T>)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, randomness::<T>)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, randomness::<T>)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::environment::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, |s| s.cli())?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, |s| s.filesystem())?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, |s| s.filesystem())?;
    Ok(())
}
