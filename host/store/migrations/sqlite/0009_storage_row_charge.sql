-- App storage charges each row what it costs the database: the value, the
-- key and the app id twice (row and index), and 64 bytes of headers. Rows
-- written before are charged again by that rule, so an app's total is true
-- from the first write after the upgrade. Lengths in bytes.

UPDATE app_kv
SET size = length(CAST(value AS BLOB)) + 2 * length(CAST(key AS BLOB)) + 2 * length(CAST(app_id AS BLOB)) + 64;
