"""Workspace folders -> repositories in the index; document URIs -> (repository, relative path)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from hearth.indexer.pipeline import Indexer, git_state
from hearth.server.services.context import RepoHandle


def uri_to_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        return None
    return Path(unquote(parsed.path))


@dataclass(frozen=True, slots=True)
class Located:
    root: str
    path: str  # relative POSIX path


class Workspace:
    def __init__(self, roots: list[Path]) -> None:
        self.roots = [r.resolve() for r in roots]
        self.indexer: Indexer | None = None
        self._handles: dict[tuple[str, str], RepoHandle] = {}
        self._lock = threading.Lock()

    def add_root(self, root: Path) -> None:
        r = root.resolve()
        if r not in self.roots:
            self.roots.append(r)

    def remove_root(self, root: Path) -> None:
        r = root.resolve()
        self.roots = [x for x in self.roots if x != r]

    def locate(self, uri: str) -> Located | None:
        """The repository and relative path of a document, or None when it is outside every folder."""
        p = uri_to_path(uri)
        if p is None:
            return None
        best: Path | None = None
        for root in self.roots:
            try:
                p.resolve().relative_to(root) if p.exists() else p.relative_to(root)
            except ValueError:
                continue
            if best is None or len(str(root)) > len(str(best)):
                best = root
        if best is None:
            return None
        try:
            rel = (p.resolve() if p.exists() else p).relative_to(best).as_posix()
        except ValueError:
            return None
        return Located(str(best), rel)

    def handle(self, root: str) -> RepoHandle | None:
        """The index handle for the repository's current branch/worktree state (None before indexing)."""
        if self.indexer is None:
            return None
        name = git_state(Path(root))
        key = (root, name)
        h = self._handles.get(key)
        if h is None:
            with self._lock:
                repo_id, snap, _ = self.indexer.snapshot_for(Path(root))
                h = RepoHandle(root, repo_id, snap)
                self._handles[key] = h
        return h
