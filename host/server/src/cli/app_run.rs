//! `tongban app run PACKAGE --hook HOOK --form FILE`: run one hook of a package
//! in the real runtime, against a local host (the data directory's database),
//! and print the result with wall time, fuel and peak memory, like Shopify's
//! function-runner.
//!
//! As on the platform, `validate` and `submit` first check the form against the
//! item's JSON Schema; schema violations are reported as field errors and the
//! hook is not called.
//!
//! Exit codes: 0 when the hook succeeded, 1 when it answered with field errors
//! or an error value, 2 when the call failed (a limit, a trap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use tongban_registry::Package;
use tongban_registry::form::schema_violations;
use tongban_runtime::{
    CallReport, CaseEvent, Channel, Database, EngineSettings, Hook, HookResult, Runtime, RuntimeSettings,
};

use super::StoreArgs;
use crate::error::CliError;
use crate::flows::calls::{CallFor, Principal, call_env};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum HookName {
    Validate,
    Submit,
    OnEvent,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The package file (`.tbpkg`), or an app directory to build first.
    package: PathBuf,
    /// Which hook to call.
    #[arg(long, value_enum)]
    hook: HookName,
    /// The application form, a JSON file (validate and submit).
    #[arg(long, value_name = "FILE")]
    form: Option<PathBuf>,
    /// The subject handle the app sees.
    #[arg(long, value_name = "ID", default_value = "local-subject")]
    subject: String,
    /// The region served, a 6-digit GB/T 2260 code.
    #[arg(long, value_name = "CODE", default_value = "330100")]
    region: String,
    /// The item code (default: the manifest's first item).
    #[arg(long, value_name = "CODE")]
    item: Option<String>,
    /// The case id (submit and on-event).
    #[arg(long, value_name = "ID", default_value = "LOCAL-CASE-1")]
    case: String,
    /// The event for on-event: accepted, withdrawn, or KIND:DETAIL with KIND one
    /// of correction-requested, handed-off, paid, approved, denied.
    #[arg(long, value_name = "EVENT", default_value = "approved:准予许可")]
    event: String,
    /// The channel of the call.
    #[arg(long, value_enum, default_value = "web")]
    channel: ChannelArg,
    /// Meter fuel and report fuel used.
    #[arg(long)]
    fuel: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ChannelArg {
    Web,
    Mobile,
    Window,
    Kiosk,
    Hotline,
}

pub fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    let package = if args.package.is_dir() {
        super::app_build::build(&args.package, None)?.package
    } else {
        Package::read(&args.package)?
    };
    let manifest = package.manifest().map_err(|e| CliError::usage(e.to_string()))?;
    let item = match &args.item {
        Some(code) => manifest
            .item(code)
            .ok_or_else(|| CliError::usage(format!("the manifest has no item `{code}`")))?,
        None => manifest
            .items
            .first()
            .ok_or_else(|| CliError::usage("the manifest declares no items"))?,
    };

    let form = match (args.hook, &args.form) {
        (HookName::OnEvent, _) => String::new(),
        (_, None) => return Err(CliError::usage("--form FILE is required for validate and submit")),
        (_, Some(path)) => std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?,
    };
    if !matches!(args.hook, HookName::OnEvent) {
        let schema_bytes = package
            .file(&item.form)
            .ok_or_else(|| CliError::usage(format!("the package has no form `{}`", item.form)))?;
        let schema: serde_json::Value = serde_json::from_slice(schema_bytes)
            .map_err(|e| CliError::usage(format!("form `{}` is not JSON: {e}", item.form)))?;
        let violations = schema_violations(&schema, &form).map_err(|e| CliError::usage(e.to_string()))?;
        if !violations.is_empty() {
            println!(
                "hook        {} (not called: the form fails its schema)",
                hook_label(args.hook)
            );
            println!("result      字段错误 / field errors");
            for v in violations {
                println!("  {:<28} {}", display_field(&v.field), v.message);
            }
            return Ok(ExitCode::from(1));
        }
    }

    let hook = match args.hook {
        HookName::Validate => Hook::Validate { form },
        HookName::Submit => Hook::Submit {
            case: args.case.clone(),
            form,
        },
        HookName::OnEvent => Hook::OnEvent {
            case: args.case.clone(),
            event: parse_event(&args.event)?,
        },
    };
    // A local run serves nobody: the handle given stands for no platform
    // subject, so every personal-data capability answers `not-found`.
    let env = call_env(
        &Principal::nobody(&args.subject),
        CallFor {
            region: args.region.clone(),
            item: item.code.clone(),
            channel: match args.channel {
                ChannelArg::Web => Channel::Web,
                ChannelArg::Mobile => Channel::Mobile,
                ChannelArg::Window => Channel::Window,
                ChannelArg::Kiosk => Channel::Kiosk,
                ChannelArg::Hotline => Channel::Hotline,
            },
            on_behalf_of: None,
            case: None,
            event: None,
        },
    );

    let tokio = super::tokio_runtime()?;
    tokio.block_on(async {
        let db = Database::open_configured(args.store.database_url.as_deref(), &args.store.data_dir)
            .await
            .map_err(|e| CliError::Platform(format!("cannot open the database: {e}")))?;
        let mut settings = RuntimeSettings::in_data_dir(&args.store.data_dir);
        // A package from elsewhere is compiled where a huge or stuck compile
        // hurts nothing but the child.
        settings.compiler = tongban_runtime::compile::Compiler::this_binary()
            .map_err(|e| CliError::Platform(format!("cannot find this program to compile with: {e}")))?;
        settings.engine = EngineSettings {
            fuel: args.fuel,
            ..EngineSettings::default()
        };
        let runtime =
            Runtime::new(settings, db).map_err(|e| CliError::Platform(format!("cannot start the runtime: {e:#}")))?;
        let app = runtime.load(&package).map_err(|e| CliError::usage(e.to_string()))?;
        println!("app         {} {}", manifest.app.id, manifest.app.version);
        println!(
            "load        {:?} in {:.1} ms",
            app.report.path,
            app.report.duration.as_secs_f64() * 1000.0
        );
        let outcome = runtime.call(&app, &env, hook).await;
        println!("hook        {}", hook_label(args.hook));
        let code = match &outcome.result {
            Ok(result) => print_result(result),
            Err(e) => {
                println!("result      调用失败 / call failed: {e}");
                2
            }
        };
        print_report(&outcome.report, args.fuel);
        Ok(ExitCode::from(code))
    })
}

fn hook_label(hook: HookName) -> &'static str {
    match hook {
        HookName::Validate => "validate",
        HookName::Submit => "submit",
        HookName::OnEvent => "on-event",
    }
}

fn display_field(field: &str) -> &str {
    if field.is_empty() { "(表单 / form)" } else { field }
}

fn print_result(result: &HookResult) -> u8 {
    match result {
        HookResult::Validate(Ok(())) | HookResult::OnEvent(Ok(())) => {
            println!("result      成功 / ok");
            0
        }
        HookResult::Validate(Err(errors)) => {
            println!("result      字段错误 / field errors");
            for e in errors {
                println!("  {:<28} {}", display_field(&e.field), e.message);
            }
            1
        }
        HookResult::Submit(Ok(outcome)) => {
            println!(
                "result      成功 / ok: {}",
                serde_json::to_string(outcome).expect("outcomes serialize")
            );
            0
        }
        HookResult::Submit(Err(e)) | HookResult::OnEvent(Err(e)) => {
            println!("result      错误 / error: {}: {}", e.kind, e.detail);
            1
        }
    }
}

fn print_report(report: &CallReport, fuel: bool) {
    println!("wall time   {:.3} ms", report.wall_time.as_secs_f64() * 1000.0);
    match report.fuel_used {
        Some(f) => println!("fuel        {f}"),
        None if fuel => println!("fuel        unknown"),
        None => println!("fuel        not metered (use --fuel)"),
    }
    println!(
        "peak memory {:.2} MiB",
        report.peak_memory_bytes as f64 / (1024.0 * 1024.0)
    );
    println!("host calls  {}", report.host_calls);
    for line in &report.log {
        println!("log         [{}] {}", line.level, line.message);
    }
    if report.log_lines_dropped > 0 {
        println!(
            "log         ({} lines dropped over the per-call budget)",
            report.log_lines_dropped
        );
    }
    for (name, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
        for line in text.lines().take(20) {
            println!("{name:<11} {line}");
        }
    }
}

fn parse_event(text: &str) -> Result<CaseEvent, CliError> {
    let (kind, detail) = text.split_once(':').unwrap_or((text, ""));
    let detail = detail.to_owned();
    Ok(match kind {
        "accepted" => CaseEvent::Accepted,
        "withdrawn" => CaseEvent::Withdrawn,
        "correction-requested" => CaseEvent::CorrectionRequested(detail),
        "handed-off" => CaseEvent::HandedOff(detail),
        "paid" => CaseEvent::Paid(detail),
        "approved" => CaseEvent::Approved(detail),
        "denied" => CaseEvent::Denied(detail),
        other => {
            return Err(CliError::usage(format!(
                "unknown event `{other}`: use accepted, withdrawn, or correction-requested|handed-off|paid|approved|denied:DETAIL"
            )));
        }
    })
}
