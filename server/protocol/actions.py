"""Code actions, the explain/refactor commands and chat: thin handlers over ActionService and ChatService.

- ``textDocument/codeAction`` lists what is offered without any work (no parse, database or
  model); ``codeAction/resolve`` asks the model and returns the checked edit. Explain and Refactor
  are commands (``hearth.explain`` streams; ``hearth.refactor`` applies with
  ``workspace/applyEdit``). Clients that cannot resolve an edit get the same actions as
  ``hearth.refactor`` commands with an ``action`` argument.
- ``hearth/chat`` streams ``$/progress`` ``{"delta": ...}`` with the request's
  ``partialResultToken``; ``$/cancelRequest`` cancels the task, which closes the model's stream.
- Positions arrive in the client's encoding and are converted to code points here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from hearth.server.protocol import methods
from hearth.server.services.actions import KINDS
from hearth.server.services.chat import BadRequest, ChatError
from hearth.server.services.edits import EditPlan, EditRejected, FileChange

if TYPE_CHECKING:
    from hearth.server.protocol.server import HearthLanguageServer

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed
Point = tuple[int, int]


class RequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _raw_range(obj: Any) -> tuple[Point, Point] | None:
    """(start, end) of a Range given as lsprotocol, dict or namedtuple; None when missing or malformed."""
    if obj is None:
        return None
    start, end = _get(obj, "start"), _get(obj, "end")
    vals = [_int(_get(start, "line")), _int(_get(start, "character")), _int(_get(end, "line")),
            _int(_get(end, "character"))]
    if any(v is None for v in vals):
        return None
    a, b, c, d = vals
    return (a, b), (c, d)  # type: ignore[return-value]


def _to_points(
    ls: HearthLanguageServer, uri: str, rng: tuple[Point, Point] | None
) -> tuple[Point | None, Point | None]:
    """Client units -> code points, for documents the client has open; out-of-range values pass unchanged."""
    if rng is None:
        return None, None
    doc = ls.app.documents.get(uri)
    if doc is None:
        return rng
    lines = doc.text.split("\n")
    codec = ls.workspace.position_codec
    out: list[Point] = []
    for line, col in rng:
        if 0 <= line < len(lines) and 0 <= col <= codec.client_num_units(lines[line]):
            p = codec.position_from_client_units(lines, types.Position(line=line, character=col))
            out.append((p.line, p.character))
        else:
            out.append((line, col))
    return out[0], out[1]


def _client_pos(ls: HearthLanguageServer, lines: list[str], p: Point) -> types.Position:
    if p[1] == 0 or p[0] >= len(lines):
        return types.Position(line=p[0], character=p[1])
    return types.Position(line=p[0], character=ls.workspace.position_codec.client_num_units(lines[p[0]][: p[1]]))


def _range_json(rng: types.Range) -> dict[str, Any]:
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def workspace_edit(ls: HearthLanguageServer, plan: EditPlan) -> types.WorkspaceEdit:
    """One WorkspaceEdit for all the plan's files, annotated for confirmation where the client supports it."""
    ws = ls.client_capabilities.workspace
    caps = ws.workspace_edit if ws else None
    doc_changes = bool(caps and caps.document_changes)
    annotate = doc_changes and caps is not None and caps.change_annotation_support is not None
    can_create = doc_changes and caps is not None and types.ResourceOperationKind.Create in (
        caps.resource_operations or ())
    note = "hearth" if annotate else None

    def edits(fc: FileChange) -> list[types.TextEdit | types.AnnotatedTextEdit]:
        lines = fc.before.split("\n")
        out: list[types.TextEdit | types.AnnotatedTextEdit] = []
        for e in fc.edits:
            rng = types.Range(start=_client_pos(ls, lines, e.start), end=_client_pos(ls, lines, e.end))
            if note:
                out.append(types.AnnotatedTextEdit(range=rng, new_text=e.text, annotation_id=note))
            else:
                out.append(types.TextEdit(range=rng, new_text=e.text))
        return out

    if not doc_changes:
        return types.WorkspaceEdit(changes={fc.uri: edits(fc) for fc in plan.changes})  # type: ignore[misc]
    ops: list[Any] = []
    for fc in plan.changes:
        if fc.create and can_create:
            ops.append(types.CreateFile(uri=fc.uri, options=types.CreateFileOptions(overwrite=False,
                                                                                    ignore_if_exists=True),
                                        annotation_id=note))
        ops.append(types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=fc.uri, version=fc.version),
            edits=edits(fc)))  # type: ignore[arg-type]
    annotations = None
    if note:
        annotations = {note: types.ChangeAnnotation(label=plan.label, needs_confirmation=True,
                                                    description=plan.summary())}
    return types.WorkspaceEdit(document_changes=ops, change_annotations=annotations)


def _warn(ls: HearthLanguageServer, message: str) -> None:
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"Hearth: {message}"))


def _progress(ls: HearthLanguageServer, token: Any) -> Any:
    if token is None or not isinstance(token, str | int):
        return None
    return lambda piece: ls.progress(types.ProgressParams(token=token, value={"delta": piece}))


def _supports_resolve(ls: HearthLanguageServer) -> bool:
    td = ls.client_capabilities.text_document
    ca = td.code_action if td else None
    rs = ca.resolve_support if ca else None
    return bool(rs and "edit" in rs.properties)


def register_actions(server: HearthLanguageServer) -> None:
    """Register the code-action, command and chat handlers on ``server``."""

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(resolve_provider=True, code_action_kinds=list(KINDS)),
    )
    def code_action(ls: HearthLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        diags = list(params.context.diagnostics or [])
        offers = ls.app.actions.offers(uri, [d.message for d in diags], params.context.only)
        rng = _range_json(params.range)
        resolve = _supports_resolve(ls)
        out = []
        for o in offers:
            action = types.CodeAction(title=o.title, kind=o.kind)
            if o.action in ("explain", "refactor"):
                command = methods.CMD_EXPLAIN if o.action == "explain" else methods.CMD_REFACTOR
                action.command = types.Command(title=o.title, command=command, arguments=[{"uri": uri, "range": rng}])
            else:
                target = _range_json(diags[o.diagnostic_index].range) if o.diagnostic_index is not None else rng
                data = {"action": o.action, "uri": uri, "range": target, "diagnostic": o.diagnostic}
                if o.diagnostic_index is not None:
                    action.diagnostics = [diags[o.diagnostic_index]]
                    action.is_preferred = o.diagnostic_index == 0
                if resolve:
                    action.data = data
                else:
                    action.command = types.Command(title=o.title, command=methods.CMD_REFACTOR, arguments=[data])
            out.append(action)
        return out

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: HearthLanguageServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data
        uri = _get(data, "uri")
        if not uri or not _get(data, "action"):
            raise JsonRpcInvalidParams("this code action was not made by Hearth (no data)")
        start, end = _to_points(ls, uri, _raw_range(_get(data, "range")))
        try:
            plan = await ls.app.actions.plan(_get(data, "action"), uri, start, end,
                                             diagnostic=_get(data, "diagnostic"))
        except BadRequest as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except (EditRejected, ChatError) as exc:
            _warn(ls, f"{action.title.removeprefix('Hearth: ')}: {exc}")
            return action
        action.edit = workspace_edit(ls, plan)
        return action

    # pygls resolves a command handler's annotations at run time: ``base`` is the same server, typed.
    @server.command(methods.CMD_REFACTOR)
    async def refactor(base: LanguageServer, *args: Any) -> dict[str, Any]:
        ls = cast("HearthLanguageServer", base)
        arg = args[0] if args else None
        uri = _get(arg, "uri")
        if not uri:
            raise JsonRpcInvalidParams("hearth.refactor needs [{uri, range, instruction}]")
        start, end = _to_points(ls, uri, _raw_range(_get(arg, "range")))
        action = _get(arg, "action") or "refactor"
        try:
            plan = await ls.app.actions.plan(action, uri, start, end, instruction=_get(arg, "instruction"),
                                             diagnostic=_get(arg, "diagnostic"))
        except BadRequest as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except (EditRejected, ChatError) as exc:
            _warn(ls, f"{action}: {exc}")
            return {"applied": False, "message": str(exc)}
        res = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, plan), label=plan.label))
        if not res.applied:
            msg = f"the editor did not apply the change ({res.failure_reason or 'declined'})"
            return {"applied": False, "message": msg}
        return {"applied": True, "message": plan.summary()}

    @server.command(methods.CMD_EXPLAIN)
    async def explain(base: LanguageServer, *args: Any) -> str:
        ls = cast("HearthLanguageServer", base)
        arg = args[0] if args else None
        uri = _get(arg, "uri")
        if not uri:
            raise JsonRpcInvalidParams("hearth.explain needs [{uri, range}]")
        start, end = _to_points(ls, uri, _raw_range(_get(arg, "range")))
        try:
            return await ls.app.actions.explain(uri, start, end, _progress(ls, _get(arg, "partialResultToken")))
        except BadRequest as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except ChatError as exc:
            raise RequestFailed(str(exc)) from exc

    @server.feature(methods.CHAT)
    async def chat(ls: HearthLanguageServer, params: Any) -> dict[str, Any]:
        message = _get(params, "message")
        if not isinstance(message, str) or not message.strip():
            raise JsonRpcInvalidParams("hearth/chat needs a message")
        uri = _get(params, "uri")
        raw = _raw_range(_get(params, "range"))
        if _get(params, "range") is not None and raw is None:
            raise JsonRpcInvalidParams("hearth/chat: malformed range")
        start, end = _to_points(ls, uri, raw) if uri else (None, None)
        files = [f for f in (_get(params, "files") or []) if isinstance(f, str)]
        conv = _get(params, "conversationId")
        try:
            answer = await ls.app.chat.chat(
                message, conversation_id=conv if isinstance(conv, str) and conv else None, uri=uri,
                start=start, end=end, files=files, on_delta=_progress(ls, _get(params, "partialResultToken")),
            )
        except BadRequest as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        except ChatError as exc:
            raise RequestFailed(str(exc)) from exc
        return {"conversationId": answer.conversation_id, "text": answer.text, "sources": answer.sources}

    @server.feature(methods.CONVERSATIONS)
    async def conversations(ls: HearthLanguageServer, params: Any) -> list[dict[str, Any]]:
        return await ls.app.chat.conversations()
