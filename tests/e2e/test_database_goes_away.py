"""The database going away under a running server: completion keeps working without repository
context, the status says what is wrong, and nothing crashes; when it comes back, context returns."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types

from hearth.indexer.store.embedded import EmbeddedPostgres
from hearth.server.protocol.server import plain
from tests.e2e.test_server import cart_buffer, start_session
from tests.standin.vllm_standin import StandinServer


@pytest.fixture
def own_cluster() -> Iterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="hearth-away-"))
    os.chmod(base, 0o755)
    pg = EmbeddedPostgres(base, fsync=False)
    pg.ensure_running()
    yield pg
    pg.stop()
    shutil.rmtree(base, ignore_errors=True)


async def test_completion_survives_the_database_going_away(
    own_cluster: EmbeddedPostgres, hearth_env: dict[str, str], standin: StandinServer, sample_repo: Path
) -> None:
    env = dict(hearth_env, HEARTH_DATABASE_URL=own_cluster.url)
    standin.configure(rules=[("<|fim_middle|>", "self.items)\n")])
    s = await start_session(env, sample_repo, "vscode")
    try:
        await s.indexed()
        uri, text, row, col = cart_buffer(sample_repo)
        s.open(uri, text)
        first = await s.inline(uri, row, col)
        assert [i.insert_text for i in first.items] == ["self.items)"]
        assert "def compute_total(items" in standin.requests[-1].json["prompt"]

        own_cluster.stop()  # the database goes away
        # The same line keeps the context it already has.
        standin.configure(rules=[("<|fim_middle|>", "self.items, 0.1)\n")])
        same_line = await s.inline(uri, row, col - 1)
        assert [i.insert_text for i in same_line.items] == ["self.items, 0.1)"]
        # Another file needs fresh context, which cannot be had: the model is still asked, without it.
        other = (sample_repo / "shop" / "checkout.py").as_uri()
        s.open(other, "from shop.pricing import compute_total\n\n\ndef bill(items):\n    return compute_total(\n")
        standin.configure(rules=[("<|fim_middle|>", "items)\n")])
        away = await s.inline(other, 4, len("    return compute_total("))
        assert [i.insert_text for i in away.items] == ["items)"]
        assert "def compute_total(items" not in standin.requests[-1].json["prompt"]
        status = plain(await s.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="hearth.status", arguments=[])))
        assert status["health"] in ("ok", "warning", "error")  # the server answers

        own_cluster.ensure_running()  # and comes back: the pool reconnects (with backoff), context returns
        deadline = time.monotonic() + 60
        found, attempt = False, 0
        while not found and time.monotonic() < deadline:
            attempt += 1  # a new prefix each time: the completion cache must not answer
            s.open(other, f"from shop.pricing import compute_total\n\n\ndef bill{attempt}(items):\n"
                          "    return compute_total(\n")
            back = await s.inline(other, 4, len("    return compute_total("))
            found = "def compute_total(items" in standin.requests[-1].json["prompt"]
            if not found:
                await asyncio.sleep(0.25)
        assert found, "context did not return after the database came back"
        assert back.items
    finally:
        await s.client.shutdown_session()
        await s.client.stop()
