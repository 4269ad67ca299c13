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

use super::CaseActor;
use crate::Services;
use crate::error::ServiceResult;

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

impl Services {
    /// Claim up to `limit` deliverable events for `lease_ms`: per case only the
    /// oldest undelivered one, and none another node holds.
    pub async fn claim_case_events(&self, limit: i64, lease_ms: i64) -> ServiceResult<Vec<PendingEvent>> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT e.case_id, e.seq, e.kind, e.detail, e.attempts, c.app_id, c.app_version, c.item, c.region,
                    c.subject_id, c.channel, c.on_behalf_of
             FROM case_events e JOIN cases c ON c.id = e.case_id
             WHERE e.deliver = 1 AND e.delivered_at IS NULL
               AND (e.claimed_until IS NULL OR e.claimed_until < $1)
               AND NOT EXISTS (SELECT 1 FROM case_events p
                               WHERE p.case_id = e.case_id AND p.seq < e.seq AND p.deliver >= 1
                                 AND p.delivered_at IS NULL)
             ORDER BY e.at, e.case_id, e.seq
             LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db().pool())
        .await?;
        let mut claimed = Vec::new();
        for r in &rows {
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
                claimed.push(PendingEvent {
                    case,
                    seq,
                    kind: r.try_get(2)?,
                    detail: r.try_get(3)?,
                    attempts: r.try_get::<i32, _>(4)? + 1,
                    app: r.try_get(5)?,
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
