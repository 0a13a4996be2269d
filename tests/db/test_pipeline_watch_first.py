"""The server's first index: the watcher starts once symbols and full text are in, before embeddings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.server.services.indexing import IndexingService
from hearth.server.services.status import StatusService


class GatedEmbedder(HashingEmbedder):
    """Embeds only once the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not self.gate.wait(60):
            raise TimeoutError("the test never opened the gate")
        return super().embed(texts)


async def until(cond: object, timeout: float = 30.0) -> None:
    assert callable(cond)
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def test_a_save_during_the_first_embedding_run_is_found_at_once(sample_repo: Path, store: Store) -> None:
    embedder = GatedEmbedder()
    indexer = Indexer(store, LanguageRegistry.default(), embedder, embed_batch=4)
    status = StatusService()
    service = IndexingService(indexer, status, embed=True)
    first = asyncio.ensure_future(service.index_roots([sample_repo], watch=True))
    try:
        # Symbols are in and the watcher runs while the first embedding batch is still waiting.
        await until(lambda: embedder.calls > 0)
        watcher = service.watchers.get(str(sample_repo.resolve()))
        assert watcher is not None and watcher.running
        assert status.snapshot()["index"]["state"] == "embedding"
        assert not status.snapshot()["quiescent"]
        repo_id, snap, _ = indexer.snapshot_for(sample_repo)
        assert store.counts(repo_id, snap, embedder.name)["embedded"] == 0

        (sample_repo / "saved_meanwhile.py").write_text("def saved_while_embedding():\n    return 1\n")
        await until(lambda: bool(store.definitions(repo_id, snap, ["saved_while_embedding"])))
        assert not first.done()

        embedder.gate.set()
        await asyncio.wait_for(first, 60)
        await watcher.quiet(timeout=30)
        await until(lambda: status.snapshot()["index"]["state"] == "idle")
        counts = store.counts(repo_id, snap, embedder.name)
        assert counts["chunks"] > 0
        await until(lambda: store.counts(repo_id, snap, embedder.name)["embedded"] == counts["chunks"])
    finally:
        embedder.gate.set()
        await service.stop_watching()
        if not first.done():
            first.cancel()
