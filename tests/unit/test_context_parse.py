"""The completion context reuses a buffer's parse while its text is unchanged."""

from __future__ import annotations

from typing import Any

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services.context import PARSE_CACHE, ContextService


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
