"""Domain types shared by the indexer, the store and the services (frozen, typed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, unsafe_hash=True)  # not frozen: a frozen dataclass's __init__ is ~4x slower
class Chunk:
    ord: int
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    kind: str  # "function", "class", "method", "module", "window", ...
    symbol: str | None  # symbol path, e.g. "Parser.parse"
    text: str  # what a model sees: enclosing signatures as a header, then the code
    text_hash: str
    name_terms: str  # full-text lexemes of the symbol path and signatures, space-separated (weighted high)
    body_terms: str  # full-text lexemes of the text, space-separated (``lexical.lexeme_text``)


@dataclass(slots=True, unsafe_hash=True)  # not frozen: a frozen dataclass's __init__ is ~4x slower
class Symbol:
    name: str
    kind: str  # function, method, class, interface, type, constant, module, call, import ...
    role: str  # "def", "ref" or "import"
    scope: str | None  # enclosing symbol path for defs; module path for imports; None for references
    line: int  # 1-based
    col: int  # 0-based, in characters
    end_line: int
    detail: str | None = None  # the signature line for defs; the imported module for imports


@dataclass(frozen=True, slots=True)
class ParsedFile:
    language: str | None
    chunks: tuple[Chunk, ...]
    symbols: tuple[Symbol, ...]
    error: str | None = None


@dataclass(slots=True)  # not frozen: hundreds are built per request, ~4x faster; never changed in place
class Hit:
    """One retrieved piece of code; what `hearth search` and `hearth context` print."""

    path: str  # relative to the repository root
    start_line: int
    end_line: int
    score: float
    source: str  # which retriever found it: definition, fts, vector, symbol, hybrid, open-file
    text: str = ""
    symbol: str | None = None
    kind: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self, with_text: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "score": round(self.score, 6),
            "source": self.source,
            "symbol": self.symbol,
            "kind": self.kind,
        }
        if self.extra:
            out.update(self.extra)
        if with_text:
            out["text"] = self.text
        return out


@dataclass(frozen=True, slots=True)
class IndexSummary:
    repo: str
    snapshot: str
    files_seen: int
    files_indexed: int  # parsed now
    files_unchanged: int
    files_reused: int  # content already in the index (e.g. another branch)
    files_deleted: int
    files_skipped: int
    chunks: int  # in the snapshot after the run
    symbols: int
    embedded: int  # chunks of the snapshot with an embedding for the current model
    bytes_parsed: int
    seconds: float
    embed_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
