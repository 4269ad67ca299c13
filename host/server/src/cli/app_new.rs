//! `tongban app new NAME`: a working app skeleton from the SDK template. The
//! skeleton validates, submits, has test-kit unit tests, and passes
//! `tongban app check` once built.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use tongban_registry::check::is_reverse_dns;

use crate::error::CliError;

const CARGO_TOML: &str = include_str!("../../../../sdk/template/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("../../../../sdk/template/tongban.toml.tmpl");
const FORM: &str = include_str!("../../../../sdk/template/forms/apply.json");
const LIB_RS: &str = include_str!("../../../../sdk/template/src/lib.rs.tmpl");

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The app's name: lower-case letters, digits and hyphens, e.g. `birth-registration`.
    name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The app id, in reverse-DNS form inside your org's namespace.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Your org's unified social credit code.
    #[arg(long, value_name = "CODE", default_value = "113301000024891238")]
    publisher: String,
    /// The implementation code (实施编码) of the service item.
    #[arg(long, value_name = "CODE", default_value = "330100-XK-00000-001")]
    item: String,
    /// Path of the tongban-sdk crate (default: the SDK this binary was built with).
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

pub fn run(args: NewArgs) -> Result<ExitCode, CliError> {
    let name = args.name.trim();
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(CliError::usage(format!(
            "app name `{name}` must start with a lower-case letter and use only a-z, 0-9 and -"
        )));
    }
    let id = args.id.unwrap_or_else(|| format!("cn.gov.example.{name}"));
    if !is_reverse_dns(&id) {
        return Err(CliError::usage(format!(
            "app id `{id}` is not in reverse-DNS form, e.g. cn.gov.hz.amr.{name}"
        )));
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(CliError::usage(format!(
            "{} already exists and is not empty",
            dir.display()
        )));
    }
    let sdk_path = match args.sdk_path {
        Some(p) => p,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk"),
    };
    let sdk_path = std::fs::canonicalize(&sdk_path).map_err(|e| CliError::io(&sdk_path, e))?;
    let type_name: String = name
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let type_name = if type_name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("App{type_name}")
    } else {
        type_name
    };
    let fill = |text: &str| {
        text.replace("{{crate}}", name)
            .replace("{{type}}", &type_name)
            .replace("{{id}}", &id)
            .replace("{{name}}", name)
            .replace("{{publisher}}", &args.publisher)
            .replace("{{item}}", &args.item)
            .replace("{{sdk_path}}", &sdk_path.display().to_string())
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("tongban.toml", fill(MANIFEST)),
        ("forms/apply.json", FORM.to_owned()),
        ("src/lib.rs", fill(LIB_RS)),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (relative, content) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent, e))?;
        }
        std::fs::write(&path, content).map_err(|e| CliError::io(&path, e))?;
    }
    println!("已创建应用 / created app `{id}` in {}", dir.display());
    println!("  单元测试 / unit tests:   (cd {} && cargo test)", dir.display());
    println!("  构建 / build:            tongban app build {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
