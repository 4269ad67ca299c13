-- Evaluation (好差评, GB/T 39734): one rating per case by its applicant, and
-- the remediation item (整改) a dissatisfied or very dissatisfied rating
-- opens for the case's accepting org. Apps have no access to either table.
-- Additive only.

-- `case_id` is the key, so a case is rated at most once even when two
-- ratings race. `comment` is NULL when the citizen left none.
CREATE TABLE case_ratings (
    case_id TEXT PRIMARY KEY REFERENCES cases (id),
    level TEXT NOT NULL,
    comment TEXT,
    rated_at BIGINT NOT NULL
);

-- One remediation item per rated case, owned by the org that must fix it
-- (the case's accepting org), open until its staff resolve it with a note.
CREATE TABLE remediations (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES case_ratings (case_id),
    org TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by TEXT,
    resolution TEXT
);
CREATE UNIQUE INDEX remediations_case ON remediations (case_id);
CREATE INDEX remediations_org ON remediations (org, resolved_at);
