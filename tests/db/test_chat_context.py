"""Chat context on a real index: the definitions of the names involved and their callers, citable as path:lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import ContextService, RepoHandle
from tests.conftest import index_repo


@pytest.fixture
def indexed(store: Store, sample_repo: Path) -> tuple[ContextService, RepoHandle]:
    return ContextService(store, LanguageRegistry.default(), None), index_repo(store, sample_repo)


def _from(h: object, source: str) -> bool:
    """Whether a hit came (also) from ``source``: a chunk found by several sources names them all."""
    return source in str(getattr(h, "source", "")).split("+")


def _call_line(repo: Path) -> int:
    lines = (repo / "shop" / "cart.py").read_text().split("\n")
    return next(i for i, ln in enumerate(lines) if "compute_total(self.items)" in ln) + 1


def test_a_selected_function_brings_its_callers(indexed: tuple[ContextService, RepoHandle], sample_repo: Path) -> None:
    service, repo = indexed
    text = (sample_repo / "shop" / "pricing.py").read_text()
    start = text.index("def compute_total")
    selection = text[start : text.index("\n\n\n", start)]
    result = asyncio.run(service.for_chat(repo, "Explain this code.", path="shop/pricing.py", selection=selection))
    callers = [h for h in result.items if _from(h, "caller")]
    assert callers, [(h.path, h.source) for h in result.items]
    line = _call_line(sample_repo)
    assert any(h.path == "shop/cart.py" and h.start_line <= line <= h.end_line for h in callers)
    assert all("compute_total" in h.text for h in callers)
    # Definitions first, then callers, then the rest.
    ranks = [0 if _from(h, "definition") else 1 if _from(h, "caller") else 2 for h in result.items]
    assert ranks == sorted(ranks), [(h.path, h.source) for h in result.items]


def test_a_question_naming_a_function_brings_its_callers(
    indexed: tuple[ContextService, RepoHandle], sample_repo: Path
) -> None:
    service, repo = indexed
    result = asyncio.run(service.for_chat(repo, "Where is compute_total used, and what does it round?"))
    kinds = [(h.path, h.source) for h in result.items]
    assert any(h.path == "shop/pricing.py" and _from(h, "definition") for h in result.items), kinds
    line = _call_line(sample_repo)
    assert any(
        _from(h, "caller") and h.path == "shop/cart.py" and h.start_line <= line <= h.end_line for h in result.items
    ), kinds


def test_callers_are_capped_per_name_and_follow_the_names_order(store: Store, tmp_path: Path) -> None:
    repo_dir = tmp_path / "calls"
    (repo_dir / "pkg").mkdir(parents=True)
    (repo_dir / "pkg" / "lib.py").write_text("def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n")
    for name in ("alpha", "beta"):
        for i in range(3):
            (repo_dir / "pkg" / f"{name[0]}_{i}.py").write_text(
                f"from pkg.lib import {name}\n\n\ndef run_{i}():\n    return {name}()\n"
            )
    handle = index_repo(store, repo_dir)
    rid, snap = handle.repo_id, handle.snapshot_id
    hits = store.callers(rid, snap, ["beta", "alpha"], per_name=2, limit=10)
    assert [(h.symbol, h.path) for h in hits] == [
        ("beta", "pkg/b_0.py"), ("beta", "pkg/b_1.py"), ("alpha", "pkg/a_0.py"), ("alpha", "pkg/a_1.py")
    ]
    assert all(h.source == "caller" and "return" in h.text for h in hits)
    assert store.callers(rid, snap, ["beta", "alpha"], per_name=2, limit=3)[-1].symbol == "alpha"
    assert store.callers(rid, snap, ["no_such_name"]) == []


def test_a_name_used_several_times_in_a_file_is_one_row_with_every_occurrence(store: Store, tmp_path: Path) -> None:
    repo_dir = tmp_path / "many"
    (repo_dir / "pkg").mkdir(parents=True)
    (repo_dir / "pkg" / "lib.py").write_text("def gamma(x):\n    return x\n")
    filler = "".join(f"    total_{i} = {i} * 3\n" for i in range(20))  # each function its own chunk
    (repo_dir / "pkg" / "use.py").write_text(
        "from pkg.lib import gamma\n\n\n"
        + "\n\n".join(f"def step_{i}():\n{filler}    return gamma({i})\n" for i in range(3))
    )
    (repo_dir / "pkg" / "other.py").write_text("from pkg.lib import gamma\n\n\ndef once():\n    return gamma(9)\n")
    handle = index_repo(store, repo_dir)
    rid, snap = handle.repo_id, handle.snapshot_id
    text = (repo_dir / "pkg" / "use.py").read_text().split("\n")
    call_lines = [i + 1 for i, ln in enumerate(text) if "return gamma(" in ln]
    with store.conn() as c:
        rows = c.execute(
            "SELECT s.line, s.lines, s.cols FROM symbols s JOIN files f ON f.repo_id = s.repo_id"
            " AND f.content_hash = s.content_hash WHERE f.snapshot_id = %s AND f.path = 'pkg/use.py'"
            " AND s.role = 'ref' AND s.name = 'gamma' AND s.kind = 'call'",
            (snap,),
        ).fetchall()
    assert rows == [(call_lines[0], call_lines, [11] * 3)]

    def check() -> None:
        hits = store.callers(rid, snap, ["gamma"], per_name=5, limit=10)
        in_use = sorted(h.start_line for h in hits if h.path == "pkg/use.py")
        assert len(in_use) == 3 and all(any(s <= ln for s in in_use) for ln in call_lines), in_use
        assert [h.path for h in hits].count("pkg/other.py") == 1
        assert store.ref_counts(rid, snap, ["gamma"])["gamma"] >= 4  # the calls, and the imports' names

    check()
    live = store.ref_counts(rid, snap, ["gamma"])
    store.refresh_ref_stats(rid, snap)
    assert store.ref_counts(rid, snap, ["gamma"]) == live
    # An index written before references were grouped holds a row per occurrence: read the same.
    with store.conn() as c:
        c.execute(
            "INSERT INTO symbols (repo_id, content_hash, name, kind, role, line, col, end_line)"
            " SELECT s.repo_id, s.content_hash, s.name, s.kind, s.role, o.line, o.col, o.line"
            " FROM symbols s, unnest(s.lines, s.cols) AS o(line, col) WHERE s.repo_id = %s AND s.role = 'ref'",
            (rid,),
        )
        c.execute("DELETE FROM symbols WHERE repo_id = %s AND role = 'ref' AND lines IS NOT NULL", (rid,))
        c.execute("DELETE FROM ref_stats WHERE repo_id = %s", (rid,))
        c.execute("DELETE FROM ref_stats_state WHERE repo_id = %s", (rid,))
    check()
    assert store.ref_counts(rid, snap, ["gamma"]) == live
