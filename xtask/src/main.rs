//! `cargo xtask test`: the one command that runs every test on a fresh machine.
//!
//! It installs what the tests need that cargo does not (the `wasm32-wasip2`
//! target, a fresh PostgreSQL database, moto's S3-compatible sandbox and
//! openapi-spec-validator from PyPI, Debian's headless Chromium and its
//! WebDriver, axe-core from npm), then runs the host
//! workspace's tests (which build the fixture and example components from
//! source) and the example apps' own test-kit tests.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask test [-- CARGO TEST ARGS]");
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the root")
        .to_owned()
}

fn step(title: &str) {
    eprintln!("\n==> {title}");
}

fn run(mut command: Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test(extra: &[String]) -> Result<(), String> {
    let root = root();
    step("toolchain: the wasm32-wasip2 target");
    ensure_wasm_target()?;

    step("crates: every package Cargo.lock names, for every platform");
    // `cargo test` downloads only what this platform builds; the layering
    // test reads `cargo metadata --offline`, which needs them all.
    let mut fetch = cargo();
    fetch.current_dir(&root).args(["fetch", "--locked"]);
    run(fetch)?;

    step("PostgreSQL: a fresh database for this run");
    // Held to the end of the run: the database this run created is dropped
    // then, passed or failed; the tests drop the databases they make
    // themselves (`tongban-testdb`).
    let postgres = provision_postgres()?;

    step("S3-compatible sandbox: moto's server, from PyPI");
    ensure_s3_sandbox()?;

    step("OpenAPI validator: openapi-spec-validator, from PyPI");
    ensure_openapi_validator()?;

    step("browser: Debian's chromium and chromium-driver");
    ensure_chromium()?;

    step("accessibility checker: axe-core, from npm");
    ensure_axe(&root)?;

    step("host workspace: unit, integration and benchmark-smoke tests");
    let mut host = cargo();
    host.current_dir(&root)
        .args(["test", "--workspace", "--all-targets"])
        .args(extra);
    if let Some(p) = &postgres {
        host.env("TONGBAN_TEST_DATABASE_URL", &p.url);
    }
    run(host)?;

    step("example apps: test-kit unit tests");
    let mut plugins = cargo();
    plugins.current_dir(root.join("plugins")).arg("test");
    run(plugins)?;
    Ok(())
}

/// The machine's PostgreSQL, where the tests create one database each.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Create a fresh database for this run on the PostgreSQL named by
/// `TONGBAN_TEST_POSTGRES` (default: the machine's, trust auth) and return
/// its URL. Without a reachable PostgreSQL, CI fails; elsewhere the
/// PostgreSQL half of the tests is skipped with a warning.
fn provision_postgres() -> Result<Option<RunDatabase>, String> {
    if let Ok(url) = std::env::var("TONGBAN_TEST_DATABASE_URL") {
        eprintln!("using TONGBAN_TEST_DATABASE_URL={url}");
        return Ok(Some(RunDatabase { url, created: None }));
    }
    let admin = std::env::var("TONGBAN_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let name = format!("tongban_run_{stamp}_{}", std::process::id());
    let created = Command::new("psql")
        .args([
            admin.as_str(),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output();
    match created {
        Ok(out) if out.status.success() => {
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            let url = format!("{base}/{name}");
            eprintln!("created {url}");
            Ok(Some(RunDatabase {
                url,
                created: Some(CreatedDatabase { admin, name }),
            }))
        }
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => format!("cannot run psql: {e}"),
            };
            if std::env::var_os("CI").is_some() {
                Err(format!("CI needs PostgreSQL at {admin}: {why}"))
            } else {
                eprintln!("warning: no PostgreSQL at {admin} ({why}); the PostgreSQL half of the tests is skipped");
                Ok(None)
            }
        }
    }
}

/// The PostgreSQL database a run uses: its URL, and the database this run
/// created (none when the caller named one with `TONGBAN_TEST_DATABASE_URL`).
struct RunDatabase {
    url: String,
    #[expect(dead_code, reason = "held only so that the database is dropped when the run ends")]
    created: Option<CreatedDatabase>,
}

/// A database this run created, dropped with this value.
struct CreatedDatabase {
    admin: String,
    name: String,
}

impl Drop for CreatedDatabase {
    fn drop(&mut self) {
        let dropped = Command::new("psql")
            .args([
                self.admin.as_str(),
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
        match dropped {
            Ok(out) if out.status.success() => eprintln!("dropped the run's database {}", self.name),
            Ok(out) => eprintln!(
                "warning: the run's database {} was not dropped: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("warning: the run's database {} was not dropped: {e}", self.name),
        }
    }
}

/// A Python package a test needs, installed from PyPI with the machine's
/// `python3 -m pip` when `present` (arguments to `python3`) fails. Under CI a
/// failed install fails the run; elsewhere the tests that need it skip with
/// `skipped`'s warning.
struct PipPackage {
    name: &'static str,
    present: &'static [&'static str],
    requirement: &'static str,
    skipped: &'static str,
    needed_for: &'static str,
}

fn ensure_pip_package(package: &PipPackage) -> Result<(), String> {
    let present = Command::new("python3").args(package.present).output();
    if present.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("{} is installed", package.name);
        return Ok(());
    }
    let mut install = Command::new("python3");
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        package.requirement,
    ]);
    match run(install) {
        Ok(()) => Ok(()),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "warning: cannot install {} ({e}); {}. Install it with `python3 -m pip install '{}'` (in a virtualenv where the system Python refuses)",
                package.name, package.skipped, package.requirement
            );
            Ok(())
        }
        Err(e) => Err(format!("CI needs {} {}: {e}", package.name, package.needed_for)),
    }
}

/// moto's S3-compatible server: the blob-store and end-to-end tests start it
/// on a loopback port to exercise the S3 blob backend with the real client.
fn ensure_s3_sandbox() -> Result<(), String> {
    ensure_pip_package(&PipPackage {
        name: "moto",
        present: &["-c", "import moto.server"],
        requirement: "moto[s3,server]>=5,<6",
        skipped: "the S3 blob tests will be skipped",
        needed_for: "for the S3 blob tests",
    })
}

/// `openapi-spec-validator`, the independent tool that
/// `host/server/tests/openapi.rs` checks the OpenAPI document with.
fn ensure_openapi_validator() -> Result<(), String> {
    ensure_pip_package(&PipPackage {
        name: "openapi-spec-validator",
        present: &["-m", "openapi_spec_validator", "--help"],
        requirement: "openapi-spec-validator>=0.7,<0.10",
        skipped: "the OpenAPI document will not be validated",
        needed_for: "to check the OpenAPI document",
    })
}

/// Where Debian's packages put the browser and its WebDriver; the browser
/// test (`host/server/tests/browser.rs`) looks for them there.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The CJK font the pages are measured in: without it Chromium falls back to
/// narrower glyphs, and the touch-target and overflow checks measure a page
/// no citizen sees.
const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";

/// Install Debian's `chromium` and `chromium-driver` (and a CJK font, so the
/// screenshots show the Chinese pages as people see them) when the browser or
/// its driver or the font is missing. Under CI a failed install fails the run; elsewhere
/// the browser test skips with a warning, like PostgreSQL's half.
fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() && Path::new(CJK_FONT).exists() {
        eprintln!("chromium, chromedriver and the CJK font are installed");
        return Ok(());
    }
    let installed = apt_get(&["update"]).and_then(|()| {
        apt_get(&[
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
            "fonts-wqy-zenhei",
        ])
    });
    let missing =
        || !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() || !Path::new(CJK_FONT).exists();
    match installed {
        Ok(()) if !missing() => Ok(()),
        outcome => {
            let why = match outcome {
                Err(e) => e,
                Ok(()) => format!("apt-get succeeded but {CHROMIUM}, {CHROMEDRIVER} or {CJK_FONT} is still missing"),
            };
            if std::env::var_os("CI").is_some() {
                Err(format!(
                    "CI needs Debian's chromium and chromium-driver for the browser test: {why}"
                ))
            } else {
                eprintln!(
                    "warning: cannot install chromium ({why}); the browser test will be skipped. Install it with `apt-get install chromium chromium-driver`"
                );
                Ok(())
            }
        }
    }
}

/// The npm package of the browser test, whose lock pins axe-core.
const BROWSER_PACKAGE: &str = "host/server/tests/browser";
/// What the browser test loads into every page it audits.
const AXE: &str = "node_modules/axe-core/axe.min.js";

/// Install axe-core with `npm ci` (exactly what `package-lock.json` pins)
/// when it is missing or the lock is newer than the last install (the
/// `node_modules/.package-lock.json` that npm writes). Under CI a failed
/// install fails the run; elsewhere the browser test's accessibility audit
/// skips with a warning.
fn ensure_axe(root: &Path) -> Result<(), String> {
    let package = root.join(BROWSER_PACKAGE);
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let current = match (
        modified(package.join("package-lock.json")),
        modified(package.join("node_modules/.package-lock.json")),
    ) {
        (Some(lock), Some(installed)) => installed >= lock,
        _ => false,
    };
    if current && package.join(AXE).exists() {
        eprintln!("axe-core is installed");
        return Ok(());
    }
    let mut install = Command::new("npm");
    install.current_dir(&package).args(["ci", "--no-audit", "--no-fund"]);
    let installed = run(install).and_then(|()| {
        if package.join(AXE).exists() {
            Ok(())
        } else {
            Err(format!(
                "npm ci succeeded but {} is still missing",
                package.join(AXE).display()
            ))
        }
    });
    match installed {
        Ok(()) => Ok(()),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "warning: cannot install axe-core ({e}); the browser test will not audit accessibility. Install it with `npm ci` in {BROWSER_PACKAGE}"
            );
            Ok(())
        }
        Err(e) => Err(format!(
            "CI needs axe-core for the browser test's accessibility audit: {e}"
        )),
    }
}

/// `apt-get ARGS` without questions, through `sudo` unless we are root.
fn apt_get(args: &[&str]) -> Result<(), String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut command = if root {
        let mut direct = Command::new("apt-get");
        direct.env("DEBIAN_FRONTEND", "noninteractive");
        direct
    } else {
        // sudo resets the environment; it passes a VAR=value given before the command.
        let mut elevated = Command::new("sudo");
        elevated.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        elevated
    };
    command.args(args);
    run(command)
}

/// Add the wasm target through rustup when the pinned toolchain lacks it.
/// rustup installs a toolchain's listed targets only when it installs the
/// toolchain itself, so a machine that already had 1.95.0 needs this.
fn ensure_wasm_target() -> Result<(), String> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    if Path::new(&sysroot).join("lib/rustlib/wasm32-wasip2").exists() {
        eprintln!("wasm32-wasip2 is installed");
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", "wasm32-wasip2"]);
    run(add)
}
