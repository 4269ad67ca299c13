//! `tongban serve`: the platform server. Today it serves the marketplace API
//! and the serving table; the web pages and `--demo` arrive with the server
//! release.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use tongban_registry::market::Marketplace;
use tongban_runtime::{Runtime, RuntimeSettings};
use tongban_store::{BlobStore, Database};

use super::StoreArgs;
use crate::api::{self, AppState};
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", env = "TONGBAN_LISTEN")]
    listen: SocketAddr,
    /// The largest package upload, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    max_upload_mib: usize,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        let state = open_state(&args.store, args.max_upload_mib * 1024 * 1024).await?;
        tokio::spawn(state.clone().follow_serving_epoch());
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| CliError::Platform(format!("cannot listen on {}: {e}", args.listen)))?;
        let address = listener.local_addr().map_err(|e| CliError::Platform(e.to_string()))?;
        println!("通办 Tongban 正在运行 / serving on http://{address}");
        println!("  API        http://{address}/api/v1/");
        println!("  OpenAPI    http://{address}/api/v1/openapi.json");
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::Platform(format!("the server failed: {e}")))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Open the store, the blob folder, the marketplace and the runtime.
pub async fn open_state(store: &StoreArgs, max_upload_bytes: usize) -> Result<AppState, CliError> {
    let db = Database::open_configured(store.database_url.as_deref(), &store.data_dir)
        .await
        .map_err(|e| CliError::Platform(format!("cannot open the database: {e}")))?;
    let blobs = BlobStore::open_configured(store.blob_url.as_deref(), &store.data_dir.join("blobs"))
        .map_err(|e| CliError::Platform(e.to_string()))?;
    blobs.probe().await.map_err(|e| CliError::Platform(e.to_string()))?;
    let market = Marketplace::open(db.clone(), blobs)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))?;
    let runtime = Runtime::new(RuntimeSettings::in_data_dir(&store.data_dir), db)
        .map_err(|e| CliError::Platform(format!("cannot start the runtime: {e:#}")))?;
    AppState::new(market, runtime, max_upload_bytes)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))
}
