-- The shared services behind the capabilities: platform secrets, subjects and
-- their pairwise handles, consents, e-certificates, provenance, cases with
-- their transactional outbox, payments and notifications. Additive only.

-- Secrets the platform generates once and every node shares (the pairwise
-- handle key and the certificate seal key). A deployment that keeps them in an
-- HSM or KMS replaces this table; see ARCHITECTURE.md.
CREATE TABLE platform_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- People and legal persons as the identity source knows them. Apps never see
-- these rows, only pairwise handles and consented, masked attributes.
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    id_number TEXT,
    birth_date TEXT,
    gender TEXT,
    phone TEXT,
    email TEXT,
    address TEXT,
    region TEXT NOT NULL,
    assurance TEXT NOT NULL,
    source TEXT NOT NULL,
    verified_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which subject a handle stands for, and for which app: a handle resolves
-- only for the app it was made for.
CREATE TABLE subject_handles (
    handle TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    app_id TEXT NOT NULL
);
CREATE UNIQUE INDEX subject_handles_pair ON subject_handles (subject_id, app_id);

ALTER TABLE users ADD COLUMN subject_id TEXT REFERENCES subjects (id);

CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    app_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    purpose TEXT NOT NULL,
    purpose_text TEXT NOT NULL,
    state TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    granted_at BIGINT,
    expires_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX consents_subject_app ON consents (subject_id, app_id);

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    type_code TEXT NOT NULL,
    type_name TEXT NOT NULL,
    issuer_code TEXT NOT NULL,
    issuer_name TEXT NOT NULL,
    holder_id TEXT NOT NULL REFERENCES subjects (id),
    holder_name TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT,
    status TEXT NOT NULL,
    fields TEXT NOT NULL,
    app_id TEXT,
    case_id TEXT,
    sealed TEXT NOT NULL
);
CREATE INDEX certificates_holder ON certificates (holder_id, type_code);
CREATE UNIQUE INDEX certificates_case_type ON certificates (case_id, type_code);

CREATE TABLE certificate_serials (
    issuer_code TEXT NOT NULL,
    type_code TEXT NOT NULL,
    next_serial BIGINT NOT NULL,
    PRIMARY KEY (issuer_code, type_code)
);

CREATE TABLE certificate_status_changes (
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    at BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_org TEXT NOT NULL
);
CREATE INDEX certificate_status_changes_cert ON certificate_status_changes (certificate_id);

-- One row per personal-data access; `audit_seq` is its entry in the audit
-- chain, whose after-digest is the digest of this row.
CREATE TABLE provenance (
    audit_seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    app_id TEXT NOT NULL,
    app_version TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    subject_handle TEXT NOT NULL,
    operation TEXT NOT NULL,
    scopes TEXT NOT NULL,
    purpose TEXT NOT NULL,
    consent_id TEXT,
    case_id TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX provenance_subject ON provenance (subject_id);
CREATE INDEX provenance_case ON provenance (case_id);

CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    app_version TEXT NOT NULL,
    item TEXT NOT NULL,
    item_mode TEXT NOT NULL,
    promised_days INTEGER,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    region TEXT NOT NULL,
    channel TEXT NOT NULL,
    on_behalf_of TEXT,
    stage TEXT NOT NULL,
    accepting_org TEXT NOT NULL,
    handling_org TEXT NOT NULL,
    form TEXT NOT NULL,
    follow_on_of TEXT,
    submission_key TEXT,
    submitted_at BIGINT NOT NULL,
    accepted_at BIGINT,
    due_at BIGINT,
    decided_at BIGINT,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_submission ON cases (subject_id, submission_key);
CREATE INDEX cases_accepting ON cases (accepting_org, stage);
CREATE INDEX cases_handling ON cases (handling_org, stage);
CREATE INDEX cases_subject ON cases (subject_id);

-- The case timeline, and the transactional outbox: an event the app's
-- `on-event` hook must see is written in the same transaction as the
-- transition (`deliver` = 1) and marked delivered once the hook returned.
CREATE TABLE case_events (
    case_id TEXT NOT NULL REFERENCES cases (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_org TEXT,
    from_stage TEXT,
    to_stage TEXT,
    deliver INTEGER NOT NULL,
    delivered_at BIGINT,
    attempts INTEGER NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_events_outbox ON case_events (deliver, delivered_at);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    org_code TEXT NOT NULL,
    case_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    provider TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE UNIQUE INDEX payments_idempotency ON payments (app_id, idempotency_key);
CREATE INDEX payments_org_settled ON payments (org_code, settled_at);

CREATE TABLE payment_refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount_fen BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_refunds_idempotency ON payment_refunds (payment_id, idempotency_key);

-- Every provider callback ever received, by the provider's event id, so a
-- replay is recognised and applied at most once.
CREATE TABLE payment_callbacks (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    applied INTEGER NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id),
    app_id TEXT NOT NULL,
    template TEXT NOT NULL,
    body TEXT NOT NULL,
    case_id TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    email_state TEXT NOT NULL,
    email_error TEXT
);
CREATE INDEX notifications_subject ON notifications (subject_id, created_at);
