"""What Hearth tells the user about itself: index state, model health, one message.

The protocol layer subscribes with ``on_change``; updates are coalesced (at most one every
``min_interval_s``) so that indexing progress does not flood the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class StatusService:
    def __init__(self, min_interval_s: float = 0.25) -> None:
        self.index: dict[str, Any] = {
            "state": "starting",
            "files": 0,
            "chunks": 0,
            "pending": 0,
            "embedded": 0,
            "skipped": 0,
        }
        self.models: dict[str, Any] = {
            "completion": {"state": "probing", "mode": "off"},
            "chat": {"state": "probing"},
        }
        self.database: dict[str, Any] = {"state": "starting", "detail": ""}
        self.problems: list[str] = []
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._min_interval = min_interval_s
        self._last_sent = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_change(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(fn)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def snapshot(self) -> dict[str, Any]:
        health = "ok"
        msgs = []
        if self.database["state"] == "error":
            health = "error"
            msgs.append(f"database: {self.database['detail']}")
        if self.index["state"] == "error":
            health = "error"
            msgs.append(f"index: {self.index.get('detail', 'failed')}")
        comp, chat = self.models.get("completion", {}), self.models.get("chat", {})
        mode = comp.get("mode", "off")
        probing = comp.get("state") == "probing"
        if probing:
            msgs.append("checking the model servers")
        elif mode == "off":
            health = "warning" if health == "ok" else health
            down = [f"{role}: {m.get('detail', '')}" for role, m in self.models.items() if m.get("state") == "down"]
            msgs.append("no model reachable" + (f" ({'; '.join(down)})" if down else " (set HEARTH_MODEL_URL)"))
        elif comp.get("state") == "down" or chat.get("state") == "down":
            health = "warning" if health == "ok" else health
        if self.problems:
            health = "warning" if health == "ok" else health
            msgs.extend(self.problems[-2:])
        idx = self.index
        if idx["state"] == "indexing":
            head = f"Indexing {idx.get('done', 0)}/{idx.get('total', 0)} files"
        elif idx["state"] == "embedding":
            head = f"Embedding {idx.get('embedded', 0)}/{idx.get('chunks', 0)} chunks"
        elif idx["state"] == "idle":
            head = f"Indexed {idx['files']:,} files ({idx['chunks']:,} chunks)"
        else:
            head = f"Index {idx['state']}"
        if mode != "off":
            head += f"; completion: {comp.get('model')} ({mode.upper() if mode == 'fim' else 'chat fill-in'})"
        message = "; ".join([head, *msgs])
        return {
            "health": health,
            "quiescent": idx["state"] in ("idle", "error", "disabled"),
            "message": message,
            "index": dict(idx),
            "models": self.models,
            "database": dict(self.database),
        }

    def update(
        self,
        *,
        index: dict[str, Any] | None = None,
        models: dict[str, Any] | None = None,
        database: dict[str, Any] | None = None,
        problem: str | None = None,
    ) -> None:
        if index:
            self.index.update(index)
        if models:
            self.models = models
        if database:
            self.database.update(database)
        if problem and problem not in self.problems:
            self.problems.append(problem)
        self._schedule()

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None or not self._listeners:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(self._schedule)
            return
        if self._pending is not None:
            return
        delay = max(0.0, self._min_interval - (time.monotonic() - self._last_sent))
        self._pending = loop.call_later(delay, self._emit)

    def _emit(self) -> None:
        self._pending = None
        self._last_sent = time.monotonic()
        snap = self.snapshot()
        for fn in self._listeners:
            try:
                fn(snap)
            except Exception:
                log.exception("status listener failed")
