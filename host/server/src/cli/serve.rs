//! `tongban serve`: the platform server: the API, the hosted pay page,
//! `/metrics`, the serving table and the background workers. Settings come
//! from flags, then the `--config` file, then the embedded defaults
//! (`crate::config`). Ctrl-C or SIGTERM stops accepting connections and lets
//! in-flight requests finish.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use std::sync::Arc;
use tongban_registry::market::Marketplace;

use tongban_runtime::{Runtime, RuntimeSettings};
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::notifications::SmtpSettings;
use tongban_services::{Services, ServicesConfig};
use tongban_store::{BlobStore, Database};

use super::StoreArgs;
use crate::api;
use crate::config::{ServeConfig, given};
use crate::error::CliError;
use crate::state::AppState;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR", env = "TONGBAN_LISTEN")]
    listen: Option<SocketAddr>,
    /// This node's id, unique among the nodes on one database (1 to 128
    /// printable ASCII characters, no spaces); it names the node in
    /// `node_status`, in `GET /api/v1/nodes` and in PostgreSQL's
    /// `application_name` of its listener. Default: the host name and the
    /// port it listens on, e.g. `web-1:8080`.
    #[arg(long, value_name = "ID", env = "TONGBAN_NODE_ID")]
    node_id: Option<String>,
    /// A TOML file of settings (listen, node-id, data-dir, database-url, blob-url,
    /// max-upload-mib, holidays, meter-fuel, [smtp], [admission]); flags
    /// override it.
    #[arg(long, value_name = "FILE", env = "TONGBAN_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Seed the demo: a province, two cities and their bureaus, one account
    /// per role, demo citizens, and the example apps published through the
    /// real review path; prints the address and the demo logins.
    #[arg(long)]
    demo: bool,
    /// Meter fuel in every hook call, so `/metrics` reports each app
    /// version's fuel (default true; false trades that figure for speed).
    #[arg(long, value_name = "BOOL", env = "TONGBAN_METER_FUEL")]
    meter_fuel: Option<bool>,
    /// The largest package upload, in MiB (default 32).
    #[arg(long, value_name = "MIB")]
    max_upload_mib: Option<usize>,
    /// The working-day calendar (TOML: `holidays`, `working-weekends`) for due
    /// dates; default: the calendar the platform ships with.
    #[arg(long, value_name = "FILE", env = "TONGBAN_HOLIDAYS")]
    holidays: Option<std::path::PathBuf>,
    /// The SMTP server for notification email, `HOST:PORT`; without it,
    /// messages go to the in-app inbox only.
    #[arg(long, value_name = "HOST:PORT", env = "TONGBAN_SMTP")]
    smtp: Option<String>,
    /// The sender address of notification email (default
    /// `通办 Tongban <noreply@tongban.localhost>`).
    #[arg(long, value_name = "ADDRESS", env = "TONGBAN_SMTP_FROM")]
    smtp_from: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// `[admission]` of the file; not a flag.
    #[arg(skip)]
    admission: crate::admission::AdmissionLimits,
}

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default upload limit, in MiB.
pub const DEFAULT_MAX_UPLOAD_MIB: usize = 32;
/// Whether the server meters fuel unless told otherwise. The per-app fuel
/// figure in `/metrics` costs less than the run-to-run spread on a short hook
/// (`BENCHMARKS.md`, "Fuel metering"); with fuel on, a manifest's
/// `limits.fuel` is enforced as well as its `timeout-ms`.
pub const DEFAULT_METER_FUEL: bool = true;
/// The default sender of notification email.
pub const DEFAULT_SMTP_FROM: &str = "通办 Tongban <noreply@tongban.localhost>";

/// Merge the flags over the file over the defaults.
fn merge(mut args: ServeArgs) -> Result<ServeArgs, CliError> {
    let file = match &args.config {
        Some(path) => ServeConfig::read(path)?,
        None => ServeConfig::default(),
    };
    args.listen = args
        .listen
        .or(file.listen)
        .or(Some(DEFAULT_LISTEN.parse().expect("a valid address")));
    args.node_id = args.node_id.or(file.node_id);
    if let Some(id) = &args.node_id {
        tongban_registry::market::nodes::check_node_id(id).map_err(|e| CliError::usage(format!("--node-id: {e}")))?;
    }
    args.max_upload_mib = args
        .max_upload_mib
        .or(file.max_upload_mib)
        .or(Some(DEFAULT_MAX_UPLOAD_MIB));
    args.holidays = args.holidays.or(file.holidays);
    args.meter_fuel = args.meter_fuel.or(file.meter_fuel).or(Some(DEFAULT_METER_FUEL));
    if args.smtp.is_none() {
        args.smtp = file.smtp.as_ref().map(|s| s.server.clone());
    }
    args.smtp_from = args
        .smtp_from
        .or(file.smtp.and_then(|s| s.from))
        .or(Some(DEFAULT_SMTP_FROM.into()));
    if let Some(admission) = &file.admission {
        args.admission = admission.limits();
    }
    args.store.database_url = args.store.database_url.or(file.database_url);
    args.store.blob_url = args.store.blob_url.or(file.blob_url);
    if let Some(dir) = file.data_dir
        && !given("--data-dir", "TONGBAN_DATA_DIR")
    {
        args.store.data_dir = dir;
    }
    Ok(args)
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let args = merge(args)?;
    let listen = args.listen.expect("merged");
    let max_upload_mib = args.max_upload_mib.expect("merged");
    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        let config = services_config(&args)?;
        let meter_fuel = args.meter_fuel.expect("merged");
        let state = open_state_with(
            &args.store,
            max_upload_mib * 1024 * 1024,
            config,
            meter_fuel,
            crate::compiler::serving_compiler()?,
        )
        .await?
        .with_admission_limits(args.admission);
        let logins = if args.demo {
            Some(crate::demo::seed(&state, &args.store.data_dir).await?)
        } else {
            None
        };
        tokio::spawn(crate::workers::deliver_case_events(state.clone()));
        tokio::spawn(crate::workers::deliver_email(state.clone()));
        tokio::spawn(crate::workers::seal_audit_log(state.clone()));
        tokio::spawn(crate::workers::redeliver_sandbox_callbacks(state.clone()));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::Platform(format!("cannot listen on {listen}: {e}")))?;
        let address = listener.local_addr().map_err(|e| CliError::Platform(e.to_string()))?;
        // Started once the port is bound, because the default node id
        // carries the port.
        let node = tongban_registry::market::nodes::NodeReport {
            node: args
                .node_id
                .clone()
                .unwrap_or_else(|| crate::follower::default_node_id(address.port())),
            listen: address.to_string(),
            started_at: tongban_store::now_ms(),
        };
        tokio::spawn(crate::follower::follow(state.clone(), node));
        println!("通办 Tongban 正在运行 / serving on http://{address}");
        println!("  API        http://{address}/api/v1/");
        println!("  OpenAPI    http://{address}/api/v1/openapi.json");
        if let Some(logins) = logins {
            println!(
                "演示账号 / demo accounts: sign in at http://{address}/login with the password `{}`; the API tokens are for the CLI (TONGBAN_TOKEN=...):",
                crate::demo::DEMO_PASSWORD
            );
            // The name goes last: Chinese characters are two columns wide,
            // so padding it would misalign everything after it.
            for (id, name, role, token) in &logins.tokens {
                // `Role`'s Display ignores width, so it is padded as text.
                let role = role.to_string();
                println!("  {id:<13} {role:<17} {token}  {name}");
            }
            println!(
                "示例应用 / example app: cn.gov.hz.amr.sole-proprietor in region {}",
                crate::demo::REGION
            );
        }
        axum::serve(
            listener,
            api::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| CliError::Platform(format!("the server failed: {e}")))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: no new connections; in-flight requests finish");
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
            let from = args.smtp_from.clone().unwrap_or_else(|| DEFAULT_SMTP_FROM.into());
            let settings = SmtpSettings::new(host, port, from);
            settings.check().map_err(|e| CliError::usage(e.to_string()))?;
            Some(settings)
        }
        None => None,
    };
    Ok(ServicesConfig { calendar, smtp })
}

/// Open the store, the blob folder, the marketplace and the runtime.
/// Tests open it this way: the project's own fixtures compile in process.
pub async fn open_state(store: &StoreArgs, max_upload_bytes: usize) -> Result<AppState, CliError> {
    open_state_with(
        store,
        max_upload_bytes,
        ServicesConfig::default(),
        false,
        tongban_runtime::compile::Compiler::InProcess,
    )
    .await
}

/// [`open_state`] with the shared services' configuration and whether hook
/// calls meter fuel.
pub async fn open_state_with(
    store: &StoreArgs,
    max_upload_bytes: usize,
    config: ServicesConfig,
    meter_fuel: bool,
    compiler: tongban_runtime::compile::Compiler,
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
    let mut settings = RuntimeSettings::in_data_dir(&store.data_dir);
    settings.engine.fuel = meter_fuel;
    settings.compiler = compiler;
    let runtime = Arc::new(
        Runtime::with_services(settings, services)
            .map_err(|e| CliError::Platform(format!("cannot start the runtime: {e:#}")))?,
    );
    // Every published component is compiled (in a child process, under
    // limits) before its version is recorded: a version that cannot compile
    // is never approved, and a rollout only loads what is compiled.
    let market = market.with_compiler(Arc::new(crate::compiler::PublishCompiler(runtime.clone())));
    AppState::new(market, runtime, max_upload_bytes)
        .await
        .map_err(|e| CliError::Platform(e.to_string()))
}
