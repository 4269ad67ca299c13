//! Publishing, review decisions and release actions, as the API, the pages
//! and the demo seeding take them. The rules (who may, what a decision
//! needs, which transitions exist) are the marketplace's, in one transaction
//! each; this flow adds what the action means for this node: an approved
//! version is compiled here in the background, and a release action changes
//! what this node serves at once (other nodes follow the deployment log).

use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::publish::PublishReceipt;
use tongban_registry::market::review::Decision;
use tongban_registry::market::{Actor, MarketError};
use tongban_registry::release::VersionState;

use crate::state::AppState;

/// Publish a signed package.
pub async fn publish(state: &AppState, actor: &Actor, bytes: Vec<u8>) -> Result<PublishReceipt, MarketError> {
    state.market.publish(actor, bytes).await
}

/// Withdraw a version that is still in review.
pub async fn withdraw(state: &AppState, actor: &Actor, app: &str, version: &str) -> Result<VersionState, MarketError> {
    state.market.withdraw(actor, app, version).await
}

/// A reviewer's decision; an approved version is compiled on this node in
/// the background, so the rollout that follows only loads it.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    app: &str,
    version: &str,
    decision: Decision,
) -> Result<VersionState, MarketError> {
    let decided = state.market.decide(actor, app, version, decision).await?;
    if decided == VersionState::Approved {
        state.warm_approved(app, version);
    }
    Ok(decided)
}

/// A release action (pilot, rollout, halt, rollback, deprecate, yank,
/// revoke), applied on this node at once. A failed refresh is logged: the
/// serving loop applies the change at its next poll.
pub async fn release(
    state: &AppState,
    actor: &Actor,
    app: &str,
    version: &str,
    action: ReleaseAction,
) -> Result<String, MarketError> {
    let summary = state.market.release(actor, app, version, action).await?;
    if let Err(e) = state.refresh_serving().await {
        tracing::warn!(error = %e, "refreshing the serving table after a release failed");
    }
    Ok(summary)
}
