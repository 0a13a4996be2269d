"""Inline completion: snapshot -> context -> prompt -> model stream -> post-process -> item.

Request lifecycle: one in-flight request per document (a newer one cancels the older, which
closes its HTTP stream so vLLM frees the slot); a debounce before the model is asked that adapts
to the typing speed (a moving average of the intervals between requests per document); a cache
keyed by the pruned prefix (the text just before the cursor and the rest of its line) that also
serves the user typing along an earlier suggestion.

Prompts are laid out for vLLM's prefix cache: the retrieved context stays the same while the
cursor stays on one line (new hits are appended after the old ones), the prefix window starts at
a line number aligned to 32 so that it moves rarely, and the suffix is bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import estimate_tokens
from hearth.indexer.types import Hit
from hearth.server.config import Settings
from hearth.server.model.client import ModelError
from hearth.server.model.prompts import (
    ContextSnippet,
    extract_chat_fill,
    render_chat_fill,
    render_fim,
)
from hearth.server.services.context import ContextResult, ContextService
from hearth.server.services.documents import Documents
from hearth.server.services.models import ModelRoles
from hearth.server.services.postprocess import decide_multiline, postprocess
from hearth.server.services.status import StatusService
from hearth.server.services.workspace import Workspace

log = logging.getLogger(__name__)

CACHE_KEY_CHARS = 200  # the pruned prefix: this much text before the cursor keys the cache
TYPE_ALONG_CHARS = 256  # at most this much typed along a cached suggestion is served from it
SUFFIX_MAX_CHARS = 1_200  # the suffix is bounded (it follows the cursor, so it never hits the prefix cache)
PREFIX_ALIGN_LINES = 32  # the prefix window starts on a multiple of this: it moves once every 32 lines
TYPING_PAUSE_S = 1.0  # intervals longer than this are pauses, not typing
SINGLE_LINE_MAX_TOKENS = 48
# A line's context is refreshed in the background once the editor has been quiet this long after a
# finished word; any newer completion request first cancels a refresh still waiting (a refresh that ran
# beside the next request on two cores made that request 4 ms slower at the median, 8 ms at p99).
REFRESH_IDLE_S = 0.15


class DocumentNotOpen(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class CompletionItemOut:
    id: str
    text: str
    line: int
    col: int  # code points; the item inserts at (line, col)


@dataclass
class _Cached:
    key: str  # the last CACHE_KEY_CHARS before the cursor
    rest: str  # the rest of the cursor's line
    text: str


@dataclass
class _LastContext:
    path: str
    line: int
    items: list[Hit]
    degraded: bool = False  # a source failed (e.g. the database is away): retrieve again next time


@dataclass
class _Typing:
    """Keystroke rhythm of one document: an exponential moving average of request intervals."""

    last: float = 0.0
    avg_s: float | None = None

    def tick(self, now: float) -> None:
        if self.last:
            gap = now - self.last
            if gap < TYPING_PAUSE_S:
                self.avg_s = gap if self.avg_s is None else 0.7 * self.avg_s + 0.3 * gap
        self.last = now


def adaptive_debounce_s(base_ms: int, avg_interval_s: float | None, model_latency_s: float | None = None) -> float:
    """How long to wait before asking the model, from the typing rhythm and the model's speed.

    ``base_ms`` 0 turns debouncing off. A slow typist (keystrokes 350 ms or more apart, or no
    rhythm known yet) waits ``base_ms``. A fast typist whose next keystroke the model can beat
    waits less than that, just enough that the answer still arrives before the next keystroke
    (the suggestion keeps up with the typing). When the model cannot answer between two
    keystrokes, the wait grows to a little more than the usual interval (at most 250 ms), so a
    burst of typing costs no model request (and no aborted generation) until it pauses.
    """
    if base_ms <= 0:
        return 0.0
    base = base_ms / 1000
    if avg_interval_s is None or avg_interval_s >= 0.35 or model_latency_s is None:
        return base  # (an unknown model speed is learnt from requests that are let through)
    slack = avg_interval_s - model_latency_s - 0.02
    if slack > 0:
        return min(base, slack)
    return max(base, min(0.25, avg_interval_s * 1.2))


@dataclass
class CompletionStats:
    requests: int = 0
    cancelled: int = 0
    shown: int = 0
    empty: int = 0
    errors: int = 0
    cache_hits: int = 0
    model_requests: int = 0
    accepted: int = 0
    partially_accepted: int = 0
    dismissed: int = 0
    accepted_chars: int = 0
    ids: dict[str, int] = field(default_factory=dict)  # item id -> length

    def as_json(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


class CompletionService:
    def __init__(
        self,
        settings: Settings,
        documents: Documents,
        workspace: Workspace,
        models: ModelRoles,
        status: StatusService,
        registry: LanguageRegistry,
    ) -> None:
        self.settings = settings
        self.documents = documents
        self.workspace = workspace
        self.models = models
        self.status = status
        self.registry = registry
        self.context: ContextService | None = None
        self.trace_sink: Callable[[dict[str, Any]], None] | None = None
        self.stats = CompletionStats()
        self.traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.last_trace: dict[str, Any] | None = None
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._cache: OrderedDict[str, list[_Cached]] = OrderedDict()
        self._ids = itertools.count(1)
        self._warned: dict[str, str] = {}  # warning key -> the problem text shown in the status
        self._typing: dict[str, _Typing] = {}
        self._last_context: dict[str, _LastContext] = {}
        self._model_latency_s: float | None = None  # moving average of whole model answers
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._refresh_waiting: set[asyncio.Task[None]] = set()  # refreshes still in their idle wait
        self._pending_refresh: dict[str, tuple[str | None, str, str, int, int, tuple[int, int]]] = {}

    # -- public API --------------------------------------------------------------------------
    async def complete(self, uri: str, line: int, col: int, *, debounce: bool = True) -> list[CompletionItemOut]:
        """Complete at (line, col) (0-based, code points); a newer request for the document wins."""
        self._typing.setdefault(uri, _Typing()).tick(time.monotonic())
        for waiting in self._refresh_waiting:
            waiting.cancel()  # background work never competes with a request in flight
        self._refresh_waiting.clear()
        previous = self._inflight.get(uri)
        if previous is not None and not previous.done():
            previous.cancel()
            self.stats.cancelled += 1
        task = asyncio.ensure_future(self._complete(uri, line, col, debounce))
        self._inflight[uri] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling() == 0:
                return []  # superseded by a newer request for this document: an empty answer
            raise  # this request itself was cancelled ($/cancelRequest)
        finally:
            if self._inflight.get(uri) is task:
                self._inflight.pop(uri, None)
            pending = self._pending_refresh.pop(uri, None)
            if pending is not None:
                self._refresh_context(uri, *pending)

    def record_feedback(self, item_id: str, *, accepted_chars: int | None, dismissed: bool = False) -> None:
        length = self.stats.ids.pop(item_id, None)
        if dismissed:
            self.stats.dismissed += 1
            return
        if length is None:
            return
        if accepted_chars is not None and accepted_chars < length:
            self.stats.partially_accepted += 1
            self.stats.accepted_chars += max(0, accepted_chars)
        else:
            self.stats.accepted += 1
            self.stats.accepted_chars += length

    def trace(self, uri: str | None = None) -> dict[str, Any] | None:
        if uri:
            return self.traces.get(uri)
        return self.last_trace

    # -- the pipeline --------------------------------------------------------------------------
    def debounce_s(self, uri: str) -> float:
        typing = self._typing.get(uri)
        return adaptive_debounce_s(
            self.settings.completion.debounce_ms, typing.avg_s if typing else None, self._model_latency_s
        )

    async def _complete(self, uri: str, line: int, col: int, debounce: bool) -> list[CompletionItemOut]:
        doc = self.documents.get(uri)
        if doc is None:
            raise DocumentNotOpen(uri)
        self.stats.requests += 1
        cfg = self.settings.completion
        started = time.perf_counter()
        eol = "\r\n" if "\r\n" in doc.text else "\n"
        text = doc.text.replace("\r\n", "\n") if eol == "\r\n" else doc.text
        lines = text.split("\n")
        line = max(0, min(line, len(lines) - 1))
        col = max(0, min(col, len(lines[line])))
        lo = max(0, line - cfg.prefix_lines) // PREFIX_ALIGN_LINES * PREFIX_ALIGN_LINES
        hi = min(len(lines), line + 1 + cfg.suffix_lines)
        prefix = "\n".join([*lines[lo:line], lines[line][:col]])
        suffix = "\n".join([lines[line][col:], *lines[line + 1 : hi]])
        if len(suffix) > SUFFIX_MAX_CHARS:
            cut = suffix.rfind("\n", 0, SUFFIX_MAX_CHARS)
            suffix = suffix[: cut if cut > 0 else SUFFIX_MAX_CHARS]
        trace: dict[str, Any] = {
            "id": None,
            "uri": uri,
            "position": {"line": line, "character": col},
            "stages": {},
            "context": [],
            "prompt": None,
            "raw": None,
            "text": None,
            "outcome": None,
        }
        rest_of_line = lines[line][col:]
        cached = self._from_cache(uri, prefix, rest_of_line)
        if cached:
            self.stats.cache_hits += 1
            trace["outcome"], trace["text"] = "cache", cached
            return self._finish(uri, trace, cached, line, col, started, eol)
        wait = self.debounce_s(uri) if debounce else 0.0
        trace["debounce_ms"] = round(wait * 1000, 1)
        last = self._last_context.get(uri)
        reuse = last is not None and not last.degraded and last.line == line and last.path == (doc.path or uri)

        def retrieve() -> Awaitable[ContextResult]:
            return self._context(doc.root, doc.path or "", text, line, col, (lo + 1, hi))

        early: asyncio.Future[ContextResult] | None = None
        if wait and cfg.enabled and not reuse:
            # A new line: retrieval runs during the debounce instead of after it (a newer keystroke cancels
            # both), so the user waits for max(debounce, context), not their sum.
            early = asyncio.ensure_future(retrieve())
        if wait:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                if early is not None:
                    early.cancel()
                raise
            started += wait  # the debounce is waiting, not work: traces time the work
        if not cfg.enabled:
            trace["outcome"] = "disabled"
            return self._finish(uri, trace, "", line, col, started, eol)

        await self.models.ensure_probed()
        self.status.update(models=self.models.status_json())
        mode = self.models.mode
        self._report_template_problem()

        t0 = time.perf_counter()
        if reuse and last is not None:
            # Typing within a line: the context of the line's first request, at no cost; a refresh
            # runs in the background and appends what it finds new for the next keystroke.
            items = last.items
            trace["context_reused"] = True
            if not (prefix[-1:].isalnum() or prefix[-1:] == "_"):
                # A word was finished: retrieve again once this request is answered (not during it,
                # which would slow it down) and append what is new for the next keystrokes.
                self._pending_refresh[uri] = (doc.root, doc.path or "", text, line, col, (lo + 1, hi))
        else:
            if early is not None:
                trace["context_during_debounce"] = True
            ctx = await (early if early is not None else retrieve())
            items = self._stable_context(uri, doc.path or uri, line, ctx.items, degraded=ctx.degraded)
            trace["context_timings"] = {k: round(v, 3) for k, v in ctx.timings_ms.items()}
        trace["stages"]["context_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        snippets = [ContextSnippet(h.path, h.start_line, h.end_line, h.text) for h in items]
        trace["context"] = [dict(h.as_json(), used=True) for h in items]
        t0 = time.perf_counter()
        multiline = {"always": True, "never": False}.get(cfg.multiline, None)
        if multiline is None:
            loaded = self.registry.for_path(doc.path or uri)
            multiline = decide_multiline(prefix, suffix, loaded.parser() if loaded else None)
        trace["multiline"] = multiline
        lang = self.registry.name_for_path(doc.path or uri)
        comment = "#"
        if lang and lang in self.registry.specs:
            comment = self.registry.specs[lang].comment
        max_tokens = cfg.max_tokens if multiline else min(cfg.max_tokens, SINGLE_LINE_MAX_TOKENS)
        if mode == "off":
            template = self.models.template or self.models.templates["qwen"]
            trace["prompt"] = render_fim(
                template,
                snippets=snippets,
                repo_name=Path(doc.root or ".").name,
                path=doc.path or uri,
                prefix=prefix,
                suffix=suffix,
                comment=comment,
            )
            trace["outcome"] = "model-down"
            trace["error"] = "; ".join(
                f"{role}: {st.detail}"
                for role, st in (("completion", self.models.completion), ("chat", self.models.chat))
            )
            self._warn_once("model-off", "no completion model reachable: " + trace["error"])
            return self._finish(uri, trace, "", line, col, started, eol)
        self._recovered("model-off")
        role = "completion" if mode == "fim" else "chat"
        try:
            if mode == "fim":
                assert self.models.template is not None and self.models.completion_client is not None
                prompt = render_fim(
                    self.models.template,
                    snippets=snippets,
                    repo_name=Path(doc.root or ".").name,
                    path=doc.path or uri,
                    prefix=prefix,
                    suffix=suffix,
                    comment=comment,
                )
                trace["prompt"] = prompt
                trace["stages"]["prompt_ms"] = round((time.perf_counter() - t0) * 1000, 3)
                stops = (["\n"] if not multiline else ["\n\n\n"]) + list(self.models.template.stop)
                raw = await self._generate_fim(prompt, max_tokens, stops, trace)
            else:
                messages = render_chat_fill(
                    snippets=snippets, path=doc.path or uri, language=lang, prefix=prefix, suffix=suffix
                )
                trace["prompt"] = messages[-1]["content"]
                trace["stages"]["prompt_ms"] = round((time.perf_counter() - t0) * 1000, 3)
                answer = await self._generate_chat(messages, max_tokens * 2, trace)
                trace["answer"] = answer
                raw = extract_chat_fill(answer, prefix, suffix)
        except ModelError as exc:
            self.stats.errors += 1
            trace["outcome"], trace["error"] = "error", str(exc)
            if exc.kind in ("down", "timeout"):
                self.models.mark_down(role, exc)
                self.status.update(models=self.models.status_json())
            self._warn_once(f"{role}-failing", f"{role} model: {exc}")
            return self._finish(uri, trace, "", line, col, started, eol)
        if self.models.mark_up(role):
            self.status.update(models=self.models.status_json())
        self._recovered(f"{role}-failing")
        trace["raw"] = raw
        t0 = time.perf_counter()
        out = postprocess(raw, prefix, suffix, multiline=multiline)
        trace["stages"]["postprocess_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        trace["text"] = out
        trace["outcome"] = "shown" if out else "empty"
        if out:
            self._remember(uri, prefix, rest_of_line, out)
        return self._finish(uri, trace, out, line, col, started, eol)

    def _refresh_context(
        self, uri: str, root: str | None, path: str, text: str, line: int, col: int, window: tuple[int, int]
    ) -> None:
        """Retrieve again in the background (one at a time per document), once the editor has been quiet for
        ``REFRESH_IDLE_S``, and merge the result."""
        running = self._refreshing.get(uri)
        if running is not None and not running.done():
            return

        async def refresh() -> None:
            task = asyncio.current_task()
            try:
                await asyncio.sleep(REFRESH_IDLE_S)
            finally:
                if task is not None:
                    self._refresh_waiting.discard(task)
            try:
                ctx = await self._context(root, path, text, line, col, window)
            except Exception as exc:  # a background refresh never disturbs completion
                log.debug("context refresh failed: %s", exc)
                return
            last = self._last_context.get(uri)
            if last is not None and last.line == line:
                self._stable_context(uri, last.path, line, ctx.items)

        task = asyncio.ensure_future(refresh())
        self._refreshing[uri] = task
        self._refresh_waiting.add(task)

    def _stable_context(
        self, uri: str, path: str, line: int, fresh: list[Hit], *, degraded: bool = False
    ) -> list[Hit]:
        """The context to use: while the cursor stays on one line, the previous request's context
        keeps its place (and its order) and only new hits are appended, so the prompt's leading
        tokens stay the same from keystroke to keystroke. On another line: the fresh context in a
        stable order (by path and line)."""
        budget = self.settings.completion.context_tokens
        last = self._last_context.get(uri)
        if last is None or last.line != line or last.path != path:
            items = sorted(fresh, key=lambda h: (h.path, h.start_line))
        else:
            have = {(h.path, h.start_line) for h in last.items}
            added = sorted(
                (h for h in fresh if (h.path, h.start_line) not in have), key=lambda h: (h.path, h.start_line)
            )
            items = [*last.items, *added]
            if added:
                fresh_keys = {(h.path, h.start_line) for h in fresh}
                # Over budget: drop old hits the new retrieval no longer finds (from the end), then new ones.
                while sum(estimate_tokens(h.text) for h in items) > budget:
                    stale = [i for i, h in enumerate(items) if (h.path, h.start_line) not in fresh_keys]
                    items.pop(stale[-1] if stale else len(items) - 1)
        self._last_context[uri] = _LastContext(path, line, items, degraded)
        while len(self._last_context) > 100:
            self._last_context.pop(next(iter(self._last_context)))
        return items

    async def _context(
        self, root: str | None, path: str, text: str, line: int, col: int, window: tuple[int, int]
    ) -> ContextResult:
        if self.context is None or root is None:
            return ContextResult([])
        try:
            repo = await asyncio.to_thread(self.workspace.handle, root)
        except Exception as exc:
            log.warning("index unavailable for completion context: %s", exc)
            return ContextResult([], degraded=True)
        return await self.context.for_completion(
            repo,
            path,
            text,
            line,
            col,
            budget_tokens=self.settings.completion.context_tokens,
            open_docs=self.documents.in_repo(root),
            prompt_window=window,
        )

    async def _generate_fim(self, prompt: str, max_tokens: int, stops: list[str], trace: dict[str, Any]) -> str:
        client = self.models.completion_client
        assert client is not None
        t0 = time.perf_counter()
        parts: list[str] = []
        limit_chars = int(max_tokens * self.models.chars_per_token * 3) + 64
        first = None
        deadline = self.settings.models.completion.timeout_ms / 1000
        self.stats.model_requests += 1
        try:
            async with asyncio.timeout(deadline):
                async for delta in client.stream_completion(prompt, max_tokens=max_tokens, stop=stops[:4]):
                    if first is None:
                        first = time.perf_counter()
                    parts.append(delta)
                    if sum(map(len, parts)) > limit_chars:
                        break  # a runaway answer: the rest would be discarded anyway
        except TimeoutError as exc:
            raise ModelError("timeout", f"no complete answer within {deadline:.1f}s") from exc
        trace["stages"]["model_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        self._note_latency(time.perf_counter() - t0)
        if first is not None:
            trace["stages"]["first_token_ms"] = round((first - t0) * 1000, 3)
        return "".join(parts)

    async def _generate_chat(self, messages: list[dict[str, str]], max_tokens: int, trace: dict[str, Any]) -> str:
        client = self.models.chat_client
        assert client is not None
        t0 = time.perf_counter()
        parts: list[str] = []
        # Completion through the chat role keeps the completion deadline: a late suggestion is useless.
        deadline = min(self.settings.models.chat.timeout_ms, self.settings.models.completion.timeout_ms) / 1000
        self.stats.model_requests += 1
        try:
            async with asyncio.timeout(deadline):
                async for delta in client.stream_chat(messages, max_tokens=max_tokens, temperature=0.0):
                    parts.append(delta)
                    if sum(map(len, parts)) > 64 * max_tokens:
                        break  # a runaway answer
        except TimeoutError as exc:
            raise ModelError("timeout", f"no complete answer within {deadline:.1f}s") from exc
        trace["stages"]["model_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return "".join(parts)

    # -- helpers -----------------------------------------------------------------------------------
    def _finish(
        self, uri: str, trace: dict[str, Any], text: str, line: int, col: int, started: float, eol: str = "\n"
    ) -> list[CompletionItemOut]:
        trace["stages"]["total_ms"] = round((time.perf_counter() - started) * 1000, 3)
        items = []
        if text:
            item_id = f"c-{next(self._ids)}"
            trace["id"] = item_id
            self.stats.shown += 1
            self.stats.ids[item_id] = len(text)
            if len(self.stats.ids) > 500:
                self.stats.ids.pop(next(iter(self.stats.ids)))
            items.append(CompletionItemOut(item_id, text.replace("\n", eol) if eol != "\n" else text, line, col))
        else:
            self.stats.empty += 1
        self.traces[uri] = trace
        self.traces.move_to_end(uri)
        while len(self.traces) > 50:
            self.traces.popitem(last=False)
        self.last_trace = trace
        if self.trace_sink is not None:
            try:
                self.trace_sink(trace)
            except Exception as exc:
                log.debug("trace not saved: %s", exc)
        return items

    def _from_cache(self, uri: str, prefix: str, rest: str) -> str | None:
        """A remembered suggestion for this prefix, or for an earlier one the user typed along."""
        for entry in reversed(self._cache.get(uri, [])):
            if entry.rest != rest:
                continue
            for typed_len in range(0, min(len(entry.text), TYPE_ALONG_CHARS, len(prefix) + 1)):
                head = prefix[: len(prefix) - typed_len]
                if head.endswith(entry.key) and entry.text.startswith(prefix[len(head) :]):
                    return entry.text[typed_len:]
        return None

    def _remember(self, uri: str, prefix: str, rest: str, text: str) -> None:
        entries = self._cache.setdefault(uri, [])
        entries.append(_Cached(prefix[-CACHE_KEY_CHARS:], rest, text))
        del entries[:-20]
        self._cache.move_to_end(uri)
        while len(self._cache) > 100:
            self._cache.popitem(last=False)

    def _note_latency(self, seconds: float) -> None:
        prev = self._model_latency_s
        self._model_latency_s = seconds if prev is None else 0.8 * prev + 0.2 * seconds

    def _warn_once(self, key: str, message: str) -> None:
        """Show a warning in the status once, until the problem has gone away."""
        if key in self._warned:
            return
        self._warned[key] = message
        self.status.update(problem=message)
        log.warning(message)

    def _recovered(self, key: str) -> None:
        message = self._warned.pop(key, None)
        if message is None:
            return
        if message in self.status.problems:
            self.status.problems.remove(message)
        log.info("recovered: %s", message)
        self.status.update()

    def _report_template_problem(self) -> None:
        problem = self.models.template_problem
        if problem and self.models.mode != "fim":
            fallback = "the chat model" if self.models.mode == "chat" else "nothing (completion is off)"
            self._warn_once("template", f"completion: {problem}; completing with {fallback} instead")
        elif not problem:
            self._recovered("template")

    def cancel_all(self) -> None:
        for t in [*self._inflight.values(), *self._refreshing.values()]:
            t.cancel()
