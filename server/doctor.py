"""``hearth doctor``: each part Hearth needs, with ok / warning / error and a one-line fix."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hearth.server import config


def _check(name: str, status: str, detail: str, fix: str = "") -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, "fix": fix}


async def run_doctor(settings: config.Settings, repo: Path) -> list[dict[str, Any]]:
    from hearth.indexer.store.db import Store, StoreError
    from hearth.server.app import DatabaseUnavailable, database_url, make_embedder
    from hearth.server.services.models import ModelRoles

    checks: list[dict[str, Any]] = []
    store: Store | None = None
    try:
        url = await asyncio.to_thread(database_url, settings)
        opened = await asyncio.to_thread(lambda: Store(url, min_size=1, max_size=2).open())
        store = opened
        where = "HEARTH_DATABASE_URL" if settings.database.url else "embedded server"
        checks.append(_check("database", "ok", f"PostgreSQL {opened.server_version()} ({where})"))
        vstat = "ok" if opened.supports_iterative_scan else "warning"
        checks.append(
            _check(
                "pgvector",
                vstat,
                f"pgvector {opened.vector_version}"
                + ("" if opened.supports_iterative_scan else " (no iterative index scans before 0.8)"),
                "" if vstat == "ok" else "use pgvector >= 0.8 for filtered vector search without over-fetching",
            )
        )
        checks.append(
            _check(
                "pg_trgm",
                "ok" if opened.has_trgm else "warning",
                "trigram symbol matching " + ("on" if opened.has_trgm else "unavailable"),
                "" if opened.has_trgm else "install PostgreSQL's contrib extensions (pg_trgm)",
            )
        )
    except (DatabaseUnavailable, StoreError) as exc:
        checks.append(
            _check(
                "database",
                "error",
                str(exc),
                "set HEARTH_DATABASE_URL=postgresql://... (with pgvector) or reinstall hearth-lsp",
            )
        )

    try:
        t0 = time.perf_counter()
        emb = await asyncio.to_thread(make_embedder, settings)
        if emb is None:
            checks.append(
                _check(
                    "embedder",
                    "warning",
                    "embeddings are off (index.embed = false)",
                    "enable index.embed for semantic search",
                )
            )
        else:
            await asyncio.to_thread(emb.embed, ["def hello(): return 'world'"])
            checks.append(
                _check(
                    "embedder",
                    "ok",
                    f"{emb.name} ({emb.dim} dims), ready in {(time.perf_counter() - t0) * 1000:.0f} ms",
                )
            )
    except Exception as exc:
        checks.append(
            _check(
                "embedder",
                "error",
                f"{settings.models.embedding.provider}: {exc}",
                "check models.embedding (provider, url) or use provider 'local'",
            )
        )

    roles = ModelRoles(settings)
    await roles.probe()
    for role, state in (("completion model", roles.completion), ("chat model", roles.chat)):
        if state.state == "ok":
            checks.append(_check(role, "ok", f"{state.model}: {state.detail}"))
        elif state.state == "unset":
            checks.append(
                _check(
                    role,
                    "warning",
                    state.detail,
                    "start vLLM (see deploy/) and set HEARTH_MODEL_URL=http://127.0.0.1:8000/v1",
                )
            )
        else:
            checks.append(
                _check(role, "warning", state.detail, "is the vLLM server running? check its URL and API key")
            )
    mode = {"fim": "fill-in-the-middle", "chat": "chat fill-in (no FIM model)", "off": "off"}[roles.mode]
    checks.append(
        _check(
            "completion mode",
            "ok" if roles.mode != "off" else "warning",
            mode,
            "" if roles.mode != "off" else "configure a completion or chat model",
        )
    )
    await roles.aclose()

    if store is not None:
        try:
            repo_id = store.find_repo(str(repo))
            if repo_id is None:
                checks.append(_check("index", "warning", f"{repo} is not indexed", f"run: hearth index {repo}"))
            else:
                snap = store.latest_snapshot(repo_id)
                assert snap is not None
                emb_name = None
                try:
                    emb2 = make_embedder(settings)
                    emb_name = emb2.name if emb2 else None
                except Exception:
                    emb_name = None
                c = store.counts(repo_id, snap[0], emb_name)
                pending = c["chunks"] - c["embedded"]
                checks.append(
                    _check(
                        "index",
                        "ok" if pending == 0 else "warning",
                        f"{repo} [{snap[1]}]: {c['files']} files, {c['chunks']} chunks, {c['symbols']} symbols, "
                        f"{c['embedded']} embedded, {c['skipped']} skipped",
                        "" if pending == 0 else f"run: hearth index {repo} (embeddings pending)",
                    )
                )
        finally:
            store.close()
    return checks
