"""Latency of search and of the whole completion context on a large index; HNSW build time and recall.

    python bench/retrieval/latency.py [--chunks 100000] [--queries 200] [--database-url URL]

The registry corpora (corpora.py) are indexed once (no embeddings); their blobs, chunks, symbols and
files are then cloned inside PostgreSQL into one synthetic repository (copy i under ``c<i>/<corpus>/``,
content and text hashes suffixed) until it holds ``--chunks`` chunks. Every chunk gets a 384-dim
hashing embedding (copies get the original's vector rotated by the copy number, so that no two copies
share a vector). Then:
- HNSW build: time of ``CREATE INDEX ... USING hnsw`` over all the synthetic repository's vectors;
- HNSW recall@20 and @10 against exact search (sequential scan) for the query vectors;
- the full-text term statistics' refresh (``ts_stat`` over the repository) and the reference counts' refresh
  (``refresh_ref_stats``: references per name in the snapshot, the callee popularity prior);
- ``ContextService.search`` top-20 (full text + symbol names + vectors fused): p50/p95/p99 over
  queries of two shapes, 20 lines of code before a call (what completion sends) and an identifier;
- ``ContextService.for_completion`` (all sources, ranking, budget) at real call sites: p50/p95/p99.
Results go to bench/results/retrieval-latency-<chunks>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import buffer_of, build, load
from corpora import CORPORA, fetch

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres
from hearth.server.services.context import ContextService, RepoHandle

RESULTS = Path(__file__).resolve().parents[1] / "results"
SYNTH_ROOT = "/hearth-bench/synthetic"


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def pct(xs: Sequence[float], p: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(len(s) * p))], 2) if s else 0.0


def summary(xs: Sequence[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": pct(xs, 0.5), "p95_ms": pct(xs, 0.95), "p99_ms": pct(xs, 0.99),
            "mean_ms": round(statistics.fmean(xs), 2) if xs else 0.0}


def base_repos(store: Store, registry: LanguageRegistry) -> list[tuple[str, int, int, Path]]:
    indexer = Indexer(store, registry, None)
    out = []
    for corpus in CORPORA:
        root = fetch(corpus)
        t0 = time.time()
        indexer.index(root, embed=False)
        rid, snap, _ = indexer.snapshot_for(root)
        sys.stderr.write(f"base {corpus.name}: indexed in {time.time() - t0:.1f}s\n")
        out.append((corpus.name, rid, snap, root))
    return out


def synthesize(store: Store, bases: Sequence[tuple[str, int, int, Path]], target: int, model: str) -> RepoHandle:
    """Clone the base repositories into one synthetic repository of at least ``target`` chunks."""
    emb = HashingEmbedder()
    with store.conn() as c:
        row = c.execute("SELECT id FROM repos WHERE root = %s", (f"{SYNTH_ROOT}-{target}",)).fetchone()
        if row is not None:
            rid = int(row[0])
            snap = int(c.execute("SELECT id FROM snapshots WHERE repo_id = %s", (rid,)).fetchone()[0])
            n = int(c.execute("SELECT count(*) FROM chunks WHERE repo_id = %s", (rid,)).fetchone()[0])
            if n >= target:
                sys.stderr.write(f"synthetic repository reused: {n} chunks\n")
                return RepoHandle(f"{SYNTH_ROOT}-{target}", rid, snap)
            c.execute("DELETE FROM repos WHERE id = %s", (rid,))
        # Time the HNSW build over the whole set instead of paying for incremental inserts.
        c.execute(f"DROP INDEX IF EXISTS {store._index_name(model)}")
        store._vector_indexes.discard(store._index_name(model))
        rid = int(c.execute("INSERT INTO repos (root) VALUES (%s) RETURNING id", (f"{SYNTH_ROOT}-{target}",))
                  .fetchone()[0])
        snap = int(c.execute("INSERT INTO snapshots (repo_id, name) VALUES (%s, 'default') RETURNING id", (rid,))
                   .fetchone()[0])
        c.commit()
        # Base vectors, computed once per distinct chunk text.
        base_ids = [b[1] for b in bases]
        rows = c.execute("SELECT DISTINCT ON (repo_id, text_hash) repo_id, text_hash, text FROM chunks"
                         " WHERE repo_id = ANY(%s)", (base_ids,)).fetchall()
        vecs = emb.embed([r[2] for r in rows])
        c.execute("CREATE TEMP TABLE base_vec (repo_id int, text_hash text, v real[])")
        with c.cursor().copy("COPY base_vec FROM STDIN") as cp:
            for r, v in zip(rows, vecs, strict=True):
                cp.write_row((r[0], r[1], v.tolist()))
        per_copy = int(c.execute("SELECT count(*) FROM chunks WHERE repo_id = ANY(%s)", (base_ids,)).fetchone()[0])
        copies = -(-target // per_copy)
        t0 = time.time()
        for i in range(copies):
            for name, brid, bsnap, _ in bases:
                args = {"rid": rid, "snap": snap, "brid": brid, "bsnap": bsnap, "sfx": f":{i}:{name}",
                        "prefix": f"c{i}/{name}/", "shift": i % emb.dim}
                c.execute("INSERT INTO blobs (repo_id, content_hash, language, chunk_count, symbol_count)"
                          " SELECT %(rid)s, content_hash || %(sfx)s, language, chunk_count, symbol_count FROM blobs"
                          " WHERE repo_id = %(brid)s", args)
                c.execute("INSERT INTO files (repo_id, snapshot_id, path, content_hash, size, language, status)"
                          " SELECT %(rid)s, %(snap)s, %(prefix)s || path, content_hash || %(sfx)s, size, language,"
                          " status FROM files WHERE snapshot_id = %(bsnap)s AND status = 'indexed'", args)
                c.execute("INSERT INTO chunks (repo_id, content_hash, ord, start_line, end_line, kind, symbol,"
                          " language, text, text_hash, lex) SELECT %(rid)s, content_hash || %(sfx)s, ord, start_line,"
                          " end_line, kind, symbol, language, text, text_hash || %(sfx)s, lex FROM chunks"
                          " WHERE repo_id = %(brid)s", args)
                c.execute("INSERT INTO symbols (repo_id, content_hash, name, kind, role, scope, detail, line, col,"
                          " end_line, lines, cols) SELECT %(rid)s, content_hash || %(sfx)s, name, kind, role, scope,"
                          " detail, line, col, end_line, lines, cols FROM symbols WHERE repo_id = %(brid)s", args)
                c.execute("INSERT INTO embeddings (repo_id, model, text_hash, embedding)"
                          " SELECT %(rid)s, %(model)s, text_hash || %(sfx)s,"
                          " (v[%(shift)s + 1:] || v[1:%(shift)s])::vector FROM base_vec WHERE repo_id = %(brid)s"
                          " ON CONFLICT DO NOTHING", {**args, "model": model})
            c.commit()
            sys.stderr.write(f"copy {i + 1}/{copies} ({time.time() - t0:.0f}s)\n")
        c.execute("ANALYZE")
        c.commit()
    return RepoHandle(f"{SYNTH_ROOT}-{target}", rid, snap)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--database-url", default=os.environ.get("HEARTH_BENCH_DATABASE_URL"))
    ap.add_argument("--database", default="bench_recall", help="embedded database (shared with recall.py's index)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-query-vector", action="store_true",
                    help="completion contexts without a query vector (a document's first request)")
    ap.add_argument("--warmup", type=int, default=50,
                    help="untimed queries (code windows, and half as many names) of other sites first")
    ap.add_argument("--rebuild-hnsw", action="store_true", help="drop and time the HNSW build even if it exists")
    ap.add_argument("--hnsw-memory", default="2GB",
                    help="maintenance_work_mem for the timed HNSW build (a graph larger than this builds on disk,"
                         " several times slower)")
    args = ap.parse_args(argv)
    rnd = random.Random(4)
    registry = LanguageRegistry.default()
    url = args.database_url
    if not url:
        pg = EmbeddedPostgres(Path(tempfile.gettempdir()) / "hearth-bench-pg", fsync=False, database=args.database)
        url = pg.ensure_running()
    store = Store(url).open()
    emb = HashingEmbedder()
    bases = base_repos(store, registry)
    repo = synthesize(store, bases, args.chunks, emb.name)
    with store.conn() as c:
        n_chunks = int(c.execute("SELECT count(*) FROM chunks WHERE repo_id = %s", (repo.repo_id,)).fetchone()[0])
        n_symbols = int(c.execute("SELECT count(*) FROM symbols WHERE repo_id = %s", (repo.repo_id,)).fetchone()[0])
        n_vectors = int(c.execute("SELECT count(*) FROM embeddings WHERE model = %s", (emb.name,)).fetchone()[0])
        version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        index_name = store._index_name(emb.name)
        exists = c.execute("SELECT 1 FROM pg_class WHERE relname = %s", (index_name,)).fetchone() is not None
        if exists and args.rebuild_hnsw:
            c.execute(f"DROP INDEX {index_name}")
            c.commit()
            exists = False
    hnsw_s = None
    if not exists:
        t0 = time.time()
        with store.conn() as c:
            # The same index ensure_vector_index creates, with room for the whole graph in memory.
            c.execute(f"SET maintenance_work_mem = '{args.hnsw_memory}'")
            c.execute(f"CREATE INDEX {index_name} ON embeddings USING hnsw ((embedding::vector({emb.dim}))"
                      f" vector_cosine_ops) WHERE model = '{emb.name}'")
            c.commit()
        store.ensure_vector_index(emb.name, emb.dim)
        hnsw_s = round(time.time() - t0, 1)
        sys.stderr.write(f"HNSW over {n_vectors} vectors built in {hnsw_s}s\n")
    else:
        store.ensure_vector_index(emb.name, emb.dim)
    # Full-text term statistics (the server refreshes them in the background after indexing).
    t0 = time.time()
    store.refresh_term_stats(repo.repo_id)
    stats_s = round(time.time() - t0, 1)
    sys.stderr.write(f"term statistics over {n_chunks} chunks in {stats_s}s\n")
    # Reference counts per name (callee popularity), also refreshed in the background by the server.
    t0 = time.time()
    ref_names = store.refresh_ref_stats(repo.repo_id, repo.snapshot_id)
    ref_stats_s = round(time.time() - t0, 1)
    sys.stderr.write(f"reference counts of {ref_names} names in {ref_stats_s}s\n")

    # Queries: call sites of the corpora (the cases of the recall benchmark) under copy 0.
    sites: list[tuple[str, str, int, int]] = []
    for name, _, _, root in bases:
        corpus = next(c for c in CORPORA if c.name == name)
        files = load(root, registry)
        for case in build(name, corpus.language, files, per_kind=20):
            sites.append((f"c0/{name}/{case.path}", buffer_of(case, files), case.line, case.col))
    rnd.shuffle(sites)
    # Warm-up queries come from other call sites and names than the measured ones.
    warm_sites = sites[args.queries : args.queries + args.warmup]
    sites = sites[: args.queries]
    context = ContextService(store, registry, emb)
    # A running server loads the vector index into memory once (its first statistics check does, in the background):
    # into the shared buffers when the index fills at most three quarters of them (the embedded cluster sizes them
    # from the machine's memory), else into the operating system's cache; then, while the budget lasts, the indexes
    # and rows of the tables a completion reads.
    t0 = time.time()
    prewarmed = context.prewarm()
    prewarm_s = round(time.time() - t0, 1)
    sys.stderr.write(f"index loaded into memory: {prewarmed} in {prewarm_s}s\n")
    with store.conn() as c:
        row = c.execute("SHOW shared_buffers").fetchone()
        shared_buffers = row[0] if row else None
    code_queries = ["\n".join(text.split("\n")[-20:]) for _, text, _, _ in sites]
    ident_queries = []
    with store.conn() as c:
        names = [r[0] for r in c.execute("SELECT name FROM symbols WHERE repo_id = %s AND role = 'def'"
                                         " AND kind IN ('function', 'method', 'class') LIMIT 5000",
                                         (repo.repo_id,)).fetchall()]
    picked = rnd.sample(names, min(len(names), args.queries // 2 + args.warmup // 2))
    ident_queries, warm_idents = picked[: args.queries // 2], picked[args.queries // 2 :]
    vectors = emb.embed(code_queries + ident_queries)

    # A running server is warm: its PostgreSQL has visited much of the index before. Queries of other sites and
    # names than the measured ones come first, untimed (at 1M chunks the HNSW graph is several GB, and a first
    # visit of its pages reads them from the operating system's cache or the disk).
    warm_code = ["\n".join(text.split("\n")[-20:]) for _, text, _, _ in warm_sites]
    warm_vectors = emb.embed(warm_code + warm_idents) if warm_code or warm_idents else []
    for q, v in zip(warm_code + warm_idents, warm_vectors, strict=True):
        context.search(repo, q, k=20, vector=v)
    timings: dict[str, list[float]] = {"search_code": [], "search_identifier": [], "vector_hnsw": [],
                                       "vector_exact": [], "completion_context": []}
    recalls: list[float] = []
    recalls10: list[float] = []
    load_before = os.getloadavg()
    for i, q in enumerate(code_queries + ident_queries):
        t0 = time.perf_counter()
        context.search(repo, q, k=20, vector=vectors[i])
        timings["search_code" if i < len(code_queries) else "search_identifier"].append(
            (time.perf_counter() - t0) * 1000)
    for v in vectors[: min(100, len(code_queries))]:
        t0 = time.perf_counter()
        approx = store.search_vector(repo.repo_id, repo.snapshot_id, emb.name, emb.dim, v, 20)
        timings["vector_hnsw"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        exact = store.search_vector(repo.repo_id, repo.snapshot_id, emb.name, emb.dim, v, 20, exact=True)
        timings["vector_exact"].append((time.perf_counter() - t0) * 1000)
        want = {(h.path, h.start_line) for h in exact}
        recalls.append(len(want & {(h.path, h.start_line) for h in approx}) / max(1, len(want)))
        want10 = {(h.path, h.start_line) for h in exact[:10]}
        recalls10.append(len(want10 & {(h.path, h.start_line) for h in approx[:10]}) / max(1, len(want10)))

    stages: dict[str, list[float]] = {}

    async def contexts(cold: bool) -> None:
        for path, text, line, col in sites:
            # Nothing from an earlier request: no parse of the same file, no reference counts of the same names
            # (kept for a minute in a running server; 200 call sites in a few seconds would find most of them).
            context._parses.clear()
            context._ref_cache.clear()
            # The query vector: the server embeds each request's window in the background and the next request in
            # the same document searches with it too; here the window's own vector stands in for the last
            # keystroke's. With --no-query-vector, none: a document's first request (full text alone).
            context._query_vectors.clear()
            if not args.no_query_vector:
                window = "\n".join(text.split("\n")[max(0, line - 20) : line + 1])
                context._query_vectors[path] = (window, emb.embed([window[-4000:]])[0])
            if not cold:
                # As in the editor: the file was open before the user started this line, and the server parsed it
                # then (didOpen/didChange: ContextService.prepare, once the editor is quiet); the request's buffer
                # adds what was typed on that line.
                lines = text.split("\n")
                indent = lines[line][: len(lines[line]) - len(lines[line].lstrip())]
                context._parse_now(path, "\n".join([*lines[:line], indent]))
            t0 = time.perf_counter()
            res = await context.for_completion(repo, path, text, line, col, budget_tokens=1024, wait_for_all=True)
            timings["completion_context_cold" if cold else "completion_context"].append(
                (time.perf_counter() - t0) * 1000
            )
            for name, ms in res.timings_ms.items():
                stages.setdefault(f"{name}{' (cold)' if cold else ''}", []).append(ms)

    timings["completion_context_cold"] = []
    asyncio.run(contexts(cold=False))
    asyncio.run(contexts(cold=True))
    store.close()
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "pgvector": version,
        "chunks": n_chunks,
        "symbols": n_symbols,
        "vectors": n_vectors,
        "embedder": emb.name,
        "hnsw_build_s": hnsw_s,
        "hnsw_recall_at_20": round(statistics.fmean(recalls), 3) if recalls else None,
        "hnsw_recall_at_10": round(statistics.fmean(recalls10), 3) if recalls10 else None,
        "term_stats_s": stats_s,
        "ref_stats_s": ref_stats_s,
        "prewarm": prewarmed,
        "shared_buffers": shared_buffers,
        "commit": _commit(),
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        **{k: summary(v) for k, v in timings.items()},
        "completion_stages_p50_ms": {k: pct(v, 0.5) for k, v in stages.items()},
        "completion_query_vector": not args.no_query_vector,
    }
    path = Path(args.out or RESULTS / f"retrieval-latency-{args.chunks // 1000}k.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
