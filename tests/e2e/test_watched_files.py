"""workspace/didChangeWatchedFiles through the real server: files created, changed and deleted outside
the editor, reported by the client, reach the index (definitions) and the completion context.

The server's own file-system watcher is off (``index.watch: false``), so only the client's
notifications can bring the changes in. A client that supports dynamic registration (VS Code) is
asked to watch files; one that does not (Neovim 0.11 on Linux) is not asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp.client import LanguageClient, make_test_lsp_client

from hearth.indexer.store.db import Store
from hearth.server.protocol.server import WATCHED_FILES_REGISTRATION, plain
from tests.conftest import hearth_command, make_sample_repo
from tests.e2e.test_server import CLIENTS, Session, capabilities
from tests.standin.vllm_standin import StandinServer


class WatchSession(Session):
    def __init__(self, client: LanguageClient, result: types.InitializeResult, kind: str, root: Path) -> None:
        super().__init__(client, result, 0.0)
        self.kind = kind
        self.root = root
        self.registrations: list[types.Registration] = []

    def notify(self, *changes: tuple[str, types.FileChangeType]) -> None:
        self.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=(self.root / rel).as_uri(), type=t) for rel, t in changes]
            )
        )

    async def prompt_for(self, rel: str, text: str, standin: StandinServer) -> str:
        """Open a buffer that ends at the cursor and ask for a completion there: the model's prompt."""
        uri = (self.root / rel).as_uri()
        self.open(uri, text)
        lines = text.split("\n")
        row, col = len(lines) - 1, len(lines[-1])
        before = len([r for r in standin.requests if r.path == "/v1/completions"])
        if self.kind == "neovim":  # no inline completion UI: the textDocument/completion fallback
            await self.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(row, col)
                )
            )
        else:
            await self.inline(uri, row, col)
        asked = [r for r in standin.requests if r.path == "/v1/completions"]
        assert len(asked) > before, "the model was never asked"
        return str(asked[-1].json["prompt"])


async def start(env: dict[str, str], root: Path, kind: str) -> WatchSession:
    client = make_test_lsp_client()
    statuses: list[dict[str, Any]] = []
    registrations: list[types.Registration] = []

    @client.feature("hearth/status")
    def on_status(ls: Any, params: Any) -> None:
        statuses.append(plain(params))

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: Any, params: types.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    await client.start_io(*hearth_command(), env=env)
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(kind),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"completion": {"debounceMs": 0}, "index": {"watch": False}},
        )
    )
    session = WatchSession(client, result, kind, root)
    session.statuses = statuses
    session.registrations = registrations
    return session


@pytest.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, hearth_env: dict[str, str], tmp_path: Path
                  ) -> AsyncIterator[WatchSession]:
    s = await start(hearth_env, make_sample_repo(tmp_path / "shop"), request.param)
    yield s
    await s.client.shutdown_session()
    await s.client.stop()


async def until(pred: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.02)


async def test_files_changed_outside_the_editor_reach_the_index_and_the_context(
    session: WatchSession, hearth_env: dict[str, str], standin: StandinServer
) -> None:
    await session.indexed()
    # What the server asked the client for, before any change: file watching, when the client can register it.
    if session.kind == "vscode":
        assert [r.method for r in session.registrations] == ["workspace/didChangeWatchedFiles"]
        reg = session.registrations[0]
        assert reg.id == WATCHED_FILES_REGISTRATION
        watchers = plain(reg.register_options)["watchers"]
        assert [w["globPattern"] for w in watchers] == ["**/*"]
    else:
        assert session.registrations == []

    store = Store(hearth_env["HEARTH_DATABASE_URL"]).open()
    try:
        repo_id = store.find_repo(str(session.root.resolve()))
        assert repo_id is not None
        latest = store.latest_snapshot(repo_id)
        assert latest is not None
        snap = latest[0]

        def defined(name: str) -> list[str]:
            return [d.path for d, _ in store.definitions(repo_id, snap, [name])]

        standin.configure(rules=[("<|fim_middle|>", "1)\n")])
        fresh = session.root / "shop" / "fresh.py"
        unreported = session.root / "shop" / "unreported.py"

        # Created: only the reported file comes in (no watcher of the server's own is running).
        fresh.write_text("def fresh_discount(cents, percent_off):\n    return cents * (100 - percent_off) // 100\n")
        unreported.write_text("def never_reported():\n    return 0\n")
        session.notify(("shop/fresh.py", types.FileChangeType.Created))
        await until(lambda: defined("fresh_discount") == ["shop/fresh.py"], "the created file's definition")
        assert defined("never_reported") == []
        prompt = await session.prompt_for(
            "shop/use_created.py", "from shop.fresh import fresh_discount\n\ntotal = fresh_discount(", standin
        )
        assert "<|file_sep|>shop/fresh.py" in prompt
        assert "def fresh_discount(cents, percent_off):" in prompt

        # Changed: the new signature replaces the old one, in the index and in the context.
        fresh.write_text("def fresh_discount(cents, rate, floor_cents):\n    return max(floor_cents, cents - rate)\n")
        session.notify(("shop/fresh.py", types.FileChangeType.Changed))

        def signature() -> list[str]:
            return [d.detail or "" for d, _ in store.definitions(repo_id, snap, ["fresh_discount"])]

        await until(lambda: signature() == ["def fresh_discount(cents, rate, floor_cents):"], "the changed signature")
        prompt = await session.prompt_for(
            "shop/use_changed.py", "from shop.fresh import fresh_discount\n\nbest = fresh_discount(", standin
        )
        assert "def fresh_discount(cents, rate, floor_cents):" in prompt
        assert "percent_off" not in prompt

        # Deleted: gone from the index and from the context.
        fresh.unlink()
        session.notify(("shop/fresh.py", types.FileChangeType.Deleted))
        await until(lambda: defined("fresh_discount") == [], "the deleted file's definition to go")
        prompt = await session.prompt_for(
            "shop/use_deleted.py", "from shop.fresh import fresh_discount\n\nlast = fresh_discount(", standin
        )
        assert "shop/fresh.py" not in prompt.replace("from shop.fresh import", "")
        assert "floor_cents" not in prompt
        assert "shop/fresh.py" not in store.file_states(snap)
        assert defined("never_reported") == []
    finally:
        store.close()
