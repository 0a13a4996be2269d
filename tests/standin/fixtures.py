"""pytest fixtures for the model server under test: the stand-in by default, a real vLLM on request.

Import them into a test module or conftest (``from tests.standin.fixtures import vllm, vllm_target``).
``HEARTH_TEST_VLLM_URL`` (e.g. ``http://gpu-box:8000``) points the same tests at a real vLLM, with
``HEARTH_TEST_VLLM_API_KEY`` when it needs one; tests that script the stand-in call
``vllm.require_standin()``, which skips them there with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.standin.vllm_standin import StandinServer

STANDIN_MAX_MODEL_LEN = 512


@dataclass(frozen=True)
class VllmTarget:
    """Where the server under test is, what it serves, and the stand-in behind it if there is one."""

    base_url: str
    model: str
    max_model_len: int
    headers: dict[str, str] = field(default_factory=dict)
    standin: StandinServer | None = None

    @property
    def v1_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def is_standin(self) -> bool:
        return self.standin is not None

    def require_standin(self) -> StandinServer:
        if self.standin is None:
            pytest.skip("needs the stand-in's scripting knobs; HEARTH_TEST_VLLM_URL points at a real vLLM")
        return self.standin

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)


def _real_target(url: str) -> VllmTarget:
    base = url.rstrip("/")
    base = base.removesuffix("/v1")
    key = os.environ.get("HEARTH_TEST_VLLM_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    card = httpx.get(base + "/v1/models", headers=headers, timeout=10).json()["data"][0]
    return VllmTarget(base, card["id"], int(card["max_model_len"]), headers)


@pytest.fixture(scope="module")
def vllm_target() -> Iterator[VllmTarget]:
    url = os.environ.get("HEARTH_TEST_VLLM_URL")
    if url:
        yield _real_target(url)
        return
    with StandinServer(max_model_len=STANDIN_MAX_MODEL_LEN) as server:
        yield VllmTarget(server.base_url, server.model, STANDIN_MAX_MODEL_LEN, {}, server)


@pytest.fixture
def vllm(vllm_target: VllmTarget) -> VllmTarget:
    """The server under test, with the stand-in's knobs, records and counters reset for each test."""
    if vllm_target.standin is not None:
        vllm_target.standin.reset()
    return vllm_target
