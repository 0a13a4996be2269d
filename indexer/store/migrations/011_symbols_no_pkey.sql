-- Cheaper bulk writes of symbols: no query looks a symbol up by its id (rows are read by repository, blob,
-- name and scope, and deleted with their blob), and the primary key's btree was about a quarter of the
-- cost of writing a large repository's 1.1 M symbol rows. The column stays (with its sequence default),
-- so `SELECT *` and UNION over symbols see the same rows as before.
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_pkey;
