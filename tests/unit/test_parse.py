"""Chunking and symbol details of ``hearth.indexer.parse`` that the per-language golden files do not pin."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.lexical import lexeme_text, split_identifier
from hearth.indexer.parse import parse_source
from hearth.indexer.types import ParsedFile, Symbol


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.default()


def parse(registry: LanguageRegistry, path: str, text: str, budget: int = 384) -> ParsedFile:
    return parse_source(registry, path, text.encode(), budget_tokens=budget)


def sym(parsed: ParsedFile, name: str, role: str = "def") -> Symbol:
    return next(s for s in parsed.symbols if s.name == name and s.role == role)


def covered_rows(parsed: ParsedFile) -> list[int]:
    rows: list[int] = []
    for c in parsed.chunks:
        rows.extend(range(c.start_line, c.end_line + 1))
    return rows


def test_over_budget_markdown_section_keeps_every_subsection(registry: LanguageRegistry) -> None:
    para = "Some words about this part of the guide, long enough to count.\n"
    text = "# Guide\n\nIntro.\n\n" + "".join(f"## Part {i}\n\n{para * 3}\n" for i in range(1, 5))
    parsed = parse(registry, "GUIDE.md", text, budget=40)
    body = "\n".join(c.text for c in parsed.chunks)
    for i in range(1, 5):
        assert f"## Part {i}" in body
    assert body.count(para.strip()) >= 12
    assert all(c.text.startswith("# Guide") for c in parsed.chunks)


def test_exported_constants_are_definitions(registry: LanguageRegistry) -> None:
    for path in ("a.ts", "a.js", "a.tsx"):
        parsed = parse(registry, path, "export const LIMIT = 5;\nexport function f() { return LIMIT; }\n")
        assert (sym(parsed, "LIMIT").kind, sym(parsed, "LIMIT").line) == ("constant", 1), path


def test_rust_functions_in_a_mod_are_functions_and_ruby_module_defs_methods(registry: LanguageRegistry) -> None:
    rust = parse(registry, "a.rs", "mod util {\n    fn helper() -> i32 {\n        1\n    }\n}\n")
    assert (sym(rust, "helper").kind, sym(rust, "helper").scope) == ("function", "util")
    ruby = parse(registry, "a.rb", "module Util\n  def helper\n    1\n  end\nend\n")
    assert sym(ruby, "helper").kind == "method"


def test_split_yaml_key_header_is_the_key_line_only(registry: LanguageRegistry) -> None:
    text = "server:\n  host: localhost\n  port: 8080\n  tls:\n    cert: a\n    key: b\nother: 1\n"
    parsed = parse(registry, "a.yaml", text, budget=8)
    pieces = [c for c in parsed.chunks if c.symbol == "server"]
    assert len(pieces) >= 2
    for c in pieces:
        assert c.text.split("\n")[0] == "server:"
        assert c.text.count("host: localhost") <= 1
    assert "\n".join(c.text for c in parsed.chunks).count("host: localhost") == 1


def test_split_python_function_has_signature_header_not_repeated_in_body(registry: LanguageRegistry) -> None:
    body = "".join(f"    value_{i} = compute_{i}(argument)\n" for i in range(40))
    text = f"class Box:\n    def fill(self, argument):\n{body.replace('    ', '        ')}"
    parsed = parse(registry, "box.py", text, budget=60)
    assert len(parsed.chunks) > 2
    for c in parsed.chunks:
        assert c.text.startswith("class Box:\n    def fill(self, argument):\n")
        assert c.text.count("def fill") == 1
    assert parsed.chunks[0].start_line == 1
    rows = covered_rows(parsed)
    assert len(rows) == len(set(rows)), "chunks share rows"
    assert set(range(3, 43)) <= set(rows)


def test_lone_semicolon_after_a_definition_does_not_repeat_the_line(registry: LanguageRegistry) -> None:
    text = "struct P { int x; int y; int z; };\nint main() { return 0; }\n"
    parsed = parse(registry, "a.cpp", text, budget=20)
    rows = covered_rows(parsed)
    assert sorted(rows) == [1, 2]
    assert sum(c.text.count("struct P") for c in parsed.chunks) == 1


def test_end_line_of_a_node_ending_at_column_zero(registry: LanguageRegistry) -> None:
    md = parse(registry, "a.md", "# One\n\ntext\n\n# Two\n\nmore\n")
    assert sym(md, "One").end_line == 4  # the section ends before "# Two" (its node ends at column 0 of row 5)
    c = parse(registry, "a.c", '#include <stdio.h>\n#include "a.h"\n')
    assert max(ch.end_line for ch in c.chunks) == 2
    assert [s.end_line for s in c.symbols if s.role == "import"] == [1, 2]


def test_include_paths_lose_their_brackets_and_quotes(registry: LanguageRegistry) -> None:
    parsed = parse(registry, "a.c", '#include <sys/stat.h>\n#include "lib/a.h"\n')
    assert [(s.name, s.scope) for s in parsed.symbols if s.role == "import"] == [
        ("sys/stat.h", "sys/stat.h"),
        ("lib/a.h", "lib/a.h"),
    ]


def test_scala_import_module_is_the_whole_path(registry: LanguageRegistry) -> None:
    parsed = parse(registry, "A.scala", "import scala.collection.mutable\nimport a.b.{C, D => E}\n")
    got = {(s.name, s.scope, s.detail) for s in parsed.symbols if s.role == "import"}
    assert got == {("mutable", "scala.collection", None), ("C", "a.b", None), ("E", "a.b", "D")}


def test_crlf_source_keeps_line_numbers_and_no_carriage_returns_in_names(registry: LanguageRegistry) -> None:
    parsed = parse(registry, "a.py", "import os\r\n\r\ndef f():\r\n    return os.sep\r\n")
    f = sym(parsed, "f")
    assert (f.line, f.end_line, f.name) == (3, 4, "f")


TOKENS = ["a", "Z", "_", "9", " ", ".", "(", "\n", "HTTP", "parse", "Response", "v2", "é", "x"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_cached_lexeme_text_equals_the_uncached_expansion(text: str) -> None:
    assert lexeme_text(text) == uncached_lexeme_text(text)
    assert lexeme_text(text, 5) == uncached_lexeme_text(text, 5)


def uncached_lexeme_text(text: str, limit: int = 6000) -> str:
    """The reference: each distinct identifier expanded afresh (whole, lowercased, then its parts), split at
    underscores, each lexeme once per identifier."""
    out: list[str] = []
    for ident in dict.fromkeys(re.findall(r"[^\W\d]\w*", text)):
        whole = ident.lower()
        if len(whole) < 2:
            continue
        expanded = [whole]
        parts = split_identifier(ident)
        if len(parts) > 1 or (parts and parts[0] != whole):
            expanded.extend(p for p in parts if p != whole)
        out.extend(dict.fromkeys(lx for term in expanded for lx in term.split("_") if lx))
    return " ".join(out[:limit])
