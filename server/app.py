"""The composition root: builds every object once and wires them together.

Nothing happens at import time. ``Hearth`` is the application the language server (and the
CLI's demo) drives; ``build_core`` opens the database and the indexer, which the CLI also uses.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearth.indexer.embedder import Embedder, HashingEmbedder, LocalMiniLM
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store, StoreError
from hearth.indexer.store.embedded import EmbeddedDatabaseError, EmbeddedPostgres
from hearth.server.config import Settings
from hearth.server.services.actions import ActionService
from hearth.server.services.chat import ChatService, Grounding
from hearth.server.services.completion import CompletionService
from hearth.server.services.context import ContextService, model_token_counter
from hearth.server.services.documents import Documents
from hearth.server.services.indexing import IndexingService, NullSink, ProgressSink
from hearth.server.services.models import ModelRoles
from hearth.server.services.status import StatusService
from hearth.server.services.workspace import Workspace

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    pass


def database_url(settings: Settings) -> str:
    """``database.url`` / HEARTH_DATABASE_URL, else the embedded server (started if needed)."""
    if settings.database.url:
        return settings.database.url
    try:
        pg = EmbeddedPostgres(settings.resolved_data_dir(), shared_buffers_mb=settings.database.shared_buffers_mb)
        return pg.ensure_running()
    except (EmbeddedDatabaseError, OSError, Exception) as exc:
        raise DatabaseUnavailable(
            f"no database: HEARTH_DATABASE_URL is not set and the embedded PostgreSQL could not start ({exc})"
        ) from exc


def make_embedder(settings: Settings) -> Embedder | None:
    cfg = settings.models.embedding
    if not settings.index.embed:
        return None
    if cfg.provider == "hashing":
        return HashingEmbedder()
    if cfg.provider == "openai":
        from hearth.server.model.embeddings import OpenAIEmbedder

        if not cfg.url:
            raise ValueError("models.embedding.provider is 'openai' but models.embedding.url is not set")
        return OpenAIEmbedder(cfg.url, model=cfg.model, api_key=cfg.api_key, batch_size=cfg.batch_size)
    return LocalMiniLM(threads=cfg.threads)


@dataclass
class Core:
    settings: Settings
    store: Store
    registry: LanguageRegistry
    embedder: Embedder | None
    indexer: Indexer
    context: ContextService

    def close(self) -> None:
        self.context.close()  # its background work first: nothing may use the pool once it is closed
        self.store.close()


def build_core(
    settings: Settings,
    registry: LanguageRegistry | None = None,
    *,
    embed: bool | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> Core:
    url = database_url(settings)
    try:
        store = Store(url).open()
    except StoreError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    registry = registry or LanguageRegistry.default()
    want_embed = settings.index.embed if embed is None else embed
    embedder = make_embedder(settings) if want_embed else None
    indexer = Indexer(
        store,
        registry,
        embedder,
        max_file_bytes=settings.index.max_file_kb * 1024,
        extra_ignore=settings.index.exclude,
        embed_batch=settings.models.embedding.batch_size,
    )
    context = ContextService(
        store,
        registry,
        embedder,
        source_timeout_s=settings.completion.context_timeout_ms / 1000,
        count_tokens=count_tokens,
    )
    return Core(settings, store, registry, embedder, indexer, context)


class Hearth:
    """Everything the language server uses, built once."""

    def __init__(self, settings: Settings, roots: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.registry = LanguageRegistry.default()
        self.documents = Documents()
        self.workspace = Workspace(list(roots))
        self.status = StatusService()
        self.models = ModelRoles(settings)
        self.completion = CompletionService(
            settings, self.documents, self.workspace, self.models, self.status, self.registry
        )
        self.grounding = Grounding(self.documents, self.workspace, self.models, self.registry)
        self.actions = ActionService(self.grounding)
        self.chat = ChatService(self.grounding)
        self.core: Core | None = None
        self.indexing: IndexingService | None = None
        self.ready = asyncio.Event()
        self.grounding.ready = self.ready
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_problem: Callable[[str], None] = lambda msg: None

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a background task; its failure is logged (never an unretrieved exception)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("background task failed: %s", exc)

    async def startup(self, sink: ProgressSink | None = None) -> None:
        """Open the database and the index, probe the models, index the folders (in the background)."""
        probe = self.spawn(self._probe_models())
        try:
            counter = model_token_counter(lambda: self.models.chars_per_token)
            self.core = await asyncio.to_thread(
                functools.partial(build_core, self.settings, self.registry, count_tokens=counter)
            )
        except (DatabaseUnavailable, ValueError, OSError) as exc:
            msg = str(exc)
            log.error("%s", msg)
            self.status.update(database={"state": "error", "detail": msg}, index={"state": "error", "detail": msg})
            self.on_problem(f"Hearth: {msg}. Completion works without repository context.")
            self.ready.set()
            await probe
            return
        core = self.core
        self.status.update(database={"state": "ok", "detail": f"pgvector {core.store.vector_version}"})
        self.workspace.indexer = core.indexer
        self.completion.context = core.context
        self.grounding.context, self.grounding.store = core.context, core.store
        self.completion.trace_sink = lambda t: self.spawn(
            asyncio.to_thread(core.store.save_trace, None, "completion", t)
        )
        self.indexing = IndexingService(core.indexer, self.status, embed=self.settings.index.embed)
        self.ready.set()
        await probe
        if self.settings.index.enabled and self.workspace.roots:
            open_paths = [d.path for d in self.documents.in_repo(str(self.workspace.roots[0])) if d.path]
            # The watcher starts once symbols and full text are in; embeddings fill in behind it.
            await self.indexing.index_roots(
                self.workspace.roots, sink or NullSink(), prefer_paths=open_paths, watch=self.settings.index.watch
            )
        else:
            self.status.update(index={"state": "idle" if self.workspace.roots else "disabled"})

    async def _probe_models(self) -> None:
        await self.models.probe()
        self.status.update(models=self.models.status_json())

    async def file_saved(self, root: str, rel_path: str) -> None:
        if self.indexing is not None:
            await self.indexing.files_changed(Path(root), [rel_path])

    def status_snapshot(self) -> dict[str, Any]:
        snap = self.status.snapshot()
        snap["completion_stats"] = self.completion.stats.as_json()
        return snap

    async def shutdown(self) -> None:
        self.completion.cancel_all()
        if self.indexing is not None:
            self.indexing.cancel()
            await self.indexing.stop_watching()
        for t in list(self._tasks):
            t.cancel()
        await self.models.aclose()
        if self.core is not None:
            await asyncio.to_thread(self.core.close)
