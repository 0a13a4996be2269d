-- References by name (callee popularity for completion context) and symbols by scope (members of a type).
CREATE INDEX IF NOT EXISTS symbols_ref_name ON symbols (repo_id, name) WHERE role = 'ref';
CREATE INDEX IF NOT EXISTS symbols_def_scope ON symbols (repo_id, split_part(scope, '<', 1)) WHERE role = 'def';
