"""Bulk writes without per-row foreign keys (migration 008): parse results still go with their blob."""

from __future__ import annotations

from pathlib import Path

import psycopg

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store


def _rows_without_blob(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as c:
        chunks = c.execute(
            "SELECT count(*) FROM chunks ch WHERE NOT EXISTS (SELECT 1 FROM blobs b"
            " WHERE b.repo_id = ch.repo_id AND b.content_hash = ch.content_hash)"
        ).fetchone()
        symbols = c.execute(
            "SELECT count(*) FROM symbols s WHERE NOT EXISTS (SELECT 1 FROM blobs b"
            " WHERE b.repo_id = s.repo_id AND b.content_hash = s.content_hash)"
        ).fetchone()
    assert chunks is not None and symbols is not None
    return int(chunks[0]), int(symbols[0])


def test_edited_and_deleted_files_take_their_chunks_and_symbols_along(
    sample_repo: Path, store: Store, db_url: str
) -> None:
    indexer = Indexer(store, LanguageRegistry.default(), None)
    indexer.index(sample_repo, embed=False)
    edited = next(p for p in sorted(sample_repo.rglob("*.py")) if p.stat().st_size > 100)
    deleted = next(p for p in sorted(sample_repo.rglob("*.go")))
    with psycopg.connect(db_url) as c:
        before = c.execute("SELECT count(*) FROM symbols").fetchone()
    edited.write_text(edited.read_text() + "\n\ndef freshly_added_function():\n    return 1\n")
    deleted.unlink()

    summary = indexer.index(sample_repo, embed=False)

    assert summary.files_indexed == 1 and summary.files_deleted == 1
    assert _rows_without_blob(db_url) == (0, 0)
    repo_id, snap, _ = indexer.snapshot_for(sample_repo)
    assert store.definitions(repo_id, snap, ["freshly_added_function"])
    with psycopg.connect(db_url) as c:
        after = c.execute("SELECT count(*) FROM symbols").fetchone()
    assert before is not None and after is not None and after[0] != before[0]


def test_deleting_a_repository_deletes_its_parse_results(sample_repo: Path, store: Store, db_url: str) -> None:
    Indexer(store, LanguageRegistry.default(), None).index(sample_repo, embed=False)
    with psycopg.connect(db_url) as c:
        counts = c.execute("SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM symbols)").fetchone()
        assert counts is not None and counts[0] > 0 and counts[1] > 0
        c.execute("DELETE FROM repos")
        left = c.execute("SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM symbols)").fetchone()
    assert left == (0, 0)
