"""The CPU embedder (all-MiniLM-L6-v2, int8): each text's own vector, in order, whatever the batch holds."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
from tokenizers import Tokenizer

from hearth.indexer.embedder import LocalMiniLM


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    return LocalMiniLM()


LONG = "\n".join(
    f"def handler_{i}(request, response):\n    response.headers['x-trace-{i}'] = request.id\n    return response"
    for i in range(40)
)  # far over the 256 tokens kept
SHORT = ["x = 1", "def f(): pass", "return cart.total()", "import os", "   ", "class Empty: ...", "print(a, b)"]


def _reference(minilm: LocalMiniLM, text: str) -> np.ndarray:
    """One text through the model with no padding at all: its tokens (at most 256), mean-pooled, normalised."""
    tok = Tokenizer.from_str(
        resources.files("hearth.indexer").joinpath("data").joinpath("minilm-tokenizer.json").read_text("utf-8")
    )
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    ids = np.array([tok.encode(text if text.strip() else " ").ids], dtype=np.int64)
    (hidden,) = minilm.session.run(
        ["last_hidden_state"],
        {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)},
    )
    v = hidden[0].mean(axis=0)
    return v / np.linalg.norm(v)


def test_each_text_gets_its_own_vector_in_order_whatever_the_batch(minilm: LocalMiniLM) -> None:
    # Texts go to the model sorted by length and padded per batch (the tokenizer file's own padding to 128 is off):
    # short texts beside long ones, and the order given back, are what this checks.
    texts = [LONG, *SHORT[:3], LONG + "\n# two", *SHORT[3:], LONG + "\n# three"] * 2
    batched = minilm.embed(texts)
    assert batched.shape == (len(texts), minilm.dim) and batched.dtype == np.float32
    reference = np.stack([_reference(minilm, t) for t in texts])
    cosines = (batched * reference).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert (batched[1] @ batched[2]) < 0.99  # different texts, different vectors: the order is checked


def test_no_texts_give_no_vectors(minilm: LocalMiniLM) -> None:
    assert minilm.embed([]).shape == (0, minilm.dim)
