-- The audit log off the hot path (issue 13). An append is one insert: the
-- entry gets its id (`seq`) at once and its place in the hash chain later,
-- when the sealer links pending entries in batches and signs each batch's
-- head. Entries written before the sealer existed were chained at append;
-- they keep their hashes as batch 0, with their position equal to their id.
ALTER TABLE audit_log ADD COLUMN chain_position BIGINT;
ALTER TABLE audit_log ADD COLUMN batch BIGINT;
UPDATE audit_log SET chain_position = seq, batch = 0;
CREATE UNIQUE INDEX audit_log_chain_position ON audit_log (chain_position);
CREATE INDEX audit_log_pending ON audit_log (seq) WHERE batch IS NULL;

-- One row per sealed batch: the positions it covers, the hash of its last
-- entry, and the registry key's signature over them.
CREATE TABLE audit_batches (
    batch BIGINT PRIMARY KEY,
    first_position BIGINT NOT NULL,
    last_position BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    oldest_at BIGINT NOT NULL,
    sealed_at BIGINT NOT NULL,
    signer TEXT NOT NULL,
    signature TEXT NOT NULL
);

-- Which node seals, until when: one sealer per cluster, and any node takes
-- over when the lease runs out.
CREATE TABLE audit_sealer_lease (
    id INTEGER PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO audit_sealer_lease (id, holder, expires_at) VALUES (1, '', 0);

-- Rows that writers touch first to serialise with each other: `market` for
-- the registry's actions on both backends, `writer` for SQLite's one writer
-- (taking the write lock before the first read, so a transaction never
-- fails on a stale snapshot when it comes to write).
CREATE TABLE write_locks (
    name TEXT PRIMARY KEY,
    touched BIGINT NOT NULL
);
INSERT INTO write_locks (name, touched) VALUES ('market', 0), ('writer', 0);
