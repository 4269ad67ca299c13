//! `tongban admin`: local bootstrap commands that open the store directly (for
//! the operator of the machine, before any API token exists): create users
//! and issue their API tokens, seed the demo citizens, and find and remove
//! package blobs no version refers to.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use tongban_registry::market::{Actor, accounts};
use tongban_registry::release::Role;
use tongban_store::Database;

use super::StoreArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user and print an API token for it.
    CreateUser(CreateUserArgs),
    /// Issue another API token for an existing user.
    IssueToken(IssueTokenArgs),
    /// Seed the demo citizens with their resident ID card and household
    /// register certificates (idempotent).
    DemoCitizens(DemoCitizensArgs),
    /// List the package blobs no version refers to (left by refused uploads);
    /// with --remove, remove them, each removal on the audit chain.
    OrphanBlobs(OrphanBlobsArgs),
}

#[derive(Debug, Args)]
pub struct OrphanBlobsArgs {
    /// Remove the orphans instead of only listing them.
    #[arg(long)]
    remove: bool,
    /// Blobs written more recently than this are never orphans (a publish
    /// may be in flight), e.g. `1h`, `10m`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    older_than: std::time::Duration,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct DemoCitizensArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Publisher,
    Reviewer,
    RegionAdmin,
    SecurityOfficer,
    PlatformAdmin,
    Citizen,
    WindowClerk,
    Handler,
    Auditor,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The user id (a-z, 0-9, '-', '_', '.').
    #[arg(long)]
    id: String,
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The display name (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// The user's org (unified social credit code).
    #[arg(long)]
    org: Option<String>,
    /// The region a region admin administers.
    #[arg(long)]
    region: Option<String>,
    /// The platform subject a citizen account is for (see `admin demo-citizens`).
    #[arg(long)]
    subject: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct IssueTokenArgs {
    #[arg(long)]
    id: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(command: AdminCommand) -> Result<ExitCode, CliError> {
    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        match command {
            AdminCommand::CreateUser(args) => {
                let db = open(&args.store).await?;
                let user = accounts::User {
                    display_name: args.name.clone().unwrap_or_else(|| args.id.clone()),
                    id: args.id,
                    role: match args.role {
                        RoleArg::Publisher => Role::Publisher,
                        RoleArg::Reviewer => Role::Reviewer,
                        RoleArg::RegionAdmin => Role::RegionAdmin,
                        RoleArg::SecurityOfficer => Role::SecurityOfficer,
                        RoleArg::PlatformAdmin => Role::PlatformAdmin,
                        RoleArg::Citizen => Role::Citizen,
                        RoleArg::WindowClerk => Role::WindowClerk,
                        RoleArg::Handler => Role::Handler,
                        RoleArg::Auditor => Role::Auditor,
                    },
                    org: args.org,
                    region: args.region,
                    subject: args.subject,
                };
                accounts::create_user(&db, &Actor::system(), &user)
                    .await
                    .map_err(|e| CliError::usage(e.to_string()))?;
                let token = accounts::issue_token(&db, &Actor::system(), &user.id, "admin create-user")
                    .await
                    .map_err(|e| CliError::usage(e.to_string()))?;
                println!("{token}");
                eprintln!(
                    "已创建用户 / created user {} ({}); the line above is its API token, shown once",
                    user.id, user.role
                );
            }
            AdminCommand::DemoCitizens(args) => {
                let db = open(&args.store).await?;
                let services = tongban_services::Services::new(db);
                let seeded = services
                    .seed_demo_citizens()
                    .await
                    .map_err(|e| CliError::Platform(e.to_string()))?;
                for c in tongban_services::demo::CITIZENS {
                    println!("{}\t{}\t{}", c.subject, c.name, c.id_number);
                }
                eprintln!(
                    "演示居民 / demo citizens: {} people, {} new certificates",
                    seeded.subjects, seeded.certificates
                );
            }
            AdminCommand::OrphanBlobs(args) => {
                let market = open_market(&args.store).await?;
                let orphans = if args.remove {
                    market.remove_orphan_blobs(&Actor::system(), args.older_than).await
                } else {
                    market.orphan_blobs(args.older_than).await
                }
                .map_err(|e| CliError::Platform(e.to_string()))?;
                for orphan in &orphans {
                    println!("{}\t{} bytes", orphan.digest, orphan.size);
                }
                let bytes: u64 = orphans.iter().map(|o| o.size).sum();
                eprintln!(
                    "{} {} orphan blob(s), {bytes} bytes",
                    if args.remove {
                        "已删除 / removed"
                    } else {
                        "孤立 / found"
                    },
                    orphans.len()
                );
            }
            AdminCommand::IssueToken(args) => {
                let db = open(&args.store).await?;
                let token = accounts::issue_token(&db, &Actor::system(), &args.id, "admin issue-token")
                    .await
                    .map_err(|e| CliError::usage(e.to_string()))?;
                println!("{token}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn open_market(store: &StoreArgs) -> Result<tongban_registry::market::Marketplace, CliError> {
    let db = open(store).await?;
    let blobs = tongban_store::BlobStore::open_configured(store.blob_url.as_deref(), &store.data_dir.join("blobs"))
        .map_err(|e| CliError::Platform(e.to_string()))?;
    tongban_registry::market::Marketplace::open(db, blobs)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))
}

async fn open(store: &StoreArgs) -> Result<Database, CliError> {
    Database::open_configured(store.database_url.as_deref(), &store.data_dir)
        .await
        .map_err(|e| CliError::Platform(format!("cannot open the database: {e}")))
}
