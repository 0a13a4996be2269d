-- How often each name is referenced per snapshot: the callee popularity prior of completion context, read
-- by index probes instead of counting a large index's references on every request. Refreshed in the
-- background (with the term statistics) when missing or when the repository's chunk count drifts;
-- without a row in ref_stats_state, references are counted live.
CREATE TABLE IF NOT EXISTS ref_stats (
    repo_id      int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    snapshot_id  int NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    name         text NOT NULL,
    nref         int NOT NULL,
    PRIMARY KEY (repo_id, snapshot_id, name)
);
CREATE TABLE IF NOT EXISTS ref_stats_state (
    repo_id       int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    snapshot_id   int NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    chunks        int NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, snapshot_id)
);
