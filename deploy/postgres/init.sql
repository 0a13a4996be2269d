-- Runs once, when the pgdata volume is first initialised (docker-entrypoint-initdb.d).
-- Hearth's migrations create what they need; this only fails early on a too-old pgvector.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $$
DECLARE
    v text := (SELECT extversion FROM pg_extension WHERE extname = 'vector');
BEGIN
    IF string_to_array(split_part(v, '-', 1), '.')::int[] < ARRAY[0, 8] THEN
        RAISE EXCEPTION 'pgvector % is too old: Hearth needs 0.8 or newer (iterative index scans)', v;
    END IF;
END
$$;
