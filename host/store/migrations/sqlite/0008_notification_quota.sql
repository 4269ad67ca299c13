-- An app's messages are bounded per civil day, per subject and in all; the
-- bound counts the app's messages since the day began. Additive only.

CREATE INDEX notifications_app_day ON notifications (app_id, created_at);
