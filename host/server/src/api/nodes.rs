//! `/api/v1/nodes`: the server nodes on this database, how far each has
//! followed the deployment log, and how many of the live ones serve its
//! newest change. For the operators who release (platform admins, region
//! admins, security officers); a node's address is nobody else's business.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tongban_registry::market::nodes::{NodeStatus, Readiness};
use tongban_registry::release::Role;

use super::auth::Authenticated;
use super::error::ApiError;
use crate::state::AppState;

/// The roles that see the nodes.
const NODE_READERS: &[Role] = &[Role::PlatformAdmin, Role::RegionAdmin, Role::SecurityOfficer];

/// The nodes, and the newest change's readiness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodesAnswer {
    /// The newest sequence of the deployment log.
    pub latest_seq: i64,
    /// How many live nodes serve the newest change (`ready`), of how many
    /// live nodes (`nodes`).
    #[schema(value_type = Object)]
    pub readiness: Readiness,
    /// Every node by id (`node`, `listen`, `started_at`, `applied_seq`,
    /// `ready_at`, `heartbeat_at`, `live`); a node is live while its last
    /// heartbeat is at most 15 seconds old, and listed for a day after.
    #[schema(value_type = Vec<Object>)]
    pub nodes: Vec<NodeStatus>,
}

#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    operation_id = "nodes_list",
    responses(
        (status = 200, description = "the nodes, how far each has followed the deployment log, and the newest change's readiness", body = NodesAnswer),
        (status = 401, description = "unauthorized: no valid API token", body = super::error::ErrorEnvelope),
        (status = 403, description = "forbidden: only platform admins, region admins and security officers see the nodes", body = super::error::ErrorEnvelope),
        (status = 500, description = "internal: the marketplace's storage failed", body = super::error::ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<NodesAnswer>, ApiError> {
    actor.require(NODE_READERS, "listing the server nodes")?;
    let overview = s.market.nodes().await?;
    Ok(Json(NodesAnswer {
        latest_seq: overview.latest_seq,
        readiness: overview.readiness(),
        nodes: overview.nodes,
    }))
}
