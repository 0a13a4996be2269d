"""Chat grounded in the repository: prompts for the chat role, streaming, conversations.

A prompt is the system text, then the repository context (both stable, first, for vLLM's
prefix cache), then the conversation's history, then the new turn. Its size is fitted to the
chat model's probed ``max_model_len``: the answer's reserve and the new turn come first, the
context gets at most half of what remains, the history the rest, trimmed oldest first.
Conversations are kept in PostgreSQL per repository (``Store`` / ``ChatQueries``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import tomllib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.store.db import Store, StoreError
from hearth.indexer.types import Hit
from hearth.server.model.client import ModelError
from hearth.server.services.context import ContextService, RepoHandle
from hearth.server.services.documents import Documents
from hearth.server.services.models import ModelRoles
from hearth.server.services.workspace import Workspace, uri_to_path

log = logging.getLogger(__name__)

DEFAULT_MAX_MODEL_LEN = 8192
SLASH_COMMANDS = ("/explain", "/tests", "/fix")
OnDelta = Callable[[str], None]


class ChatError(Exception):
    """A chat or action request that cannot be served; ``str(exc)`` is for the user."""


class BadRequest(ChatError):
    """Invalid parameters (range outside the document, URI outside the workspace, missing argument)."""


@dataclass(frozen=True, slots=True)
class Templates:
    system: str
    context_header: str
    context_item: str
    edit_rules: str
    tasks: dict[str, str]

    @classmethod
    def load(cls) -> Templates:
        text = resources.files("hearth.server.model").joinpath("templates").joinpath("chat.toml")
        data = tomllib.loads(text.read_text(encoding="utf-8"))
        return cls(
            system=data["system"]["text"],
            context_header=data["system"]["context_header"],
            context_item=data["system"]["context_item"],
            edit_rules=data["edit"]["rules"],
            tasks=dict(data["tasks"]),
        )

    def task(self, name: str, **values: Any) -> str:
        return self.tasks[name].format(**values)


@dataclass(frozen=True, slots=True)
class Target:
    """Code the user points at: a document's text and whole lines of it (0-based, inclusive)."""

    uri: str
    root: str | None
    path: str  # relative to the root; the file name outside a workspace
    text: str
    version: int | None
    start_line: int
    end_line: int
    language: str  # registry name, or "" when unknown

    @property
    def code(self) -> str:
        lines = self.text.split("\n")
        return "\n".join(lines[self.start_line : self.end_line + 1])

    def values(self) -> dict[str, Any]:
        return {
            "language": self.language or "text",
            "path": self.path,
            "start_line": self.start_line + 1,
            "end_line": self.end_line + 1,
            "code": self.code,
        }


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    sources: list[Hit]
    max_tokens: int
    budget: dict[str, int] = field(default_factory=dict)


@dataclass
class ChatAnswer:
    conversation_id: str
    text: str
    sources: list[dict[str, Any]]
    timings_ms: dict[str, float] = field(default_factory=dict)


class PromptBuilder:
    """Fits system text, context, history and the new turn into the chat model's window."""

    def __init__(self, templates: Templates, models: ModelRoles) -> None:
        self.templates = templates
        self.models = models

    def tokens(self, text: str) -> int:
        return int(len(text) / max(1.5, self.models.chars_per_token)) + 4

    def window(self) -> int:
        return self.models.chat.max_model_len or DEFAULT_MAX_MODEL_LEN

    def reserve(self) -> int:
        """Tokens kept for the answer."""
        return max(256, min(4096, self.window() // 4))

    def context_budget(self, system: str, turn: str) -> int:
        """Tokens the repository context may use (half of what the system text, turn and answer leave)."""
        free = self.window() - self.reserve() - self.tokens(system) - self.tokens(turn) - 32
        if free < 0:
            raise ChatError(
                f"the request is too long for the chat model ({self.tokens(turn)} tokens; its window is "
                f"{self.window()}); select less code"
            )
        return free // 2

    def build(
        self, system: str, hits: Sequence[Hit], history: Sequence[dict[str, str]], turn: str, *, root: str | None
    ) -> Prompt:
        t = self.templates
        items = [
            t.context_item.format(path=h.path, start_line=h.start_line, end_line=h.end_line,
                                  language=(h.language or ""), text=h.text.rstrip("\n"))
            for h in hits
        ]
        context = (t.context_header + "\n\n" + "\n\n".join(items)) if items else ""
        system_msg = system + ("\n\n" + context if context else "")
        free = self.window() - self.reserve() - self.tokens(system_msg) - self.tokens(turn) - 32
        kept: list[dict[str, str]] = []
        for msg in reversed(history):  # newest first; the oldest go when the window is full
            cost = self.tokens(msg["content"]) + 4
            if cost > free:
                break
            free -= cost
            kept.append(msg)
        kept.reverse()
        if kept and kept[0]["role"] == "assistant":
            kept = kept[1:]  # never start the history with an answer whose question was trimmed
        messages = [{"role": "system", "content": system_msg}, *kept, {"role": "user", "content": turn}]
        budget = {"window": self.window(), "reserve": self.reserve(), "history_kept": len(kept),
                  "history_dropped": len(history) - len(kept)}
        return Prompt(messages, list(hits), self.reserve(), budget)


def source_json(h: Hit, root: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": h.path, "start_line": h.start_line, "end_line": h.end_line,
                           "score": round(h.score, 6), "source": h.source}
    if root:
        out["uri"] = (Path(root) / h.path).as_uri()
    return out


class Grounding:
    """Resolves URIs and ranges against the workspace and open buffers; gathers context and streams."""

    def __init__(
        self, documents: Documents, workspace: Workspace, models: ModelRoles, registry: LanguageRegistry
    ) -> None:
        self.documents = documents
        self.workspace = workspace
        self.models = models
        self.registry = registry
        self.templates = Templates.load()
        self.prompts = PromptBuilder(self.templates, models)
        self.context: ContextService | None = None
        self.store: Store | None = None
        self.ready: asyncio.Event | None = None  # set once the database is open (or known to be down)

    async def wait_ready(self, timeout_s: float = 15.0) -> None:
        if self.ready is not None and not self.ready.is_set():
            try:
                await asyncio.wait_for(self.ready.wait(), timeout_s)
            except TimeoutError:
                log.warning("chat: the database is not ready after %.0f s; answering without it", timeout_s)

    # -- documents and ranges -----------------------------------------------------------------
    def document(self, uri: str) -> tuple[str | None, str, str, int | None]:
        """(root, path, text, version) of a document in the workspace; BadRequest otherwise."""
        if not uri:
            raise BadRequest("missing argument: uri")
        loc = self.workspace.locate(uri)
        if loc is None:
            raise BadRequest(f"{uri} is outside the workspace folders")
        doc = self.documents.get(uri)
        if doc is not None:
            return loc.root, loc.path, doc.text, doc.version
        p = uri_to_path(uri)
        try:
            text = p.read_text(encoding="utf-8") if p else None
        except (OSError, UnicodeDecodeError):
            text = None
        if text is None:
            raise BadRequest(f"{uri} is neither open nor a readable file")
        return loc.root, loc.path, text, None

    def target(
        self, uri: str, start: tuple[int, int] | None, end: tuple[int, int] | None, *, whole_definition: bool = False
    ) -> Target:
        """The lines a request points at: the selection's lines, or the definition around an empty one
        (around any selection within one line when ``whole_definition``)."""
        root, path, text, version = self.document(uri)
        lines = text.split("\n")
        n = len(lines)
        if start is None or end is None:
            raise BadRequest("missing argument: range")
        for (line, col), what in ((start, "start"), (end, "end")):
            if line < 0 or col < 0 or line >= n or (line == n - 1 and col > len(lines[-1])) or col > len(lines[line]):
                if not (line == n and col == 0):
                    raise BadRequest(
                        f"the range's {what} {line}:{col} is outside the document ({n} lines)"
                    )
        if end < start:
            raise BadRequest("the range ends before it starts")
        s_line, e_line = start[0], min(end[0], n - 1)
        if start == end or (whole_definition and start[0] == end[0]):
            s_line, e_line = self.definition_around(path, text, start[0])
        elif end[1] == 0 and end[0] > start[0]:
            e_line = end[0] - 1
        return Target(uri, root, path, text, version, s_line, e_line, self.registry.name_for_path(path) or "")

    def definition_around(self, path: str, text: str, line: int) -> tuple[int, int]:
        """The innermost definition (function, class, ...) around ``line`` (0-based), or the line itself.

        The language's tags query runs over the nodes that intersect the line only: a plain parse and a
        few matches (~2 ms for a 600-line file), not the indexer's whole-file parse (symbols, references and
        chunks: 30 ms for the same file)."""
        from tree_sitter import QueryCursor

        from hearth.indexer.parse import last_row

        lang = self.registry.for_path(path)
        query = lang.queries.get("tags") if lang is not None else None
        if lang is None or query is None:
            return (line, line)
        tree = lang.parser().parse(text.encode("utf-8", "replace"))
        cursor = QueryCursor(query)
        cursor.set_point_range((line, 0), (line + 1, 0))
        best: tuple[int, int] | None = None
        for name, nodes in cursor.captures(tree.root_node).items():
            if not name.startswith("definition."):
                continue
            for node in nodes:
                first, last = node.start_point[0], last_row(node)
                if first <= line <= last and (best is None or last - first < best[1] - best[0]):
                    best = (first, last)
        return best if best else (line, line)

    def repo(self, root: str | None) -> RepoHandle | None:
        if root is None:
            return None
        try:
            return self.workspace.handle(root)
        except (StoreError, Exception) as exc:  # no index: answer without repository context
            log.warning("no index for %s: %s", root, exc)
            return None

    async def gather(self, root: str | None, query: str, target: Target | None, budget: int) -> list[Hit]:
        if self.context is None or root is None or budget <= 0:
            return []
        repo = await asyncio.to_thread(self.repo, root)
        if repo is None:
            return []
        try:
            res = await self.context.for_chat(
                repo, query, path=target.path if target else None, selection=target.code if target else None,
                budget_tokens=budget,
            )
        except Exception as exc:  # retrieval failing degrades the answer, it does not fail it
            log.warning("chat context failed: %s", exc)
            return []
        return list(res.items)

    # -- the model ----------------------------------------------------------------------------
    async def stream(self, prompt: Prompt, on_delta: OnDelta | None, *, temperature: float = 0.2) -> str:
        """Stream the chat model's answer, calling ``on_delta`` per piece; the whole text."""
        client = self.models.chat_client
        if client is None:
            raise ChatError("no chat model is configured (models.chat.url or HEARTH_CHAT_URL)")
        parts: list[str] = []
        try:
            async for piece in client.stream_chat(prompt.messages, max_tokens=prompt.max_tokens,
                                                  temperature=temperature):
                parts.append(piece)
                if on_delta is not None:
                    on_delta(piece)
        except ModelError as exc:
            if exc.kind in ("down", "timeout"):
                self.models.mark_down("chat", exc)
            partial = " (after a partial answer)" if parts else ""
            raise ChatError(f"the chat model failed{partial}: {exc.short()}") from exc
        return "".join(parts)


class ChatService:
    """``hearth/chat`` and ``hearth/conversations``."""

    def __init__(self, grounding: Grounding) -> None:
        self.g = grounding

    async def chat(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        uri: str | None = None,
        start: tuple[int, int] | None = None,
        end: tuple[int, int] | None = None,
        files: Sequence[str] = (),
        on_delta: OnDelta | None = None,
        on_first_token: Callable[[], Awaitable[None] | None] | None = None,
    ) -> ChatAnswer:
        t0 = time.perf_counter()
        g = self.g
        if not message or not message.strip():
            raise BadRequest("missing argument: message")
        target: Target | None = None
        if uri and start is not None:
            target = g.target(uri, start, end)
            root = target.root
        elif uri:
            root = g.document(uri)[0]
        else:
            root = str(g.workspace.roots[0]) if g.workspace.roots else None
        command, _, rest = message.strip().partition(" ")
        system = g.templates.system
        if command in SLASH_COMMANDS:
            if target is None:
                raise BadRequest(f"{command} needs a selection (uri and range)")
            values = target.values()
            if command == "/explain":
                turn = g.templates.task("explain", **values) + (f"\n\n{rest}" if rest else "")
            elif command == "/tests":
                turn = g.templates.task("tests", test_path=tests_path_for(target.path, target.language), **values)
            else:
                turn = g.templates.task("fix", diagnostic=rest or "the bug in this code", **values)
            query = (rest + "\n" + target.code) if rest else target.code
        elif target is not None:
            turn = g.templates.task("chat_selection", question=message.strip(), **target.values())
            query = message
        else:
            turn = g.templates.task("chat", question=message.strip())
            query = message
        extra_hits = [self._file_hit(f, root) for f in files]
        budget = g.prompts.context_budget(system, turn)
        extra_hits = _fit(extra_hits, budget, g.prompts)
        used = sum(g.prompts.tokens(h.text) for h in extra_hits)

        conv_id = conversation_id or uuid.uuid4().hex
        await g.wait_ready()
        repo_task = asyncio.ensure_future(self._history(conv_id, root, message, conversation_id is not None))
        hits = await g.gather(root, query, target, budget - used)
        history = await repo_task
        prompt = g.prompts.build(system, [*extra_hits, *hits], history, turn, root=root)
        timings = {"prepare_ms": (time.perf_counter() - t0) * 1000}
        first = True

        def delta(piece: str) -> None:
            nonlocal first
            if first:
                first = False
                timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
            if on_delta is not None:
                on_delta(piece)

        text = await g.stream(prompt, delta)
        sources = [source_json(h, root) for h in prompt.sources]
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        await self._save(conv_id, turn, text, sources)
        return ChatAnswer(conv_id, text, sources, timings)

    def _file_hit(self, ref: str, root: str | None) -> Hit:
        uri = ref if "://" in ref else ((Path(root) / ref).as_uri() if root else ref)
        _, path, text, _ = self.g.document(uri)
        n = text.count("\n") + (0 if text.endswith("\n") else 1)
        return Hit(path, 1, max(1, n), 1.0, "file", text, None, None, self.g.registry.name_for_path(path))

    async def _history(self, conv_id: str, root: str | None, title: str, resume: bool) -> list[dict[str, str]]:
        store = self.g.store
        if store is None:
            return []

        def work() -> list[dict[str, str]]:
            repo_id = store.ensure_repo(root) if root else None
            store.ensure_conversation(conv_id, repo_id, title.strip().split("\n", 1)[0][:80] or "chat")
            if not resume:
                return []
            return [{"role": m.role, "content": m.content} for m in store.messages(conv_id)]

        try:
            return await asyncio.to_thread(work)
        except StoreError as exc:
            log.warning("chat history unavailable: %s", exc)
            return []

    async def _save(self, conv_id: str, turn: str, answer: str, sources: list[dict[str, Any]]) -> None:
        store = self.g.store
        if store is None:
            return

        def work() -> None:
            store.add_message(conv_id, "user", turn)
            store.add_message(conv_id, "assistant", answer, sources)

        try:
            await asyncio.to_thread(work)
        except StoreError as exc:
            log.warning("could not save the conversation: %s", exc)

    async def conversations(self) -> list[dict[str, Any]]:
        await self.g.wait_ready()
        store = self.g.store
        if store is None:
            return []
        roots = [str(r) for r in self.g.workspace.roots]

        def work() -> list[dict[str, Any]]:
            ids = [i for i in (store.find_repo(r) for r in roots) if i is not None]
            return [
                {"conversationId": c.id, "title": c.title, "updated": c.updated.isoformat()}
                for c in store.conversations(ids)
            ]

        return await asyncio.to_thread(work)


def _fit(hits: list[Hit], budget: int, prompts: PromptBuilder) -> list[Hit]:
    out = []
    for h in hits:
        cost = prompts.tokens(h.text)
        if cost > budget:
            keep = int(budget * prompts.models.chars_per_token)
            if keep < 200:
                break
            text = h.text[:keep]
            h = Hit(h.path, h.start_line, h.start_line + text.count("\n"), h.score, h.source, text, None, None,
                    h.language)
            cost = prompts.tokens(text)
        budget -= cost
        out.append(h)
    return out


def tests_path_for(path: str, language: str) -> str:
    """Where tests for ``path`` go, by the language's convention."""
    p = Path(path)
    if language == "python":
        return (Path("tests") / f"test_{p.stem}.py").as_posix()
    if language == "go":
        return p.with_name(f"{p.stem}_test.go").as_posix()
    if language in ("typescript", "tsx", "javascript"):
        return p.with_name(f"{p.stem}.test{p.suffix}").as_posix()
    if language == "rust":
        return path  # Rust unit tests live in the file, in a #[cfg(test)] module
    return p.with_name(f"test_{p.name}").as_posix()
