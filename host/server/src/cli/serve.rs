//! `tongban serve`: the platform server. Today it serves the marketplace API
//! and the serving table; the web pages and `--demo` arrive with the server
//! release.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use tongban_registry::market::Marketplace;
use tongban_runtime::{Runtime, RuntimeSettings};
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::notifications::SmtpSettings;
use tongban_services::{Services, ServicesConfig};
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
    /// The working-day calendar (TOML: `holidays`, `working-weekends`) for due
    /// dates; default: the calendar the platform ships with.
    #[arg(long, value_name = "FILE", env = "TONGBAN_HOLIDAYS")]
    holidays: Option<std::path::PathBuf>,
    /// The SMTP server for notification email, `HOST:PORT`; without it,
    /// messages go to the in-app inbox only.
    #[arg(long, value_name = "HOST:PORT", env = "TONGBAN_SMTP")]
    smtp: Option<String>,
    /// The sender address of notification email.
    #[arg(
        long,
        value_name = "ADDRESS",
        env = "TONGBAN_SMTP_FROM",
        default_value = "通办 Tongban <noreply@tongban.localhost>"
    )]
    smtp_from: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        let config = services_config(&args)?;
        let state = open_state_with(&args.store, args.max_upload_mib * 1024 * 1024, config).await?;
        tokio::spawn(state.clone().follow_serving_epoch());
        tokio::spawn(crate::workers::deliver_case_events(state.clone()));
        tokio::spawn(crate::workers::deliver_email(state.clone()));
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

/// The services' configuration from the flags.
fn services_config(args: &ServeArgs) -> Result<ServicesConfig, CliError> {
    let calendar = match &args.holidays {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("cannot read the holiday calendar {}: {e}", path.display())))?;
            WorkCalendar::from_toml(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?
        }
        None => WorkCalendar::default(),
    };
    let smtp = match &args.smtp {
        Some(address) => {
            let (host, port) = address
                .rsplit_once(':')
                .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_owned(), p)))
                .ok_or_else(|| CliError::usage(format!("--smtp `{address}` is not HOST:PORT")))?;
            let settings = SmtpSettings::new(host, port, args.smtp_from.clone());
            settings.check().map_err(|e| CliError::usage(e.to_string()))?;
            Some(settings)
        }
        None => None,
    };
    Ok(ServicesConfig { calendar, smtp })
}

/// Open the store, the blob folder, the marketplace and the runtime.
pub async fn open_state(store: &StoreArgs, max_upload_bytes: usize) -> Result<AppState, CliError> {
    open_state_with(store, max_upload_bytes, ServicesConfig::default()).await
}

/// [`open_state`] with the shared services' configuration.
pub async fn open_state_with(
    store: &StoreArgs,
    max_upload_bytes: usize,
    config: ServicesConfig,
) -> Result<AppState, CliError> {
    let db = Database::open_configured(store.database_url.as_deref(), &store.data_dir)
        .await
        .map_err(|e| CliError::Platform(format!("cannot open the database: {e}")))?;
    let blobs = BlobStore::open_configured(store.blob_url.as_deref(), &store.data_dir.join("blobs"))
        .map_err(|e| CliError::Platform(e.to_string()))?;
    blobs.probe().await.map_err(|e| CliError::Platform(e.to_string()))?;
    let market = Marketplace::open(db.clone(), blobs)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))?;
    let services = Services::with_config(db, config);
    let runtime = Runtime::with_services(RuntimeSettings::in_data_dir(&store.data_dir), services)
        .map_err(|e| CliError::Platform(format!("cannot start the runtime: {e:#}")))?;
    AppState::new(market, runtime, max_upload_bytes)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))
}
