"""Context assembly: what from the repository goes into a prompt.

For a completion at the cursor, three sources run in parallel, each time-boxed:
- definitions of the identifiers around the cursor and of the file's imports, from Hearth's own
  symbol table, ranked import-aware (imported module, then same package, then anywhere);
- hybrid search (full text with code-aware terms, symbol names, vectors) with the code before
  the cursor as the query;
- similar windows of the other open files (Jaccard over identifier sets).
Results are ranked, deduplicated (never code already in the prompt) and fitted to a token
budget. Hybrid search fuses its retrievers with reciprocal-rank fusion.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from hearth.indexer.embedder import Embedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.lexical import identifiers, query_terms
from hearth.indexer.parse import estimate_tokens, identifiers_near, parse_source
from hearth.indexer.store.db import Store
from hearth.indexer.types import Hit, ParsedFile
from hearth.server.services.documents import OpenDocument

log = logging.getLogger(__name__)

RRF_K = 60
KEYWORDS = frozenset(
    """if else elif for while return def class import from as with try except finally raise pass break
    continue lambda yield async await None True False self cls and or not in is function const let var new
    this super extends implements interface type enum export default public private protected static void
    int str float bool string number boolean null undefined true false fn impl pub mut struct trait use mod
    crate match loop where func package go defer chan map range select switch case nil print len range
    println format new make append error Err Ok Some None unwrap expect String Vec""".split()
)


@dataclass(frozen=True, slots=True)
class RepoHandle:
    root: str
    repo_id: int
    snapshot_id: int


@dataclass
class ContextResult:
    items: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    dropped: int = 0

    def as_json(self) -> list[dict[str, Any]]:
        return [h.as_json() for h in self.items]


def rrf(rankings: Sequence[Sequence[Hit]], k: int = RRF_K) -> list[Hit]:
    """Reciprocal-rank fusion of several ranked lists of hits, keyed by (path, start_line)."""
    scores: dict[tuple[str, int], float] = {}
    best: dict[tuple[str, int], Hit] = {}
    sources: dict[tuple[str, int], set[str]] = {}
    for ranking in rankings:
        for rank, h in enumerate(ranking):
            key = (h.path, h.start_line)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank + 1)
            sources.setdefault(key, set()).add(h.source)
            if key not in best:
                best[key] = h
    out = []
    for key, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        h = best[key]
        src = sorted(sources[key])
        out.append(Hit(h.path, h.start_line, h.end_line, s, "+".join(src), h.text, h.symbol, h.kind, h.language))
    return out


def _code_like(ident: str, query: str) -> bool:
    """An identifier worth a symbol-name lookup: code-shaped, or the whole query is one word."""
    if len(ident) < 3 or ident in KEYWORDS:
        return False
    if "_" in ident or any(c.isdigit() for c in ident) or (ident[1:] != ident[1:].lower()):
        return True
    return query.strip() == ident or "(" in query or "=" in query or "." in query


def _module_matches(path: str, module: str, current_path: str) -> bool:
    """Does the file at ``path`` plausibly implement the imported ``module``?"""
    p = PurePosixPath(path)
    stem_path = str(p.with_suffix(""))
    mod = module.strip("\"'")
    if mod.startswith("."):
        # Relative import: ./util (JS/TS) or .util / ..pkg.util (Python)
        base = PurePosixPath(current_path).parent
        if "/" in mod:
            target = str(PurePosixPath(base, mod))
            target = re.sub(r"/\./", "/", target)
            norm = str(PurePosixPath(*[x for x in PurePosixPath(target).parts if x != "."]))
            return stem_path.endswith(norm.lstrip("./")) or stem_path == norm or str(p.parent) == norm
        dots = len(mod) - len(mod.lstrip("."))
        for _ in range(dots - 1):
            base = base.parent
        rest = mod.lstrip(".").replace(".", "/")
        target = str(PurePosixPath(base, rest)) if rest else str(base)
        return stem_path == target or str(p.parent) == target or stem_path == target + "/__init__"
    for sep in ("::", "."):
        if sep in mod and "/" not in mod:
            mod = mod.replace(sep, "/")
    mod = mod.removeprefix("crate/")
    return stem_path.endswith(mod) or str(p.parent).endswith(mod) or stem_path.endswith(mod + "/__init__")


class ContextService:
    def __init__(
        self,
        store: Store,
        registry: LanguageRegistry,
        embedder: Embedder | None,
        *,
        source_timeout_s: float = 0.04,
    ) -> None:
        self.store = store
        self.registry = registry
        self.embedder = embedder
        self.source_timeout_s = source_timeout_s
        self._query_vectors: dict[str, tuple[str, np.ndarray]] = {}  # doc key -> (query text, vector)
        self._embedding_in_flight: set[str] = set()

    # -- hybrid search ----------------------------------------------------------------------------
    def search(
        self,
        repo: RepoHandle,
        query: str,
        k: int = 10,
        exclude_paths: Sequence[str] = (),
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Hybrid search: full text, symbol names and vectors, fused with RRF; best first."""
        fetch = max(k * 3, 20)
        words = query_terms(query)
        rankings: list[list[Hit]] = []
        if words:
            rankings.append(self.store.search_fts(repo.repo_id, repo.snapshot_id, words, fetch, exclude_paths))
        idents = [i for i in dict.fromkeys(identifiers(query[:20_000])) if _code_like(i, query)][:24]
        if idents:
            rankings.append(
                self.store.search_symbol_names(repo.repo_id, repo.snapshot_id, idents, fetch, exclude_paths)
            )
        if self.embedder is not None and query.strip():
            vec = vector if vector is not None else self.embedder.embed([query[:4000]])[0]
            rankings.append(
                self.store.search_vector(
                    repo.repo_id, repo.snapshot_id, self.embedder.name, self.embedder.dim, vec, fetch, exclude_paths
                )
            )
        return rrf([r for r in rankings if r])[:k]

    # -- completion context -------------------------------------------------------------------------
    async def for_completion(
        self,
        repo: RepoHandle | None,
        path: str,
        text: str,
        line: int,
        col: int,
        *,
        budget_tokens: int = 1024,
        open_docs: Sequence[OpenDocument] = (),
        prompt_window: tuple[int, int] | None = None,
        k: int = 20,
        wait_for_all: bool = False,
        fresh_vector: bool = False,
    ) -> ContextResult:
        """Ranked context for a completion at (line, col) (0-based) of ``path`` holding ``text``."""
        started = time.perf_counter()
        lines = text.split("\n")
        line = max(0, min(line, len(lines) - 1)) if lines else 0
        col = max(0, min(col, len(lines[line]) if lines else 0))
        timings: dict[str, float] = {}
        if repo is None:
            return ContextResult([], {"total_ms": 0.0})
        parsed = parse_source(self.registry, path, text.encode("utf-8"))
        timings["parse_ms"] = (time.perf_counter() - started) * 1000
        exclude = [path, *[d.path for d in open_docs if d.path and d.path != path]]
        timeout = None if wait_for_all else self.source_timeout_s

        async def timed(name: str, coro: Any) -> list[Hit]:
            t0 = time.perf_counter()
            try:
                res: list[Hit] = await coro
                return res
            except Exception as exc:  # one failing source never breaks the others
                log.warning("context source %s failed: %s", name, exc)
                return []
            finally:
                timings[f"{name}_ms"] = (time.perf_counter() - t0) * 1000

        window_lo = max(0, line - 20)
        query_text = "\n".join([*lines[window_lo:line], lines[line][:col]]) if lines else ""
        tasks = {
            "definitions": asyncio.ensure_future(
                timed("definitions", asyncio.to_thread(self._definitions, repo, path, text, line, col, parsed, exclude))
            ),
            "search": asyncio.ensure_future(
                timed(
                    "search",
                    asyncio.to_thread(self._search_for_completion, repo, path, query_text, exclude, fresh_vector),
                )
            ),
            "open_files": asyncio.ensure_future(
                timed("open_files", asyncio.to_thread(self._open_file_windows, path, query_text, open_docs))
            ),
        }
        done, pending = await asyncio.wait(tasks.values(), timeout=timeout)
        for t in pending:
            t.cancel()
        results = {name: (t.result() if t in done and not t.cancelled() else []) for name, t in tasks.items()}
        for name, t in tasks.items():
            if t in pending:
                timings[f"{name}_ms"] = self.source_timeout_s * 1000
                log.debug("context source %s timed out", name)
        items = self._rank(results, prompt_window, path)
        fitted, dropped = _fit_budget(items, budget_tokens)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return ContextResult(fitted[:k], timings, dropped)

    async def for_chat(
        self,
        repo: RepoHandle | None,
        question: str,
        *,
        path: str | None = None,
        selection: str | None = None,
        budget_tokens: int = 6000,
        k: int = 24,
    ) -> ContextResult:
        """Context for a question or a selection: hybrid search plus definitions of the symbols involved.

        Every item is citable as path:lines. The selection's own lines are not repeated.
        """
        started = time.perf_counter()
        if repo is None:
            return ContextResult([], {"total_ms": 0.0})
        query = "\n".join(x for x in (question, selection or "") if x)
        exclude = [path] if path and selection else []

        def gather() -> list[Hit]:
            hits = self.search(repo, query[:8000], k=k, exclude_paths=exclude)
            names = [i for i in dict.fromkeys(identifiers(query[:20_000])) if len(i) > 2 and i not in KEYWORDS]
            defs = [h for _, h in self.store.definitions(repo.repo_id, repo.snapshot_id, names[:48], exclude, 60)]
            ranked = [Hit(h.path, h.start_line, h.end_line, 1.0 + h.score, "definition", h.text, h.symbol, h.kind,
                          h.language) for h in defs[:k]]
            ranked += [Hit(h.path, h.start_line, h.end_line, h.score * 10, h.source, h.text, h.symbol, h.kind,
                           h.language) for h in hits]
            return self._rank({"definitions": [], "search": ranked}, None, path or "")

        items = await asyncio.to_thread(gather)
        fitted, dropped = _fit_budget(items, budget_tokens)
        return ContextResult(fitted[:k], {"total_ms": (time.perf_counter() - started) * 1000}, dropped)

    def _definitions(
        self, repo: RepoHandle, path: str, text: str, line: int, col: int, parsed: ParsedFile, exclude: Sequence[str]
    ) -> list[Hit]:
        local_defs = {s.name for s in parsed.symbols if s.role == "def"}
        imports = [s for s in parsed.symbols if s.role == "import"]
        imported_names = {s.name: s for s in imports}
        wanted: list[str] = []
        for ident in identifiers_near(text, line, col):
            if len(ident) < 3 or ident in KEYWORDS or ident in wanted:
                continue
            if ident in local_defs and ident not in imported_names:
                continue
            wanted.append(ident)
            if len(wanted) >= 24:
                break
        # Names the file imports: the original name when aliased.
        for s in imports:
            name = s.detail or s.name
            if name not in wanted and len(name) > 2:
                wanted.append(name)
        if not wanted:
            return []
        rows = self.store.definitions(repo.repo_id, repo.snapshot_id, wanted[:48], exclude, limit=200)
        modules = [s.scope or "" for s in imports]
        proximity = {name: i for i, name in enumerate(wanted)}
        cur_dir = str(PurePosixPath(path).parent)
        per_name: dict[str, int] = {}
        scored: list[tuple[float, Hit]] = []
        for d, h in rows:
            rank = proximity.get(d.name, len(wanted))
            base = 1.0 / (1.0 + 0.15 * rank)
            imp = imported_names.get(d.name)
            if imp is not None and _module_matches(d.path, imp.scope or "", path):
                boost = 2.0
            elif any(m and _module_matches(d.path, m, path) for m in modules):
                boost = 1.6
            elif str(PurePosixPath(d.path).parent) == cur_dir:
                boost = 1.3
            else:
                boost = 1.0
            if d.scope and d.kind == "method":
                boost *= 0.9
            scored.append((base * boost, h))
        scored.sort(key=lambda sh: (-sh[0], sh[1].path, sh[1].start_line))
        out = []
        for score, h in scored:
            name = h.symbol.rsplit(".", 1)[-1] if h.symbol else ""
            per_name[name] = per_name.get(name, 0) + 1
            if per_name[name] > 3:
                continue
            out.append(Hit(h.path, h.start_line, h.end_line, score, "definition", h.text, h.symbol, h.kind, h.language))
        return out

    def _search_for_completion(
        self, repo: RepoHandle, path: str, query: str, exclude: Sequence[str], fresh: bool = False
    ) -> list[Hit]:
        vec = None
        if self.embedder is not None and fresh and query.strip():
            vec = self.embedder.embed([query[-4000:]])[0]
        elif self.embedder is not None:
            cached = self._query_vectors.get(path)
            vec = cached[1] if cached else None
            # The vector of the previous request for this document is good enough for a keystroke;
            # refresh it in the background so the next request sees the current window.
            self._refresh_query_vector(path, query)
        hits = self._search_without_new_embedding(repo, query, exclude, vec)
        return [
            Hit(h.path, h.start_line, h.end_line, h.score, "search:" + h.source, h.text, h.symbol, h.kind, h.language)
            for h in hits
        ]

    def _search_without_new_embedding(
        self, repo: RepoHandle, query: str, exclude: Sequence[str], vec: np.ndarray | None
    ) -> list[Hit]:
        embedder, self_embedder = self.embedder, None
        if vec is None:
            self_embedder, self.embedder = self.embedder, None
        try:
            return self.search(repo, query, k=10, exclude_paths=exclude, vector=vec)
        finally:
            if self_embedder is not None:
                self.embedder = embedder

    def _refresh_query_vector(self, key: str, query: str) -> None:
        if self.embedder is None or key in self._embedding_in_flight:
            return
        cached = self._query_vectors.get(key)
        if cached and cached[0] == query:
            return
        self._embedding_in_flight.add(key)
        try:
            vec = self.embedder.embed([query[-4000:]])[0]
            self._query_vectors[key] = (query, vec)
        except Exception as exc:
            log.debug("query embedding failed: %s", exc)
        finally:
            self._embedding_in_flight.discard(key)

    def _open_file_windows(self, path: str, query: str, open_docs: Sequence[OpenDocument]) -> list[Hit]:
        want = {i for i in identifiers(query) if len(i) > 2 and i not in KEYWORDS}
        if not want:
            return []
        out: list[Hit] = []
        for doc in open_docs[:8]:
            if doc.path is None or doc.path == path:
                continue
            lines = doc.text.split("\n")
            best: tuple[float, int] | None = None
            for start in range(0, max(1, len(lines)), 10):
                window = lines[start : start + 20]
                ids = {i for i in identifiers("\n".join(window)) if len(i) > 2}
                if not ids:
                    continue
                j = len(want & ids) / len(want | ids)
                if best is None or j > best[0]:
                    best = (j, start)
            if best and best[0] >= 0.08:
                s = best[1]
                body = "\n".join(lines[s : s + 20])
                out.append(Hit(doc.path, s + 1, min(len(lines), s + 20), best[0], "open-file", body))
        return sorted(out, key=lambda h: -h.score)[:3]

    def _rank(self, results: dict[str, list[Hit]], prompt_window: tuple[int, int] | None, path: str) -> list[Hit]:
        ranked: list[Hit] = []
        # Definitions first (they are what the model cannot guess), then the fused rest.
        defs = results.get("definitions", [])
        others = rrf([results.get("search", []), results.get("open_files", [])])
        for h in defs:
            ranked.append(
                Hit(h.path, h.start_line, h.end_line, 1.0 + h.score, h.source, h.text, h.symbol, h.kind, h.language)
            )
        for h in others:
            src = h.source
            ranked.append(
                Hit(h.path, h.start_line, h.end_line, h.score * 10, src, h.text, h.symbol, h.kind, h.language)
            )
        out: list[Hit] = []
        for h in sorted(ranked, key=lambda x: (-x.score, x.path, x.start_line)):
            if (
                h.path == path
                and prompt_window
                and not (h.end_line < prompt_window[0] or h.start_line > prompt_window[1])
            ):
                continue  # already in the prompt
            if any(o.path == h.path and not (h.end_line < o.start_line or h.start_line > o.end_line) for o in out):
                continue
            out.append(h)
        return out


def _fit_budget(items: Sequence[Hit], budget_tokens: int) -> tuple[list[Hit], int]:
    out: list[Hit] = []
    used = 0
    dropped = 0
    for h in items:
        cost = estimate_tokens(h.text) + 8
        if used + cost > budget_tokens:
            dropped += 1
            continue
        used += cost
        out.append(h)
    return out, dropped
