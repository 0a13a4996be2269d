-- Go methods by receiver type (members of a type) through an index instead of a scan of every definition.
CREATE INDEX IF NOT EXISTS symbols_def_receiver ON symbols (repo_id, substring(detail from '^func \(\s*\w*\s*\*?(\w+)'))
    WHERE role = 'def' AND scope IS NULL AND detail LIKE 'func (%';
