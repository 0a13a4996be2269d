"""Scripted generation with vLLM's stop, length and EOS rules, and the deterministic embedder."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    """One generated token: the text it makes visible now, and the finish if it is the last one."""

    delta: str
    finish_reason: str | None = None
    stop_reason: str | None = None


def generate(
    pieces: Sequence[str], max_tokens: int, stops: Sequence[str], include_stop: bool
) -> Iterator[Step]:
    """Replay ``pieces`` as tokens with vLLM's stop-string, length and EOS rules.

    Like vLLM's incremental detokenizer, text that could be the start of a stop string is held back
    until it is known not to be one; a matched stop string is cut from the output.
    """
    holdback = max((len(s) for s in stops), default=1) - 1 if stops and not include_stop else 0
    text = ""
    sent = 0
    for count, piece in enumerate(pieces, start=1):
        searched_from = max(0, len(text) - max((len(s) for s in stops), default=0) + 1)
        text += piece
        matched: tuple[int, str] | None = None
        for stop in stops:
            at = text.find(stop, searched_from)
            if at >= 0 and (matched is None or at < matched[0]):
                matched = (at, stop)
        if matched is not None:
            at, stop = matched
            final = text[: at + len(stop)] if include_stop else text[:at]
            yield Step(final[sent:], "stop", stop)
            return
        if count >= max_tokens:
            yield Step(text[sent:], "length")
            return
        visible = len(text) - holdback
        if visible > sent:
            yield Step(text[sent:visible])
            sent = visible
        else:
            yield Step("")
    # The response is exhausted: the model emits EOS (one more token, no text).
    yield Step(text[sent:], "stop", None)


@dataclass
class ChoiceRun:
    index: int
    prompt_ids: list[int]
    steps: Iterator[Step]
    text: str = ""
    tokens: int = 0
    finish_reason: str | None = None
    stop_reason: str | None = None
    output_ids: list[int] = field(default_factory=list)


@dataclass
class Job:
    """One admitted generation request: its choices and the bookkeeping around them."""

    kind: str  # "completion" | "chat"
    rid: str
    created: int
    model: str
    choices: list[ChoiceRun]
    prompt_tokens: int
    cached_tokens: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    role: str = "assistant"
    echo_texts: list[str] = field(default_factory=list)

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)

    def usage(self, details: bool) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "completion_tokens": self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens} if details else None,
        }


_WORD = re.compile(r"[A-Za-z0-9_]+")


def embed_text(text: str, dim: int) -> list[float]:
    """A unit vector from hashed words and word pairs: texts sharing words are close."""
    vector = [0.0] * dim
    words = [w.lower() for w in _WORD.findall(text)]
    features = [(w, 1.0) for w in words] + [(f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
    if not features:
        features = [(f"\0{text}", 1.0)]
    for feature, weight in features:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        vector[number % dim] += weight if (number >> 32) & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
