"""Retrieval on a real index: term statistics choose the full-text words, concurrent legs, the vector deadline."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import ContextService, RepoHandle
from tests.conftest import index_repo


@pytest.fixture
def indexed(store: Store, sample_repo: Path) -> tuple[Store, RepoHandle]:
    return store, index_repo(store, sample_repo, HashingEmbedder())


def _doc_freq(store: Store, repo_id: int, term: str) -> int:
    with store.conn() as c:
        row = c.execute(
            "SELECT count(*) FROM chunks WHERE repo_id = %s AND lex @@ to_tsquery('simple', %s)", (repo_id, term)
        ).fetchone()
    return int(row[0])


def test_term_statistics_are_document_frequencies(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    assert store.term_stats_drift(repo.repo_id)[0] is None
    chunks = store.refresh_term_stats(repo.repo_id)
    then, now, age = store.term_stats_drift(repo.repo_id)
    assert then == now == chunks > 0 and age is not None and age >= 0
    with store.conn() as c:
        stats = dict(c.execute("SELECT term, ndoc FROM term_stats WHERE repo_id = %s", (repo.repo_id,)).fetchall())
    for term in ("slugify", "def", "items", "cart"):
        assert stats[term] == _doc_freq(store, repo.repo_id, term), term


def test_full_text_queries_only_the_rare_words_once_statistics_exist(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    words = ["return", "slugify"]
    before = store.search_fts(repo.repo_id, repo.snapshot_id, words, 50)
    assert any("slugify" not in h.text.lower() for h in before)  # all words: common ones match too
    budget = _doc_freq(store, repo.repo_id, "slugify")  # room for the rarest word only
    assert budget < _doc_freq(store, repo.repo_id, "return")
    assert store.search_fts(repo.repo_id, repo.snapshot_id, words, 50, max_postings=budget) == before  # no stats
    store.refresh_term_stats(repo.repo_id)
    after = store.search_fts(repo.repo_id, repo.snapshot_id, words, 50, max_postings=budget)
    assert after and all("slugify" in h.text.lower() for h in after)
    assert len(after) == budget


def test_search_refreshes_missing_statistics_in_the_background(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    service = ContextService(store, LanguageRegistry.default(), None)
    service.search(repo, "compute_total", k=5)
    service._stats_jobs[repo.repo_id].result(timeout=30)
    assert store.term_stats_drift(repo.repo_id)[0] is not None
    assert service.wait_term_stats(repo, timeout_s=30) is False  # fresh: nothing to do


class _SlowEmbedder(HashingEmbedder):
    """Embeds only once released: a CPU model on a busy machine."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def embed(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        self.release.wait(10)
        return super().embed(texts)


def test_a_slow_vector_leg_is_dropped_at_its_deadline(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    slow = _SlowEmbedder()
    service = ContextService(store, LanguageRegistry.default(), slow)
    try:
        hits = service.search(repo, "compute_total", k=5, vector_deadline_s=0.05)
    finally:
        slow.release.set()
    assert hits and hits[0].symbol == "compute_total"
    assert all("vector" not in h.source for h in hits)
    with_vectors = service.search(repo, "compute_total", k=5, vector_deadline_s=10)
    assert any("vector" in h.source for h in with_vectors)


def test_full_text_filters_only_the_best_candidates_and_falls_back_when_they_are_excluded(
    store: Store, tmp_path: Path
) -> None:
    """Only the best (k + margin) candidates have their file looked up; when exclusions remove more of them than the
    margin, the query runs again over every candidate: the same hits as filtering all of them, in both cases."""
    from hearth.indexer.store.search import FTS_FILTER_MARGIN

    root = tmp_path / "ranks"
    root.mkdir()
    n = 40
    for i in range(n):
        # File i says "quasar" i + 1 times among a fixed number of other words: the more, the higher it ranks.
        words = ["quasar"] * (i + 1) + [f"filler{j}" for j in range(60 - i)]
        (root / f"f{i:02d}.py").write_text(f"def fn{i}():\n    return '{' '.join(words)}'\n", encoding="utf-8")
    repo = index_repo(store, root)
    by_rank = [f"f{i:02d}.py" for i in reversed(range(n))]  # best first
    k = 5

    def paths(exclude: list[str]) -> list[str]:
        return [h.path for h in store.search_fts(repo.repo_id, repo.snapshot_id, ["quasar"], k, exclude)]

    assert paths([]) == by_rank[:k]
    few = by_rank[:3]
    assert paths(few) == by_rank[3 : 3 + k]  # within the margin: one query
    many = by_rank[: k + FTS_FILTER_MARGIN + 3]
    assert paths(many) == by_rank[len(many) : len(many) + k]  # beyond it: the query runs again over all candidates
    assert len(paths(by_rank[: n - 2])) == 2


def test_a_few_words_find_the_chunks_holding_all_of_them_first(store: Store, tmp_path: Path) -> None:
    # Forty files use "response" and "header" apart, many of them more often; one function has every word of the
    # query. Ranking the rarest word alone among the first chunks the index gives did not find it.
    repo_dir = tmp_path / "words"
    (repo_dir / "pkg").mkdir(parents=True)
    for i in range(40):
        (repo_dir / "pkg" / f"noise_{i}.py").write_text(
            f"def build_response_{i}(response):\n    response.status = response.status or {i}\n"
            f"    return response\n\n\ndef header_{i}(header):\n    return header\n"
        )
    (repo_dir / "pkg" / "wire.py").write_text(
        "def read_frame(stream):\n    # parse the response header of one frame\n    return stream.read(8)\n"
    )
    handle = index_repo(store, repo_dir)
    rid, snap = handle.repo_id, handle.snapshot_id
    for with_stats in (False, True):
        if with_stats:
            store.refresh_term_stats(rid)
        hits = store.search_fts(rid, snap, ["parse", "response", "header"], 5)
        assert hits[0].path == "pkg/wire.py", [(h.path, h.score) for h in hits]
        assert len(hits) == 5  # the rest from the any-word query
    # Words that no chunk holds together still find the chunks holding some of them.
    assert store.search_fts(rid, snap, ["frame", "nosuchword"], 5)[0].path == "pkg/wire.py"


def test_a_term_statistics_refresh_adds_updates_and_drops_terms(store: Store, sample_repo: Path) -> None:
    repo = index_repo(store, sample_repo)

    def stats() -> dict[str, int]:
        with store.conn() as c:
            return dict(c.execute("SELECT term, ndoc FROM term_stats WHERE repo_id = %s", (repo.repo_id,)).fetchall())

    store.refresh_term_stats(repo.repo_id)
    before = stats()
    extra = sample_repo / "shop" / "extra.py"
    extra.write_text("def zanzibar_rate(items):\n    return len(items)\n")
    index_repo(store, sample_repo)
    store.refresh_term_stats(repo.repo_id)
    during = stats()
    assert during["zanzibar"] == 1 and during["items"] == before["items"] + 1
    assert during["items"] == _doc_freq(store, repo.repo_id, "items")
    extra.unlink()
    index_repo(store, sample_repo)
    store.refresh_term_stats(repo.repo_id)
    assert stats() == before
