//! `tongban release`: per-region release actions through the API, plus
//! `status` (an app's deployments) and `which` (the version that serves a
//! subject now). Every action takes effect on running servers within a
//! second, without a restart.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Deserialize;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::nodes::DeploymentReadiness;
use tongban_registry::market::serving::Served;

use super::remote::{ApiClient, RemoteArgs, parse_time, print_json, seg, show_time};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Serve an approved version to a named group in a region.
    Pilot(PilotArgs),
    /// Serve to a share of the region's subjects; the share only rises.
    Rollout(RolloutArgs),
    /// Stop a pilot or rollout in a region; the active version serves again.
    Halt(RegionArgs),
    /// After a halt, go back to the previous active version.
    Rollback(RegionArgs),
    /// Mark as deprecated in a region, with a message and a sunset time.
    Deprecate(DeprecateArgs),
    /// No new pilots or rollouts anywhere; what is deployed keeps serving.
    Yank(ReasonArgs),
    /// Kill switch: stop serving this version everywhere, for good.
    Revoke(ReasonArgs),
    /// An app's deployments, each with how many of the live nodes serve
    /// its latest change.
    Status(StatusArgs),
    /// Which version serves a subject in a region right now.
    Which(WhichArgs),
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    app: String,
    version: String,
    /// Why (required): kept with the version for its publisher and auditors.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct RegionArgs {
    app: String,
    version: String,
    /// 6-digit GB/T 2260 region code.
    #[arg(long)]
    region: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct PilotArgs {
    app: String,
    version: String,
    #[arg(long)]
    region: String,
    /// The pilot group's subjects, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    group: Vec<String>,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct RolloutArgs {
    app: String,
    version: String,
    #[arg(long)]
    region: String,
    /// 1 to 100; 100 makes the version the region's active version.
    #[arg(long)]
    percent: u8,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct DeprecateArgs {
    app: String,
    version: String,
    #[arg(long)]
    region: String,
    /// What citizens and staff are told.
    #[arg(long)]
    message: String,
    /// When it stops serving: RFC 3339 or ms since the epoch.
    #[arg(long, value_name = "TIME")]
    sunset: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    app: String,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct WhichArgs {
    app: String,
    #[arg(long)]
    region: String,
    /// The subject (the bucketing key of staged rollouts and pilot groups).
    #[arg(long)]
    subject: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Deserialize)]
struct Outcome {
    summary: String,
}

fn act(app: &str, version: &str, remote: &RemoteArgs, action: ReleaseAction) -> Result<ExitCode, CliError> {
    let outcome: Outcome = ApiClient::new(remote)?.post_json(
        &format!("/apps/{}/versions/{}/release", seg(app), seg(version)),
        &action,
    )?;
    println!("已生效 / done: {}", outcome.summary);
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: ReleaseCommand) -> Result<ExitCode, CliError> {
    match command {
        ReleaseCommand::Pilot(a) => act(
            &a.app,
            &a.version,
            &a.remote,
            ReleaseAction::Pilot {
                region: a.region,
                group: a.group,
            },
        ),
        ReleaseCommand::Rollout(a) => act(
            &a.app,
            &a.version,
            &a.remote,
            ReleaseAction::Rollout {
                region: a.region,
                percentage: a.percent,
            },
        ),
        ReleaseCommand::Halt(a) => act(&a.app, &a.version, &a.remote, ReleaseAction::Halt { region: a.region }),
        ReleaseCommand::Rollback(a) => act(
            &a.app,
            &a.version,
            &a.remote,
            ReleaseAction::Rollback { region: a.region },
        ),
        ReleaseCommand::Deprecate(a) => {
            let sunset_at = parse_time(&a.sunset)?;
            act(
                &a.app,
                &a.version,
                &a.remote,
                ReleaseAction::Deprecate {
                    region: a.region,
                    message: a.message,
                    sunset_at,
                },
            )
        }
        ReleaseCommand::Yank(a) => act(&a.app, &a.version, &a.remote, ReleaseAction::Yank { reason: a.reason }),
        ReleaseCommand::Revoke(a) => act(
            &a.app,
            &a.version,
            &a.remote,
            ReleaseAction::Revoke { reason: a.reason },
        ),
        ReleaseCommand::Status(a) => {
            let mut query = Vec::new();
            if let Some(region) = &a.region {
                query.push(("region", region.as_str()));
            }
            let deployments: Vec<DeploymentReadiness> =
                ApiClient::new(&a.remote)?.get(&format!("/apps/{}/deployments", seg(&a.app)), &query)?;
            if a.json {
                print_json(&deployments)?;
            } else if deployments.is_empty() {
                println!("{} 未部署 / is not deployed anywhere", a.app);
            } else {
                for DeploymentReadiness {
                    deployment: d,
                    readiness,
                } in deployments
                {
                    let mut line = format!("{}  region {}  {}  {}", d.app, d.region, d.version, d.state);
                    if d.percentage > 0 {
                        line.push_str(&format!("  {}%", d.percentage));
                    }
                    if !d.pilot_group.is_empty() {
                        line.push_str(&format!("  pilot group {}", d.pilot_group.join(",")));
                    }
                    if let (Some(message), Some(sunset)) = (&d.message, d.sunset_at) {
                        line.push_str(&format!("  sunset {}: {message}", show_time(sunset)));
                    }
                    line.push_str(&format!(
                        "  已就绪 {}/{} 个节点 / ready on {} of {} nodes",
                        readiness.ready, readiness.nodes, readiness.ready, readiness.nodes
                    ));
                    println!("{line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Which(a) => {
            let served: Served = ApiClient::new(&a.remote)?.get(
                &format!("/serving/{}/{}", seg(&a.region), seg(&a.app)),
                &[("subject", a.subject.as_str())],
            )?;
            println!("{}  ({})", served.version, served.reason);
            Ok(ExitCode::SUCCESS)
        }
    }
}
