//! The nodes that serve, and how far each has followed the deployment log
//! (`node_status`): every node registers when it starts, heartbeats, and
//! acknowledges each log sequence once it serves a table built at that
//! sequence with every version in it loaded. A deployment is "ready on k of n
//! nodes" when k of the n live nodes have acknowledged its latest event.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::Database;

use super::deployment_events::latest_by_deployment;
use super::deployments::Deployment;
use super::{MarketError, Marketplace};

/// How often a node writes its heartbeat. A write every few seconds per node
/// is nothing to the database, and it keeps "live" close to the truth.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// How long after its last heartbeat a node counts as gone: three missed
/// heartbeats, so one slow write (a busy database, a long pause) does not
/// drop a node from "k of n", while a node that stopped leaves it within
/// seconds.
pub const GONE_AFTER: Duration = Duration::from_secs(15);

/// How long a gone node's row is kept, so operators still see a node that
/// stopped today; rows older than this are removed by the heartbeats of the
/// nodes that remain, so the table stays as small as the cluster.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest node id, in characters.
pub const MAX_NODE_ID_CHARS: usize = 128;

/// A node as it reports itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Unique among the nodes on one database (`--node-id`).
    pub node: String,
    /// The address it serves on.
    pub listen: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at: i64,
}

/// A node's row, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node: String,
    pub listen: String,
    pub started_at: i64,
    /// The newest log sequence the node serves with every version loaded;
    /// `None` until its first acknowledgement since it started.
    pub applied_seq: Option<i64>,
    /// When it acknowledged `applied_seq`.
    pub ready_at: Option<i64>,
    pub heartbeat_at: i64,
    /// Whether its last heartbeat is within [`GONE_AFTER`].
    pub live: bool,
}

/// Whether a node id is acceptable: 1 to [`MAX_NODE_ID_CHARS`] printable
/// ASCII characters without spaces, so it is safe in logs, in a PostgreSQL
/// `application_name` and on a page.
pub fn check_node_id(id: &str) -> Result<(), MarketError> {
    if id.is_empty() || id.chars().count() > MAX_NODE_ID_CHARS {
        return Err(MarketError::invalid(format!(
            "a node id has 1 to {MAX_NODE_ID_CHARS} characters; `{}` has {}",
            id.chars().take(MAX_NODE_ID_CHARS).collect::<String>(),
            id.chars().count()
        )));
    }
    if let Some(c) = id.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(MarketError::invalid(format!(
            "a node id is printable ASCII without spaces; `{}` has {c:?}",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// Record that `node` started: it is live and has acknowledged nothing yet
/// (a restarted node's earlier acknowledgement no longer holds). Also removes
/// the rows of nodes gone for longer than [`FORGET_AFTER`].
pub async fn register(db: &Database, node: &NodeReport, now: i64) -> Result<(), MarketError> {
    check_node_id(&node.node)?;
    sqlx::query(
        "INSERT INTO node_status (node_id, listen, started_at, applied_seq, ready_at, heartbeat_at)
         VALUES ($1, $2, $3, NULL, NULL, $4)
         ON CONFLICT (node_id) DO UPDATE SET listen = excluded.listen, started_at = excluded.started_at,
            applied_seq = NULL, ready_at = NULL, heartbeat_at = excluded.heartbeat_at",
    )
    .bind(&node.node)
    .bind(&node.listen)
    .bind(node.started_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    forget_gone(db, now).await
}

/// A heartbeat: `node` is still live. Also removes the rows of nodes gone
/// for longer than [`FORGET_AFTER`].
pub async fn heartbeat(db: &Database, node: &NodeReport, now: i64) -> Result<(), MarketError> {
    // An upsert, so a row removed behind the node's back comes back.
    sqlx::query(
        "INSERT INTO node_status (node_id, listen, started_at, applied_seq, ready_at, heartbeat_at)
         VALUES ($1, $2, $3, NULL, NULL, $4)
         ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
    )
    .bind(&node.node)
    .bind(&node.listen)
    .bind(node.started_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    forget_gone(db, now).await
}

/// `node` serves a table built at log sequence `seq`, with every version it
/// serves loaded. Also a heartbeat.
pub async fn acknowledge(db: &Database, node: &NodeReport, seq: i64, now: i64) -> Result<(), MarketError> {
    sqlx::query(
        "INSERT INTO node_status (node_id, listen, started_at, applied_seq, ready_at, heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (node_id) DO UPDATE SET applied_seq = excluded.applied_seq, ready_at = excluded.ready_at,
            heartbeat_at = excluded.heartbeat_at",
    )
    .bind(&node.node)
    .bind(&node.listen)
    .bind(node.started_at)
    .bind(seq)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn forget_gone(db: &Database, now: i64) -> Result<(), MarketError> {
    sqlx::query("DELETE FROM node_status WHERE heartbeat_at < $1")
        .bind(now - FORGET_AFTER.as_millis() as i64)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Every node's row as of `now`, by node id.
pub async fn node_statuses(db: &Database, now: i64) -> Result<Vec<NodeStatus>, MarketError> {
    let rows = sqlx::query(&format!(
        "SELECT node_id, listen, started_at, applied_seq, ready_at, heartbeat_at FROM node_status ORDER BY {}",
        db.byte_order("node_id")
    ))
    .fetch_all(db.pool())
    .await?;
    let gone_before = now - GONE_AFTER.as_millis() as i64;
    rows.iter()
        .map(|r| {
            let heartbeat_at: i64 = r.try_get(5)?;
            Ok(NodeStatus {
                node: r.try_get(0)?,
                listen: r.try_get(1)?,
                started_at: r.try_get(2)?,
                applied_seq: r.try_get(3)?,
                ready_at: r.try_get(4)?,
                heartbeat_at,
                live: heartbeat_at >= gone_before,
            })
        })
        .collect()
}

/// How many of the live nodes serve a given log sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// The log sequence measured against: a deployment's latest event (0 for
    /// a deployment recorded before the log existed).
    pub seq: i64,
    /// Live nodes whose applied sequence is at least `seq`.
    pub ready: u32,
    /// Live nodes.
    pub nodes: u32,
}

/// What readiness is measured with, read once: the live nodes' applied
/// sequences and the latest event of every deployment.
#[derive(Debug, Clone, Default)]
pub struct ReadinessBoard {
    applied: Vec<Option<i64>>,
    latest: HashMap<(String, String, Option<String>), i64>,
}

impl ReadinessBoard {
    /// How many live nodes have applied `seq`.
    pub fn of_seq(&self, seq: i64) -> Readiness {
        Readiness {
            seq,
            ready: self.applied.iter().filter(|a| a.is_some_and(|a| a >= seq)).count() as u32,
            nodes: self.applied.len() as u32,
        }
    }

    /// A deployment's readiness: against its latest event, its own or one
    /// of its version's version-wide events (a yank, a revocation, a
    /// quarantine), whichever is newer.
    pub fn of(&self, d: &Deployment) -> Readiness {
        let own = self
            .latest
            .get(&(d.app.clone(), d.version.clone(), Some(d.region.clone())));
        let version_wide = self.latest.get(&(d.app.clone(), d.version.clone(), None));
        self.of_seq(own.max(version_wide).copied().unwrap_or(0))
    }

    /// The number of live nodes.
    pub fn live_nodes(&self) -> u32 {
        self.applied.len() as u32
    }
}

/// A deployment with its readiness, as the API lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentReadiness {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub readiness: Readiness,
}

/// Every node and the log's newest sequence, read together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesOverview {
    /// The newest sequence of the deployment log.
    pub latest_seq: i64,
    /// Every node with a row, by id; gone nodes too, for a day.
    pub nodes: Vec<NodeStatus>,
}

impl NodesOverview {
    /// How many live nodes have applied the newest sequence, of how many.
    pub fn readiness(&self) -> Readiness {
        let live: Vec<&NodeStatus> = self.nodes.iter().filter(|n| n.live).collect();
        Readiness {
            seq: self.latest_seq,
            ready: live
                .iter()
                .filter(|n| n.applied_seq.is_some_and(|a| a >= self.latest_seq))
                .count() as u32,
            nodes: live.len() as u32,
        }
    }
}

impl Marketplace {
    /// Every node as of now, and the log's newest sequence. The sequence is
    /// read first, so a node shown at or past it has applied it.
    pub async fn nodes(&self) -> Result<NodesOverview, MarketError> {
        let latest_seq = super::deployment_events::latest_seq(&self.db).await?;
        Ok(NodesOverview {
            latest_seq,
            nodes: node_statuses(&self.db, tongban_store::now_ms()).await?,
        })
    }

    /// The readiness board as of now.
    pub async fn readiness_board(&self) -> Result<ReadinessBoard, MarketError> {
        let applied = node_statuses(&self.db, tongban_store::now_ms())
            .await?
            .into_iter()
            .filter(|n| n.live)
            .map(|n| n.applied_seq)
            .collect();
        Ok(ReadinessBoard {
            applied,
            latest: latest_by_deployment(&self.db).await?,
        })
    }

    /// Deployments of an app, optionally in one region, each with its
    /// readiness.
    pub async fn deployments_with_readiness(
        &self,
        app: &str,
        region: Option<&str>,
    ) -> Result<Vec<DeploymentReadiness>, MarketError> {
        let deployments = self.deployments(app, region).await?;
        let board = self.readiness_board().await?;
        Ok(deployments
            .into_iter()
            .map(|deployment| DeploymentReadiness {
                readiness: board.of(&deployment),
                deployment,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::DeploymentState;

    fn deployment(region: &str, version: &str) -> Deployment {
        Deployment {
            app: "cn.gov.hz.amr.x".into(),
            region: region.into(),
            version: version.into(),
            state: DeploymentState::Active,
            percentage: 100,
            pilot_group: vec![],
            message: None,
            sunset_at: None,
        }
    }

    #[test]
    fn readiness_counts_live_nodes_at_or_past_the_latest_event() {
        let key = |version: &str, region: Option<&str>| {
            (
                "cn.gov.hz.amr.x".to_owned(),
                version.to_owned(),
                region.map(str::to_owned),
            )
        };
        let board = ReadinessBoard {
            applied: vec![Some(7), Some(5), None],
            latest: HashMap::from([
                (key("1.0.0", Some("330106")), 5),
                (key("1.0.0", Some("330100")), 3),
                (key("1.0.0", None), 7),
                (key("2.0.0", Some("330106")), 6),
            ]),
        };
        // A version-wide event newer than the deployment's own counts.
        assert_eq!(
            board.of(&deployment("330106", "1.0.0")),
            Readiness {
                seq: 7,
                ready: 1,
                nodes: 3
            }
        );
        assert_eq!(
            board.of(&deployment("330106", "2.0.0")),
            Readiness {
                seq: 6,
                ready: 1,
                nodes: 3
            }
        );
        // A node that has acknowledged nothing since it started is never ready.
        assert_eq!(
            board.of_seq(0),
            Readiness {
                seq: 0,
                ready: 2,
                nodes: 3
            }
        );
        // A deployment from before the log is measured against 0.
        assert_eq!(board.of(&deployment("330000", "3.0.0")).seq, 0);
        assert_eq!(
            ReadinessBoard::default().of_seq(4),
            Readiness {
                seq: 4,
                ready: 0,
                nodes: 0
            }
        );
    }

    #[test]
    fn node_ids_are_bounded_and_printable() {
        assert!(check_node_id("web-1.example:8080").is_ok());
        assert!(check_node_id("").is_err());
        assert!(check_node_id(&"n".repeat(MAX_NODE_ID_CHARS + 1)).is_err());
        assert!(check_node_id("node a").is_err());
        assert!(check_node_id("节点").is_err());
        assert!(check_node_id("a\nb").is_err());
    }
}
