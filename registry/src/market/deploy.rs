//! Release per region: pilot, staged rollout, halt, rollback, deprecate, and
//! the version-wide yank and revoke. Every change appends to the deployment
//! log in the same transaction and is announced to the nodes after the
//! commit (`deployment_events.rs`); each node loads what the new table
//! serves and swaps it in, so a change is live everywhere with no restart.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::now_ms;

use super::audit_log::{append, begin, state_digest};
use super::deployment_events::{Change, announce, record};
use super::deployments::{deployment_from_row, load_deployment, save_deployment};
use super::orgs::is_region_code;
use super::serving::region_chain;
use super::versions::{parse_version_state, set_version_state, version_state_and_org};
use super::{Actor, MarketError, Marketplace};
use crate::release::{DeploymentAction, DeploymentState, Role, VersionAction, VersionState, check_rollout_percentage};

// A deployment's row belongs to the deployments table; its path here stays
// for the server.
pub use super::deployments::Deployment;

/// What a release action asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum ReleaseAction {
    /// Serve the version to a named group of subjects only.
    Pilot {
        region: String,
        group: Vec<String>,
    },
    /// Serve the version to this share of subjects; the share only rises, and
    /// at 100 the version becomes the region's active version.
    Rollout {
        region: String,
        percentage: u8,
    },
    Halt {
        region: String,
    },
    /// After a halt, the previous active version serves alone again.
    Rollback {
        region: String,
    },
    Deprecate {
        region: String,
        message: String,
        sunset_at: i64,
    },
    /// No new pilots or rollouts anywhere; existing deployments keep serving.
    /// The reason is kept with the version for its publisher and auditors.
    Yank {
        #[serde(default)]
        reason: String,
    },
    /// Stop serving everywhere at once (kill switch). The reason is kept
    /// with the version for its publisher and auditors.
    Revoke {
        #[serde(default)]
        reason: String,
    },
}

/// The longest reason for a yank or a revocation, in characters.
pub const MAX_STATE_REASON_CHARS: usize = 500;

/// The deployment action of a region-scoped release action (yank and revoke
/// act on the version, not a deployment).
fn deployment_action(action: &ReleaseAction) -> DeploymentAction {
    match action {
        ReleaseAction::Pilot { .. } => DeploymentAction::Pilot,
        ReleaseAction::Rollout { .. } => DeploymentAction::Rollout,
        ReleaseAction::Halt { .. } => DeploymentAction::Halt,
        ReleaseAction::Rollback { .. } => DeploymentAction::Rollback,
        ReleaseAction::Deprecate { .. } | ReleaseAction::Yank { .. } | ReleaseAction::Revoke { .. } => {
            DeploymentAction::Deprecate
        }
    }
}

/// The audit digest of a version's state and its yank and revocation
/// reasons (`state_reason`); without reasons, the digest of the state alone,
/// as every other version action records it.
pub fn state_digest_with_reasons(state: VersionState, reasons: Option<&str>) -> String {
    match reasons {
        Some(reasons) => state_digest(&(state, reasons)),
        None => state_digest(&state),
    }
}

/// A yank's or revocation's reason, trimmed: required, and bounded.
fn check_state_reason(action: &ReleaseAction, reason: &str) -> Result<String, MarketError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(MarketError::invalid(format!(
            "a {} needs a reason; the publisher and auditors read it",
            if matches!(action, ReleaseAction::Yank { .. }) {
                "yank"
            } else {
                "revocation"
            }
        )));
    }
    let chars = reason.chars().count();
    if chars > MAX_STATE_REASON_CHARS {
        return Err(MarketError::invalid(format!(
            "the reason is {chars} characters; at most {MAX_STATE_REASON_CHARS}"
        )));
    }
    Ok(reason.to_owned())
}

fn release_verb(action: &ReleaseAction) -> &'static str {
    match action {
        ReleaseAction::Pilot { .. } => "pilot",
        ReleaseAction::Rollout { .. } => "roll out",
        ReleaseAction::Halt { .. } => "halt",
        ReleaseAction::Rollback { .. } => "roll back",
        ReleaseAction::Deprecate { .. } => "deprecate",
        ReleaseAction::Yank { .. } => "yank",
        ReleaseAction::Revoke { .. } => "revoke",
    }
}

fn region_of(action: &ReleaseAction) -> Option<&str> {
    match action {
        ReleaseAction::Pilot { region, .. }
        | ReleaseAction::Rollout { region, .. }
        | ReleaseAction::Halt { region }
        | ReleaseAction::Rollback { region }
        | ReleaseAction::Deprecate { region, .. } => Some(region),
        ReleaseAction::Yank { .. } | ReleaseAction::Revoke { .. } => None,
    }
}

impl Marketplace {
    /// Apply a release action to a version.
    pub async fn release(
        &self,
        actor: &Actor,
        app: &str,
        version: &str,
        action: ReleaseAction,
    ) -> Result<String, MarketError> {
        let may_ever = match &action {
            ReleaseAction::Yank { .. } => VersionState::role_may_ever(VersionAction::Yank, actor.role),
            ReleaseAction::Revoke { .. } => VersionState::role_may_ever(VersionAction::Revoke, actor.role),
            other => DeploymentState::role_may_ever(deployment_action(other), actor.role),
        };
        if !may_ever {
            return Err(MarketError::forbidden(format!(
                "cannot {} a release as {}",
                release_verb(&action),
                actor.role
            )));
        }
        if let Some(region) = region_of(&action) {
            if !is_region_code(region) {
                return Err(MarketError::invalid(format!(
                    "`{region}` is not a 6-digit GB/T 2260 region code"
                )));
            }
            if actor.role == Role::RegionAdmin && actor.region.as_deref() != Some(region) {
                return Err(MarketError::forbidden(format!(
                    "{} administers region {}, not {region}",
                    actor.user,
                    actor.region.as_deref().unwrap_or("none")
                )));
            }
        }
        // Checked before the transaction, which holds the audit chain's lock.
        let state_reason = match &action {
            ReleaseAction::Yank { reason } | ReleaseAction::Revoke { reason } => {
                Some(check_state_reason(&action, reason)?)
            }
            _ => None,
        };
        let mut tx = begin(&self.db).await?;
        let (version_state, owner) = version_state_and_org(&mut tx, app, version).await?;
        if actor.role == Role::Publisher && actor.org.as_deref() != Some(owner.as_str()) {
            return Err(MarketError::forbidden(format!("{app} belongs to org {owner}")));
        }
        let subject = format!("{app}@{version}");
        // Every version whose deployment in the action's region a full
        // rollout supersedes; each is a change to what serves of its own.
        let mut superseded: Vec<String> = Vec::new();
        let (summary, region) = match &action {
            ReleaseAction::Yank { .. } | ReleaseAction::Revoke { .. } => {
                let (verb, name, said) = if matches!(action, ReleaseAction::Yank { .. }) {
                    (VersionAction::Yank, "release.yank", "yank")
                } else {
                    (VersionAction::Revoke, "release.revoke", "revoke")
                };
                let reason = state_reason.expect("yank and revoke carry a checked reason");
                let next = version_state.apply(verb, actor.role)?;
                // A revocation after a yank keeps the yank's reason: the
                // version's reasons are one line per action, oldest first.
                let earlier: Option<String> =
                    sqlx::query("SELECT state_reason FROM versions WHERE app_id = $1 AND version = $2")
                        .bind(app)
                        .bind(version)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                let line = format!("{said}: {reason}");
                let reasons = match &earlier {
                    Some(earlier) => format!("{earlier}\n{line}"),
                    None => line,
                };
                set_version_state(&mut tx, app, version, next).await?;
                sqlx::query("UPDATE versions SET state_reason = $1 WHERE app_id = $2 AND version = $3")
                    .bind(&reasons)
                    .bind(app)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                // The chain's digests cover the state with the reasons, so
                // one action's after-digest is the next one's before-digest.
                append(
                    &mut tx,
                    actor,
                    name,
                    &subject,
                    &state_digest_with_reasons(version_state, earlier.as_deref()),
                    &state_digest_with_reasons(next, Some(&reasons)),
                )
                .await?;
                (format!("{subject} is {next}: {reason}"), None)
            }
            regional => {
                let region = region_of(regional).expect("regional actions have a region").to_owned();
                let current = load_deployment(&mut tx, app, &region, version).await?;
                let kind = deployment_action(regional);
                if matches!(kind, DeploymentAction::Pilot | DeploymentAction::Rollout) && !version_state.may_deploy() {
                    return Err(MarketError::conflict(format!(
                        "{subject} is {version_state}; only an approved version may be piloted or rolled out"
                    )));
                }
                let next = DeploymentState::apply(current.as_ref().map(|d| d.state), kind, actor.role)?;
                let mut deployment = current.clone().unwrap_or(Deployment {
                    app: app.into(),
                    region: region.clone(),
                    version: version.into(),
                    state: next,
                    percentage: 0,
                    pilot_group: vec![],
                    message: None,
                    sunset_at: None,
                });
                match regional {
                    ReleaseAction::Pilot { group, .. } => {
                        if group.is_empty() {
                            return Err(MarketError::invalid(
                                "a pilot needs a named group of at least one subject",
                            ));
                        }
                        deployment.pilot_group = group.clone();
                    }
                    ReleaseAction::Rollout { percentage, .. } => {
                        let previous = current
                            .as_ref()
                            .filter(|d| d.state == DeploymentState::RollingOut)
                            .map(|d| d.percentage);
                        check_rollout_percentage(previous, *percentage).map_err(MarketError::Invalid)?;
                        deployment.percentage = *percentage;
                    }
                    ReleaseAction::Deprecate { message, sunset_at, .. } => {
                        if message.trim().is_empty() {
                            return Err(MarketError::invalid("a deprecation needs a message for users"));
                        }
                        deployment.message = Some(message.clone());
                        deployment.sunset_at = Some(*sunset_at);
                    }
                    _ => {}
                }
                deployment.state = next;
                if next == DeploymentState::RollingOut && deployment.percentage == 100 {
                    deployment.state = DeploymentState::Active;
                    superseded = sqlx::query(
                        "SELECT version FROM deployments
                         WHERE app_id = $1 AND region = $2 AND version <> $3 AND state IN ('active', 'deprecated')
                         ORDER BY version",
                    )
                    .bind(app)
                    .bind(&region)
                    .bind(version)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                    sqlx::query(
                        "UPDATE deployments SET state = 'superseded', updated_at = $1
                         WHERE app_id = $2 AND region = $3 AND version <> $4 AND state IN ('active', 'deprecated')",
                    )
                    .bind(now_ms())
                    .bind(app)
                    .bind(&region)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                }
                save_deployment(&mut tx, &deployment).await?;
                append(
                    &mut tx,
                    actor,
                    &format!("release.{kind}"),
                    &format!("{subject}/{region}"),
                    &state_digest(&current),
                    &state_digest(&deployment),
                )
                .await?;
                (
                    format!(
                        "{subject} in {region} is {}{}",
                        deployment.state,
                        match deployment.state {
                            DeploymentState::RollingOut => format!(" at {}%", deployment.percentage),
                            _ => String::new(),
                        }
                    ),
                    Some(region),
                )
            }
        };
        let action_name = match &action {
            ReleaseAction::Yank { .. } => "yank".to_owned(),
            ReleaseAction::Revoke { .. } => "revoke".to_owned(),
            regional => deployment_action(regional).to_string(),
        };
        let mut changes: Vec<Change> = superseded
            .iter()
            .map(|older| Change {
                region: region.as_deref(),
                app,
                version: older,
                action: "supersede",
            })
            .collect();
        changes.push(Change {
            region: region.as_deref(),
            app,
            version,
            action: &action_name,
        });
        let seq = record(&mut tx, &changes).await?;
        tx.commit().await?;
        // After the commit, from a statement of its own.
        announce(&self.db, seq).await;
        Ok(summary)
    }

    /// Deployments of an app, optionally in one region.
    pub async fn deployments(&self, app: &str, region: Option<&str>) -> Result<Vec<Deployment>, MarketError> {
        let rows = sqlx::query(
            "SELECT app_id, region, version, state, percentage, pilot_group, message, sunset_at FROM deployments
             WHERE app_id = $1 AND ($2 = '' OR region = $2) ORDER BY region, updated_at, version",
        )
        .bind(app)
        .bind(region.unwrap_or(""))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }
}

/// A version as the release pages show it: its review state and its
/// deployments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedVersion {
    pub app: String,
    pub name_zh: String,
    pub name_en: String,
    pub version: String,
    pub state: VersionState,
    /// Why the version was yanked or revoked, once it was: one line per
    /// action (`yank: ...`, `revoke: ...`), oldest first.
    pub state_reason: Option<String>,
    pub deployments: Vec<Deployment>,
}

/// Whether a deployment in `other` concerns the administrator of `region`:
/// the same region, one that `region` falls back to (its city, its province),
/// or one that falls back to `region` (its districts).
pub fn region_concerns(region: &str, other: &str) -> bool {
    region_chain(region).iter().any(|r| r == other) || region_chain(other).iter().any(|r| r == region)
}

impl Marketplace {
    /// Every version that is or was released: approved, yanked or revoked, or
    /// deployed somewhere (a quarantined version keeps its deployments), each
    /// with all its deployments; by app, oldest submission first.
    pub async fn released_versions(&self) -> Result<Vec<ReleasedVersion>, MarketError> {
        let rows = sqlx::query(
            "SELECT v.app_id, a.name_zh, a.name_en, v.version, v.state, v.state_reason FROM versions v JOIN apps a ON a.id = v.app_id
             WHERE v.state IN ('approved', 'yanked', 'revoked')
                OR EXISTS (SELECT 1 FROM deployments d WHERE d.app_id = v.app_id AND d.version = v.version)
             ORDER BY v.app_id, v.submitted_at, v.version",
        )
        .fetch_all(self.db.pool())
        .await?;
        let deployments = sqlx::query(
            "SELECT app_id, region, version, state, percentage, pilot_group, message, sunset_at FROM deployments
             ORDER BY region, updated_at, app_id, version",
        )
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(deployment_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        rows.iter()
            .map(|r| {
                let app: String = r.try_get(0)?;
                let version: String = r.try_get(3)?;
                Ok(ReleasedVersion {
                    deployments: deployments
                        .iter()
                        .filter(|d| d.app == app && d.version == version)
                        .cloned()
                        .collect(),
                    app,
                    name_zh: r.try_get(1)?,
                    name_en: r.try_get(2)?,
                    version,
                    state: parse_version_state(&r.try_get::<String, _>(4)?)?,
                    state_reason: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// What the administrator of `region` releases: every version deployed in
    /// a region that [concerns](region_concerns) it, and every approved
    /// version (each may be piloted or rolled out there), each with its
    /// deployments in those regions only.
    pub async fn region_releases(&self, region: &str) -> Result<Vec<ReleasedVersion>, MarketError> {
        if !is_region_code(region) {
            return Err(MarketError::invalid(format!(
                "`{region}` is not a 6-digit GB/T 2260 region code"
            )));
        }
        let mut versions = self.released_versions().await?;
        for v in &mut versions {
            v.deployments.retain(|d| region_concerns(region, &d.region));
        }
        versions.retain(|v| v.state.may_deploy() || !v.deployments.is_empty());
        Ok(versions)
    }
}

#[cfg(test)]
mod tests {
    use super::region_concerns;

    #[test]
    fn a_region_concerns_its_parents_and_children_only() {
        assert!(region_concerns("330100", "330100"));
        assert!(region_concerns("330100", "330000"), "the province it falls back to");
        assert!(region_concerns("330100", "330106"), "a district that falls back to it");
        assert!(!region_concerns("330100", "330200"), "a sibling city");
        assert!(!region_concerns("330106", "330105"), "a sibling district");
    }
}
