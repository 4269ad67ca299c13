//! The desired state's log (`deployment_events`): one row per change to what
//! serves, appended in the same transaction as the change. Nodes follow the
//! log's sequence: a node that has applied sequence `n` serves a table built
//! from every change up to `n`.
//!
//! After the change's transaction commits, the action announces the new
//! sequence with [`announce`] (PostgreSQL `NOTIFY` on [`CHANNEL`], carrying
//! only the number) from a statement of its own. A notifying commit takes a
//! lock every other notifying commit in the cluster waits for, so nothing is
//! ever notified from inside a release action's, a case's or a payment's
//! transaction. A lost notification costs only time: nodes also poll
//! [`latest_seq`].

use std::collections::HashMap;

use sqlx::{Any, Row, Transaction};
use tongban_store::{Database, now_ms};

use super::MarketError;

/// The PostgreSQL notification channel of the log. The payload is the new
/// sequence number in decimal and nothing else.
pub const CHANNEL: &str = "tongban_deployments";

/// One change to what serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change<'a> {
    /// `None` for a version-wide change (yank, revoke, quarantine).
    pub region: Option<&'a str>,
    pub app: &'a str,
    pub version: &'a str,
    /// What happened: a deployment action's name (`pilot`, `rollout`, ...),
    /// `supersede`, `yank`, `revoke` or `quarantine`.
    pub action: &'a str,
}

/// Record `changes` inside the transaction that makes them, and return the
/// sequence number of the last one. Every change to what serves goes through
/// here.
///
/// The serving epoch's row is updated first: its row lock is held to the
/// commit, so appending transactions commit one after another in the order
/// they drew their sequence numbers, and a reader that sees sequence `n`
/// committed has every smaller one committed too (the release actions hold
/// the audit chain's lock as well, but the log does not rely on it). Nodes
/// follow the sequence; the epoch's value is read by nothing any more, and
/// its row is kept as that lock.
pub(crate) async fn record(tx: &mut Transaction<'static, Any>, changes: &[Change<'_>]) -> Result<i64, MarketError> {
    sqlx::query("UPDATE serving_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let mut last = None;
    for change in changes {
        let seq: i64 = sqlx::query(
            "INSERT INTO deployment_events (region, app_id, version, package_digest, action, at)
             SELECT $1, app_id, version, package_digest, $2, $3 FROM versions WHERE app_id = $4 AND version = $5
             RETURNING seq",
        )
        .bind(change.region)
        .bind(change.action)
        .bind(now_ms())
        .bind(change.app)
        .bind(change.version)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            MarketError::Internal(format!(
                "{}@{} changed what serves but has no version row",
                change.app, change.version
            ))
        })?
        .try_get(0)?;
        last = Some(seq);
    }
    last.ok_or_else(|| MarketError::Internal("a change to what serves recorded no event".into()))
}

/// Tell listening nodes that the log reached `seq`. Called after the
/// change's transaction has committed, never inside a transaction; a failure
/// is logged and otherwise ignored, because the change is committed and the
/// nodes' polls find it.
pub(crate) async fn announce(db: &Database, seq: i64) {
    if let Err(e) = db.notify(CHANNEL, &seq.to_string()).await {
        tracing::warn!(seq, error = %e, "announcing a deployment event failed; nodes find it by polling");
    }
}

/// The newest sequence number in the log, 0 while it is empty.
pub async fn latest_seq(db: &Database) -> Result<i64, MarketError> {
    Ok(sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM deployment_events")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?)
}

/// The newest event of every (app, version, region), a version-wide event
/// under region `None`: what a deployment's readiness is measured against.
pub(crate) async fn latest_by_deployment(
    db: &Database,
) -> Result<HashMap<(String, String, Option<String>), i64>, MarketError> {
    let rows =
        sqlx::query("SELECT app_id, version, region, MAX(seq) FROM deployment_events GROUP BY app_id, version, region")
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?)))
        .collect()
}
