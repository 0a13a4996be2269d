"""The language server: thin LSP handlers over the services built by ``hearth.server.app``.

Each handler converts lsprotocol params to domain values, calls one service, and converts the
result back. Positions arrive in the client's encoding (UTF-16 by default) and are converted to
code points here, at the edge.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification

from hearth.server import config
from hearth.server.app import Hearth
from hearth.server.protocol import methods
from hearth.server.protocol.actions import register_actions
from hearth.server.services.completion import DocumentNotOpen
from hearth.server.services.documents import OpenDocument
from hearth.server.services.workspace import uri_to_path

log = logging.getLogger(__name__)


class HearthProtocol(LanguageServerProtocol):
    """pygls's protocol, except that a request whose params do not match the LSP types gets an
    "Invalid Params" error response (pygls alone logs it and never answers, leaving the client
    waiting)."""

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except (JsonRpcInvalidParams, JsonRpcInternalError):
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(
                    data["id"],
                    error=types.ResponseError(
                        code=JsonRpcInvalidParams.CODE, message=f"invalid params for {data['method']}"
                    ),
                )
                # Handled: hand pygls a notification it ignores.
                return JsonRPCNotification(method="$/hearth/invalid", jsonrpc="2.0", params=None)
            raise


class HearthLanguageServer(LanguageServer):
    def __init__(self, app: Hearth, version: str) -> None:
        super().__init__("hearth", version, protocol_cls=HearthProtocol)
        self.app = app
        self.quiet = False  # set at `shutdown`: the client may close the pipe at any moment from then on

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls tells the client about an error it could not send; once the pipe is closed that report fails
        too and pygls reports the failure again, nesting until Python's recursion limit (measured: 194 nested
        tracebacks on stderr when one warning was logged after the editor closed the pipe). After `shutdown`
        errors go to stderr only."""
        if self.quiet:
            log.debug("not reported to the client after shutdown: %s", error)
            return
        super().report_server_error(error, source)


class LspProgress:
    """Work-done progress (``$/progress``) for indexing; silent if the client lacks support."""

    def __init__(self, ls: HearthLanguageServer) -> None:
        self.ls = ls
        self.token: str | None = None

    async def begin(self, title: str, message: str) -> None:
        caps = self.ls.client_capabilities.window
        if not (caps and caps.work_done_progress):
            return
        token = f"hearth-index-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), 5)
        except Exception as exc:
            log.debug("client refused a progress token: %s", exc)
            return
        self.token = token
        self.ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=message, percentage=0, cancellable=False)
        )

    def report(self, message: str, percentage: int | None) -> None:
        if self.token:
            self.ls.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str) -> None:
        if self.token:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.token = None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read a field of custom params, which pygls gives as dicts or namedtuple-like objects."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def plain(obj: Any) -> Any:
    """Custom params or results as plain JSON values (pygls gives namedtuple-like objects)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


def _folders(params: types.InitializeParams) -> list[Path]:
    roots: list[Path] = []
    for f in params.workspace_folders or []:
        p = uri_to_path(f.uri)
        if p:
            roots.append(p)
    if not roots and params.root_uri:
        p = uri_to_path(params.root_uri)
        if p:
            roots.append(p)
    if not roots and params.root_path:
        roots.append(Path(params.root_path))
    return [r for r in roots if r.is_dir()]


WATCHED_FILES_REGISTRATION = "hearth-watched-files"


def create_server(app: Hearth, version: str) -> HearthLanguageServer:
    server = HearthLanguageServer(app, version)

    # -- lifecycle -------------------------------------------------------------------------------
    @server.feature(types.INITIALIZE)
    def initialize(ls: HearthLanguageServer, params: types.InitializeParams) -> None:
        settings, problems = config.load(init_options=plain(params.initialization_options) or {})
        ls.app.settings = settings
        ls.app.models.configure(settings)
        ls.app.completion.settings = settings
        for root in _folders(params):
            ls.app.workspace.add_root(root)
        for p in problems:
            ls.app.status.problems.append(f"settings: {p}")

    @server.feature(types.INITIALIZED)
    def initialized(ls: HearthLanguageServer, params: types.InitializedParams) -> None:
        ls.app.status.on_change(lambda snap: ls.protocol.notify(methods.STATUS, snap))

        def problem(msg: str) -> None:
            ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=msg))

        ls.app.on_problem = problem
        for p in ls.app.status.problems:
            problem(f"Hearth {p}; using the default")
        ls.app.spawn(ls.app.startup(LspProgress(ls)))
        ls.app.status.update()
        ls.app.spawn(_watch_files_through_client(ls))

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: HearthLanguageServer, params: None) -> None:
        ls.quiet = True
        await ls.app.shutdown()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: HearthLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        section = plain(params.settings)
        if isinstance(section, dict) and "hearth" in section:
            section = section["hearth"]
        settings, problems = config.load(init_options=None, workspace=section if isinstance(section, dict) else {})
        ls.app.settings = settings
        ls.app.models.configure(settings)
        ls.app.completion.settings = settings
        for p in problems:
            ls.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message=f"Hearth settings: {p}; using the default"
                )
            )

    # -- documents ------------------------------------------------------------------------------
    def _sync(ls: HearthLanguageServer, uri: str, opening: bool, language_id: str = "") -> None:
        doc = ls.workspace.get_text_document(uri)
        if opening:
            loc = ls.app.workspace.locate(uri)
            ls.app.documents.open(
                OpenDocument(
                    uri=uri,
                    path=loc.path if loc else None,
                    root=loc.root if loc else None,
                    text=doc.source,
                    version=doc.version or 0,
                    language_id=language_id,
                )
            )
        else:
            ls.app.documents.update(uri, doc.source, doc.version or 0)
        opened = ls.app.documents.get(uri)
        context = ls.app.completion.context
        if opened is not None and opened.path and opened.root and context is not None:
            context.prepare(opened.path, opened.text)  # parsed off the request path once the editor is quiet

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: HearthLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        _sync(ls, params.text_document.uri, True, params.text_document.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: HearthLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        _sync(ls, params.text_document.uri, False)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: HearthLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.app.documents.close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: HearthLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        loc = ls.app.workspace.locate(params.text_document.uri)
        if loc is not None:
            ls.app.spawn(ls.app.file_saved(loc.root, loc.path))

    async def _watch_files_through_client(ls: HearthLanguageServer) -> None:
        """Ask a client that supports it to report file changes outside the editor (``git checkout``, a
        formatter, a generator): the index then follows them even where Hearth's own file-system watcher
        is off or cannot run. They take the same coalescing queue as the watcher's events."""
        caps = ls.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps is not None else None
        if watched is None or not watched.dynamic_registration:
            return
        everything = types.FileSystemWatcher(glob_pattern="**/*")  # the ignore policy filters, as for the watcher
        options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[everything])
        registration = types.Registration(
            id=WATCHED_FILES_REGISTRATION, method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options
        )
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
        except Exception as exc:  # the client refused: Hearth's own watcher and didSave still keep the index fresh
            log.info("the client did not register file watching: %s", exc)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: HearthLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        # Clients that watch files for us (or where inotify is unavailable): the same queue as didSave.
        for change in params.changes:
            loc = ls.app.workspace.locate(change.uri)
            if loc is not None:
                ls.app.spawn(ls.app.file_saved(loc.root, loc.path))

    # -- completion -----------------------------------------------------------------------------
    async def _complete(ls: HearthLanguageServer, uri: str, position: types.Position) -> list[Any]:
        if ls.app.documents.get(uri) is None:
            log.info("completion requested for a document that is not open: %s", uri)
            return []
        doc = ls.workspace.get_text_document(uri)
        pos = doc.position_codec.position_from_client_units(doc.lines, position)
        try:
            return await ls.app.completion.complete(uri, pos.line, pos.character)
        except DocumentNotOpen:
            return []

    def _item_range(ls: HearthLanguageServer, uri: str, line: int, col: int) -> types.Range:
        """An empty range at the service's (line, code-point column), in the client's units."""
        doc = ls.workspace.get_text_document(uri)
        pos = doc.position_codec.position_to_client_units(doc.lines, types.Position(line=line, character=col))
        return types.Range(start=pos, end=pos)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: HearthLanguageServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        items = await _complete(ls, params.text_document.uri, params.position)
        if not items:
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(
            items=[
                types.InlineCompletionItem(
                    insert_text=it.text,
                    range=_item_range(ls, params.text_document.uri, it.line, it.col),
                    command=types.Command(
                        title="Hearth: accepted", command=methods.CMD_ACCEPT, arguments=[{"id": it.id}]
                    ),
                )
                for it in items
            ]
        )

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))
    async def completion(ls: HearthLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        td = ls.client_capabilities.text_document
        if td is not None and getattr(td, "inline_completion", None) is not None:
            return None  # the client shows inline completions; no duplicate popup
        items = await _complete(ls, params.text_document.uri, params.position)
        return types.CompletionList(
            is_incomplete=True,
            items=[
                types.CompletionItem(
                    label=(it.text.strip().split("\n", 1)[0] or it.text)[:80],
                    kind=types.CompletionItemKind.Text,
                    detail="Hearth",
                    documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{it.text}\n```"),
                    text_edit=types.TextEdit(
                        range=_item_range(ls, params.text_document.uri, it.line, it.col), new_text=it.text
                    ),
                    sort_text="0",
                    filter_text=it.text.split("\n", 1)[0],
                    command=types.Command(
                        title="Hearth: accepted", command=methods.CMD_ACCEPT, arguments=[{"id": it.id}]
                    ),
                )
                for it in items
            ],
        )

    # -- commands and custom requests -----------------------------------------------------------
    @server.command(methods.CMD_ACCEPT)
    def accept(ls: HearthLanguageServer, *args: Any) -> None:
        arg = args[0] if args else {}
        ls.app.completion.record_feedback(str(_get(arg, "id", "")), accepted_chars=_get(arg, "acceptedChars"))

    @server.command(methods.CMD_DISMISS)
    def dismiss(ls: HearthLanguageServer, *args: Any) -> None:
        arg = args[0] if args else {}
        ls.app.completion.record_feedback(str(_get(arg, "id", "")), accepted_chars=None, dismissed=True)

    @server.command(methods.CMD_STATUS)
    def status(ls: HearthLanguageServer, *args: Any) -> dict[str, Any]:
        return ls.app.status_snapshot()

    @server.command(methods.CMD_REINDEX)
    async def reindex(ls: HearthLanguageServer, *args: Any) -> dict[str, Any]:
        if ls.app.indexing is None:
            return {"started": False, "reason": "the index is not available (see hearth/status)"}
        ls.app.spawn(ls.app.indexing.index_roots(ls.app.workspace.roots, LspProgress(ls)))
        return {"started": True}

    register_actions(server)

    @server.feature(methods.TRACE)
    def trace(ls: HearthLanguageServer, params: Any) -> dict[str, Any] | None:
        uri = _get(params, "uri") if params is not None else None
        return ls.app.completion.trace(uri)

    return server


class StderrToClientHandler(logging.Handler):
    """Forwards warnings and errors to the client's log (window/logMessage)."""

    def __init__(self, server: HearthLanguageServer) -> None:
        super().__init__(logging.WARNING)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        if self.server.quiet:
            return  # after `shutdown` the client may be gone: stderr (the root handler) still has it
        try:
            kind = types.MessageType.Error if record.levelno >= logging.ERROR else types.MessageType.Warning
            self.server.window_log_message(types.LogMessageParams(type=kind, message=self.format(record)))
        except Exception:
            pass
