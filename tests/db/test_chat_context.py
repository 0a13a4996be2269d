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
