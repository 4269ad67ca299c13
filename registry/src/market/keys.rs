//! Publisher keys (Ed25519), registered per org. A key is `active` (signs new
//! packages), `retired` by rotation (still verifies what it signed before), or
//! `revoked`. Revoking a key with a compromise time quarantines every version
//! it signed at or after that time: they go back to review and stop serving.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::{Database, now_ms};

use super::audit_log::{append, begin, state_digest};
use super::deployment_events::{Change, announce, record};
use super::{Actor, MarketError};
use crate::release::{Role, VersionAction};
use crate::signing::{key_id, parse_public_key};

/// A key's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    Active,
    Retired,
    Revoked,
}

/// A publisher key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherKey {
    pub key_id: String,
    pub org: String,
    pub public_key: String,
    pub state: KeyState,
    pub created_at: i64,
    pub compromised_at: Option<i64>,
}

fn state_text(state: KeyState) -> &'static str {
    match state {
        KeyState::Active => "active",
        KeyState::Retired => "retired",
        KeyState::Revoked => "revoked",
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(state_text(*self))
    }
}

fn parse_state(text: &str) -> KeyState {
    match text {
        "active" => KeyState::Active,
        "retired" => KeyState::Retired,
        _ => KeyState::Revoked,
    }
}

fn may_manage(actor: &Actor, org: &str) -> Result<(), MarketError> {
    match actor.role {
        Role::PlatformAdmin => Ok(()),
        Role::Publisher if actor.org.as_deref() == Some(org) => Ok(()),
        _ => Err(MarketError::forbidden(format!(
            "only a publisher of org {org} or a platform admin manages its keys"
        ))),
    }
}

/// Register a public key (hex) for an org; returns its key id.
pub async fn register_key(
    db: &Database,
    actor: &Actor,
    org: &str,
    public_key_hex: &str,
) -> Result<String, MarketError> {
    may_manage(actor, org)?;
    let bytes = parse_public_key(public_key_hex)?;
    let id = key_id(&bytes);
    let mut tx = begin(db).await?;
    insert_key(&mut tx, org, &id, public_key_hex.trim()).await?;
    append(
        &mut tx,
        actor,
        "key.register",
        &format!("{org}/{id}"),
        "",
        &state_digest(&"active"),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &str,
    id: &str,
    public_key_hex: &str,
) -> Result<(), MarketError> {
    if sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
        .bind(org)
        .fetch_optional(&mut **tx)
        .await?
        .is_none()
    {
        return Err(MarketError::not_found(format!("org {org} is not registered")));
    }
    if sqlx::query("SELECT 1 FROM publisher_keys WHERE key_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some()
    {
        return Err(MarketError::conflict(format!("key {id} is already registered")));
    }
    sqlx::query("INSERT INTO publisher_keys (key_id, org_code, public_key, state, created_at) VALUES ($1, $2, $3, 'active', $4)")
        .bind(id)
        .bind(org)
        .bind(public_key_hex)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replace an active key with a new one; the old key is retired.
pub async fn rotate_key(
    db: &Database,
    actor: &Actor,
    org: &str,
    old: &str,
    new_public_key_hex: &str,
) -> Result<String, MarketError> {
    may_manage(actor, org)?;
    let bytes = parse_public_key(new_public_key_hex)?;
    let new_id = key_id(&bytes);
    let mut tx = begin(db).await?;
    let current = load_key(&mut tx, old).await?;
    if current.org != org {
        return Err(MarketError::not_found(format!(
            "key {old} is not registered to org {org}"
        )));
    }
    if current.state != KeyState::Active {
        return Err(MarketError::conflict(format!(
            "key {old} is {}, not active",
            state_text(current.state)
        )));
    }
    sqlx::query("UPDATE publisher_keys SET state = 'retired', retired_at = $1 WHERE key_id = $2")
        .bind(now_ms())
        .bind(old)
        .execute(&mut *tx)
        .await?;
    insert_key(&mut tx, org, &new_id, new_public_key_hex.trim()).await?;
    append(
        &mut tx,
        actor,
        "key.rotate",
        &format!("{org}/{old}"),
        &state_digest(&"active"),
        &state_digest(&new_id),
    )
    .await?;
    tx.commit().await?;
    Ok(new_id)
}

/// Revoke a key. Every version it signed at or after `compromised_at` goes
/// back to review (quarantine). Returns the quarantined `app@version`s.
pub async fn revoke_key(
    db: &Database,
    actor: &Actor,
    org: &str,
    id: &str,
    compromised_at: i64,
) -> Result<Vec<String>, MarketError> {
    if actor.role != Role::SecurityOfficer {
        may_manage(actor, org)?;
    }
    let mut tx = begin(db).await?;
    let key = load_key(&mut tx, id).await?;
    if key.org != org {
        return Err(MarketError::not_found(format!(
            "key {id} is not registered to org {org}"
        )));
    }
    if key.state == KeyState::Revoked {
        return Err(MarketError::conflict(format!("key {id} is already revoked")));
    }
    sqlx::query("UPDATE publisher_keys SET state = 'revoked', retired_at = $1, compromised_at = $2 WHERE key_id = $3")
        .bind(now_ms())
        .bind(compromised_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    append(
        &mut tx,
        actor,
        "key.revoke",
        &format!("{org}/{id}"),
        &state_digest(&state_text(key.state)),
        &state_digest(&compromised_at),
    )
    .await?;

    let rows = sqlx::query(
        "SELECT app_id, version, state FROM versions WHERE key_id = $1 AND submitted_at >= $2
         ORDER BY submitted_at, app_id, version",
    )
    .bind(id)
    .bind(compromised_at)
    .fetch_all(&mut *tx)
    .await?;
    let mut quarantined = Vec::new();
    let mut quarantined_versions = Vec::new();
    for row in rows {
        let (app, version, state): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let state = super::versions::parse_version_state(&state)?;
        let Ok(next) = state.apply(VersionAction::Quarantine, Role::System) else {
            continue;
        };
        super::versions::set_version_state(&mut tx, &app, &version, next).await?;
        append(
            &mut tx,
            &Actor::system(),
            "version.quarantine",
            &format!("{app}@{version}"),
            &state_digest(&state),
            &state_digest(&next),
        )
        .await?;
        quarantined.push(format!("{app}@{version}"));
        quarantined_versions.push((app, version));
    }
    let seq = if quarantined.is_empty() {
        None
    } else {
        let changes: Vec<Change> = quarantined_versions
            .iter()
            .map(|(app, version)| Change {
                region: None,
                app,
                version,
                action: "quarantine",
            })
            .collect();
        Some(record(&mut tx, &changes).await?)
    };
    tx.commit().await?;
    // After the commit, from a statement of its own.
    if let Some(seq) = seq {
        announce(db, seq).await;
    }
    Ok(quarantined)
}

async fn load_key(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: &str) -> Result<PublisherKey, MarketError> {
    let row = sqlx::query(
        "SELECT key_id, org_code, public_key, state, created_at, compromised_at FROM publisher_keys WHERE key_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| MarketError::not_found(format!("key {id} is not registered")))?;
    key_from_row(&row)
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<PublisherKey, MarketError> {
    Ok(PublisherKey {
        key_id: row.try_get(0)?,
        org: row.try_get(1)?,
        public_key: row.try_get(2)?,
        state: parse_state(&row.try_get::<String, _>(3)?),
        created_at: row.try_get(4)?,
        compromised_at: row.try_get(5)?,
    })
}

/// An org's keys, newest first.
pub async fn list_keys(db: &Database, org: &str) -> Result<Vec<PublisherKey>, MarketError> {
    let rows = sqlx::query(
        "SELECT key_id, org_code, public_key, state, created_at, compromised_at FROM publisher_keys WHERE org_code = $1 ORDER BY created_at DESC, key_id",
    )
    .bind(org)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(key_from_row).collect()
}

/// A key by id, for signature checks.
pub async fn find_key<'e, E>(executor: E, id: &str) -> Result<Option<PublisherKey>, MarketError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT key_id, org_code, public_key, state, created_at, compromised_at FROM publisher_keys WHERE key_id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}
