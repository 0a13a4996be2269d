"""Indexing control: background runs for the workspace folders, single files on save.

One process per repository indexes (a PostgreSQL advisory lock); the others follow. Progress
goes to a ``ProgressSink`` (``$/progress`` in the editor) and to the status service.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from hearth.indexer.pipeline import Cancelled, Indexer, Progress
from hearth.indexer.store.db import StoreError
from hearth.indexer.watch import Watcher
from hearth.server.services.status import StatusService

log = logging.getLogger(__name__)


class ProgressSink(Protocol):
    async def begin(self, title: str, message: str) -> None: ...
    def report(self, message: str, percentage: int | None) -> None: ...
    def end(self, message: str) -> None: ...


class NullSink:
    async def begin(self, title: str, message: str) -> None:
        return None

    def report(self, message: str, percentage: int | None) -> None:
        return None

    def end(self, message: str) -> None:
        return None


class IndexingService:
    def __init__(self, indexer: Indexer, status: StatusService, *, embed: bool = True) -> None:
        self.indexer = indexer
        self.status = status
        self.embed = embed
        self._cancel = threading.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self.watchers: dict[str, Watcher] = {}
        self._embed_tasks: dict[str, asyncio.Task[None]] = {}
        self._embed_prefer: dict[str, set[str]] = {}

    @property
    def embeds(self) -> bool:
        return self.embed and self.indexer.embedder is not None

    async def index_roots(
        self,
        roots: Sequence[Path],
        sink: ProgressSink | None = None,
        prefer_paths: Sequence[str] = (),
        *,
        watch: bool = False,
    ) -> None:
        """Index the roots. With ``watch``, each root's watcher starts as soon as its symbols and full
        text are in, and the embeddings are computed after that (the open files first), so a save made
        during a long embedding run is searchable at once."""
        sink = sink or NullSink()
        if not watch:
            for root in roots:
                await self.index_root(root, sink, prefer_paths)
            return
        for root in roots:
            await self.index_root(root, sink, prefer_paths, embed=False, embeddings_next=self.embeds)
            await self.watch([root])
        if self.embeds:
            for root in roots:
                await self.embed_root(root, sink, prefer_paths)

    async def index_root(
        self,
        root: Path,
        sink: ProgressSink,
        prefer_paths: Sequence[str] = (),
        *,
        embed: bool | None = None,
        embeddings_next: bool = False,
    ) -> None:
        """One run over the root (or wait for the one in progress). ``embeddings_next``: the caller embeds
        next, so the status says "embedding" rather than idle when the run ends."""
        key = str(root.resolve())
        existing = self._running.get(key)
        if existing is not None and not existing.done():
            await existing
            return
        task = asyncio.ensure_future(
            self._index(root, sink, prefer_paths, self.embed if embed is None else embed, embeddings_next)
        )
        self._running[key] = task
        await task

    async def embed_root(self, root: Path, sink: ProgressSink, prefer_paths: Sequence[str] = ()) -> None:
        """Embed every chunk of the root's snapshot that has no embedding yet, with progress; the
        background embedding of saved files waits for it rather than running beside it."""
        if not self.embeds:
            return
        key = str(root.resolve())
        running = self._embed_tasks.get(key)
        if running is not None and not running.done():
            await running
        task = asyncio.ensure_future(self._embed_all(root, sink, prefer_paths))
        self._embed_tasks[key] = task
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
        if self._embed_prefer.get(key):
            self.embed_later(root, [])

    async def _embed_all(self, root: Path, sink: ProgressSink, prefer_paths: Sequence[str]) -> None:
        loop = asyncio.get_running_loop()
        await sink.begin("Hearth: embedding", f"embedding {root.name}")

        def progress(p: Progress) -> None:
            if p.phase == "follow":
                self.status.update(index={"state": "following", "files": p.done, "detail": p.message})
                msg = p.message
            else:
                self.status.update(index={"state": "embedding", "embedded": p.done, "chunks": p.total})
                msg = f"embeddings {p.done}/{p.total}"
            loop.call_soon_threadsafe(sink.report, msg, int(100 * p.done / p.total) if p.total else None)

        try:
            n = await asyncio.to_thread(
                self.indexer.embed_exclusive, root, progress=progress, cancel=self._cancel, prefer_paths=prefer_paths
            )
        except Cancelled:
            sink.end("cancelled")
            self.status.update(index={"state": "idle"})
            return
        except Exception as exc:
            log.exception("embedding %s failed", root)
            sink.end(f"failed: {exc}")
            self.status.update(index={"state": "error", "detail": f"embedding: {exc}"})
            return
        await self.refresh_counts(root)
        sink.end(f"{n} chunks embedded")

    async def _index(
        self, root: Path, sink: ProgressSink, prefer_paths: Sequence[str], embed: bool, embeddings_next: bool = False
    ) -> None:
        loop = asyncio.get_running_loop()
        await sink.begin("Hearth: indexing", f"scanning {root.name}")
        self.status.update(index={"state": "indexing", "done": 0, "total": 0})

        def progress(p: Progress) -> None:
            pct = int(100 * p.done / p.total) if p.total else None
            if p.phase == "follow":
                self.status.update(index={"state": "following", "files": p.done, "detail": p.message})
                msg = p.message
            elif p.phase == "parse":
                self.status.update(index={"state": "indexing", "done": p.done, "total": p.total})
                msg = f"{p.done}/{p.total} files"
            elif p.phase == "embed":
                self.status.update(index={"state": "embedding", "embedded": p.done, "chunks": p.total})
                msg = f"embeddings {p.done}/{p.total}"
            else:
                msg = p.message
            loop.call_soon_threadsafe(sink.report, msg, pct)

        def run() -> str:
            summary = self.indexer.index_exclusive(
                root,
                embed=embed,
                progress=progress,
                cancel=self._cancel,
                prefer_paths=prefer_paths,
                on_follow=lambda: log.info("another Hearth process is indexing %s; following it", root),
            )
            return (
                f"indexed {summary.files_indexed} new files, {summary.files_unchanged} unchanged, "
                f"{summary.chunks} chunks, {summary.embedded} embedded in {summary.seconds:.1f}s"
            )

        try:
            message = await asyncio.to_thread(run)
        except Cancelled:
            sink.end("cancelled")
            self.status.update(index={"state": "idle"})
            return
        except (StoreError, OSError) as exc:
            log.error("indexing %s failed: %s", root, exc)
            sink.end(f"failed: {exc}")
            self.status.update(index={"state": "error", "detail": str(exc)})
            return
        except Exception as exc:
            log.exception("indexing %s failed", root)
            sink.end(f"failed: {exc}")
            self.status.update(index={"state": "error", "detail": str(exc)})
            return
        await self.refresh_counts(root, embeddings_next=embeddings_next)
        sink.end(message + (" (embeddings next)" if embeddings_next else ""))
        log.info("%s: %s", root, message)

    async def refresh_counts(self, root: Path, *, embeddings_next: bool = False) -> None:
        def counts() -> dict[str, int]:
            repo_id, snap, _ = self.indexer.snapshot_for(root)
            emb = self.indexer.embedder
            return self.indexer.store.counts(repo_id, snap, emb.name if emb else None)

        try:
            c = await asyncio.to_thread(counts)
        except StoreError as exc:
            self.status.update(index={"state": "error", "detail": str(exc)})
            return
        pending = max(0, c["chunks"] - c["embedded"])
        state = "embedding" if embeddings_next and pending else "idle"
        self.status.update(index={"state": state, **c, "pending": pending})

    async def files_changed(self, root: Path, rel_paths: Sequence[str]) -> None:
        """Files saved or changed on disk: through the root's watcher queue when it watches, else at once."""
        watcher = self.watchers.get(str(root.resolve()))
        if watcher is not None and watcher.running:
            watcher.submit(rel_paths)
            return
        await self._apply_paths(root, list(rel_paths))

    async def _apply_paths(self, root: Path, rel_paths: list[str]) -> None:
        """Symbols and full text now; embeddings behind, for the changed files first."""
        try:
            await asyncio.to_thread(self.indexer.update_paths, root, rel_paths, embed=False)
        except StoreError as exc:
            log.warning("cannot update the index for %s: %s", rel_paths[:3], exc)
            return
        await self.refresh_counts(root)
        self.embed_later(root, rel_paths)

    # -- watching ------------------------------------------------------------------------------
    async def watch(self, roots: Sequence[Path]) -> None:
        """Keep each root fresh from file-system events (idempotent)."""
        for root in roots:
            key = str(root.resolve())
            if key in self.watchers:
                continue

            async def apply(paths: list[str], r: Path = root) -> None:
                await self._apply_paths(r, paths)

            async def full(reason: str, r: Path = root) -> None:
                await self.index_root(r, NullSink(), embed=False)
                self.embed_later(r, [])

            watcher = Watcher(root, self.indexer.policy(root), apply, full)
            try:
                await watcher.start()
            except OSError as exc:  # e.g. out of inotify watches
                log.warning("cannot watch %s (%s); the index follows saves only", root, exc)
                continue
            self.watchers[key] = watcher

    async def stop_watching(self) -> None:
        watchers, self.watchers = list(self.watchers.values()), {}
        for w in watchers:
            await w.stop()
        for t in list(self._embed_tasks.values()):
            t.cancel()

    def embed_later(self, root: Path, prefer_paths: Sequence[str]) -> None:
        """Embed what is missing in the background, the given paths first; one task per root."""
        if not self.embed or self.indexer.embedder is None:
            return
        key = str(root.resolve())
        self._embed_prefer.setdefault(key, set()).update(prefer_paths)
        task = self._embed_tasks.get(key)
        if task is None or task.done():
            self._embed_tasks[key] = asyncio.ensure_future(self._embed_loop(root, key))

    async def _embed_loop(self, root: Path, key: str) -> None:
        def step(prefer: list[str]) -> int:
            repo_id, snap, _ = self.indexer.snapshot_for(root)
            return self.indexer.embed_pending(repo_id, snap, prefer_paths=prefer, limit_batches=2, cancel=self._cancel)

        try:
            while True:
                prefer = sorted(self._embed_prefer.pop(key, set()))
                n = await asyncio.to_thread(step, prefer)
                if n == 0 and not self._embed_prefer.get(key):
                    break
            await self.refresh_counts(root)
        except (Cancelled, asyncio.CancelledError):
            return
        except Exception:
            log.exception("embedding for %s failed", root)

    def cancel(self) -> None:
        self._cancel.set()
