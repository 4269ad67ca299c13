//! The outbox side of case events: a dispatcher claims the oldest pending
//! event of each case (events of one case go in order), calls the app's
//! `on-event` hook, and marks the event delivered; a failure is retried with
//! backoff and, after [`MAX_ATTEMPTS`], parked as dead for an operator.
//!
//! A claim is a lease (`claimed_until`): if a node dies mid-delivery, the
//! event is claimed again after the lease, by any node. Delivery is therefore
//! at least once in the face of a crash between the hook's return and the
//! mark; the window is the one `UPDATE`, and the capabilities an `on-event`
//! hook uses for its effects are idempotent per case (a case issues one
//! certificate of a type, a payment key creates one payment), so the effect
//! happens once.

use serde::Serialize;
use sqlx::Row;
use tongban_store::now_ms;

use tongban_registry::market::audit_log::{append_entry, state_digest};

use super::CaseActor;
use crate::Services;
use crate::error::{ServiceError, ServiceResult};

/// After this many failed deliveries an event is parked (`deliver = 2`).
pub const MAX_ATTEMPTS: i32 = 8;

/// An event to deliver, with what the dispatcher needs to call the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingEvent {
    pub case: String,
    pub seq: i64,
    pub kind: String,
    pub detail: String,
    pub attempts: i32,
    pub app: String,
    pub app_version: String,
    pub item: String,
    pub region: String,
    pub subject: String,
    pub channel: String,
    pub on_behalf_of: Option<String>,
}

impl PendingEvent {
    /// The payload the app's event carries: for a hand-off only the org.
    pub fn payload(&self) -> String {
        match self.kind.as_str() {
            "hand-off" => self.detail.split(':').next().unwrap_or_default().trim().to_owned(),
            _ => self.detail.clone(),
        }
    }
}

/// How many candidate events of one app a claim reads at most: enough for
/// an app's whole share of workers, and few enough that a flood of one app's
/// events never crowds the other apps' events out of the candidates.
pub const CANDIDATES_PER_APP: i64 = 8;

/// A parked event, for the operator who decides whether to put it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedEvent {
    pub case: String,
    pub seq: i64,
    pub kind: String,
    pub app: String,
    pub app_version: String,
    pub attempts: i32,
    /// When the event was recorded, in ms since the epoch.
    pub at: i64,
    pub last_error: Option<String>,
}

impl Services {
    /// Claim up to `limit` deliverable events for `lease_ms`: per case only the
    /// oldest undelivered one, and none another node holds. Apps take turns:
    /// each app's oldest events come first, so one app's backlog never holds
    /// back another app's events.
    pub async fn claim_case_events(&self, limit: i64, lease_ms: i64) -> ServiceResult<Vec<PendingEvent>> {
        self.claim_case_events_within(limit.max(0) as usize, lease_ms, |_| usize::MAX)
            .await
    }

    /// Like [`Services::claim_case_events`], taking at most `room_of(app)`
    /// events of each app: the dispatcher passes what is left of each app's
    /// share of its workers.
    pub async fn claim_case_events_within(
        &self,
        limit: usize,
        lease_ms: i64,
        room_of: impl Fn(&str) -> usize,
    ) -> ServiceResult<Vec<PendingEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        // The events that head their case, ranked within their app by age;
        // then the first of every app, the second of every app, and so on.
        let rows = sqlx::query(
            "SELECT case_id, seq, kind, detail, attempts, app_id, app_version, item, region, subject_id, channel,
                    on_behalf_of
             FROM (SELECT e.case_id, e.seq, e.kind, e.detail, e.attempts, c.app_id, c.app_version, c.item, c.region,
                          c.subject_id, c.channel, c.on_behalf_of, e.at,
                          ROW_NUMBER() OVER (PARTITION BY c.app_id ORDER BY e.at, e.case_id, e.seq) AS turn
                   FROM case_events e JOIN cases c ON c.id = e.case_id
                   WHERE e.deliver = 1 AND e.delivered_at IS NULL
                     AND (e.claimed_until IS NULL OR e.claimed_until < $1)
                     AND NOT EXISTS (SELECT 1 FROM case_events p
                                     WHERE p.case_id = e.case_id AND p.seq < e.seq AND p.deliver >= 1
                                       AND p.delivered_at IS NULL)) heads
             WHERE turn <= $2
             ORDER BY turn, at, case_id, seq
             LIMIT $3",
        )
        .bind(now)
        .bind(CANDIDATES_PER_APP)
        .bind((limit as i64).saturating_mul(CANDIDATES_PER_APP))
        .fetch_all(self.db().pool())
        .await?;
        let mut claimed: Vec<PendingEvent> = Vec::new();
        let mut taken: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for r in &rows {
            if claimed.len() >= limit {
                break;
            }
            let app: String = r.try_get(5)?;
            let taken_of_app = taken.get(&app).copied().unwrap_or(0);
            if taken_of_app >= room_of(&app) {
                continue;
            }
            let case: String = r.try_get(0)?;
            let seq: i64 = r.try_get(1)?;
            let won = sqlx::query(
                "UPDATE case_events SET claimed_until = $1, attempts = attempts + 1
                 WHERE case_id = $2 AND seq = $3 AND delivered_at IS NULL AND deliver = 1
                   AND (claimed_until IS NULL OR claimed_until < $4)",
            )
            .bind(now + lease_ms)
            .bind(&case)
            .bind(seq)
            .bind(now)
            .execute(self.db().pool())
            .await?;
            if won.rows_affected() == 1 {
                taken.insert(app.clone(), taken_of_app + 1);
                claimed.push(PendingEvent {
                    case,
                    seq,
                    kind: r.try_get(2)?,
                    detail: r.try_get(3)?,
                    attempts: r.try_get::<i32, _>(4)? + 1,
                    app,
                    app_version: r.try_get(6)?,
                    item: r.try_get(7)?,
                    region: r.try_get(8)?,
                    subject: r.try_get(9)?,
                    channel: r.try_get(10)?,
                    on_behalf_of: r.try_get(11)?,
                });
            }
        }
        Ok(claimed)
    }

    /// The parked events (after [`MAX_ATTEMPTS`] failed deliveries), oldest
    /// first, at most `limit` of them. A parked event holds back the later
    /// events of its case until an operator puts it back.
    pub async fn parked_case_events(&self, limit: i64) -> ServiceResult<Vec<ParkedEvent>> {
        let rows = sqlx::query(
            "SELECT e.case_id, e.seq, e.kind, c.app_id, c.app_version, e.attempts, e.at, e.last_error
             FROM case_events e JOIN cases c ON c.id = e.case_id
             WHERE e.deliver = 2 AND e.delivered_at IS NULL
             ORDER BY e.at, e.case_id, e.seq
             LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ParkedEvent {
                    case: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    app: r.try_get(3)?,
                    app_version: r.try_get(4)?,
                    attempts: r.try_get(5)?,
                    at: r.try_get(6)?,
                    last_error: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Put a parked event back in the outbox with its attempts reset, so it
    /// is delivered again (and the later events of its case after it). The
    /// operator's action is an entry in the audit chain.
    pub async fn requeue_case_event(&self, actor: &str, case: &str, seq: i64) -> ServiceResult<()> {
        let mut tx = self.db().begin_write().await?;
        let moved = sqlx::query(
            "UPDATE case_events SET deliver = 1, attempts = 0, claimed_until = NULL
             WHERE case_id = $1 AND seq = $2 AND deliver = 2 AND delivered_at IS NULL",
        )
        .bind(case)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(ServiceError::not_found(format!("no parked event {seq} of case {case}")));
        }
        append_entry(
            &mut tx,
            actor,
            "case-event.requeue",
            &format!("case:{case}#{seq}"),
            &state_digest(&"parked"),
            &state_digest(&"pending"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The hook accepted the event.
    pub async fn mark_event_delivered(&self, case: &str, seq: i64) -> ServiceResult<()> {
        sqlx::query(
            "UPDATE case_events SET delivered_at = $1, claimed_until = NULL, last_error = NULL
             WHERE case_id = $2 AND seq = $3 AND delivered_at IS NULL",
        )
        .bind(now_ms())
        .bind(case)
        .bind(seq)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// The hook failed: retry after a backoff (1 s doubling, at most 5 min), or
    /// park the event after [`MAX_ATTEMPTS`].
    pub async fn mark_event_failed(&self, event: &PendingEvent, error: &str) -> ServiceResult<()> {
        let backoff = (1000i64 << event.attempts.clamp(0, 9)).min(300_000);
        let dead = event.attempts >= MAX_ATTEMPTS;
        sqlx::query(
            "UPDATE case_events SET claimed_until = $1, last_error = $2, deliver = $3
             WHERE case_id = $4 AND seq = $5 AND delivered_at IS NULL",
        )
        .bind(now_ms() + backoff)
        .bind(error.chars().take(2000).collect::<String>())
        .bind(if dead { 2i32 } else { 1i32 })
        .bind(&event.case)
        .bind(event.seq)
        .execute(self.db().pool())
        .await?;
        if dead {
            tracing::error!(case = %event.case, seq = event.seq, %error, "case event parked after {MAX_ATTEMPTS} failed deliveries");
        }
        Ok(())
    }

    /// No version serves the case's app now: retry in 5 s without counting
    /// an attempt, so a halted app does not park its cases' events.
    pub async fn mark_event_waiting(&self, event: &PendingEvent, why: &str) -> ServiceResult<()> {
        sqlx::query(
            "UPDATE case_events SET claimed_until = $1, last_error = $2, attempts = attempts - 1
             WHERE case_id = $3 AND seq = $4 AND delivered_at IS NULL AND attempts > 0",
        )
        .bind(now_ms() + 5_000)
        .bind(why.chars().take(2000).collect::<String>())
        .bind(&event.case)
        .bind(event.seq)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// How many events wait for delivery (for metrics and tests).
    pub async fn pending_case_events(&self) -> ServiceResult<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM case_events WHERE deliver = 1 AND delivered_at IS NULL")
                .fetch_one(self.db().pool())
                .await?
                .try_get(0)?,
        )
    }

    /// Record a timeline event that is not a stage change (a payment
    /// settling), in its own transaction.
    pub async fn record_case_event(
        &self,
        case: &str,
        kind: &str,
        detail: &str,
        actor: &CaseActor,
    ) -> ServiceResult<i64> {
        let mut tx = self.db().pool().begin().await?;
        let seq = super::append_event(&mut tx, case, kind, detail, actor, None).await?;
        tx.commit().await?;
        Ok(seq)
    }
}
