//! The server's background work, one loop each, all safe to run on every node
//! at once (claims are compare-and-set in the database):
//!
//! - [`deliver_case_events`]: the transactional outbox of case events, into
//!   the `on-event` hook of the version that serves the case's applicant now;
//! - [`deliver_email`]: pending notification email, by SMTP when configured.

use std::time::Duration;

use tongban_runtime::{CaseEvent, Channel, Hook, HookResult};
use tongban_services::cases::outbox::PendingEvent;

use crate::api::AppState;
use crate::api::state::CallFor;

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

/// Deliver case events forever.
pub async fn deliver_case_events(state: AppState) {
    loop {
        match deliver_batch(&state).await {
            Ok(0) => tokio::time::sleep(OUTBOX_POLL).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "the case outbox could not be read; retrying");
                tokio::time::sleep(OUTBOX_POLL * 10).await;
            }
        }
    }
}

/// Why a delivery did not happen.
enum NotDelivered {
    /// No version of the app serves the case now (halted, revoked): the event
    /// waits, and the wait does not count as a failed attempt.
    NotServed(String),
    /// The app or the host failed.
    Failed(String),
}

/// Claim and deliver one event at a time (so the lease, which covers one
/// hook call, is never outlived by a queue behind it); the number handled.
pub async fn deliver_batch(state: &AppState) -> Result<usize, tongban_services::ServiceError> {
    let mut handled = 0;
    while handled < 16 {
        let Some(event) = state.services.claim_case_events(1, OUTBOX_LEASE_MS).await?.pop() else {
            break;
        };
        handled += 1;
        match deliver_one(state, &event).await {
            Ok(()) => state.services.mark_event_delivered(&event.case, event.seq).await?,
            Err(NotDelivered::NotServed(why)) => {
                tracing::info!(case = %event.case, seq = event.seq, %why, "case event waits for a serving version");
                state.services.mark_event_waiting(&event, &why).await?;
            }
            Err(NotDelivered::Failed(why)) => {
                tracing::warn!(case = %event.case, seq = event.seq, kind = %event.kind, %why, "case event not delivered");
                state.services.mark_event_failed(&event, &why).await?;
            }
        }
    }
    Ok(handled)
}

async fn deliver_one(state: &AppState, event: &PendingEvent) -> Result<(), NotDelivered> {
    let Some(case_event) = case_event(event) else {
        return Ok(());
    };
    let (_, loaded) = state
        .serving_app(&event.region, &event.app, &event.subject)
        .await
        .map_err(|e| NotDelivered::NotServed(e.message))?;
    deliver_to(state, event, &loaded, case_event)
        .await
        .map_err(NotDelivered::Failed)
}

async fn deliver_to(
    state: &AppState,
    event: &PendingEvent,
    loaded: &tongban_runtime::LoadedApp,
    case_event: CaseEvent,
) -> Result<(), String> {
    let channel: Channel = serde_json::from_value(serde_json::Value::String(event.channel.clone()))
        .map_err(|_| format!("unknown channel {}", event.channel))?;
    let mut env = state
        .call_env(
            loaded,
            CallFor {
                subject: event.subject.clone(),
                region: event.region.clone(),
                item: event.item.clone(),
                channel,
                on_behalf_of: event.on_behalf_of.clone(),
                case: Some(event.case.clone()),
            },
        )
        .await
        .map_err(|e| e.message)?;
    env.event = Some(event.seq);
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
        Ok(HookResult::OnEvent(Err(e))) => Err(format!("the app answered {}: {}", e.kind, e.detail)),
        Ok(other) => Err(format!("the app answered the wrong hook: {other:?}")),
        Err(e) => Err(format!("the call failed: {e}")),
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
