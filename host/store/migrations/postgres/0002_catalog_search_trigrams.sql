-- A trigram index for catalog search (`search_text LIKE '%text%'`), which
-- otherwise scans every app. pg_trgm ships with PostgreSQL's contrib package;
-- where it is missing or may not be created, search still works, by a scan.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX IF NOT EXISTS apps_search_trgm ON apps USING gin (search_text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): catalog search scans the apps table', SQLERRM;
END
$$;
