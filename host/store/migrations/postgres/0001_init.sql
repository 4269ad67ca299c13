-- The initial schema. Migrations are additive, so old and new nodes can run
-- side by side during a rolling upgrade. Times are milliseconds since the
-- Unix epoch (BIGINT) on both backends.

CREATE TABLE app_kv (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);

CREATE TABLE orgs (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE namespaces (
    prefix TEXT PRIMARY KEY,
    org_code TEXT NOT NULL REFERENCES orgs (code)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    org_code TEXT REFERENCES orgs (code),
    region TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE publisher_keys (
    key_id TEXT PRIMARY KEY,
    org_code TEXT NOT NULL REFERENCES orgs (code),
    public_key TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    compromised_at BIGINT
);

CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    org_code TEXT NOT NULL REFERENCES orgs (code),
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    search_text TEXT NOT NULL,
    latest_version TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX apps_updated ON apps (updated_at);

CREATE TABLE versions (
    app_id TEXT NOT NULL REFERENCES apps (id),
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    manifest TEXT NOT NULL,
    package_digest TEXT NOT NULL,
    component_digest TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    check_report TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_reason TEXT,
    countersignature TEXT,
    PRIMARY KEY (app_id, version)
);
CREATE INDEX versions_state ON versions (state);

CREATE TABLE deployments (
    app_id TEXT NOT NULL,
    region TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    percentage INTEGER NOT NULL,
    pilot_group TEXT NOT NULL,
    message TEXT,
    sunset_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, region, version),
    FOREIGN KEY (app_id, version) REFERENCES versions (app_id, version)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before_digest TEXT NOT NULL,
    after_digest TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE serving_epoch (
    id INTEGER PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO serving_epoch (id, epoch) VALUES (1, 0);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE registry_keys (
    id INTEGER PRIMARY KEY,
    key_file TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
