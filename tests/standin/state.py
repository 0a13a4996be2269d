"""Mutable state of a stand-in server: behaviour knobs, the request recorder, prefix cache and metrics.

The server's event loop runs in its own thread (``StandinServer``) while tests read and change this
state from theirs, so the recorder is guarded by a condition variable and the knobs are plain
attributes that the server reads afresh at every step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

RuleResponder = Callable[[str], "str | None"]


@dataclass
class Knobs:
    """Behaviour of the stand-in, settable at any time (in-process or through POST /_standin/config).

    ``rules`` maps a substring of the prompt (completions) or of the last user message (chat) to the
    response text; the first match wins, else ``default_response``. ``responder`` is an in-process
    alternative: a callable given the same text that returns a response or None.
    """

    rules: list[tuple[str, str]] = field(default_factory=list)
    default_response: str = "return 42\n"
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    fail_status: int | None = None
    fail_message: str = "stand-in: injected failure"
    garbage: bool = False
    unterminated: bool = False
    error_mid_stream: bool = False
    hang: bool = False
    health_status: int = 200
    responder: RuleResponder | None = None

    def response_for(self, text: str) -> str:
        if self.responder is not None:
            answer = self.responder(text)
            if answer is not None:
                return answer
        for needle, response in list(self.rules):
            if needle in text:
                return response
        return self.default_response

    def add_rule(self, needle: str, response: str) -> None:
        self.rules.append((needle, response))

    def update(self, values: Mapping[str, Any]) -> None:
        """Apply JSON knob values, checking names and types (raises ValueError)."""
        known = {f.name for f in fields(self)} - {"responder"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}")
        for name, value in values.items():
            if name == "rules":
                self.rules = _parse_rules(value)
            elif name in ("ttft_s", "tokens_per_s"):
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
                setattr(self, name, float(value))
            elif name in ("fail_status", "health_status"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError(f"{name} must be an integer status or null")
                if name == "health_status" and value is None:
                    raise ValueError("health_status must be an integer status")
                setattr(self, name, value)
            elif name in ("garbage", "unterminated", "error_mid_stream", "hang"):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be a boolean")
                setattr(self, name, value)
            else:
                if not isinstance(value, str):
                    raise ValueError(f"{name} must be a string")
                setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("responder")
        data["rules"] = [list(r) for r in self.rules]
        return data

    def copy(self) -> Knobs:
        clone = Knobs(**{f.name: getattr(self, f.name) for f in fields(self)})
        clone.rules = list(self.rules)
        return clone


def _parse_rules(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ValueError("rules must be a list of [substring, response] pairs or {match, response} objects")
    rules: list[tuple[str, str]] = []
    for item in value:
        if (
            isinstance(item, dict)
            and isinstance(item.get("match"), str)
            and isinstance(item.get("response"), str)
        ):
            rules.append((item["match"], item["response"]))
        elif isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            rules.append((item[0], item[1]))
        else:
            raise ValueError(f"bad rule: {item!r}")
    return rules


@dataclass
class RecordedRequest:
    """One request the stand-in received, and what became of it.

    ``client_disconnected``: the client went away before the response was complete.
    ``aborted``: the generation was cancelled before it finished (vLLM's abort).
    ``completed``: the whole response, ``[DONE]`` included for streams, was handed to the server.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    time: float
    status: int | None = None
    stream: bool = False
    client_disconnected: bool = False
    aborted: bool = False
    completed: bool = False
    finished_at: float | None = None
    peer: str | None = None  # the client's "host:port": one TCP connection per distinct peer

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "json": self.json,
            "body": None if self.json is not None else self.body.decode("utf-8", "replace"),
            "time": self.time,
            "status": self.status,
            "stream": self.stream,
            "client_disconnected": self.client_disconnected,
            "aborted": self.aborted,
            "completed": self.completed,
            "finished_at": self.finished_at,
            "peer": self.peer,
        }


class Recorder:
    """Thread-safe list of recorded requests with waiting helpers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()

    def update(self, record: RecordedRequest, **changes: Any) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(record, name, value)
            self._cond.notify_all()

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def clear(self) -> None:
        with self._cond:
            self._requests.clear()
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[Sequence[RecordedRequest]], RecordedRequest | None], timeout: float
    ) -> RecordedRequest | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = predicate(self._requests)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


class PrefixCache:
    """vLLM's automatic prefix caching, counted in tokens: chained hashes of full blocks, unbounded."""

    def __init__(self, block_size: int = 16) -> None:
        self.block_size = block_size
        self._blocks: set[int] = set()
        self.queries = 0
        self.hits = 0

    def _hashes(self, token_ids: Sequence[int]) -> list[int]:
        hashes: list[int] = []
        parent = 0
        size = self.block_size
        for start in range(0, len(token_ids) - size + 1, size):
            parent = hash((parent, tuple(token_ids[start : start + size])))
            hashes.append(parent)
        return hashes

    def lookup(self, prompt_ids: Sequence[int]) -> int:
        """Count a request's prompt: returns the cached tokens (hit = whole blocks, capped at P-1)."""
        hit_blocks = 0
        for block_hash in self._hashes(prompt_ids):
            if block_hash not in self._blocks:
                break
            hit_blocks += 1
        cap = (max(len(prompt_ids) - 1, 0) // self.block_size) * self.block_size
        hit = min(hit_blocks * self.block_size, cap)
        self.queries += len(prompt_ids)
        self.hits += hit
        return hit

    def insert(self, token_ids: Sequence[int]) -> None:
        self._blocks.update(self._hashes(token_ids))

    def clear(self) -> None:
        self._blocks.clear()
        self.queries = 0
        self.hits = 0


TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@dataclass
class Metrics:
    """The few engine metrics the stand-in exposes on /metrics."""

    prompt_tokens: int = 0
    generation_tokens: int = 0
    running: int = 0
    success: dict[str, int] = field(default_factory=dict)
    ttft: list[float] = field(default_factory=list)

    def finished(self, reason: str) -> None:
        self.success[reason] = self.success.get(reason, 0) + 1

    def render(self, model: str, cache: PrefixCache) -> str:
        labels = f'engine="0",model_name="{model}"'
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for suffix_and_labels, value in samples:
                lines.append(f"{name}{suffix_and_labels} {float(value)}")

        metric(
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            [(f"{{{labels}}}", self.running)],
        )
        metric(
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            [(f"{{{labels}}}", 0)],
        )
        metric(
            "vllm:prefix_cache_queries",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            [(f"_total{{{labels}}}", cache.queries)],
        )
        metric(
            "vllm:prefix_cache_hits",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            [(f"_total{{{labels}}}", cache.hits)],
        )
        metric(
            "vllm:prompt_tokens",
            "counter",
            "Number of prefill tokens processed.",
            [(f"_total{{{labels}}}", self.prompt_tokens)],
        )
        metric(
            "vllm:generation_tokens",
            "counter",
            "Number of generation tokens processed.",
            [(f"_total{{{labels}}}", self.generation_tokens)],
        )
        metric(
            "vllm:request_success",
            "counter",
            "Count of successfully processed requests.",
            [(f'_total{{{labels},finished_reason="{r}"}}', n) for r, n in sorted(self.success.items())],
        )
        buckets = [
            (f'_bucket{{{labels},le="{b}"}}', float(sum(1 for t in self.ttft if t <= b)))
            for b in TTFT_BUCKETS
        ]
        buckets.append((f'_bucket{{{labels},le="+Inf"}}', float(len(self.ttft))))
        buckets.append((f"_count{{{labels}}}", float(len(self.ttft))))
        buckets.append((f"_sum{{{labels}}}", sum(self.ttft)))
        metric(
            "vllm:time_to_first_token_seconds",
            "histogram",
            "Histogram of time to first token in seconds.",
            buckets,
        )
        return "\n".join(lines) + "\n"
