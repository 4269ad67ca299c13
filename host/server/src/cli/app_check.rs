//! `tongban app check PACKAGE`: every automated check the marketplace runs,
//! with all problems listed. Exits 1 when there is any problem.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tongban_registry::{Package, check_package};

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The package file (`.tbpkg`) built by `tongban app build`.
    package: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, CliError> {
    let package = Package::read(&args.package)?;
    let report = check_package(&package);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        println!("检查 / checking {}", args.package.display());
        for check in &report.ran {
            let problems: Vec<_> = report.problems.iter().filter(|p| p.check == *check).collect();
            if problems.is_empty() {
                println!("  ✓ {check}");
            } else {
                for problem in problems {
                    println!("  ✗ {check}: {}", problem.message);
                }
            }
        }
        if report.is_ok() {
            println!("通过 / passed: all {} checks", report.ran.len());
        } else {
            println!("未通过 / failed: {} problem(s)", report.problems.len());
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
