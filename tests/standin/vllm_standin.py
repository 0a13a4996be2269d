"""A stand-in for vLLM 0.33's OpenAI-compatible server, for Hearth's tests, benchmarks and demos.

It speaks the wire protocol documented in ``/work/shared/notes/vllm-api.md`` (routes, error bodies,
SSE chunks, context-length rules, cancellation, ``--api-key``), answers from scripted rules with a
deterministic tokenizer, records every request, and can be told to be slow, fail or misbehave.

In process::

    with StandinServer(model="qwen2.5-coder-7b") as server:
        server.knobs.add_rule("def add", "    return a + b\\n")
        httpx.post(server.v1_url + "/completions", json={...})
        assert server.requests[-1].json["prompt"] == ...

From a shell (foreground)::

    python -m tests.standin.vllm_standin --port 8000 --family qwen --ttft-ms 50 --tokens-per-s 200
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from tests.standin.errors import (
    ApiError,
    ValidationFailure,
    check_schema,
    err,
    invalid,
    is_token_list,
    validate_chat_body,
    validate_completion_body,
)
from tests.standin.generation import ChoiceRun, Job, Step, embed_text, generate
from tests.standin.state import Knobs, Metrics, PrefixCache, RecordedRequest, Recorder
from tests.standin.tokenizer import FAMILIES, Tokenizer, message_text

logger = logging.getLogger(__name__)

VLLM_VERSION = "0.33.0"
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
MAX_LOGPROBS = 20
MAX_N = 16384
SAMPLING_EPS = 1e-5
RECORD_KEY = "standin_record"


# --------------------------------------------------------------------------------------------------
# Settings and errors


@dataclass(frozen=True)
class StandinSettings:
    """What a vLLM server is started with (its command line), fixed for the server's lifetime."""

    model: str = "qwen2.5-coder-7b"
    served_model_names: tuple[str, ...] = ()
    max_model_len: int = 8192
    family: str = "qwen"
    runner: str = "generate"  # "generate" | "pooling"
    api_keys: tuple[str, ...] = ()
    embedding_dim: int = 384
    block_size: int = 16
    enable_prompt_tokens_details: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return self.served_model_names or (self.model,)

    @property
    def fingerprint(self) -> str:
        return f"vllm-{VLLM_VERSION}-" + hashlib.sha256(self.model.encode()).hexdigest()[:8]


# --------------------------------------------------------------------------------------------------
# The application


class StandinApp:
    """Routes and handlers of one stand-in server; ``asgi`` is the ASGI entry point."""

    def __init__(self, settings: StandinSettings, knobs: Knobs, recorder: Recorder | None = None):
        if settings.family not in FAMILIES:
            raise ValueError(f"unknown family {settings.family!r}; known: {sorted(FAMILIES)}")
        if settings.runner not in ("generate", "pooling"):
            raise ValueError("runner must be 'generate' or 'pooling'")
        self.settings = settings
        self.knobs = knobs
        self.initial_knobs = knobs.copy()
        self.recorder = recorder or Recorder()
        self.tokenizer = Tokenizer(FAMILIES[settings.family])
        self.cache = PrefixCache(settings.block_size)
        self.metrics = Metrics()
        routes = [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/version", self.version, methods=["GET"]),
            Route("/metrics", self.metrics_route, methods=["GET"]),
            Route("/tokenize", self.tokenize, methods=["POST"]),
            Route("/detokenize", self.detokenize, methods=["POST"]),
            Route("/_standin/config", self.standin_config, methods=["GET", "POST"]),
            Route("/_standin/requests", self.standin_requests, methods=["GET"]),
            Route("/_standin/reset", self.standin_reset, methods=["POST"]),
        ]
        if settings.runner == "generate":
            routes += [
                Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            ]
        else:
            routes.append(Route("/v1/embeddings", self.embeddings, methods=["POST"]))
        self._router = Starlette(
            routes=routes,
            exception_handlers={
                ApiError: self._api_error,
                ValidationFailure: self._validation_error,
                HTTPException: self._http_exception,
            },
        )

    def reset(self) -> None:
        self.recorder.clear()
        self.cache.clear()
        self.metrics = Metrics()
        fresh = self.initial_knobs.copy()
        for name in vars(fresh):
            setattr(self.knobs, name, getattr(fresh, name))

    # ---- ASGI front door: recording and authentication --------------------------------------------

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._router(scope, receive, send)
            return
        path: str = scope["path"]
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        record: RecordedRequest | None = None
        if not path.startswith("/_standin/"):
            try:
                parsed: Any = json.loads(body) if body else None
            except ValueError:
                parsed = None
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            client = scope.get("client")
            record = RecordedRequest(
                scope["method"], path, headers, body, parsed, time.time(),
                peer=f"{client[0]}:{client[1]}" if client else None,
            )
            self.recorder.add(record)
            scope.setdefault("state", {})[RECORD_KEY] = record

        async def recording_send(message: Message) -> None:
            if record is not None and record.client_disconnected:
                return  # nobody is listening any more (vLLM's discarded response)
            if record is not None and message["type"] == "http.response.start":
                self.recorder.update(record, status=message["status"])
            await send(message)

        if self._unauthorized(scope):
            response = JSONResponse({"error": "Unauthorized"}, status_code=401)
            await response(scope, replay, recording_send)
        else:
            await self._router(scope, replay, recording_send)
        if record is not None:
            self.recorder.update(record, finished_at=time.time(), completed=not record.client_disconnected)

    def _unauthorized(self, scope: Scope) -> bool:
        if not self.settings.api_keys or scope["method"] == "OPTIONS":
            return False
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(GUARDED_PREFIXES):
            return False
        header = ""
        for key, value in scope["headers"]:
            if key.lower() == b"authorization":
                header = value.decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return True
        digest = hashlib.sha256(token.encode()).digest()
        ok = False
        for key in self.settings.api_keys:
            ok |= hmac.compare_digest(digest, hashlib.sha256(key.encode()).digest())
        return not ok

    # ---- error handlers ---------------------------------------------------------------------------

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def _validation_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationFailure)
        return JSONResponse(exc.body(), status_code=400)

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    # ---- helpers -----------------------------------------------------------------------------------

    def _record(self, request: Request) -> RecordedRequest | None:
        record = request.scope.get("state", {}).get(RECORD_KEY)
        return record if isinstance(record, RecordedRequest) else None

    async def _json_body(self, request: Request) -> Any:
        content_type = request.headers.get("content-type", "").lower()
        if content_type.split(";", 1)[0].strip() != "application/json":
            raise ValidationFailure(["Unsupported Media Type: Only 'application/json' is allowed"])
        raw = await request.body()
        try:
            return json.loads(raw)
        except ValueError as exc:
            position = getattr(exc, "pos", 0)
            raise ValidationFailure(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", position),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": getattr(exc, "msg", str(exc))},
                    }
                ]
            ) from None

    def _check_model(self, body: Mapping[str, Any]) -> str:
        name = body.get("model")
        if name in (None, "") or name in self.settings.names:
            return self.settings.names[0]
        aliases = ", ".join(self.settings.names)
        raise ApiError(
            404, f"The model `{name}` does not exist. Valid aliases: {aliases}.", "NotFoundError", "model"
        )

    @staticmethod
    def _request_id(request: Request, body: Mapping[str, Any]) -> str:
        header = request.headers.get("x-request-id")
        if header:
            return header
        from_body = body.get("request_id")
        if isinstance(from_body, str) and from_body:
            return from_body
        return uuid.uuid4().hex

    def _check_token_ids(self, ids: Sequence[int]) -> None:
        for token_id in ids:
            if token_id < 0 or token_id >= self.tokenizer.family.vocab_size:
                raise ApiError(400, f"Token id {token_id} is out of vocabulary")

    def _check_context(self, prompt_len: int, max_tokens: int | None) -> int:
        """vLLM 0.33's TokenizeParams checks; returns the effective max_tokens."""
        limit = self.settings.max_model_len
        if max_tokens is not None and max_tokens > limit:
            raise invalid(
                f"max_tokens={max_tokens} cannot be greater than max_model_len={limit}. "
                "Please request fewer output tokens.",
                "max_tokens",
                max_tokens,
            )
        if prompt_len > limit:
            shown = min(prompt_len, limit + 1)
            at_least = "at least " if shown == limit + 1 else ""
            raise invalid(
                f"This model's maximum context length is {limit} tokens. However, your prompt "
                f"contains {at_least}{shown} input tokens, which exceeds this limit even without "
                "any output tokens. Please reduce the length of the input prompt.",
                "input_tokens",
                shown,
            )
        room = limit - prompt_len
        effective = room if max_tokens is None else min(max_tokens, room)
        if effective < 1:
            raise invalid(f"max_tokens must be at least 1, got {effective}.", "max_tokens", effective)
        return effective

    @staticmethod
    def _check_sampling(body: Mapping[str, Any], n: int) -> None:
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= temperature <= 2:
            value = float(temperature)
            raise invalid(f"temperature must be in [0, 2], got {value}.", "temperature", value)
        top_p = body.get("top_p")
        if top_p is not None and not 0 < top_p <= 1:
            value = float(top_p)
            raise invalid(f"top_p must be in (0, 1], got {value}.", "top_p", value)
        for name in ("presence_penalty", "frequency_penalty"):
            penalty = body.get(name)
            if penalty is not None and not -2 <= penalty <= 2:
                value = float(penalty)
                raise invalid(f"{name} must be in [-2, 2], got {value}.", name, value)
        if not 1 <= n <= MAX_N:
            raise invalid(f"n must be at least 1, got {n}.", "n", n)
        if temperature is not None and temperature < SAMPLING_EPS and n > 1:
            raise ApiError(400, f"n must be 1 when using greedy sampling, got {n}.")

    @staticmethod
    def _stops(body: Mapping[str, Any]) -> list[str]:
        stop = body.get("stop")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if any(s == "" for s in stops):
            raise ApiError(400, "stop cannot contain an empty string.")
        return stops

    def _check_failure_knob(self) -> None:
        status = self.knobs.fail_status
        if status is not None:
            raise ApiError(status, self.knobs.fail_message)

    async def _until_disconnect(self, request: Request, work: Awaitable[Any]) -> tuple[bool, Any]:
        """Run ``work`` unless the client goes away first (vLLM's ``with_cancellation``)."""
        task = asyncio.ensure_future(work)
        listener = asyncio.ensure_future(_wait_for_disconnect(request.receive))
        done, _ = await asyncio.wait({task, listener}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            listener.cancel()
            return True, task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        record = self._record(request)
        if record is not None:
            self.recorder.update(record, client_disconnected=True, aborted=True)
        return False, None

    async def _hang(self, request: Request) -> Response:
        await self._until_disconnect(request, asyncio.Event().wait())
        return Response()

    def _admit(self, prompt_ids: list[int]) -> int:
        hit = self.cache.lookup(prompt_ids)
        self.metrics.prompt_tokens += len(prompt_ids)
        return hit

    # ---- info routes -------------------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        now = int(time.time())
        cards = [
            {
                "id": name,
                "object": "model",
                "created": now,
                "owned_by": "vllm",
                "root": self.settings.model,
                "parent": None,
                "max_model_len": self.settings.max_model_len,
                "permission": [
                    {
                        "id": f"modelperm-{uuid.uuid4().hex}",
                        "object": "model_permission",
                        "created": now,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
            for name in self.settings.names
        ]
        return JSONResponse({"object": "list", "data": cards})

    async def health(self, request: Request) -> Response:
        return Response(status_code=self.knobs.health_status)

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": VLLM_VERSION})

    async def metrics_route(self, request: Request) -> Response:
        text = self.metrics.render(self.settings.names[0], self.cache)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def tokenize(self, request: Request) -> Response:
        body = await self._json_body(request)
        if isinstance(body, dict) and "messages" in body:
            errors = check_schema(
                body,
                {
                    "model": "str",
                    "add_generation_prompt": "bool",
                    "continue_final_message": "bool",
                    "add_special_tokens": "bool",
                    "return_token_strs": "bool",
                    "messages": "list",
                },
            )
            if errors:
                raise ValidationFailure(errors)
            add_generation = body.get("add_generation_prompt", True)
            continue_final = body.get("continue_final_message", False)
            if add_generation and continue_final:
                raise ApiError(
                    400, "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
                )
            self._check_model(body)
            text = self.tokenizer.apply_chat_template(body["messages"], add_generation, continue_final)
            ids = self.tokenizer.encode(text, bool(body.get("add_special_tokens", False)))
        else:
            errors = check_schema(
                body,
                {"model": "str", "prompt": "str", "add_special_tokens": "bool", "return_token_strs": "bool"},
            )
            if not errors and body.get("prompt") is None:
                errors.append(err("missing", ("body", "prompt"), "Field required", body))
            if errors:
                raise ValidationFailure(errors)
            self._check_model(body)
            ids = self.tokenizer.encode(body["prompt"], bool(body.get("add_special_tokens", True)))
        strs = [self.tokenizer.id_to_piece(i) for i in ids] if body.get("return_token_strs") else None
        return JSONResponse(
            {
                "count": len(ids),
                "max_model_len": self.settings.max_model_len,
                "tokens": ids,
                "token_strs": strs,
            }
        )

    async def detokenize(self, request: Request) -> Response:
        body = await self._json_body(request)
        errors = check_schema(body, {"model": "str", "tokens": "list"})
        if not errors:
            tokens = body.get("tokens")
            if tokens is None:
                errors.append(err("missing", ("body", "tokens"), "Field required", body))
            elif not is_token_list(tokens) or any(t < 0 for t in tokens):
                errors.append(
                    err(
                        "greater_than_equal",
                        ("body", "tokens"),
                        "Input should be a valid list of integers greater than or equal to 0",
                        tokens,
                    )
                )
        if errors:
            raise ValidationFailure(errors)
        self._check_model(body)
        self._check_token_ids(body["tokens"])
        return JSONResponse({"prompt": self.tokenizer.decode(body["tokens"])})

    # ---- completions -------------------------------------------------------------------------------

    async def completions(self, request: Request) -> Response:
        body = await self._json_body(request)
        validate_completion_body(body)
        model = self._check_model(body)
        if body.get("suffix") is not None:
            raise ApiError(
                400,
                "suffix is only supported for models with FIM completion rendering",
                "BadRequestError",
                "suffix",
            )
        add_special = body.get("add_special_tokens", True) is not False
        prompt = body["prompt"]
        prompt_ids_list: list[list[int]]
        if isinstance(prompt, str):
            prompt_ids_list = [self.tokenizer.encode(prompt, add_special)]
        elif is_token_list(prompt):
            prompt_ids_list = [list(prompt)]
        elif all(isinstance(p, str) for p in prompt):
            prompt_ids_list = [self.tokenizer.encode(p, add_special) for p in prompt]
        else:
            prompt_ids_list = [list(p) for p in prompt]
        for ids in prompt_ids_list:
            self._check_token_ids(ids)
        max_tokens = body.get("max_tokens")
        max_tokens = 16 if max_tokens is None else int(max_tokens)
        echo = bool(body.get("echo"))
        effective = [
            self._check_context(len(ids), max_tokens) if not (echo and max_tokens == 0) else 0
            for ids in prompt_ids_list
        ]
        n = 1 if body.get("n") is None else int(body["n"])
        self._check_sampling(body, n)
        stops = self._stops(body)
        logprobs = body.get("logprobs")
        if logprobs is not None and logprobs > MAX_LOGPROBS:
            raise ApiError(
                400,
                f"Requested sample logprobs of {logprobs}, which is greater than max allowed: {MAX_LOGPROBS}",
            )
        self._check_failure_knob()
        if self.knobs.hang:
            return await self._hang(request)
        if isinstance(prompt, str):
            texts = [prompt]
        elif all(isinstance(p, str) for p in prompt):
            texts = list(prompt)
        else:
            texts = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in prompt_ids_list]
        return await self._run(
            request, body, "completion", model, prompt_ids_list, texts, effective, n, stops, echo=echo
        )

    async def chat_completions(self, request: Request) -> Response:
        body = await self._json_body(request)
        validate_chat_body(body)
        model = self._check_model(body)
        messages: list[dict[str, Any]] = body["messages"]
        add_generation = body.get("add_generation_prompt", True) is not False
        continue_final = bool(body.get("continue_final_message"))
        if add_generation and continue_final:
            raise ApiError(
                400, "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
            )
        text = self.tokenizer.apply_chat_template(messages, add_generation, continue_final)
        prompt_ids = self.tokenizer.encode(text, bool(body.get("add_special_tokens", False)))
        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
        effective = self._check_context(len(prompt_ids), None if max_tokens is None else int(max_tokens))
        n = 1 if body.get("n") is None else int(body["n"])
        self._check_sampling(body, n)
        stops = self._stops(body)
        self._check_failure_knob()
        if self.knobs.hang:
            return await self._hang(request)
        user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
        match_text = user_texts[-1] if user_texts else text
        role = "assistant" if add_generation else str(messages[-1]["role"]) if messages else "assistant"
        return await self._run(
            request, body, "chat", model, [prompt_ids], [match_text], [effective], n, stops, role=role
        )

    async def _run(
        self,
        request: Request,
        body: Mapping[str, Any],
        kind: str,
        model: str,
        prompt_ids_list: list[list[int]],
        match_texts: list[str],
        max_tokens: list[int],
        n: int,
        stops: list[str],
        echo: bool = False,
        role: str = "assistant",
    ) -> Response:
        include_stop = bool(body.get("include_stop_str_in_output"))
        choices: list[ChoiceRun] = []
        cached = 0
        for prompt_index, (ids, match_text, limit) in enumerate(
            zip(prompt_ids_list, match_texts, max_tokens, strict=True)
        ):
            cached += self._admit(ids)
            response = self.knobs.response_for(match_text)
            pieces = self.tokenizer.pieces(response) if limit > 0 else []
            for sample in range(n):
                steps = (
                    generate(pieces, limit, stops, include_stop) if limit > 0 else iter([Step("", "length")])
                )
                choices.append(ChoiceRun(prompt_index * n + sample, ids, steps))
        stream = body.get("stream") is True
        options = body.get("stream_options") or {}
        job = Job(
            kind=kind,
            rid=self._request_id(request, body),
            created=int(time.time()),
            model=model,
            choices=choices,
            prompt_tokens=sum(len(ids) for ids in prompt_ids_list),
            cached_tokens=cached,
            stream=stream,
            include_usage=bool(options.get("include_usage")),
            continuous_usage=bool(options.get("continuous_usage_stats")),
            role=role,
            echo_texts=[t for t in match_texts for _ in range(n)] if echo else [],
        )
        record = self._record(request)
        if record is not None:
            self.recorder.update(record, stream=stream)
        if stream:
            return EventStream(self._stream_events(job), self, record)
        if self.knobs.garbage:
            return Response('{"id": "cmpl-garbage", "choices": [{"text": ', media_type="application/json")
        finished, _ = await self._until_disconnect(request, self._drain(job))
        if not finished:
            return Response()
        return JSONResponse(self._full_response(job))

    # ---- the generation loop -----------------------------------------------------------------------

    async def _steps(self, job: Job) -> AsyncGenerator[list[tuple[ChoiceRun, Step]], None]:
        """Advance every choice by one token per round, paced by the knobs; aborts are counted."""
        self.metrics.running += 1
        started = time.monotonic()
        first = True
        try:
            while True:
                active = [c for c in job.choices if c.finish_reason is None]
                if not active:
                    return
                delay = (
                    self.knobs.ttft_s
                    if first
                    else (1.0 / self.knobs.tokens_per_s if self.knobs.tokens_per_s > 0 else 0.0)
                )
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)
                if first:
                    self.metrics.ttft.append(time.monotonic() - started)
                    first = False
                round_: list[tuple[ChoiceRun, Step]] = []
                for choice in active:
                    step = next(choice.steps)
                    choice.tokens += 1
                    self.metrics.generation_tokens += 1
                    choice.text += step.delta
                    if step.finish_reason is not None:
                        choice.finish_reason = step.finish_reason
                        choice.stop_reason = step.stop_reason
                        self.metrics.finished(step.finish_reason)
                        self.cache.insert(choice.prompt_ids + self.tokenizer.encode(choice.text, False))
                    round_.append((choice, step))
                yield round_
        finally:
            self.metrics.running -= 1
            for choice in job.choices:
                if choice.finish_reason is None:
                    choice.finish_reason = "abort"
                    self.metrics.finished("abort")

    async def _drain(self, job: Job) -> None:
        async with contextlib.aclosing(self._steps(job)) as rounds:
            async for _ in rounds:
                pass

    def _full_response(self, job: Job) -> dict[str, Any]:
        details = self.settings.enable_prompt_tokens_details
        if job.kind == "completion":
            choices = [
                {
                    "index": c.index,
                    "text": (job.echo_texts[c.index] if job.echo_texts else "") + c.text,
                    "logprobs": None,
                    "finish_reason": c.finish_reason,
                    "stop_reason": c.stop_reason,
                    "token_ids": None,
                    "prompt_logprobs": None,
                    "prompt_token_ids": None,
                    "routed_experts": None,
                    "weight_versions": None,
                }
                for c in job.choices
            ]
            return {
                "id": f"cmpl-{job.rid}",
                "object": "text_completion",
                "created": job.created,
                "model": job.model,
                "choices": choices,
                "service_tier": None,
                "system_fingerprint": self.settings.fingerprint,
                "usage": job.usage(details),
                "kv_transfer_params": None,
                "ec_transfer_params": None,
                "metrics": None,
            }
        chat_choices = [
            {
                "index": c.index,
                "message": {
                    "role": "assistant",
                    "content": c.text,
                    "refusal": None,
                    "annotations": None,
                    "audio": None,
                    "function_call": None,
                    "reasoning": None,
                },
                "logprobs": None,
                "finish_reason": c.finish_reason,
                "stop_reason": c.stop_reason,
                "token_ids": None,
                "routed_experts": None,
                "weight_versions": None,
            }
            for c in job.choices
        ]
        return {
            "id": f"chatcmpl-{job.rid}",
            "object": "chat.completion",
            "created": job.created,
            "model": job.model,
            "choices": chat_choices,
            "service_tier": None,
            "system_fingerprint": self.settings.fingerprint,
            "usage": job.usage(details),
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "prompt_text": None,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }

    async def _stream_events(self, job: Job) -> AsyncIterator[str]:
        """The SSE events of a streamed job, exactly as vLLM frames them."""
        if self.knobs.garbage:
            yield 'data: {"id": "cmpl-garbage", "choices": [{"text": \n\n'
            yield "this is not a server-sent event\n\n"
            yield "data: [DONE]\n\n"
            return
        chat = job.kind == "chat"
        ident = f"chatcmpl-{job.rid}" if chat else f"cmpl-{job.rid}"
        obj = "chat.completion.chunk" if chat else "text_completion"
        head = {"id": ident, "object": obj, "created": job.created, "model": job.model}

        def usage_now() -> dict[str, int]:
            done = job.completion_tokens
            return {
                "prompt_tokens": job.prompt_tokens,
                "total_tokens": job.prompt_tokens + done,
                "completion_tokens": done,
            }

        def event(payload: dict[str, Any]) -> str:
            if job.continuous_usage and payload.get("choices"):
                payload["usage"] = usage_now()
            return "data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n\n"

        if chat:
            for c in job.choices:
                yield event(
                    {
                        **head,
                        "choices": [
                            {
                                "index": c.index,
                                "delta": {"role": job.role, "content": ""},
                                "logprobs": None,
                                "finish_reason": None,
                            }
                        ],
                        "prompt_token_ids": None,
                        "prompt_text": None,
                    }
                )
        echoed: set[int] = set()
        content_chunks = 0
        async with contextlib.aclosing(self._steps(job)) as rounds:
            async for round_ in rounds:
                for choice, step in round_:
                    delta = step.delta
                    if job.echo_texts and choice.index not in echoed:
                        echoed.add(choice.index)
                        delta = job.echo_texts[choice.index] + delta
                    if step.finish_reason is None and delta == "":
                        continue  # vLLM skips empty pre-token deltas
                    if step.finish_reason is not None and self.knobs.unterminated:
                        return
                    if chat:
                        delta_obj: dict[str, Any] = {"content": delta}
                        choice_obj: dict[str, Any] = {
                            "index": choice.index,
                            "delta": delta_obj,
                            "logprobs": None,
                            "finish_reason": step.finish_reason,
                        }
                        if step.finish_reason is not None:
                            choice_obj["stop_reason"] = step.stop_reason
                        choice_obj["token_ids"] = None
                    else:
                        choice_obj = {
                            "index": choice.index,
                            "text": delta,
                            "logprobs": None,
                            "finish_reason": step.finish_reason,
                            "stop_reason": step.stop_reason,
                            "prompt_token_ids": None,
                            "token_ids": None,
                            "weight_versions": None,
                        }
                    yield event({**head, "choices": [choice_obj], "kv_transfer_params": None})
                    content_chunks += 1
                    if self.knobs.error_mid_stream and content_chunks == 1:
                        error = ApiError(500, self.knobs.fail_message, "InternalServerError")
                        yield "data: " + json.dumps(error.body(), separators=(",", ":")) + "\n\n"
                        yield "data: [DONE]\n\n"
                        return
        if job.include_usage:
            usage: dict[str, Any] = usage_now()
            if self.settings.enable_prompt_tokens_details:
                usage["prompt_tokens_details"] = {"cached_tokens": job.cached_tokens}
            yield event(
                {**head, "choices": [], "usage": usage, "system_fingerprint": self.settings.fingerprint}
            )
        yield "data: [DONE]\n\n"

    # ---- embeddings --------------------------------------------------------------------------------

    async def embeddings(self, request: Request) -> Response:
        body = await self._json_body(request)
        errors = check_schema(
            body,
            {
                "model": "str",
                "encoding_format": "str",
                "dimensions": "int",
                "truncate_prompt_tokens": "int",
                "add_special_tokens": "bool",
            },
        )
        if not errors:
            raw = body.get("input")
            if raw is None:
                errors.append(err("missing", ("body", "input"), "Field required", body))
            elif not (
                isinstance(raw, str)
                or is_token_list(raw)
                or (isinstance(raw, list) and all(isinstance(x, str) or is_token_list(x) for x in raw))
            ):
                errors.append(
                    err("string_type", ("body", "input", "str"), "Input should be a valid string", raw)
                )
        if errors:
            raise ValidationFailure(errors)
        model = self._check_model(body)
        raw = body["input"]
        items: list[str | list[int]] = [raw] if isinstance(raw, str) or is_token_list(raw) else list(raw)
        dim = self.settings.embedding_dim
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != dim:
            raise ApiError(
                400,
                f'Model "{model}" does not support matryoshka representation, changing output '
                "dimensions will lead to poor results.",
            )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise ApiError(400, f"Unsupported encoding_format {encoding!r}")
        self._check_failure_knob()
        if self.knobs.hang:
            return await self._hang(request)
        add_special = body.get("add_special_tokens", True) is not False
        truncate = body.get("truncate_prompt_tokens")
        data: list[dict[str, Any]] = []
        prompt_tokens = 0
        for index, item in enumerate(items):
            if isinstance(item, str):
                ids = self.tokenizer.encode(item, add_special)
            else:
                ids = list(item)
                self._check_token_ids(ids)
            if truncate is not None and truncate >= 0:
                ids = ids[-truncate:] if truncate else []
            if len(ids) > self.settings.max_model_len:
                self._check_context(len(ids), None)
            prompt_tokens += len(ids)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            vector = embed_text(text, dim)
            value: Any = vector
            if encoding == "base64":
                value = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"index": index, "object": "embedding", "embedding": value})
        if self.knobs.ttft_s > 0:
            finished, _ = await self._until_disconnect(request, asyncio.sleep(self.knobs.ttft_s))
            if not finished:
                return Response()
        return JSONResponse(
            {
                "id": f"embd-{self._request_id(request, body)}",
                "object": "list",
                "created": int(time.time()),
                "model": model,
                "data": data,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "total_tokens": prompt_tokens,
                    "completion_tokens": 0,
                    "prompt_tokens_details": None,
                },
            }
        )

    # ---- scripting over HTTP -----------------------------------------------------------------------

    async def standin_config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                values = json.loads(await request.body() or b"{}")
                if not isinstance(values, dict):
                    raise ValueError("the body must be a JSON object of knobs")
                self.knobs.update(values)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.knobs.to_dict())

    async def standin_requests(self, request: Request) -> Response:
        return JSONResponse([r.to_dict() for r in self.recorder.snapshot()])

    async def standin_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class EventStream(Response):
    """An SSE response that, like Starlette 1.x under uvicorn, cancels the generator on disconnect.

    It also records the outcome: completed, or client_disconnected (with the generation aborted if it
    had not finished).
    """

    def __init__(self, events: AsyncIterator[str], app: StandinApp, record: RecordedRequest | None):
        super().__init__(status_code=200, media_type="text/event-stream")
        self.events = events
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        if self.app.knobs.unterminated:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        exhausted = False

        async def pump() -> None:
            nonlocal exhausted
            try:
                async for chunk in self.events:
                    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
                exhausted = True
            finally:
                await _aclose(self.events)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        pump_task = asyncio.ensure_future(pump())
        listener = asyncio.ensure_future(_wait_for_disconnect(receive))
        done, _ = await asyncio.wait({pump_task, listener}, return_when=asyncio.FIRST_COMPLETED)
        recorder = self.app.recorder
        if pump_task in done:
            listener.cancel()
            error = pump_task.exception()
            if error is not None:
                raise error
            if self.record is not None:
                recorder.update(self.record, completed=True)
            return
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump_task
        if self.record is not None:
            recorder.update(self.record, aborted=not exhausted, client_disconnected=True)


async def _aclose(iterator: AsyncIterator[str]) -> None:
    close: Callable[[], Awaitable[None]] | None = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


# --------------------------------------------------------------------------------------------------
# Running it: in a background thread (tests) or in the foreground (CLI)


class StandinServer:
    """A stand-in vLLM server on 127.0.0.1 and a free port, run by uvicorn in a background thread.

    Use it as a context manager (``with StandinServer() as s:``) or call ``start()``/``stop()``.
    ``knobs`` may be changed at any time; ``requests`` lists what the server received.
    """

    def __init__(
        self,
        model: str = "qwen2.5-coder-7b",
        max_model_len: int = 8192,
        family: str = "qwen",
        runner: str = "generate",
        api_key: str | Sequence[str] | None = None,
        *,
        served_model_names: Sequence[str] = (),
        embedding_dim: int = 384,
        block_size: int = 16,
        enable_prompt_tokens_details: bool = False,
        knobs: Knobs | None = None,
    ):
        keys = (api_key,) if isinstance(api_key, str) else tuple(api_key or ())
        self.settings = StandinSettings(
            model=model,
            served_model_names=tuple(served_model_names),
            max_model_len=max_model_len,
            family=family,
            runner=runner,
            api_keys=keys,
            embedding_dim=embedding_dim,
            block_size=block_size,
            enable_prompt_tokens_details=enable_prompt_tokens_details,
        )
        self.knobs = knobs or Knobs()
        self.app = StandinApp(self.settings, self.knobs)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # lifecycle

    def start(self, timeout: float = 10.0) -> StandinServer:
        if self._thread is not None:
            raise RuntimeError("the stand-in server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app.asgi,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
            loop="asyncio",
            http="h11",
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="vllm-standin", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stand-in server did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the stand-in server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def model(self) -> str:
        return self.settings.names[0]

    @property
    def tokenizer(self) -> Tokenizer:
        return self.app.tokenizer

    # scripting and inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.recorder.snapshot()

    def configure(self, **values: Any) -> None:
        """Set knobs by name, e.g. ``configure(ttft_s=0.2, rules=[("def add", "return a + b")])``."""
        responder = values.pop("responder", None)
        if responder is not None:
            self.knobs.responder = responder
        self.knobs.update(values)

    def reset(self) -> None:
        """Forget recorded requests, prefix cache and metrics; knobs go back to their initial values."""
        self.app.reset()

    def wait_for_requests(
        self, count: int, timeout: float = 5.0, path: str | None = None, finished: bool = False
    ) -> list[RecordedRequest]:
        """Wait for ``count`` requests (to ``path`` if given) to arrive, or to be handled if ``finished``."""

        def matching(requests: Sequence[RecordedRequest]) -> list[RecordedRequest]:
            return [
                r
                for r in requests
                if (path is None or r.path == path) and (not finished or r.finished_at is not None)
            ]

        def enough(requests: Sequence[RecordedRequest]) -> RecordedRequest | None:
            found = matching(requests)
            return found[count - 1] if len(found) >= count else None

        if self.app.recorder.wait_for(enough, timeout) is None:
            raise TimeoutError(f"fewer than {count} requests arrived within {timeout} s")
        return matching(self.requests)

    def wait_for_disconnect(self, timeout: float = 5.0) -> RecordedRequest:
        """Wait until some request's client went away before its response was complete."""

        def disconnected(requests: Sequence[RecordedRequest]) -> RecordedRequest | None:
            return next((r for r in requests if r.client_disconnected), None)

        found = self.app.recorder.wait_for(disconnected, timeout)
        if found is None:
            raise TimeoutError(f"no client disconnected within {timeout} s")
        return found

    async def wait_for_disconnect_async(self, timeout: float = 5.0) -> RecordedRequest:
        return await asyncio.to_thread(self.wait_for_disconnect, timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin.vllm_standin",
        description="Stand-in for vLLM's OpenAI-compatible server (tests, demos).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="qwen2.5-coder-7b")
    parser.add_argument("--served-model-name", nargs="+", default=[])
    parser.add_argument("--family", choices=sorted(FAMILIES), default="qwen")
    parser.add_argument("--runner", choices=["generate", "pooling"], default="generate")
    parser.add_argument("--max-model-len", type=int, default=8192)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=0.0)
    parser.add_argument("--response", default=None, help="default response text")
    parser.add_argument("--api-key", nargs="+", default=None)
    parser.add_argument("--embedding-dim", type=int, default=384)
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--enable-prompt-tokens-details", action="store_true")
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    knobs = Knobs(ttft_s=args.ttft_ms / 1000.0, tokens_per_s=args.tokens_per_s)
    if args.response is not None:
        knobs.default_response = args.response
    settings = StandinSettings(
        model=args.model,
        served_model_names=tuple(args.served_model_name),
        max_model_len=args.max_model_len,
        family=args.family,
        runner=args.runner,
        api_keys=tuple(args.api_key or ()),
        embedding_dim=args.embedding_dim,
        block_size=args.block_size,
        enable_prompt_tokens_details=args.enable_prompt_tokens_details,
    )
    app = StandinApp(settings, knobs)
    uvicorn.run(
        app.asgi,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="off",
        interface="asgi3",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
