//! The `versions` table: one row per published version of an app, with its
//! review state, its manifest and the digest of its package blob. Every
//! marketplace action that reads or changes a version's row goes through
//! here, so publishing, review, release and key revocation share one
//! spelling of the state and one query for each read, and none of them
//! imports another for it.

use sqlx::{Any, Row, Transaction};

use super::{MarketError, Marketplace};
use crate::manifest::Manifest;
use crate::package::Package;
use crate::release::VersionState;

/// A version state as the `state` column spells it.
pub(crate) fn version_state_text(state: VersionState) -> String {
    state.to_string()
}

/// A `state` column read back; a spelling no state has is the database's
/// fault, not the caller's, so it is an internal error.
pub(crate) fn parse_version_state(text: &str) -> Result<VersionState, MarketError> {
    serde_json::from_value(serde_json::Value::String(text.into()))
        .map_err(|_| MarketError::Internal(format!("unknown version state `{text}` in the database")))
}

/// Set a version's state inside the caller's transaction. The caller has
/// checked the transition against the state machine and appends the audit
/// entry in the same transaction.
pub(crate) async fn set_version_state(
    tx: &mut Transaction<'static, Any>,
    app: &str,
    version: &str,
    state: VersionState,
) -> Result<(), MarketError> {
    sqlx::query("UPDATE versions SET state = $1 WHERE app_id = $2 AND version = $3")
        .bind(version_state_text(state))
        .bind(app)
        .bind(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The manifest of the app's most recently approved version (approved or
/// yanked), for diffs.
pub(crate) async fn last_approved_manifest<'e, E>(
    executor: E,
    app: &str,
    except: &str,
) -> Result<Option<Manifest>, MarketError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT manifest FROM versions WHERE app_id = $1 AND version <> $2 AND state IN ('approved', 'yanked')
         ORDER BY decided_at DESC, submitted_at DESC, version DESC LIMIT 1",
    )
    .bind(app)
    .bind(except)
    .fetch_optional(executor)
    .await?;
    row.map(|r| {
        Manifest::parse(&r.try_get::<String, _>(0)?)
            .map_err(|e| MarketError::Internal(format!("a stored manifest does not parse: {e}")))
    })
    .transpose()
}

/// A version's state and its app's org.
pub(crate) async fn version_state_and_org(
    tx: &mut Transaction<'static, Any>,
    app: &str,
    version: &str,
) -> Result<(VersionState, String), MarketError> {
    let row = sqlx::query("SELECT v.state, a.org_code FROM versions v JOIN apps a ON a.id = v.app_id WHERE v.app_id = $1 AND v.version = $2")
        .bind(app)
        .bind(version)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| MarketError::not_found(format!("{app}@{version} was never published")))?;
    Ok((parse_version_state(&row.try_get::<String, _>(0)?)?, row.try_get(1)?))
}

/// The digest of a version's package blob.
pub async fn package_digest(market: &Marketplace, app: &str, version: &str) -> Result<String, MarketError> {
    let row = sqlx::query("SELECT package_digest FROM versions WHERE app_id = $1 AND version = $2")
        .bind(app)
        .bind(version)
        .fetch_optional(market.db.pool())
        .await?
        .ok_or_else(|| MarketError::not_found(format!("{app}@{version} was never published")))?;
    Ok(row.try_get::<String, _>(0)?)
}

/// Read a version's package back from the blob store, verified.
pub async fn load_package(market: &Marketplace, app: &str, version: &str) -> Result<Package, MarketError> {
    let bytes = market.blobs.get(&package_digest(market, app, version).await?).await?;
    Package::from_bytes(&bytes).map_err(|e| MarketError::Internal(format!("a stored package does not read: {e}")))
}
