"""The completion context reuses a buffer's parse while its text is unchanged, or changed by typing on a line;
open buffers are parsed in the background."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services.context import PARSE_CACHE, ContextService, _minor_edit


def test_parse_is_reused_until_the_text_changes() -> None:
    store: Any = None  # parsing never touches the store
    service = ContextService(store, LanguageRegistry.default(), None)
    text = "from shop.pricing import compute_total\n\n\ndef total(items):\n    return compute_total(items)\n"
    first = service._parse("shop/cart.py", text)
    assert [s.name for s in first.symbols if s.role == "import"] == ["compute_total"]
    assert service._parse("shop/cart.py", "".join(text)) is first  # equal text: the same parse
    edited = service._parse("shop/cart.py", text + "\ndef more():\n    pass\n")
    assert edited is not first and "more" in {s.name for s in edited.symbols if s.role == "def"}
    assert service._parse("shop/other.py", text) is not edited  # per path
    for i in range(PARSE_CACHE):
        service._parse(f"m{i}.py", text)
    assert len(service._parses) == PARSE_CACHE and "shop/cart.py" not in service._parses  # oldest dropped


def _quiet(service: ContextService) -> None:
    """Wait for the background parses queued so far."""
    service._parser.submit(lambda: None).result(timeout=10)


def test_typing_on_a_line_reuses_the_parse_and_reparses_in_the_background() -> None:
    store: Any = None
    service = ContextService(store, LanguageRegistry.default(), None)
    text = "from shop.pricing import compute_total\n\n\ndef total(items):\n    return \n"
    first = service._parse("shop/cart.py", text)
    typed = text.replace("    return \n", "    return compute_total(items, tax=True).\n")
    assert service._parse("shop/cart.py", typed) is first  # the imports and definitions are the same
    _quiet(service)
    fresh = service._parse("shop/cart.py", typed)
    assert fresh is not first and service._parses["shop/cart.py"][0] == typed
    assert [s.name for s in fresh.symbols if s.role == "import"] == ["compute_total"]
    # A new import is parsed before it is used.
    imported = "import json\n" + typed
    assert "json" in {s.name for s in service._parse("shop/cart.py", imported).symbols if s.role == "import"}
    service.close()


def test_prepare_parses_an_open_buffer_once_the_editor_is_quiet() -> None:
    store: Any = None
    service = ContextService(store, LanguageRegistry.default(), None)
    text = "import os\n\n\ndef main():\n    return os.getcwd()\n"
    for i in range(5):  # keystrokes: only the newest text is parsed
        service.prepare("tool.py", text + "#" * i, idle_s=0.05)
    _quiet(service)
    assert service._parses["tool.py"][0] == text + "####"
    ready = service._parses["tool.py"][1]
    assert service._parse("tool.py", text + "####") is ready
    service.close()
    service.prepare("tool.py", text)  # closed: nothing queued, no error
    assert "tool.py" not in service._to_parse


@pytest.mark.parametrize(
    ("old", "new", "minor"),
    [
        ("a = 1\nb = foo\n", "a = 1\nb = foo.bar(\n", True),  # typing at the end of a line
        ("x\n    \ny\n", "x\n    value = compute(\ny\n", True),
        ("x\n\ny\n", "x\nimport os\ny\n", False),  # an import
        ("x\n\ny\n", "x\nfrom a import b\ny\n", False),
        ("x\n\ny\n", "x\nuse std::io;\ny\n", False),
        ("x\n\ny\n", "x\ndef helper():\ny\n", False),  # a definition
        ("x\n\ny\n", "x\n  pub fn go() {\ny\n", False),
        ("x\n\ny\n", "x\nconst z = require('z')\ny\n", False),
        ("x\n\ny\n", "x\na\nb\nc\nd\ny\n", False),  # lines pasted
        ("import os\nx = 1\n", "x = 1\n", False),  # an import removed
        ("x = 1\n", "x = 1\n" + "y" * 1000, False),  # too much text
    ],
)
def test_minor_edits(old: str, new: str, minor: bool) -> None:
    assert _minor_edit(old, new) is minor


def test_background_parse_waits_while_completion_contexts_are_gathered() -> None:
    store: Any = None
    service = ContextService(store, LanguageRegistry.default(), None)
    service._requests = 1  # a request in flight
    service.prepare("busy.py", "import os\n", idle_s=0.0)
    job = service._parser.submit(lambda: None)
    with pytest.raises(TimeoutError):
        job.result(timeout=0.3)  # still queued behind the waiting parse
    assert "busy.py" not in service._parses
    service._requests = 0
    service._last_request = time.monotonic()
    job.result(timeout=5)
    assert service._parses["busy.py"][0] == "import os\n"
    service.close()


class _CountingStore:
    """Answers ``ref_counts`` and records the names asked for."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def ref_counts(self, repo_id: int, snapshot_id: int, names: list[str]) -> dict[str, int]:
        self.asked.append(list(names))
        return {n: len(n) for n in names if n != "unused"}


def test_reference_counts_are_kept_for_a_minute_per_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    from hearth.server.services import context as ctx

    store = _CountingStore()
    service = ContextService(store, LanguageRegistry.default(), None)  # type: ignore[arg-type]
    repo = ctx.RepoHandle("/r", 1, 1)
    assert service._ref_counts(repo, ["run", "unused"]) == {"run": 3, "unused": 0}
    assert service._ref_counts(repo, ["unused", "run", "build"]) == {"unused": 0, "run": 3, "build": 5}
    assert store.asked == [["run", "unused"], ["build"]]  # only what was not known
    assert service._ref_counts(ctx.RepoHandle("/r", 1, 2), ["run"]) == {"run": 3}  # another snapshot: asked again
    assert store.asked[-1] == ["run"]
    now = time.monotonic()
    monkeypatch.setattr(ctx.time, "monotonic", lambda: now + ctx.REF_COUNT_TTL_S + 1)
    service._ref_counts(repo, ["run"])  # a minute later: asked again
    assert store.asked[-1] == ["run"] and len(store.asked) == 4
    service.close()


class _SlowTypesStore:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def type_names(self, repo_id: int, snapshot_id: int) -> list[str]:
        self.calls += 1
        time.sleep(self.delay_s)
        return ["Command", "FlagSet"]


def test_a_slow_first_listing_of_type_names_never_holds_a_request() -> None:
    from hearth.server.services import context as ctx

    slow = _SlowTypesStore(0.5)  # as at 1M chunks
    service = ContextService(slow, LanguageRegistry.default(), None)  # type: ignore[arg-type]
    repo = ctx.RepoHandle("/r", 1, 1)
    t0 = time.perf_counter()
    assert service._type_names(repo) == []  # not listed yet: the request goes on without
    assert time.perf_counter() - t0 < 0.4
    loading = service._type_loads[(1, 1)]
    assert service._type_names(repo) == []  # still loading: no second listing
    loading.result(timeout=5)
    assert service._type_names(repo) == ["Command", "FlagSet"] and slow.calls == 1
    fast = ContextService(_SlowTypesStore(0.0), LanguageRegistry.default(), None)  # type: ignore[arg-type]
    assert fast._type_names(repo) == ["Command", "FlagSet"]  # a small index: listed within the wait
    service.close()
    fast.close()
