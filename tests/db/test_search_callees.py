"""Callee prediction's store lookups: cached reference counts, symbol-only candidates, chunks read afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import CALLABLE_KINDS, ContextService, RepoHandle
from tests.conftest import index_repo


@pytest.fixture
def indexed(store: Store, sample_repo: Path) -> tuple[Store, RepoHandle]:
    return store, index_repo(store, sample_repo)


def _referenced_names(store: Store, repo: RepoHandle) -> list[str]:
    with store.conn() as c:
        rows = c.execute("SELECT DISTINCT name FROM symbols WHERE repo_id = %s AND role = 'ref' ORDER BY name",
                         (repo.repo_id,)).fetchall()
    return [r[0] for r in rows]


def test_cached_reference_counts_equal_live_counts(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    names = _referenced_names(store, repo)
    assert "compute_total" in names and len(names) > 20
    assert store.ref_stats_drift(repo.repo_id, repo.snapshot_id)[0] is None
    live = store.ref_counts(repo.repo_id, repo.snapshot_id, [*names, "no_such_name"])
    assert live["compute_total"] >= 1 and "no_such_name" not in live
    assert store.refresh_ref_stats(repo.repo_id, repo.snapshot_id) == len(names)
    then, now, age = store.ref_stats_drift(repo.repo_id, repo.snapshot_id)
    assert then == now > 0 and age is not None
    # Now read from ref_stats: prove it by changing a cached count.
    assert store.ref_counts(repo.repo_id, repo.snapshot_id, [*names, "no_such_name"]) == live
    with store.conn() as c:
        c.execute("UPDATE ref_stats SET nref = 777 WHERE repo_id = %s AND name = 'compute_total'", (repo.repo_id,))
        c.commit()
    assert store.ref_counts(repo.repo_id, repo.snapshot_id, ["compute_total"]) == {"compute_total": 777}


def test_search_refreshes_reference_counts_in_the_background(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    service = ContextService(store, LanguageRegistry.default(), None)
    service.search(repo, "compute_total", k=5)
    assert service._stats_jobs[repo.repo_id].result(timeout=30) is True
    assert store.ref_stats_drift(repo.repo_id, repo.snapshot_id)[0] is not None
    assert service.wait_term_stats(repo, timeout_s=30) is False  # fresh: nothing to do


def test_symbol_candidates_filter_by_kind_and_typed_prefix(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    rid, snap = repo.repo_id, repo.snapshot_id
    every = store.def_symbols(rid, snap, ["compute_total", "Discount", "VAT_RATE"], limit=50)
    assert {d.name for d in every} == {"compute_total", "Discount", "VAT_RATE"}
    assert all(d.content_hash and d.language == "python" and d.path == "shop/pricing.py" for d in every)
    kinds = sorted(CALLABLE_KINDS)
    callables = store.def_symbols(rid, snap, ["compute_total", "Discount", "VAT_RATE"], kinds=kinds)
    assert {d.name for d in callables} == {"compute_total", "Discount"}
    typed = store.def_symbols(rid, snap, ["compute_total", "Discount"], kinds=kinds, prefix="Comp")
    assert [d.name for d in typed] == ["compute_total"]
    assert store.def_symbols(rid, snap, ["compute_total"], prefix="compute", exact=True) == []
    assert store.def_symbols(rid, snap, ["compute_total"], prefix="compute_", kinds=kinds)  # '_' is no wildcard
    assert store.def_symbols(rid, snap, ["compute_total"], prefix="computeXtotal") == []
    assert store.def_symbols(rid, snap, ["compute_total"], exclude_paths=["shop/pricing.py"]) == []
    in_path = store.path_def_symbols(rid, snap, ["shop/pricing.%"], kinds=kinds, prefix="d")
    assert [d.name for d in in_path] == ["Discount"]
    members = store.member_symbols(rid, snap, ["Discount"])
    assert {"apply", "__init__", "Discount"} <= {d.name for d in members}


def test_chunks_are_read_for_the_chosen_definitions_only(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    (d,) = store.def_symbols(repo.repo_id, repo.snapshot_id, ["compute_total"])
    assert d.content_hash is not None
    spans = store.chunks_at(repo.repo_id, [(d.content_hash, d.line), ("no-such-blob", 1), (d.content_hash, 10_000)])
    assert spans[1] is None and spans[2] is None
    assert spans[0] is not None
    start, end, language, text, symbol = spans[0]
    assert start <= d.line <= end and language == "python" and text is None and symbol is None
    (full,) = store.chunks_at(repo.repo_id, [(d.content_hash, d.line)], with_text=True)
    assert full is not None and full[:2] == (start, end)
    assert full[3] is not None and "def compute_total" in full[3]
    old = dict(store.definitions(repo.repo_id, repo.snapshot_id, ["compute_total"]))
    assert [(h.start_line, h.end_line, h.text) for h in old.values()] == [(start, end, full[3])]


def test_type_names_are_refreshed_in_the_background(indexed: tuple[Store, RepoHandle]) -> None:
    store, repo = indexed
    service = ContextService(store, LanguageRegistry.default(), None)
    names = service._type_names(repo)
    assert "Discount" in names
    key = (repo.repo_id, repo.snapshot_id)
    service._type_cache[key] = (service._type_cache[key][0] - 60, ["Stale"])  # older than 30 s
    assert service._type_names(repo) == ["Stale"]  # answered at once from the previous list
    service._maintenance.submit(lambda: None).result(timeout=30)  # the refresh queued before it is done
    assert service._type_names(repo) == names


def _runs_everywhere(tmp_path: Path, copies: int, more_in_tail: str = "") -> Path:
    """A repository where ``copies`` files each define ``run`` and the last file (``z/tail.py``) defines
    ``zebra_total`` (and ``more_in_tail``)."""
    root = tmp_path / "many"
    for i in range(copies):
        (root / f"a{i}").mkdir(parents=True)
        (root / f"a{i}" / "jobs.py").write_text(f"def run():\n    return {i}\n")
    (root / "z").mkdir()
    tail = "def zebra_total(x):\n    return x\n" + (f"\n\n{more_in_tail}" if more_in_tail else "")
    (root / "z" / "tail.py").write_text(tail)
    return root


def test_definitions_capped_per_name_keep_every_name(store: Store, tmp_path: Path) -> None:
    """A name defined in many files costs at most ``per_name`` rows, and never crowds out the other names (a global
    limit by path would keep only the first files' ``run``)."""
    repo = index_repo(store, _runs_everywhere(tmp_path, 9, "def run():\n    return 'z'\n"))
    rid, snap = repo.repo_id, repo.snapshot_id
    capped = store.def_symbols(rid, snap, ["run", "zebra_total", "missing"], limit=50, per_name=3)
    assert sorted(d.name for d in capped) == ["run", "run", "run", "zebra_total"]
    assert [d.path for d in capped] == sorted(d.path for d in capped)  # by path and line, as without the cap
    assert all(d.content_hash and d.language == "python" for d in capped)
    assert len(store.def_symbols(rid, snap, ["run", "zebra_total"], limit=50)) == 11
    # The global limit by path alone drops zebra_total (its file sorts last); the cap per name keeps it.
    assert "zebra_total" not in {d.name for d in store.def_symbols(rid, snap, ["run", "zebra_total"], limit=5)}
    assert store.def_symbols(rid, snap, ["zebra_total"], exclude_paths=["z/tail.py"], per_name=3) == []
    assert [d.name for d in store.def_symbols(rid, snap, ["run", "zebra_total"], per_name=2, prefix="zeb")] == [
        "zebra_total"
    ]


def test_name_search_of_a_code_window_reaches_past_a_common_first_name(store: Store, tmp_path: Path) -> None:
    """Matches are ordered by name (nearest the cursor first): with 32 definitions read per name, a name defined
    everywhere fills the k results; a window of several names reads fewer of each."""
    repo = index_repo(store, _runs_everywhere(tmp_path, 10))
    window = ["run", "zebra_total", "not_defined", "nor_this"]
    wide = store.search_symbol_names(repo.repo_id, repo.snapshot_id, window, 10, per_name=32)
    assert [h.symbol for h in wide] == ["run"] * 10
    hits = store.search_symbol_names(repo.repo_id, repo.snapshot_id, window, 10)
    assert [h.symbol for h in hits] == ["run"] * 8 + ["zebra_total"]
    assert all(h.score == 1.0 for h in hits)


def test_a_refresh_updates_changed_counts_and_drops_names_that_went(store: Store, sample_repo: Path) -> None:
    repo = index_repo(store, sample_repo)
    rid, snap = repo.repo_id, repo.snapshot_id
    store.refresh_ref_stats(rid, snap)

    def cached() -> tuple[dict[str, int], set[str]]:
        with store.conn() as c:
            counts = dict(c.execute(
                "SELECT name, nref FROM ref_stats WHERE repo_id = %s AND snapshot_id = %s", (rid, snap)
            ).fetchall())
            names = {r[0] for r in c.execute(
                "SELECT name FROM def_names WHERE repo_id = %s AND snapshot_id = %s", (rid, snap)
            ).fetchall()}
        return counts, names

    before, names_before = cached()
    extra = sample_repo / "shop" / "extra.py"
    extra.write_text("def temporary_helper(items):\n    return compute_total(items) + only_called_here(items)\n")
    index_repo(store, sample_repo)
    store.refresh_ref_stats(rid, snap)
    during, names_during = cached()
    assert during["compute_total"] == before["compute_total"] + 1 and during["only_called_here"] == 1
    assert names_during == names_before | {"temporary_helper"}
    extra.unlink()
    index_repo(store, sample_repo)
    store.refresh_ref_stats(rid, snap)
    assert cached() == (before, names_before)
