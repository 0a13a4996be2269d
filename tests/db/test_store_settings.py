"""Session settings every pooled connection of the store carries (each one was measured to matter)."""

from __future__ import annotations

from pathlib import Path

from hearth.indexer.embedder import HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import default_shared_buffers_mb
from hearth.server.services.context import ContextService
from tests.conftest import index_repo


def test_pooled_connections_plan_with_the_parameters_and_never_jit(store: Store) -> None:
    seen = []
    for _ in range(3):
        with store.conn() as c:
            # The statement runs more often than psycopg's prepare threshold: prepared, it must still be planned
            # with its values (a generic plan made full text 30-50x slower at 1M chunks).
            for _ in range(8):
                row = c.execute(
                    "SELECT current_setting('plan_cache_mode'), current_setting('jit'),"
                    " current_setting('max_parallel_workers_per_gather'), %s::int",
                    (1,),
                ).fetchone()
            seen.append(row[:3] if row else None)
    # No parallel workers either: starting them cost more than Hearth's index lookups.
    assert seen == [("force_custom_plan", "off", "0")] * 3


def test_embedded_shared_buffers_are_an_eighth_of_memory_within_bounds() -> None:
    gib = 1 << 30
    assert default_shared_buffers_mb(24 * gib) == 3072
    assert default_shared_buffers_mb(512 << 20) == 128  # a small machine keeps PostgreSQL's default
    assert default_shared_buffers_mb(256 * gib) == 4096
    assert 128 <= default_shared_buffers_mb() <= 4096  # this machine's


def test_the_vector_index_and_the_hot_tables_are_loaded_into_memory(store: Store, sample_repo: Path) -> None:
    embedder = HashingEmbedder()
    with store.conn() as c:
        available = {r[0] for r in c.execute("SELECT name FROM pg_available_extensions").fetchall()}
    service = ContextService(store, LanguageRegistry.default(), embedder)
    try:
        if "pg_prewarm" not in available:  # the pgserver wheel's PostgreSQL has no contrib modules
            repo = index_repo(store, sample_repo, embedder)
            assert store.prewarm(embedder.name) is None
            service.wait_term_stats(repo, timeout_s=30)
            assert not service._prewarmed  # nothing to do it with: searches go on from disk
            return
        before = store.prewarm(embedder.name)
        assert before is not None and before["vector"] is None  # no vector index yet: the tables only
        without_model = store.prewarm(None)  # no embedding model configured: the tables still
        assert without_model is not None and without_model["vector"] is None and without_model["relations"] >= 7
        repo = index_repo(store, sample_repo, embedder)
        store.ensure_vector_index(embedder.name, embedder.dim)
        done = store.prewarm(embedder.name)
        assert done is not None and done["vector"] is not None
        mode, blocks, size = done["vector"]
        # A small index fits the shared buffers: loaded there, every block of it; so do the tables and their indexes.
        assert mode == "buffer" and blocks == size // 8192 and blocks > 0
        assert done["relations"] >= 7 and done["bytes"] > 0
        if "pg_buffercache" in available:
            with store.conn() as c:
                c.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
                cached = dict(
                    c.execute(
                        "SELECT r.relname, count(*) FROM pg_buffercache b JOIN pg_class r"
                        " ON b.relfilenode = pg_relation_filenode(r.oid)"
                        " WHERE b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
                        " AND r.relname = ANY(%s) GROUP BY r.relname",
                        ([store._index_name(embedder.name), "symbols", "symbols_def_name", "chunks"],),
                    ).fetchall()
                )
                c.commit()
            assert cached[store._index_name(embedder.name)] == blocks
            assert cached["symbols"] > 0 and cached["symbols_def_name"] > 0 and cached["chunks"] > 0
        # The service does it once, with its first statistics check (off the request path).
        assert not service._prewarmed
        service.wait_term_stats(repo, timeout_s=30)
        assert service._prewarmed
    finally:
        service.close()
