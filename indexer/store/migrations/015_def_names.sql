-- The distinct names defined in a snapshot: trigram ("did you mean") matching runs over these instead of over
-- every definition row (a name is defined many times in a large index: 7.5M definitions but far fewer names
-- at 1M chunks; the trigram scan over all definitions took 60 ms there). Refreshed in the background with
-- the reference counts (ref_stats); until then the trigram match runs over the definitions as before.
CREATE TABLE IF NOT EXISTS def_names (
    repo_id      int NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    snapshot_id  int NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    name         text NOT NULL,
    PRIMARY KEY (repo_id, snapshot_id, name)
);
-- Snapshots whose reference counts were taken before this table existed are refreshed again.
DELETE FROM ref_stats_state;
