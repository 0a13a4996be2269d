"""The background refresh of a line's context waits for the editor to be quiet, and a newer request cancels it
before it competes for the CPU with that request's own retrieval."""

from __future__ import annotations

import asyncio

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.types import Hit
from hearth.server.config import Settings
from hearth.server.services import completion as completion_module
from hearth.server.services.completion import CompletionService, DocumentNotOpen, _LastContext
from hearth.server.services.context import ContextResult
from hearth.server.services.documents import Documents
from hearth.server.services.models import ModelRoles
from hearth.server.services.status import StatusService
from hearth.server.services.workspace import Workspace

URI = "file:///r/pkg/cart.py"
OLD = Hit("pkg/util.py", 1, 5, 1.0, "definition", "def old(): ...")
NEW = Hit("pkg/pricing.py", 3, 9, 1.0, "definition", "def compute_total(items): ...")


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> tuple[CompletionService, list[int]]:
    monkeypatch.setattr(completion_module, "REFRESH_IDLE_S", 0.05)
    settings = Settings()
    svc = CompletionService(
        settings, Documents(), Workspace([]), ModelRoles(settings), StatusService(), LanguageRegistry.default()
    )
    retrievals: list[int] = []

    async def context(root: str | None, path: str, text: str, line: int, col: int, window: tuple[int, int]) -> (
        ContextResult
    ):
        retrievals.append(line)
        return ContextResult([OLD, NEW])

    monkeypatch.setattr(svc, "_context", context)
    svc._last_context[URI] = _LastContext("pkg/cart.py", 7, [OLD])
    return svc, retrievals


async def test_the_refresh_runs_once_the_editor_is_quiet_and_appends_what_is_new(
    service: tuple[CompletionService, list[int]],
) -> None:
    svc, retrievals = service
    svc._refresh_context(URI, "/r", "pkg/cart.py", "text", 7, 20, (1, 30))
    assert retrievals == []  # not at once: it waits for a quiet moment
    await asyncio.wait_for(svc._refreshing[URI], 5)
    assert retrievals == [7]
    assert [h.path for h in svc._last_context[URI].items] == ["pkg/util.py", "pkg/pricing.py"]


async def test_a_newer_request_cancels_a_refresh_still_waiting(service: tuple[CompletionService, list[int]]) -> None:
    svc, retrievals = service
    svc._refresh_context(URI, "/r", "pkg/cart.py", "text", 7, 20, (1, 30))
    with pytest.raises(DocumentNotOpen):  # any request, even one that fails, comes first
        await svc.complete("file:///r/pkg/other.py", 0, 0)
    with pytest.raises(asyncio.CancelledError):
        await svc._refreshing[URI]
    assert retrievals == []
    assert [h.path for h in svc._last_context[URI].items] == ["pkg/util.py"]
