-- Retrieval latency on large indexes.
-- The chunk holding a symbol's line: the last chunk of the file starting at or before the line, one index probe.
CREATE INDEX IF NOT EXISTS chunks_blob_start ON chunks (repo_id, content_hash, start_line);

-- Document frequency of each full-text term per repository (``ts_stat`` over the repository's chunks),
-- refreshed in the background when the chunk count drifts. Full-text search queries only the rarest
-- terms of a query, so that an OR of common words never matches most of a large index.
CREATE TABLE IF NOT EXISTS term_stats (
    repo_id  int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    term     text NOT NULL,
    ndoc     int NOT NULL,
    PRIMARY KEY (repo_id, term)
);
CREATE TABLE IF NOT EXISTS term_stats_state (
    repo_id       int PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    chunks        int NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now()
);
