//! `tongban app sign PACKAGE --key FILE`: sign a package in place with a
//! publisher key, over its canonical digest.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tongban_registry::Package;

use super::key::read_key_file;
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The package file (`.tbpkg`).
    package: PathBuf,
    /// The key file from `tongban key generate`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

pub fn run(args: SignArgs) -> Result<ExitCode, CliError> {
    let key = read_key_file(&args.key)?;
    let mut package = Package::read(&args.package)?;
    package.sign(&key);
    package.write(&args.package)?;
    println!(
        "已签名 / signed {} with key {} (digest {})",
        args.package.display(),
        key.key_id(),
        package.digest()
    );
    Ok(ExitCode::SUCCESS)
}
