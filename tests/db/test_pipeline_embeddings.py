"""Embeddings never block, and come from the OpenAI-compatible client when configured: the vLLM
stand-in started as a pooling runner serves /v1/embeddings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer, Progress
from hearth.indexer.store.db import Store
from hearth.server.model.client import ModelError
from hearth.server.model.embeddings import OpenAIEmbedder
from tests.standin.vllm_standin import StandinServer

EMB = "/v1/embeddings"


@pytest.fixture(scope="module")
def pooling() -> Iterator[StandinServer]:
    with StandinServer(model="bge-small", runner="pooling", embedding_dim=384) as server:
        yield server


def embedding_requests(server: StandinServer) -> list[list[str]]:
    return [r.json["input"] for r in server.requests if r.path == EMB and r.status == 200]


def test_batches_and_retries_with_backoff(pooling: StandinServer) -> None:
    pooling.reset()
    emb = OpenAIEmbedder(pooling.v1_url, batch_size=32, retries=4)
    assert emb.model == "bge-small" and emb.dim == 384
    pooling.reset()
    vectors = emb.embed([f"def f{i}(): return {i}" for i in range(100)])
    assert vectors.shape == (100, 384)
    assert [len(b) for b in embedding_requests(pooling)] == [32, 32, 32, 4]

    pooling.reset()
    pooling.configure(fail_status=503)
    recovered = threading.Event()

    def recover() -> None:
        pooling.wait_for_requests(2, timeout=10, path=EMB, finished=True)  # two failures, then healthy
        pooling.configure(fail_status=None)
        recovered.set()

    t = threading.Thread(target=recover)
    t.start()
    out = emb.embed(["def retried(): pass"])
    t.join()
    assert recovered.is_set() and out.shape == (1, 384)
    statuses = [r.status for r in pooling.requests if r.path == EMB]
    assert statuses[:2] == [503, 503] and statuses[-1] == 200
    gaps = [b.time - a.time for a, b in zip(pooling.requests, pooling.requests[1:], strict=False)]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.9  # exponential backoff: 0.5 s, then 1 s

    pooling.reset()
    pooling.configure(fail_status=400)
    with pytest.raises(ModelError):
        emb.embed(["def bad(): pass"])
    assert len([r for r in pooling.requests if r.path == EMB]) == 1  # a client error is not retried
    pooling.reset()
    emb.close()


def test_index_embeds_through_the_pooling_server_and_a_new_model_re_embeds(
    pooling: StandinServer, store: Store, sample_repo: Path
) -> None:
    pooling.reset()
    remote = OpenAIEmbedder(pooling.v1_url, batch_size=16)
    indexer = Indexer(store, LanguageRegistry.default(), remote, embed_batch=16)
    seen: list[Progress] = []
    summary = indexer.index(sample_repo, embed=True, progress=seen.append)
    assert summary.chunks > 0 and summary.embedded == summary.chunks
    assert all(len(b) <= 16 for b in embedding_requests(pooling))
    # Another model: every chunk is embedded again (its own cache), with progress up to the total.
    indexer.embedder = HashingEmbedder()
    seen.clear()
    again = indexer.index(sample_repo, embed=True, progress=seen.append)
    assert again.files_indexed == 0 and again.embedded == again.chunks == summary.chunks
    embeds = [p for p in seen if p.phase == "embed"]
    assert embeds and embeds[-1].done == embeds[-1].total == summary.chunks
    assert [p.done for p in embeds] == sorted(p.done for p in embeds)
    remote.close()
    pooling.reset()
