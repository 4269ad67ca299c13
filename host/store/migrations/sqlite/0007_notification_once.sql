-- A message sent while a case event is delivered carries a key made of the
-- event and its place in the call, so a redelivery (delivery is at least
-- once) finds it sent rather than sending it again. Other messages have no
-- key; NULLs never conflict. Additive only.

ALTER TABLE notifications ADD COLUMN once_key TEXT;
CREATE UNIQUE INDEX notifications_once_key ON notifications (once_key);
