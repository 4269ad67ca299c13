//! `tongban audit verify`: walk the hash-chained audit log in the store and
//! name the first broken entry. It reads the database directly, so an auditor
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
        let db = Database::open_configured(args.store.database_url.as_deref(), &args.store.data_dir)
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
                    "审计链完好 / audit chain intact: {count} entries verified, {records} provenance records match"
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(broken) => {
                println!("溯源记录被篡改 / provenance broken: {broken}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}
