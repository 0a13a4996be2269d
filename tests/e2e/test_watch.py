"""Always fresh: the watchdog observer -> asyncio queue -> coalesced batches -> the real index.

In-process (the indexing service, the watcher, a real PostgreSQL), with real file-system events.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer, content_key
from hearth.indexer.store.db import Store
from hearth.indexer.watch import Watcher
from hearth.server.services.indexing import IndexingService, NullSink
from hearth.server.services.status import StatusService


class Rig:
    def __init__(self, root: Path, store: Store, service: IndexingService) -> None:
        self.root = root
        self.store = store
        self.service = service

    @property
    def watcher(self) -> Watcher:
        return self.service.watchers[str(self.root.resolve())]

    def snap(self) -> tuple[int, int]:
        repo_id, snap, _ = self.service.indexer.snapshot_for(self.root)
        return repo_id, snap

    def indexed(self) -> dict[str, str | None]:
        _, snap = self.snap()
        return {p: s.content_hash for p, s in self.store.file_states(snap).items() if s.status == "indexed"}

    def defined(self, name: str) -> list[str]:
        repo_id, snap = self.snap()
        return [d.path for d, _ in self.store.definitions(repo_id, snap, [name])]

    async def settle(self) -> None:
        await self.watcher.quiet(timeout=30)
        running = self.service._running.get(str(self.root.resolve()))
        if running is not None:
            await running


def disk_state(root: Path, rels: list[str]) -> dict[str, str]:
    reg = LanguageRegistry.default()
    return {r: content_key((root / r).read_bytes(), reg.name_for_path(r)) for r in rels}


@pytest.fixture
async def rig(tmp_path: Path, db_url: str) -> AsyncIterator[Rig]:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def core_function():\n    return 1\n")
    (root / "README.md").write_text("# Repo\n\nWords.\n")
    store = Store(db_url).open()
    indexer = Indexer(store, LanguageRegistry.default(), HashingEmbedder())
    service = IndexingService(indexer, StatusService(), embed=True)
    await service.index_root(root, NullSink())
    await service.watch([root])
    yield Rig(root, store, service)
    await service.stop_watching()
    store.close()


async def test_a_saved_file_is_searchable_within_a_second(rig: Rig) -> None:
    assert rig.defined("freshly_saved_function") == []
    started = time.monotonic()
    (rig.root / "pkg" / "fresh.py").write_text("def freshly_saved_function(x):\n    return x * 2\n")
    while not rig.defined("freshly_saved_function"):
        assert time.monotonic() - started < 1.0, "not searchable within 1 s"
        await asyncio.sleep(0.01)
    assert rig.defined("freshly_saved_function") == ["pkg/fresh.py"]


async def test_a_burst_of_500_writes_becomes_a_few_batches(rig: Rig) -> None:
    await rig.settle()
    before = rig.watcher.stats.batches
    burst = rig.root / "burst"
    burst.mkdir()
    for i in range(500):
        (burst / f"mod_{i:03d}.py").write_text(f"def burst_function_{i}():\n    return {i}\n")
    await asyncio.sleep(0)  # let the first events arrive before waiting for quiet
    while rig.watcher.stats.events == 0:
        await asyncio.sleep(0.01)
    await rig.settle()
    batches = rig.watcher.stats.batches - before
    assert 1 <= batches <= 5, batches
    indexed = rig.indexed()
    assert all(f"burst/mod_{i:03d}.py" in indexed for i in range(500))
    assert rig.defined("burst_function_499") == ["burst/mod_499.py"]


async def test_deletes_and_renames_are_applied(rig: Rig) -> None:
    (rig.root / "pkg" / "a.py").write_text("def rename_me():\n    pass\n")
    (rig.root / "pkg" / "b.py").write_text("def delete_me():\n    pass\n")
    (rig.root / "moved").mkdir()
    (rig.root / "moved" / "c.py").write_text("def in_a_moved_dir():\n    pass\n")
    while not rig.defined("in_a_moved_dir"):
        await asyncio.sleep(0.01)
    await rig.settle()
    (rig.root / "pkg" / "a.py").rename(rig.root / "pkg" / "renamed.py")
    (rig.root / "pkg" / "b.py").unlink()
    (rig.root / "moved").rename(rig.root / "moved_again")
    while "moved_again/c.py" not in rig.indexed() or "pkg/b.py" in rig.indexed():
        await asyncio.sleep(0.01)
    await rig.settle()
    indexed = rig.indexed()
    assert "pkg/a.py" not in indexed and "pkg/b.py" not in indexed and "moved/c.py" not in indexed
    assert rig.defined("rename_me") == ["pkg/renamed.py"]
    assert rig.defined("delete_me") == []
    assert rig.defined("in_a_moved_dir") == ["moved_again/c.py"]


async def test_an_ignore_file_change_drops_newly_ignored_files(rig: Rig) -> None:
    (rig.root / "gen").mkdir()
    (rig.root / "gen" / "out.py").write_text("def generated_output():\n    pass\n")
    while not rig.defined("generated_output"):
        await asyncio.sleep(0.01)
    await rig.settle()
    runs = rig.watcher.stats.full_runs
    (rig.root / ".gitignore").write_text("gen/\n")
    while rig.defined("generated_output"):
        await asyncio.sleep(0.01)
    await rig.settle()
    assert rig.watcher.stats.full_runs == runs + 1
    assert "gen/out.py" not in rig.indexed()


async def test_did_save_goes_through_the_watcher_queue(rig: Rig) -> None:
    await rig.settle()
    events = rig.watcher.stats.events
    (rig.root / "pkg" / "core.py").write_text("def core_function_renamed():\n    return 2\n")
    await rig.service.files_changed(rig.root, ["pkg/core.py"])
    assert rig.watcher.stats.events > events  # queued, not applied on a path of its own
    while not rig.defined("core_function_renamed"):
        await asyncio.sleep(0.01)
    await rig.settle()
    assert rig.defined("core_function") == []


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


async def test_a_branch_switch_reindexes_to_the_checked_out_tree(rig: Rig) -> None:
    root = rig.root
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "main")
    git(root, "checkout", "-q", "-b", "feature")
    for i in range(30):
        (root / "pkg" / f"feature_{i}.py").write_text(f"def feature_function_{i}():\n    return {i}\n")
    (root / "README.md").unlink()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feature")
    while rig.service.indexer.snapshot_for(root)[2] != "branch:feature" or not rig.defined("feature_function_29"):
        await asyncio.sleep(0.02)
    await rig.settle()
    runs = rig.watcher.stats.full_runs
    git(root, "checkout", "-q", "main")
    while rig.defined("feature_function_0") or rig.service.indexer.snapshot_for(root)[2] != "branch:main":
        await asyncio.sleep(0.02)
    await rig.settle()
    assert rig.watcher.stats.full_runs > runs
    files = ["pkg/core.py", "README.md"]
    assert rig.indexed() == disk_state(root, files)
    git(root, "checkout", "-q", "feature")
    while not rig.defined("feature_function_0"):
        await asyncio.sleep(0.02)
    await rig.settle()
    want = ["pkg/core.py"] + [f"pkg/feature_{i}.py" for i in range(30)]
    assert rig.indexed() == disk_state(root, want)
