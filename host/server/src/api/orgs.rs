//! `/api/v1/orgs`: orgs, their namespaces and their publisher keys.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tongban_registry::market::keys::{self, PublisherKey};
use tongban_registry::market::orgs::{self, Org};
use utoipa::ToSchema;

use super::auth::Authenticated;
use super::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateOrg {
    /// Unified social credit code (GB 32100).
    pub code: String,
    pub name: String,
    /// 6-digit GB/T 2260 region code.
    pub region: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    operation_id = "orgs_create",
    request_body = CreateOrg,
    responses(
        (status = 200, description = "the org", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins register orgs", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the org is registered already", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: a field is missing, the code is not a valid unified social credit code, the name or the region is malformed", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Json(body): Json<CreateOrg>,
) -> Result<Json<Org>, ApiError> {
    Ok(Json(
        orgs::create_org(s.market.db(), &actor, &body.code, &body.name, &body.region).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    operation_id = "orgs_list",
    responses(
        (status = 200, description = "every org", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list(State(s): State<AppState>, Authenticated(_): Authenticated) -> Result<Json<Vec<Org>>, ApiError> {
    Ok(Json(orgs::list_orgs(s.market.db()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddNamespace {
    /// A reverse-DNS prefix, e.g. `cn.gov.hz.amr`.
    pub prefix: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{code}/namespaces",
    operation_id = "orgs_add_namespace",
    params(
        ("code" = String, Path, description = "the org's unified social credit code"),
    ),
    request_body = AddNamespace,
    responses(
        (status = 200, description = "the org with its namespaces", body = Object),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins assign namespaces", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org is not registered", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the prefix overlaps another org's namespace", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the prefix is not a reverse-DNS name", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{code}/keys",
    operation_id = "orgs_register_key",
    params(
        ("code" = String, Path, description = "the org's unified social credit code"),
    ),
    request_body = RegisterKey,
    responses(
        (status = 200, body = KeyId),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the caller may not manage this org's keys", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org is not registered", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the key is registered already", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the key is not a hex Ed25519 public key", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn register_key(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<RegisterKey>,
) -> Result<Json<KeyId>, ApiError> {
    let key_id = keys::register_key(s.market.db(), &actor, &code, &body.public_key).await?;
    Ok(Json(KeyId { key_id }))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{code}/keys",
    operation_id = "orgs_list_keys",
    params(
        ("code" = String, Path, description = "the org's unified social credit code"),
    ),
    responses(
        (status = 200, description = "the org's publisher keys", body = Vec<Object>),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list_keys(
    State(s): State<AppState>,
    Authenticated(_): Authenticated,
    Path(code): Path<String>,
) -> Result<Json<Vec<PublisherKey>>, ApiError> {
    Ok(Json(keys::list_keys(s.market.db(), &code).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{code}/keys/{key_id}/rotate",
    operation_id = "orgs_rotate_key",
    params(
        ("code" = String, Path, description = "the org's unified social credit code"),
        ("key_id" = String, Path, description = "the publisher key's id"),
    ),
    request_body = RegisterKey,
    responses(
        (status = 200, description = "the new key's id", body = KeyId),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the caller may not manage this org's keys", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org has no such key", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the key is revoked or rotated already, or the new key is registered", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: the new key is not a hex Ed25519 public key", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{code}/keys/{key_id}/revoke",
    operation_id = "orgs_revoke_key",
    params(
        ("code" = String, Path, description = "the org's unified social credit code"),
        ("key_id" = String, Path, description = "the publisher key's id"),
    ),
    request_body = RevokeKey,
    responses(
        (status = 200, description = "the versions the key signed after it was compromised, sent back to review", body = Quarantined),
        (status = 400, description = "invalid_input: the body is not JSON", body = super::error::ErrorEnvelope),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: the caller may not manage this org's keys", body = super::error::ErrorEnvelope),
        (status = 404, description = "not_found: the org has no such key", body = super::error::ErrorEnvelope),
        (status = 409, description = "conflict: the key is revoked already", body = super::error::ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: the body is not sent as application/json", body = super::error::ErrorEnvelope),
        (status = 422, description = "invalid_input: a field is missing or malformed", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((code, key_id)): Path<(String, String)>,
    Json(body): Json<RevokeKey>,
) -> Result<Json<Quarantined>, ApiError> {
    let quarantined = keys::revoke_key(s.market.db(), &actor, &code, &key_id, body.compromised_at).await?;
    Ok(Json(Quarantined { quarantined }))
}
