//! Web sign-in: passwords (argon2id), sessions and the sign-in rate limit.
//!
//! A session is a random 32-byte token in an HttpOnly cookie; the database
//! keeps only its SHA-256, with the user, a CSRF token for the session's forms,
//! how it was established (`password`; an OIDC provider would add its own
//! method and create sessions the same way) and its expiry. Any node serves
//! any request. Failed sign-ins are counted per account and per source
//! address in the database, so the limit holds across nodes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tongban_store::{Database, now_ms};

use super::audit_log::{append, begin, state_digest};
use super::{Actor, MarketError};
use crate::release::Role;

/// How long a session lasts: 8 hours, a working day.
pub const SESSION_MS: i64 = 8 * 60 * 60 * 1000;
/// The window and the number of failures after which sign-in is refused.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_SOURCE: i64 = 20;
/// Password bounds.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 256;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    /// The citizen's platform subject, for a citizen.
    pub subject: Option<String>,
    pub display_name: String,
    pub csrf: String,
    pub expires_at: i64,
}

/// Why a sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong account or password (never says which).
    Refused,
    /// Too many failures; try again after this many seconds.
    Limited { retry_after_s: i64 },
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, MarketError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| MarketError::Internal(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// Set a user's password (platform admins and the local system).
pub async fn set_password(db: &Database, actor: &Actor, user_id: &str, password: &str) -> Result<(), MarketError> {
    actor.require(&[Role::PlatformAdmin, Role::System], "setting a password")?;
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(MarketError::invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| MarketError::Internal(format!("hashing a password: {e}")))?
        .to_string();
    let mut tx = begin(db).await?;
    let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if changed.rows_affected() != 1 {
        return Err(MarketError::not_found(format!("user {user_id} does not exist")));
    }
    // A new password ends every session of the old one.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    append(&mut tx, actor, "user.password", user_id, "", &state_digest(&"set")).await?;
    tx.commit().await?;
    Ok(())
}

async fn failures(db: &Database, column: &str, value: &str, since: i64) -> Result<i64, MarketError> {
    Ok(sqlx::query(&format!(
        "SELECT COUNT(*) FROM login_failures WHERE {column} = $1 AND at > $2"
    ))
    .bind(value)
    .bind(since)
    .fetch_one(db.pool())
    .await?
    .try_get(0)?)
}

/// Check a password and open a session. `source` is the client address, for
/// the per-source limit. Returns the session token (for the cookie) and the
/// session.
pub async fn sign_in(
    db: &Database,
    user_id: &str,
    password: &str,
    source: &str,
) -> Result<Result<(String, Session), SignInError>, MarketError> {
    let now = now_ms();
    let since = now - FAILURE_WINDOW_MS;
    let account = user_id.trim().to_lowercase();
    // The attempt is counted before the password is checked, and removed
    // only on success, so parallel guesses cannot all pass the check.
    sqlx::query("INSERT INTO login_failures (account, source, at) VALUES ($1, $2, $3)")
        .bind(&account)
        .bind(source)
        .bind(now)
        .execute(db.pool())
        .await?;
    if failures(db, "account", &account, since).await? > MAX_FAILURES_PER_ACCOUNT
        || failures(db, "source", source, since).await? > MAX_FAILURES_PER_SOURCE
    {
        return Ok(Err(SignInError::Limited {
            retry_after_s: FAILURE_WINDOW_MS / 1000,
        }));
    }
    let stored: Option<Option<String>> = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(&account)
        .fetch_optional(db.pool())
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let verified = match stored.flatten() {
        Some(hash) if password.len() <= MAX_PASSWORD_BYTES => PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false),
        _ => {
            // Spend the same time on an unknown account as on a known one.
            let salt = SaltString::generate(&mut OsRng);
            let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
            false
        }
    };
    if !verified {
        return Ok(Err(SignInError::Refused));
    }
    sqlx::query("DELETE FROM login_failures WHERE account = $1 OR (source = $2 AND at = $3)")
        .bind(&account)
        .bind(source)
        .bind(now)
        .execute(db.pool())
        .await?;
    let token = random_hex(32)?;
    let csrf = random_hex(16)?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf, method, created_at, expires_at) VALUES ($1, $2, $3, 'password', $4, $5)",
    )
    .bind(digest(&token))
    .bind(&account)
    .bind(&csrf)
    .bind(now)
    .bind(now + SESSION_MS)
    .execute(db.pool())
    .await?;
    let session = session(db, &token)
        .await?
        .ok_or_else(|| MarketError::Internal("a new session vanished".into()))?;
    Ok(Ok((token, session)))
}

/// The live session of a token, if any.
pub async fn session(db: &Database, token: &str) -> Result<Option<Session>, MarketError> {
    let row = sqlx::query(
        "SELECT u.id, u.role, u.org_code, u.region, u.subject_id, u.display_name, s.csrf, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2",
    )
    .bind(digest(token))
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let role: String = r.try_get(1)?;
    Ok(Some(Session {
        actor: Actor {
            user: r.try_get(0)?,
            role: serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| MarketError::Internal(format!("unknown role `{role}` in the database")))?,
            org: r.try_get(2)?,
            region: r.try_get(3)?,
        },
        subject: r.try_get(4)?,
        display_name: r.try_get(5)?,
        csrf: r.try_get(6)?,
        expires_at: r.try_get(7)?,
    }))
}

/// End a session (sign out).
pub async fn sign_out(db: &Database, token: &str) -> Result<(), MarketError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(digest(token))
        .execute(db.pool())
        .await?;
    Ok(())
}
