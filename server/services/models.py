"""The two model roles (completion, chat): clients, probing, and the completion mode.

Probing asks ``/v1/models`` (model id, ``max_model_len``), picks the FIM template from the model
id (or the configured one), and checks with ``/tokenize`` that the template's FIM markers are
single special tokens of that model: a template that does not match the model is reported and
not used (it would only produce garbage). Without a usable FIM model, completion goes to the
chat role through a hole-filling prompt ("chat" mode).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from hearth.server.config import ModelEndpoint, Settings
from hearth.server.model.client import ModelError, OpenAIClient
from hearth.server.model.prompts import FimTemplate, guess_family, load_templates

log = logging.getLogger(__name__)

REPROBE_AFTER_S = 15.0
CALIBRATION_TEXT = (
    "def parse_config(path: str) -> dict[str, object]:\n    with open(path, encoding='utf-8') as fh:\n"
    "        return json.load(fh)  # configuration values\n"
)


@dataclass(frozen=True, slots=True)
class RoleState:
    state: str  # ok | down | unset
    model: str | None = None
    detail: str = ""
    max_model_len: int | None = None
    root: str | None = None
    detail_ok: str = ""  # the detail of the last successful probe, restored when a down role recovers

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "model": self.model, "detail": self.detail}


class ModelRoles:
    def __init__(self, settings: Settings) -> None:
        self.templates = load_templates()
        self.completion_client: OpenAIClient | None = None
        self.chat_client: OpenAIClient | None = None
        self.completion = RoleState("unset", detail="no completion model configured (models.completion.url)")
        self.chat = RoleState("unset", detail="no chat model configured (models.chat.url)")
        self.template: FimTemplate | None = None
        self.template_problem: str | None = None  # a configured or named template the model does not speak
        self.mode = "off"  # fim | chat | off
        self.chars_per_token = 3.2
        self._last_probe = 0.0
        self._probe_lock = asyncio.Lock()
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        self.settings = settings
        self.completion_client = self._client(settings.models.completion)
        self.chat_client = self._client(settings.models.chat)
        self._last_probe = 0.0

    @staticmethod
    def _client(ep: ModelEndpoint) -> OpenAIClient | None:
        if not ep.url:
            return None
        return OpenAIClient(ep.url, model=ep.model, api_key=ep.api_key, timeout_s=ep.timeout_ms / 1000)

    async def aclose(self) -> None:
        for c in (self.completion_client, self.chat_client):
            if c is not None:
                await c.aclose()

    async def ensure_probed(self) -> None:
        """Probe at start and again after a failure (at most every REPROBE_AFTER_S).

        A probe already running (the one at start) is waited for, so that the first completion
        request does not see the roles before they are known.
        """
        if self._probe_lock.locked():
            async with self._probe_lock:
                return
        if self._last_probe and time.monotonic() - self._last_probe < REPROBE_AFTER_S:
            return
        if self._last_probe and self.completion.state != "down" and self.chat.state != "down":
            return
        async with self._probe_lock:
            if self._last_probe and time.monotonic() - self._last_probe < REPROBE_AFTER_S:
                return
            await self._probe()

    async def probe(self) -> None:
        async with self._probe_lock:
            await self._probe()

    async def _probe(self) -> None:
        self.completion, self.template = await self._probe_completion()
        if self.completion.state == "ok" and self.template is not None:
            self.completion = replace(self.completion, detail_ok=self.completion.detail)
        self.chat = await self._probe_role(self.chat_client, "chat")
        if self.completion.state == "ok" and self.template is not None:
            self.mode = "fim"
        elif self.chat.state == "ok":
            self.mode = "chat"
        else:
            self.mode = "off"
        self._last_probe = time.monotonic()
        log.info("models: completion=%s chat=%s mode=%s", self.completion, self.chat, self.mode)

    async def _probe_role(self, client: OpenAIClient | None, role: str) -> RoleState:
        if client is None:
            return RoleState("unset", detail=f"no {role} model configured (models.{role}.url or HEARTH_MODEL_URL)")
        try:
            info = await client.probe()
        except ModelError as exc:
            return RoleState("down", detail=f"{client.v1_url}: {exc}")
        if client.model is None:
            client.model = info.id
        detail = f"{client.v1_url} (max_model_len {info.max_model_len})"
        return RoleState("ok", info.id, detail, info.max_model_len, info.root, detail)

    async def _probe_completion(self) -> tuple[RoleState, FimTemplate | None]:
        """The completion role's state and the FIM template to use (None: no usable FIM)."""
        self.template_problem = None
        client = self.completion_client
        state = await self._probe_role(client, "completion")
        if state.state != "ok" or client is None:
            return state, None
        configured = self.settings.models.completion.template
        if configured == "chat":
            return replace(state, detail=state.detail + "; template 'chat': completion uses the chat role"), None
        markers = _MarkerCheck(client)
        if configured != "auto":
            template = self.templates.get(configured)
            if template is None:
                self.template_problem = f"unknown FIM template {configured!r} (models.completion.template)"
                return replace(state, detail=self.template_problem), None
            candidates = [template]
        else:
            template = guess_family(self.templates, state.model, state.root)
            # The named family first; then every other family, tried by its markers.
            candidates = [template] if template is not None else []
            candidates += [t for t in self.templates.values() if t is not template]
        try:
            for cand in candidates:
                bad = await markers.first_bad(cand.special_tokens)
                if bad is not None:
                    if cand is template:
                        marker, count = bad
                        self.template_problem = (
                            f"FIM template {cand.name!r} does not match {state.model}: {marker!r} is "
                            f"{count} tokens, not one special token"
                        )
                        log.warning("%s", self.template_problem)
                    continue
                if cand.repo_tokens and await markers.first_bad(cand.repo_tokens) is not None:
                    cand = cand.with_comment_context()  # FIM tokens, but no repository-level tokens
                await self._calibrate(client)
                how = "configured" if configured != "auto" else ("by name" if cand.name == getattr(
                    template, "name", None) else "by its tokens")
                return replace(state, detail=state.detail + f"; FIM template {cand.name} ({how})"), cand
        except ModelError as exc:
            if template is None:
                return replace(state, detail=state.detail + f"; no FIM template known for {state.model} "
                               f"and /tokenize failed ({exc})"), None
            log.info("cannot check FIM tokens with /tokenize (%s); trusting template %s", exc, template.name)
            return replace(state, detail=state.detail + f"; FIM template {template.name} (unchecked)"), template
        if self.template_problem is None:
            return replace(state, detail=state.detail + f"; {state.model} has no FIM tokens of a known family"), None
        return replace(state, detail=self.template_problem), None

    async def _calibrate(self, client: OpenAIClient) -> None:
        try:
            ids = await client.tokenize(CALIBRATION_TEXT, add_special_tokens=False)
        except ModelError:
            return
        if ids:
            self.chars_per_token = max(1.5, min(6.0, len(CALIBRATION_TEXT) / len(ids)))

    def status_json(self) -> dict[str, Any]:
        comp = self.completion.as_json()
        comp["mode"] = self.mode
        if self.template is not None:
            comp["template"] = self.template.name
        if self.template_problem:
            comp["problem"] = self.template_problem
        return {"completion": comp, "chat": self.chat.as_json()}

    def mark_down(self, role: str, err: ModelError) -> None:
        """A request failed as if the server were gone: report it, probe again later."""
        if role == "completion":
            self.completion = replace(self.completion, state="down", detail=str(err))
        else:
            self.chat = replace(self.chat, state="down", detail=str(err))
        self._last_probe = time.monotonic()

    def mark_up(self, role: str) -> bool:
        """A request succeeded; True when the role had been marked down (it has recovered)."""
        current = self.completion if role == "completion" else self.chat
        if current.state != "down":
            return False
        restored = replace(current, state="ok", detail=current.detail_ok or current.detail)
        if role == "completion":
            self.completion = restored
        else:
            self.chat = restored
        return True


class _MarkerCheck:
    """Token counts of FIM markers from the served model's /tokenize, asked once per marker."""

    def __init__(self, client: OpenAIClient) -> None:
        self.client = client
        self.counts: dict[str, int] = {}

    async def first_bad(self, markers: tuple[str, ...]) -> tuple[str, int] | None:
        for marker in markers:
            if marker not in self.counts:
                self.counts[marker] = len(await self.client.tokenize(marker, add_special_tokens=False))
            if self.counts[marker] != 1:
                return marker, self.counts[marker]
        return None
