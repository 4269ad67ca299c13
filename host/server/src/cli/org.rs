//! `tongban org`: orgs and their namespaces, through the API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use tongban_registry::market::orgs::Org;

use super::remote::{ApiClient, RemoteArgs, print_json, seg};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an org (platform admin).
    Create(CreateArgs),
    /// List every org.
    List(ListArgs),
    /// Give an org a reverse-DNS namespace for its app ids (platform admin).
    AddNamespace(AddNamespaceArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Unified social credit code (GB 32100), 18 characters.
    #[arg(long)]
    code: String,
    #[arg(long)]
    name: String,
    /// 6-digit GB/T 2260 region code.
    #[arg(long)]
    region: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct AddNamespaceArgs {
    /// The org's unified social credit code.
    org: String,
    /// A reverse-DNS prefix, e.g. `cn.gov.hz.amr`.
    prefix: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub fn run(command: OrgCommand) -> Result<ExitCode, CliError> {
    match command {
        OrgCommand::Create(args) => {
            let api = ApiClient::new(&args.remote)?;
            let org: Org = api.post_json(
                "/orgs",
                &json!({"code": args.code, "name": args.name, "region": args.region}),
            )?;
            println!(
                "已登记 / registered org {} {} (region {})",
                org.code, org.name, org.region
            );
        }
        OrgCommand::List(args) => {
            let orgs: Vec<Org> = ApiClient::new(&args.remote)?.get("/orgs", &[])?;
            if args.json {
                print_json(&orgs)?;
            } else {
                for org in orgs {
                    println!(
                        "{}  {}  {}  {}",
                        org.code,
                        org.region,
                        org.name,
                        org.namespaces.join(",")
                    );
                }
            }
        }
        OrgCommand::AddNamespace(args) => {
            let api = ApiClient::new(&args.remote)?;
            let org: Org = api.post_json(
                &format!("/orgs/{}/namespaces", seg(&args.org)),
                &json!({"prefix": args.prefix}),
            )?;
            println!(
                "已添加命名空间 / namespace added: {} now owns {}",
                org.code,
                org.namespaces.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
