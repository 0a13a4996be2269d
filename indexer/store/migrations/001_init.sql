-- Hearth index, version 1.
-- Content-addressed: parse results (blobs, chunks, symbols) are keyed by the file content's hash
-- within a repository; `files` maps (repository, snapshot = branch/worktree state, path) to a
-- content hash, so a branch switch re-indexes only content the index has not seen. Every table
-- carries the repository it belongs to.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE repos (
    id          serial PRIMARY KEY,
    root        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE snapshots (
    id            serial PRIMARY KEY,
    repo_id       int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name          text NOT NULL,
    last_indexed  timestamptz,
    UNIQUE (repo_id, name)
);

CREATE TABLE blobs (
    repo_id       int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    content_hash  text NOT NULL,
    language      text,
    chunk_count   int NOT NULL DEFAULT 0,
    symbol_count  int NOT NULL DEFAULT 0,
    PRIMARY KEY (repo_id, content_hash)
);

CREATE TABLE files (
    repo_id       int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    snapshot_id   int NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    path          text NOT NULL,
    content_hash  text,
    size          bigint NOT NULL DEFAULT 0,
    mtime_ns      bigint NOT NULL DEFAULT 0,
    language      text,
    status        text NOT NULL CHECK (status IN ('indexed', 'skipped')),
    skip_reason   text,
    indexed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_id, path),
    FOREIGN KEY (repo_id, content_hash) REFERENCES blobs(repo_id, content_hash)
);
CREATE INDEX files_repo_hash ON files (repo_id, content_hash);

CREATE TABLE chunks (
    id            bigserial PRIMARY KEY,
    repo_id       int NOT NULL,
    content_hash  text NOT NULL,
    ord           int NOT NULL,
    start_line    int NOT NULL,
    end_line      int NOT NULL,
    kind          text NOT NULL,
    symbol        text,
    language      text,
    text          text NOT NULL,
    text_hash     text NOT NULL,
    lex           tsvector NOT NULL,
    UNIQUE (repo_id, content_hash, ord),
    FOREIGN KEY (repo_id, content_hash) REFERENCES blobs(repo_id, content_hash) ON DELETE CASCADE
);
CREATE INDEX chunks_lex ON chunks USING gin (lex);
CREATE INDEX chunks_text_hash ON chunks (repo_id, text_hash);

CREATE TABLE symbols (
    id            bigserial PRIMARY KEY,
    repo_id       int NOT NULL,
    content_hash  text NOT NULL,
    name          text NOT NULL,
    kind          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('def', 'ref', 'import')),
    scope         text,
    detail        text,
    line          int NOT NULL,
    col           int NOT NULL,
    end_line      int NOT NULL,
    FOREIGN KEY (repo_id, content_hash) REFERENCES blobs(repo_id, content_hash) ON DELETE CASCADE
);
CREATE INDEX symbols_def_name ON symbols (repo_id, name) WHERE role = 'def';
CREATE INDEX symbols_blob ON symbols (repo_id, content_hash);

-- Embeddings are cached by chunk text hash and model; the vector's dimension depends on the model,
-- so each model gets its own partial HNSW expression index (created by the store on first use).
CREATE TABLE embeddings (
    repo_id    int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    model      text NOT NULL,
    text_hash  text NOT NULL,
    embedding  vector NOT NULL,
    PRIMARY KEY (repo_id, model, text_hash)
);

CREATE TABLE traces (
    id          bigserial PRIMARY KEY,
    repo_id     int REFERENCES repos(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    data        jsonb NOT NULL
);
