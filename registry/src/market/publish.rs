//! Publishing a version: every check of `tongban app check` again, the
//! signature against the org's keys, the namespace, a version number that
//! was never used, and a compile of the component where a stuck or huge
//! compile hurts no one. Everything that can refuse the upload is checked
//! before its blob is stored; the version row and its audit entry are then
//! one transaction (which checks the namespace, key and version again, in
//! case they changed meanwhile), and a refusal there removes the blob it
//! stored, unless another version refers to the same bytes. A refused
//! publish leaves neither a row nor a blob behind; `tongban admin
//! orphan-blobs` finds what a crash between the two steps could leave.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::now_ms;

use super::audit_log::{append, begin, state_digest};
use super::keys::KeyState;
use super::versions::{
    last_approved_manifest, parse_version_state, set_version_state, version_state_and_org, version_state_text,
};
use super::{Actor, MarketError, Marketplace, package_work};
use crate::check::{CheckReport, check_package};
use crate::diff::{CapabilityChange, capability_diff};
use crate::manifest::Manifest;
use crate::package::Package;
use crate::release::{Role, VersionAction, VersionState};
use crate::signing::{SignatureError, parse_public_key, verify_package_signature};

// Reading a version's package back is the versions table's; the paths here
// stay for the server and the tests that use them.
pub use super::versions::{load_package, package_digest};

/// What the publisher gets back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishReceipt {
    pub app: String,
    pub version: String,
    pub state: VersionState,
    pub package_digest: String,
    /// The capability diff the reviewer will see.
    pub diff: Vec<CapabilityChange>,
}

/// The refusals a publish checks against the database: the app id in one of
/// the org's namespaces, the signing key the org's and active, the signature
/// good, and the version number never used. Checked before the blob is
/// stored, and again inside the publishing transaction.
async fn admissible(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    app: &str,
    version: &str,
    digest: &str,
    signature: &crate::signing::PackageSignature,
) -> Result<(), MarketError> {
    match super::orgs::namespace_owner(&mut *conn, app).await? {
        Some(owner) if owner == org => {}
        Some(owner) => {
            return Err(MarketError::forbidden(format!(
                "app id `{app}` lies in a namespace of org {owner}, not of org {org}"
            )));
        }
        None => {
            return Err(MarketError::forbidden(format!(
                "app id `{app}` is outside every namespace of org {org}"
            )));
        }
    }
    let key = super::keys::find_key(&mut *conn, &signature.key_id)
        .await?
        .filter(|k| k.org == org)
        .ok_or_else(|| SignatureError::UnknownKey(signature.key_id.clone()))?;
    if key.state != KeyState::Active {
        return Err(MarketError::Signature(SignatureError::Malformed {
            what: "signing key",
            detail: format!("key {} is {:?} and may not sign new versions", key.key_id, key.state).to_lowercase(),
        }));
    }
    verify_package_signature(digest, signature, &parse_public_key(&key.public_key)?)?;
    let used = sqlx::query("SELECT state FROM versions WHERE app_id = $1 AND version = $2")
        .bind(app)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = used {
        return Err(MarketError::conflict(format!(
            "version {version} of {app} was already published (now {}); a version number is never reused",
            row.try_get::<String, _>(0)?
        )));
    }
    Ok(())
}

impl Marketplace {
    /// Publish a package (the `.tbpkg` bytes) as the acting publisher.
    pub async fn publish(&self, actor: &Actor, bytes: Vec<u8>) -> Result<PublishReceipt, MarketError> {
        actor.require(&[Role::Publisher], "publishing")?;
        let org = actor
            .org
            .clone()
            .ok_or_else(|| MarketError::forbidden("a publisher belongs to an org"))?;
        // Unpacking and checking are CPU work on untrusted bytes: off the
        // async workers, a bounded number at a time.
        let (package, bytes, mut report) = package_work::run(move || {
            let package = Package::from_bytes(&bytes).map_err(|e| MarketError::invalid(e.to_string()))?;
            let report = check_package(&package);
            Ok::<_, MarketError>((package, bytes, report))
        })
        .await??;
        let manifest = package.manifest().map_err(|e| MarketError::invalid(e.to_string()))?;
        if !report.is_ok() {
            return Err(MarketError::Checks(report.problems));
        }
        let app = manifest.app.id.clone();
        let version = manifest.app.version.to_string();
        if manifest.app.publisher != org {
            return Err(MarketError::forbidden(format!(
                "the manifest names publisher {}, but you publish for org {org}",
                manifest.app.publisher
            )));
        }
        let digest = package.digest();
        let signature = package.signature.clone().ok_or(SignatureError::Unsigned)?;
        {
            let mut conn = self.db.pool().acquire().await?;
            admissible(&mut conn, &org, &app, &version, &digest, &signature).await?;
        }

        // Compile where a stuck or huge compile hurts no one; a component
        // that does not compile is refused before anything is stored.
        let package = match self.compiler.clone() {
            Some(compiler) => {
                let (package, compiled) = package_work::run(move || {
                    let compiled = compiler.compile(&package);
                    (package, compiled)
                })
                .await?;
                if let Err(why) = compiled {
                    return Err(MarketError::Checks(vec![crate::check::Problem {
                        check: crate::check::CheckName::Compile,
                        message: why,
                    }]));
                }
                report.ran.push(crate::check::CheckName::Compile);
                package
            }
            None => package,
        };

        let blob_digest = self.blobs.put(bytes).await?;
        match self
            .record_version(actor, &org, &package, &manifest, &report, &blob_digest, &signature)
            .await
        {
            Ok(receipt) => Ok(receipt),
            Err(refused) => {
                self.forget_unreferenced_blob(&blob_digest, &refused).await;
                Err(refused)
            }
        }
    }

    /// Remove the blob a refused publish stored, unless a version refers to
    /// it: the same bytes published before, or by a concurrent publish of
    /// the same version (refused here as a reused version number, which
    /// keeps the blob: the other publish may not have committed yet). Only a
    /// definite refusal removes it; after a storage failure the blob stays
    /// for `tongban admin orphan-blobs`.
    async fn forget_unreferenced_blob(&self, digest: &str, refused: &MarketError) {
        if matches!(
            refused,
            MarketError::Conflict(_) | MarketError::Internal(_) | MarketError::Busy(_)
        ) {
            return;
        }
        let referenced = sqlx::query("SELECT 1 FROM versions WHERE package_digest = $1")
            .bind(digest)
            .fetch_optional(self.db.pool())
            .await;
        if let Ok(None) = referenced
            && let Err(e) = self.blobs.delete(digest).await
        {
            tracing::warn!(%digest, error = %e, "the blob of a refused publish stays; `tongban admin orphan-blobs` removes it");
        }
    }

    /// The version row and its audit entry, in one transaction that checks
    /// again what may have changed since the upload was checked.
    #[allow(clippy::too_many_arguments)]
    async fn record_version(
        &self,
        actor: &Actor,
        org: &str,
        package: &Package,
        manifest: &Manifest,
        report: &CheckReport,
        blob_digest: &str,
        signature: &crate::signing::PackageSignature,
    ) -> Result<PublishReceipt, MarketError> {
        let app = manifest.app.id.clone();
        let version = manifest.app.version.to_string();
        let mut tx = begin(&self.db).await?;
        // Under the chain's lock, which the orphan sweep also holds while it
        // removes a blob: the blob stored above is still there.
        if !self.blobs.exists(blob_digest).await? {
            return Err(MarketError::Busy(
                "the package's blob was removed while it was being published; publish it again".into(),
            ));
        }
        admissible(&mut tx, org, &app, &version, &package.digest(), signature).await?;
        let now = now_ms();
        let existing = sqlx::query("SELECT org_code FROM apps WHERE id = $1")
            .bind(&app)
            .fetch_optional(&mut *tx)
            .await?;
        let name_en = manifest.app.name.en.clone().unwrap_or_default();
        let search_text = format!("{} {} {}", app, manifest.app.name.zh_cn, name_en).to_lowercase();
        match existing {
            None => {
                sqlx::query(
                    "INSERT INTO apps (id, org_code, name_zh, name_en, search_text, latest_version, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)",
                )
                .bind(&app)
                .bind(org)
                .bind(&manifest.app.name.zh_cn)
                .bind(&name_en)
                .bind(&search_text)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Some(row) if row.try_get::<String, _>(0)? != *org => {
                return Err(MarketError::forbidden(format!("app {app} belongs to another org")));
            }
            Some(_) => {}
        }

        // draft -> submitted -> checking -> in-review, by the state machine.
        let state = VersionState::Draft
            .apply(VersionAction::Submit, Role::Publisher)?
            .apply(VersionAction::StartChecks, Role::System)?
            .apply(VersionAction::ChecksPassed, Role::System)?;
        sqlx::query(
            "INSERT INTO versions (app_id, version, state, manifest, package_digest, component_digest, key_id, signature,
                                   check_report, submitted_by, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&app)
        .bind(&version)
        .bind(version_state_text(state))
        .bind(&package.manifest_text)
        .bind(blob_digest)
        .bind(package.component_digest())
        .bind(&signature.key_id)
        .bind(&signature.signature)
        .bind(serde_json::to_string(report).expect("reports serialize"))
        .bind(&actor.user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let previous = last_approved_manifest(&mut *tx, &app, &version).await?;
        let diff = capability_diff(previous.as_ref(), manifest);
        append(
            &mut tx,
            actor,
            "version.submit",
            &format!("{app}@{version}"),
            "",
            &state_digest(&(blob_digest, state)),
        )
        .await?;
        tx.commit().await?;
        Ok(PublishReceipt {
            app,
            version,
            state,
            package_digest: blob_digest.to_owned(),
            diff,
        })
    }

    /// The publisher withdraws a version that is still in review.
    pub async fn withdraw(&self, actor: &Actor, app: &str, version: &str) -> Result<VersionState, MarketError> {
        actor.require(&[Role::Publisher], "withdrawing a version")?;
        let mut tx = begin(&self.db).await?;
        let (state, owner) = version_state_and_org(&mut tx, app, version).await?;
        if actor.org.as_deref() != Some(owner.as_str()) {
            return Err(MarketError::forbidden(format!("{app} belongs to org {owner}")));
        }
        let next = state.apply(VersionAction::Withdraw, Role::Publisher)?;
        set_version_state(&mut tx, app, version, next).await?;
        append(
            &mut tx,
            actor,
            "version.withdraw",
            &format!("{app}@{version}"),
            &state_digest(&state),
            &state_digest(&next),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }
}

/// One version of one of an org's apps, as its publisher follows it through
/// review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgVersion {
    pub app: String,
    pub name_zh: String,
    pub name_en: String,
    pub version: String,
    pub state: VersionState,
    pub submitted_by: String,
    pub submitted_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// The reviewer's reason for requesting changes or rejecting.
    pub decision_reason: Option<String>,
    /// Why the version was yanked or revoked, once it was: one line per
    /// action (`yank: ...`, `revoke: ...`), oldest first.
    pub state_reason: Option<String>,
}

impl Marketplace {
    /// Every version of every app of `org`, by app id and then newest
    /// submission first. Only the org's own publishers and platform admins
    /// may read it: what an org has in review is its own business until
    /// approved.
    pub async fn org_versions(&self, actor: &Actor, org: &str) -> Result<Vec<OrgVersion>, MarketError> {
        actor.require(&[Role::Publisher, Role::PlatformAdmin], "listing an org's versions")?;
        if actor.role == Role::Publisher && actor.org.as_deref() != Some(org) {
            return Err(MarketError::forbidden(format!(
                "{} publishes for org {}, not for org {org}",
                actor.user,
                actor.org.as_deref().unwrap_or("(none)")
            )));
        }
        let rows = sqlx::query(
            "SELECT v.app_id, a.name_zh, a.name_en, v.version, v.state, v.submitted_by, v.submitted_at,
                    v.decided_by, v.decided_at, v.decision_reason, v.state_reason
             FROM versions v JOIN apps a ON a.id = v.app_id
             WHERE a.org_code = $1 ORDER BY v.app_id, v.submitted_at DESC, v.version DESC",
        )
        .bind(org)
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OrgVersion {
                    app: r.try_get(0)?,
                    name_zh: r.try_get(1)?,
                    name_en: r.try_get(2)?,
                    version: r.try_get(3)?,
                    state: parse_version_state(&r.try_get::<String, _>(4)?)?,
                    submitted_by: r.try_get(5)?,
                    submitted_at: r.try_get(6)?,
                    decided_by: r.try_get(7)?,
                    decided_at: r.try_get(8)?,
                    decision_reason: r.try_get(9)?,
                    state_reason: r.try_get(10)?,
                })
            })
            .collect()
    }
}
