"""Indexing benchmark: full-index throughput and memory, save-to-search latency, a branch switch,
and the CPU embedder's rate. Run by hand: ``python bench/indexing/bench.py [--quick]``.

The corpus comes from the Debian archive, fetched by this script: ``golang-1.19-src`` (the Go
toolchain and standard library) and ``rust-src`` (the Rust standard library with its vendored
crates), downloaded with ``apt-get download`` and unpacked with ``dpkg -x`` under
/tmp/hearth-bench (about 48,000 files, 46,000 of which the walker keeps). The database is
``HEARTH_DATABASE_URL`` if set, else a throwaway embedded PostgreSQL (fsync off, so the numbers
measure Hearth rather than the disk). Results go to bench/results/indexing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

ROOT = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/hearth-bench")
PACKAGES = ["golang-1.19-src", "rust-src"]


def fetch_corpus() -> Path:
    corpus = WORK / "x"
    if (corpus / "usr").is_dir():
        return corpus
    debs = WORK / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True, capture_output=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(corpus)], check=True)
    return corpus


def database_url(database: str = "hearth", durable: bool = False) -> str:
    url = os.environ.get("HEARTH_DATABASE_URL")
    if url:
        return url
    from hearth.indexer.store.embedded import EmbeddedPostgres

    base = WORK / ("pg-durable" if durable else "pg")
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(WORK, 0o755)
    os.chmod(base, 0o755)
    return EmbeddedPostgres(base, fsync=durable, database=database).ensure_running()


def reset_db(url: str) -> None:
    import psycopg

    from hearth.indexer.store.db import Store

    Store(url).open().close()  # migrations
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE repos, blobs, files, chunks, symbols, embeddings, snapshots CASCADE")


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def postmaster(url: str) -> psutil.Process | None:
    """The benchmark's embedded PostgreSQL (its CPU time is counted), or None for an external one."""
    if os.environ.get("HEARTH_DATABASE_URL"):
        return None
    socket_dir = parse_qs(urlsplit(url).query).get("host", [""])[0]  # <cluster>/run, next to <cluster>/data
    try:
        pid_file = Path(socket_dir).parent / "data" / "postmaster.pid"
        return psutil.Process(int(pid_file.read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return None


def cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


class CpuMeter:
    """CPU seconds of the indexing process, its parse workers and the PostgreSQL cluster during a run,
    from samples of each process (a process's last 0.1 s before it exits is missed)."""

    def __init__(self, proc: psutil.Process, url: str) -> None:
        self.proc = proc
        self.pg = postmaster(url)
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid -> (role, first sample, last sample)
        self.pg_kind: dict[int, str] = {}  # pid -> what the PostgreSQL process is (pg_kind)
        for p in self._pg_processes():
            self._sample(p, "postgres", before=True)

    def _pg_processes(self) -> list[psutil.Process]:
        if self.pg is None:
            return []
        try:
            return [self.pg, *self.pg.children()]
        except psutil.Error:
            return []

    def _sample(self, p: psutil.Process, role: str, before: bool = False) -> None:
        try:
            now = cpu_seconds(p)
        except psutil.Error:
            return
        first = self.seen[p.pid][1] if p.pid in self.seen else (now if before else 0.0)
        self.seen[p.pid] = (role, first, now)
        if role == "postgres" and p.pid not in self.pg_kind:
            self.pg_kind[p.pid] = pg_kind(p)

    def sample(self) -> None:
        self._sample(self.proc, "main")
        try:
            for child in self.proc.children(recursive=True):
                self._sample(child, "workers")
        except psutil.Error:
            pass
        for p in self._pg_processes():
            self._sample(p, "postgres")

    def totals(self) -> dict[str, float]:
        out = {"main": 0.0, "workers": 0.0, "postgres": 0.0}
        for role, first, last in self.seen.values():
            out[role] += last - first
        return {k: round(v, 1) for k, v in out.items()}

    def postgres_split(self) -> dict[str, float]:
        """PostgreSQL's CPU seconds by process: the connections' backends, autovacuum, the WAL writer,
        the checkpointer and background writer, the postmaster."""
        out: dict[str, float] = {}
        for pid, (role, first, last) in self.seen.items():
            if role == "postgres":
                kind = self.pg_kind.get(pid, "other")
                out[kind] = out.get(kind, 0.0) + last - first
        return {k: round(v, 2) for k, v in sorted(out.items())}


def pg_kind(p: psutil.Process) -> str:
    try:
        title = " ".join(p.cmdline())
    except psutil.Error:
        return "other"
    for kind in ("walwriter", "checkpointer", "background writer", "autovacuum", "logical replication"):
        if kind in title:
            return kind
    return "backend" if title.startswith("postgres: ") else "postmaster"


def wal_lsn(url: str) -> int | None:
    """The cluster's WAL position in bytes (the WAL written between two calls is their difference)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as c:
            row = c.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


def full_index(corpus: Path, url: str, *extra: str) -> dict[str, Any]:
    """`hearth index --no-embed` as a subprocess; peak RSS of its process tree (PostgreSQL excluded), and
    the CPU seconds of the indexing process tree (exact, from the kernel) and of PostgreSQL (sampled)."""
    env = dict(os.environ, HEARTH_DATABASE_URL=url, HEARTH_EMBEDDING_PROVIDER="hashing")
    lsn_before = wal_lsn(url)
    started = time.monotonic()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hearth.server.cli",
            "index",
            str(corpus),
            "--no-embed",
            "--json",
            "--no-progress",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ps = psutil.Process(proc.pid)
    meter = CpuMeter(ps, url)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        meter.sample()
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter.sample()
    cpu: dict[str, Any] = dict(meter.totals())
    cpu["postgres_by_process"] = meter.postgres_split()
    lsn_after = wal_lsn(url)
    cpu["indexer_tree_exact"] = round(
        children_after.ru_utime + children_after.ru_stime - children_before.ru_utime - children_before.ru_stime, 1
    )
    if proc.returncode != 0:
        raise RuntimeError(err.decode()[-2000:])
    s = json.loads(out)
    mb = s["bytes_parsed"] / 1e6
    return {
        "files_seen": s["files_seen"],
        "files_parsed": s["files_indexed"],
        "files_skipped": s["files_skipped"],
        "chunks": s["chunks"],
        "symbols": s["symbols"],
        "mb_parsed": round(mb, 1),
        "index_seconds": s["seconds"],
        "wall_seconds_with_startup": round(wall, 2),
        "mb_per_s": round(mb / s["seconds"], 2),
        "files_per_s": round(s["files_indexed"] / s["seconds"], 1),
        "peak_rss_mb": round(peak / 1e6, 1),
        "cpu_seconds": cpu,
        "wal_mb": round((lsn_after - lsn_before) / 1e6, 1) if lsn_before is not None and lsn_after else None,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


TABLE_ROWS = {
    # Every column but ids and times; the distinct rows (a blob another run wrote first is stored once).
    "files": "path, content_hash, size, mtime_ns, language, status, skip_reason",
    "chunks": "content_hash, ord, start_line, end_line, kind, symbol, language, text, text_hash, lex::text",
    "symbols": "content_hash, name, kind, role, scope, detail, line, col, end_line",
}


def table_hashes(url: str) -> dict[str, dict[str, Any]]:
    """Row count and md5 of each index table's distinct rows, to check that a change writes the same index."""
    import psycopg

    out: dict[str, dict[str, Any]] = {}
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET work_mem = '256MB'")
        for table, cols in TABLE_ROWS.items():
            row = c.execute(
                f"SELECT count(*), md5(string_agg(r, E'\\n' ORDER BY r COLLATE \"C\"))"
                f" FROM (SELECT DISTINCT ROW({cols})::text AS r FROM {table}) t"
            ).fetchone()
            assert row
            out[table] = {"rows": int(row[0]), "md5": row[1]}
    return out


def parse_only(corpus: Path, n: int = 1500) -> dict[str, Any]:
    """parse_source alone, one process, on a random sample (what one core does without the store)."""
    from hearth.indexer.languages import LanguageRegistry
    from hearth.indexer.parse import parse_source
    from hearth.indexer.walk import IgnorePolicy, WalkEntry

    entries = [e for e in IgnorePolicy(corpus).walk() if isinstance(e, WalkEntry)]
    sample = random.Random(7).sample(entries, min(n, len(entries)))
    data = [(e.path, e.abs_path.read_bytes()) for e in sample]
    reg = LanguageRegistry.default()
    for path, d in data[:100]:
        parse_source(reg, path, d)  # grammars and queries loaded
    started = time.monotonic()
    for path, d in data:
        parse_source(reg, path, d)
    secs = time.monotonic() - started
    mb = sum(len(d) for _, d in data) / 1e6
    return {"files": len(data), "mb": round(mb, 2), "mb_per_s_one_process": round(mb / secs, 2)}


async def freshness(corpus: Path, url: str, saves: int) -> dict[str, Any]:
    """A saved file reflected in search (definitions lookup), through the watcher, on the indexed corpus."""
    from hearth.indexer.languages import LanguageRegistry
    from hearth.indexer.pipeline import Indexer
    from hearth.indexer.store.db import Store
    from hearth.server.services.indexing import IndexingService
    from hearth.server.services.status import StatusService

    store = Store(url).open()
    indexer = Indexer(store, LanguageRegistry.default(), None)
    service = IndexingService(indexer, StatusService(), embed=False)
    target = corpus / "hearth_bench_saves"
    target.mkdir(exist_ok=True)
    try:
        started = time.monotonic()
        await service.watch([corpus])
        watch_start = time.monotonic() - started
        repo_id, snap, _ = indexer.snapshot_for(corpus)
        lat = []
        for i in range(saves):
            name = f"hearth_bench_saved_{i}_{random.randrange(10**9)}"
            t0 = time.monotonic()
            (target / f"saved_{i}.py").write_text(f"def {name}(x):\n    return x + {i}\n")
            # The lookups run off the event loop: the watcher lives on it (a blocking poll delays it).
            while not await asyncio.to_thread(store.definitions, repo_id, snap, [name]):
                await asyncio.sleep(0.005)
            lat.append(time.monotonic() - t0)
            await asyncio.sleep(0.25)
        lat.sort()
        return {
            "saves": saves,
            "watch_start_s": round(watch_start, 2),
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p95_ms": round(1000 * lat[max(0, int(0.95 * len(lat)) - 1)], 1),
            "max_ms": round(1000 * lat[-1], 1),
        }
    finally:
        await service.stop_watching()
        store.close()
        shutil.rmtree(target, ignore_errors=True)


def git(root: Path, *args: str) -> None:
    done = subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=root, capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {done.stderr.decode()[-2000:]}")


async def branch_switch(corpus: Path, url: str, files: int = 3000, touched: int = 1000) -> dict[str, Any]:
    """A repository of `files` corpus files; a branch that changes `touched` of them; time from the
    `git checkout` to the watcher's index of the new branch being complete."""
    from hearth.indexer.languages import LanguageRegistry
    from hearth.indexer.pipeline import Indexer
    from hearth.indexer.store.db import Store
    from hearth.server.services.indexing import IndexingService, NullSink
    from hearth.server.services.status import StatusService

    repo = WORK / "branchrepo"
    shutil.rmtree(repo, ignore_errors=True)
    src = sorted(p for p in (corpus / "usr" / "share" / "go-1.19" / "src").rglob("*.go") if p.is_file())[:files]
    for i, p in enumerate(src):
        dest = repo / f"d{i % 60}" / f"f{i}.go"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "checkout", "-q", "-b", "other")
    changed = sorted(repo.rglob("*.go"))[:touched]
    for i, p in enumerate(changed):
        p.write_text(p.read_text(errors="replace") + f"\nfunc HearthBranchOnly{i}() int {{ return {i} }}\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    store = Store(url).open()
    indexer = Indexer(store, LanguageRegistry.default(), None)
    service = IndexingService(indexer, StatusService(), embed=False)
    try:
        await service.index_root(repo, NullSink())
        await service.watch([repo])
        watcher = service.watchers[str(repo.resolve())]
        t0 = time.monotonic()
        git(repo, "checkout", "-q", "other")
        checkout_s = time.monotonic() - t0
        name = f"HearthBranchOnly{touched - 1}"
        repo_id = store.find_repo(str(repo.resolve()))
        assert repo_id is not None

        def found() -> bool:
            # Read-only (the indexer creates the new branch's snapshot), and off the event loop: the
            # watcher runs on it, and a poll that blocks the loop delays the very run it waits for
            # (the first version of this benchmark measured 82 s that way, for a 5 s run).
            snap = store.snapshot_id(repo_id, "branch:other")
            return snap is not None and bool(store.definitions(repo_id, snap, [name]))

        while not await asyncio.to_thread(found):
            await asyncio.sleep(0.01)
        await watcher.quiet(timeout=120)
        running = service._running.get(str(repo.resolve()))
        if running is not None:
            await running
        consistent_s = time.monotonic() - t0
        from hearth.indexer.pipeline import content_key
        from hearth.indexer.walk import IgnorePolicy

        # Consistent: each changed file is recorded as a full run would record it (some Go files are
        # generated code, skipped by design).
        snap = store.snapshot_id(repo_id, "branch:other")
        assert snap is not None
        files_now = store.file_states(snap)
        policy = IgnorePolicy(repo)
        reg = LanguageRegistry.default()
        ok = True
        for p in changed:
            rel = str(p.relative_to(repo))
            data = p.read_bytes()
            want = None if policy.check_content(rel, data) else content_key(data, reg.name_for_path(rel))
            ok = ok and files_now[rel].content_hash == want
        # The yardstick: the same changed files as a new repository of their own, indexed from scratch.
        fresh = WORK / "branchrepo-changed"
        shutil.rmtree(fresh, ignore_errors=True)
        for p in changed:
            dest = fresh / p.relative_to(repo)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
        fresh_summary = await asyncio.to_thread(indexer.index, fresh, embed=False)
        return {
            "files": files,
            "touched": touched,
            "same_files_as_a_new_repository_s": fresh_summary.seconds,
            "checkout_s": round(checkout_s, 2),
            "to_consistent_index_s": round(consistent_s, 2),
            "watcher_full_runs": watcher.stats.full_runs,
            "watcher_batches": watcher.stats.batches,
            "consistent": ok,
        }
    finally:
        await service.stop_watching()
        store.close()


def embedder_rate(url: str, n: int = 256) -> dict[str, Any]:
    import psycopg

    from hearth.indexer.embedder import LocalMiniLM

    with psycopg.connect(url) as c:
        # A fixed random sample: the first chunks by id are the corpus's top-level READMEs, nearly all at the
        # 256-token cap, and say little about a whole repository's mix of lengths.
        c.execute("SELECT setseed(0.42)")
        texts = [r[0] for r in c.execute("SELECT text FROM chunks ORDER BY random() LIMIT %s", (n,)).fetchall()]
    try:
        emb = LocalMiniLM()
    except Exception as exc:  # the model package is optional
        return {"error": f"LocalMiniLM unavailable: {exc}"}
    emb.embed(texts[:8])
    started = time.monotonic()
    for i in range(0, len(texts), 32):
        emb.embed(texts[i : i + 32])
    secs = time.monotonic() - started
    return {"model": emb.name, "chunks": len(texts), "chunks_per_s": round(len(texts) / secs, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the Go part of the corpus only, fewer saves")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "indexing.json"))
    ap.add_argument(
        "--full-json",
        help="reuse a full-index result printed by an earlier run on this database (skips the 5-minute step)",
    )
    ap.add_argument(
        "--index-only",
        action="store_true",
        help="the full index, the re-runs and parse-only; no watcher, branch switch or embedder (about 3 minutes)",
    )
    ap.add_argument(
        "--hash-tables",
        action="store_true",
        help="after the re-runs, the row count and md5 of the files, chunks and symbols tables (about 20 s)",
    )
    ap.add_argument(
        "--database",
        default="hearth",
        help="the embedded cluster's database to use (another name keeps another schema version apart)",
    )
    ap.add_argument(
        "--durable",
        action="store_true",
        help="a second embedded cluster with the settings users get (fsync and full-page writes on), not fsync off",
    )
    args = ap.parse_args()
    corpus = fetch_corpus()
    target = corpus / "usr" / "share" / "go-1.19" if args.quick else corpus
    url = database_url(args.database, args.durable)
    if not args.full_json:
        reset_db(url)
    load = os.getloadavg()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB",
        "load_average_at_start": [round(x, 2) for x in load],
        "corpus": {"packages": PACKAGES, "path": str(target)},
    }
    print("full index ...", file=sys.stderr)
    if args.full_json:
        result["full_index"] = json.loads(Path(args.full_json).read_text())
        result["full_index"]["reused_from_an_earlier_run"] = True
    else:
        result["full_index"] = full_index(target, url)
    print(json.dumps(result["full_index"]), file=sys.stderr)
    print("re-run (nothing changed) ...", file=sys.stderr)
    noop = full_index(target, url)
    result["noop_rerun"] = {"index_seconds": noop["index_seconds"], "cpu_seconds": noop["cpu_seconds"]}
    print(json.dumps(result["noop_rerun"]), file=sys.stderr)
    print("re-run with --rehash (every file read and hashed) ...", file=sys.stderr)
    try:
        rehash = full_index(target, url, "--rehash")
        result["rehash_rerun"] = {"index_seconds": rehash["index_seconds"], "cpu_seconds": rehash["cpu_seconds"]}
    except RuntimeError as exc:  # a version of hearth without --rehash
        result["rehash_rerun"] = {"error": str(exc)[-200:]}
    if args.hash_tables:
        print("table hashes ...", file=sys.stderr)
        result["tables_after_the_reruns"] = table_hashes(url)
    print("parse only ...", file=sys.stderr)
    result["parse_only"] = parse_only(target)
    if args.index_only:
        write_result(args.out, result)
        return
    print("save to search ...", file=sys.stderr)
    result["save_to_search"] = asyncio.run(freshness(target, url, 10 if args.quick else 30))
    print("branch switch ...", file=sys.stderr)
    result["branch_switch"] = asyncio.run(branch_switch(corpus, url))
    print("embedder ...", file=sys.stderr)
    result["cpu_embedder"] = embedder_rate(url)
    rate = result["cpu_embedder"].get("chunks_per_s")
    if rate:
        result["cpu_embedder"]["hours_to_embed_the_corpus"] = round(result["full_index"]["chunks"] / rate / 3600, 1)
    write_result(args.out, result)


def write_result(out: str, result: dict[str, Any]) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
