//! The command line. Every subcommand lives in its own file and has the same
//! shape: parse arguments (clap), do the work, print, return an exit code.

mod admin;
pub(crate) mod app_build;
mod app_check;
mod app_new;
mod app_publish;
mod app_run;
mod app_sign;
mod audit_provenance;
mod audit_verify;
mod cert_verify;
mod events;
mod key;
mod org;
mod release;
pub mod remote;
mod review;
pub mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::CliError;

/// 通办 Tongban: a platform for government service apps.
#[derive(Debug, Parser)]
#[command(name = "tongban", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write, build, check and run service apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Run the platform server.
    Serve(serve::ServeArgs),
    /// Orgs and their namespaces (through the API).
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Publisher signing keys: generate locally, register, rotate, revoke.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// The review queue and decisions (through the API).
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Release per region: pilot, rollout, halt, rollback, deprecate, yank, revoke.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Local bootstrap: users and API tokens, straight in the store.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Check the hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// E-certificates: verify an exported copy offline.
    #[command(subcommand)]
    Cert(CertCommand),
    /// The case outbox: parked events, and putting them back (through the API).
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// The compiler child process the server runs (not for people).
    #[command(name = "compile-component", hide = true)]
    CompileComponent(crate::compiler::CompileComponentArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the chain and name the first broken entry; check every provenance
    /// record against its chain entry.
    Verify(audit_verify::VerifyArgs),
    /// List the personal-data access records of a subject or a case.
    Provenance(audit_provenance::ProvenanceArgs),
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Check an exported copy's SM3 digest and SM2 seal, offline.
    Verify(cert_verify::VerifyArgs),
}

#[derive(Debug, Subcommand)]
enum AppCommand {
    /// Create a working app skeleton from the SDK template.
    New(app_new::NewArgs),
    /// Build an app directory into a package (component + tongban.toml).
    Build(app_build::BuildArgs),
    /// Run every check the marketplace runs, and list all problems.
    Check(app_check::CheckArgs),
    /// Run one hook of a package in the real runtime against a local host.
    Run(app_run::RunArgs),
    /// Sign a package with a publisher key.
    Sign(app_sign::SignArgs),
    /// Upload a signed package to a server, with progress.
    Publish(app_publish::PublishArgs),
}

/// Where the platform keeps its data. Every command that opens the store takes
/// these, the same way.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The data directory: SQLite database, blobs and compiled artifacts.
    #[arg(long, value_name = "DIR", default_value = "./data", env = "TONGBAN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A database URL (`sqlite://PATH` or `postgres://...`) instead of the
    /// SQLite file in the data directory.
    #[arg(long, value_name = "URL", env = "TONGBAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where package blobs live, instead of the `blobs` folder in the data
    /// directory: `file:///DIR` or `s3://BUCKET/PREFIX` (S3-compatible; set
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "URL", env = "TONGBAN_BLOB_URL")]
    pub blob_url: Option<String>,
}

pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::App(AppCommand::New(args)) => app_new::run(args),
        Command::App(AppCommand::Build(args)) => app_build::run(args),
        Command::App(AppCommand::Check(args)) => app_check::run(args),
        Command::App(AppCommand::Run(args)) => app_run::run(args),
        Command::App(AppCommand::Sign(args)) => app_sign::run(args),
        Command::App(AppCommand::Publish(args)) => app_publish::run(args),
        Command::Org(command) => org::run(command),
        Command::Key(command) => key::run(command),
        Command::Review(command) => review::run(command),
        Command::Release(command) => release::run(command),
        Command::Audit(AuditCommand::Verify(args)) => audit_verify::run(args),
        Command::Audit(AuditCommand::Provenance(args)) => audit_provenance::run(args),
        Command::Cert(CertCommand::Verify(args)) => cert_verify::run(args),
        Command::Events(command) => events::run(command),
        Command::CompileComponent(args) => crate::compiler::run_compile_child(args),
        Command::Serve(args) => serve::run(args),
        Command::Admin(command) => admin::run(command),
    }
}

/// The async runtime for commands that need one.
pub fn tokio_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Platform(format!("cannot start the async runtime: {e}")))
}
