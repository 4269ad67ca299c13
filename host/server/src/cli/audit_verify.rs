//! `tongban audit verify`: walk the sealed, hash-chained audit log in the
//! store, check each batch head's signature, name the first broken entry, and
//! say how many entries still wait for the sealer. It reads the database directly, so an auditor
//! can run it against a copy without a running server. Exits 1 when the chain
//! is broken.

use std::process::ExitCode;

use clap::Args;
use tongban_registry::market::audit_log;
use tongban_store::Database;

use super::StoreArgs;
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        // Reading a whole log is one long statement; an auditor's run may
        // take minutes where a request's may take seconds.
        let bounds = tongban_store::WaitBounds {
            acquire: std::time::Duration::from_secs(60),
            statement: std::time::Duration::from_secs(3600),
        };
        let db = Database::open_configured_bounded(args.store.database_url.as_deref(), &args.store.data_dir, bounds)
            .await
            .map_err(|e| CliError::Platform(format!("cannot open the database: {e}")))?;
        let count = match audit_log::verify(&db)
            .await
            .map_err(|e| CliError::Platform(e.to_string()))?
        {
            Ok(count) => count,
            Err(broken) => {
                println!("审计链被篡改 / audit chain broken: {broken}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let services = tongban_services::Services::new(db);
        match services
            .verify_provenance()
            .await
            .map_err(|e| CliError::Platform(e.to_string()))?
        {
            Ok(records) => {
                println!(
                    "审计链完好 / audit chain intact: {} entries sealed in {} signed batches and verified, {records} provenance records match",
                    count.sealed, count.batches
                );
                if count.pending > 0 {
                    let waited = count
                        .oldest_pending_at
                        .map(|at| format!(", the oldest appended {} ms ago", (tongban_store::now_ms() - at).max(0)))
                        .unwrap_or_default();
                    println!(
                        "待封存 / not yet sealed: {} entries wait for the sealer{waited}; they are not yet protected by the chain",
                        count.pending
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(broken) => {
                println!("溯源记录被篡改 / provenance broken: {broken}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}
