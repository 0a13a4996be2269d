"""Model roles: probing picks the FIM template (by name, else by the served model's tokens),
detects a template the model does not speak, and falls back to the chat role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hearth.server.config import Settings
from hearth.server.services.models import ModelRoles
from tests.standin.vllm_standin import StandinServer


def settings(completion: dict[str, Any] | None, chat: dict[str, Any] | None) -> Settings:
    models: dict[str, Any] = {}
    if completion is not None:
        models["completion"] = completion
    if chat is not None:
        models["chat"] = chat
    return Settings.model_validate({"models": models})


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, StandinServer]]:
    made = {
        "qwen": StandinServer(model="qwen2.5-coder-7b", family="qwen"),
        "anon-starcoder": StandinServer(model="hearth-completion", family="starcoder"),
        "codellama": StandinServer(model="codellama-13b", family="codellama"),
        "codestral": StandinServer(model="codestral-22b", family="codestral"),
        "deepseek": StandinServer(model="deepseek-coder-6.7b-base", family="deepseek"),
        "llama-named-qwen": StandinServer(model="qwen2.5-coder-7b", family="llama"),
        "llama": StandinServer(model="llama-3.3-70b-instruct", family="llama"),
    }
    for s in made.values():
        s.start()
    yield made
    for s in made.values():
        s.stop()


async def probe(completion: dict[str, Any] | None, chat: dict[str, Any] | None) -> ModelRoles:
    roles = ModelRoles(settings(completion, chat))
    try:
        await roles.probe()
    finally:
        await roles.aclose()
    return roles


@pytest.mark.parametrize(
    ("server", "template"),
    [("qwen", "qwen"), ("codellama", "codellama"), ("codestral", "codestral"), ("deepseek", "deepseek")],
)
async def test_template_chosen_by_name_and_checked(
    servers: dict[str, StandinServer], server: str, template: str
) -> None:
    roles = await probe({"url": servers[server].v1_url}, None)
    assert roles.mode == "fim"
    assert roles.template is not None and roles.template.name == template
    assert roles.status_json()["completion"]["mode"] == "fim"
    assert roles.status_json()["completion"]["template"] == template
    assert roles.template_problem is None
    tokenized = [r.json["prompt"] for r in servers[server].requests if r.path == "/tokenize"]
    assert set(roles.template.special_tokens) <= set(tokenized)


async def test_template_found_by_tokens_when_the_name_says_nothing(servers: dict[str, StandinServer]) -> None:
    roles = await probe({"url": servers["anon-starcoder"].v1_url}, None)
    assert roles.mode == "fim"
    assert roles.template is not None and roles.template.name == "starcoder"
    assert "by its tokens" in roles.completion.detail


async def test_mismatch_is_reported_and_completion_falls_back_to_chat(servers: dict[str, StandinServer]) -> None:
    url = servers["llama-named-qwen"].v1_url
    roles = await probe({"url": url}, {"url": url})
    assert roles.template is None
    assert roles.mode == "chat"
    assert roles.template_problem is not None
    assert "'qwen' does not match qwen2.5-coder-7b" in roles.template_problem
    assert "<|fim_prefix|>" in roles.template_problem
    status = roles.status_json()["completion"]
    assert status["mode"] == "chat" and status["problem"] == roles.template_problem


async def test_mismatch_without_a_chat_model_turns_completion_off(servers: dict[str, StandinServer]) -> None:
    roles = await probe({"url": servers["llama-named-qwen"].v1_url}, None)
    assert roles.mode == "off"
    assert roles.template_problem is not None


async def test_configured_template_that_does_not_match(servers: dict[str, StandinServer]) -> None:
    roles = await probe({"url": servers["qwen"].v1_url, "template": "deepseek"}, {"url": servers["llama"].v1_url})
    assert roles.mode == "chat"
    assert roles.template_problem is not None and "'deepseek'" in roles.template_problem


async def test_configured_template_that_matches(servers: dict[str, StandinServer]) -> None:
    roles = await probe({"url": servers["anon-starcoder"].v1_url, "template": "starcoder"}, None)
    assert roles.mode == "fim" and roles.template is not None and roles.template.name == "starcoder"


async def test_unset_completion_role_uses_the_chat_model(servers: dict[str, StandinServer]) -> None:
    roles = await probe(None, {"url": servers["llama"].v1_url})
    assert roles.mode == "chat"
    assert roles.completion.state == "unset"
    assert roles.status_json()["completion"]["mode"] == "chat"
    assert roles.template_problem is None  # no FIM model is not a mismatch


async def test_chat_model_without_fim_in_the_completion_role(servers: dict[str, StandinServer]) -> None:
    url = servers["llama"].v1_url
    roles = await probe({"url": url}, {"url": url})
    assert roles.mode == "chat"
    assert roles.template_problem is None
    assert "no FIM tokens" in roles.completion.detail


async def test_template_chat_forces_the_chat_role(servers: dict[str, StandinServer]) -> None:
    roles = await probe({"url": servers["qwen"].v1_url, "template": "chat"}, {"url": servers["llama"].v1_url})
    assert roles.mode == "chat"


async def test_down_and_recovered() -> None:
    roles = await probe({"url": "http://127.0.0.1:9/v1"}, None)
    assert roles.mode == "off" and roles.completion.state == "down"
    assert roles.mark_up("completion") is True
    assert roles.completion.state == "ok"
    assert roles.mark_up("completion") is False
