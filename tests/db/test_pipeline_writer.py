"""The indexing run's writer thread: batches written in order, progress to the end, and a cancelled or failed
run that stops without hanging and leaves an index the next run completes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import hearth.indexer.pipeline as pipeline
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Cancelled, Indexer, Progress
from hearth.indexer.store.db import Store


def _repo(root: Path, files: int = 60) -> Path:
    for i in range(files):
        d = root / f"pkg{i % 6}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod_{i}.py").write_text(f"def f_{i}(x):\n    return g_{i}(x) + {i}\n\n\nclass C{i}:\n    pass\n")
    return root


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH_FILES", 7)
    monkeypatch.setattr(pipeline, "PIPELINE_DEPTH", 2)


def test_progress_reaches_the_total_in_order(tmp_path: Path, store: Store, small_batches: None) -> None:
    root = _repo(tmp_path / "r")
    seen: list[Progress] = []
    summary = Indexer(store, LanguageRegistry.default(), None, parse_workers=1).index(
        root, embed=False, progress=seen.append
    )
    parse = [p.done for p in seen if p.phase == "parse"]
    assert parse == sorted(parse) and parse[-1] == 60
    assert summary.files_indexed == 60
    assert len(store.definitions(*Indexer(store, LanguageRegistry.default(), None).snapshot_for(root)[:2], ["f_59"]))


def test_a_cancelled_run_stops_and_the_next_one_completes(tmp_path: Path, store: Store, small_batches: None) -> None:
    root = _repo(tmp_path / "r")
    indexer = Indexer(store, LanguageRegistry.default(), None, parse_workers=1)
    cancel = threading.Event()

    def progress(p: Progress) -> None:
        if p.phase == "parse" and p.done >= 7:
            cancel.set()  # after the first batch is written

    with pytest.raises(Cancelled):
        indexer.index(root, embed=False, progress=progress, cancel=cancel)
    repo_id, snap, _ = indexer.snapshot_for(root)
    assert 0 < store.counts(repo_id, snap, None)["files"] < 60
    summary = indexer.index(root, embed=False)
    assert store.counts(repo_id, snap, None)["files"] == 60
    assert summary.files_unchanged + summary.files_indexed == 60


def test_a_failed_write_is_raised_and_nothing_hangs(
    tmp_path: Path, store: Store, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path / "r")
    calls = 0
    original = store.write_batch

    def failing(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        original(*args, **kwargs)

    monkeypatch.setattr(store, "write_batch", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        Indexer(store, LanguageRegistry.default(), None, parse_workers=1).index(root, embed=False)
    assert not [t for t in threading.enumerate() if t.name == "hearth-index-writer"]
    monkeypatch.setattr(store, "write_batch", original)
    indexer = Indexer(store, LanguageRegistry.default(), None, parse_workers=1)
    indexer.index(root, embed=False)
    repo_id, snap, _ = indexer.snapshot_for(root)
    assert store.counts(repo_id, snap, None)["files"] == 60
