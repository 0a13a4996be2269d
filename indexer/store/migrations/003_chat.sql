-- Chat conversations and their messages, per repository (resumable across sessions and editors).
-- A conversation without a repository (no workspace folder) has repo_id NULL.

CREATE TABLE conversations (
    id          text PRIMARY KEY,
    repo_id     int REFERENCES repos(id) ON DELETE CASCADE,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_repo_updated ON conversations (repo_id, updated_at DESC);

CREATE TABLE messages (
    id               bigserial PRIMARY KEY,
    conversation_id  text NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('user', 'assistant')),
    content          text NOT NULL,
    sources          jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
