"""End to end: code actions, explain and refactor through `hearth serve`, with the stand-in answering code.

Each scenario runs with the VS Code and the Neovim client capability sets: VS Code gets
``documentChanges`` with change annotations that need confirmation, Neovim 0.11 plain ``changes``.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient, register_lsp_features

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services.edits import count_syntax_errors
from tests.conftest import hearth_command
from tests.e2e.test_server import CLIENTS, Session, capabilities, plain
from tests.standin.vllm_standin import StandinServer

CART_ADD_DOC = '''    def add(self, sku: str, quantity: int, unit_cents: int) -> None:
        """Add ``quantity`` units of ``sku`` at ``unit_cents`` each."""
        self.items.append(LineItem(slugify(sku), quantity, unit_cents))
'''


class ActionSession(Session):
    """A session whose client records `$/progress` deltas and answers `workspace/applyEdit`."""

    def __init__(self, client: LanguageClient, result: types.InitializeResult, init_ms: float) -> None:
        super().__init__(client, result, init_ms)
        self.kind = ""
        self.deltas: dict[Any, list[str]] = {}
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.texts: dict[str, str] = {}

    def open(self, uri: str, text: str) -> None:
        self.texts[uri] = text
        super().open(uri, text)

    async def actions(self, uri: str, rng: types.Range, diagnostics: list[types.Diagnostic] | None = None
                      ) -> list[types.CodeAction]:
        res = await self.client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
            context=types.CodeActionContext(diagnostics=diagnostics or []),
        ))
        out = []
        for a in res or []:
            if isinstance(a, types.Command) and a.command.startswith("{"):
                # lsprotocol's converter takes any item with a "command" key for a Command, and
                # stringifies the CodeAction's command object: undo that (a test-client limitation).
                cmd = ast.literal_eval(a.command)
                a = types.CodeAction(title=a.title, command=types.Command(**cmd))
            out.append(a)
        return out

    async def command(self, name: str, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args)))

    def messages(self) -> list[str]:
        return [m.message for m in self.client.messages]


def apply_workspace_edit(edit: types.WorkspaceEdit, texts: dict[str, str]) -> dict[str, str]:
    """What an editor does with a WorkspaceEdit: the new text of every file it touches."""
    out = dict(texts)
    per_uri: list[tuple[str, list[Any]]] = []
    if edit.document_changes:
        for op in edit.document_changes:
            if isinstance(op, types.CreateFile):
                out.setdefault(op.uri, "")
            elif isinstance(op, types.TextDocumentEdit):
                per_uri.append((op.text_document.uri, list(op.edits)))
    for uri, edits in (edit.changes or {}).items():
        per_uri.append((uri, list(edits)))
    for uri, edits in per_uri:
        lines = out.get(uri, "").split("\n")

        def off(p: types.Position, lines: list[str] = lines) -> int:
            return sum(len(x) + 1 for x in lines[: p.line]) + p.character

        text = out.get(uri, "")
        for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            text = text[: off(e.range.start)] + e.new_text + text[off(e.range.end):]
        out[uri] = text
    return out


def _progress_feature(deltas: dict[Any, list[str]]) -> Callable[..., None]:
    def progress(client: LanguageClient, params: types.ProgressParams) -> None:
        value = plain(params.value)
        if isinstance(value, dict) and "delta" in value:
            deltas.setdefault(params.token, []).append(value["delta"])

    return progress


async def start_action_session(env: dict[str, str], root: Path, kind: str) -> ActionSession:
    client = LanguageClient(converter_factory=default_converter)
    holder: dict[str, ActionSession] = {}
    deltas: dict[Any, list[str]] = {}

    def apply_edit(ls: LanguageClient, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        s = holder["s"]
        s.applied.append(params)
        s.texts.update(apply_workspace_edit(params.edit, s.texts))
        return types.ApplyWorkspaceEditResult(applied=True)

    def on_status(ls: LanguageClient, params: Any) -> None:
        holder["s"].statuses.append(plain(params))

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.PROGRESS] = _progress_feature(deltas)
    features[types.WORKSPACE_APPLY_EDIT] = apply_edit
    features["hearth/status"] = on_status
    register_lsp_features(client, features)
    await client.start_io(*hearth_command(), env=env)
    t0 = time.perf_counter()
    result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities(kind),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options={"completion": {"debounceMs": 0}},
    ))
    s = ActionSession(client, result, (time.perf_counter() - t0) * 1000)
    s.kind = kind
    s.deltas = deltas
    holder["s"] = s
    return s


@pytest.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, hearth_env: dict[str, str], module_sample_repo: Path
                  ) -> AsyncIterator[ActionSession]:
    s = await start_action_session(hearth_env, module_sample_repo, request.param)
    yield s
    await s.client.shutdown_session()
    await s.client.stop()


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.default()


def cart(repo: Path) -> tuple[str, str, list[str]]:
    path = repo / "shop" / "cart.py"
    text = path.read_text()
    return path.as_uri(), text, text.split("\n")


def at(line: int, char: int = 0) -> types.Range:
    return types.Range(start=types.Position(line, char), end=types.Position(line, char))


def row_of(lines: list[str], needle: str) -> int:
    return next(i for i, ln in enumerate(lines) if needle in ln)


def chat_requests(standin: StandinServer) -> list[Any]:
    return [r for r in standin.requests if r.path == "/v1/chat/completions"]


def edited_text(session: ActionSession, action: types.CodeAction, uri: str) -> str:
    assert action.edit is not None, session.messages()
    return apply_workspace_edit(action.edit, session.texts)[uri]


async def test_listing_offers_every_action_without_asking_anything(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path
) -> None:
    caps = session.result.capabilities
    assert isinstance(caps.code_action_provider, types.CodeActionOptions)
    assert caps.code_action_provider.resolve_provider is True
    assert caps.execute_command_provider is not None
    assert {"hearth.explain", "hearth.refactor"} <= set(caps.execute_command_provider.commands)
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    diag = types.Diagnostic(range=at(row_of(lines, "return amount")), message="undefined name 'amout'")
    actions = await session.actions(uri, at(row_of(lines, "def add")), [diag])
    titles = [a.title for a in actions]
    assert titles[0].startswith("Hearth: Fix") and "amout" in titles[0]
    assert actions[0].kind == "quickfix.hearth.fix" and list(actions[0].diagnostics or []) == [diag]
    assert {"Hearth: Explain", "Hearth: Refactor…", "Hearth: Add documentation", "Hearth: Simplify",
            "Hearth: Write tests"} <= set(titles)
    by_title = {a.title: a for a in actions}
    assert by_title["Hearth: Explain"].command is not None
    assert by_title["Hearth: Explain"].command.command == "hearth.explain"
    assert by_title["Hearth: Refactor…"].command is not None
    assert by_title["Hearth: Refactor…"].command.command == "hearth.refactor"
    assert by_title["Hearth: Add documentation"].edit is None and by_title["Hearth: Add documentation"].data
    assert chat_requests(standin) == []  # listing costs nothing: no model call
    only = await session.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=at(0),
        context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix]),
    ))
    assert not only  # no diagnostics, so no quick fix


async def test_add_documentation_resolves_to_a_checked_minimal_edit(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path, registry: LanguageRegistry
) -> None:
    standin.configure(rules=[("Add documentation to this", f"Sure:\n```python\n{CART_ADD_DOC}```\n")])
    await session.indexed()
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    row = row_of(lines, "def add")
    actions = await session.actions(uri, at(row, 8))
    doc = next(a for a in actions if a.title == "Hearth: Add documentation")
    resolved = await session.client.code_action_resolve_async(doc)
    edit = resolved.edit
    assert edit is not None, session.messages()
    if session.kind == "vscode":
        assert edit.change_annotations and edit.change_annotations["hearth"].needs_confirmation is True
        (tde,) = edit.document_changes or []
        assert isinstance(tde, types.TextDocumentEdit) and tde.text_document.version == 1
        (e,) = tde.edits
        assert isinstance(e, types.AnnotatedTextEdit) and e.annotation_id == "hearth"
    else:
        assert edit.document_changes is None and edit.changes is not None
        (e,) = edit.changes[uri]
    # Minimal: one inserted line, nothing else touched.
    assert e.range.start == e.range.end == types.Position(row + 1, 0)
    assert e.new_text == '        """Add ``quantity`` units of ``sku`` at ``unit_cents`` each."""\n'
    after = edited_text(session, resolved, uri)
    assert count_syntax_errors(registry, "cart.py", after) == 0
    # The prompt carried the method and the definitions it uses, from other files.
    body = chat_requests(standin)[-1].json
    prompt = "\n".join(m["content"] for m in body["messages"])
    assert "def add(self, sku: str" in prompt and "shop/pricing.py" in prompt


async def test_fix_and_simplify(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path, registry: LanguageRegistry
) -> None:
    uri, text, lines = cart(module_sample_repo)
    buggy = text.replace("        return amount\n", "        return amout\n")
    session.open(uri, buggy)
    row = row_of(lines, "return amount")
    fixed_total = (
        "    def total(self) -> int:\n        amount = compute_total(self.items)\n"
        "        if self.discount is not None:\n            amount = self.discount.apply(amount)\n"
        "        return amount\n"
    )
    standin.configure(rules=[("undefined name 'amout'", f"```python\n{fixed_total}```")])
    diag = types.Diagnostic(range=types.Range(start=types.Position(row, 15), end=types.Position(row, 20)),
                            message="undefined name 'amout'", severity=types.DiagnosticSeverity.Error)
    actions = await session.actions(uri, diag.range, [diag])
    fix = await session.client.code_action_resolve_async(actions[0])
    assert edited_text(session, fix, uri) == text
    simpler = (
        "    def total(self) -> int:\n        amount = compute_total(self.items)\n"
        "        return self.discount.apply(amount) if self.discount is not None else amount\n"
    )
    standin.configure(rules=[("Simplify this", f"```py\n{simpler}```")])
    actions = await session.actions(uri, at(row - 3, 4))
    simplify = await session.client.code_action_resolve_async(
        next(a for a in actions if a.title == "Hearth: Simplify"))
    after = edited_text(session, simplify, uri)
    assert "return self.discount.apply(amount) if" in after and "def add(" in after
    assert count_syntax_errors(registry, "cart.py", after) == 0


async def test_write_tests_creates_a_test_file(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path, registry: LanguageRegistry
) -> None:
    tests = (
        "from shop.cart import Cart\n\n\ndef test_empty_cart_totals_zero():\n"
        "    assert Cart('ann').total() == 0\n"
    )
    standin.configure(rules=[("Write unit tests", f"```python\n{tests}```")])
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    actions = await session.actions(uri, at(row_of(lines, "def total"), 8))
    resolved = await session.client.code_action_resolve_async(
        next(a for a in actions if a.title == "Hearth: Write tests"))
    edit = resolved.edit
    assert edit is not None, session.messages()
    new_uri = (module_sample_repo / "tests" / "test_cart.py").as_uri()
    if session.kind == "vscode":
        ops = list(edit.document_changes or [])
        assert isinstance(ops[0], types.CreateFile) and ops[0].uri == new_uri
        assert isinstance(ops[1], types.TextDocumentEdit) and ops[1].text_document.uri == new_uri
    else:
        assert edit.changes is not None and list(edit.changes) == [new_uri]
    created = apply_workspace_edit(edit, {})[new_uri]
    assert created == tests
    assert count_syntax_errors(registry, "tests/test_cart.py", created) == 0
    assert not (module_sample_repo / "tests").exists()  # the editor creates it, not the server


async def test_refactor_command_applies_one_edit_across_files(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path
) -> None:
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    pricing = (module_sample_repo / "shop" / "pricing.py").read_text()
    new_pricing = pricing.replace("def compute_total(", "def total_cents(")
    answer = (
        "```python\n        amount = total_cents(self.items)\n```\n\n"
        "```python path=shop/pricing.py\n" + new_pricing + "```\n"
    )
    standin.configure(rules=[("rename compute_total", answer)])
    row = row_of(lines, "amount = compute_total(")
    rng = types.Range(start=types.Position(row, 0), end=types.Position(row + 1, 0))
    res = plain(await session.command("hearth.refactor", {
        "uri": uri, "range": plain(session.client.protocol._converter.unstructure(rng)),
        "instruction": "rename compute_total to total_cents",
    }))
    assert res["applied"] is True, (res, session.messages())
    (params,) = session.applied
    files = (
        [op.text_document.uri for op in params.edit.document_changes or [] if isinstance(op, types.TextDocumentEdit)]
        if session.kind == "vscode" else list(params.edit.changes or {})
    )
    pricing_uri = (module_sample_repo / "shop" / "pricing.py").as_uri()
    assert files == [uri, pricing_uri]
    assert "        amount = total_cents(self.items)\n" in session.texts[uri]
    after = apply_workspace_edit(params.edit, {pricing_uri: pricing})[pricing_uri]
    assert after == new_pricing


async def test_explain_streams_and_returns_the_text(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.configure(rules=[("Explain what this", "It adds a line item for the SKU to the cart.")])
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    row = row_of(lines, "def add")
    res = await session.command("hearth.explain", {
        "uri": uri, "range": {"start": {"line": row, "character": 4}, "end": {"line": row, "character": 4}},
        "partialResultToken": "ex-1"})
    assert res == "It adds a line item for the SKU to the cart."
    assert len(session.deltas["ex-1"]) > 3 and "".join(session.deltas["ex-1"]) == res


BAD_ANSWERS = [
    ("prose", "I would rather not change this; it looks fine to me.", {}, "does not parse"),
    ("syntax", "```python\n        amount = compute_total(self.items\n```", {}, "does not parse"),
    ("truncated", "```python\n        amount = compute_total(self.items)\n```", {"unterminated": True},
     "closed the stream early|without \\[DONE\\]|cut off"),
    ("language", "```rust\nlet amount = compute_total(&self.items);\n```", {}, "rust code, but shop/cart.py"),
    ("empty", "```python\n```", {}, "empty"),
]


async def test_bad_model_output_applies_nothing_and_says_why(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path
) -> None:
    import re

    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    row = row_of(lines, "amount = compute_total(")
    rng = {"start": {"line": row, "character": 0}, "end": {"line": row + 1, "character": 0}}
    for name, answer, knobs, reason in BAD_ANSWERS:
        standin.reset()
        standin.configure(rules=[("Rewrite this", answer)], **knobs)
        before = len(session.client.messages)
        res = plain(await session.command("hearth.refactor", {"uri": uri, "range": rng, "instruction": "tidy"}))
        assert res["applied"] is False, name
        assert re.search(reason, res["message"]), (name, res)
        shown = [m.message for m in session.client.messages[before:]]
        assert any(re.search(reason, m) for m in shown), (name, shown)
    assert session.applied == []
    assert session.texts[uri] == text


async def test_bad_requests_get_errors_and_the_server_keeps_serving(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path, tmp_path: Path
) -> None:
    uri, text, _ = cart(module_sample_repo)
    session.open(uri, text)
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n")
    far = {"start": {"line": 400, "character": 0}, "end": {"line": 401, "character": 0}}
    near = {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    cases: list[tuple[str, Any]] = [
        ("outside the document", session.command("hearth.refactor", {"uri": uri, "range": far, "instruction": "x"})),
        ("outside the workspace", session.command("hearth.refactor",
                                                  {"uri": outside.as_uri(), "range": near, "instruction": "x"})),
        ("instruction", session.command("hearth.refactor", {"uri": uri, "range": near})),
        ("needs", session.command("hearth.refactor")),
        ("range", session.command("hearth.explain", {"uri": uri})),
        ("outside the document", session.client.code_action_resolve_async(types.CodeAction(
            title="Hearth: Simplify", data={"action": "simplify", "uri": uri, "range": far}))),
        ("message", session.client.protocol.send_request_async("hearth/chat", {"message": ""})),
        ("outside the workspace", session.client.protocol.send_request_async(
            "hearth/chat", {"message": "/explain", "uri": outside.as_uri(), "range": near})),
    ]
    for needle, call in cases:
        with pytest.raises(JsonRpcException, match=needle):
            await asyncio.wait_for(call, 30)
    assert chat_requests(standin) == []
    status = plain(await session.command("hearth.status"))
    assert status["health"] in ("ok", "warning")
