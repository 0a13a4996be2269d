"""A stand-in for vLLM's OpenAI-compatible server, for tests, benchmarks and editor demos.

``StandinServer`` lives in ``tests.standin.vllm_standin``; it is also reachable from here, imported
lazily so that ``python -m tests.standin.vllm_standin`` does not import the module twice.
"""

from typing import Any

from tests.standin.state import Knobs, RecordedRequest

__all__ = ["Knobs", "RecordedRequest", "StandinServer", "StandinSettings"]


def __getattr__(name: str) -> Any:
    if name in ("StandinServer", "StandinSettings"):
        from tests.standin import vllm_standin

        return getattr(vllm_standin, name)
    raise AttributeError(name)
