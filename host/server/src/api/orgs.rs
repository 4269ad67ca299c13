//! `/api/v1/orgs`: orgs, their namespaces and their publisher keys.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tongban_registry::market::keys::{self, PublisherKey};
use tongban_registry::market::orgs::{self, Org};
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use super::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateOrg {
    /// Unified social credit code (GB 32100).
    pub code: String,
    pub name: String,
    /// 6-digit GB/T 2260 region code.
    pub region: String,
}

#[utoipa::path(post, path = "/api/v1/orgs", request_body = CreateOrg, responses((status = 200, description = "the org"), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn create(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Json(body): Json<CreateOrg>,
) -> Result<Json<Org>, ApiError> {
    Ok(Json(
        orgs::create_org(s.market.db(), &actor, &body.code, &body.name, &body.region).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs", responses((status = 200, description = "every org")))]
pub async fn list(State(s): State<AppState>, Authenticated(_): Authenticated) -> Result<Json<Vec<Org>>, ApiError> {
    Ok(Json(orgs::list_orgs(s.market.db()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddNamespace {
    /// A reverse-DNS prefix, e.g. `cn.gov.hz.amr`.
    pub prefix: String,
}

#[utoipa::path(post, path = "/api/v1/orgs/{code}/namespaces", request_body = AddNamespace, responses((status = 200, description = "the org"), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn add_namespace(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<AddNamespace>,
) -> Result<Json<Org>, ApiError> {
    orgs::add_namespace(s.market.db(), &actor, &code, &body.prefix).await?;
    Ok(Json(orgs::get_org(s.market.db(), &code).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterKey {
    /// The Ed25519 public key, hex-encoded.
    pub public_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyId {
    pub key_id: String,
}

#[utoipa::path(post, path = "/api/v1/orgs/{code}/keys", request_body = RegisterKey, responses((status = 200, body = KeyId), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn register_key(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<RegisterKey>,
) -> Result<Json<KeyId>, ApiError> {
    let key_id = keys::register_key(s.market.db(), &actor, &code, &body.public_key).await?;
    Ok(Json(KeyId { key_id }))
}

#[utoipa::path(get, path = "/api/v1/orgs/{code}/keys", responses((status = 200, description = "the org's keys")))]
pub async fn list_keys(
    State(s): State<AppState>,
    Authenticated(_): Authenticated,
    Path(code): Path<String>,
) -> Result<Json<Vec<PublisherKey>>, ApiError> {
    Ok(Json(keys::list_keys(s.market.db(), &code).await?))
}

#[utoipa::path(post, path = "/api/v1/orgs/{code}/keys/{key_id}/rotate", request_body = RegisterKey, responses((status = 200, body = KeyId), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn rotate_key(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((code, key_id)): Path<(String, String)>,
    Json(body): Json<RegisterKey>,
) -> Result<Json<KeyId>, ApiError> {
    let key_id = keys::rotate_key(s.market.db(), &actor, &code, &key_id, &body.public_key).await?;
    Ok(Json(KeyId { key_id }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeKey {
    /// From this moment (ms since the epoch) on, the key is not trusted.
    pub compromised_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quarantined {
    /// `app@version`s sent back to review.
    pub quarantined: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/orgs/{code}/keys/{key_id}/revoke", request_body = RevokeKey, responses((status = 200, body = Quarantined), (status = "4XX", body = super::error::ErrorEnvelope)))]
pub async fn revoke_key(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((code, key_id)): Path<(String, String)>,
    Json(body): Json<RevokeKey>,
) -> Result<Json<Quarantined>, ApiError> {
    let quarantined = keys::revoke_key(s.market.db(), &actor, &code, &key_id, body.compromised_at).await?;
    Ok(Json(Quarantined { quarantined }))
}
