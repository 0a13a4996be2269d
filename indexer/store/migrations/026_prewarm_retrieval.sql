-- Loading the vector index into memory before the first searches need it, where the pg_prewarm extension (a
-- contrib module of PostgreSQL) is present: an HNSW search visits about a thousand pages scattered over the graph,
-- and at 1M chunks (a 1.9 GB index) a first visit read them from disk, 171 ms instead of 9 ms.
-- hearth:optional-extension pg_prewarm
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
