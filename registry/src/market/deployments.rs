//! The `deployments` table: one row per (app, region, version) with its
//! release state, rollout percentage, pilot group and deprecation notice.
//! Release actions write these rows and the serving table reads them; both
//! go through here, so neither imports the other for it.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};
use tongban_store::now_ms;

use super::MarketError;
use crate::release::DeploymentState;

/// A deployment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub app: String,
    pub region: String,
    pub version: String,
    pub state: DeploymentState,
    pub percentage: u8,
    pub pilot_group: Vec<String>,
    pub message: Option<String>,
    pub sunset_at: Option<i64>,
}

/// A deployment state as the `state` column spells it.
fn deployment_state_text(state: DeploymentState) -> String {
    state.to_string()
}

/// A `state` column read back; an unknown spelling is an internal error.
pub(crate) fn parse_deployment_state(text: &str) -> Result<DeploymentState, MarketError> {
    serde_json::from_value(serde_json::Value::String(text.into()))
        .map_err(|_| MarketError::Internal(format!("unknown deployment state `{text}` in the database")))
}

/// A deployment from a row whose first eight columns are `app_id, region,
/// version, state, percentage, pilot_group, message, sunset_at`.
pub(crate) fn deployment_from_row(r: &sqlx::any::AnyRow) -> Result<Deployment, MarketError> {
    Ok(Deployment {
        app: r.try_get(0)?,
        region: r.try_get(1)?,
        version: r.try_get(2)?,
        state: parse_deployment_state(&r.try_get::<String, _>(3)?)?,
        percentage: r.try_get::<i32, _>(4)? as u8,
        pilot_group: serde_json::from_str(&r.try_get::<String, _>(5)?).unwrap_or_default(),
        message: r.try_get(6)?,
        sunset_at: r.try_get(7)?,
    })
}

/// The deployment of one version in one region, if it was ever released there.
pub(crate) async fn load_deployment(
    tx: &mut Transaction<'static, Any>,
    app: &str,
    region: &str,
    version: &str,
) -> Result<Option<Deployment>, MarketError> {
    let row = sqlx::query(
        "SELECT app_id, region, version, state, percentage, pilot_group, message, sunset_at FROM deployments
         WHERE app_id = $1 AND region = $2 AND version = $3",
    )
    .bind(app)
    .bind(region)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(deployment_from_row).transpose()
}

/// Insert or update a deployment's row inside the caller's transaction.
pub(crate) async fn save_deployment(tx: &mut Transaction<'static, Any>, d: &Deployment) -> Result<(), MarketError> {
    sqlx::query(
        "INSERT INTO deployments (app_id, region, version, state, percentage, pilot_group, message, sunset_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (app_id, region, version) DO UPDATE SET state = excluded.state, percentage = excluded.percentage,
            pilot_group = excluded.pilot_group, message = excluded.message, sunset_at = excluded.sunset_at,
            updated_at = excluded.updated_at",
    )
    .bind(&d.app)
    .bind(&d.region)
    .bind(&d.version)
    .bind(deployment_state_text(d.state))
    .bind(d.percentage as i32)
    .bind(serde_json::to_string(&d.pilot_group).expect("lists serialize"))
    .bind(&d.message)
    .bind(d.sunset_at)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
