"""A bulk indexing run refreshes the planner's statistics before anything plans a query on the new rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.indexer import pipeline
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store


def _analyzed(store: Store) -> dict[str, object]:
    with store.conn() as c:
        rows = c.execute(
            "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN ('files', 'chunks', 'symbols')"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def test_a_bulk_run_analyzes_and_a_small_one_does_not(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "ANALYZE_MIN_FILES", 8)
    repo = tmp_path / "bulk"
    (repo / "pkg").mkdir(parents=True)
    for i in range(10):
        (repo / "pkg" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    indexer = Indexer(store, LanguageRegistry.default(), None)
    before = _analyzed(store)
    indexer.index(repo, embed=False)
    after = _analyzed(store)
    assert set(after) == {"files", "chunks", "symbols"}
    assert all(after[t] is not None and after[t] != before.get(t) for t in after), (before, after)
    # One file changed: no bulk change, the statistics are left to autovacuum.
    (repo / "pkg" / "m0.py").write_text("def f0(x):\n    return x - 1\n")
    indexer.index(repo, embed=False)
    assert _analyzed(store) == after
