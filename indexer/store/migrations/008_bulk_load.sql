-- Cheaper bulk writes of parse results.
-- Chunk and symbol rows no longer check their blob row on insert: the foreign key's per-row check was
-- about half the cost of writing a large repository's symbols (1.1 M rows for 44k files). The store
-- writes a blob and its chunks and symbols in one transaction, so the check never fired. Deleting a
-- blob (garbage collection, or a repository deleted with its blobs) still takes its chunks and symbols
-- along, through one statement-level trigger per DELETE instead of a cascade per row.
ALTER TABLE chunks DROP CONSTRAINT IF EXISTS chunks_repo_id_content_hash_fkey;
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_repo_id_content_hash_fkey;

CREATE OR REPLACE FUNCTION hearth_blobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM chunks c USING gone g WHERE c.repo_id = g.repo_id AND c.content_hash = g.content_hash;
    DELETE FROM symbols s USING gone g WHERE s.repo_id = g.repo_id AND s.content_hash = g.content_hash;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS blobs_deleted ON blobs;
CREATE TRIGGER blobs_deleted AFTER DELETE ON blobs REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_blobs_deleted();
