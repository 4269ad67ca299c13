//! Test support shared by the runtime, server and end-to-end tests: building
//! the fixture apps and the example plugins for `wasm32-wasip2`, once per test
//! process, and packaging them.
//!
//! No `.wasm` file is committed; every test run builds the components from
//! source with the pinned toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tongban_registry::Package;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_owned()
}

/// Where the wasm workspaces put their components.
pub fn wasm_out_dir() -> PathBuf {
    repo_root().join("target/wasm/wasm32-wasip2/release")
}

/// Build every crate of a wasm workspace (`tests/fixtures` or `plugins`) in
/// release mode for `wasm32-wasip2`.
///
/// # Panics
///
/// When cargo fails; the panic carries cargo's output, so a broken fixture
/// fails the test that needed it with the compiler's message.
pub fn build_wasm_workspace(workspace: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(workspace)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("running cargo");
    assert!(
        output.status.success(),
        "building the wasm components in {} failed:\n{}",
        workspace.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

static FIXTURES: OnceLock<()> = OnceLock::new();
static PLUGINS: OnceLock<()> = OnceLock::new();

/// The package of a fixture app under `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> Package {
    FIXTURES.get_or_init(|| build_wasm_workspace(&repo_root().join("tests/fixtures")));
    let wasm = wasm_out_dir().join(format!("fixture_{}.wasm", name.replace('-', "_")));
    package(&repo_root().join("tests/fixtures").join(name), &wasm)
}

/// The package of an example app under `plugins/NAME`.
pub fn plugin(name: &str) -> Package {
    PLUGINS.get_or_init(|| build_wasm_workspace(&repo_root().join("plugins")));
    let wasm = wasm_out_dir().join(format!("{}.wasm", name.replace('-', "_")));
    package(&repo_root().join("plugins").join(name), &wasm)
}

fn package(dir: &Path, wasm: &Path) -> Package {
    let component = std::fs::read(wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    Package::from_app_dir(dir, component).unwrap_or_else(|e| panic!("packaging {}: {e}", dir.display()))
}

/// A running `tongban serve` process on a loopback port, killed on drop.
/// `binary` is the `tongban` executable (`env!("CARGO_BIN_EXE_tongban")` in the
/// server crate's tests and benches).
pub struct ServerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
}

impl ServerProcess {
    /// Start `tongban serve --listen 127.0.0.1:0 ARGS...` and wait for the
    /// address it prints.
    ///
    /// # Panics
    ///
    /// When the server exits before printing its address.
    pub fn start(binary: &Path, args: &[String]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = Command::new(binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting tongban serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("tongban serve exited before printing its address")
                .expect("reading the server's output");
            if let Some(rest) = line.split("serving on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess { child, url }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
