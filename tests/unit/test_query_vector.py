"""Completion's query vector is embedded after the request, not beside it, and for the latest window asked."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services import context as context_module
from hearth.server.services.context import ContextService


class RecordingEmbedder:
    name = "recording-4"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[tuple[float, list[str]]] = []
        self.done = threading.Event()

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append((time.monotonic(), list(texts)))
        self.done.set()
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_the_query_vector_waits_and_embeds_the_latest_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "QUERY_VECTOR_DELAY_S", 0.2)
    embedder = RecordingEmbedder()
    service = ContextService(None, LanguageRegistry.default(), embedder)  # type: ignore[arg-type]  # no queries
    asked = time.monotonic()
    service._refresh_query_vector("doc", "window one")
    service._refresh_query_vector("doc", "window two")  # a keystroke later, before the delay is over
    assert embedder.done.wait(5)
    service._background.shutdown(wait=True)
    assert [texts for _, texts in embedder.calls] == [["window two"]]
    assert embedder.calls[0][0] - asked >= 0.2  # not beside the request that asked
    assert service._query_vectors["doc"][0] == "window two"
    # The same window again: nothing to do.
    service._refresh_query_vector("doc", "window two")
    assert len(embedder.calls) == 1
