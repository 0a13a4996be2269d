"""End to end: `hearth/chat` and `hearth/conversations` through `hearth serve`, with the stand-in.

Streaming through `$/progress`, sources, conversations kept in PostgreSQL and resumed by a new
server process, the `/explain` `/tests` `/fix` commands, and cancellation closing the model stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.e2e.test_actions import ActionSession, cart, chat_requests, row_of, start_action_session
from tests.e2e.test_server import CLIENTS, plain
from tests.standin.vllm_standin import StandinServer

ANSWER = "compute_total sums quantity times unit price and adds VAT (shop/pricing.py:8-11)."


@pytest.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, hearth_env: dict[str, str], module_sample_repo: Path
                  ) -> AsyncIterator[ActionSession]:
    s = await start_action_session(hearth_env, module_sample_repo, request.param)
    yield s
    await s.client.shutdown_session()
    await s.client.stop()


async def ask(session: ActionSession, **params: Any) -> dict[str, Any]:
    res = await session.client.protocol.send_request_async("hearth/chat", params)
    return plain(res)  # type: ignore[no-any-return]


async def test_chat_streams_partials_then_the_answer_with_sources(
    session: ActionSession, standin: StandinServer
) -> None:
    standin.configure(rules=[("compute_total", ANSWER)])
    await session.indexed()
    res = await ask(session, message="How does compute_total work?", partialResultToken="t1")
    assert res["text"] == ANSWER
    deltas = session.deltas["t1"]
    assert len(deltas) >= 5 and "".join(deltas) == ANSWER
    assert res["conversationId"]
    paths = {s["path"] for s in res["sources"]}
    assert "shop/pricing.py" in paths
    src = next(s for s in res["sources"] if s["path"] == "shop/pricing.py")
    assert src["uri"].endswith("/shop/pricing.py") and 1 <= src["start_line"] <= src["end_line"]
    # The grounding is in the prompt, stable parts first: system text and context, then the question.
    (req,) = chat_requests(standin)
    msgs = req.json["messages"]
    assert msgs[0]["role"] == "system" and "def compute_total(items" in msgs[0]["content"]
    assert msgs[-1] == {"role": "user", "content": "How does compute_total work?"}
    assert req.json["max_tokens"] >= 256


async def test_conversations_are_stored_and_resumed_by_a_new_server(
    session: ActionSession, standin: StandinServer, hearth_env: dict[str, str], module_sample_repo: Path
) -> None:
    standin.configure(rules=[("second", "Second answer."), ("Discount", "Discount caps the amount off.")])
    first = await ask(session, message="What does Discount do?")
    conv = first["conversationId"]
    listed = plain(await session.client.protocol.send_request_async("hearth/conversations", {}))
    assert listed[0]["conversationId"] == conv and listed[0]["title"] == "What does Discount do?"
    await session.client.shutdown_session()
    await session.client.stop()
    other = await start_action_session(hearth_env, module_sample_repo, session.kind)
    session.client = other.client  # the fixture's teardown stops this one
    again = await ask(other, message="And a second question?", conversationId=conv)
    assert again["conversationId"] == conv and again["text"] == "Second answer."
    msgs = chat_requests(standin)[-1].json["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"] == "What does Discount do?" and msgs[2]["content"] == "Discount caps the amount off."
    listed = plain(await other.client.protocol.send_request_async("hearth/conversations", {}))
    assert [c["conversationId"] for c in listed].count(conv) == 1


async def test_slash_commands_use_the_selection(
    session: ActionSession, standin: StandinServer, module_sample_repo: Path
) -> None:
    uri, text, lines = cart(module_sample_repo)
    session.open(uri, text)
    row = row_of(lines, "def add")
    rng = {"start": {"line": row, "character": 4}, "end": {"line": row, "character": 4}}
    standin.configure(rules=[("Explain what this", "It appends a line item."),
                             ("Write unit tests", "```python\ndef test_add():\n    pass\n```"),
                             ("Fix this problem", "Use Decimal.")])
    res = await ask(session, message="/explain", uri=uri, range=rng)
    assert res["text"] == "It appends a line item."
    turn = chat_requests(standin)[-1].json["messages"][-1]["content"]
    assert "shop/cart.py (lines" in turn and "def add(self, sku: str" in turn
    res = await ask(session, message="/tests", uri=uri, range=rng, conversationId=res["conversationId"])
    assert "def test_add" in res["text"]
    assert "tests/test_cart.py" in chat_requests(standin)[-1].json["messages"][-1]["content"]
    res = await ask(session, message="/fix rounding is off by one cent", uri=uri, range=rng)
    assert res["text"] == "Use Decimal."
    assert "rounding is off by one cent" in chat_requests(standin)[-1].json["messages"][-1]["content"]


async def test_cancelled_chat_closes_the_model_stream(session: ActionSession, standin: StandinServer) -> None:
    standin.configure(ttft_s=30.0)
    proto = session.client.protocol
    pending = asyncio.ensure_future(proto.send_request_async(
        "hearth/chat", {"message": "Summarise the repository", "partialResultToken": "c1"}, msg_id="chat-1"))
    await asyncio.to_thread(standin.wait_for_requests, 1, 10.0, "/v1/chat/completions")
    proto.notify("$/cancelRequest", types.CancelParams(id="chat-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    await asyncio.to_thread(standin.wait_for_disconnect, 10.0)
    (req,) = chat_requests(standin)
    assert req.client_disconnected
