"""Every language in ``indexer/languages.toml``: its grammar loads, its queries compile (once), and
parsing its fixture gives the golden symbols and chunks of ``tests/fixtures/languages/<lang>/``.

``expected.json`` per language: ``file`` (the fixture), ``definitions`` (exactly these, as name,
kind, scope, line), ``references`` and ``imports`` (at least these), and an optional ``xfail`` map
from a check (definitions, references, imports, small_budget) to the known bug that breaks it.
Those checks are strict xfails: fixing the bug makes them fail until the entry is removed.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import tree_sitter

import hearth.indexer.languages as languages_module
from hearth.indexer.languages import LanguageRegistry, LoadedLanguage
from hearth.indexer.parse import CHUNK_TOKENS, WINDOW_LINES, estimate_tokens, parse_source
from hearth.indexer.types import ParsedFile, Symbol

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"
TOML: dict[str, Any] = tomllib.loads(
    resources.files("hearth.indexer").joinpath("languages.toml").read_text(encoding="utf-8")
)
LANGUAGES = sorted(TOML)
DOCUMENTS = {"markdown", "yaml", "toml", "json"}
SMALL_BUDGET = 40  # tokens: forces every fixture's larger definitions to be split
TAG_CAPTURES = ("definition.", "name.definition.", "name.reference.", "scope.", "name.scope.")
IMPORT_CAPTURES = {"import.module", "import.name", "import.alias"}


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.default()


def expected(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / lang / "expected.json").read_text(encoding="utf-8"))
    return data


def source_path(lang: str) -> Path:
    return FIXTURES / lang / expected(lang)["file"]


def parse(registry: LanguageRegistry, lang: str, budget: int = CHUNK_TOKENS) -> ParsedFile:
    path = source_path(lang)
    return parse_source(registry, str(path), path.read_bytes(), budget_tokens=budget)


def known_bug(request: pytest.FixtureRequest, lang: str, check: str) -> None:
    reason = expected(lang).get("xfail", {}).get(check)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def defs(parsed: ParsedFile) -> list[Symbol]:
    return [s for s in parsed.symbols if s.role == "def"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_grammar_loads_and_queries_compile(registry: LanguageRegistry, lang: str) -> None:
    loaded = registry.get(lang)
    assert isinstance(loaded, LoadedLanguage), f"grammar {TOML[lang]['grammar']} does not load"
    assert loaded.spec.kind == ("document" if lang in DOCUMENTS else "code")
    assert "tags" in loaded.spec.queries
    for purpose in loaded.spec.queries:
        # A query that is missing or does not compile is logged and left out by the registry.
        query = loaded.queries.get(purpose)
        assert query is not None, f"queries/{loaded.spec.query_dir}/{purpose}.scm missing or invalid"
        assert query.pattern_count > 0
        for i in range(query.capture_count):
            name = query.capture_name(i)
            if name.startswith("_"):
                continue  # a helper capture used by predicates
            if purpose == "imports":
                assert name in IMPORT_CAPTURES, name
            else:
                assert name.startswith(TAG_CAPTURES), name


def test_every_language_has_a_fixture_and_every_fixture_a_language() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == LANGUAGES


@pytest.mark.parametrize("lang", LANGUAGES)
def test_fixture_file_maps_to_its_language(registry: LanguageRegistry, lang: str) -> None:
    assert registry.name_for_path(str(source_path(lang))) == lang


PATHS = {
    "c": ["src/a.c", "include/a.h"],
    "cpp": ["a.cc", "a.cpp", "a.cxx", "a.hpp", "a.hh", "a.hxx"],
    "java": ["A.java", "A.JAVA"],
    "csharp": ["A.cs"],
    "ruby": ["a.rb", "Rakefile", "Gemfile"],
    "php": ["a.php"],
    "kotlin": ["A.kt", "build.gradle.kts"],
    "swift": ["A.swift"],
    "scala": ["A.scala"],
    "bash": ["a.sh", "a.bash", "home/.bashrc"],
    "lua": ["a.lua"],
    "markdown": ["README.md", "a.markdown"],
    "yaml": ["a.yml", "a.yaml"],
    "json": ["a.json"],
    "toml": ["pyproject.toml"],
}


@pytest.mark.parametrize(("path", "lang"), [(p, lang) for lang, paths in PATHS.items() for p in paths])
def test_extensions_and_file_names(registry: LanguageRegistry, path: str, lang: str) -> None:
    assert registry.name_for_path(path) == lang


def test_no_extension_or_file_name_is_claimed_twice() -> None:
    seen: dict[str, str] = {}
    for lang, entry in TOML.items():
        for key in [e.lower() for e in entry.get("extensions", [])] + list(entry.get("filenames", [])):
            assert key not in seen, f"{key} claimed by {seen.get(key)} and {lang}"
            seen[key] = lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_definitions_are_exactly_the_expected(
    registry: LanguageRegistry, request: pytest.FixtureRequest, lang: str
) -> None:
    known_bug(request, lang, "definitions")
    parsed = parse(registry, lang)
    assert parsed.language == lang
    assert parsed.error is None
    got = sorted((s.line, s.name, s.kind, s.scope or "") for s in defs(parsed))
    want = sorted((d["line"], d["name"], d["kind"], d["scope"] or "") for d in expected(lang)["definitions"])
    assert got == want
    if lang in DOCUMENTS:
        assert {s.kind for s in defs(parsed)} <= {"section", "key"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_expected_references_are_found(registry: LanguageRegistry, request: pytest.FixtureRequest, lang: str) -> None:
    known_bug(request, lang, "references")
    got = {(s.name, s.kind, s.line) for s in parse(registry, lang).symbols if s.role == "ref"}
    want = {(r["name"], r["kind"], r["line"]) for r in expected(lang)["references"]}
    assert want <= got, sorted(want - got)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_expected_imports_are_found(registry: LanguageRegistry, request: pytest.FixtureRequest, lang: str) -> None:
    known_bug(request, lang, "imports")
    got = {(s.name, s.scope, s.line) for s in parse(registry, lang).symbols if s.role == "import"}
    want = {(i["name"], i["module"], i["line"]) for i in expected(lang)["imports"]}
    assert want <= got, sorted(want - got)
    if "imports" in TOML[lang]["queries"]:
        assert want, "a language with an imports query needs expected imports"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_chunks_cover_every_definition(registry: LanguageRegistry, lang: str) -> None:
    parsed = parse(registry, lang)
    assert parsed.chunks
    for s in defs(parsed):
        assert any(c.start_line <= s.line <= c.end_line for c in parsed.chunks), f"{s.name} (line {s.line})"
    for c in parsed.chunks:
        assert estimate_tokens(c.text) <= 4 * CHUNK_TOKENS, (c.start_line, c.end_line)
    assert [c.ord for c in parsed.chunks] == list(range(len(parsed.chunks)))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_split_definitions_stay_reachable(
    registry: LanguageRegistry, request: pytest.FixtureRequest, lang: str
) -> None:
    """With a small budget, definitions are split: each is still in a chunk, or heads the pieces of one."""
    known_bug(request, lang, "small_budget")
    parsed = parse(registry, lang, budget=SMALL_BUDGET)
    lines = source_path(lang).read_text(encoding="utf-8").split("\n")
    for s in defs(parsed):
        signature = lines[s.line - 1].strip()
        inside = any(c.start_line <= s.line <= c.end_line for c in parsed.chunks)
        heads = any(s.line <= c.start_line <= s.end_line and signature in c.text for c in parsed.chunks)
        assert inside or heads, f"{s.name} (line {s.line})"
    for c in parsed.chunks:
        assert estimate_tokens(c.text) <= 4 * SMALL_BUDGET, (c.start_line, c.end_line)


def test_unknown_extension_gets_line_windows(registry: LanguageRegistry) -> None:
    text = "\n".join(f"line {i} of a file in no known language" for i in range(1, 101))
    parsed = parse_source(registry, "notes/data.unknownext", text.encode())
    assert parsed.language is None
    assert parsed.symbols == ()
    assert {c.kind for c in parsed.chunks} == {"window"}
    assert parsed.chunks[0].start_line == 1 and parsed.chunks[-1].end_line == 100
    for prev, nxt in zip(parsed.chunks, parsed.chunks[1:], strict=False):
        assert nxt.start_line == prev.end_line + 1
    assert all(c.end_line - c.start_line + 1 <= WINDOW_LINES for c in parsed.chunks)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_registry_caches_each_language(registry: LanguageRegistry, lang: str) -> None:
    assert registry.get(lang) is registry.get(lang)
    assert registry.for_path(str(source_path(lang))) is registry.get(lang)


def test_each_query_compiles_once(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []

    def counting_query(language: tree_sitter.Language, source: str) -> tree_sitter.Query:
        compiled.append(source)
        return tree_sitter.Query(language, source)

    monkeypatch.setattr(languages_module, "Query", counting_query)
    fresh = LanguageRegistry.default()
    for _ in range(2):
        for lang in LANGUAGES:
            parse(fresh, lang)
            fresh.get(lang)
    assert len(compiled) == sum(len(TOML[lang]["queries"]) for lang in LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_symbols_only_parse_gives_the_same_symbols_without_chunks(registry: LanguageRegistry, lang: str) -> None:
    """What the completion context parses a buffer with: the symbols of a full parse, no chunks."""
    path = source_path(lang)
    full = parse_source(registry, str(path), path.read_bytes())
    light = parse_source(registry, str(path), path.read_bytes(), chunks=False)
    assert full.chunks and light.chunks == ()
    assert light.symbols == full.symbols and light.language == full.language == lang
    no_refs = parse_source(registry, str(path), path.read_bytes(), chunks=False, refs=False)
    assert no_refs.symbols == tuple(s for s in full.symbols if s.role != "ref")
    unknown = parse_source(registry, "notes.unknownext", b"hello\nworld\n", chunks=False)
    assert unknown.chunks == () and unknown.symbols == ()
