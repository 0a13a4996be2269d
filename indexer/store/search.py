"""Retrieval queries: full text, vectors, symbol names, definitions (mixed into ``Store``).

Every query is scoped by repository and snapshot (branch/worktree state), lexical ones included.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from hearth.indexer.types import Hit


@dataclass(frozen=True, slots=True)
class DefRow:
    path: str
    name: str
    kind: str
    scope: str | None
    line: int
    end_line: int
    detail: str | None


class SearchQueries:
    has_trgm: bool
    vector_version: str | None

    def conn(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        raise NotImplementedError

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
        max_candidates: int = 4000,
    ) -> list[Hit]:
        from hearth.indexer.lexical import tsquery_or

        tsq = tsquery_or(query_terms)
        if not tsq:
            return []
        # Ranking every match of a long OR query costs more than the match itself on a large index: rank
        # at most ``max_candidates`` matching chunks (the rarer terms' matches survive the cut less often,
        # which the other retrievers make up for).
        with self.conn() as c:
            rows = c.execute(
                "WITH m AS MATERIALIZED (SELECT ch.id FROM chunks ch, to_tsquery('simple', %s) q"
                "  WHERE ch.repo_id = %s AND ch.lex @@ q LIMIT %s)"
                f" SELECT {self._HIT_COLUMNS}, ts_rank(ch.lex, q, 1) AS score"
                " FROM m JOIN chunks ch ON ch.id = m.id CROSS JOIN to_tsquery('simple', %s) q"
                " JOIN files f ON f.repo_id = ch.repo_id AND f.content_hash = ch.content_hash"
                " WHERE f.snapshot_id = %s AND NOT (f.path = ANY(%s))"
                " ORDER BY score DESC, f.path, ch.start_line LIMIT %s",
                (tsq, repo_id, max_candidates, tsq, snapshot_id, list(exclude_paths), k),
            ).fetchall()
        return [_hit(r, "fts") for r in rows]

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
        fetch = max(k * 4, 40)
        with self.conn() as c:
            with c.transaction():
                if exact:
                    c.execute("SET LOCAL enable_indexscan = off")
                else:
                    c.execute(f"SET LOCAL hnsw.ef_search = {min(max(fetch, 40), 1000)}")
                    if self.supports_iterative_scan:
                        c.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                rows = c.execute(
                    f"WITH nn AS (SELECT e.text_hash, e.embedding::vector({int(dim)}) <=> %s AS dist"
                    " FROM embeddings e WHERE e.repo_id = %s AND e.model = %s"
                    f" ORDER BY e.embedding::vector({int(dim)}) <=> %s LIMIT %s)"
                    f" SELECT DISTINCT ON (f.path, ch.start_line) {self._HIT_COLUMNS}, 1 - nn.dist AS score"
                    " FROM nn JOIN chunks ch ON ch.repo_id = %s AND ch.text_hash = nn.text_hash"
                    " JOIN files f ON f.repo_id = ch.repo_id AND f.content_hash = ch.content_hash"
                    " WHERE f.snapshot_id = %s AND NOT (f.path = ANY(%s))",
                    (vec, repo_id, model, vec, fetch, repo_id, snapshot_id, list(exclude_paths)),
                ).fetchall()
        hits = sorted((_hit(r, "vector") for r in rows), key=lambda h: (-h.score, h.path, h.start_line))
        return hits[:k]

    def search_symbol_names(
        self, repo_id: int, snapshot_id: int, names: Sequence[str], k: int, exclude_paths: Sequence[str] = ()
    ) -> list[Hit]:
        """Chunks holding definitions whose name matches (exactly 1.0, case-insensitively 0.8, by trigram 0.5).

        Each hit is named after the matching definition (its symbol path and kind), not after the chunk's
        first definition; a chunk holding several matches is named after the best one.
        """
        if not names:
            return []
        lowered = [n.lower() for n in names]
        # Trigram matches only for a query of a few names (a window of code has exact names to match, and
        # a similarity test per name and definition would scan the table).
        fuzzy = ""
        if self.has_trgm and len(names) <= 3:
            fuzzy = "".join(f" OR (length(s.name) > 3 AND s.name %% %(n{i})s)" for i in range(len(names)))
        with self.conn() as c:
            rows = c.execute(
                "SELECT * FROM (SELECT DISTINCT ON (f.path, ch.start_line) f.path, ch.start_line, ch.end_line,"
                " ch.text, CASE WHEN s.scope IS NULL THEN s.name ELSE s.scope || '.' || s.name END, s.kind,"
                " ch.language,"
                " CASE WHEN s.name = ANY(%(names)s) THEN 1.0 WHEN lower(s.name) = ANY(%(lower)s) THEN 0.8"
                " ELSE 0.5 END AS score,"
                " coalesce(array_position(%(lower)s::text[], lower(s.name)), 1000) AS pos"
                " FROM symbols s JOIN files f ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " JOIN chunks ch ON ch.repo_id = s.repo_id AND ch.content_hash = s.content_hash"
                "  AND ch.start_line <= s.line AND ch.end_line >= s.line"
                " WHERE s.repo_id = %(repo)s AND f.snapshot_id = %(snap)s AND s.role = 'def'"
                " AND NOT (f.path = ANY(%(exclude)s))"
                f" AND (lower(s.name) = ANY(%(lower)s){fuzzy})"
                " ORDER BY f.path, ch.start_line, score DESC, pos, s.line) m"
                " ORDER BY score DESC, pos, path, start_line LIMIT %(limit)s",
                {
                    "names": list(names),
                    "lower": lowered,
                    "repo": repo_id,
                    "snap": snapshot_id,
                    "exclude": list(exclude_paths),
                    "limit": k * 4,
                    **{f"n{i}": n for i, n in enumerate(names)},
                },
            ).fetchall()
        return [_hit(r, "symbol") for r in rows][:k]

    def definitions(
        self, repo_id: int, snapshot_id: int, names: Sequence[str], exclude_paths: Sequence[str] = (), limit: int = 50
    ) -> list[tuple[DefRow, Hit]]:
        """Definitions of the given names, each with the chunk that holds its first line."""
        if not names:
            return []
        with self.conn() as c:
            rows = c.execute(
                "SELECT DISTINCT ON (f.path, s.line, s.name) f.path, s.name, s.kind, s.scope, s.line, s.end_line,"
                " s.detail, ch.start_line, ch.end_line, ch.text, ch.symbol, ch.kind, ch.language"
                " FROM symbols s JOIN files f ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " JOIN chunks ch ON ch.repo_id = s.repo_id AND ch.content_hash = s.content_hash"
                "  AND ch.start_line <= s.line AND ch.end_line >= s.line"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'def' AND s.name = ANY(%s)"
                " AND NOT (f.path = ANY(%s))"
                " ORDER BY f.path, s.line, s.name, (ch.end_line - ch.start_line) LIMIT %s",
                (repo_id, snapshot_id, list(names), list(exclude_paths), limit),
            ).fetchall()
        return [_def_row(r) for r in rows]

    _DEF_COLUMNS = (
        "f.path, s.name, s.kind, s.scope, s.line, s.end_line, s.detail,"
        " ch.start_line, ch.end_line, ch.text, ch.symbol, ch.kind, ch.language"
    )
    _DEF_FROM = (
        " FROM symbols s JOIN files f ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
        " JOIN chunks ch ON ch.repo_id = s.repo_id AND ch.content_hash = s.content_hash"
        "  AND ch.start_line <= s.line AND ch.end_line >= s.line"
    )

    def members_of(
        self, repo_id: int, snapshot_id: int, types: Sequence[str], exclude_paths: Sequence[str] = (), limit: int = 400
    ) -> list[tuple[DefRow, Hit]]:
        """Definitions inside the given types (by scope, generics ignored) and Go methods with such a receiver,
        plus the types' own definitions (whose signature lines name their bases)."""
        if not types:
            return []
        names = list(dict.fromkeys(types))
        with self.conn() as c:
            rows = c.execute(
                f"SELECT DISTINCT ON (f.path, s.line, s.name) {self._DEF_COLUMNS}{self._DEF_FROM}"
                " WHERE s.repo_id = %(repo)s AND f.snapshot_id = %(snap)s AND s.role = 'def'"
                " AND NOT (f.path = ANY(%(exclude)s))"
                " AND (split_part(s.scope, '<', 1) = ANY(%(types)s)"
                "  OR (s.scope IS NULL AND s.detail LIKE 'func (%%'"
                "      AND substring(s.detail from '^func \\(\\s*\\w*\\s*\\*?(\\w+)') = ANY(%(types)s))"
                "  OR (s.name = ANY(%(types)s) AND s.kind NOT IN ('method', 'function', 'constant', 'variable')))"
                " ORDER BY f.path, s.line, s.name, (ch.end_line - ch.start_line) LIMIT %(limit)s",
                {"repo": repo_id, "snap": snapshot_id, "exclude": list(exclude_paths), "types": names, "limit": limit},
            ).fetchall()
        return [_def_row(r) for r in rows]

    def defs_in_paths(
        self,
        repo_id: int,
        snapshot_id: int,
        patterns: Sequence[str],
        exclude_paths: Sequence[str] = (),
        limit: int = 400,
    ) -> list[tuple[DefRow, Hit]]:
        """Top-level definitions (no enclosing scope) in files whose path matches one of the LIKE patterns."""
        if not patterns:
            return []
        with self.conn() as c:
            rows = c.execute(
                f"SELECT DISTINCT ON (f.path, s.line, s.name) {self._DEF_COLUMNS}{self._DEF_FROM}"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'def' AND s.scope IS NULL"
                " AND f.path LIKE ANY(%s) AND NOT (f.path = ANY(%s))"
                " ORDER BY f.path, s.line, s.name, (ch.end_line - ch.start_line) LIMIT %s",
                (repo_id, snapshot_id, list(patterns), list(exclude_paths), limit),
            ).fetchall()
        return [_def_row(r) for r in rows]

    def type_names(self, repo_id: int, snapshot_id: int, limit: int = 50_000) -> list[str]:
        """Distinct names of the snapshot's class-like definitions."""
        with self.conn() as c:
            rows = c.execute(
                "SELECT DISTINCT s.name FROM symbols s JOIN files f"
                " ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'def'"
                " AND s.kind IN ('class', 'type', 'struct', 'interface', 'trait', 'enum') LIMIT %s",
                (repo_id, snapshot_id, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def ref_counts(self, repo_id: int, snapshot_id: int, names: Sequence[str]) -> dict[str, int]:
        """How often each name is referenced in the snapshot (a popularity prior for callees)."""
        if not names:
            return {}
        with self.conn() as c:
            rows = c.execute(
                "SELECT s.name, count(*) FROM symbols s JOIN files f"
                " ON f.repo_id = s.repo_id AND f.content_hash = s.content_hash"
                " WHERE s.repo_id = %s AND f.snapshot_id = %s AND s.role = 'ref' AND s.name = ANY(%s)"
                " GROUP BY s.name",
                (repo_id, snapshot_id, list(dict.fromkeys(names))),
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def file_symbols(self, repo_id: int, snapshot_id: int, path: str, role: str) -> list[tuple[str, str | None]]:
        with self.conn() as c:
            rows = c.execute(
                "SELECT s.name, s.scope FROM symbols s JOIN files f ON f.repo_id = s.repo_id"
                " AND f.content_hash = s.content_hash WHERE f.snapshot_id = %s AND f.path = %s AND s.role = %s"
                " AND s.repo_id = %s",
                (snapshot_id, path, role, repo_id),
            ).fetchall()
            return [(r[0], r[1]) for r in rows]

    def sample_cross_file_call(self, repo_id: int, snapshot_id: int) -> tuple[str, int, int, str] | None:
        """A call of a name the calling file imports and another file defines: (path, line, col, name)."""
        with self.conn() as c:
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
