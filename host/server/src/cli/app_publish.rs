//! `tongban app publish PACKAGE --server URL`: upload a signed package. The
//! server re-runs every check and verifies the signature; the answer is the
//! capability diff the reviewer will see. `--key` signs on the way (the
//! package file itself is left as it is).

use std::io::Cursor;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tongban_registry::Package;
use tongban_registry::market::publish::PublishReceipt;

use super::key::read_key_file;
use super::remote::{ApiClient, RemoteArgs, print_json};
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The package file (`.tbpkg`).
    package: PathBuf,
    /// Sign with this key file before uploading.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Print the receipt as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub fn run(args: PublishArgs) -> Result<ExitCode, CliError> {
    let api = ApiClient::new(&args.remote)?;
    let mut package = Package::read(&args.package)?;
    if let Some(key_file) = &args.key {
        package.sign(&read_key_file(key_file)?);
    } else if package.signature.is_none() {
        return Err(CliError::usage(format!(
            "{} is not signed: pass --key FILE, or run `tongban app sign {} --key FILE` first",
            args.package.display(),
            args.package.display()
        )));
    }
    let bytes = package.to_bytes();
    let length = bytes.len() as u64;
    let progress = ProgressBar::new(length).with_style(
        ProgressStyle::with_template("上传 / uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
            .expect("the template is valid"),
    );
    let mut reader = progress.wrap_read(Cursor::new(bytes));
    let receipt: Result<PublishReceipt, CliError> = api.post_stream("/apps", &mut reader, length);
    progress.finish_and_clear();
    let receipt = receipt?;
    if args.json {
        print_json(&receipt)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "已提交 / published {}@{} ({} bytes), now {}",
        receipt.app, receipt.version, length, receipt.state
    );
    println!("  package digest {}", receipt.package_digest);
    if receipt.diff.is_empty() {
        println!("  no capability change against the last approved version");
    } else {
        println!("  capability diff the reviewer will see:");
        for change in &receipt.diff {
            println!("    {}", super::review::describe_change(change));
        }
    }
    Ok(ExitCode::SUCCESS)
}
