"""Hybrid search on the pgserver wheel's PostgreSQL (pgvector 0.6: no iterative index scans).

The snapshot and repository filters apply after the HNSW scan there, so search must over-fetch (or
scan exactly) to keep recall; embeddings may be missing or partial.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres, find_installations
from hearth.server.services.context import ContextService, RepoHandle
from tests.conftest import make_sample_repo


@pytest.fixture(scope="module")
def old_store() -> Iterator[Store]:
    install = next((i for i in find_installations() if i.origin == "pgserver"), None)
    if install is None:
        pytest.skip("the pgserver wheel's PostgreSQL is not installed")
    base = Path(tempfile.mkdtemp(prefix="hearth-pg06-"))
    os.chmod(base, 0o755)  # when tests run as root, PostgreSQL runs as an unprivileged user
    pg = EmbeddedPostgres(base, install=install, fsync=False)
    store = Store(pg.ensure_running()).open()
    try:
        yield store
    finally:
        store.close()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def two_repos(old_store: Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[ContextService, RepoHandle]:
    """The sample repository, plus a larger noise repository sharing the vector index."""
    registry = LanguageRegistry.default()
    embedder = HashingEmbedder()
    indexer = Indexer(old_store, registry, embedder)
    noise = tmp_path_factory.mktemp("noise")
    for i in range(150):
        (noise / f"mod{i}.py").write_text(
            f'def slug_{i}(text):\n    """Turn text into a slug, variant {i}."""\n    return text.lower()\n\n\n'
            f"def compute_{i}(items):\n    return sum(items) * {i}\n"
        )
    indexer.index(noise, embed=True)
    repo = make_sample_repo(tmp_path_factory.mktemp("pg06") / "shop")
    indexer.index(repo, embed=True)
    repo_id, snap, _ = indexer.snapshot_for(repo)
    return ContextService(old_store, registry, embedder), RepoHandle(str(repo), repo_id, snap)


def test_the_wheel_has_pgvector_without_iterative_scans(old_store: Store) -> None:
    with old_store.conn() as c:
        version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    assert tuple(int(x) for x in version.split(".")[:2]) < (0, 8)
    assert old_store.supports_iterative_scan is False


def test_identifier_search_puts_the_definition_first(two_repos: tuple[ContextService, RepoHandle]) -> None:
    service, repo = two_repos
    hits = service.search(repo, "compute_total", k=5)
    assert hits[0].path == "shop/pricing.py" and hits[0].symbol == "compute_total"
    assert all(not h.path.startswith("mod") for h in hits)  # never another repository's chunk


def test_vector_search_is_filtered_to_the_repository_without_starving(
    two_repos: tuple[ContextService, RepoHandle], old_store: Store
) -> None:
    _, repo = two_repos
    embedder = HashingEmbedder()
    vec = embedder.embed(["def slugify(text): lowercase the text and replace runs of other characters by a dash"])[0]
    approx = old_store.search_vector(repo.repo_id, repo.snapshot_id, embedder.name, embedder.dim, vec, 10)
    exact = old_store.search_vector(repo.repo_id, repo.snapshot_id, embedder.name, embedder.dim, vec, 10, exact=True)
    # The noise repository holds most of the index's vectors; the filtered result still fills up.
    assert len(approx) == len(exact) >= 8
    assert {(h.path, h.start_line) for h in approx} == {(h.path, h.start_line) for h in exact}
    assert any(h.path == "shop/util/strings.py" for h in approx[:3])


def test_search_with_partial_embeddings(two_repos: tuple[ContextService, RepoHandle], old_store: Store) -> None:
    service, repo = two_repos
    embedder = HashingEmbedder()
    with old_store.conn() as c:
        c.execute(
            "DELETE FROM embeddings e USING chunks ch WHERE ch.repo_id = e.repo_id AND ch.text_hash = e.text_hash"
            " AND e.repo_id = %s AND ch.symbol = 'slugify'",
            (repo.repo_id,),
        )
        c.commit()
    hits = service.search(repo, "slugify", k=5)
    assert hits and hits[0].path == "shop/util/strings.py" and hits[0].symbol == "slugify"
    vec = embedder.embed(["slugify text"])[0]
    assert old_store.search_vector(repo.repo_id, repo.snapshot_id, embedder.name, embedder.dim, vec, 5)
