-- An application opens its case, then runs the app's `submit`, which asks
-- for the fees. A node that dies between the two leaves a case the app never
-- took; the case records when `submit` answered for it, so an application
-- repeated with the same submission key runs `submit` again instead of
-- answering a case without its fees. Every case from before was answered.
-- Additive only.
ALTER TABLE cases ADD COLUMN submit_answered_at BIGINT;
UPDATE cases SET submit_answered_at = submitted_at;
