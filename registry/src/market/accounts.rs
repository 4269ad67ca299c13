//! Staff accounts and API tokens, as far as the marketplace needs them: who
//! acts, in which role, for which org or region. Tokens are random, shown
//! once, and stored only as their SHA-256.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tongban_store::{Database, now_ms};

use super::audit_log::{append, begin, state_digest};
use super::{Actor, MarketError};
use crate::release::Role;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub role: Role,
    pub org: Option<String>,
    pub region: Option<String>,
    /// A citizen's platform subject (the person they are).
    #[serde(default)]
    pub subject: Option<String>,
}

fn role_text(role: Role) -> String {
    role.to_string()
}

fn parse_role(text: &str) -> Result<Role, MarketError> {
    serde_json::from_value(serde_json::Value::String(text.into()))
        .map_err(|_| MarketError::Internal(format!("unknown role `{text}` in the database")))
}

/// Create a user. The platform's first admin is created with the
/// [`Actor::system`] actor from the local command line.
pub async fn create_user(db: &Database, actor: &Actor, user: &User) -> Result<(), MarketError> {
    actor.require(&[Role::PlatformAdmin, Role::System], "creating a user")?;
    let valid_id = !user.id.is_empty()
        && user.id.len() <= 64
        && user
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid_id {
        return Err(MarketError::invalid(format!(
            "user id `{}` must be 1 to 64 characters of a-z, 0-9, '-', '_' and '.'",
            user.id
        )));
    }
    let needs_org = matches!(
        user.role,
        Role::Publisher | Role::Reviewer | Role::RegionAdmin | Role::WindowClerk | Role::Handler
    );
    if user.role == Role::Citizen && user.subject.is_none() {
        return Err(MarketError::invalid(
            "a citizen account is for one person: give --subject",
        ));
    }
    if user.role != Role::Citizen && user.subject.is_some() {
        return Err(MarketError::invalid("only a citizen account names a subject"));
    }
    if needs_org && user.org.is_none() {
        return Err(MarketError::invalid(format!(
            "a {} belongs to an org: give --org",
            user.role
        )));
    }
    if user.role == Role::RegionAdmin && user.region.is_none() {
        return Err(MarketError::invalid(
            "a region admin administers a region: give --region",
        ));
    }
    let mut tx = begin(db).await?;
    if let Some(org) = &user.org
        && sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
            .bind(org)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
    {
        return Err(MarketError::not_found(format!("org {org} is not registered")));
    }
    if sqlx::query("SELECT 1 FROM users WHERE id = $1")
        .bind(&user.id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some()
    {
        return Err(MarketError::conflict(format!("user {} already exists", user.id)));
    }
    sqlx::query(
        "INSERT INTO users (id, display_name, role, org_code, region, created_at, subject_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&user.id)
    .bind(&user.display_name)
    .bind(role_text(user.role))
    .bind(&user.org)
    .bind(&user.region)
    .bind(now_ms())
    .bind(&user.subject)
    .execute(&mut *tx)
    .await?;
    append(&mut tx, actor, "user.create", &user.id, "", &state_digest(user)).await?;
    tx.commit().await?;
    Ok(())
}

/// The platform subject of a citizen account, if the user is one.
pub async fn subject_of(db: &Database, user_id: &str) -> Result<Option<String>, MarketError> {
    Ok(sqlx::query("SELECT subject_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get::<Option<String>, _>(0))
        .transpose()?
        .flatten())
}

/// Issue an API token for a user; the token is returned once and only its
/// hash is kept.
pub async fn issue_token(db: &Database, actor: &Actor, user_id: &str, label: &str) -> Result<String, MarketError> {
    actor.require(&[Role::PlatformAdmin, Role::System], "issuing an API token")?;
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|e| MarketError::Internal(e.to_string()))?;
    let token = format!("tb_{}", hex::encode(random));
    let mut tx = begin(db).await?;
    if sqlx::query("SELECT 1 FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_none()
    {
        return Err(MarketError::not_found(format!("user {user_id} does not exist")));
    }
    sqlx::query("INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(label)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    append(&mut tx, actor, "token.issue", user_id, "", &state_digest(&label)).await?;
    tx.commit().await?;
    Ok(token)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The actor behind a token, if the token is known.
pub async fn authenticate(db: &Database, token: &str) -> Result<Option<Actor>, MarketError> {
    let row = sqlx::query(
        "SELECT u.id, u.role, u.org_code, u.region FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(Actor {
            user: r.try_get(0)?,
            role: parse_role(&r.try_get::<String, _>(1)?)?,
            org: r.try_get(2)?,
            region: r.try_get(3)?,
        })
    })
    .transpose()
}
