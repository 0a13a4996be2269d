"""The language registry: extensions -> tree-sitter grammars and queries, built from data.

``languages.toml`` lists each language's grammar wheel and query files; grammars are loaded and
queries compiled lazily, once per language per process.
"""

from __future__ import annotations

import importlib
import logging
import threading
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePath
from typing import Any

from tree_sitter import Language, Parser, Query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    extensions: tuple[str, ...]
    filenames: tuple[str, ...]
    grammar: str
    function: str
    queries: tuple[str, ...]
    query_dir: str
    comment: str
    kind: str = "code"  # "code" or "document"


@dataclass
class LoadedLanguage:
    spec: LanguageSpec
    language: Language
    queries: dict[str, Query] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)

    @property
    def name(self) -> str:
        return self.spec.name

    def parser(self) -> Parser:
        """A parser for this language, one per thread (parsers are not thread-safe)."""
        p = getattr(self._local, "parser", None)
        if p is None:
            p = Parser(self.language)
            self._local.parser = p
        return p


class LanguageRegistry:
    def __init__(self, specs: dict[str, LanguageSpec]) -> None:
        self.specs = specs
        self._by_ext: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        for spec in specs.values():
            for ext in spec.extensions:
                self._by_ext[ext.lower()] = spec.name
            for fn in spec.filenames:
                self._by_name[fn] = spec.name
        self._loaded: dict[str, LoadedLanguage | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> LanguageRegistry:
        data = tomllib.loads(resources.files("hearth.indexer").joinpath("languages.toml").read_text(encoding="utf-8"))
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LanguageRegistry:
        specs = {}
        for name, entry in data.items():
            specs[name] = LanguageSpec(
                name=name,
                extensions=tuple(entry.get("extensions", ())),
                filenames=tuple(entry.get("filenames", ())),
                grammar=entry["grammar"],
                function=entry.get("function", "language"),
                queries=tuple(entry.get("queries", ())),
                query_dir=entry.get("query_dir", name),
                comment=entry.get("comment", "#"),
                kind=entry.get("kind", "code"),
            )
        return cls(specs)

    def name_for_path(self, path: str) -> str | None:
        p = PurePath(path)
        if p.name in self._by_name:
            return self._by_name[p.name]
        return self._by_ext.get(p.suffix.lower())

    def get(self, name: str) -> LoadedLanguage | None:
        if name in self._loaded:
            return self._loaded[name]
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
        return self._loaded[name]

    def for_path(self, path: str) -> LoadedLanguage | None:
        name = self.name_for_path(path)
        return self.get(name) if name else None

    def _load(self, name: str) -> LoadedLanguage | None:
        spec = self.specs.get(name)
        if spec is None:
            return None
        try:
            module = importlib.import_module(spec.grammar)
            language = Language(getattr(module, spec.function)())
        except Exception as exc:  # a missing or broken grammar wheel must not stop indexing
            log.warning("tree-sitter grammar for %s unavailable (%s): using line windows", name, exc)
            return None
        loaded = LoadedLanguage(spec, language)
        qdir = resources.files("hearth.indexer").joinpath("queries").joinpath(spec.query_dir)
        for purpose in spec.queries:
            src = qdir.joinpath(f"{purpose}.scm")
            try:
                loaded.queries[purpose] = Query(language, src.read_text(encoding="utf-8"))
            except FileNotFoundError:
                log.warning("query %s/%s.scm missing", spec.query_dir, purpose)
            except Exception as exc:
                log.error("query %s/%s.scm does not compile: %s", spec.query_dir, purpose, exc)
        return loaded
