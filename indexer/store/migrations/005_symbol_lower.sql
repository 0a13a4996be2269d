-- Case-insensitive symbol-name lookups (search by name) through an index instead of a scan.
CREATE INDEX IF NOT EXISTS symbols_def_lower_name ON symbols (repo_id, lower(name)) WHERE role = 'def';
