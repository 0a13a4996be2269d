"""The index in PostgreSQL: the only module with SQL.

Synchronous psycopg 3 with a small connection pool; the language server calls it from worker
threads (``asyncio.to_thread``). Every query is scoped by repository and snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from hearth.indexer.lexical import tsvector_literal
from hearth.indexer.store.chat import ChatQueries
from hearth.indexer.store.search import SearchQueries
from hearth.indexer.types import ParsedFile, Symbol

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The database is unreachable or refused an operation."""


@dataclass(frozen=True, slots=True)
class FileState:
    content_hash: str | None
    size: int
    mtime_ns: int
    status: str
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FileRow:
    path: str
    content_hash: str | None
    size: int
    mtime_ns: int
    language: str | None
    status: str  # indexed | skipped
    skip_reason: str | None = None


# A migration that needs an extension the server may lack (a contrib module) says so: where the extension is not
# available, the migration is skipped and tried again at the next start.
_OPTIONAL_EXTENSION = re.compile(r"hearth:optional-extension (\w+)")


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for entry in resources.files("hearth.indexer.store").joinpath("migrations").iterdir():
        m = re.match(r"(\d+)_.*\.sql$", entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def _configure(conn: psycopg.Connection[Any]) -> None:
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        pass  # extension not created yet (first connection before migrations)
    conn.commit()


class Store(SearchQueries, ChatQueries):
    """Connections, migrations, repositories and snapshots, index writes, embeddings, traces.

    Retrieval queries live in ``search.py`` (``SearchQueries``) and conversations in ``chat.py``
    (``ChatQueries``), mixed in here.
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 6, timeout: float = 10.0) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=_configure,
            # No JIT: the planner overestimates some retrieval queries and pays 20 ms of compilation for 5 ms of work.
            # Custom plans always: psycopg prepares a statement after its fifth execution, and PostgreSQL then
            # settles on a generic plan that ignores the parameters' values (a full-text query at 1M chunks went
            # from 3 ms to 100-140 ms at the eleventh run); planning with the values costs well under a millisecond.
            # No parallel workers: Hearth's queries are index lookups of a few milliseconds, for which starting two
            # workers costs more than it saves (a type's members, 3,280 rows, took 6 ms gathered, 1 ms alone), and
            # on the user's machine the cores are busy with the editor, the indexer and the model.
            kwargs={
                "autocommit": False,
                "connect_timeout": 5,
                "options": "-c jit=off -c plan_cache_mode=force_custom_plan -c max_parallel_workers_per_gather=0",
            },
            open=False,
            name="hearth",
        )
        self.has_trgm = False
        self.vector_version: str | None = None
        self._vector_indexes: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> Store:
        try:
            # One direct connection first: a wrong URL or a server that is down fails at once,
            # with the driver's own message, instead of after the pool's timeout.
            psycopg.connect(self.url, connect_timeout=5).close()
            self._pool.open(wait=True, timeout=15)
        except Exception as exc:
            raise StoreError(f"cannot connect to PostgreSQL ({_redact(self.url)}): {exc}") from exc
        self.migrate()
        return self

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as c:
                yield c
        except psycopg.OperationalError as exc:
            raise StoreError(f"database error: {exc}") from exc

    def migrate(self) -> None:
        with self.conn() as c:
            c.execute("SELECT pg_advisory_xact_lock(727001)")
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in c.execute("SELECT version FROM schema_migrations")}
            migrations = _migrations()
            wanted = {"vector"} | {m for _, _, sql in migrations for m in _OPTIONAL_EXTENSION.findall(sql)}
            available = {
                r[0]
                for r in c.execute("SELECT name FROM pg_available_extensions WHERE name = ANY(%s)", (sorted(wanted),))
            }
            if "vector" not in available:
                raise StoreError("the PostgreSQL server has no pgvector extension (CREATE EXTENSION vector)")
            for version, name, sql in migrations:
                if version in done:
                    continue
                optional = _OPTIONAL_EXTENSION.search(sql)
                if optional and optional.group(1) not in available:
                    log.info("skipping migration %s: extension %s not available", name, optional.group(1))
                    continue
                c.execute(sql)  # type: ignore[arg-type]
                c.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                log.info("applied migration %s", name)
            c.commit()
            self.vector_version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[
                0
            ]  # type: ignore[index]
            self.has_trgm = bool(c.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone())
            register_vector(c)
            c.commit()

    def server_version(self) -> str:
        with self.conn() as c:
            row = c.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "?"

    @property
    def supports_iterative_scan(self) -> bool:
        v = tuple(int(x) for x in re.findall(r"\d+", self.vector_version or "0")[:2])
        return v >= (0, 8)

    # -- repositories and snapshots ---------------------------------------------------------
    def ensure_repo(self, root: str) -> int:
        with self.conn() as c:
            row = c.execute(
                "INSERT INTO repos (root) VALUES (%s) ON CONFLICT (root) DO UPDATE SET root = EXCLUDED.root"
                " RETURNING id",
                (root,),
            ).fetchone()
            c.commit()
            assert row
            return int(row[0])

    def find_repo(self, root: str) -> int | None:
        with self.conn() as c:
            row = c.execute("SELECT id FROM repos WHERE root = %s", (root,)).fetchone()
            return int(row[0]) if row else None

    def ensure_snapshot(self, repo_id: int, name: str, copy_from: int | None = None) -> int:
        """The snapshot for a branch/worktree state; a new one starts as a copy of ``copy_from``."""
        with self.conn() as c:
            row = c.execute("SELECT id FROM snapshots WHERE repo_id = %s AND name = %s", (repo_id, name)).fetchone()
            if row:
                return int(row[0])
            row = c.execute(
                "INSERT INTO snapshots (repo_id, name) VALUES (%s, %s) ON CONFLICT (repo_id, name)"
                " DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (repo_id, name),
            ).fetchone()
            assert row
            snap = int(row[0])
            if copy_from is not None:
                c.execute(
                    "INSERT INTO files (repo_id, snapshot_id, path, content_hash, size, mtime_ns, language,"
                    " status, skip_reason) SELECT repo_id, %s, path, content_hash, size, mtime_ns, language,"
                    " status, skip_reason FROM files WHERE snapshot_id = %s ON CONFLICT DO NOTHING",
                    (snap, copy_from),
                )
            c.commit()
            return snap

    def latest_snapshot(self, repo_id: int) -> tuple[int, str] | None:
        with self.conn() as c:
            row = c.execute(
                "SELECT id, name FROM snapshots WHERE repo_id = %s ORDER BY last_indexed DESC NULLS LAST, id DESC"
                " LIMIT 1",
                (repo_id,),
            ).fetchone()
            return (int(row[0]), str(row[1])) if row else None

    def snapshot_id(self, repo_id: int, name: str) -> int | None:
        with self.conn() as c:
            row = c.execute("SELECT id FROM snapshots WHERE repo_id = %s AND name = %s", (repo_id, name)).fetchone()
            return int(row[0]) if row else None

    def mark_indexed(self, snapshot_id: int) -> None:
        with self.conn() as c:
            c.execute("UPDATE snapshots SET last_indexed = now() WHERE id = %s", (snapshot_id,))
            c.commit()

    def analyze(self) -> None:
        """Refresh the planner's statistics of the index tables. After a bulk load they describe the tables
        before it until autovacuum gets to them (a minute or more), and a retrieval query planned on them
        can pick nested loops over thousands of rows: one planned right after indexing this repository ran
        for ten minutes instead of 28 ms."""
        with self.conn() as c:
            c.execute("ANALYZE files, blobs, chunks, symbols, embeddings")
            c.commit()

    # -- files and blobs ---------------------------------------------------------------------
    def file_states(self, snapshot_id: int) -> dict[str, FileState]:
        with self.conn() as c:
            cur = c.cursor(row_factory=tuple_row)
            cur.execute(
                "SELECT path, content_hash, size, mtime_ns, status, skip_reason FROM files WHERE snapshot_id = %s",
                (snapshot_id,),
            )
            return {r[0]: FileState(r[1], r[2], r[3], r[4], r[5]) for r in cur}

    def existing_blobs(self, repo_id: int, hashes: Iterable[str]) -> set[str]:
        hs = list(set(hashes))
        if not hs:
            return set()
        with self.conn() as c:
            rows = c.execute(
                "SELECT content_hash FROM blobs WHERE repo_id = %s AND content_hash = ANY(%s)", (repo_id, hs)
            ).fetchall()
            return {r[0] for r in rows}

    def write_batch(
        self,
        repo_id: int,
        snapshot_id: int,
        blobs: Sequence[tuple[str, ParsedFile | EncodedBlob]],
        files: Sequence[FileRow],
        deleted_paths: Sequence[str] = (),
    ) -> None:
        """One transaction: new parse results, the file rows that point at them, deletions.

        Chunks, symbols and file rows go in with COPY (through a temporary table where the row needs
        computing or upserting); a blob another process wrote meanwhile is left as it is. A parse
        result may come already encoded as COPY rows (``encode_blob``, done in a parse worker).
        """
        encoded = [(h, p if isinstance(p, EncodedBlob) else encode_blob(repo_id, h, p)) for h, p in blobs]
        with self.conn() as c:
            with c.transaction():
                # A batch lost to a database crash is redone by the next run (the files rows go with
                # it), so the indexer need not wait for each commit's WAL flush.
                c.execute("SET LOCAL synchronous_commit = off")
                inserted: set[str] = set()
                if encoded:
                    rows = c.execute(
                        "INSERT INTO blobs (repo_id, content_hash, language, chunk_count, symbol_count)"
                        " SELECT %s, h, l, cc, sc FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[])"
                        " AS t(h, l, cc, sc) ON CONFLICT DO NOTHING RETURNING content_hash",
                        (
                            repo_id,
                            [h for h, _ in encoded],
                            [e.language for _, e in encoded],
                            [e.chunk_count for _, e in encoded],
                            [e.symbol_count for _, e in encoded],
                        ),
                    ).fetchall()
                    inserted = {r[0] for r in rows}
                new = [e for h, e in encoded if h in inserted and e.repo_id == repo_id]
                if any(e.chunk_count for e in new):
                    # The full-text vector comes as a tsvector literal built by the parse worker
                    # (``lexical.tsvector_literal``): no text parser runs here.
                    with c.cursor().copy(
                        "COPY chunks (repo_id, content_hash, ord, start_line, end_line, kind, symbol, language, text,"
                        " text_hash, lex) FROM STDIN"
                    ) as copy:
                        for e in new:
                            copy.write(e.chunk_rows)
                if any(e.symbol_count for e in new):
                    with c.cursor().copy(
                        "COPY symbols (repo_id, content_hash, name, kind, role, scope, detail, line, col, end_line,"
                        " lines, cols) FROM STDIN"
                    ) as copy:
                        for e in new:
                            copy.write(e.symbol_rows)
                if files:
                    c.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS hearth_files_in (path text, content_hash text, size bigint,"
                        " mtime_ns bigint, language text, status text, skip_reason text) ON COMMIT DELETE ROWS"
                    )
                    latest: dict[str, FileRow] = {f.path: f for f in files}  # one row per path (the last)
                    with c.cursor().copy(
                        "COPY hearth_files_in (path, content_hash, size, mtime_ns, language, status, skip_reason)"
                        " FROM STDIN"
                    ) as copy:
                        for f in latest.values():
                            copy.write_row(
                                (
                                    _clean(f.path),
                                    f.content_hash,
                                    f.size,
                                    f.mtime_ns,
                                    f.language,
                                    f.status,
                                    _clean(f.skip_reason),
                                )
                            )
                    c.execute(
                        "INSERT INTO files (repo_id, snapshot_id, path, content_hash, size, mtime_ns, language,"
                        " status, skip_reason, indexed_at) SELECT %s, %s, path, content_hash, size, mtime_ns,"
                        " language, status, skip_reason, now() FROM hearth_files_in"
                        " ON CONFLICT (snapshot_id, path) DO UPDATE SET content_hash = EXCLUDED.content_hash,"
                        " size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, language = EXCLUDED.language,"
                        " status = EXCLUDED.status, skip_reason = EXCLUDED.skip_reason, indexed_at = now()",
                        (repo_id, snapshot_id),
                    )
                if deleted_paths:
                    c.execute(
                        "DELETE FROM files WHERE snapshot_id = %s AND path = ANY(%s)",
                        (snapshot_id, list(deleted_paths)),
                    )

    def gc_blobs(self, repo_id: int) -> int:
        """Delete parse results no snapshot refers to any more (with their chunks and symbols)."""
        with self.conn() as c:
            # Anti-joins by hash: right after a bulk load the statistics still describe the tables as
            # nearly empty, and a nested loop over them took 9 s for 5,000 files (quadratic).
            c.execute("SET LOCAL enable_nestloop = off")
            c.execute("SET LOCAL synchronous_commit = off")
            cur = c.execute(
                "DELETE FROM blobs b WHERE b.repo_id = %s AND NOT EXISTS (SELECT 1 FROM files f"
                " WHERE f.repo_id = b.repo_id AND f.content_hash = b.content_hash)",
                (repo_id,),
            )
            n = cur.rowcount
            if n:  # chunks go with their blobs (migration 007's trigger); then embeddings no chunk uses
                c.execute(
                    "DELETE FROM embeddings e WHERE e.repo_id = %s AND NOT EXISTS (SELECT 1 FROM chunks ch"
                    " WHERE ch.repo_id = e.repo_id AND ch.text_hash = e.text_hash)",
                    (repo_id,),
                )
            c.commit()
            return n

    # -- embeddings -----------------------------------------------------------------------------
    def chunks_missing_embeddings(
        self, repo_id: int, snapshot_id: int, model: str, limit: int, prefer_paths: Sequence[str] = ()
    ) -> list[tuple[str, str]]:
        with self.conn() as c:
            rows = c.execute(
                "SELECT DISTINCT ON (ch.text_hash) ch.text_hash, ch.text,"
                " (f.path = ANY(%s)) AS preferred FROM chunks ch"
                " JOIN files f ON f.repo_id = ch.repo_id AND f.content_hash = ch.content_hash"
                " WHERE f.snapshot_id = %s AND ch.repo_id = %s AND NOT EXISTS (SELECT 1 FROM embeddings e"
                "  WHERE e.repo_id = ch.repo_id AND e.model = %s AND e.text_hash = ch.text_hash)"
                " ORDER BY ch.text_hash, preferred DESC LIMIT %s",
                (list(prefer_paths), snapshot_id, repo_id, model, limit),
            ).fetchall()
            rows.sort(key=lambda r: not r[2])
            return [(r[0], r[1]) for r in rows]

    def write_embeddings(self, repo_id: int, model: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self.conn() as c:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO embeddings (repo_id, model, text_hash, embedding) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [(repo_id, model, h, np.asarray(v, dtype=np.float32)) for h, v in items],
                )
            c.commit()

    def _index_name(self, model: str) -> str:
        return "embeddings_hnsw_" + hashlib.sha1(model.encode()).hexdigest()[:12]

    def ensure_vector_index(self, model: str, dim: int) -> None:
        name = self._index_name(model)
        if name in self._vector_indexes:
            return
        with self.conn() as c:
            c.execute("SET maintenance_work_mem = '256MB'")
            c.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON embeddings USING hnsw ((embedding::vector({int(dim)}))"
                f" vector_cosine_ops) WHERE model = {_literal(model)}"
            )
            c.commit()
        self._vector_indexes.add(name)

    # Tables whose pages every completion reads (by index and by row), in the order their pages are loaded when the
    # vector index leaves room in the shared buffers: each table's indexes first, then the table itself.
    _HOT_TABLES = ("files", "ref_stats", "term_stats", "def_names", "blobs", "symbols", "chunks")

    def prewarm(self, model: str | None, tables: bool = True) -> dict[str, Any] | None:
        """Load what retrieval reads into memory (``pg_prewarm``), off the request path: the model's HNSW index
        into the shared buffers when it fills at most three quarters of them (else into the operating system's
        cache), then, with ``tables``, while that budget lasts, the indexes and rows of the tables a completion
        reads. An HNSW search visits about a thousand pages scattered over the graph, and the definitions a few
        hundred more; read from disk on a first visit, a 1M-chunk index answered in 171 ms instead of 9. None when
        the server has no pg_prewarm; ``vector`` None when the model has no index yet."""
        index = self._index_name(model) if model else None
        with self._read() as c:
            row = c.execute(
                "SELECT (SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'),"
                " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'),"
                " pg_relation_size(to_regclass(%s::text))",  # NULL without a model (to_regclass('') is an error)
                (index,),
            ).fetchone()
            if row is None or not row[1]:
                return None
            budget = int(row[0]) * 3 // 4
            out: dict[str, Any] = {"vector": None, "relations": 0, "bytes": 0}
            if index and row[2] is not None:
                size = int(row[2])
                for mode in ["buffer"] if size <= budget else ["prefetch", "read"]:
                    try:
                        got = c.execute("SELECT pg_prewarm(%s::regclass, %s)", (index, mode)).fetchone()
                    except psycopg.errors.FeatureNotSupported:
                        continue  # no prefetch on this platform: read instead
                    out["vector"] = (mode, int(got[0]) if got else 0, size)
                    if mode == "buffer":
                        budget -= size
                    break
            if not tables:
                return out
            rels = c.execute(
                "SELECT c.oid::regclass::text, pg_relation_size(c.oid)"
                " FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, ord)"
                " JOIN pg_class tbl ON tbl.oid = to_regclass(t.name)"
                " JOIN LATERAL (SELECT i.indexrelid AS oid FROM pg_index i WHERE i.indrelid = tbl.oid"
                "  UNION ALL SELECT tbl.oid) r ON true JOIN pg_class c ON c.oid = r.oid"
                " ORDER BY t.ord, c.relkind = 'r', pg_relation_size(c.oid)",
                (list(self._HOT_TABLES),),
            ).fetchall()
            for name, size in rels:
                if int(size) > budget:
                    continue
                c.execute("SELECT pg_prewarm(%s::regclass)", (name,))
                budget -= int(size)
                out["relations"] += 1
                out["bytes"] += int(size)
            return out

    # -- counts and status ----------------------------------------------------------------------
    def counts(self, repo_id: int, snapshot_id: int, model: str | None) -> dict[str, int]:
        with self.conn() as c:
            row = c.execute(
                "SELECT count(*) FILTER (WHERE status = 'indexed'), count(*) FILTER (WHERE status = 'skipped')"
                " FROM files WHERE snapshot_id = %s",
                (snapshot_id,),
            ).fetchone()
            files, skipped = (int(row[0]), int(row[1])) if row else (0, 0)
            row = c.execute(
                "SELECT coalesce(sum(b.chunk_count), 0), coalesce(sum(b.symbol_count), 0) FROM files f"
                " JOIN blobs b ON b.repo_id = f.repo_id AND b.content_hash = f.content_hash"
                " WHERE f.snapshot_id = %s",
                (snapshot_id,),
            ).fetchone()
            chunks, symbols = (int(row[0]), int(row[1])) if row else (0, 0)
            embedded = 0
            if model:
                row = c.execute(
                    "SELECT count(*) FROM files f JOIN chunks ch ON ch.repo_id = f.repo_id"
                    " AND ch.content_hash = f.content_hash WHERE f.snapshot_id = %s AND EXISTS (SELECT 1 FROM"
                    " embeddings e WHERE e.repo_id = ch.repo_id AND e.model = %s AND e.text_hash = ch.text_hash)",
                    (snapshot_id, model),
                ).fetchone()
                embedded = int(row[0]) if row else 0
            return {"files": files, "skipped": skipped, "chunks": chunks, "symbols": symbols, "embedded": embedded}

    def skipped_files(self, snapshot_id: int) -> list[tuple[str, str]]:
        with self.conn() as c:
            rows = c.execute(
                "SELECT path, coalesce(skip_reason, '') FROM files WHERE snapshot_id = %s AND status = 'skipped'"
                " ORDER BY path",
                (snapshot_id,),
            ).fetchall()
            return [(r[0], r[1]) for r in rows]

    # -- traces ---------------------------------------------------------------------------------
    def save_trace(self, repo_id: int | None, kind: str, data: dict[str, Any]) -> None:
        with self.conn() as c:
            c.execute("INSERT INTO traces (repo_id, kind, data) VALUES (%s, %s, %s)", (repo_id, kind, json.dumps(data)))
            c.execute("DELETE FROM traces WHERE id IN (SELECT id FROM traces ORDER BY id DESC OFFSET 1000)")
            c.commit()

    def latest_trace(self, kind: str) -> dict[str, Any] | None:
        with self.conn() as c:
            row = c.execute("SELECT data FROM traces WHERE kind = %s ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
            return dict(row[0]) if row else None

    # -- cross-process coordination -------------------------------------------------------------
    @contextmanager
    def indexer_lock(self, repo_root: str) -> Iterator[bool]:
        """A session-level advisory lock per repository: True if this process is the indexer."""
        key = int.from_bytes(hashlib.sha1(repo_root.encode()).digest()[:8], "big", signed=True)
        with self.conn() as c:
            c.autocommit = True
            got = bool(c.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
            try:
                yield got
            finally:
                if got:
                    c.execute("SELECT pg_advisory_unlock(%s)", (key,))
                c.autocommit = False


@dataclass(frozen=True, slots=True)
class EncodedBlob:
    """A parse result as the rows ``write_batch`` copies in (PostgreSQL's COPY text format).

    Built in a parse worker (``encode_blob``): sending these bytes to the indexing process costs far
    less than pickling every chunk and symbol there and encoding them again for COPY.
    """

    repo_id: int
    language: str | None
    chunk_count: int
    symbol_count: int
    chunk_rows: bytes  # chunks' columns (repo_id first, lex as a tsvector literal)
    symbol_rows: bytes  # symbols' columns (repo_id first)


def encode_blob(repo_id: int, content_hash: str, parsed: ParsedFile) -> EncodedBlob:
    h = _copy_field(content_hash)
    lang = _copy_field(parsed.language)
    rid = str(repo_id)
    chunk_lines = [
        "\t".join(
            (
                rid,
                h,
                str(ch.ord),
                str(ch.start_line),
                str(ch.end_line),
                _copy_field(ch.kind),
                _copy_field(ch.symbol),
                lang,
                _copy_field(ch.text),
                ch.text_hash,
                tsvector_literal(ch.name_terms, ch.body_terms),  # word characters and spaces: nothing to escape
            )
        )
        for ch in parsed.chunks
    ]
    symbol_rows = _symbol_rows(f"{repo_id}\t{h}\t", parsed.symbols)
    return EncodedBlob(
        repo_id,
        parsed.language,
        len(parsed.chunks),
        len(parsed.symbols),
        "".join(line + "\n" for line in chunk_lines).encode("utf-8", "replace"),
        symbol_rows.encode("utf-8", "replace"),
    )


# What a text field in COPY's text format must escape (``_copy_field``).
_COPY_SPECIAL = re.compile("[\\\\\n\t\r\x00]")


def _symbol_rows(head: str, symbols: Sequence[Symbol]) -> str:
    """The symbols' COPY lines (``head`` holds the repository and blob columns).

    Definitions and imports are a row each. References are a row per name and kind: its first occurrence's line,
    column and last line, then the lines and columns of all its occurrences in order (a file names what it uses
    about four times over; three quarters of the rows and their index entries went). Most files have no text that
    needs escaping: one search over all their text fields, then lines without a call per field."""
    refs: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    others: list[Symbol] = []
    for sym in symbols:
        if sym.role == "ref":
            at = (sym.line, sym.col, sym.end_line)
            found = refs.get((sym.name, sym.kind))
            if found is None:
                refs[(sym.name, sym.kind)] = [at]
            else:
                found.append(at)
        else:
            others.append(sym)
    texts = [t for sym in others for t in (sym.name, sym.kind, sym.role, sym.scope, sym.detail) if t is not None]
    texts.extend(name for name, _ in refs)
    texts.extend(kind for _, kind in refs)
    plain = _COPY_SPECIAL.search("\x1f".join(texts)) is None
    null = "\\N"
    if plain:
        rows = [
            f"{head}{sym.name}\t{sym.kind}\t{sym.role}\t{null if sym.scope is None else sym.scope}"
            f"\t{null if sym.detail is None else sym.detail}\t{sym.line}\t{sym.col}\t{sym.end_line}\t\\N\t\\N\n"
            for sym in others
        ]
    else:
        rows = [
            head
            + "\t".join(
                (
                    _copy_field(sym.name),
                    _copy_field(sym.kind),
                    _copy_field(sym.role),
                    _copy_field(sym.scope),
                    _copy_field(sym.detail),
                    str(sym.line),
                    str(sym.col),
                    str(sym.end_line),
                    null,
                    null,
                )
            )
            + "\n"
            for sym in others
        ]
    for (name, kind), occ in refs.items():
        if len(occ) > 1:
            occ.sort()
        line, col, end_line = occ[0]
        if not plain:
            name, kind = _copy_field(name), _copy_field(kind)
        rows.append(
            f"{head}{name}\t{kind}\tref\t\\N\t\\N\t{line}\t{col}\t{end_line}"
            f"\t{{{','.join([str(o[0]) for o in occ])}}}\t{{{','.join([str(o[1]) for o in occ])}}}\n"
        )
    return "".join(rows)


def _copy_field(s: str | None) -> str:
    """One text field in COPY's text format: NULL as \\N, backslash and line/field separators escaped,
    NUL (which PostgreSQL text cannot hold) replaced."""
    if s is None:
        return "\\N"
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\n" in s:
        s = s.replace("\n", "\\n")
    if "\t" in s:
        s = s.replace("\t", "\\t")
    if "\r" in s:
        s = s.replace("\r", "\\r")
    if "\x00" in s:
        s = s.replace("\x00", "\ufffd")
    return s


def _clean(s: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters (a source file may)."""
    return s.replace("\x00", "\ufffd") if s and "\x00" in s else s


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
