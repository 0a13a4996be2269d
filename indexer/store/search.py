"""Retrieval queries: full text, vectors, symbol names, definitions (mixed into ``Store``).

Every query is scoped by repository and snapshot (branch/worktree state), lexical ones included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, NamedTuple

import numpy as np
import psycopg

from hearth.indexer.types import Hit


class DefRow(NamedTuple):
    """A definition found by name, path or type (a tuple: lookups return hundreds of them per request)."""

    path: str
    name: str
    kind: str
    scope: str | None
    line: int
    end_line: int
    detail: str | None
    content_hash: str | None = None  # set by the symbol-only lookups (``def_symbols`` etc.)
    language: str | None = None


# Arrays of names and content hashes travel as one string split by the server: psycopg builds a list parameter
# element by element in Python (0.8 ms for 256 hashes, 0.15 ms as one string). Identifiers, hashes and numbers never
# hold the separator (a name that does is left out).
_SEP = "\x1f"


def _joined(values: Sequence[Any]) -> str:
    return _SEP.join(v for v in map(str, values) if _SEP not in v)


def _split(param: str, cast: str = "") -> str:
    """SQL for the array a ``_joined`` parameter holds (``cast``: e.g. ``::int[]``)."""
    return f"string_to_array(%({param})s, chr(31)){cast}"


def _split_opaque(param: str) -> str:
    """``_split`` as an init plan, whose value the planner does not see: for ``= ANY(..)`` over hundreds of names
    on an index whose plan never depends on them. A visible array is estimated element by element against the
    column's statistics: 0.31 of 0.6 ms for the reference counts of 500 candidate names, 0.06 as an init plan."""
    return f"(SELECT {_split(param)})::text[]"


def _write_changed(c: Any, table: str, scope: dict[str, int], now: str, key: str, value: str | None = None) -> None:
    """Make ``table``'s rows of ``scope`` (column -> value) those of the temporary table ``now`` (its ``key`` column,
    and ``value``), writing only what differs: rows gone are deleted, changed values updated, new rows inserted (ON
    CONFLICT skips the others before any index is touched). Statistics change little between refreshes."""
    cols = list(scope)
    where = " AND ".join(f"t.{col} = %({col})s" for col in cols)
    c.execute(
        f"DELETE FROM {table} t WHERE {where} AND NOT EXISTS (SELECT 1 FROM {now} n WHERE n.{key} = t.{key})", scope
    )
    extra = [value] if value else []
    action = "DO NOTHING"
    if value:
        action = f"DO UPDATE SET {value} = excluded.{value} WHERE {table}.{value} <> excluded.{value}"
    c.execute(
        f"INSERT INTO {table} ({', '.join([*cols, key, *extra])})"
        f" SELECT {', '.join([*(f'%({col})s' for col in cols), f'n.{key}', *(f'n.{v}' for v in extra)])}"
        f" FROM {now} n ORDER BY n.{key} ON CONFLICT ({', '.join([*cols, key])}) {action}",
        scope,
    )


# Full text: how many of the best-ranked candidates beyond the k asked for have their file looked up (see search_fts).
FTS_FILTER_MARGIN = 10
# Full text: queries of at most this many words look for chunks holding all of them first (``search_fts``).
FTS_ALL_WORDS_MAX = 8
# Full text: the summed document frequency of the queried words above which the index scan is imposed.
FTS_COMMON_POSTINGS = 2000


# The chunk holding a symbol's line, looked up per symbol through the (repo_id, content_hash, start_line) index. A plain
# join lets the planner hash the whole repository's chunks when it overestimates the matching symbols (a
# parallel sequential scan of 100k chunks, 100 ms). Chunks of one file never overlap: the last one starting at or
# before the line holds it if it ends at or after it.
_CHUNK_AT = (
    " JOIN LATERAL (SELECT c.start_line, c.end_line, c.text, c.symbol, c.kind, c.language FROM chunks c"
    "  WHERE c.repo_id = s.repo_id AND c.content_hash = s.content_hash AND c.start_line <= s.line"
    "  ORDER BY c.start_line DESC LIMIT 1) ch ON ch.end_line >= s.line"
)


# The same, with the chunk's id instead of its text (read later for the rows kept).
_CHUNK_AT_ID = _CHUNK_AT.replace("c.text,", "c.id,")

# A reference row's occurrences, one ``o.line`` each (rows written before migration 027 are one occurrence each),
# and their number.
_OCCURRENCES = " CROSS JOIN LATERAL unnest(coalesce(s.lines, ARRAY[s.line])) AS o(line)"
_OCCURRENCE_COUNT = "coalesce(cardinality(s.lines), 1)"

# Trigram ("did you mean") matching of a short query: at most this many similar defined names, and this many
# definitions of each (the query's own names keep ``per_name``).
SIMILAR_NAMES = 12
TRGM_THRESHOLD = "0.45"  # pg_trgm's similarity for "did you mean" (its default, 0.3, finds thousands of names)
SIMILAR_PER_NAME = 8
# Names longer than this get similar names only when nothing defines them (``search_symbol_names``).
FUZZY_MAX_CHARS = 24


# The snapshot's files holding a chunk ``ch`` (or a symbol ``s``), probed per row through (repo_id, content_hash):
# the planner would otherwise hash every file of the snapshot for a few hundred rows (OFFSET 0 keeps it a probe).
_FILES_OF_CH = (
    " CROSS JOIN LATERAL (SELECT f.path FROM files f WHERE f.repo_id = ch.repo_id AND f.content_hash = ch.content_hash"
    "  AND f.snapshot_id = %(snap)s AND NOT (f.path = ANY(%(exclude)s)) OFFSET 0) f"
)
_FILES_OF_S = _FILES_OF_CH.replace("ch.", "s.")
_FILES_OF_M = _FILES_OF_CH.replace("ch.", "m.")
_FILES_OF_S_LANG = _FILES_OF_S.replace("SELECT f.path FROM", "SELECT f.path, f.language FROM")

# Members of types (by scope), Go methods by receiver type, and the types' own definitions: three index lookups
# (``symbols_def_scope``, ``symbols_def_receiver``, ``symbols_def_name``) rather than one OR over every definition.
# UNION ALL: a row two branches find has one (path, line, name), and the readers keep one row per such key.
_MEMBER_COLUMNS = "s.name, s.kind, s.scope, s.line, s.end_line, s.detail, s.content_hash"
_MEMBERS_UNION = (
    f"SELECT {_MEMBER_COLUMNS} FROM symbols s WHERE s.repo_id = %(repo)s AND s.role = 'def'"
    " AND split_part(s.scope, '<', 1) = ANY(" + _split("types") + ")"
    f" UNION ALL SELECT {_MEMBER_COLUMNS} FROM symbols s WHERE s.repo_id = %(repo)s AND s.role = 'def'"
    "  AND s.scope IS NULL AND s.detail LIKE 'func (%%'"
    "  AND substring(s.detail from '^func \\(\\s*\\w*\\s*\\*?(\\w+)') = ANY(" + _split("types") + ")"
    f" UNION ALL SELECT {_MEMBER_COLUMNS} FROM symbols s WHERE s.repo_id = %(repo)s AND s.role = 'def'"
    "  AND s.name = ANY(" + _split("types") + ") AND s.kind NOT IN ('method', 'function', 'constant', 'variable')"
)


class SearchQueries:
    has_trgm: bool
    vector_version: str | None

    def conn(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

    @staticmethod
    def _session_settings(c: psycopg.Connection[Any], **settings: str) -> None:
        """Session-level settings of a pooled connection in autocommit (``_read``), sent only when they differ from
        what this connection was last given (one round trip for the first query that needs them, none after);
        every query that depends on one of them asks for it, so none relies on another's value."""
        have: dict[str, str] = c.__dict__.setdefault("_hearth_settings", {})
        todo = {name.replace("__", "."): value for name, value in settings.items()}
        todo = {name: value for name, value in todo.items() if have.get(name) != value}
        if todo:
            c.execute(
                "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in todo),
                [x for item in todo.items() for x in item],
            )
            have.update(todo)

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit, for read-only statements that need no transaction-local setting.

        A pooled connection otherwise opens a transaction before the first statement and commits it when it is
        returned: two more round trips per lookup (a completion's definitions make about six lookups in a row).
        """
        with self.conn() as c:
            c.autocommit = True
            try:
                yield c
            finally:
                try:
                    c.autocommit = False
                except psycopg.Error:
                    c.close()  # never back in the pool in autocommit: the pool replaces a closed connection

    @property
    def supports_iterative_scan(self) -> bool:
        raise NotImplementedError

    _HIT_COLUMNS = "f.path, ch.start_line, ch.end_line, ch.text, ch.symbol, ch.kind, ch.language"

    def search_fts(
        self,
        repo_id: int,
        snapshot_id: int,
        query_terms: Sequence[str],
        k: int,
        exclude_paths: Sequence[str] = (),
        max_candidates: int = 300,
        max_postings: int = 500,
    ) -> list[Hit]:
        """Chunks matching any of the terms, ranked by ``ts_rank``.

        With the repository's term statistics (``refresh_term_stats``), only the rarest terms are queried
        (``lexical.rare_terms``, within ``max_postings`` summed document frequencies); without them, all the
        given terms. At most ``max_candidates`` matching chunks (the first the index scan finds) are ranked: for a
        single common word (an identifier like ``fail``) ranking 500 took 2.6 of the query's 4.5 ms at 100k chunks.

        A query of a few words (2 to ``FTS_ALL_WORDS_MAX``) first looks for chunks holding all of them, ranked by
        all of them; the any-word query fills the rest. Without it, a sentence of common words (``parses the HTTP
        response header``) came down to its rarest word alone, ranked among the first chunks the index gave.
        """
        from hearth.indexer.lexical import fts_words, rare_terms, tsquery_all, tsquery_any

        words = fts_words(query_terms)
        if not words:
            return []
        every = list(words)
        with self._read() as c:
            stats = c.execute(
                "SELECT term, ndoc FROM term_stats WHERE repo_id = %(repo)s"
                " AND term = ANY(" + _split_opaque("terms") + ")"
                " UNION ALL SELECT NULL, chunks FROM term_stats_state WHERE repo_id = %(repo)s",
                {"repo": repo_id, "terms": _joined(words)},
            ).fetchall()
            have_stats = any(term is None for term, _ in stats)
            doc_freq = {term: int(n) for term, n in stats if term is not None}
            if have_stats:
                words = rare_terms(words, doc_freq, max_postings=max_postings)
            # A word in thousands of chunks (``command``: 24,000 of 111,000) makes a sequential scan that stops at the
            # candidate limit look cheaper than the index, but a repository's rows lie together in the table, and
            # the scan read 42,000 rows of other repositories first (50 ms). Then the index is taken (3 ms).
            common = not have_stats or sum(doc_freq.get(w, 0) for w in words) > FTS_COMMON_POSTINGS
            tsq = tsquery_any(words)
            if not tsq:
                return []
            # Candidates are ranked as the index scan finds them (one heap visit each) and without their texts. Only
            # those scoring at least the (k + FTS_FILTER_MARGIN)-th best have their file looked up (the snapshot and
            # exclusion filters): the same k hits as filtering all of them, unless more than the margin of the best
            # are filtered out, when the query runs again with every candidate. The k kept are read by primary key;
            # a last row (path NULL) counts the candidates.
            params = {"q": tsq, "m": tsq, "repo": repo_id, "cand": max_candidates, "snap": snapshot_id,
                      "exclude": list(exclude_paths), "k": k, "skip": k - 1 + FTS_FILTER_MARGIN}
            sql = (
                "WITH m AS MATERIALIZED (SELECT ch.id, ch.repo_id, ch.content_hash, ch.start_line, ch.end_line,"
                "  ch.symbol, ch.kind, ch.language, ts_rank(ch.lex, %(q)s::tsquery, 1) AS score"
                "  FROM chunks ch"
                "  WHERE ch.repo_id = %(repo)s AND ch.lex @@ %(m)s::tsquery LIMIT %(cand)s),"
                " top AS (SELECT m.id, f.path, m.start_line, m.end_line, m.symbol, m.kind, m.language, m.score"
                f"  FROM m{_FILES_OF_M}"
                "  WHERE m.score >= coalesce((SELECT b.score FROM m b ORDER BY b.score DESC OFFSET %(skip)s LIMIT 1),"
                "   '-Infinity'::real)"
                "  ORDER BY m.score DESC, f.path, m.start_line LIMIT %(k)s)"
                " (SELECT top.path, top.start_line, top.end_line, t.text, top.symbol, top.kind, top.language, top.score"
                " FROM top CROSS JOIN LATERAL (SELECT c.text FROM chunks c WHERE c.id = top.id) t"
                " ORDER BY top.score DESC, top.path, top.start_line)"
                " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*) FROM m"
            )

            def ranked(args: dict[str, Any]) -> list[Any]:
                rows = c.execute(sql, args).fetchall()
                hits = [r for r in rows if r[0] is not None]
                found = sum(int(r[7]) for r in rows if r[0] is None)
                if len(hits) < k and found > args["skip"] + 1:
                    rows = c.execute(sql, {**args, "skip": max_candidates}).fetchall()
                    hits = [r for r in rows if r[0] is not None]
                return hits

            with c.transaction() if common else nullcontext():
                if common:
                    c.execute("SET LOCAL enable_seqscan = off")
                hits = []
                if 2 <= len(every) <= FTS_ALL_WORDS_MAX:
                    hits = ranked({**params, "q": tsquery_any(every), "m": tsquery_all(every)})
                if len(hits) < k:
                    seen = {(r[0], r[1]) for r in hits}
                    hits += [r for r in ranked(params) if (r[0], r[1]) not in seen][: k - len(hits)]
        return [_hit(r, "fts") for r in hits]

    def refresh_term_stats(self, repo_id: int) -> int:
        """Recompute the repository's term document frequencies (seconds on a large index: run it off the
        request path); the number of chunks they were taken over."""
        with self.conn() as c:
            c.execute("SELECT pg_advisory_xact_lock(727002, %s)", (repo_id,))
            counted = c.execute("SELECT count(*) FROM chunks WHERE repo_id = %s", (repo_id,)).fetchone()
            n = int(counted[0]) if counted else 0
            # Only what changed is written (``_write_changed``): 238,000 terms took 2.7 s to rewrite on a 200k-chunk
            # index, of a refresh's 4.1.
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS hearth_term_stats_now (term text PRIMARY KEY, ndoc int)"
                " ON COMMIT DELETE ROWS"
            )
            c.execute(
                "INSERT INTO hearth_term_stats_now SELECT word, ndoc FROM ts_stat(%s)",
                (f"SELECT lex FROM chunks WHERE repo_id = {int(repo_id)}",),
            )
            _write_changed(c, "term_stats", {"repo_id": repo_id}, "hearth_term_stats_now", "term", "ndoc")
            c.execute(
                "INSERT INTO term_stats_state (repo_id, chunks) VALUES (%s, %s) ON CONFLICT (repo_id)"
                " DO UPDATE SET chunks = excluded.chunks, refreshed_at = now()",
                (repo_id, n),
            )
            c.commit()
        return n

    def term_stats_drift(self, repo_id: int) -> tuple[int | None, int, float | None]:
        """(chunks when the term statistics were taken or None, chunks now, their age in seconds or None)."""
        with self._read() as c:
            row = c.execute(
                "SELECT (SELECT chunks FROM term_stats_state WHERE repo_id = %(r)s),"
                " (SELECT count(*) FROM chunks WHERE repo_id = %(r)s),"
                " (SELECT extract(epoch FROM now() - refreshed_at) FROM term_stats_state WHERE repo_id = %(r)s)",
                {"r": repo_id},
            ).fetchone()
        assert row is not None
        return (
            None if row[0] is None else int(row[0]),
            int(row[1]),
            None if row[2] is None else float(row[2]),
        )

    def search_vector(
        self,
        repo_id: int,
        snapshot_id: int,
        model: str,
        dim: int,
        vector: np.ndarray,
        k: int,
        exclude_paths: Sequence[str] = (),
        exact: bool = False,
    ) -> list[Hit]:
        """Nearest chunks by cosine distance, filtered to the repository and snapshot.

        The HNSW index is searched for more candidates than asked (the snapshot filter applies
        after the index scan); pgvector >= 0.8 uses iterative scans so that filtering never
        starves the result.
        """
        vec = np.asarray(vector, dtype=np.float32)
        # Iterative scans keep searching the graph until enough rows pass the filters, so a small margin
        # suffices; without them the filter applies after the scan and we over-fetch.
        fetch = k + 10 if self.supports_iterative_scan else max(k * 4, 40)
        ef = str(min(max(fetch, 40), 1000))
        sql = (
            f"WITH nn AS (SELECT e.text_hash, e.embedding::vector({int(dim)}) <=> %(vec)s AS dist"
            " FROM embeddings e WHERE e.repo_id = %(repo)s AND e.model = %(model)s"
            f" ORDER BY e.embedding::vector({int(dim)}) <=> %(vec)s LIMIT %(fetch)s)"
            f" SELECT DISTINCT ON (f.path, ch.start_line) {self._HIT_COLUMNS}, 1 - nn.dist AS score"
            f" FROM nn JOIN chunks ch ON ch.repo_id = %(repo)s AND ch.text_hash = nn.text_hash{_FILES_OF_CH}"
        )
        params = {"vec": vec, "repo": repo_id, "model": model, "fetch": fetch, "snap": snapshot_id,
                  "exclude": list(exclude_paths)}
        with self._read() as c:
            if exact:
                with c.transaction():
                    c.execute("SET LOCAL enable_indexscan = off")
                    rows = c.execute(sql, params).fetchall()
            else:
                if self.supports_iterative_scan:
                    self._session_settings(c, hnsw__ef_search=ef, hnsw__iterative_scan="relaxed_order")
                else:
                    self._session_settings(c, hnsw__ef_search=ef)
                rows = c.execute(sql, params).fetchall()
        hits = sorted((_hit(r, "vector") for r in rows), key=lambda h: (-h.score, h.path, h.start_line))
        return hits[:k]

    def _similar_def_names(
        self, repo_id: int, snapshot_id: int, names: Sequence[str], limit: int = SIMILAR_NAMES
    ) -> list[str] | None:
        """Defined names of the snapshot similar to any of ``names`` by trigrams (similarity >= 0.45), most
        similar first; None when the snapshot's names have not been listed yet (``refresh_ref_stats``)."""
        if not names:
            return []
        cond = " OR ".join(f"d.name %% %(n{i})s" for i in range(len(names)))
        best = "greatest(" + ", ".join(f"similarity(d.name, %(n{i})s)" for i in range(len(names))) + ")"
        with self._read() as c:
            self._session_settings(c, pg_trgm__similarity_threshold=TRGM_THRESHOLD)
            rows = c.execute(
                "SELECT NULL, NULL FROM ref_stats_state WHERE repo_id = %(repo)s AND snapshot_id = %(snap)s"
                " UNION ALL (SELECT d.name, 1 FROM def_names d WHERE d.repo_id = %(repo)s AND d.snapshot_id = %(snap)s"
                f" AND ({cond}) ORDER BY {best} DESC, d.name LIMIT %(limit)s)",
                {"repo": repo_id, "snap": snapshot_id, "limit": limit, **{f"n{i}": n for i, n in enumerate(names)}},
            ).fetchall()
        if not any(r[1] is None for r in rows):
            return None
        return [r[0] for r in rows if r[1] is not None]

    def _defined(self, repo_id: int, snapshot_id: int, names: Sequence[str]) -> bool:
        """Whether the snapshot defines any of the names, in any case."""
        with self._read() as c:
            row = c.execute(
                "SELECT EXISTS (SELECT 1 FROM symbols s JOIN files f ON f.repo_id = s.repo_id"
                " AND f.content_hash = s.content_hash AND f.snapshot_id = %(snap)s"
                " WHERE s.repo_id = %(repo)s AND s.role = 'def' AND lower(s.name) = ANY(%(lower)s))",
                {"repo": repo_id, "snap": snapshot_id, "lower": [n.lower() for n in names]},
            ).fetchone()
        return bool(row and row[0])

    def search_symbol_names(
        self,
        repo_id: int,
        snapshot_id: int,
        names: Sequence[str],
        k: int,
        exclude_paths: Sequence[str] = (),
        per_name: int | None = None,
    ) -> list[Hit]:
        """Chunks holding definitions whose name matches (exactly 1.0, case-insensitively 0.8, by trigram 0.5).

        Each hit is named after the matching definition (its symbol path and kind), not after the chunk's
        first definition; a chunk holding several matches is named after the best one. At most ``per_name``
        definitions of each name are read; by default 32 for a query of a few names, and for a window of code
        enough for the k results to come from several of its names (8 for 24 names and k = 60): matches are
        ordered by name, and 32 definitions each of the first two names would fill them.
        """
        names = [n for n in names if _SEP not in n]
        if not names:
            return []
        if per_name is None:
            per_name = min(32, max(8, -(-2 * k // len(names))))
        lowered = list(dict.fromkeys(n.lower() for n in names))
        # Trigram matches only for a query of a few names (a window of code has exact names to match, and
        # a similarity test per name and definition would scan the table).
        want_fuzzy = self.has_trgm and len(names) <= 3
        fuzzy_names = list(names)
        if want_fuzzy and any(len(n) > FUZZY_MAX_CHARS for n in names):
            # A long name's trigrams are mostly common ones (``test_``, ``_request``): matching it reads long
            # posting lists (90 ms for a 100-character test name at 100k chunks). Such a name is pasted, not
            # typed: similar names are looked for only when nothing defines it.
            long = [n for n in names if len(n) > FUZZY_MAX_CHARS]
            if self._defined(repo_id, snapshot_id, long):
                fuzzy_names = [n for n in names if len(n) <= FUZZY_MAX_CHARS]
                want_fuzzy = bool(fuzzy_names)
        probe, caps = list(names), [per_name] * len(names)
        similar: list[str] | None = None if want_fuzzy else []
        if want_fuzzy:
            similar = self._similar_def_names(repo_id, snapshot_id, fuzzy_names)
            if similar is not None:
                extra = [n for n in similar if n not in names and _SEP not in n]
                probe += extra
                caps += [SIMILAR_PER_NAME] * len(extra)
        params = {
            "names": _joined(names),
            "probe": _SEP.join(probe),
            "lower": _joined(lowered),
            "repo": repo_id,
            "snap": snapshot_id,
            "exclude": list(exclude_paths),
            "limit": k,
            "caps": _SEP.join(map(str, caps)),
            **{f"n{i}": n for i, n in enumerate(names)},
        }
        fuzzy = ""
        if want_fuzzy and similar is None:
            # The snapshot's distinct names are not listed yet: match over the definitions themselves.
            fuzzy = "".join(
                f" OR (length(s.name) > 3 AND s.name %% %(n{i})s)" for i, n in enumerate(names) if n in fuzzy_names
            )
        if fuzzy:
            source = (
                f"(SELECT s.*, f.path FROM symbols s{_FILES_OF_S} WHERE s.repo_id = %(repo)s AND s.role = 'def'"
                f" AND (lower(s.name) = ANY({_split('lower')}){fuzzy})) s"
            )
        else:
            # Per name, its definitions in the snapshot, at most ``per_name`` of them: a window of code names
            # ``__init__`` or ``get`` too, defined hundreds of times in a large index. The exact spelling first,
            # then other cases only when it has fewer than ``per_name``: each branch stops at the limit, so a
            # common name costs ``per_name`` file probes, not one per definition (1,300 per name at 1M chunks).
            # Similar names (trigrams) are probed the same way and score as fuzzy matches.
            source = (
                f"unnest({_split('probe')}, {_split('caps', '::int[]')}) AS n(orig, cap) CROSS JOIN LATERAL ("
                f"(SELECT s.*, f.path FROM symbols s{_FILES_OF_S} WHERE s.repo_id = %(repo)s AND s.role = 'def'"
                "  AND s.name = n.orig LIMIT n.cap)"
                f" UNION ALL (SELECT s.*, f.path FROM symbols s{_FILES_OF_S} WHERE s.repo_id = %(repo)s"
                "  AND s.role = 'def' AND lower(s.name) = lower(n.orig) AND s.name <> n.orig LIMIT n.cap)"
                " LIMIT n.cap) s"
            )
        with self._read() as c:
            if fuzzy:
                # Near names only: at the default 0.3, a name like get_help_option has thousands of trigram
                # neighbours in a large index, each a heap visit.
                self._session_settings(c, pg_trgm__similarity_threshold=TRGM_THRESHOLD)
            # The best k chunks are chosen on their lines alone; only their texts are read (by primary key).
            rows = c.execute(
                "SELECT m.path, m.start_line, m.end_line, t.text, m.sym, m.kind, m.language, m.score FROM"
                " (SELECT * FROM (SELECT DISTINCT ON (s.path, ch.start_line) s.path, ch.start_line, ch.end_line,"
                " ch.id, CASE WHEN s.scope IS NULL THEN s.name ELSE s.scope || '.' || s.name END AS sym, s.kind,"
                " ch.language,"
                f" CASE WHEN s.name = ANY({_split('names')}) THEN 1.0"
                f" WHEN lower(s.name) = ANY({_split('lower')}) THEN 0.8"
                " ELSE 0.5 END AS score,"
                f" coalesce(array_position({_split('lower')}, lower(s.name)),"
                f"  1000 + array_position({_split('probe')}, s.name), 2000) AS pos"
                f" FROM {source}{_CHUNK_AT_ID}"
                " ORDER BY s.path, ch.start_line, score DESC, pos, s.line) d"
                " ORDER BY score DESC, pos, path, start_line LIMIT %(limit)s) m"
                " CROSS JOIN LATERAL (SELECT c.text FROM chunks c WHERE c.id = m.id) t"
                " ORDER BY m.score DESC, m.pos, m.path, m.start_line",
                params,
            ).fetchall()
        return [_hit(r, "symbol") for r in rows]

    def definitions(
        self, repo_id: int, snapshot_id: int, names: Sequence[str], exclude_paths: Sequence[str] = (), limit: int = 50
    ) -> list[tuple[DefRow, Hit]]:
        """Definitions of the given names, each with the chunk that holds its first line."""
        if not names:
            return []
        with self._read() as c:
            rows = c.execute(
                "SELECT DISTINCT ON (f.path, s.line, s.name) f.path, s.name, s.kind, s.scope, s.line, s.end_line,"
                " s.detail, ch.start_line, ch.end_line, ch.text, ch.symbol, ch.kind, ch.language"
                f" FROM symbols s{_FILES_OF_S}{_CHUNK_AT}"
                " WHERE s.repo_id = %(repo)s AND s.role = 'def' AND s.name = ANY(%(names)s)"
                " ORDER BY f.path, s.line, s.name, (ch.end_line - ch.start_line) LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "names": list(names), "exclude": list(exclude_paths),
                 "limit": limit},
            ).fetchall()
        return [_def_row(r) for r in rows]

    def callers(
        self,
        repo_id: int,
        snapshot_id: int,
        names: Sequence[str],
        exclude_paths: Sequence[str] = (),
        per_name: int = 3,
        limit: int = 8,
    ) -> list[Hit]:
        """Chunks that reference the given names (their call sites and other uses), at most ``per_name`` chunks
        per name, in the order of ``names``; each hit's ``symbol`` is the name referenced."""
        if not names:
            return []
        with self._read() as c:
            rows = c.execute(
                "SELECT m.path, m.start_line, m.end_line, t.text, m.name, m.kind, m.language, m.score FROM"
                " (SELECT DISTINCT ON (u.path, u.start_line) n.name, n.pos, u.path, u.start_line, u.end_line, u.id,"
                "   u.kind, u.language, 1.0 / n.pos AS score"
                "  FROM unnest(%(names)s::text[]) WITH ORDINALITY AS n(name, pos) CROSS JOIN LATERAL"
                "  (SELECT DISTINCT ON (f.path, ch.start_line) f.path, ch.start_line, ch.end_line, ch.id, ch.kind,"
                f"   ch.language FROM symbols s{_FILES_OF_S}{_OCCURRENCES}{_CHUNK_AT_ID.replace('s.line', 'o.line')}"
                "   WHERE s.repo_id = %(repo)s AND s.role = 'ref' AND s.name = n.name"
                "   ORDER BY f.path, ch.start_line LIMIT %(per_name)s) u"
                "  ORDER BY u.path, u.start_line, n.pos) m"
                " CROSS JOIN LATERAL (SELECT c.text FROM chunks c WHERE c.id = m.id) t"
                " ORDER BY m.pos, m.path, m.start_line LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "names": list(names), "exclude": list(exclude_paths),
                 "per_name": per_name, "limit": limit},
            ).fetchall()
        return [_hit(r, "caller") for r in rows]

    def type_names(self, repo_id: int, snapshot_id: int, limit: int = 50_000) -> list[str]:
        """Distinct names of the snapshot's class-like definitions."""
        with self._read() as c:
            rows = c.execute(
                "SELECT DISTINCT s.name FROM symbols s JOIN files f"
                " ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'def'"
                " AND s.kind IN ('class', 'type', 'struct', 'interface', 'trait', 'enum') LIMIT %s",
                (repo_id, snapshot_id, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def ref_counts(self, repo_id: int, snapshot_id: int, names: Sequence[str]) -> dict[str, int]:
        """How often each name is referenced in the snapshot (a popularity prior for callees).

        From the snapshot's reference statistics (``refresh_ref_stats``, refreshed in the background) when
        they exist: one index probe per name; otherwise counted live (tens of milliseconds on a large index).
        """
        if not names:
            return {}
        wanted = list(dict.fromkeys(names))
        with self._read() as c:
            rows = c.execute(
                "SELECT name, nref FROM ref_stats WHERE repo_id = %(repo)s AND snapshot_id = %(snap)s"
                " AND name = ANY(" + _split_opaque("names") + ")"
                " UNION ALL SELECT NULL, 0 FROM ref_stats_state WHERE repo_id = %(repo)s AND snapshot_id = %(snap)s",
                {"repo": repo_id, "snap": snapshot_id, "names": _joined(wanted)},
            ).fetchall()
            if any(name is None for name, _ in rows):
                return {name: int(n) for name, n in rows if name is not None}
            rows = c.execute(
                f"SELECT s.name, sum({_OCCURRENCE_COUNT}) FROM symbols s JOIN files f"
                " ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'ref' AND s.name = ANY(%s)"
                " GROUP BY s.name",
                (repo_id, snapshot_id, wanted),
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def refresh_ref_stats(self, repo_id: int, snapshot_id: int) -> int:
        """Recompute the snapshot's reference counts per name (what ``ref_counts`` reads) and its distinct defined
        names (what trigram matching searches), writing only what changed; the number of distinct names referenced.
        About a second on a 200k-chunk index (the first time, with every name new, ten): run it off the request
        path."""
        with self.conn() as c:
            c.execute("SELECT pg_advisory_xact_lock(727003, %s)", (snapshot_id,))
            counted = c.execute("SELECT count(*) FROM chunks WHERE repo_id = %s", (repo_id,)).fetchone()
            n_chunks = int(counted[0]) if counted else 0
            # The current counts and names go to temporary tables, and only what differs is written
            # (``_write_changed``): each defined name costs about 20 entries in the trigram index (100 us: 11 s for
            # the 109,000 names of a 127 MB corpus, at every refresh when the list was rewritten whole).
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS hearth_ref_counts_now (name text PRIMARY KEY, nref bigint)"
                " ON COMMIT DELETE ROWS"
            )
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS hearth_def_names_now (name text PRIMARY KEY) ON COMMIT DELETE ROWS"
            )
            cur = c.execute(
                f"INSERT INTO hearth_ref_counts_now SELECT s.name, sum({_OCCURRENCE_COUNT})"
                " FROM files f JOIN symbols s ON s.repo_id = f.repo_id AND s.content_hash = f.content_hash"
                " WHERE f.snapshot_id = %(snap)s AND f.repo_id = %(repo)s AND s.role = 'ref' GROUP BY s.name",
                {"repo": repo_id, "snap": snapshot_id},
            )
            names = cur.rowcount
            scope = {"repo_id": repo_id, "snapshot_id": snapshot_id}
            _write_changed(c, "ref_stats", scope, "hearth_ref_counts_now", "name", "nref")
            c.execute(
                "INSERT INTO hearth_def_names_now SELECT DISTINCT s.name"
                " FROM files f JOIN symbols s ON s.repo_id = f.repo_id AND s.content_hash = f.content_hash"
                " WHERE f.snapshot_id = %(snap)s AND f.repo_id = %(repo)s AND s.role = 'def' AND length(s.name) > 3",
                {"repo": repo_id, "snap": snapshot_id},
            )
            _write_changed(c, "def_names", scope, "hearth_def_names_now", "name")
            c.execute("ANALYZE def_names")
            c.execute(
                "INSERT INTO ref_stats_state (repo_id, snapshot_id, chunks) VALUES (%s, %s, %s)"
                " ON CONFLICT (repo_id, snapshot_id) DO UPDATE SET chunks = excluded.chunks, refreshed_at = now()",
                (repo_id, snapshot_id, n_chunks),
            )
            c.commit()
        return names

    def ref_stats_drift(self, repo_id: int, snapshot_id: int) -> tuple[int | None, int, float | None]:
        """(chunks when the snapshot's reference counts were taken or None, chunks now, their age in seconds)."""
        with self._read() as c:
            row = c.execute(
                "SELECT (SELECT chunks FROM ref_stats_state WHERE repo_id = %(r)s AND snapshot_id = %(s)s),"
                " (SELECT count(*) FROM chunks WHERE repo_id = %(r)s),"
                " (SELECT extract(epoch FROM now() - refreshed_at) FROM ref_stats_state"
                "  WHERE repo_id = %(r)s AND snapshot_id = %(s)s)",
                {"r": repo_id, "s": snapshot_id},
            ).fetchone()
        assert row is not None
        return (
            None if row[0] is None else int(row[0]),
            int(row[1]),
            None if row[2] is None else float(row[2]),
        )

    # -- symbol-only lookups (callee prediction ranks symbols, then reads the chunks of the best) -----------
    _SYM_COLUMNS = "f.path, s.name, s.kind, s.scope, s.line, s.end_line, s.detail, s.content_hash, f.language"

    @staticmethod
    def _sym_filters(kinds: Sequence[str] | None, prefix: str | None, exact: bool) -> str:
        """SQL conditions on ``s`` for the candidate kinds and the name being typed (its lowercase prefix)."""
        out = ""
        if kinds is not None:
            out += " AND s.kind = ANY(" + _split("kinds") + ")"
        if prefix:
            out += " AND lower(s.name) = %(prefix)s" if exact else " AND lower(s.name) LIKE %(prefix_like)s"
        return out

    @staticmethod
    def _sym_params(kinds: Sequence[str] | None, prefix: str | None) -> dict[str, Any]:
        p = (prefix or "").lower()
        like = p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return {"kinds": _joined(list(kinds or ())), "prefix": p, "prefix_like": like}

    def def_symbols(
        self,
        repo_id: int,
        snapshot_id: int,
        names: Sequence[str],
        exclude_paths: Sequence[str] = (),
        limit: int = 50,
        *,
        kinds: Sequence[str] | None = None,
        prefix: str | None = None,
        exact: bool = False,
        top_level: bool = False,
        per_name: int | None = None,
    ) -> list[DefRow]:
        """Definitions of the given names in the snapshot (no chunk, no text), by path and line; optionally only
        of ``kinds``, top-level ones, or those whose lowercase name starts with (``exact``: equals) ``prefix``.

        ``per_name`` caps the definitions of each name instead of cutting the whole list by path: a window of
        code names ``run`` or ``config`` too, defined hundreds of times in a large repository, and each name then
        costs at most that many file probes (the rows of a name come in index order)."""
        if not names:
            return []
        cond = self._sym_filters(kinds, prefix, exact) + (" AND s.scope IS NULL" if top_level else "")
        params = {"repo": repo_id, "snap": snapshot_id, "names": _joined(names), "exclude": list(exclude_paths),
                  "limit": limit, "per_name": per_name, **self._sym_params(kinds, prefix)}
        if per_name is None:
            cols, path = self._SYM_COLUMNS, "f.path"
            source = (
                f"symbols s{_FILES_OF_S_LANG} WHERE s.repo_id = %(repo)s AND s.role = 'def'"
                f" AND s.name = ANY({_split('names')}){cond}"
            )
        else:
            # The lateral's rows carry their file's path and language.
            cols, path = self._SYM_COLUMNS.replace("f.", "s."), "s.path"
            source = (
                f"unnest({_split('names')}) AS n(name) CROSS JOIN LATERAL (SELECT s.*, f.path, f.language"
                f" FROM symbols s{_FILES_OF_S_LANG} WHERE s.repo_id = %(repo)s AND s.role = 'def'"
                f" AND s.name = n.name{cond} LIMIT %(per_name)s) s"
            )
        with self._read() as c:
            rows = c.execute(
                f"SELECT DISTINCT ON ({path}, s.line, s.name) {cols} FROM {source}"
                f" ORDER BY {path}, s.line, s.name LIMIT %(limit)s",
                params,
            ).fetchall()
        return [DefRow._make(r) for r in rows]

    def path_def_symbols(
        self,
        repo_id: int,
        snapshot_id: int,
        patterns: Sequence[str],
        exclude_paths: Sequence[str] = (),
        limit: int = 400,
        *,
        kinds: Sequence[str] | None = None,
        prefix: str | None = None,
        exact: bool = False,
        no_methods: bool = False,
        skip_patterns: Sequence[str] = (),
    ) -> list[DefRow]:
        """Top-level definitions in files whose path matches one of the LIKE patterns (no chunk, no text) and none
        of ``skip_patterns``; ``no_methods`` leaves out Go methods (``func (r T) ...``)."""
        if not patterns:
            return []
        cond = self._sym_filters(kinds, prefix, exact)
        if no_methods:
            cond += " AND coalesce(s.detail, '') NOT LIKE 'func (%%'"
        if skip_patterns:
            cond += " AND NOT (f.path LIKE ANY(%(skip)s))"
        with self._read() as c:
            rows = c.execute(
                f"SELECT DISTINCT ON (f.path, s.line, s.name) {self._SYM_COLUMNS}"
                " FROM symbols s JOIN files f ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " WHERE s.repo_id = %(repo)s AND f.snapshot_id = %(snap)s AND s.role = 'def' AND s.scope IS NULL"
                f" AND f.path LIKE ANY(%(patterns)s) AND NOT (f.path = ANY(%(exclude)s)){cond}"
                " ORDER BY f.path, s.line, s.name LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "patterns": list(patterns), "exclude": list(exclude_paths),
                 "limit": limit, "skip": list(skip_patterns), **self._sym_params(kinds, prefix)},
            ).fetchall()
        return [DefRow._make(r) for r in rows]

    def member_symbols(
        self,
        repo_id: int,
        snapshot_id: int,
        types: Sequence[str],
        exclude_paths: Sequence[str] = (),
        limit: int = 400,
    ) -> list[DefRow]:
        """``members_of`` without chunks or text: members of the types, Go methods with such a receiver, and the
        types' own definitions."""
        if not types:
            return []
        with self._read() as c:
            # The members of a type lie in a few files: their paths are probed once per blob (88 probes instead of
            # 3,280 for ``Command`` at 100k chunks), not once per member.
            rows = c.execute(
                f"WITH s AS MATERIALIZED ({_MEMBERS_UNION}),"
                " f AS (SELECT f.content_hash, f.path, f.language FROM (SELECT DISTINCT content_hash FROM s) h"
                "  CROSS JOIN LATERAL (SELECT f.content_hash, f.path, f.language FROM files f"
                "  WHERE f.repo_id = %(repo)s AND f.content_hash = h.content_hash AND f.snapshot_id = %(snap)s"
                "  AND NOT (f.path = ANY(%(exclude)s)) OFFSET 0) f)"
                f" SELECT DISTINCT ON (f.path, s.line, s.name) {self._SYM_COLUMNS}"
                " FROM s JOIN f ON f.content_hash = s.content_hash"
                " ORDER BY f.path, s.line, s.name LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "exclude": list(exclude_paths),
                 "types": _joined(list(dict.fromkeys(types))), "limit": limit},
            ).fetchall()
        return [DefRow._make(r) for r in rows]

    def chunks_at(
        self, repo_id: int, spots: Sequence[tuple[str, int]], with_text: bool = False
    ) -> list[tuple[int, int, str | None, str | None, str | None] | None]:
        """For each (content_hash, line): the chunk holding that line of the blob as (start_line, end_line,
        language, text, symbol) (text and symbol None unless ``with_text``), or None; one round trip,
        one index probe per spot."""
        if not spots:
            return []
        cols = "c.start_line, c.end_line, c.language" + (", c.text, c.symbol" if with_text else ", NULL, NULL")
        with self._read() as c:
            rows = c.execute(
                f"SELECT k.i, ch.* FROM unnest({_split('hashes')}, {_split('lines', '::int[]')})"
                " WITH ORDINALITY AS k(h, line, i)"
                f" JOIN LATERAL (SELECT {cols} FROM chunks c WHERE c.repo_id = %(repo)s AND c.content_hash = k.h"
                "  AND c.start_line <= k.line ORDER BY c.start_line DESC LIMIT 1) ch ON ch.end_line >= k.line",
                {"repo": repo_id, "hashes": _SEP.join(h for h, _ in spots),
                 "lines": _SEP.join(str(ln) for _, ln in spots)},
            ).fetchall()
        out: list[tuple[int, int, str | None, str | None, str | None] | None] = [None] * len(spots)
        for r in rows:
            out[int(r[0]) - 1] = (int(r[1]), int(r[2]), r[3], r[4], r[5])
        return out

    def field_declarations(
        self, repo_id: int, snapshot_id: int, owners: Sequence[str], field: str, limit: int = 8
    ) -> list[str]:
        """How ``field`` is declared in the bodies of the types named ``owners`` (``cmd: &'cmd mut Command``,
        ``private readonly scheduler: Scheduler``): the text after the field's name and colon, up to the end of the
        declaration. One round trip: the types' definitions by name (``symbols_def_name``), the chunks spanning
        them by blob and line (``chunks_blob_start``), filtered by the declaration's pattern; only the lines of
        each type's own definition are then read (a chunk may hold several types)."""
        if not owners or not field.isidentifier():
            return []
        pattern = (
            r"(?:^|[\s,(;{])(?:(?:pub(?:\([^)]*\))?|readonly|private|public|protected|static|declare)\s+)*"
            + field
            + r"[?!]?\s*:\s*([^,;=\n{})]+)"
        )
        with self._read() as c:
            rows = c.execute(
                "SELECT ch.text, ch.start_line, ch.end_line, s.line, s.end_line FROM symbols s"
                " JOIN LATERAL (SELECT f.path FROM files f WHERE f.repo_id = s.repo_id"
                "  AND f.content_hash = s.content_hash AND f.snapshot_id = %(snap)s LIMIT 1) f ON true"
                " JOIN chunks ch ON ch.repo_id = s.repo_id AND ch.content_hash = s.content_hash"
                "  AND ch.start_line <= s.end_line AND ch.end_line >= s.line"
                " WHERE s.repo_id = %(repo)s AND s.role = 'def' AND s.name = ANY(%(owners)s)"
                "  AND s.kind NOT IN ('method', 'function', 'constant', 'variable', 'module')"
                "  AND ch.text ~ %(pattern)s"
                " ORDER BY f.path, ch.start_line LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "owners": list(owners), "pattern": pattern, "limit": limit},
            ).fetchall()
        found = re.compile(pattern, re.MULTILINE)
        out: list[str] = []
        for text, start, end, line, end_line in rows:
            lines = str(text).split("\n")
            body = lines[max(0, len(lines) - (end - start + 1)) :]  # a split definition's pieces start with headers
            own = "\n".join(body[max(0, line - start) : max(0, end_line - start + 1)])
            m = found.search(own)
            if m:
                out.append(m.group(1).strip())
        return out

    def sample_cross_file_call(self, repo_id: int, snapshot_id: int) -> tuple[str, int, int, str] | None:
        """A call of a name the calling file imports and another file defines: (path, line, col, name)."""
        with self._read() as c:
            row = c.execute(
                "SELECT fr.path, r.line, r.col, r.name FROM symbols r"
                " JOIN files fr ON fr.repo_id = r.repo_id AND fr.content_hash = r.content_hash"
                " WHERE r.repo_id = %(repo)s AND fr.snapshot_id = %(snap)s AND r.role = 'ref' AND r.kind = 'call'"
                " AND length(r.name) > 5 AND fr.language IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM symbols i WHERE i.repo_id = r.repo_id"
                "  AND i.content_hash = r.content_hash AND i.role = 'import' AND i.name = r.name)"
                " AND EXISTS (SELECT 1 FROM symbols d JOIN files fd"
                "  ON fd.repo_id = d.repo_id AND fd.content_hash = d.content_hash WHERE d.repo_id = r.repo_id"
                "  AND fd.snapshot_id = fr.snapshot_id AND d.role = 'def' AND d.name = r.name AND fd.path <> fr.path"
                "  AND d.kind IN ('function', 'method', 'class'))"
                " ORDER BY (fr.path LIKE '%%test%%'), (fr.path LIKE '%%cli%%') DESC, fr.path, r.line LIMIT 1",
                {"repo": repo_id, "snap": snapshot_id},
            ).fetchone()
            return (row[0], int(row[1]), int(row[2]), row[3]) if row else None


def symbol_path(scope: str | None, name: str) -> str:
    """A definition's symbol path: its enclosing scope and its name (``Discount.apply``)."""
    return f"{scope}.{name}" if scope else name


def _def_row(r: Sequence[Any]) -> tuple[DefRow, Hit]:
    """A definition and the chunk holding its first line: the chunk's lines and text (what goes into a
    prompt), the definition's own symbol path and kind (a chunk merging several small definitions is
    named after its first one)."""
    d = DefRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
    return d, Hit(r[0], r[7], r[8], 1.0, "definition", r[9], symbol_path(d.scope, d.name), d.kind, r[12])


def _hit(r: Sequence[Any], source: str) -> Hit:
    return Hit(
        path=r[0],
        start_line=r[1],
        end_line=r[2],
        text=r[3],
        symbol=r[4],
        kind=r[5],
        language=r[6],
        score=float(r[7]),
        source=source,
    )
