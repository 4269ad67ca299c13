//! How the server compiles components: in a child process of this binary
//! under the platform's limits (`tongban_runtime::compile`), both when a
//! version is published and when a node loads a version it has no artifact
//! for. `tongban compile-component` is that child.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use tongban_registry::Package;
use tongban_registry::market::package_work::ComponentCompiler;
use tongban_runtime::Runtime;
use tongban_runtime::compile::{ChildArgs, Compiler, run_child};

use crate::error::CliError;

/// The compiler the server and the CLI use.
pub fn serving_compiler() -> Result<Compiler, CliError> {
    Compiler::this_binary().map_err(|e| CliError::Platform(format!("cannot find this program to compile with: {e}")))
}

/// Publishing compiles through the serving runtime: the same checks, the
/// same child process, the artifact kept in this node's cache, so the
/// version's first rollout here only loads it.
pub struct PublishCompiler(pub Arc<Runtime>);

impl ComponentCompiler for PublishCompiler {
    fn compile(&self, package: &Package) -> Result<(), String> {
        self.0.load(package).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// `tongban compile-component`: the compiler child. Not for people.
#[derive(Debug, Args)]
pub struct CompileComponentArgs {
    /// Compile with fuel metering, as the serving engine does.
    #[arg(long, action = clap::ArgAction::Set)]
    fuel: bool,
    /// The CPU time this process may use, in seconds.
    #[arg(long)]
    cpu_seconds: u64,
    /// The address space this process may use, in bytes.
    #[arg(long)]
    address_space_bytes: u64,
    /// The component to compile.
    input: PathBuf,
    /// Where the compiled artifact goes.
    output: PathBuf,
}

pub fn run_compile_child(args: CompileComponentArgs) -> Result<ExitCode, CliError> {
    let child = ChildArgs {
        input: args.input,
        output: args.output,
        fuel: args.fuel,
        cpu_seconds: args.cpu_seconds,
        address_space_bytes: args.address_space_bytes,
    };
    match run_child(&child) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) => {
            eprintln!("{message}");
            Ok(ExitCode::FAILURE)
        }
    }
}
