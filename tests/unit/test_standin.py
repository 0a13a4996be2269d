"""The vLLM stand-in: vLLM 0.33's wire behaviour, and the knobs and records tests rely on.

Client-facing checks run against the ``vllm`` fixture: the stand-in by default, a real vLLM when
``HEARTH_TEST_VLLM_URL`` is set. Checks that script the stand-in call ``vllm.require_standin()``.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests` is a namespace package rooted at the repository
    sys.path.insert(0, str(ROOT))

from tests.standin.fixtures import VllmTarget, vllm, vllm_target  # noqa: E402
from tests.standin.vllm_standin import StandinServer  # noqa: E402

__all__ = ["vllm", "vllm_target"]

LONG = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma " * 4


def events(response: httpx.Response) -> list[str]:
    """The raw SSE events of a finished stream, checking vLLM's exact framing."""
    text = response.read().decode()
    assert text.endswith("\n\n")
    raw = text[:-2].split("\n\n")
    for event in raw:
        assert event.startswith("data: "), event
    return [e.removeprefix("data: ") for e in raw]


def completion(vllm: VllmTarget, **body: Any) -> httpx.Response:
    with vllm.client() as client:
        return client.post("/v1/completions", json={"model": vllm.model, **body})


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == status
    error: dict[str, Any] = body["error"]
    return error


def token_prompt(vllm: VllmTarget, length: int) -> list[int]:
    """A prompt of exactly ``length`` token ids, valid for any tokenizer (repeats of the id of "the")."""
    with vllm.client() as client:
        ids = client.post("/tokenize", json={"prompt": "the", "add_special_tokens": False}).json()["tokens"]
    return [ids[-1]] * length


# ---- info routes ------------------------------------------------------------------------------------


def test_models_card(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        body = client.get("/v1/models").json()
    assert body["object"] == "list"
    card = body["data"][0]
    assert {"id", "object", "created", "owned_by", "root", "parent", "max_model_len", "permission"} <= set(
        card
    )
    assert card["object"] == "model" and card["owned_by"] == "vllm" and card["parent"] is None
    assert card["max_model_len"] == vllm.max_model_len and isinstance(card["created"], int)
    permission = card["permission"][0]
    assert permission["object"] == "model_permission" and permission["id"].startswith("modelperm-")
    assert permission["allow_sampling"] is True and permission["group"] is None


def test_health_version_and_unknown_path(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.content == b""
        assert "version" in client.get("/version").json()
        missing = client.get("/v1/no-such-route")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        assert client.get("/v1/completions").status_code == 405


def test_tokenize_both_shapes_and_detokenize(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        plain = client.post("/tokenize", json={"model": vllm.model, "prompt": "def add(a, b):"}).json()
        assert set(plain) == {"count", "max_model_len", "tokens", "token_strs"}
        assert plain["count"] == len(plain["tokens"]) and plain["token_strs"] is None
        assert plain["max_model_len"] == vllm.max_model_len
        with_strs = client.post(
            "/tokenize", json={"prompt": "def add(a, b):", "return_token_strs": True}
        ).json()
        assert len(with_strs["token_strs"]) == with_strs["count"]
        chat = client.post("/tokenize", json={"messages": [{"role": "user", "content": "hi"}]}).json()
        assert chat["count"] > 1
        both = client.post(
            "/tokenize",
            json={"messages": [{"role": "user", "content": "hi"}], "continue_final_message": True},
        )
        assert both.status_code == 400
        ids = client.post("/tokenize", json={"prompt": "x = 1", "add_special_tokens": False}).json()["tokens"]
        assert client.post("/detokenize", json={"tokens": ids}).json() == {"prompt": "x = 1"}


# ---- completions ------------------------------------------------------------------------------------


def test_completion_non_streaming_shape(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        response = client.post(
            "/v1/completions",
            json={"model": vllm.model, "prompt": "def add(a, b):", "max_tokens": 5},
            headers={"X-Request-Id": "hearth-42"},
        )
    body = response.json()
    assert response.status_code == 200
    assert body["id"] == "cmpl-hearth-42" and body["object"] == "text_completion"
    assert body["model"] == vllm.model
    for key in ("service_tier", "system_fingerprint", "kv_transfer_params", "ec_transfer_params", "metrics"):
        assert key in body
    choice = body["choices"][0]
    assert set(choice) >= {
        "index",
        "text",
        "logprobs",
        "finish_reason",
        "stop_reason",
        "token_ids",
        "prompt_logprobs",
        "prompt_token_ids",
    }
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 1 <= usage["completion_tokens"] <= 5 and "prompt_tokens_details" in usage


def test_completion_stream_framing_and_usage(vllm: VllmTarget) -> None:
    body = {
        "model": vllm.model,
        "prompt": "def add(a, b):",
        "max_tokens": 6,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = events(response)
    assert raw[-1] == "[DONE]"
    chunks = [json.loads(e) for e in raw[:-1]]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] >= 1
    content = chunks[:-1]
    assert all(c["object"] == "text_completion" for c in content)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all("role" not in c["choices"][0] for c in content)  # no role chunk for completions
    finishes = [c["choices"][0]["finish_reason"] for c in content]
    assert all(f is None for f in finishes[:-1]) and finishes[-1] in ("stop", "length")
    assert "stop_reason" in content[-1]["choices"][0]


def test_completion_stream_with_httpx_sse(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.knobs.default_response = "return a + b\n"
    body = {"model": vllm.model, "prompt": "def add(a, b):", "stream": True}
    with vllm.client() as client, connect_sse(client, "POST", "/v1/completions", json=body) as source:
        data = [event.data for event in source.iter_sse()]
    assert data[-1] == "[DONE]"
    text = "".join(json.loads(d)["choices"][0]["text"] for d in data[:-1])
    assert text == "return a + b\n"


def test_stop_strings_are_cut_and_reported(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.knobs.add_rule("def add", "    return a + b\n\ndef sub(a, b):\n")
    body = completion(vllm, prompt="def add(a, b):\n", stop=["\n\n", "\ndef"]).json()
    choice = body["choices"][0]
    assert choice["text"] == "    return a + b"
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == "\n\n"
    stream_body = {"model": vllm.model, "prompt": "def add(a, b):\n", "stop": "\n\n", "stream": True}
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=stream_body) as response:
        chunks = [json.loads(e) for e in events(response)[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == "    return a + b"
    assert chunks[-1]["choices"][0]["stop_reason"] == "\n\n"


def test_eos_gives_stop_with_null_stop_reason(vllm: VllmTarget) -> None:
    vllm.require_standin().knobs.default_response = "pass"
    choice = completion(vllm, prompt="x").json()["choices"][0]
    assert choice == {**choice, "text": "pass", "finish_reason": "stop", "stop_reason": None}


def test_stop_validation(vllm: VllmTarget) -> None:
    empty = error_of(completion(vllm, prompt="x", stop=["a", ""]), 400)
    assert "empty string" in empty["message"]
    too_many = error_of(completion(vllm, prompt="x", stop=["a", "b", "c", "d", "e"]), 400)
    assert too_many["type"] == "Bad Request"


def test_max_tokens_default_is_16(vllm: VllmTarget) -> None:
    standin = vllm.standin
    if standin is not None:
        standin.knobs.default_response = LONG
    body = completion(vllm, prompt="Count: one two three").json()
    assert body["usage"]["completion_tokens"] <= 16
    if standin is not None:
        assert body["usage"]["completion_tokens"] == 16 and body["choices"][0]["finish_reason"] == "length"


def test_context_length_rules(vllm: VllmTarget) -> None:
    limit = vllm.max_model_len
    too_many = error_of(completion(vllm, prompt="x", max_tokens=limit + 1), 400)
    assert too_many["param"] == "max_tokens" and too_many["type"] == "BadRequestError"
    assert too_many["message"].startswith(
        f"max_tokens={limit + 1} cannot be greater than max_model_len={limit}"
    )
    too_long = error_of(completion(vllm, prompt=token_prompt(vllm, limit + 1), max_tokens=1), 400)
    assert "context length" in too_long["message"] and too_long["param"] == "input_tokens"
    assert f"contains at least {limit + 1} input tokens" in too_long["message"]
    exactly = error_of(completion(vllm, prompt=token_prompt(vllm, limit)), 400)
    assert exactly["message"] == "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"
    if vllm.standin is not None:
        vllm.standin.knobs.default_response = LONG
    clamped = completion(vllm, prompt=token_prompt(vllm, limit - 3), max_tokens=50)
    assert clamped.status_code == 200
    assert clamped.json()["usage"]["completion_tokens"] <= 3
    if vllm.standin is not None:
        assert clamped.json()["choices"][0]["finish_reason"] == "length"
    stream = completion(vllm, prompt=token_prompt(vllm, limit + 1), stream=True)
    assert stream.status_code == 400 and stream.headers["content-type"].startswith("application/json")


def test_suffix_is_rejected(vllm: VllmTarget) -> None:
    error = error_of(completion(vllm, prompt="def f(", suffix="\n"), 400)
    assert error == {
        "message": "suffix is only supported for models with FIM completion rendering",
        "type": "BadRequestError",
        "param": "suffix",
        "code": 400,
    }


def test_unknown_model_is_404(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        response = client.post("/v1/completions", json={"model": "no-such-model", "prompt": "x"})
    error = error_of(response, 404)
    assert error["message"] == f"The model `no-such-model` does not exist. Valid aliases: {vllm.model}."
    assert error["type"] == "NotFoundError" and error["param"] == "model"


def test_non_json_content_type_is_400(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        response = client.post(
            "/v1/completions", content=b'{"prompt": "x"}', headers={"content-type": "text/plain"}
        )
    error = error_of(response, 400)
    assert error["type"] == "Bad Request"
    assert (
        error["message"]
        == "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
    )


def test_schema_errors_are_400_bad_request(vllm: VllmTarget) -> None:
    wrong_type = error_of(completion(vllm, prompt="x", temperature="hot"), 400)
    assert wrong_type["type"] == "Bad Request" and wrong_type["param"] == "body.temperature"
    assert wrong_type["message"].startswith("1 validation error:\n  ")
    missing = error_of(completion(vllm), 400)
    assert "Either prompt or prompt_embeds must be provided and non-empty." in missing["message"]
    options = error_of(completion(vllm, prompt="x", stream_options={"include_usage": True}), 400)
    assert "Stream options can only be defined when `stream=True`." in options["message"]
    with vllm.client() as client:
        bad_json = client.post(
            "/v1/completions", content=b"{nope", headers={"content-type": "application/json"}
        )
    assert error_of(bad_json, 400)["type"] == "Bad Request"


def test_temperature_range(vllm: VllmTarget) -> None:
    error = error_of(completion(vllm, prompt="x", temperature=3), 400)
    assert error["message"] == "temperature must be in [0, 2], got 3.0. (parameter=temperature, value=3.0)"
    assert error["param"] == "temperature" and error["type"] == "BadRequestError"


# ---- chat ---------------------------------------------------------------------------------------------


def test_chat_non_streaming_shape(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        response = client.post(
            "/v1/chat/completions",
            json={"model": vllm.model, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8},
            headers={"X-Request-Id": "c1"},
        )
    body = response.json()
    assert body["id"] == "chatcmpl-c1" and body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert {"refusal", "annotations", "audio", "function_call", "reasoning"} <= set(message)
    assert {"prompt_logprobs", "prompt_token_ids", "kv_transfer_params", "usage"} <= set(body)


def test_chat_stream_role_chunk_first(vllm: VllmTarget) -> None:
    body = {
        "model": vllm.model,
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with vllm.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        raw = events(response)
    assert raw[-1] == "[DONE]"
    chunks = [json.loads(e) for e in raw[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_chat_rules_match_last_user_message(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(rules=[("explain", "It adds."), ("refactor", "def add(a, b): return a + b")])
    messages = [
        {"role": "system", "content": "refactor everything"},
        {"role": "user", "content": [{"type": "text", "text": "Please explain this"}]},
    ]
    with vllm.client() as client:
        body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["choices"][0]["message"]["content"] == "It adds."
    assert standin.requests[-1].json["messages"] == messages


# ---- prefix cache metrics ---------------------------------------------------------------------------


def _counter(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_prefix_cache_metrics_count_16_token_blocks(vllm: VllmTarget) -> None:
    rng = random.Random(time.time_ns())
    prompt = [rng.randrange(1000, 20000) for _ in range(100)]
    with vllm.client() as client:
        before = client.get("/metrics").text
        for _ in range(2):
            assert (
                client.post(
                    "/v1/completions", json={"model": vllm.model, "prompt": prompt, "max_tokens": 1}
                ).status_code
                == 200
            )
        after = client.get("/metrics").text
    queries = _counter(after, "vllm:prefix_cache_queries_total") - _counter(
        before, "vllm:prefix_cache_queries_total"
    )
    hits = _counter(after, "vllm:prefix_cache_hits_total") - _counter(before, "vllm:prefix_cache_hits_total")
    assert queries == 200
    assert hits == 96  # floor((100 - 1) / 16) * 16 on the second request, nothing on the first


# ---- stand-in knobs -----------------------------------------------------------------------------------


def test_ttft_and_pacing(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(ttft_s=0.2, tokens_per_s=50, default_response="a b c d e")  # 9 tokens + EOS
    start = time.monotonic()
    body = {"model": vllm.model, "prompt": "x", "stream": True}
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        first_at = time.monotonic() - start
        for _ in lines:
            pass
    total = time.monotonic() - start
    assert json.loads(first.removeprefix("data: "))["choices"][0]["text"] == "a"
    assert 0.18 <= first_at < 0.5
    assert total >= 0.2 + 9 * 0.02 * 0.9


@pytest.mark.parametrize(("status", "kind"), [(500, "InternalServerError"), (503, "ServiceUnavailableError")])
def test_fail_status(vllm: VllmTarget, status: int, kind: str) -> None:
    vllm.require_standin().configure(fail_status=status, fail_message="engine is down")
    error = error_of(completion(vllm, prompt="x"), status)
    assert error == {"message": "engine is down", "type": kind, "param": None, "code": status}


def test_garbage(vllm: VllmTarget) -> None:
    vllm.require_standin().configure(garbage=True)
    with pytest.raises(json.JSONDecodeError):
        completion(vllm, prompt="x").json()
    with (
        vllm.client() as client,
        connect_sse(client, "POST", "/v1/completions", json={"prompt": "x", "stream": True}) as source,
    ):
        data = [event.data for event in source.iter_sse()]
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[0])


def test_unterminated_stream(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(unterminated=True, default_response="a b")
    body = {"model": vllm.model, "prompt": "x", "stream": True}
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        text = response.read().decode()
    assert "[DONE]" not in text and '"finish_reason":"stop"' not in text and '"text":"a"' in text


def test_error_mid_stream(vllm: VllmTarget) -> None:
    vllm.require_standin().configure(error_mid_stream=True, fail_message="boom", default_response="a b c")
    body = {"model": vllm.model, "prompt": "x", "stream": True}
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        raw = events(response)
    assert response.status_code == 200 and raw[-1] == "[DONE]"
    assert json.loads(raw[-2]) == {
        "error": {"message": "boom", "type": "InternalServerError", "param": None, "code": 500}
    }
    assert json.loads(raw[0])["choices"][0]["text"] == "a"


def test_client_closing_a_stream_is_recorded(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(tokens_per_s=20, default_response=LONG)
    body = {"model": vllm.model, "prompt": "x", "stream": True, "max_tokens": 100}
    with vllm.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        next(response.iter_lines())
    record = standin.wait_for_disconnect(timeout=3)
    assert record.path == "/v1/completions" and record.stream
    assert record.client_disconnected and record.aborted and not record.completed


def test_hang_until_the_client_goes_away(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(hang=True)
    with vllm.client(timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/v1/completions", json={"prompt": "x"})
    record = standin.wait_for_disconnect(timeout=3)
    assert record.aborted and record.status is None


def test_finished_stream_is_recorded_as_completed(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    body = {"model": vllm.model, "prompt": "x", "stream": True}
    with vllm.client() as client:
        client.post("/v1/completions", json=body, headers={"X-Trace": "t1"})
    record = standin.wait_for_requests(1, path="/v1/completions", finished=True)[-1]
    assert record.completed and not record.client_disconnected and not record.aborted
    assert record.headers["x-trace"] == "t1" and record.json["prompt"] == "x" and record.time > 0


def test_http_scripting_endpoints(vllm: VllmTarget) -> None:
    vllm.require_standin()
    with vllm.client() as client:
        config = client.post("/_standin/config", json={"rules": [{"match": "ping", "response": "pong"}]})
        assert config.json()["rules"] == [["ping", "pong"]]
        assert client.post("/_standin/config", json={"nonsense": 1}).status_code == 400
        assert completion(vllm, prompt="ping?").json()["choices"][0]["text"] == "pong"
        vllm.require_standin().wait_for_requests(1, finished=True)
        recorded = client.get("/_standin/requests").json()
        assert [r["path"] for r in recorded] == ["/v1/completions"]
        assert recorded[0]["json"]["prompt"] == "ping?" and recorded[0]["completed"] is True
        client.post("/_standin/reset")
        assert client.get("/_standin/requests").json() == []
        assert client.get("/_standin/config").json()["rules"] == []


# ---- other server configurations (stand-in only) ------------------------------------------------------


@pytest.fixture(scope="module")
def extra_servers(vllm_target: VllmTarget) -> Iterator[dict[str, StandinServer]]:
    vllm_target.require_standin()
    servers = {
        "auth": StandinServer(api_key="sekrit"),
        "pooling": StandinServer(model="embedder", runner="pooling", embedding_dim=64),
        "llama": StandinServer(model="llama-3.3-70b", family="llama"),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def test_api_key_guards_only_v1(extra_servers: dict[str, StandinServer]) -> None:
    base = extra_servers["auth"].base_url
    denied = httpx.get(base + "/v1/models")
    assert denied.status_code == 401 and denied.json() == {"error": "Unauthorized"}
    assert httpx.get(base + "/v1/models", headers={"Authorization": "bearer sekrit"}).status_code == 200
    assert httpx.get(base + "/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(base + "/health").status_code == 200
    assert httpx.post(base + "/tokenize", json={"prompt": "x"}).status_code == 200


def test_pooling_runner_embeddings(extra_servers: dict[str, StandinServer]) -> None:
    base = extra_servers["pooling"].base_url
    texts = ["def add(a, b): return a + b", "def add(x, y): return x + y", "SELECT name FROM users"]
    body = httpx.post(base + "/v1/embeddings", json={"model": "embedder", "input": texts}).json()
    assert body["object"] == "list" and body["id"].startswith("embd-")
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2] and all(len(v) == 64 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9) for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2])
    again = httpx.post(base + "/v1/embeddings", json={"input": texts[0]}).json()
    assert again["data"][0]["embedding"] == vectors[0]
    assert body["usage"]["prompt_tokens"] > 0
    gone = httpx.post(base + "/v1/completions", json={"prompt": "x"})
    assert gone.status_code == 404 and gone.json() == {"detail": "Not Found"}


def test_generate_runner_has_no_embeddings(vllm: VllmTarget) -> None:
    with vllm.client() as client:
        assert client.post("/v1/embeddings", json={"input": "x"}).status_code == 404


def test_fim_tokens_are_single_only_for_families_that_have_them(
    vllm: VllmTarget, extra_servers: dict[str, StandinServer]
) -> None:
    vllm.require_standin()
    for marker in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"):
        qwen = httpx.post(vllm.base_url + "/tokenize", json={"prompt": marker}).json()
        assert qwen["count"] == 1, marker
        llama = httpx.post(
            extra_servers["llama"].base_url + "/tokenize",
            json={"prompt": marker, "add_special_tokens": False},
        ).json()
        assert llama["count"] > 1, marker
    with_bos = httpx.post(extra_servers["llama"].base_url + "/tokenize", json={"prompt": "x"}).json()
    assert with_bos["tokens"][0] == 128_000


def test_cli_starts_and_answers_models() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin.vllm_standin",
            "--port",
            str(port),
            "--model",
            "demo-model",
            "--family",
            "starcoder",
            "--max-model-len",
            "4096",
            "--response",
            "hi",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the CLI did not start"
                time.sleep(0.05)
        assert models["data"][0]["id"] == "demo-model" and models["data"][0]["max_model_len"] == 4096
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/completions", json={"prompt": "x"}).json()
        assert answer["choices"][0]["text"] == "hi"
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_non_streaming_disconnect_aborts_the_generation(vllm: VllmTarget) -> None:
    standin = vllm.require_standin()
    standin.configure(ttft_s=2.0)
    with vllm.client(timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/v1/completions", json={"prompt": "x"})
    record = standin.wait_for_disconnect(timeout=3)
    assert record.aborted and not record.stream and not record.completed
    with vllm.client() as client:
        metrics = client.get("/metrics").text
    assert 'finished_reason="abort"' in metrics
