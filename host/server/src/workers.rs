//! The server's background work, one loop each, all safe to run on every node
//! at once (claims are compare-and-set in the database):
//!
//! - [`deliver_case_events`]: the transactional outbox of case events, into
//!   the `on-event` hook of the version that serves the case's applicant now;
//! - [`deliver_email`]: pending notification email, by SMTP when configured;
//! - [`seal_audit_log`]: the audit log's sealer, on the one node that holds
//!   its lease;
//! - [`redeliver_sandbox_callbacks`]: the sandbox bank sending again the
//!   callbacks of a decision a dead node never applied.

use std::time::Duration;

use tongban_runtime::{CaseEvent, Channel, Hook, HookResult};
use tongban_services::cases::outbox::PendingEvent;

use crate::flows::calls::{CallFor, Principal, call_env, served};
use crate::state::AppState;

/// How often the outbox is polled when it was empty.
pub const OUTBOX_POLL: Duration = Duration::from_millis(100);
/// How long a claimed event is reserved for the node that claimed it: longer
/// than the longest hook call (the platform's maximum timeout plus the host's
/// grace), so a live node is never overtaken, and short enough that the
/// events of a node that died are picked up again within seconds.
pub const OUTBOX_LEASE_MS: i64 =
    tongban_registry::platform::MAX_TIMEOUT_MS as i64 + tongban_runtime::call::HOST_GRACE.as_millis() as i64 + 4_500;
/// How often pending email is looked for.
pub const EMAIL_POLL: Duration = Duration::from_secs(2);

/// The app's view of a stored event kind.
pub fn case_event(event: &PendingEvent) -> Option<CaseEvent> {
    let payload = event.payload();
    Some(match event.kind.as_str() {
        "accept" => CaseEvent::Accepted,
        "request-correction" => CaseEvent::CorrectionRequested(payload),
        "hand-off" => CaseEvent::HandedOff(payload),
        "paid" => CaseEvent::Paid(payload),
        "approve" | "rule-approve" => CaseEvent::Approved(payload),
        "deny" | "rule-deny" => CaseEvent::Denied(payload),
        "withdraw" => CaseEvent::Withdrawn,
        _ => return None,
    })
}

/// How many case events one node delivers at once, across all apps.
pub const OUTBOX_WORKERS: usize = 8;
/// How many of those workers one app may hold at once. An app whose
/// `on-event` hangs until its deadline delays only its own events; every
/// other app's events keep their workers.
pub const OUTBOX_SHARE_PER_APP: usize = 2;

/// Deliver case events forever, fairly across apps: each app gets at most
/// [`OUTBOX_SHARE_PER_APP`] of the [`OUTBOX_WORKERS`], and apps take turns
/// in the claim, so a slow or failing app delays only itself.
pub async fn deliver_case_events(state: AppState) {
    let dispatcher = OutboxDispatcher::new(OUTBOX_WORKERS, OUTBOX_SHARE_PER_APP);
    loop {
        match dispatcher.dispatch(&state).await {
            Ok(0) => {
                // Nothing to claim, or every worker busy: wait for the poll
                // interval or for a worker to finish, whichever comes first.
                tokio::select! {
                    _ = tokio::time::sleep(OUTBOX_POLL) => {}
                    _ = dispatcher.finished.notified() => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the case outbox could not be read; retrying");
                tokio::time::sleep(OUTBOX_POLL * 10).await;
            }
        }
    }
}

/// The node's outbox workers and how many each app holds.
struct OutboxDispatcher {
    workers: std::sync::Arc<tokio::sync::Semaphore>,
    share: usize,
    in_flight: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    finished: std::sync::Arc<tokio::sync::Notify>,
}

impl OutboxDispatcher {
    fn new(workers: usize, share: usize) -> OutboxDispatcher {
        OutboxDispatcher {
            workers: std::sync::Arc::new(tokio::sync::Semaphore::new(workers)),
            share,
            in_flight: Default::default(),
            finished: Default::default(),
        }
    }

    /// Claim as many events as there are free workers (within each app's
    /// share) and start delivering them; the number started. Each claim
    /// covers one event, so the lease, which covers one hook call, is never
    /// outlived by a queue behind it.
    async fn dispatch(&self, state: &AppState) -> Result<usize, tongban_services::ServiceError> {
        let free = self.workers.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let held = self
            .in_flight
            .lock()
            .expect("the in-flight map is never poisoned")
            .clone();
        let share = self.share;
        let events = state
            .services
            .claim_case_events_within(free, OUTBOX_LEASE_MS, |app| {
                share.saturating_sub(held.get(app).copied().unwrap_or(0))
            })
            .await?;
        let started = events.len();
        for event in events {
            let permit = self
                .workers
                .clone()
                .try_acquire_owned()
                .expect("no more events are claimed than workers are free");
            *self
                .in_flight
                .lock()
                .expect("the in-flight map is never poisoned")
                .entry(event.app.clone())
                .or_default() += 1;
            let state = state.clone();
            // Released when the delivery ends, however it ends (a panic in
            // it included), so an app's share is never lost.
            let slot = InFlight {
                app: event.app.clone(),
                in_flight: self.in_flight.clone(),
                finished: self.finished.clone(),
                _worker: permit,
            };
            tokio::spawn(async move {
                let _slot = slot;
                if let Err(e) = deliver_claimed(&state, &event).await {
                    tracing::warn!(case = %event.case, seq = event.seq, error = %e, "a case event's delivery could not be recorded; its lease runs out and it is claimed again");
                }
            });
        }
        Ok(started)
    }
}

/// One delivery's hold on a worker and on its app's share.
struct InFlight {
    app: String,
    in_flight: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    finished: std::sync::Arc<tokio::sync::Notify>,
    _worker: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut held = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.app) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.app);
            }
        }
        drop(held);
        self.finished.notify_one();
    }
}

/// Why a delivery did not happen.
enum NotDelivered {
    /// No version of the app serves the case now (halted, revoked), or the
    /// app is at its share of the instance slots: the event waits, and the
    /// wait does not count as a failed attempt.
    NotServed(String),
    /// The app or the host failed.
    Failed(String),
}

/// Deliver one claimed event and record how it went.
async fn deliver_claimed(state: &AppState, event: &PendingEvent) -> Result<(), tongban_services::ServiceError> {
    match deliver_one(state, event).await {
        Ok(()) => state.services.mark_event_delivered(&event.case, event.seq).await,
        Err(NotDelivered::NotServed(why)) => {
            tracing::info!(case = %event.case, seq = event.seq, %why, "case event waits for a serving version");
            state.services.mark_event_waiting(event, &why).await
        }
        Err(NotDelivered::Failed(why)) => {
            tracing::warn!(case = %event.case, seq = event.seq, kind = %event.kind, %why, "case event not delivered");
            state.services.mark_event_failed(event, &why).await
        }
    }
}

async fn deliver_one(state: &AppState, event: &PendingEvent) -> Result<(), NotDelivered> {
    let Some(case_event) = case_event(event) else {
        return Ok(());
    };
    let (_, loaded) = served(state, &event.region, &event.app, &event.subject)
        .await
        .map_err(|e| NotDelivered::NotServed(e.to_string()))?;
    deliver_to(state, event, &loaded, case_event).await
}

async fn deliver_to(
    state: &AppState,
    event: &PendingEvent,
    loaded: &tongban_runtime::LoadedApp,
    case_event: CaseEvent,
) -> Result<(), NotDelivered> {
    let channel: Channel = serde_json::from_value(serde_json::Value::String(event.channel.clone()))
        .map_err(|_| NotDelivered::Failed(format!("unknown channel {}", event.channel)))?;
    let person = state
        .services
        .subject(&event.subject)
        .await
        .map_err(|e| NotDelivered::Failed(e.to_string()))?;
    let who = Principal::of(state, &person, &event.app)
        .await
        .map_err(|e| NotDelivered::Failed(e.to_string()))?;
    let env = call_env(
        &who,
        CallFor {
            region: event.region.clone(),
            item: event.item.clone(),
            channel,
            on_behalf_of: event.on_behalf_of.clone(),
            case: Some(event.case.clone()),
            event: Some(event.seq),
        },
    );
    let outcome = state
        .call_app(
            loaded,
            &env,
            Hook::OnEvent {
                case: event.case.clone(),
                event: case_event,
            },
        )
        .await;
    match outcome.result {
        Ok(HookResult::OnEvent(Ok(()))) => Ok(()),
        Ok(HookResult::OnEvent(Err(e))) => Err(NotDelivered::Failed(format!(
            "the app answered {}: {}",
            e.kind, e.detail
        ))),
        Ok(other) => Err(NotDelivered::Failed(format!(
            "the app answered the wrong hook: {other:?}"
        ))),
        // The call never started (the app at its share of the instance
        // slots): the event waits without counting as a failed attempt.
        Err(e @ tongban_runtime::CallError::Busy { .. }) => Err(NotDelivered::NotServed(e.to_string())),
        Err(e) => Err(NotDelivered::Failed(format!("the call failed: {e}"))),
    }
}

/// Send pending email forever (only when SMTP is configured).
pub async fn deliver_email(state: AppState) {
    if state.services.config().smtp.is_none() {
        return;
    }
    loop {
        if let Err(e) = state.services.deliver_pending_email().await {
            tracing::warn!(error = %e, "sending notification email failed; retrying");
        }
        tokio::time::sleep(EMAIL_POLL).await;
    }
}

/// How often the sandbox bank looks for decisions whose callbacks were never
/// applied.
pub const SANDBOX_REDELIVERY_POLL: Duration = Duration::from_secs(1);
/// How old a decision of the sandbox bank is before its callbacks are sent
/// again: far longer than the pay page takes to apply them, so a live node's
/// own delivery is seldom repeated (a repeat is harmless: the same events).
pub const SANDBOX_REDELIVERY_AFTER_MS: i64 = 5_000;

/// The sandbox bank's redelivery, forever: the callbacks of a decision whose
/// node died before applying them are sent again, so the payment still
/// settles. A failure is logged and retried in the next round.
pub async fn redeliver_sandbox_callbacks(state: AppState) {
    loop {
        tokio::time::sleep(SANDBOX_REDELIVERY_POLL).await;
        match state.services.sandbox_redeliver(SANDBOX_REDELIVERY_AFTER_MS).await {
            Ok(0) => {}
            Ok(sent) => tracing::info!(payments = sent, "the sandbox bank sent undelivered callbacks again"),
            Err(e) => tracing::warn!(error = %e, "the sandbox bank's redelivery failed; retrying"),
        }
    }
}

/// How often the node that holds the sealer's lease seals what is pending.
/// The delay from append to sealed is about this, plus the time to seal.
pub const SEAL_INTERVAL: Duration = Duration::from_millis(200);

/// Seal the audit log forever while this node holds the sealer's lease, and
/// try to take it over otherwise (another node's lease runs out when that
/// node stops). A sealing failure is logged and retried; appends never wait
/// for the sealer.
pub async fn seal_audit_log(state: AppState) {
    let holder = sealer_name();
    let db = state.market.db().clone();
    loop {
        tokio::time::sleep(SEAL_INTERVAL).await;
        match tongban_registry::market::audit_seal::hold_lease(&db, &holder).await {
            Ok(true) => match state.market.seal_audit_log().await {
                Ok(batches) => {
                    for batch in &batches {
                        state.metrics.record_sealed(batch);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sealing the audit log failed; retrying"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "the sealer's lease could not be read; retrying"),
        }
    }
}

/// This process's name as a sealer: unique per process, readable in the
/// lease row.
fn sealer_name() -> String {
    let mut nonce = [0u8; 4];
    getrandom::fill(&mut nonce).expect("the system's random source works");
    format!("pid {} #{}", std::process::id(), hex::encode(nonce))
}
