"""Keep the index fresh: a watchdog observer feeds an asyncio queue that coalesces bursts.

The observer's thread only translates events into workspace-relative paths and hands them to the
event loop with ``call_soon_threadsafe``; everything else happens on the loop. A consumer waits for
the first change, then keeps collecting until the tree has been quiet for ``debounce_s`` (or
``max_wait_s`` has passed, or ``max_batch`` paths are pending) and applies the batch with one call:
a ``git checkout`` that touches 5,000 files becomes a few ``update_paths`` batches, not 5,000
re-parses. Deletes and renames arrive as paths that no longer exist (the pipeline removes them);
a renamed directory arrives as the old and the new directory (the pipeline expands both).

Two kinds of change need the whole tree: ``.git/HEAD`` (a branch switch: a full run, which
re-parses only unseen content because everything is content-addressed and a new snapshot starts
as a copy of the previous one) and an ignore file (the policy is invalidated and a full run
indexes or drops what the new rules say). Both replace the pending path batch.

LSP ``didSave`` goes through the same queue (``submit``), so a save seen by both the editor and
the file system is indexed once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from hearth.indexer.walk import ALWAYS_SKIP_DIRS, IgnorePolicy

log = logging.getLogger(__name__)

IGNORE_FILES = frozenset({".gitignore", ".hearthignore"})
# Changes only: without a filter inotify also reports every open and read-only close, which on a
# large tree (the indexer reading it) overflows the kernel queue.
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
GIT_FILES = {".git/HEAD": "head", ".git/info/exclude": "ignore"}

ApplyPaths = Callable[[list[str]], Awaitable[object]]
FullRun = Callable[[str], Awaitable[object]]


@dataclass
class WatchStats:
    """What the watcher did; tests and the status line read it."""

    events: int = 0  # raw events handed to the loop
    batches: int = 0  # update_paths calls
    paths: int = 0  # paths in those calls
    full_runs: int = 0  # branch switches and ignore-rule changes
    last_batch: list[str] = field(default_factory=list)


class _Handler(FileSystemEventHandler):
    """Runs on the observer thread: turn an event into relative paths, pass them to the loop."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        if event.is_directory and event.event_type == "modified":
            return  # a directory's mtime changes with every file in it; the files send their own events
        paths = [event.src_path]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(dest)
        for p in paths:
            self.watcher._from_thread(p if isinstance(p, str) else p.decode("utf-8", "surrogateescape"))


class Watcher:
    """Watches one workspace root and applies coalesced batches of changes.

    ``apply_paths(paths)`` re-checks workspace-relative paths (``Indexer.update_paths``);
    ``full_run(reason)`` re-indexes the whole root (``Indexer.index``). Both are awaited on the loop,
    one at a time, so batches never overlap.
    """

    def __init__(
        self,
        root: Path,
        policy: IgnorePolicy,
        apply_paths: ApplyPaths,
        full_run: FullRun,
        *,
        debounce_s: float = 0.2,
        max_wait_s: float = 2.0,
        max_batch: int = 2_000,
    ) -> None:
        self.root = root.resolve()
        self.policy = policy
        self.apply_paths = apply_paths
        self.full_run = full_run
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self.max_batch = max_batch
        self.stats = WatchStats()
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._observer: BaseObserver | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the observer (recursive; a large tree takes a moment, off the loop) and the consumer."""
        self._loop = asyncio.get_running_loop()
        observer = Observer()
        observer.schedule(_Handler(self), str(self.root), recursive=True, event_filter=EVENTS)
        await asyncio.to_thread(observer.start)
        self._observer = observer
        self._task = asyncio.ensure_future(self._consume())
        log.info("watching %s", self.root)

    async def stop(self) -> None:
        if self._observer is not None:
            observer, self._observer = self._observer, None
            observer.stop()
            await asyncio.to_thread(observer.join, 5)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- input --------------------------------------------------------------------------------
    def _from_thread(self, abs_path: str) -> None:
        item = self.classify(abs_path)
        if item is not None and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._put, item)
            except RuntimeError:
                pass  # the loop is closing

    def _put(self, item: tuple[str, str]) -> None:
        self.stats.events += 1
        self._idle.clear()
        self._queue.put_nowait(item)

    def submit(self, rel_paths: Iterable[str]) -> None:
        """Changes reported by the editor (didSave, didChangeWatchedFiles); call on the loop."""
        for rel in rel_paths:
            item = self.classify(str(self.root / rel))
            if item is not None:
                self._put(item)

    def classify(self, abs_path: str) -> tuple[str, str] | None:
        """("path", rel), ("head", rel) or ("ignore", rel) for an event path; None to drop it."""
        rel = self.policy.relative(abs_path)
        if rel is None or rel == ".":
            return None
        kind = GIT_FILES.get(rel)
        if kind is not None:
            return (kind, rel)
        parts = PurePosixPath(rel).parts
        if any(part in ALWAYS_SKIP_DIRS for part in parts[:-1]) or parts[-1] in (".git",):
            return None
        if parts[-1] in IGNORE_FILES:
            return ("ignore", rel)
        return ("path", rel)

    # -- consumer -----------------------------------------------------------------------------
    async def quiet(self, timeout: float | None = None) -> None:
        """Wait until every change received so far has been applied (tests, benchmarks)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _consume(self) -> None:
        while True:
            first = await self._queue.get()
            pending: dict[str, None] = {}  # ordered set of paths
            full: str | None = None
            started = time.monotonic()
            item: tuple[str, str] | None = first
            while True:
                if item is not None:
                    kind, rel = item
                    if kind == "path":
                        pending[rel] = None
                    else:
                        full = full or ("branch switch" if kind == "head" else f"ignore rules changed ({rel})")
                        if kind == "ignore":
                            self.policy.invalidate(rel)
                if len(pending) >= self.max_batch:
                    break
                wait = min(self.debounce_s, self.max_wait_s - (time.monotonic() - started))
                if wait <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), wait)
                except TimeoutError:
                    break
            try:
                if full is not None:
                    # A full run covers every pending path too.
                    self.stats.full_runs += 1
                    log.info("%s: %s; re-indexing", self.root, full)
                    await self.full_run(full)
                elif pending:
                    batch = list(pending)
                    self.stats.batches += 1
                    self.stats.paths += len(batch)
                    self.stats.last_batch = batch
                    await self.apply_paths(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applying file changes under %s failed", self.root)
            if self._queue.empty():
                self._idle.set()
