"""OpenAI-compatible ``/v1/embeddings`` client (a vLLM server started with ``--runner pooling``).

Implements the indexer's ``Embedder`` protocol; synchronous because the indexer calls it from
its worker thread. Batches, and retries failed batches with exponential backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import httpx
import numpy as np

from hearth.server.model.client import ModelError, split_base_url

log = logging.getLogger(__name__)


class OpenAIEmbedder:
    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        retries: int = 4,
    ) -> None:
        _, self.v1_url = split_base_url(url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=timeout_s, trust_env=False)
        self.batch_size = batch_size
        self.retries = retries
        self.model = model or self._first_model()
        self.name = f"openai:{self.model}"
        self.dim = int(self._embed_batch(["dimension probe"]).shape[1])

    def _first_model(self) -> str:
        try:
            data = self._http.get(self.v1_url + "/models").json()
            return str(data["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ModelError("down", f"cannot list the embedding models at {self.v1_url}: {exc}") from exc

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.post(self.v1_url + "/embeddings", json={"model": self.model, "input": list(texts)})
                if resp.status_code == 200:
                    data = resp.json()["data"]
                    rows = sorted(data, key=lambda d: d["index"])
                    m = np.array([r["embedding"] for r in rows], dtype=np.float32)
                    norms = np.linalg.norm(m, axis=1, keepdims=True)
                    norms[norms == 0] = 1.0
                    return m / norms
                retryable = resp.status_code >= 500 or resp.status_code == 429
                err = ModelError("http", f"embeddings: HTTP {resp.status_code}: {resp.text[:200]}", resp.status_code)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                retryable = True
                err = ModelError("down", f"embeddings request failed: {exc}")
            if not retryable or attempt == self.retries:
                raise err
            log.info("embedding batch failed (%s); retrying in %.1fs", err, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        parts = [self._embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def close(self) -> None:
        self._http.close()
