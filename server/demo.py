"""``hearth demo``: Hearth's main job end to end, as an editor would drive it.

Indexes a repository (default: Hearth's own source) with a progress bar, starts the real
``hearth serve`` over stdio, opens a file at a call site whose callee is defined in another file,
asks for an inline completion, and prints what came back: the retrieved context (path:lines),
the prompt, and the model's completion, or one clear line when no model is reachable.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from hearth.server import config
from hearth.server.cli import _Bar, _core, emit, err, version
from hearth.server.protocol.server import plain


def default_repo() -> Path:
    """Hearth's own source: the checkout when installed from one, else the installed package."""
    import hearth.server

    pkg = Path(hearth.server.__file__).resolve().parent  # .../server or .../hearth/server
    checkout = pkg.parent
    if (checkout / "pyproject.toml").exists():
        return checkout
    return pkg.parent


def render_trace(trace: dict[str, Any], prompt_lines: int = 80) -> str:
    out = []
    pos = trace.get("position") or {}
    out.append(
        f"completion {trace.get('id') or '-'} at {trace.get('uri')}:{pos.get('line', 0) + 1}:"
        f"{pos.get('character', 0)}  outcome: {trace.get('outcome')}"
    )
    stages = trace.get("stages") or {}
    if stages:
        out.append("  timings: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    ctx = trace.get("context") or []
    out.append(f"\nContext retrieved ({len(ctx)} items):")
    for c in ctx:
        out.append(
            f"  {c['path']}:{c['start_line']}-{c['end_line']}  {c['source']:<18} score {c['score']:.3f}"
            f"  {c.get('symbol') or ''}"
        )
    prompt = trace.get("prompt")
    if prompt:
        lines = prompt.split("\n")
        out.append(
            f"\nPrompt ({len(prompt)} characters, {len(lines)} lines"
            + (f", last {prompt_lines} shown" if len(lines) > prompt_lines else "")
            + "):"
        )
        out.append("-" * 72)
        out.extend(lines[-prompt_lines:])
        out.append("-" * 72)
    return "\n".join(out)


def _pick_call_site(core: Any, root: Path) -> tuple[str, int, int, str] | None:
    repo_id, snap, _ = core.indexer.snapshot_for(root)
    return core.store.sample_cross_file_call(repo_id, snap)  # type: ignore[no-any-return]


async def run_demo(settings: config.Settings, repo: Path | None, *, embed: bool = False) -> int:
    """Run the demo; ``embed`` also computes embeddings (minutes on a CPU for a few thousand chunks;
    without them the context comes from the symbol table and full-text search, which are complete
    first)."""
    root = (repo or default_repo()).resolve()
    emit(f"Hearth {version()} demo on {root}")
    emit(
        "1. Indexing (the embedded PostgreSQL starts on first use"
        + ("; embeddings run on the CPU)..." if embed else "; symbols and full text, no embeddings: --embed)...")
    )
    core = _core(settings, embed=embed)
    bar = _Bar(True)
    try:
        summary = await asyncio.to_thread(core.indexer.index, root, embed=embed, progress=bar)
    finally:
        bar.close()
    emit(
        f"   {summary.files_seen} files seen, {summary.files_indexed} parsed, {summary.chunks} chunks, "
        f"{summary.symbols} symbols, {summary.embedded} embedded, {summary.seconds:.1f} s"
    )
    site = _pick_call_site(core, root)
    db_url = core.store.url
    core.close()
    if site is None:
        err("hearth: no call site with a cross-file definition found; the demo needs a repository with code")
        return 1
    rel, line, col, name = site
    path = root / rel
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    row = line - 1
    cut = col + len(name) + 1 if lines[row][col + len(name) : col + len(name) + 1] == "(" else col + len(name)
    lines[row] = lines[row][:cut]  # the user has just typed `name(`
    buffer = "\n".join(lines)
    emit(
        f"2. Opening {rel} at line {line}, just after `{lines[row].strip()}` (a call of {name}, "
        "defined in another file)"
    )

    from pygls.lsp.client import LanguageClient

    client = LanguageClient("hearth-demo", version())
    statuses: list[dict[str, Any]] = []

    @client.feature("hearth/status")
    def on_status(ls: Any, params: Any) -> None:
        statuses.append(params if isinstance(params, dict) else getattr(params, "_asdict", lambda: {})())

    @client.feature("window/logMessage")
    def on_log(ls: Any, params: Any) -> None:
        return None  # the server's stderr is shown below; its log messages repeat it

    @client.feature("window/showMessage")
    def on_message(ls: Any, params: Any) -> None:
        emit(f"   [server message] {getattr(params, 'message', params)}")

    env = dict(os.environ, HEARTH_DATABASE_URL=db_url)
    await client.start_io(sys.executable, "-m", "hearth.server.cli", "serve", env=env)
    server_proc = client._server  # type: ignore[attr-defined]
    drain = asyncio.ensure_future(_drain(server_proc.stderr)) if server_proc and server_proc.stderr else None
    uri = path.as_uri()
    try:
        t0 = time.perf_counter()
        await client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                initialization_options={"index": {"embed": embed, "watch": False}},
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    ),
                ),
            )
        )
        emit(
            f"3. hearth serve answered initialize in {(time.perf_counter() - t0) * 1000:.0f} ms; "
            "waiting for it to open the index..."
        )
        client.initialized(types.InitializedParams())
        await _wait_quiescent(statuses, 600)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="", version=1, text=buffer)
            )
        )
        t0 = time.perf_counter()
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=row, character=len(lines[row].encode("utf-16-le")) // 2),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        elapsed = (time.perf_counter() - t0) * 1000
        trace = await client.protocol.send_request_async("hearth/trace", {"uri": uri})
        trace = plain(trace)
        emit(f"4. inlineCompletion answered in {elapsed:.0f} ms\n")
        if trace:
            emit(render_trace(trace))
        items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
        if items:
            text_out = items[0].insert_text if isinstance(items[0].insert_text, str) else items[0].insert_text.value
            emit("\nCompletion from the model:")
            emit(lines[row] + text_out)
        else:
            model_url = settings.models.completion.url or os.environ.get("HEARTH_MODEL_URL")
            if trace and trace.get("outcome") == "model-down":
                emit(
                    f"\nNo completion: no model server is reachable ({model_url or 'HEARTH_MODEL_URL is not set'}); "
                    "start vLLM (see deploy/) and set HEARTH_MODEL_URL=http://127.0.0.1:8000/v1."
                )
            else:
                outcome = trace.get("outcome") if trace else "?"
                emit(f"\nNo completion: the model answered nothing usable (outcome: {outcome}).")
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
        if drain:
            drain.cancel()
    return 0


async def _wait_quiescent(statuses: list[dict[str, Any]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if statuses:
            last = plain(statuses[-1])
            state = last.get("index", {}).get("state")
            # Searchable once symbols and full text are in ("embedding" fills in behind).
            if (
                state in ("idle", "error", "disabled", "embedding")
                and last.get("database", {}).get("state") != "starting"
                and last.get("models", {}).get("completion", {}).get("state") != "probing"
            ):
                return
        await asyncio.sleep(0.05)
    err("hearth: the server did not finish indexing in time; asking anyway")


async def _drain(stream: asyncio.StreamReader) -> None:
    while True:
        line = await stream.readline()
        if not line:
            return
        sys.stderr.write("   [server] " + line.decode("utf-8", "replace"))
