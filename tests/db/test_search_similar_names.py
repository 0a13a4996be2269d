"""Symbol names by trigrams ("did you mean") over the snapshot's distinct defined names, and the exact spelling
before other cases when a name is defined more often than the per-name cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.indexer.store.db import Store
from hearth.server.services.context import RepoHandle
from tests.conftest import index_repo


@pytest.fixture
def indexed(store: Store, sample_repo: Path) -> tuple[Store, RepoHandle]:
    return store, index_repo(store, sample_repo)


def _symbols(store: Store, repo: RepoHandle, names: list[str], **kw: int) -> list[tuple[str | None, float]]:
    return [(h.symbol, h.score) for h in store.search_symbol_names(repo.repo_id, repo.snapshot_id, names, 10, **kw)]


def test_a_misspelt_name_finds_the_definition_before_and_after_the_names_are_listed(
    indexed: tuple[Store, RepoHandle],
) -> None:
    store, repo = indexed
    if not store.has_trgm:
        pytest.skip("pg_trgm is not installed in this PostgreSQL")  # the tests' cluster has it; see conftest
    # Not listed yet: the trigram match runs over the definitions themselves.
    assert store._similar_def_names(repo.repo_id, repo.snapshot_id, ["compute_totl"]) is None
    before = _symbols(store, repo, ["compute_totl"])
    assert before and before[0] == ("compute_total", 0.5)
    store.refresh_ref_stats(repo.repo_id, repo.snapshot_id)
    similar = store._similar_def_names(repo.repo_id, repo.snapshot_id, ["compute_totl"])
    assert similar is not None and similar[0] == "compute_total"
    after = _symbols(store, repo, ["compute_totl"])
    assert after[0] == ("compute_total", 0.5)
    # The exact name scores above its neighbours.
    exact = _symbols(store, repo, ["compute_total"])
    assert exact[0] == ("compute_total", 1.0)


def test_names_are_listed_per_snapshot_and_refreshed(indexed: tuple[Store, RepoHandle], sample_repo: Path) -> None:
    store, repo = indexed
    store.refresh_ref_stats(repo.repo_id, repo.snapshot_id)
    with store.conn() as c:
        names = {r[0] for r in c.execute(
            "SELECT name FROM def_names WHERE repo_id = %s AND snapshot_id = %s", (repo.repo_id, repo.snapshot_id)
        ).fetchall()}
    assert {"compute_total", "checkout", "Cart", "LineItem"} <= names
    assert all(len(n) > 3 for n in names)
    # A new definition appears after the next refresh.
    (sample_repo / "shop" / "shipping.py").write_text("def estimate_delivery_days(zone: str) -> int:\n    return 3\n")
    index_repo(store, sample_repo)
    assert store._similar_def_names(repo.repo_id, repo.snapshot_id, ["estimate_delivery_day"]) == []
    store.refresh_ref_stats(repo.repo_id, repo.snapshot_id)
    assert store._similar_def_names(repo.repo_id, repo.snapshot_id, ["estimate_delivery_day"]) == [
        "estimate_delivery_days"
    ]


def test_the_exact_spelling_comes_first_when_a_name_is_defined_more_often_than_the_cap(
    store: Store, tmp_path: Path
) -> None:
    repo_dir = tmp_path / "many"
    (repo_dir / "pkg").mkdir(parents=True)
    for i in range(6):
        (repo_dir / "pkg" / f"lower_{i}.py").write_text(f"def render(x):\n    return x + {i}\n")
    (repo_dir / "pkg" / "upper.py").write_text("class Render:\n    pass\n")
    handle = index_repo(store, repo_dir)
    rid, snap = handle.repo_id, handle.snapshot_id
    hits = store.search_symbol_names(rid, snap, ["Render", "zzzz", "qqqq", "wwww"], 10, per_name=3)
    # Three definitions at most per name; the exact spelling (the class) is one of them and ranks first.
    assert [h.symbol for h in hits][:1] == ["Render"] and hits[0].score == 1.0
    assert len(hits) == 3 and {h.symbol for h in hits[1:]} == {"render"}


def test_a_long_defined_name_skips_the_trigram_search_and_a_misspelt_one_still_gets_it(
    store: Store, tmp_path: Path
) -> None:
    if not store.has_trgm:
        pytest.skip("pg_trgm is not installed in this PostgreSQL")
    long = "test_read_request_body_after_middleware_calls_body"  # longer than FUZZY_MAX_CHARS
    near = "test_read_request_body_after_middleware_calls_head"
    repo_dir = tmp_path / "long"
    (repo_dir / "tests").mkdir(parents=True)
    (repo_dir / "tests" / "test_body.py").write_text(f"def {long}():\n    pass\n")
    (repo_dir / "tests" / "test_head.py").write_text(f"def {near}():\n    pass\n")  # its own chunk
    handle = index_repo(store, repo_dir)
    rid, snap = handle.repo_id, handle.snapshot_id
    for listed in (False, True):  # before and after the snapshot's names are listed
        if listed:
            store.refresh_ref_stats(rid, snap)
        # Defined: its own definition only, not its trigram neighbour (a long name's trigrams are common ones).
        hits = store.search_symbol_names(rid, snap, [long], 10)
        assert [(h.symbol, h.score) for h in hits] == [(long, 1.0)]
        # Not defined (a typo): the trigram search finds both.
        typo = long[:-1] + "x"
        assert {h.symbol for h in store.search_symbol_names(rid, snap, [typo], 10)} == {long, near}
        # A short name beside a defined long one keeps its trigram matches.
        mixed = store.search_symbol_names(rid, snap, [long, "test_read_requestt"], 10)
        assert (long, 1.0) in [(h.symbol, h.score) for h in mixed]
