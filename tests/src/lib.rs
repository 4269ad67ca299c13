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

pub mod hostile_components;

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
/// release mode for `wasm32-wasip2`. `TONGBAN_GUEST_RUSTFLAGS`, when set,
/// gives the guests' own rustflags, for benchmarks that compare link
/// settings (such as `-C link-arg=-zstack-size=131072`).
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
        .envs(
            std::env::var("TONGBAN_GUEST_RUSTFLAGS")
                .ok()
                .map(|flags| ("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", flags)),
        )
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

/// The capability line an update of the first app adds in the tests, so its
/// capability diff has something to acknowledge: app storage, which 1.0.0
/// does not use.
pub const UPDATE_CAPABILITY: &str = "storage = { quota-kib = 64 }";

/// The first app (`plugins/sole-proprietor`) at `version`, unsigned, with an
/// extra manifest line under `[capabilities]` when given: the releases the
/// marketplace tests publish.
pub fn sole_proprietor_at(version: &str, extra_capability: Option<&str>) -> Package {
    let mut package = plugin("sole-proprietor");
    package.manifest_text = package
        .manifest_text
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""));
    if let Some(line) = extra_capability {
        package.manifest_text = package
            .manifest_text
            .replace("[capabilities]\n", &format!("[capabilities]\n{line}\n"));
    }
    package
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
    /// Start `tongban serve --listen 127.0.0.1:0 ARGS...` with extra
    /// environment variables, and wait for the address it prints.
    ///
    /// # Panics
    ///
    /// When the server exits before printing its address.
    pub fn start(binary: &Path, args: &[String], envs: &[(String, String)]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("TONGBAN_LOG", "warn");
        // The developer's own S3 settings must not leak into a test server.
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
            command.env_remove(name);
        }
        let mut child = command
            .envs(envs.iter().cloned())
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

    /// Kill the server as a power cut or `kill -9` would: SIGKILL, so it
    /// finishes nothing it started and flushes nothing, and reap it. Answers
    /// the signal that ended it (9, unless it had exited on its own before).
    pub fn kill_hard(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        // `Child::kill` is SIGKILL on Unix.
        let _ = self.child.kill();
        self.child.wait().expect("reaping the killed server").signal()
    }

    /// The server's peak resident memory so far (`VmHWM`), in bytes: what a
    /// hostile request made the server hold at its worst.
    pub fn peak_memory_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reading the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc status")
            * 1024
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An S3-compatible object store for tests: moto's server (`moto[server]`
/// from PyPI, installed by `cargo xtask test`), on a free loopback port, with
/// one bucket. It stands in for MinIO, OSS or S3 at the edge of the world; the
/// platform talks to it with its real S3 client. Killed on drop.
pub struct S3Sandbox {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
}

impl S3Sandbox {
    /// Start the sandbox, or `None` when moto is not installed outside CI.
    ///
    /// # Panics
    ///
    /// In CI (`CI` set) when moto is missing, and whenever the server does not
    /// come up within 30 seconds.
    pub fn start(bucket: &str) -> Option<S3Sandbox> {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::process::Stdio;
        let probe = Command::new("python3").args(["-c", "import moto.server"]).output();
        if !probe.is_ok_and(|o| o.status.success()) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must test the S3 blob store too: python3 cannot import moto.server (cargo xtask test installs it)"
            );
            eprintln!("moto is not installed (python3 -m pip install 'moto[s3,server]'): skipping the S3 part");
            return None;
        }
        // A free port is found by binding and letting go; another process may
        // take it before moto binds it, and then moto exits at once: try
        // again on another port.
        let (sandbox, mut stream, port) = 'attempts: {
            for attempt in 1..=3 {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free loopback port")
                    .port();
                let log = tempfile_path(&format!("moto-{port}.log"));
                let log_file = std::fs::File::create(&log).expect("creating moto's log file");
                let child = Command::new("python3")
                    .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(log_file)
                    .spawn()
                    .expect("starting moto.server");
                let mut sandbox = S3Sandbox {
                    child,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    bucket: bucket.to_owned(),
                };
                let started = std::time::Instant::now();
                loop {
                    if let Ok(Some(status)) = sandbox.child.try_wait() {
                        let said = std::fs::read_to_string(&log).unwrap_or_default();
                        assert!(
                            attempt < 3,
                            "moto.server exited ({status}) before serving on port {port}:\n{said}"
                        );
                        eprintln!("moto.server exited ({status}) on port {port}; trying another port");
                        break;
                    }
                    match TcpStream::connect(("127.0.0.1", port)) {
                        Ok(stream) => break 'attempts (sandbox, stream, port),
                        Err(_) if started.elapsed() < std::time::Duration::from_secs(30) => {
                            std::thread::sleep(std::time::Duration::from_millis(100))
                        }
                        Err(e) => panic!(
                            "moto.server did not start on port {port} within 30 s ({e}):\n{}",
                            std::fs::read_to_string(&log).unwrap_or_default()
                        ),
                    }
                }
            }
            unreachable!("the last attempt either serves or panics")
        };
        // Create the bucket (moto accepts unsigned requests).
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("asking moto for a bucket");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reading moto's answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "creating the bucket failed: {answer}"
        );
        Some(sandbox)
    }

    /// The blob URL of a prefix in the bucket.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The `AWS_*` settings that point the platform at the sandbox.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "tongban-test"),
            ("AWS_SECRET_ACCESS_KEY", "tongban-test-secret"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

impl Drop for S3Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path for a scratch file under the target directory.
fn tempfile_path(name: &str) -> PathBuf {
    let dir = repo_root().join("target/test-scratch");
    std::fs::create_dir_all(&dir).expect("creating target/test-scratch");
    dir.join(name)
}
