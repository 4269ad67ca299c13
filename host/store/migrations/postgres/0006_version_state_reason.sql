-- Why a version was yanked or revoked, for its publisher and auditors. The
-- audit chain's entry for the action commits to the reason with the new
-- state. Additive only.

ALTER TABLE versions ADD COLUMN state_reason TEXT;
