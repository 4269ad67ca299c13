//! `tongban key`: publisher signing keys. `generate` works locally and writes
//! the secret key file; the other commands manage the org's registered public
//! keys through the API (the secret never leaves the publisher's machine).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::json;
use tongban_registry::market::keys::PublisherKey;
use tongban_registry::signing::SigningKey;

use super::remote::{ApiClient, RemoteArgs, parse_time, print_json, seg, show_time};
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new Ed25519 signing key file (kept secret, mode 0600).
    Generate(GenerateArgs),
    /// Register a key's public half to an org.
    Register(RegisterArgs),
    /// List an org's keys.
    List(ListArgs),
    /// Replace a key with a new one; the old key stops signing new releases.
    Rotate(RotateArgs),
    /// Revoke a key; releases it signed after the compromise time go back to review.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write the key file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The org's unified social credit code.
    #[arg(long)]
    org: String,
    /// The key file from `tongban key generate` (only the public key is sent).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    org: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[arg(long)]
    org: String,
    /// The key being replaced.
    #[arg(long)]
    key_id: String,
    /// The new key file.
    #[arg(long, value_name = "FILE")]
    new_key: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[arg(long)]
    org: String,
    #[arg(long)]
    key_id: String,
    /// Since when the key is untrusted: `now`, RFC 3339, or ms since the epoch.
    #[arg(long, value_name = "TIME")]
    compromised_at: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Deserialize)]
struct KeyId {
    key_id: String,
}

#[derive(Deserialize)]
struct Quarantined {
    quarantined: Vec<String>,
}

/// Read a key file written by `tongban key generate`.
pub fn read_key_file(path: &Path) -> Result<SigningKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    SigningKey::from_file_text(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

pub fn run(command: KeyCommand) -> Result<ExitCode, CliError> {
    match command {
        KeyCommand::Generate(args) => {
            let key = SigningKey::generate();
            write_secret(&args.out, key.to_file_text().as_bytes())?;
            println!("{}", key.key_id());
            eprintln!(
                "已生成密钥 / key generated: {} (key id {}, public key {})\n  keep this file secret; register it with `tongban key register --org CODE --key {}`",
                args.out.display(),
                key.key_id(),
                key.public_key_hex(),
                args.out.display()
            );
        }
        KeyCommand::Register(args) => {
            let key = read_key_file(&args.key)?;
            let answer: KeyId = ApiClient::new(&args.remote)?.post_json(
                &format!("/orgs/{}/keys", seg(&args.org)),
                &json!({"public_key": key.public_key_hex()}),
            )?;
            println!("已登记密钥 / key registered: {} for org {}", answer.key_id, args.org);
        }
        KeyCommand::List(args) => {
            let keys: Vec<PublisherKey> =
                ApiClient::new(&args.remote)?.get(&format!("/orgs/{}/keys", seg(&args.org)), &[])?;
            if args.json {
                print_json(&keys)?;
            } else {
                for key in keys {
                    let compromised = key
                        .compromised_at
                        .map(|t| format!("  compromised since {}", show_time(t)))
                        .unwrap_or_default();
                    println!(
                        "{}  {}  created {}{}",
                        key.key_id,
                        key.state,
                        show_time(key.created_at),
                        compromised
                    );
                }
            }
        }
        KeyCommand::Rotate(args) => {
            let key = read_key_file(&args.new_key)?;
            let answer: KeyId = ApiClient::new(&args.remote)?.post_json(
                &format!("/orgs/{}/keys/{}/rotate", seg(&args.org), seg(&args.key_id)),
                &json!({"public_key": key.public_key_hex()}),
            )?;
            println!("已轮换 / rotated: {} replaces {}", answer.key_id, args.key_id);
        }
        KeyCommand::Revoke(args) => {
            let compromised_at = parse_time(&args.compromised_at)?;
            let answer: Quarantined = ApiClient::new(&args.remote)?.post_json(
                &format!("/orgs/{}/keys/{}/revoke", seg(&args.org), seg(&args.key_id)),
                &json!({"compromised_at": compromised_at}),
            )?;
            println!("已吊销 / revoked key {}", args.key_id);
            if answer.quarantined.is_empty() {
                println!("  no release was signed after {}", show_time(compromised_at));
            }
            for release in answer.quarantined {
                println!("  back to review: {release}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Create a file only the owner can read; never overwrite an existing key.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!(
                "{} already exists; a key file is never overwritten",
                path.display()
            ))
        } else {
            CliError::io(path, e)
        }
    })?;
    file.write_all(bytes).map_err(|e| CliError::io(path, e))
}
