//! `tongban review`: the review queue, one submission with its capability
//! diff, and the three decisions, through the API. Every added or raised
//! capability must be acknowledged by id (`--ack`), one flag per change.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::json;
use tongban_registry::diff::{CapabilityChange, ChangeKind};
use tongban_registry::market::review::{QueueEntry, Submission};

use super::remote::{ApiClient, RemoteArgs, print_json, seg, show_time};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Versions waiting for review (never your own org's).
    List(ListArgs),
    /// One submission: its checks, capability diff and signature.
    Show(ShowArgs),
    /// Approve, acknowledging each added capability with --ack.
    Approve(ApproveArgs),
    /// Send back to the publisher with a reason.
    RequestChanges(ReasonArgs),
    /// Reject with a reason.
    Reject(ReasonArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    app: String,
    version: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    app: String,
    version: String,
    /// An acknowledged change id, as `review show` lists it; once per change.
    #[arg(long = "ack", value_name = "CHANGE")]
    acknowledged: Vec<String>,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    app: String,
    version: String,
    /// Why; the publisher sees it.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Deserialize)]
struct Outcome {
    summary: String,
}

/// One diff line for people: `+ identity.attributes/phone (needs --ack)`.
pub fn describe_change(change: &CapabilityChange) -> String {
    let sign = match change.kind {
        ChangeKind::Added => "+",
        ChangeKind::Removed => "-",
        ChangeKind::Raised => "↑",
        ChangeKind::Lowered => "↓",
    };
    let values = match (&change.before, &change.after) {
        (Some(before), Some(after)) => format!(" {before} → {after}"),
        (None, Some(after)) => format!(" {after}"),
        _ => String::new(),
    };
    let ack = if change.needs_acknowledgement() {
        "  [needs --ack]"
    } else {
        ""
    };
    format!("{sign} {}{values}{ack}", change.id)
}

pub fn run(command: ReviewCommand) -> Result<ExitCode, CliError> {
    match command {
        ReviewCommand::List(args) => {
            let queue: Vec<QueueEntry> = ApiClient::new(&args.remote)?.get("/reviews", &[])?;
            if args.json {
                print_json(&queue)?;
            } else if queue.is_empty() {
                println!("审核队列为空 / the review queue is empty");
            } else {
                for entry in queue {
                    println!(
                        "{}@{}  org {}  by {}  at {}",
                        entry.app,
                        entry.version,
                        entry.org,
                        entry.submitted_by,
                        show_time(entry.submitted_at)
                    );
                }
            }
        }
        ReviewCommand::Show(args) => {
            let submission: Submission = ApiClient::new(&args.remote)?
                .get(&format!("/reviews/{}/{}", seg(&args.app), seg(&args.version)), &[])?;
            if args.json {
                print_json(&submission)?;
            } else {
                show_submission(&submission);
            }
        }
        ReviewCommand::Approve(args) => {
            let outcome: Outcome = ApiClient::new(&args.remote)?.post_json(
                &format!("/reviews/{}/{}/decision", seg(&args.app), seg(&args.version)),
                &json!({"decision": "approve", "acknowledged": args.acknowledged}),
            )?;
            println!("已批准 / approved: {}", outcome.summary);
        }
        ReviewCommand::RequestChanges(args) => decide(args, "request-changes", "已退回 / changes requested")?,
        ReviewCommand::Reject(args) => decide(args, "reject", "已驳回 / rejected")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(args: ReasonArgs, decision: &str, label: &str) -> Result<(), CliError> {
    let outcome: Outcome = ApiClient::new(&args.remote)?.post_json(
        &format!("/reviews/{}/{}/decision", seg(&args.app), seg(&args.version)),
        &json!({"decision": decision, "reason": args.reason}),
    )?;
    println!("{label}: {}", outcome.summary);
    Ok(())
}

fn show_submission(s: &Submission) {
    println!("{}@{}  org {}  state {}", s.app, s.version, s.org, s.state);
    println!("  signed by key {}, package digest {}", s.key_id, s.package_digest);
    if s.check_report.problems.is_empty() {
        println!("  checks: all {} passed", s.check_report.ran.len());
    } else {
        for problem in &s.check_report.problems {
            println!("  check problem: {problem}");
        }
    }
    if s.diff.is_empty() {
        println!("  capability diff: none");
    } else {
        println!("  capability diff against the last approved version:");
        for change in &s.diff {
            println!("    {}", describe_change(change));
        }
    }
    if let Some(by) = &s.decided_by {
        println!(
            "  decided by {by}{}",
            s.decision_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    if let Some(countersignature) = &s.countersignature {
        println!("  registry countersignature {countersignature}");
    }
}
