"""End to end, inline completion through the real server: chat-mode fallback, a FIM template the
model does not speak, positions in UTF-16 with surrogate pairs, CRLF, past the end of a line, a
closed document, accept/dismiss counters, the prefix shared by consecutive keystrokes, and a model
that fails in every way the stand-in can fail (no item or a clean one, one warning, no exception,
no connection left open)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.test_server import Session, cart_buffer, plain, start_session
from tests.standin.vllm_standin import StandinServer

OPTIONS = {"completion": {"debounceMs": 0}, "models": {"completion": {"timeoutMs": 1500}}}


def env_for(base: dict[str, str], **changes: str | None) -> dict[str, str]:
    env = dict(base)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


@pytest.fixture(scope="module")
def module_env(module_db_url: str, standin: StandinServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({
        "HEARTH_DATABASE_URL": module_db_url,
        "HEARTH_MODEL_URL": standin.v1_url,
        "HEARTH_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "HEARTH_EMBEDDING_PROVIDER": "hashing",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="module")
async def fim(module_env: dict[str, str], module_sample_repo: Path, standin: StandinServer) -> AsyncIterator[Session]:
    """One VS Code-like session against the stand-in (a Qwen2.5-Coder FIM model), shared by the module."""
    standin.reset()
    s = await start_session(module_env, module_sample_repo, "vscode", OPTIONS)
    await s.indexed()
    yield s
    await s.client.shutdown_session()
    await s.client.stop()


async def status_of(s: Session) -> dict[str, Any]:
    params = types.ExecuteCommandParams(command="hearth.status", arguments=[])
    res = await s.client.workspace_execute_command_async(params)
    return dict(plain(res))


async def trace_of(s: Session, uri: str) -> dict[str, Any]:
    return dict(plain(await s.client.protocol.send_request_async("hearth/trace", {"uri": uri})))


def completions(standin: StandinServer) -> list[Any]:
    return [r for r in standin.requests if r.path == "/v1/completions"]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- positions ------------------------------------------------------------------------------------


async def test_surrogate_pair_before_the_cursor(fim: Session, standin: StandinServer, module_sample_repo: Path) -> None:
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", ' + "!"\n')])
    uri = (module_sample_repo / "shop" / "badge.py").as_uri()
    line = '    return "😀 🎉 日本 " + name'
    fim.open(uri, f"def badge(name):\n{line}\n")
    res = await fim.inline(uri, 1, utf16_len(line))
    assert [i.insert_text for i in res.items] == [' + "!"']
    # The range is in UTF-16 code units (two per emoji), the service works in code points.
    at = types.Position(1, utf16_len(line))
    assert res.items[0].range == types.Range(start=at, end=at)
    trace = await trace_of(fim, uri)
    assert trace["position"] == {"line": 1, "character": len(line)}
    assert completions(standin)[-1].json["prompt"].split("<|fim_suffix|>")[0].endswith(line)


async def test_position_past_the_end_of_the_line(
    fim: Session, standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", "(1, 2)\n")])
    uri = (module_sample_repo / "shop" / "past.py").as_uri()
    line = "value = 😀_helper"
    fim.open(uri, f"{line}\nother = 1\n")
    res = await fim.inline(uri, 0, 200)
    assert [i.insert_text for i in res.items] == ["(1, 2)"]
    end = types.Position(0, utf16_len(line))
    assert res.items[0].range == types.Range(start=end, end=end)


async def test_crlf_document(fim: Session, standin: StandinServer, module_sample_repo: Path) -> None:
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", "y = x + 1\n    return y\n")])
    uri = (module_sample_repo / "shop" / "crlf.py").as_uri()
    fim.open(uri, "def inc(x):\r\n    \r\n\r\nprint(inc(1))\r\n")
    res = await fim.inline(uri, 1, 4)
    assert [i.insert_text for i in res.items] == ["y = x + 1\r\n    return y"]
    assert res.items[0].range.start == types.Position(1, 4)
    prompt = completions(standin)[-1].json["prompt"]
    assert "\r" not in prompt and "def inc(x):\n    <|fim_suffix|>" in prompt


async def test_closed_document_gets_nothing(fim: Session, standin: StandinServer, module_sample_repo: Path) -> None:
    standin.reset()
    uri = (module_sample_repo / "shop" / "closed.py").as_uri()
    fim.open(uri, "x = 1\n")
    fim.client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri)))
    res = await fim.inline(uri, 0, 5)
    assert list(res.items) == []
    assert completions(standin) == []


# -- prompts and the prefix cache -----------------------------------------------------------------


async def test_consecutive_keystrokes_share_the_prompt_prefix(
    fim: Session, standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", "")])
    uri, text, row, col = cart_buffer(module_sample_repo)
    lines = text.split("\n")
    lines[row] = lines[row][: col - len("compute_total(")]
    typed = "compute_total(self.items"
    fim.open(uri, "\n".join(lines))
    version = 1
    for i in range(1, len(typed) + 1):
        version += 1
        new_line = lines[row] + typed[:i]
        fim.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(
                text="\n".join([*lines[:row], new_line, *lines[row + 1 :]])
            )],
        ))
        await fim.inline(uri, row, len(new_line))
    prompts = [r.json["prompt"] for r in completions(standin)]
    assert len(prompts) == len(typed)
    tok = standin.tokenizer
    shares = []
    for a, b in itertools.pairwise(prompts):
        ta, tb = tok.encode(a), tok.encode(b)
        same = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y), min(len(ta), len(tb)))
        shares.append(same / len(tb))
    assert sum(shares) / len(shares) >= 0.8, shares
    # Below 80 % only where a background refresh appended new context: at most once per finished
    # word (here after `(` and `.`), whenever that refresh lands.
    boundaries = sum(1 for c in typed if not (c.isalnum() or c == "_"))
    assert sum(1 for share in shares if share < 0.8) <= boundaries, shares
    # The retrieved context (other files) keeps its order along the line: new hits are only appended.
    heads = [p.split("<|file_sep|>shop/cart.py")[0] for p in prompts]
    assert all(b.startswith(a) for a, b in itertools.pairwise(heads))


# -- accept, partial accept, dismiss --------------------------------------------------------------


async def test_accept_partial_and_dismiss_are_counted(
    fim: Session, standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.reset()
    before = (await status_of(fim))["completion_stats"]
    ids = []
    for n in range(3):
        standin.configure(rules=[("<|fim_middle|>", f"compute_{n}(items)\n")])
        uri = (module_sample_repo / "shop" / f"stats{n}.py").as_uri()
        fim.open(uri, "total = \n")
        res = await fim.inline(uri, 0, 8)
        assert res.items and res.items[0].command is not None
        ids.append(res.items[0].command.arguments[0]["id"] if res.items[0].command.arguments else None)
    for cmd, arg in (
        ("hearth.acceptCompletion", {"id": ids[0]}),
        ("hearth.acceptCompletion", {"id": ids[1], "acceptedChars": 4}),
        ("hearth.dismissCompletion", {"id": ids[2]}),
    ):
        await fim.client.workspace_execute_command_async(types.ExecuteCommandParams(command=cmd, arguments=[arg]))
    after = (await status_of(fim))["completion_stats"]
    assert after["accepted"] - before["accepted"] == 1
    assert after["partially_accepted"] - before["partially_accepted"] == 1
    assert after["dismissed"] - before["dismissed"] == 1
    assert after["accepted_chars"] - before["accepted_chars"] == len("compute_0(items)") + 4
    assert after["shown"] - before["shown"] == 3


# -- a model that misbehaves ----------------------------------------------------------------------

BAD = [
    ("http-500", {"fail_status": 500}),
    ("garbage", {"garbage": True}),
    ("unterminated", {"unterminated": True, "default_response": "partial(answer)"}),
    ("error-mid-stream", {"error_mid_stream": True, "default_response": "abc def ghi jkl"}),
    ("past-the-deadline", {"hang": True}),
]


def warnings_about(s: Session, needle: str) -> int:
    return sum(1 for m in s.client.log_messages if needle in m.message)


@pytest.mark.parametrize(("name", "knobs"), BAD, ids=[b[0] for b in BAD])
async def test_bad_model_gives_no_item_one_warning_and_recovers(
    fim: Session, standin: StandinServer, module_sample_repo: Path, name: str, knobs: dict[str, Any]
) -> None:
    standin.reset()
    uri = (module_sample_repo / "shop" / f"bad_{name.replace('-', '_')}.py").as_uri()
    # Start from a model that works (an earlier case may have left a warning standing).
    standin.configure(rules=[("<|fim_middle|>", "0\n")])
    fim.open(uri.replace(".py", "_ok.py"), "count = \n")
    assert [i.insert_text for i in (await fim.inline(uri.replace(".py", "_ok.py"), 0, 8)).items] == ["0"]
    standin.reset()
    fim.open(uri, "def f(items):\n    total = \n")
    warned = warnings_about(fim, "completion model:")
    standin.configure(**knobs)
    for _ in range(2):  # twice: the warning is shown once
        res = await fim.inline(uri, 1, 12)
        assert list(res.items) == []
    assert (await trace_of(fim, uri))["outcome"] == "error"
    assert warnings_about(fim, "completion model:") == warned + 1
    status = await status_of(fim)
    assert status["health"] == "warning" and "completion model:" in status["message"]
    # Recovery: the model answers again, the warning goes away.
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", "sum(items)\n")])
    res = await fim.inline(uri, 1, 12)
    assert [i.insert_text for i in res.items] == ["sum(items)"]
    status = await status_of(fim)
    assert "completion model:" not in status["message"]
    assert status["models"]["completion"]["state"] == "ok"
    # Failing again after the recovery warns again.
    standin.configure(**knobs)
    fim.open(uri.replace(".py", "_again.py"), "def g(items):\n    total = \n")
    assert list((await fim.inline(uri.replace(".py", "_again.py"), 1, 12)).items) == []
    assert warnings_about(fim, "completion model:") == warned + 2
    # No connection left open: every request to the model finished or was abandoned by Hearth.
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        if all(r.finished_at is not None or r.client_disconnected for r in completions(standin)):
            break
        await asyncio.sleep(0.02)
    assert all(r.finished_at is not None or r.client_disconnected for r in completions(standin)), [
        r.to_dict() for r in completions(standin)
    ]
    standin.reset()


async def test_a_completion_the_size_of_the_file_is_cut_clean(
    fim: Session, standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.reset()
    whole = (module_sample_repo / "shop" / "cart.py").read_text()
    standin.configure(rules=[("<|fim_middle|>", "validate(self)\n" + whole * 3)])
    uri = (module_sample_repo / "shop" / "huge.py").as_uri()
    fim.open(uri, "class Order:\n    def check(self) -> None:\n        \n\n\ndef other():\n    pass\n")
    res = await fim.inline(uri, 2, 8)
    assert [i.insert_text for i in res.items] == ["validate(self)"]


# -- the two roles ----------------------------------------------------------------------------------


async def test_unset_completion_role_completes_through_the_chat_model(
    module_env: dict[str, str], standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.reset()
    standin.configure(rules=[("<<FILL_HERE>>", "Here you go:\n```python\nself.items)\n```\n")])
    env = env_for(module_env, HEARTH_MODEL_URL=None, HEARTH_CHAT_URL=standin.v1_url)
    s = await start_session(env, module_sample_repo, "vscode", OPTIONS)
    try:
        status = await s.wait(lambda st: st["models"]["completion"].get("mode") == "chat")
        assert status["models"]["completion"]["state"] == "unset"
        assert "chat fill-in" in status["message"]
        uri, text, row, col = cart_buffer(module_sample_repo)
        s.open(uri, text)
        res = await s.inline(uri, row, col)
        assert [i.insert_text for i in res.items] == ["self.items)"]
        assert completions(standin) == []
        chats = [r for r in standin.requests if r.path == "/v1/chat/completions"]
        assert len(chats) == 1 and chats[0].json["stream"] is True
    finally:
        await s.client.shutdown_session()
        await s.client.stop()


async def test_template_mismatch_is_reported_and_falls_back_to_chat(
    module_env: dict[str, str], module_sample_repo: Path
) -> None:
    # A Llama-family model served under a Qwen coder's name: Qwen's FIM markers are several tokens to it.
    with StandinServer(model="qwen2.5-coder-7b", family="llama") as llama:
        llama.configure(rules=[("<<FILL_HERE>>", "```python\nself.items)\n```")])
        env = env_for(module_env, HEARTH_MODEL_URL=llama.v1_url)
        s = await start_session(env, module_sample_repo, "vscode", OPTIONS)
        try:
            status = await s.wait(lambda st: st["models"]["completion"].get("mode") == "chat")
            assert "does not match" in status["models"]["completion"]["problem"]
            uri, text, row, col = cart_buffer(module_sample_repo)
            s.open(uri, text)
            res = await s.inline(uri, row, col)
            assert [i.insert_text for i in res.items] == ["self.items)"]
            # No junk FIM prompt was ever sent; the user is told why.
            assert not [r for r in llama.requests if r.path == "/v1/completions"]
            status = await status_of(s)
            assert status["health"] == "warning"
            assert "does not match" in status["message"] and "chat model instead" in status["message"]
        finally:
            await s.client.shutdown_session()
            await s.client.stop()


# -- retrieval during the debounce ----------------------------------------------------------------


async def test_a_new_lines_retrieval_runs_during_the_debounce(
    module_env: dict[str, str], module_sample_repo: Path, standin: StandinServer
) -> None:
    standin.reset()
    standin.configure(rules=[("<|fim_middle|>", "self.items)\n")])
    s = await start_session(module_env, module_sample_repo, "vscode", {"completion": {"debounceMs": 200}})
    try:
        await s.indexed()
        uri, text, row, col = cart_buffer(module_sample_repo)
        s.open(uri, text)
        res = await s.inline(uri, row, col)
        assert [i.insert_text for i in res.items] == ["self.items)"]
        trace = await trace_of(s, uri)
        assert trace["debounce_ms"] == 200 and trace["context_during_debounce"] is True
        # What the request still waited for after the debounce is less than what retrieval took: it overlapped.
        assert trace["stages"]["context_ms"] < trace["context_timings"]["total_ms"], trace
        assert any(c["path"] == "shop/pricing.py" for c in trace["context"]), trace["context"]
        # The same line again (a keystroke later): the line's context is reused, nothing is retrieved early.
        again = await s.inline(uri, row, col - 1)
        assert isinstance(again, types.InlineCompletionList)
        trace = await trace_of(s, uri)
        assert trace.get("context_reused") is True and "context_during_debounce" not in trace
    finally:
        await s.client.shutdown_session()
        await s.client.stop()
