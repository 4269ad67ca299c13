//! Orgs (identified by unified social credit code) and the reverse-DNS
//! namespaces they own. An app id belongs to the org whose namespace is the
//! id itself or a dot-separated prefix of it.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::{Database, now_ms};

use super::audit_log::{append, begin, state_digest};
use super::{Actor, MarketError};
use crate::org::validate_uscc;
use crate::release::Role;

/// An org as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub code: String,
    pub name: String,
    pub region: String,
    pub namespaces: Vec<String>,
}

/// Whether a string is a 6-digit GB/T 2260 region code.
pub fn is_region_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Register an org.
pub async fn create_org(
    db: &Database,
    actor: &Actor,
    code: &str,
    name: &str,
    region: &str,
) -> Result<Org, MarketError> {
    // The system actor seeds orgs from the local command line (the demo).
    actor.require(&[Role::PlatformAdmin, Role::System], "registering an org")?;
    validate_uscc(code).map_err(|e| MarketError::invalid(e.to_string()))?;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(MarketError::invalid("an org name is 1 to 100 characters"));
    }
    if !is_region_code(region) {
        return Err(MarketError::invalid(format!(
            "`{region}` is not a 6-digit GB/T 2260 region code"
        )));
    }
    let mut tx = begin(db).await?;
    let exists = sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(MarketError::conflict(format!("org {code} is already registered")));
    }
    sqlx::query("INSERT INTO orgs (code, name, region, created_at) VALUES ($1, $2, $3, $4)")
        .bind(code)
        .bind(name.trim())
        .bind(region)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    let org = Org {
        code: code.into(),
        name: name.trim().into(),
        region: region.into(),
        namespaces: vec![],
    };
    append(&mut tx, actor, "org.create", code, "", &state_digest(&org)).await?;
    tx.commit().await?;
    Ok(org)
}

/// Give an org a namespace. Namespaces of different orgs never nest.
pub async fn add_namespace(db: &Database, actor: &Actor, org: &str, prefix: &str) -> Result<(), MarketError> {
    actor.require(&[Role::PlatformAdmin], "assigning a namespace")?;
    let labels: Vec<&str> = prefix.split('.').collect();
    let well_formed = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.starts_with(|c: char| c.is_ascii_lowercase())
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if !well_formed {
        return Err(MarketError::invalid(format!(
            "namespace `{prefix}` is not reverse-DNS (at least two lower-case labels, e.g. cn.gov.hz.amr)"
        )));
    }
    let mut tx = begin(db).await?;
    if sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
        .bind(org)
        .fetch_optional(&mut *tx)
        .await?
        .is_none()
    {
        return Err(MarketError::not_found(format!("org {org} is not registered")));
    }
    let rows = sqlx::query("SELECT prefix, org_code FROM namespaces")
        .fetch_all(&mut *tx)
        .await?;
    for row in rows {
        let (other, owner): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if nests(&other, prefix) {
            return Err(MarketError::conflict(format!(
                "namespace `{prefix}` overlaps `{other}`, which belongs to org {owner}"
            )));
        }
    }
    sqlx::query("INSERT INTO namespaces (prefix, org_code) VALUES ($1, $2)")
        .bind(prefix)
        .bind(org)
        .execute(&mut *tx)
        .await?;
    append(&mut tx, actor, "org.namespace", org, "", &state_digest(&prefix)).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether one namespace is the other or contains it.
fn nests(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

/// The org owning an app id, if any namespace covers it.
pub async fn namespace_owner<'e, E>(executor: E, app_id: &str) -> Result<Option<String>, MarketError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT prefix, org_code FROM namespaces")
        .fetch_all(executor)
        .await?;
    for row in rows {
        let (prefix, org): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if app_id == prefix || app_id.starts_with(&format!("{prefix}.")) {
            return Ok(Some(org));
        }
    }
    Ok(None)
}

/// One org with its namespaces.
pub async fn get_org(db: &Database, code: &str) -> Result<Org, MarketError> {
    let row = sqlx::query("SELECT code, name, region FROM orgs WHERE code = $1")
        .bind(code)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| MarketError::not_found(format!("org {code} is not registered")))?;
    let namespaces = sqlx::query(&format!(
        "SELECT prefix FROM namespaces WHERE org_code = $1 ORDER BY {}",
        db.byte_order("prefix")
    ))
    .bind(code)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()?;
    Ok(Org {
        code: row.try_get(0)?,
        name: row.try_get(1)?,
        region: row.try_get(2)?,
        namespaces,
    })
}

/// Every org, by code.
pub async fn list_orgs(db: &Database) -> Result<Vec<Org>, MarketError> {
    let codes: Vec<String> = sqlx::query("SELECT code FROM orgs ORDER BY code")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut orgs = Vec::with_capacity(codes.len());
    for code in codes {
        orgs.push(get_org(db, &code).await?);
    }
    Ok(orgs)
}
