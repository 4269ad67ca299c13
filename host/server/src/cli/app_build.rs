//! `tongban app build [DIR]`: compile the app for `wasm32-wasip2` and write its
//! package (component + tongban.toml + forms and templates), with progress.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tongban_registry::Package;
use tongban_registry::manifest::{MANIFEST_FILE, Manifest};
use tongban_registry::package::PACKAGE_EXTENSION;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The app directory, holding Cargo.toml and tongban.toml.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where to write the package (default: next to the component, named ID-VERSION.tbpkg).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: BuildArgs) -> Result<ExitCode, CliError> {
    let built = build(&args.dir, args.out)?;
    let package = &built.package;
    println!(
        "已构建 / built {} {}",
        built.manifest.app.id, built.manifest.app.version
    );
    println!("  package    {}", built.path.display());
    println!(
        "  component  {} bytes, sha256 {}",
        package.component.len(),
        package.component_digest()
    );
    println!(
        "  files      {}",
        package.files.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    println!("next / 下一步: tongban app check {}", built.path.display());
    Ok(ExitCode::SUCCESS)
}

/// A package built from an app directory.
pub struct Built {
    pub manifest: Manifest,
    pub package: Package,
    pub path: PathBuf,
}

/// Compile an app directory and write its package, showing progress on stderr.
pub fn build(dir: &Path, out: Option<PathBuf>) -> Result<Built, CliError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|e| CliError::io(&manifest_path, e))?;
    let manifest =
        Manifest::parse(&manifest_text).map_err(|e| CliError::usage(format!("{}: {e}", manifest_path.display())))?;

    let progress = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} [{prefix}] {msg} ({elapsed})").expect("a valid template"));
    progress.enable_steady_tick(Duration::from_millis(120));
    progress.set_prefix("1/2 编译 compile");
    let wasm = compile(dir, &progress)?;

    progress.set_prefix("2/2 打包 package");
    progress.set_message(wasm.display().to_string());
    let component = std::fs::read(&wasm).map_err(|e| CliError::io(&wasm, e))?;
    let package = Package::from_app_dir(dir, component)?;
    let path = out.unwrap_or_else(|| {
        wasm.with_file_name(format!(
            "{}-{}.{PACKAGE_EXTENSION}",
            manifest.app.id, manifest.app.version
        ))
    });
    package.write(&path)?;
    progress.finish_and_clear();
    Ok(Built {
        manifest,
        package,
        path,
    })
}

/// Run cargo for `wasm32-wasip2` and return the built component's path.
fn compile(dir: &Path, progress: &ProgressBar) -> Result<PathBuf, CliError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::Build(format!("cannot run cargo: {e}")))?;

    let stderr = child.stderr.take().expect("piped");
    let echo = progress.clone();
    let stderr_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Cargo's own status lines only feed the spinner; diagnostics are shown.
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling") || trimmed.starts_with("Finished") || trimmed.starts_with("Blocking") {
                echo.set_message(trimmed.to_owned());
            } else {
                echo.suspend(|| eprintln!("{line}"));
            }
        }
    });

    let mut component = None;
    let mut compiled = 0usize;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        compiled += 1;
        let package = message["target"]["name"].as_str().unwrap_or("?");
        progress.set_message(format!("{compiled} crates, last {package}"));
        let is_cdylib = message["target"]["crate_types"]
            .as_array()
            .is_some_and(|t| t.iter().any(|k| k == "cdylib"));
        if is_cdylib && let Some(files) = message["filenames"].as_array() {
            component = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(component);
        }
    }
    let status = child
        .wait()
        .map_err(|e| CliError::Build(format!("waiting for cargo: {e}")))?;
    let _ = stderr_thread.join();
    if !status.success() {
        progress.finish_and_clear();
        return Err(CliError::Build(format!(
            "cargo build failed in {} ({status})",
            dir.display()
        )));
    }
    component.ok_or_else(|| {
        CliError::Build(format!(
            "cargo built no component in {}: the crate needs `crate-type = [\"cdylib\"]` under [lib]",
            dir.display()
        ))
    })
}
