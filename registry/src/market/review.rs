//! Review: the queue, one submission with its capability diff, and the three
//! decisions. A reviewer never reviews a release of their own org; every added
//! capability must be acknowledged one by one; changes-requested and rejected
//! need a reason; the registry countersigns each approval.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::now_ms;

use super::audit_log::{append, begin, state_digest};
use super::versions::{last_approved_manifest, parse_version_state, set_version_state, version_state_and_org};
use super::{Actor, MarketError, Marketplace};
use crate::check::CheckReport;
use crate::diff::{CapabilityChange, capability_diff};
use crate::manifest::Manifest;
use crate::release::{Role, VersionAction, VersionState};

/// The domain tag of approval countersignatures.
pub const APPROVAL_DOMAIN: &str = "tongban-approval-v1";

/// A line of the review queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    pub app: String,
    pub version: String,
    pub org: String,
    pub submitted_by: String,
    pub submitted_at: i64,
}

/// One submission as the reviewer sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    pub app: String,
    pub version: String,
    pub org: String,
    pub state: VersionState,
    pub manifest: String,
    pub check_report: CheckReport,
    /// Against the last approved version; additions need acknowledgement.
    pub diff: Vec<CapabilityChange>,
    pub needs_acknowledgement: Vec<String>,
    pub key_id: String,
    pub package_digest: String,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub countersignature: Option<String>,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "decision")]
pub enum Decision {
    Approve { acknowledged: Vec<String> },
    RequestChanges { reason: String },
    Reject { reason: String },
}

impl Marketplace {
    /// Versions waiting for review, oldest first, without the reviewer's own org.
    pub async fn review_queue(&self, actor: &Actor) -> Result<Vec<QueueEntry>, MarketError> {
        actor.require(&[Role::Reviewer, Role::PlatformAdmin], "reading the review queue")?;
        let rows = sqlx::query(
            "SELECT v.app_id, v.version, a.org_code, v.submitted_by, v.submitted_at
             FROM versions v JOIN apps a ON a.id = v.app_id
             WHERE v.state = 'in-review' ORDER BY v.submitted_at, v.app_id, v.version",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut queue = Vec::new();
        for r in rows {
            let entry = QueueEntry {
                app: r.try_get(0)?,
                version: r.try_get(1)?,
                org: r.try_get(2)?,
                submitted_by: r.try_get(3)?,
                submitted_at: r.try_get(4)?,
            };
            if actor.org.as_deref() != Some(entry.org.as_str()) {
                queue.push(entry);
            }
        }
        Ok(queue)
    }

    /// One submission with its diff.
    pub async fn submission(&self, app: &str, version: &str) -> Result<Submission, MarketError> {
        let row = sqlx::query(
            "SELECT a.org_code, v.state, v.manifest, v.check_report, v.key_id, v.package_digest, v.decided_by,
                    v.decision_reason, v.countersignature
             FROM versions v JOIN apps a ON a.id = v.app_id WHERE v.app_id = $1 AND v.version = $2",
        )
        .bind(app)
        .bind(version)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| MarketError::not_found(format!("{app}@{version} was never published")))?;
        let manifest_text: String = row.try_get(2)?;
        let manifest = Manifest::parse(&manifest_text).map_err(|e| MarketError::Internal(e.to_string()))?;
        let previous = last_approved_manifest(self.db.pool(), app, version).await?;
        let diff = capability_diff(previous.as_ref(), &manifest);
        Ok(Submission {
            app: app.into(),
            version: version.into(),
            org: row.try_get(0)?,
            state: parse_version_state(&row.try_get::<String, _>(1)?)?,
            manifest: manifest_text,
            check_report: serde_json::from_str(&row.try_get::<String, _>(3)?)
                .map_err(|e| MarketError::Internal(e.to_string()))?,
            needs_acknowledgement: diff
                .iter()
                .filter(|c| c.needs_acknowledgement())
                .map(|c| c.id.clone())
                .collect(),
            diff,
            key_id: row.try_get(4)?,
            package_digest: row.try_get(5)?,
            decided_by: row.try_get(6)?,
            decision_reason: row.try_get(7)?,
            countersignature: row.try_get(8)?,
        })
    }

    /// Decide on a submission.
    pub async fn decide(
        &self,
        actor: &Actor,
        app: &str,
        version: &str,
        decision: Decision,
    ) -> Result<VersionState, MarketError> {
        actor.require(&[Role::Reviewer], "reviewing")?;
        let submission = self.submission(app, version).await?;
        if actor.org.as_deref() == Some(submission.org.as_str()) {
            return Err(MarketError::forbidden(format!(
                "separation of duties: {} belongs to org {}, the publisher of {app}, and may not review it",
                actor.user, submission.org
            )));
        }
        let (action, reason) = match &decision {
            Decision::Approve { acknowledged } => {
                let missing: Vec<&String> = submission
                    .needs_acknowledgement
                    .iter()
                    .filter(|id| !acknowledged.contains(id))
                    .collect();
                if !missing.is_empty() {
                    return Err(MarketError::invalid(format!(
                        "acknowledge each added capability before approving; not yet acknowledged: {}",
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                (VersionAction::Approve, None)
            }
            Decision::RequestChanges { reason } | Decision::Reject { reason } => {
                if reason.trim().is_empty() {
                    return Err(MarketError::invalid(
                        "a reason is required to request changes or reject",
                    ));
                }
                let action = if matches!(decision, Decision::Reject { .. }) {
                    VersionAction::Reject
                } else {
                    VersionAction::RequestChanges
                };
                (action, Some(reason.trim().to_owned()))
            }
        };
        let mut tx = begin(&self.db).await?;
        let (state, _) = version_state_and_org(&mut tx, app, version).await?;
        let next = state.apply(action, Role::Reviewer)?;
        let now = now_ms();
        let countersignature = (next == VersionState::Approved).then(|| {
            self.registry_key.sign_text(
                APPROVAL_DOMAIN,
                &format!("{app}@{version}:{}:{}:{now}", submission.package_digest, actor.user),
            )
        });
        set_version_state(&mut tx, app, version, next).await?;
        sqlx::query(
            "UPDATE versions SET decided_by = $1, decided_at = $2, decision_reason = $3, countersignature = $4
             WHERE app_id = $5 AND version = $6",
        )
        .bind(&actor.user)
        .bind(now)
        .bind(&reason)
        .bind(&countersignature)
        .bind(app)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if next == VersionState::Approved {
            sqlx::query("UPDATE apps SET latest_version = $1, updated_at = $2 WHERE id = $3")
                .bind(version)
                .bind(now)
                .bind(app)
                .execute(&mut *tx)
                .await?;
        }
        let action_name = match action {
            VersionAction::Approve => "version.approve",
            VersionAction::Reject => "version.reject",
            _ => "version.request-changes",
        };
        append(
            &mut tx,
            actor,
            action_name,
            &format!("{app}@{version}"),
            &state_digest(&state),
            &state_digest(&(next, &reason)),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }
}

impl Submission {
    /// The capabilities and limits this version keeps exactly as the last
    /// approved version had them, for showing beside the diff: grants by id
    /// (`identity.attributes/name`), limits as `id = value`. A first version
    /// keeps nothing, since all of it is new.
    pub fn unchanged(&self) -> Result<Vec<String>, MarketError> {
        let manifest = Manifest::parse(&self.manifest)
            .map_err(|e| MarketError::Internal(format!("a stored manifest does not parse: {e}")))?;
        // Against nothing, every grant is an addition and every set limit a
        // raise from zero: that is the version's whole grant, one line each.
        let everything = capability_diff(None, &manifest);
        Ok(everything
            .into_iter()
            .filter(|c| !self.diff.iter().any(|changed| changed.id == c.id))
            .map(|c| match c.after {
                Some(value) => format!("{} = {value}", c.id),
                None => c.id,
            })
            .collect())
    }
}
