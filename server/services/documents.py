"""Open buffers: an in-memory overlay over the index.

The editor's unsaved text replaces what the index knows about that file: retrieval excludes the
file's indexed rows and uses a parse of the buffer instead (cached per version).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import parse_source
from hearth.indexer.types import ParsedFile


@dataclass
class OpenDocument:
    uri: str
    path: str | None  # relative to its repository root, None when outside every workspace folder
    root: str | None
    text: str
    version: int
    language_id: str = ""
    opened_at: float = field(default_factory=time.monotonic)
    edited_at: float = field(default_factory=time.monotonic)
    _parsed: tuple[int, ParsedFile] | None = None

    def parsed(self, registry: LanguageRegistry) -> ParsedFile:
        if self._parsed is None or self._parsed[0] != self.version:
            self._parsed = (self.version, parse_source(registry, self.path or self.uri, self.text.encode("utf-8")))
        return self._parsed[1]


class Documents:
    def __init__(self) -> None:
        self._docs: dict[str, OpenDocument] = {}
        self._lock = threading.Lock()

    def open(self, doc: OpenDocument) -> None:
        with self._lock:
            self._docs[doc.uri] = doc

    def update(self, uri: str, text: str, version: int) -> OpenDocument | None:
        with self._lock:
            doc = self._docs.get(uri)
            if doc is None:
                return None
            doc.text, doc.version, doc.edited_at = text, version, time.monotonic()
            return doc

    def close(self, uri: str) -> None:
        with self._lock:
            self._docs.pop(uri, None)

    def get(self, uri: str) -> OpenDocument | None:
        return self._docs.get(uri)

    def in_repo(self, root: str) -> list[OpenDocument]:
        """Open documents of one repository, most recently edited first."""
        docs = [d for d in list(self._docs.values()) if d.root == root and d.path is not None]
        return sorted(docs, key=lambda d: -d.edited_at)
