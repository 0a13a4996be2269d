"""Crash-safe and resumable: a real `hearth index` killed with SIGKILL at random moments, then
completed by a second run, gives exactly the index a fresh full run gives; two concurrent runs
give one consistent index.

Each comparison covers files (path, content hash, status, reason), blobs, chunks and symbols, and
checks that nothing is orphaned or duplicated.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres
from tests.conftest import _create_db, _drop_db

SEED = 20261126


def make_repo(root: Path, rng: random.Random, files: int = 900) -> None:
    """A generated multi-language repository (Python, TypeScript, Go), deterministic for a seed."""
    for i in range(files):
        pkg = root / f"pkg{i % 17}" / f"sub{i % 5}"
        pkg.mkdir(parents=True, exist_ok=True)
        n = rng.randint(2, 9)
        kind = i % 3
        if kind == 0:
            body = "\n\n".join(
                f"def func_{i}_{j}(arg, other=None):\n    value = helper_{(i + j) % 50}(arg)\n"
                + "".join(f"    value += {k} * arg  # step {k}\n" for k in range(rng.randint(1, 30)))
                + "    return value\n"
                for j in range(n)
            )
            (pkg / f"mod_{i}.py").write_text(f"import os\nfrom pkg{(i + 1) % 17} import mod\n\n{body}")
        elif kind == 1:
            body = "\n".join(
                f"export function fn{i}x{j}(a: number): number {{\n  return helper{j}(a) + {rng.randint(0, 99)};\n}}\n"
                for j in range(n)
            )
            (pkg / f"mod_{i}.ts").write_text(f"import {{ helper0 }} from './h';\n\n{body}")
        else:
            body = "\n".join(f"func F{i}x{j}(a int) int {{\n\treturn a * {j}\n}}\n" for j in range(n))
            (pkg / f"mod_{i}.go").write_text(f"package sub\n\n{body}")
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir(exist_ok=True)
    (root / "ignored" / "x.py").write_text("def nope():\n    pass\n")
    (root / ".env").write_text("SECRET=1\n")


def mutate(root: Path, rng: random.Random) -> None:
    """Edits, deletes, renames and new files between runs."""
    files = sorted(p for p in root.rglob("mod_*.*"))
    for p in rng.sample(files, 20):
        p.write_text(p.read_text() + f"\n# edited {rng.random()}\n")
    for p in rng.sample([f for f in files if f.exists()], 10):
        if p.exists():
            p.unlink()
    for p in rng.sample([f for f in files if f.exists()], 10):
        if p.exists():
            p.rename(p.with_name("renamed_" + p.name))
    for k in range(10):
        (root / "pkg0" / f"new_{rng.randint(0, 10**6)}_{k}.py").write_text(f"def brand_new_{k}():\n    return {k}\n")


def rewrite_many(root: Path, rng: random.Random) -> None:
    """New content for a third of the files, so that a run has several batches to write."""
    files = sorted(p for p in root.rglob("mod_*.*"))
    for p in rng.sample(files, len(files) // 3):
        p.write_text(p.read_text() + f"\n// revision {rng.random()}\n" if p.suffix != ".py" else
                     p.read_text() + f"\n# revision {rng.random()}\n")


def last_commit(url: str) -> tuple[int, Any]:
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("SELECT count(*), max(indexed_at) FROM files").fetchone()
        assert row is not None
        return int(row[0]), row[1]


def hearth_index(root: Path, url: str, *, progress: bool = False) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({"HEARTH_DATABASE_URL": url, "HEARTH_EMBEDDING_PROVIDER": "hashing", "PYTHONUNBUFFERED": "1"})
    return subprocess.Popen(
        [sys.executable, "-m", "hearth.server.cli", "index", str(root), "--no-embed"]
        + (["--no-progress"] if not progress else [])
        + (["--json"] if not progress else []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def complete(root: Path, url: str) -> None:
    proc = hearth_index(root, url)
    _, errs = proc.communicate(timeout=300)
    assert proc.returncode == 0, errs.decode()[-2000:]


def index_state(url: str) -> dict[str, Any]:
    """Everything the index holds for the (single) repository, as comparable values."""
    with psycopg.connect(url) as c:
        (snap,) = c.execute("SELECT id FROM snapshots").fetchone() or (None,)
        files = sorted(
            c.execute(
                "SELECT path, content_hash, status, skip_reason, language FROM files WHERE snapshot_id = %s", (snap,)
            ).fetchall()
        )
        blobs = sorted(c.execute("SELECT content_hash, language, chunk_count, symbol_count FROM blobs").fetchall())
        chunks = Counter(
            c.execute("SELECT content_hash, ord, start_line, end_line, kind, symbol, text_hash FROM chunks").fetchall()
        )
        symbols = Counter(
            c.execute(
                "SELECT content_hash, name, kind, role, scope, line, col, end_line, lines::text, cols::text"
                " FROM symbols"
            ).fetchall()
        )
        orphans = c.execute(
            "SELECT count(*) FROM blobs b WHERE NOT EXISTS"
            " (SELECT 1 FROM files f WHERE f.content_hash = b.content_hash)"
        ).fetchone()
        miscounted = c.execute(
            "SELECT count(*) FROM blobs b WHERE chunk_count <> (SELECT count(*) FROM chunks ch"
            " WHERE ch.content_hash = b.content_hash) OR symbol_count <> (SELECT coalesce(sum(coalesce("
            " cardinality(s.lines), 1)), 0) FROM symbols s WHERE s.content_hash = b.content_hash)"
        ).fetchone()
        snapshots = c.execute("SELECT count(*) FROM snapshots").fetchone()
    return {
        "files": files,
        "blobs": blobs,
        "chunks": chunks,
        "symbols": symbols,
        "orphan_blobs": orphans[0] if orphans else None,
        "miscounted_blobs": miscounted[0] if miscounted else None,
        "snapshots": snapshots[0] if snapshots else None,
    }


def assert_same_index(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["orphan_blobs"] == 0
    assert got["miscounted_blobs"] == 0  # no duplicated or missing chunk/symbol rows
    assert got["snapshots"] == want["snapshots"] == 1
    assert max(got["chunks"].values()) == 1 and max(got["symbols"].values(), default=1) >= 1
    assert got["files"] == want["files"]
    assert got["blobs"] == want["blobs"]
    assert got["chunks"] == want["chunks"]
    assert got["symbols"] == want["symbols"]


@pytest.fixture
def two_dbs(pg_cluster: EmbeddedPostgres) -> Iterator[tuple[str, str]]:
    a, url_a = _create_db(pg_cluster)
    b, url_b = _create_db(pg_cluster)
    yield url_a, url_b
    _drop_db(pg_cluster, a)
    _drop_db(pg_cluster, b)


def test_sigkill_at_random_points_then_resume_equals_a_fresh_run(tmp_path: Path, two_dbs: tuple[str, str]) -> None:
    crashed_url, fresh_url = two_dbs
    rng = random.Random(SEED)
    root = tmp_path / "repo"
    make_repo(root, rng)
    complete(root, fresh_url)
    # Each attempt gets work (a third of the files rewritten, plus edits, deletes, renames and new
    # files) and is killed at a random point of that work, found by watching its commits: right
    # after a batch committed, or during start-up before any. Kills are counted only when the run
    # was still going; the loop goes on until three runs died mid-way (a bounded number of tries).
    kills = 0
    for _attempt in range(10):
        rewrite_many(root, rng)
        mutate(root, rng)
        before = last_commit(crashed_url)
        proc = hearth_index(root, crashed_url)
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.2, 1.5))  # during start-up or the first batch
        else:
            deadline = time.monotonic() + 120
            while proc.poll() is None and last_commit(crashed_url) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))  # somewhere in the next batch
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
        if kills == 3:
            break
    assert kills == 3, "no run lasted long enough to be killed mid-way"
    complete(root, crashed_url)
    # The reference: a fresh database, one uninterrupted run over the final tree.
    with psycopg.connect(fresh_url, autocommit=True) as c:
        c.execute("TRUNCATE repos, blobs, files, chunks, symbols, embeddings, snapshots CASCADE")
    complete(root, fresh_url)
    got, want = index_state(crashed_url), index_state(fresh_url)
    assert len(want["files"]) > 900
    assert_same_index(got, want)


def test_two_concurrent_runs_give_one_consistent_index(tmp_path: Path, two_dbs: tuple[str, str]) -> None:
    shared_url, fresh_url = two_dbs
    root = tmp_path / "repo"
    make_repo(root, random.Random(SEED + 1), files=400)
    first, second = hearth_index(root, shared_url), hearth_index(root, shared_url)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [e.decode()[-1000:] for _, e in outs]
    complete(root, fresh_url)
    assert_same_index(index_state(shared_url), index_state(fresh_url))


def test_a_follower_shows_the_leaders_progress_then_completes(tmp_path: Path, db_url: str) -> None:
    root = (tmp_path / "repo").resolve()
    make_repo(root, random.Random(SEED + 2), files=300)
    store = Store(db_url).open()
    indexer = Indexer(store, LanguageRegistry.default(), None)
    try:
        with store.indexer_lock(str(root)) as leader:
            assert leader
            follower = hearth_index(root, db_url, progress=True)
            assert follower.stderr is not None
            line = follower.stderr.readline().decode()
            assert "another Hearth process is indexing this repository" in line
            indexer.index(root, embed=False)  # this test is the leader meanwhile
            time.sleep(1.2)  # two of the follower's polls, to see the leader's counts
            assert follower.poll() is None, "the follower must wait for the leader"
        out, errs = follower.communicate(timeout=120)
    finally:
        store.close()
    assert follower.returncode == 0, errs.decode()[-2000:]
    assert "hearth: following" in errs.decode()  # the progress bar of the leader's counts
    assert re.search(r"files: \d+ seen, 0 parsed, 0 reused, [1-9]\d\d unchanged", out.decode()), out.decode()
