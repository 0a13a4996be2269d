-- Symbol-name matching by trigram similarity, where the pg_trgm extension is present.
-- hearth:optional-extension pg_trgm
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS symbols_def_name_trgm ON symbols USING gin (name gin_trgm_ops) WHERE role = 'def';
