-- Top-level definitions of a file through an index (callee prediction: the definitions of an imported module's
-- or a Go package's files). Without it, the files matching the module are hash-joined with every top-level
-- definition of the repository (about 100 ms at 100k chunks); with it, a probe per matching file. Partial: a
-- small share of the symbols (references and members stay out).
CREATE INDEX IF NOT EXISTS symbols_def_top_blob ON symbols (repo_id, content_hash) WHERE role = 'def' AND scope IS NULL;
