//! How a node follows the deployment log (`deployment_events`) and tells the
//! others how far it got (`node_status`).
//!
//! On PostgreSQL a node `LISTEN`s for the log's sequence on a connection of
//! its own ([`listen`]) and also looks at the log every
//! [`POLL_WHILE_LISTENING`], because a notification sent while the listener
//! is reconnecting is lost; after every (re)connect it looks at once. On
//! SQLite there are no notifications and it looks every
//! [`POLL_WITHOUT_LISTENING`]. Whenever the sequence moved, the node loads and
//! compiles what the new table serves and only then swaps it in
//! ([`AppState::refresh_serving`]), off the request path, and then records
//! its acknowledgement of that sequence. It heartbeats every
//! [`HEARTBEAT_EVERY`], and counts as gone [`GONE_AFTER`] after its last one.
//!
//! [`GONE_AFTER`]: tongban_registry::market::nodes::GONE_AFTER

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tongban_registry::market::deployment_events::CHANNEL;
use tongban_registry::market::nodes::{self, HEARTBEAT_EVERY, NodeReport};
use tongban_store::{Backend, ChannelListener, Database, Heard, now_ms};

use crate::state::AppState;

/// How often a node that listens (PostgreSQL) looks at the log anyway: the
/// bound on how late a change reaches it when its notification was lost,
/// for instance while its listener reconnected.
pub const POLL_WHILE_LISTENING: Duration = Duration::from_millis(500);

/// How often a node that cannot listen (SQLite) looks at the log: its only
/// way to learn of a change, and a cheap local query, so often.
pub const POLL_WITHOUT_LISTENING: Duration = Duration::from_millis(200);

/// The listener's connection is named this followed by the node id in
/// PostgreSQL's `pg_stat_activity.application_name` (cut at 63 bytes), so an
/// operator (or a test) can find one node's listener.
pub const LISTENER_NAME_PREFIX: &str = "tongban-listen ";

/// The first wait before connecting the listener again after a failure; it
/// doubles with each failure in a row, up to [`LISTEN_RETRY_MAX`], so a
/// database that is down is not hammered while the poll keeps the node going.
const LISTEN_RETRY_FIRST: Duration = Duration::from_millis(250);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(5);

/// At most this many wake-ups wait for the follower; past it one more adds
/// nothing, because the follower reads the whole log's sequence when it
/// wakes.
const WAKE_QUEUE: usize = 8;

/// The longest part of an unexpected notification's payload that is logged.
const LOGGED_PAYLOAD_CHARS: usize = 64;

/// Why the listener woke the follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A notification carried this sequence.
    Seq(i64),
    /// The listener (re)connected: whatever was announced while it was not
    /// listening is read from the log now.
    Resync,
}

/// The default node id: the host's name and the port the node listens on,
/// which is unique among the nodes of one machine and readable to operators.
/// A host name that is no valid node id gives way to `node`.
pub fn default_node_id(port: u16) -> String {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .ok()
        .filter(|h| nodes::check_node_id(h).is_ok() && h.len() <= nodes::MAX_NODE_ID_CHARS - 6)
        .unwrap_or_else(|| "node".to_owned());
    format!("{host}:{port}")
}

/// Follow the deployment log forever as `node`: register, load what the
/// current table serves, then swap tables as the log moves and acknowledge
/// each sequence once ready. A database failure is logged and the next
/// wake-up tries again; the node keeps serving the table it has.
pub async fn follow(state: AppState, node: NodeReport) {
    let db = state.market.db().clone();
    let listening = db.backend() == Backend::Postgres;
    let (wake_tx, mut wake) = mpsc::channel(WAKE_QUEUE);
    if listening {
        tokio::spawn(listen(db.clone(), node.node.clone(), wake_tx));
    } else {
        drop(wake_tx);
    }
    // Registered before anything is acknowledged, so that from its start
    // the node counts among the live nodes and as not ready.
    while let Err(e) = nodes::register(&db, &node, now_ms()).await {
        tracing::warn!(node = %node.node, error = %e, "registering the node failed; trying again");
        tokio::time::sleep(HEARTBEAT_EVERY).await;
    }
    tracing::info!(node = %node.node, listening, "following the deployment log");
    let mut poll = tokio::time::interval(if listening {
        POLL_WHILE_LISTENING
    } else {
        POLL_WITHOUT_LISTENING
    });
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut acknowledged: Option<i64> = None;
    // The first heartbeat tick is at once, so the table the node started
    // with is loaded first thing.
    loop {
        let beat = tokio::select! {
            _ = heartbeat.tick() => true,
            _ = poll.tick() => false,
            Some(woken) = wake.recv() => {
                tracing::debug!(?woken, "woken by the listener");
                false
            }
            // A handler swapped the table after its own release action:
            // acknowledge now, not at the next poll.
            () = state.ready_raised() => false,
        };
        if let Err(e) = state.refresh_serving().await {
            tracing::warn!(error = %e, "refreshing the serving table failed; keeping the current one");
        }
        // A version that failed to load is tried again at the heartbeat's
        // pace, not the poll's: a load may be a compile.
        if beat && state.ready_seq() < Some(state.serving.load().seq) {
            state.load_current().await;
        }
        let ready = state.ready_seq();
        let result = match ready {
            Some(seq) if ready != acknowledged => nodes::acknowledge(&db, &node, seq, now_ms()).await.map(|()| {
                tracing::info!(node = %node.node, seq, "acknowledged the deployment log");
                acknowledged = ready;
            }),
            _ if beat => nodes::heartbeat(&db, &node, now_ms()).await,
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(node = %node.node, error = %e, "recording the node's status failed; trying again");
        }
    }
}

/// Listen for the log's sequence on a connection of this node's own, waking
/// the follower for every notification and after every (re)connect, forever
/// (or until the follower is gone). A payload that is not a sequence number
/// is ignored with a log line.
async fn listen(db: Database, node_id: String, wake: mpsc::Sender<Wake>) {
    let name = format!("{LISTENER_NAME_PREFIX}{node_id}");
    let mut retry = LISTEN_RETRY_FIRST;
    loop {
        let mut listener = match ChannelListener::connect(&db, CHANNEL, &name).await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_ms = retry.as_millis() as u64, "cannot listen for deployment events; polling meanwhile");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LISTEN_RETRY_MAX);
                continue;
            }
        };
        retry = LISTEN_RETRY_FIRST;
        if !wakes(&wake, Wake::Resync) {
            return;
        }
        loop {
            match listener.next().await {
                Ok(Heard::Payload(payload)) => match payload.trim().parse::<i64>() {
                    Ok(seq) => {
                        if !wakes(&wake, Wake::Seq(seq)) {
                            return;
                        }
                    }
                    Err(_) => tracing::warn!(
                        payload = %payload.chars().take(LOGGED_PAYLOAD_CHARS).collect::<String>(),
                        bytes = payload.len(),
                        "ignoring a deployment notification that is not a sequence number"
                    ),
                },
                Ok(Heard::Lost) => {
                    tracing::warn!("the connection listening for deployment events was lost; connecting again");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for deployment events failed; connecting again");
                    tokio::time::sleep(LISTEN_RETRY_FIRST).await;
                    break;
                }
            }
        }
    }
}

/// Wake the follower; `false` once it is gone. A full queue already holds a
/// wake-up, which is as good as this one.
fn wakes(wake: &mpsc::Sender<Wake>, why: Wake) -> bool {
    !matches!(wake.try_send(why), Err(mpsc::error::TrySendError::Closed(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_node_id_is_a_valid_one_with_the_port() {
        let id = default_node_id(8080);
        assert!(id.ends_with(":8080"), "{id}");
        assert!(nodes::check_node_id(&id).is_ok(), "{id}");
    }
}
