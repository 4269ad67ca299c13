-- The desired state's log, and what each node has applied of it. Additive
-- only; the PostgreSQL tree has the same tables and columns.
--
-- `deployment_events` has one row per change to what serves: a release
-- action on a deployment (`region` set), a version-wide yank, revocation or
-- quarantine (`region` NULL), and a deployment superseded by a full rollout.
-- Rows are appended in the release action's transaction and never changed or
-- deleted. `seq` is the rowid (each new row takes the largest plus one, and
-- no row is deleted); SQLite has one writer at a time, so sequence numbers
-- commit in order and a node that has seen `seq` has seen every smaller one.
CREATE TABLE deployment_events (
    seq INTEGER PRIMARY KEY,
    region TEXT,
    app_id TEXT NOT NULL,
    version TEXT NOT NULL,
    package_digest TEXT NOT NULL,
    action TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX deployment_events_version ON deployment_events (app_id, version, seq);

-- One row per server node: where it listens, when it started, the newest
-- event sequence whose serving table it has swapped in with every version
-- loaded (`applied_seq`, NULL until its first acknowledgement after a start),
-- when it acknowledged that, and its last heartbeat.
CREATE TABLE node_status (
    node_id TEXT PRIMARY KEY,
    listen TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    applied_seq BIGINT,
    ready_at BIGINT,
    heartbeat_at BIGINT NOT NULL
);
