"""A stand-in for vLLM's OpenAI-compatible server, for tests, benchmarks and editor demos."""

from tests.standin.state import Knobs, RecordedRequest
from tests.standin.vllm_standin import StandinServer, StandinSettings

__all__ = ["Knobs", "RecordedRequest", "StandinServer", "StandinSettings"]
