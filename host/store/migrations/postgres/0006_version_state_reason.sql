-- Why a version was yanked or revoked, for its publisher and auditors: one
-- line per action (`yank: ...`, `revoke: ...`), oldest first. The audit
-- chain's entry for each action commits to the reasons with the new state.
-- Additive only.

ALTER TABLE versions ADD COLUMN state_reason TEXT;
