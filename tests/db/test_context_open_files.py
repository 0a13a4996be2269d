"""Completion context from the other open files: Jaccard windows over identifier sets, kept per file version."""

from __future__ import annotations

import asyncio

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store
from hearth.server.services.context import ContextService, RepoHandle
from hearth.server.services.documents import OpenDocument

FILLER = "\n".join(f"unrelated_{i} = compute_{i}(value_{i})" for i in range(40))
HELPER = (
    FILLER
    + "\n\ndef ship_parcel(parcel_weight, carrier_rate):\n"
    + "    surcharge = carrier_rate * parcel_weight\n"
    + "    return surcharge + handling_fee(parcel_weight)\n"
)


def _doc(path: str, text: str, version: int = 1) -> OpenDocument:
    return OpenDocument(uri=f"file:///r/{path}", path=path, root="/r", text=text, version=version)


def _open_items(service: ContextService, repo: RepoHandle, path: str, text: str, docs: list[OpenDocument]) -> list:
    lines = text.split("\n")
    result = asyncio.run(
        service.for_completion(repo, path, text, len(lines) - 1, len(lines[-1]), open_docs=docs, wait_for_all=True)
    )
    return [h for h in result.items if h.source == "open-file"]


def test_the_window_sharing_the_cursors_identifiers_comes_from_the_other_open_file(store: Store) -> None:
    repo_id = store.ensure_repo("/r")
    snap = store.ensure_snapshot(repo_id, "default")
    service = ContextService(store, LanguageRegistry.default(), None)
    repo = RepoHandle("/r", repo_id, snap)
    current = "def quote(parcel_weight, carrier_rate):\n    fee = carrier_rate * parcel_weight\n    return "
    docs = [_doc("ship.py", HELPER), _doc("cur.py", current)]
    items = _open_items(service, repo, "cur.py", current, docs)
    assert [h.path for h in items] == ["ship.py"], items
    window = items[0]
    assert "def ship_parcel" in window.text and "carrier_rate * parcel_weight" in window.text
    # 1-based lines of the 20-line window in ship.py, which starts on a multiple of 10.
    assert (window.start_line - 1) % 10 == 0 and window.end_line - window.start_line <= 19
    assert HELPER.split("\n")[window.start_line - 1 : window.end_line] == window.text.split("\n")

    # The other file changes: its windows are read again (not served from the previous version).
    edited = FILLER + "\n"
    items = _open_items(service, repo, "cur.py", current, [_doc("ship.py", edited, 2), docs[1]])
    assert items == []
    items = _open_items(service, repo, "cur.py", current, [_doc("ship.py", HELPER, 3), docs[1]])
    assert [h.path for h in items] == ["ship.py"]
