"""Post-processing: golden cases from tests/fixtures/postprocess/ (one per file), and the rules."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services.postprocess import (
    MAX_LINES,
    decide_multiline,
    fix_first_indent,
    postprocess,
)

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "postprocess"
CURSOR = "█"
CASES = sorted(GOLDEN.glob("*.toml"))


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.default()


def load(path: Path) -> dict[str, Any]:
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    assert case["buffer"].count(CURSOR) == 1, f"{path.name}: one cursor marker"
    return case


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path, registry: LanguageRegistry) -> None:
    case = load(path)
    prefix, suffix = case["buffer"].split(CURSOR)
    loaded = registry.for_path(case["path"])
    decided = decide_multiline(prefix, suffix, loaded.parser() if loaded else None)
    if "expect_multiline" in case:
        assert decided is case["expect_multiline"], case["description"]
    multiline = case.get("multiline", decided)
    assert postprocess(case["raw"], prefix, suffix, multiline=multiline) == case["expected"], case["description"]


def test_the_size_of_a_file_is_cut() -> None:
    raw = "".join(f"step_{i}()\n    " for i in range(500))
    out = postprocess(raw, "def run():\n    ", "\n", multiline=True)
    assert len(out.split("\n")) == MAX_LINES
    assert out.startswith("step_0()\n    step_1()")


def test_multiline_decision_without_a_grammar() -> None:
    assert decide_multiline("if x:", "") is True
    assert decide_multiline("x = foo(a, ", ")") is False
    assert decide_multiline("    ", "\nnext()") is True
    assert decide_multiline("call({", "})") is True
    assert decide_multiline("value = ", "") is False


def test_multiline_decision_with_tree_sitter(registry: LanguageRegistry) -> None:
    py = registry.for_path("a.py")
    assert py is not None
    parser = py.parser()
    assert decide_multiline("def f():\n    ", "\n", parser) is True  # empty body
    assert decide_multiline("s = '''\n", "\n", parser) is False  # an open string
    assert decide_multiline("x = 1  # note: ", "\n", parser) is False
    # a finished string before the cursor does not count as being inside it
    assert decide_multiline("x = 'done'\n", "\n", parser) is True


def test_first_line_indent() -> None:
    assert fix_first_indent("    return 1", "def f():\n    ") == "return 1"
    assert fix_first_indent("return 1", "def f():\n    ") == "return 1"
    # at column 0 of an empty line the model's indentation is the line's
    assert fix_first_indent("    return 1", "def f():\n") == "    return 1"
    # deeper than expected after an opener is trimmed to one level
    assert fix_first_indent("        pass", "if x:\n    ") == "pass"
    assert fix_first_indent("\treturn 1", "func f() {\n\t") == "return 1"

