"""The definition around a line (what Explain and the other actions take for an empty selection) agrees with
the indexer's own definitions, line by line, in every language's fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import parse_source
from hearth.server.config import Settings
from hearth.server.services.chat import Grounding
from hearth.server.services.documents import Documents
from hearth.server.services.models import ModelRoles
from hearth.server.services.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"
REGISTRY = LanguageRegistry.default()
SOURCES = sorted(f for d in FIXTURES.iterdir() for f in d.iterdir() if f.name != "expected.json")


def innermost_symbol(path: str, text: str, line: int) -> tuple[int, int]:
    """The smallest indexed definition holding the line (0-based rows), or the line itself."""
    best: tuple[int, int] | None = None
    for s in parse_source(REGISTRY, path, text.encode("utf-8")).symbols:
        if s.role == "def" and s.line - 1 <= line <= s.end_line - 1:
            if best is None or s.end_line - s.line < best[1] - best[0]:
                best = (s.line - 1, s.end_line - 1)
    return best or (line, line)


@pytest.fixture(scope="module")
def grounding() -> Grounding:
    return Grounding(Documents(), Workspace([]), ModelRoles(Settings()), REGISTRY)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_line_gets_the_innermost_definition(grounding: Grounding, source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    rows = text.split("\n")
    got = [grounding.definition_around(source.name, text, i) for i in range(len(rows))]
    want = [innermost_symbol(source.name, text, i) for i in range(len(rows))]
    assert got == want
    if REGISTRY.for_path(source.name) is not None and any(r.strip().startswith(("def ", "fn ", "func ")) for r in rows):
        assert any(a != (i, i) for i, a in enumerate(got)), "no line found inside a definition"


def test_a_file_in_an_unknown_language_gives_the_line(grounding: Grounding) -> None:
    assert grounding.definition_around("notes.unknownext", "a\nb\nc\n", 1) == (1, 1)
