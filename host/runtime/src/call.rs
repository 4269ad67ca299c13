//! One hook call: a fresh store from the app's `InstancePre`, the limits of its
//! manifest, the call itself, and a report of what it cost.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tongban_registry::platform;
use wasmtime::component::ResourceTable;
use wasmtime::{CallHook, Store, UpdateDeadline};

use crate::Runtime;
use crate::bindings::{app as wit_app, types as wit_types};
use crate::capabilities::{CallSetup, CapabilityCtxs, log::LogLine};
use crate::error::{CallError, LimitBreach, LimitKind};
use crate::guest_clock::{GuestClock, HOST_WAIT_ALLOWANCE, wall_bound};
use crate::limits::{HostCallBudget, MemoryLimiter, copy_allowance};
use crate::loaded::LoadedApp;
use crate::wasi::sandbox_ctx;

// The call's environment and store data have modules of their own, which
// the capabilities import instead of this one; the paths here stay.
pub use crate::env::{Assurance, CallEnv, Channel, Session, SubjectKind};
pub use crate::store_data::CallState;

/// Extra wall time past the deadline before the host abandons a call that is
/// stuck in a host function rather than in wasm (where epochs stop it).
pub const HOST_GRACE: Duration = Duration::from_millis(500);

/// What wasmtime says when a transfer out of the guest exceeds the store's
/// hostcall fuel.
const HOSTCALL_FUEL_EXHAUSTED: &str = "too much data is being copied between the host and the guest";

/// Fuel a call gets when fuel is metered and the manifest does not say.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;

/// A problem with one form field, as the app reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A capability or app error value, as `kind` plus detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub kind: String,
    pub detail: String,
}

/// What a submission became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    Queued,
    Approved(String),
    Denied(String),
}

/// A case event delivered to `on-event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum CaseEvent {
    Accepted,
    CorrectionRequested(String),
    HandedOff(String),
    Paid(String),
    Approved(String),
    Denied(String),
    Withdrawn,
}

/// Which hook to call, with its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Validate { form: String },
    Submit { case: String, form: String },
    OnEvent { case: String, event: CaseEvent },
}

impl Hook {
    pub fn name(&self) -> &'static str {
        match self {
            Hook::Validate { .. } => "validate",
            Hook::Submit { .. } => "submit",
            Hook::OnEvent { .. } => "on-event",
        }
    }
}

/// What a hook returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "hook", content = "result")]
pub enum HookResult {
    Validate(Result<(), Vec<FieldError>>),
    Submit(Result<Outcome, AppError>),
    OnEvent(Result<(), AppError>),
}

/// What a call cost and printed, whether or not it succeeded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallReport {
    pub wall_time: Duration,
    /// Of the wall time, what the host spent in capabilities for the app,
    /// which `timeout-ms` does not count.
    pub capability_time: Duration,
    /// Fuel consumed, when the engine meters fuel.
    pub fuel_used: Option<u64>,
    /// The most linear memory the instance had at once.
    pub peak_memory_bytes: usize,
    pub host_calls: u32,
    /// Bytes the host copied out of the guest through capability calls.
    pub copied_bytes: u64,
    pub stdout: String,
    pub stderr: String,
    pub log: Vec<LogLine>,
    pub log_lines_dropped: usize,
}

/// The result of a call and its report.
#[derive(Debug)]
pub struct CallOutcome {
    pub result: Result<HookResult, CallError>,
    pub report: CallReport,
}

pub(crate) async fn call(runtime: &Runtime, app: &LoadedApp, env: &CallEnv, hook: Hook) -> CallOutcome {
    let started = Instant::now();
    // The app's share of the instance slots, held for the whole call; a call
    // past it is refused before anything is instantiated.
    let _slot = match runtime.slots.take(&app.manifest.app.id) {
        Ok(hold) => hold,
        Err(busy) => {
            return CallOutcome {
                result: Err(busy),
                report: CallReport {
                    wall_time: started.elapsed(),
                    ..CallReport::default()
                },
            };
        }
    };
    let limits = &app.manifest.limits;
    let timeout_ms = limits.timeout_ms();
    let timeout = Duration::from_millis(u64::from(timeout_ms));
    let clock = GuestClock::start(started);
    let (wasi, output) = sandbox_ctx(platform::MAX_OUTPUT_BYTES);
    let state = CallState {
        wasi,
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(limits.memory_mib()),
        budget: HostCallBudget::new(copy_allowance(limits.memory_mib())),
        caps: CapabilityCtxs::prepare(
            &app.capabilities,
            &CallSetup::new(&app.manifest, env, &runtime.services),
        ),
        clock: clock.clone(),
    };
    let mut store = Store::new(&runtime.engine, state);
    store.limiter(|s| &mut s.limiter);
    // No single transfer out of the guest (a capability's arguments, the
    // hook's result) may exceed `MAX_TRANSFER_BYTES`, nor the call's copy
    // allowance; wasmtime stops such a lift before it copies.
    store.set_hostcall_fuel(copy_allowance(limits.memory_mib()).min(platform::MAX_TRANSFER_BYTES) as usize);
    // Every exit from wasm into the host and every return is marked on the
    // call's clock, so the time the host spends in capabilities is not the
    // guest's (`guest_clock.rs`).
    store.call_hook(|store, hook| {
        match hook {
            CallHook::CallingHost => store.data().clock.host_call_started(),
            CallHook::ReturningFromHost => store.data().clock.host_call_returned(),
            CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
        }
        Ok(())
    });
    // At every epoch tick the guest yields to the async executor, so a guest
    // that spins never holds a worker thread that other requests need; past
    // its deadline (guest time, so never early) it is interrupted.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |store| {
        Ok(if store.data().clock.guest_time() >= timeout {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    let fuel_budget = limits.fuel.unwrap_or(DEFAULT_FUEL).min(platform::MAX_FUEL);
    if runtime.settings.fuel {
        store.set_fuel(fuel_budget).expect("fuel is enabled on the engine");
    }

    let ctx = wit_app::Context {
        item: env.item.clone(),
        locale: env.session.locale.clone(),
        channel: env.session.channel.into(),
        region: env.region.clone(),
    };
    let run = await_within_bounds(invoke(app, &mut store, &ctx, hook), &clock, timeout).await;
    let result = match run {
        Ok(Ok(result)) => check_result_size(result),
        Ok(Err(e)) => Err(classify(e, &output, copy_allowance(limits.memory_mib()))),
        Err(Overrun::Guest) => Err(CallError::Limit {
            kind: LimitKind::Time,
            detail: format!("the call did not finish within {timeout_ms} ms (stuck outside wasm)"),
        }),
        Err(Overrun::Wall) => Err(CallError::Busy {
            detail: format!(
                "the platform worked on this call for more than {} s in its capabilities; the app's own time was within its {timeout_ms} ms",
                HOST_WAIT_ALLOWANCE.as_secs()
            ),
            retry_after_secs: crate::slots::BUSY_RETRY_AFTER_SECS,
        }),
    };

    let fuel_used = runtime
        .settings
        .fuel
        .then(|| fuel_budget.saturating_sub(store.get_fuel().unwrap_or(0)));
    let state = store.into_data();
    let report = CallReport {
        wall_time: started.elapsed(),
        capability_time: clock.capability_time(),
        fuel_used,
        peak_memory_bytes: state.limiter.peak_bytes(),
        host_calls: state.budget.used(),
        copied_bytes: state.budget.copied(),
        stdout: String::from_utf8_lossy(&output.stdout.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr.contents()).into_owned(),
        log: state.caps.log.lines,
        log_lines_dropped: state.caps.log.dropped,
    };
    if let Err(e) = &result {
        tracing::warn!(app = %app.manifest.app.id, version = %app.manifest.app.version, error = %e, "hook call failed");
    }
    CallOutcome { result, report }
}

/// Which bound a call ran past while the host awaited it.
enum Overrun {
    /// The guest's own time, outside wasm (a WASI sleep), where no epoch
    /// check can interrupt it.
    Guest,
    /// The wall bound, while the host worked in its capabilities.
    Wall,
}

/// Await `call` until it finishes, its guest time runs [`HOST_GRACE`] past
/// `timeout`, or the wall bound passes. The guest's deadline moves later by
/// whatever the host spends in capabilities meanwhile, so each wake-up
/// recomputes it.
async fn await_within_bounds<F: std::future::Future>(
    call: F,
    clock: &GuestClock,
    timeout: Duration,
) -> Result<F::Output, Overrun> {
    let mut call = std::pin::pin!(call);
    let wall_deadline = clock.started() + wall_bound(timeout);
    loop {
        let guest_deadline = clock.guest_deadline(timeout + HOST_GRACE);
        let wake = guest_deadline.min(wall_deadline);
        if let Ok(output) = tokio::time::timeout_at(wake.into(), call.as_mut()).await {
            return Ok(output);
        }
        let now = Instant::now();
        if now >= wall_deadline {
            return Err(Overrun::Wall);
        }
        if now >= clock.guest_deadline(timeout + HOST_GRACE) {
            return Err(Overrun::Guest);
        }
    }
}

async fn invoke(
    app: &LoadedApp,
    store: &mut Store<CallState>,
    ctx: &wit_app::Context,
    hook: Hook,
) -> wasmtime::Result<HookResult> {
    let instance = app.pre.instantiate_async(&mut *store).await?;
    let guest = instance.tongban_platform_app();
    Ok(match hook {
        Hook::Validate { form } => {
            HookResult::Validate(guest.call_validate(&mut *store, ctx, &form).await?.map_err(|errors| {
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: e.field,
                        message: e.message,
                    })
                    .collect()
            }))
        }
        Hook::Submit { case, form } => HookResult::Submit(
            guest
                .call_submit(&mut *store, ctx, &case, &form)
                .await?
                .map(|o| match o {
                    wit_app::Outcome::Queued => Outcome::Queued,
                    wit_app::Outcome::Approved(s) => Outcome::Approved(s),
                    wit_app::Outcome::Denied(s) => Outcome::Denied(s),
                })
                .map_err(AppError::from),
        ),
        Hook::OnEvent { case, event } => HookResult::OnEvent(
            guest
                .call_on_event(&mut *store, ctx, &case, &event.into())
                .await?
                .map_err(AppError::from),
        ),
    })
}

/// Refuse a result bigger than [`platform::MAX_RESULT_BYTES`]. The guest's own
/// memory cap already bounded how much the host had to copy to get here.
fn check_result_size(result: HookResult) -> Result<HookResult, CallError> {
    let size = match &result {
        HookResult::Validate(Ok(())) | HookResult::OnEvent(Ok(())) | HookResult::Submit(Ok(Outcome::Queued)) => 0,
        HookResult::Validate(Err(errors)) => errors.iter().map(|e| e.field.len() + e.message.len() + 16).sum(),
        HookResult::Submit(Ok(Outcome::Approved(s) | Outcome::Denied(s))) => s.len(),
        HookResult::Submit(Err(e)) | HookResult::OnEvent(Err(e)) => e.detail.len(),
    };
    if size > platform::MAX_RESULT_BYTES {
        return Err(CallError::Limit {
            kind: LimitKind::Result,
            detail: format!(
                "the hook returned {size} bytes; the limit is {} bytes",
                platform::MAX_RESULT_BYTES
            ),
        });
    }
    Ok(result)
}

fn classify(error: wasmtime::Error, output: &crate::wasi::CapturedOutput, copy_allowance: u64) -> CallError {
    if let Some(breach) = error.downcast_ref::<LimitBreach>() {
        return CallError::Limit {
            kind: breach.kind,
            detail: breach.detail.clone(),
        };
    }
    // wasmtime's own bound on one transfer out of the guest (its hostcall
    // fuel, set to the call's copy allowance): the app's breach, not the
    // host's failure. wasmtime's error type is private, so its message is
    // matched; `tests/tests/hostile.rs` fails if the message changes.
    if error
        .chain()
        .any(|cause| cause.to_string().contains(HOSTCALL_FUEL_EXHAUSTED))
    {
        let breach = crate::limits::copy_breach(copy_allowance);
        let breach = breach
            .downcast_ref::<LimitBreach>()
            .expect("a copy breach is a limit breach");
        return CallError::Limit {
            kind: breach.kind,
            detail: breach.detail.clone(),
        };
    }
    // The pool ran out of a kind of slot while instantiating: the platform
    // is full, which is no fault of the app's.
    if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
        return CallError::Busy {
            detail: format!("the platform's instance pool is full: {error}"),
            retry_after_secs: crate::slots::BUSY_RETRY_AFTER_SECS,
        };
    }
    // A guest that fills its capture pipe sees the stream close and usually
    // panics on it; a trap with a full pipe is an output-limit breach.
    let full = |pipe: &wasmtime_wasi::p2::pipe::MemoryOutputPipe| pipe.contents().len() >= platform::MAX_OUTPUT_BYTES;
    if full(&output.stdout) || full(&output.stderr) {
        return CallError::Limit {
            kind: LimitKind::Output,
            detail: format!(
                "the app wrote more than {} bytes to stdout or stderr",
                platform::MAX_OUTPUT_BYTES
            ),
        };
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::Interrupt => {
                return CallError::Limit {
                    kind: LimitKind::Time,
                    detail: "the call ran past its timeout-ms deadline and was interrupted".into(),
                };
            }
            wasmtime::Trap::OutOfFuel => {
                return CallError::Limit {
                    kind: LimitKind::Fuel,
                    detail: "the call used up its fuel budget".into(),
                };
            }
            wasmtime::Trap::StackOverflow => {
                return CallError::Limit {
                    kind: LimitKind::Stack,
                    detail: format!(
                        "the call exhausted its {} KiB wasm stack",
                        crate::engine::MAX_WASM_STACK / 1024
                    ),
                };
            }
            _ => {}
        }
        let hint = match trap {
            wasmtime::Trap::MemoryOutOfBounds => " (often Rust's shadow stack overflowing after deep recursion)",
            _ => "",
        };
        return CallError::Trap(format!("{trap}{hint}{}", panic_message(&output.stderr.contents())));
    }
    tracing::error!(error = ?error, "host failure during a hook call");
    CallError::Host(format!("{error:#}"))
}

/// The panic message Rust's panic hook printed to stderr, if any: the
/// `panicked at` line and the message after it.
fn panic_message(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    match (lines.next(), lines.next()) {
        (Some(at), Some(message)) => format!(": {} {}", at.trim(), message.trim()),
        (Some(at), None) => format!(": {}", at.trim()),
        _ => String::new(),
    }
}

impl From<wit_types::Error> for AppError {
    fn from(e: wit_types::Error) -> AppError {
        let (kind, detail) = match e {
            wit_types::Error::NotGranted(s) => ("not-granted", s),
            wit_types::Error::ConsentRequired(s) => ("consent-required", s),
            wit_types::Error::AssuranceTooLow(a) => ("assurance-too-low", format!("{a:?}").to_lowercase()),
            wit_types::Error::NotFound(s) => ("not-found", s),
            wit_types::Error::Invalid(s) => ("invalid", s),
            wit_types::Error::Conflict(s) => ("conflict", s),
            wit_types::Error::QuotaExceeded(s) => ("quota-exceeded", s),
            wit_types::Error::Unavailable(s) => ("unavailable", s),
        };
        AppError {
            kind: kind.into(),
            detail,
        }
    }
}

impl From<CaseEvent> for wit_app::Event {
    fn from(e: CaseEvent) -> Self {
        match e {
            CaseEvent::Accepted => wit_app::Event::Accepted,
            CaseEvent::CorrectionRequested(s) => wit_app::Event::CorrectionRequested(s),
            CaseEvent::HandedOff(s) => wit_app::Event::HandedOff(s),
            CaseEvent::Paid(s) => wit_app::Event::Paid(s),
            CaseEvent::Approved(s) => wit_app::Event::Approved(s),
            CaseEvent::Denied(s) => wit_app::Event::Denied(s),
            CaseEvent::Withdrawn => wit_app::Event::Withdrawn,
        }
    }
}
