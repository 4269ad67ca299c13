//! What the flows, the API, the pages and the workers share, and the swap of
//! the serving table: when the deployment log's sequence moves, the node
//! builds a new serving table, loads any version it has not loaded yet, and
//! only then swaps the table in whole. In-flight calls keep the table and the
//! loaded apps they started with. When to look at the log, and telling the
//! other nodes how far this one got, is the follower's (`follower.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use tokio::sync::Mutex;
use tongban_registry::Package;
use tongban_registry::market::deployment_events::latest_seq;
use tongban_registry::market::serving::ServingTable;
use tongban_registry::market::{MarketError, Marketplace};
use tongban_runtime::{CallEnv, CallOutcome, Hook, LoadedApp, Runtime};

/// How many versions a node unpacks and loads at once.
pub const LOAD_WORKERS: usize = 2;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub market: Marketplace,
    pub runtime: Arc<Runtime>,
    /// The shared services (the runtime's capabilities use the same ones).
    pub services: tongban_services::Services,
    pub serving: Arc<ArcSwap<ServingTable>>,
    /// Loaded versions by package digest.
    pub loaded: Arc<Mutex<HashMap<String, Arc<LoadedApp>>>>,
    /// The largest package upload, in bytes.
    pub max_upload_bytes: usize,
    /// Per-app call figures for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// How many applications run at once, per app and on this node.
    pub admission: Arc<crate::admission::Admission>,
    /// The workers that unpack and load (compile, at worst) versions.
    loading: Arc<tokio::sync::Semaphore>,
    /// Held for the whole of a refresh, so the poller and a handler that
    /// refreshes after its own release action never interleave, and a table
    /// read earlier can never be stored over one read later.
    refreshing: Arc<Mutex<()>>,
    /// The deployment log sequence of the newest serving table this node
    /// has swapped in with every version it serves loaded; -1 until the
    /// first. Only rises.
    ready_seq: Arc<AtomicI64>,
    /// Signalled whenever `ready_seq` rises, so the follower acknowledges at
    /// once a swap that a handler made (after its own release action)
    /// rather than at its next poll.
    ready_raised: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub async fn new(
        market: Marketplace,
        runtime: Arc<Runtime>,
        max_upload_bytes: usize,
    ) -> Result<AppState, MarketError> {
        let table = ServingTable::load(market.db()).await?;
        let (metrics, admission) = crate::metrics::Metrics::with_admission(Default::default());
        let state = AppState {
            market,
            services: runtime.services().clone(),
            runtime,
            serving: Arc::new(ArcSwap::from_pointee(table)),
            loaded: Arc::new(Mutex::new(HashMap::new())),
            max_upload_bytes,
            metrics,
            admission,
            loading: Arc::new(tokio::sync::Semaphore::new(LOAD_WORKERS)),
            refreshing: Arc::new(Mutex::new(())),
            ready_seq: Arc::new(AtomicI64::new(-1)),
            ready_raised: Arc::new(tokio::sync::Notify::new()),
        };
        Ok(state)
    }

    /// The state with admission control bounded by `limits` (and fresh
    /// metrics, which it reports into), before the server serves.
    pub fn with_admission_limits(mut self, limits: crate::admission::AdmissionLimits) -> AppState {
        let (metrics, admission) = crate::metrics::Metrics::with_admission(limits);
        self.metrics = metrics;
        self.admission = admission;
        self
    }

    /// The loaded app of a package digest, loading it from the blob store
    /// (verified) on first use.
    pub async fn loaded_app(&self, digest: &str) -> Result<Arc<LoadedApp>, MarketError> {
        if let Some(app) = self.loaded.lock().await.get(digest) {
            return Ok(app.clone());
        }
        let bytes = self.market.blobs().get(digest).await?;
        // Unpacking and loading (a compile, when this node has no artifact
        // yet, which runs in a child process under limits) are blocking
        // work, at most `LOAD_WORKERS` at once; the job holds its worker.
        let worker = self
            .loading
            .clone()
            .acquire_owned()
            .await
            .expect("the load workers are never closed");
        let runtime = self.runtime.clone();
        let app = tokio::task::spawn_blocking(move || {
            let _held = worker;
            let package = Package::from_bytes(&bytes).map_err(|e| MarketError::Internal(e.to_string()))?;
            runtime
                .load(&package)
                .map_err(|e| MarketError::Internal(format!("a served version failed to load: {e}")))
        })
        .await
        .map_err(|e| MarketError::Internal(e.to_string()))??;
        let app = Arc::new(app);
        self.loaded.lock().await.insert(digest.to_owned(), app.clone());
        Ok(app)
    }

    /// After a version is approved, compile it on this node in the
    /// background (in the compiler child, under its limits), so the rollout
    /// that follows only loads it. The node that published it compiled it
    /// already; this covers the node the reviewer used. A failure is logged:
    /// the serving loop loads (and reports) the version again when it serves.
    pub fn warm_approved(&self, app: &str, version: &str) {
        let state = self.clone();
        let (app, version) = (app.to_owned(), version.to_owned());
        tokio::spawn(async move {
            let digest = match tongban_registry::market::publish::package_digest(&state.market, &app, &version).await {
                Ok(digest) => digest,
                Err(e) => {
                    tracing::warn!(%app, %version, error = %e, "an approved version could not be found to compile");
                    return;
                }
            };
            if let Err(e) = state.loaded_app(&digest).await {
                tracing::warn!(%app, %version, error = %e, "an approved version did not compile on this node");
            }
        });
    }

    /// Run one hook of a loaded app and record it in the metrics. Every hook
    /// call the server makes goes through here.
    pub async fn call_app(&self, app: &LoadedApp, env: &CallEnv, hook: Hook) -> CallOutcome {
        let name = hook.name();
        let outcome = self.runtime.call(app, env, hook).await;
        self.metrics.record(
            &app.manifest.app.id,
            &app.manifest.app.version.to_string(),
            name,
            &outcome,
        );
        outcome
    }

    /// Swap in a new serving table if the deployment log moved. Versions the
    /// new table serves are loaded before the swap, so the first call after
    /// it is fast. A version that fails to load is logged and the table is
    /// swapped all the same (so a revocation elsewhere in it still takes
    /// effect; a call to that version tries the load again and is refused
    /// while it fails), but this node is not [ready](AppState::ready_seq) at
    /// that sequence until a later [`load_current`](AppState::load_current)
    /// loads it.
    ///
    /// Refreshes are serialised: the table is read after the lock is taken,
    /// so each stored table is at least as new as the one before it. The
    /// table's sequence is read before its rows, so a table may be newer than
    /// its sequence says (the next look at the log reloads it), never older.
    pub async fn refresh_serving(&self) -> Result<bool, MarketError> {
        // Load what the newest table serves before taking the lock, so that a
        // slow load (a compile on a node that has no artifact yet) holds up
        // no other refresh; under the lock the loads are then found loaded.
        let latest = latest_seq(self.market.db()).await?;
        if latest == self.serving.load().seq {
            return Ok(false);
        }
        self.load_served(&ServingTable::load(self.market.db()).await?).await;
        let _only_refresh = self.refreshing.lock().await;
        let latest = latest_seq(self.market.db()).await?;
        if latest == self.serving.load().seq {
            return Ok(false);
        }
        let table = ServingTable::load(self.market.db()).await?;
        let all_loaded = self.load_served(&table).await;
        let seq = table.seq;
        self.serving.store(Arc::new(table));
        if all_loaded {
            self.raise_ready(seq);
        }
        tracing::info!(seq, all_loaded, "serving table swapped");
        Ok(true)
    }

    /// Load every version the current table serves (again, for any that
    /// failed before); when all are loaded, this node is ready at the
    /// table's sequence. Returns whether they all are.
    pub async fn load_current(&self) -> bool {
        let table = self.serving.load_full();
        let all_loaded = self.load_served(&table).await;
        if all_loaded {
            self.raise_ready(table.seq);
        }
        all_loaded
    }

    /// The deployment log sequence this node is ready at: it serves a table
    /// at least that new with every version in it loaded. `None` until its
    /// first table is loaded.
    pub fn ready_seq(&self) -> Option<i64> {
        Some(self.ready_seq.load(Ordering::SeqCst)).filter(|seq| *seq >= 0)
    }

    /// This node is ready at `seq` (if that is newer); wakes whoever waits
    /// in [`AppState::ready_raised`].
    fn raise_ready(&self, seq: i64) {
        if self.ready_seq.fetch_max(seq, Ordering::SeqCst) < seq {
            self.ready_raised.notify_one();
        }
    }

    /// Completes when this node's ready sequence has risen since the last
    /// wait (at most one waiter: the follower).
    pub async fn ready_raised(&self) {
        self.ready_raised.notified().await;
    }

    /// Load every version a table serves; a version that cannot be loaded is
    /// logged and stays unserved on this node. Returns whether all loaded.
    async fn load_served(&self, table: &ServingTable) -> bool {
        let mut all_loaded = true;
        for (app, version, digest) in table.digests() {
            if let Err(e) = self.loaded_app(&digest).await {
                tracing::error!(%app, %version, error = %e, "a version in the serving table cannot be loaded");
                all_loaded = false;
            }
        }
        all_loaded
    }
}
