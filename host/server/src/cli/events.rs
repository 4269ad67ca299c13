//! `tongban events`: the case outbox's parked events, through the API
//! (platform admins). `parked` lists them with their last error; `requeue`
//! puts one back with its attempts reset.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use super::remote::{ApiClient, RemoteArgs, print_json, seg, show_time};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List the parked case events, oldest first.
    Parked(ParkedArgs),
    /// Put a parked event back in the outbox.
    Requeue(RequeueArgs),
}

#[derive(Debug, Args)]
pub struct ParkedArgs {
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct RequeueArgs {
    /// The case.
    case: String,
    /// The event's sequence number within the case.
    seq: i64,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Deserialize, Serialize)]
struct Parked {
    events: Vec<ParkedEvent>,
}

#[derive(Debug, Deserialize, Serialize)]
struct ParkedEvent {
    case: String,
    seq: i64,
    kind: String,
    app: String,
    app_version: String,
    attempts: i32,
    at: i64,
    last_error: Option<String>,
}

pub fn run(command: EventsCommand) -> Result<ExitCode, CliError> {
    match command {
        EventsCommand::Parked(args) => {
            let client = ApiClient::new(&args.remote)?;
            let limit = args.limit.to_string();
            let answer: Parked = client.get("/case-events/parked", &[("limit", limit.as_str())])?;
            if args.json {
                print_json(&answer)?;
                return Ok(ExitCode::SUCCESS);
            }
            if answer.events.is_empty() {
                println!("没有搁置的事件 / no parked events");
            }
            for e in &answer.events {
                println!(
                    "{case} #{seq} {kind} {app}@{version} {at} after {attempts} attempts: {error}",
                    case = e.case,
                    seq = e.seq,
                    kind = e.kind,
                    app = e.app,
                    version = e.app_version,
                    at = show_time(e.at),
                    attempts = e.attempts,
                    // The error text comes from an app: no control
                    // characters reach the operator's terminal.
                    error = e
                        .last_error
                        .as_deref()
                        .unwrap_or("-")
                        .chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .collect::<String>(),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Requeue(args) => {
            let client = ApiClient::new(&args.remote)?;
            let _: serde_json::Value = client.post_json(
                &format!("/case-events/{}/{}/requeue", seg(&args.case), args.seq),
                &serde_json::json!({}),
            )?;
            println!("{} #{} 已重新排队 / is back in the outbox", args.case, args.seq);
            Ok(ExitCode::SUCCESS)
        }
    }
}
