//! `tongban audit provenance`: the personal-data access records of a subject
//! or a case, through the API (auditors, security officers, platform admins).
//! Each line is one access: when, which app and version, the operation and
//! scopes, the purpose, the consent, the case, and the outcome.

use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;

use super::remote::{ApiClient, RemoteArgs, print_json, show_time};
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// The platform subject whose records to list.
    #[arg(long, required_unless_present = "case")]
    subject: Option<String>,
    /// The case whose records to list.
    #[arg(long)]
    case: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Answer {
    records: Vec<Record>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Record {
    audit_seq: i64,
    at: i64,
    app: String,
    app_version: String,
    subject_handle: String,
    operation: String,
    scopes: Vec<String>,
    purpose: String,
    consent: Option<String>,
    case: Option<String>,
    outcome: String,
}

pub fn run(args: ProvenanceArgs) -> Result<ExitCode, CliError> {
    let client = ApiClient::new(&args.remote)?;
    let mut query = Vec::new();
    if let Some(subject) = &args.subject {
        query.push(("subject", subject.as_str()));
    }
    if let Some(case) = &args.case {
        query.push(("case", case.as_str()));
    }
    let answer: Answer = client.get("/provenance", &query)?;
    if args.json {
        print_json(&answer)?;
        return Ok(ExitCode::SUCCESS);
    }
    if answer.records.is_empty() {
        println!("没有记录 / no records");
    }
    for r in &answer.records {
        println!(
            "#{seq} {at} {app}@{version} {operation} [{scopes}] purpose={purpose} consent={consent} case={case} subject={handle} -> {outcome}",
            seq = r.audit_seq,
            at = show_time(r.at),
            app = r.app,
            version = r.app_version,
            operation = r.operation,
            scopes = r.scopes.join(","),
            purpose = r.purpose,
            consent = r.consent.as_deref().unwrap_or("-"),
            case = r.case.as_deref().unwrap_or("-"),
            handle = r.subject_handle,
            outcome = r.outcome,
        );
    }
    Ok(ExitCode::SUCCESS)
}
