"""Client for vLLM's OpenAI-compatible server: probe, tokenize, streaming completions and chat.

All HTTP to models lives in this package. Streams are read with httpx-sse; cancelling the task
that consumes a stream closes the HTTP connection, which vLLM sees as a client disconnect and
answers by aborting the generation (freeing the slot).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

log = logging.getLogger(__name__)


class ModelError(Exception):
    """A model request failed. ``kind``: down, timeout, http, garbage, truncated."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status

    def short(self) -> str:
        return f"{self.kind}: {self}" if self.kind not in str(self) else str(self)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    max_model_len: int | None
    root: str | None
    all_ids: tuple[str, ...]


def split_base_url(url: str) -> tuple[str, str]:
    """(server root, /v1 base) from either form a user may give."""
    u = url.rstrip("/")
    if u.endswith("/v1"):
        return u[: -len("/v1")], u
    return u, u + "/v1"


def _error_message(resp_text: str, status: int) -> str:
    try:
        body = json.loads(resp_text)
    except ValueError:
        return f"HTTP {status}: {resp_text[:200]}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return f"HTTP {status}: {err.get('message', '')}"[:500]
    if isinstance(err, str):
        return f"HTTP {status}: {err}"
    if isinstance(body, dict) and "message" in body:  # vLLM before 0.10.1: a flat error object
        return f"HTTP {status}: {body['message']}"[:500]
    if isinstance(body, dict) and "detail" in body:
        return f"HTTP {status}: {body['detail']}"
    return f"HTTP {status}"


class OpenAIClient:
    def __init__(
        self, url: str, *, model: str | None = None, api_key: str | None = None, timeout_s: float = 10.0
    ) -> None:
        self.root_url, self.v1_url = split_base_url(url)
        self.model = model
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(2.0, timeout_s)),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            trust_env=False,  # models are local: never route them through a proxy
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> Any:
        return await self._json("GET", url)

    async def _post_json(self, url: str, body: dict[str, Any]) -> Any:
        return await self._json("POST", url, body)

    async def _json(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request; every failure becomes a ModelError saying what kind it is."""
        try:
            resp = await self._http.request(method, url, json=body)
        except httpx.TimeoutException as exc:
            raise ModelError("timeout", f"{url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise ModelError("down", f"cannot reach {url}: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise ModelError("http", _error_message(resp.text, resp.status_code), resp.status_code)
        try:
            return resp.json()
        except ValueError as exc:
            raise ModelError("garbage", f"{url} answered with invalid JSON") from exc

    async def probe(self) -> ModelInfo:
        data = await self._get_json(self.v1_url + "/models")
        cards = data.get("data") if isinstance(data, dict) else None
        if not isinstance(cards, list) or not cards:
            raise ModelError("garbage", f"{self.v1_url}/models lists no models")
        ids = tuple(str(c.get("id")) for c in cards if isinstance(c, dict))
        card = next((c for c in cards if c.get("id") == self.model), None) if self.model else cards[0]
        if card is None:
            raise ModelError("http", f"model {self.model!r} is not served at {self.v1_url} (served: {', '.join(ids)})")
        mml = card.get("max_model_len")
        return ModelInfo(str(card["id"]), int(mml) if isinstance(mml, int) else None, card.get("root"), ids)

    async def tokenize(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        body: dict[str, Any] = {"prompt": text, "add_special_tokens": add_special_tokens}
        if self.model:
            body["model"] = self.model
        data = await self._post_json(self.root_url + "/tokenize", body)
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise ModelError("garbage", "/tokenize answered without tokens")
        return [int(t) for t in tokens]

    async def _stream(self, url: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Yield the JSON events of an SSE stream until [DONE]; raise ModelError on any failure."""
        done = False
        try:
            async with aconnect_sse(self._http, "POST", url, json=body) as source:
                resp = source.response
                if resp.status_code != 200:
                    text = (await resp.aread()).decode("utf-8", "replace")
                    raise ModelError("http", _error_message(text, resp.status_code), resp.status_code)
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    raise ModelError("garbage", f"expected an event stream, got {ctype or 'no content type'}")
                async for sse in source.aiter_sse():
                    if sse.data == "[DONE]":
                        done = True
                        break
                    try:
                        event = json.loads(sse.data)
                    except ValueError as exc:
                        raise ModelError("garbage", "the model server sent an invalid stream event") from exc
                    if not isinstance(event, dict):
                        raise ModelError("garbage", "the model server sent an invalid stream event")
                    if "error" in event:
                        err = event["error"]
                        msg = err.get("message") if isinstance(err, dict) else str(err)
                        raise ModelError("http", f"the model failed mid-stream: {msg}")
                    yield event
        except httpx.TimeoutException as exc:
            raise ModelError("timeout", f"{url} did not answer in time") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ModelError("truncated", "the model server closed the stream early") from exc
        except httpx.HTTPError as exc:
            raise ModelError("down", f"cannot reach {url}: {exc.__class__.__name__}") from exc
        except SSEError as exc:
            raise ModelError("garbage", f"invalid event stream: {exc}") from exc
        if not done:
            raise ModelError("truncated", "the model's stream ended without [DONE]")

    async def stream_completion(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        extra: dict[str, Any] | None = None,
    ) -> AsyncIterator[str]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if self.model:
            body["model"] = self.model
        if stop:
            body["stop"] = list(stop)[:4]  # vLLM accepts at most 4 stop strings
        if extra:
            body.update(extra)
        async for event in self._stream(self.v1_url + "/completions", body):
            for choice in event.get("choices") or ():
                text = choice.get("text") if isinstance(choice, dict) else None
                if isinstance(text, str) and text:
                    yield text

    async def stream_chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.2,
        stop: Sequence[str] = (),
    ) -> AsyncIterator[str]:
        body: dict[str, Any] = {"messages": list(messages), "temperature": temperature, "stream": True}
        if self.model:
            body["model"] = self.model
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if stop:
            body["stop"] = list(stop)[:4]
        async for event in self._stream(self.v1_url + "/chat/completions", body):
            for choice in event.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    yield content
