"""Completion context against a real index: the callee at the cursor, the buffer overlay, bad input."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import ContextService, RepoHandle
from tests.conftest import index_repo


@pytest.fixture
def indexed(store: Store, sample_repo: Path) -> tuple[ContextService, RepoHandle]:
    return ContextService(store, LanguageRegistry.default(), None), index_repo(store, sample_repo)


def _ctx(service: ContextService, repo: RepoHandle | None, path: str, text: str, line: int, col: int) -> list:
    result = asyncio.run(service.for_completion(repo, path, text, line, col, budget_tokens=4096, wait_for_all=True))
    return result.items


def test_member_call_finds_the_method_of_the_annotated_type(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "from shop.cart import Cart\n\n\ndef pay(c: Cart) -> int:\n    return c."
    items = _ctx(service, repo, "shop/pay.py", text, 4, len("    return c."))
    assert items, "no context"
    top = items[0]
    assert top.path == "shop/cart.py" and top.source == "definition"
    assert "def total" in top.text or "def add" in top.text


def test_imported_bare_call_finds_the_imported_function(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "from shop.pricing import compute_total\n\nx = "
    items = _ctx(service, repo, "shop/new.py", text, 2, 4)
    assert items[0].path == "shop/pricing.py"
    assert "def compute_total" in items[0].text


def test_go_same_package_call(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = "package svc\n\nfunc Show(c int64) string {\n\treturn "
    items = _ctx(service, repo, "svc/show.go", text, 3, len("\treturn "))
    assert any(h.path == "svc/money.go" and h.source == "definition" for h in items[:3])


def test_buffer_replaces_the_file_on_disk(indexed: tuple[ContextService, RepoHandle], sample_repo: Path) -> None:
    """What the index knows about the open file never comes back, even when the buffer differs."""
    service, repo = indexed
    on_disk = (sample_repo / "shop/cart.py").read_text()
    assert "def total" in on_disk
    buffer = "from shop.pricing import compute_total\n\n\ndef total_of(items):\n    return compute_total(items)\n"
    items = _ctx(service, repo, "shop/cart.py", buffer, 4, 11)
    assert items
    assert all(h.path != "shop/cart.py" for h in items)
    assert all("class Cart" not in h.text for h in items if h.path == "shop/cart.py")


@pytest.mark.parametrize(
    ("path", "text", "line", "col"),
    [
        ("shop/cart.py", "", 0, 0),  # empty buffer
        ("shop/cart.py", "x = 1\n", 10, 99),  # cursor past the end of the file
        ("shop/cart.py", "x = cart.", 0, 500),  # cursor past the end of the line
        ("nowhere/new_file.py", "import os\nos.", 1, 3),  # a file not in the index
        ("shop/big.py", "value = compute_total(x)\n" * 4200 + "v.", 4200, 2),  # ~100 KB
        ("shop/unicode.py", "def 計算(値):\n    return データ.変換(値)\nπ = 計算(", 2, 7),
        ("shop/mixed.py", "λ = Καλάθι(\nself.\u0000\udcff", 1, 5),
        ("README.md", "# title\n\nsome words", 2, 4),  # no grammar
    ],
)
def test_bad_input_gets_an_answer(
    indexed: tuple[ContextService, RepoHandle], path: str, text: str, line: int, col: int
) -> None:
    service, repo = indexed
    items = _ctx(service, repo, path, text, line, col)
    assert isinstance(items, list)
    assert all(h.path != path for h in items)


def test_repository_not_indexed_gives_empty(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, _ = indexed
    assert _ctx(service, None, "a.py", "x.", 0, 2) == []
    missing = RepoHandle("/nowhere", 999_999, 999_999)
    assert _ctx(service, missing, "a.py", "from a import b\nb.", 1, 2) == []


def test_batch_of_300_requests_in_one_process(db_url: str, sample_repo: Path, tmp_path: Path) -> None:
    """`hearth context --batch` answers 300 requests, in order, without restarting anything."""
    env = {"HEARTH_DATABASE_URL": db_url, "HEARTH_INDEX_EMBED": "false", "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "hearth.server.cli"]
    subprocess.run([*cli, "index", str(sample_repo), "--no-embed", "--json"], env=env, check=True,
                   capture_output=True, timeout=120)
    requests = []
    for i in range(300):
        if i % 3 == 0:
            requests.append({"path": "shop/checkout.py", "line": 7, "col": 17})
        elif i % 3 == 1:
            requests.append({"path": "shop/pay.py", "line": 2, "col": 15,
                             "text": f"from shop.cart import Cart\nc = Cart('u{i}')\nreturn c."})
        else:
            requests.append({"path": "svc/x.go", "line": 3, "col": 8, "text": "package svc\n\nfunc X() {\n\treturn "})
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in requests))
    out = subprocess.run([*cli, "context", "--batch", str(batch), "--repo", str(sample_repo), "-k", "5", "--json"],
                         env=env, check=True, capture_output=True, text=True, timeout=300)
    answers = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(answers) == 300
    assert all(a and all(h["path"] != "shop/pay.py" for h in a) for a in answers[1::3])
    assert answers[1][0]["path"] == "shop/cart.py"
    assert any(h["path"] == "svc/money.go" for h in answers[2])


def test_budget_is_counted_with_the_given_token_counter(indexed: tuple[ContextService, RepoHandle]) -> None:
    service, repo = indexed
    text = ("from shop.cart import Cart\nfrom shop.pricing import compute_total\n\n\n"
            "def pay(c: Cart) -> int:\n    return c.")
    line, col = 5, len("    return c.")
    counted: list[str] = []

    def dense(s: str) -> int:  # a tokenizer with one character per token
        counted.append(s)
        return len(s)

    loose = asyncio.run(service.for_completion(repo, "shop/pay.py", text, line, col, budget_tokens=400,
                                               wait_for_all=True))
    service.count_tokens = dense
    tight = asyncio.run(service.for_completion(repo, "shop/pay.py", text, line, col, budget_tokens=400,
                                               wait_for_all=True))
    assert counted and all(isinstance(s, str) for s in counted)
    assert sum(len(h.text) + 8 for h in tight.items) <= 400
    assert len(tight.items) < len(loose.items) and tight.dropped > loose.dropped


def test_completion_search_leaves_names_to_the_definitions_source(
    indexed: tuple[ContextService, RepoHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The definitions source looks up the identifiers near the cursor; completion's hybrid search does not
    query symbol names again (the same recall on click, cobra, regex, zod and pflag, 2-3 ms less per request)."""
    service, repo = indexed
    calls: list[str] = []
    original = service.store.search_symbol_names

    def spy(*args: object, **kwargs: object) -> list:
        calls.append("symbol_names")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service.store, "search_symbol_names", spy)
    text = "from shop.pricing import compute_total\n\n\ndef pay(items):\n    return compute_total("
    items = _ctx(service, repo, "shop/pay.py", text, 4, len("    return compute_total("))
    assert items and items[0].path == "shop/pricing.py"
    assert calls == []
    # Search itself (chat, the CLI) still matches names.
    assert service.search(repo, "compute_total", k=5) and calls == ["symbol_names"]
