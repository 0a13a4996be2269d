"""The settings tree: layers, environment, validation with fallback, generated docs."""

from __future__ import annotations

import json
from pathlib import Path

from hearth.server import config
from hearth.server.docs import markdown, schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s, problems = config.merge()
    assert problems == []
    assert s.models.completion.url is None
    assert s.models.completion.template == "auto"
    assert s.models.chat.timeout_ms == 120_000
    assert s.completion.context_tokens == 1024
    assert s.models.embedding.provider == "local"


def test_model_url_sets_both_generation_roles_and_specific_variables_win() -> None:
    env = {"HEARTH_MODEL_URL": "http://gpu:8000/v1", "HEARTH_CHAT_URL": "http://gpu:8001/v1",
           "HEARTH_API_KEY": "k", "HEARTH_DATABASE_URL": "postgresql://x/y"}
    s, _ = config.merge(config.env_layer(env))
    assert s.models.completion.url == "http://gpu:8000/v1"
    assert s.models.chat.url == "http://gpu:8001/v1"
    assert s.models.completion.api_key == s.models.chat.api_key == s.models.embedding.api_key == "k"
    assert s.database.url == "postgresql://x/y"


def test_precedence_and_wire_names() -> None:
    file_layer = {"completion": {"debounceMs": 10, "contextTokens": 500}}
    init = {"completion": {"debounceMs": 20}}
    workspace = {"completion": {"debounce_ms": 30}}  # snake_case is accepted too
    s, problems = config.merge(file_layer, init, workspace, config.env_layer({}))
    assert problems == []
    assert s.completion.debounce_ms == 30
    assert s.completion.context_tokens == 500


def test_invalid_values_fall_back_to_defaults_with_a_message_and_unknown_keys_are_ignored() -> None:
    s, problems = config.merge({
        "completion": {"debounceMs": -5, "maxTokens": "many", "contextTokens": 2048},
        "models": {"embedding": {"provider": "cloud"}},
        "nonsense": {"x": 1},
    })
    assert s.completion.debounce_ms == 75
    assert s.completion.max_tokens == 96
    assert s.completion.context_tokens == 2048  # valid neighbours are kept
    assert s.models.embedding.provider == "local"
    joined = " ".join(problems)
    assert "debounceMs" in joined and "maxTokens" in joined and "provider" in joined
    assert "nonsense" not in joined


def test_broken_settings_file_is_ignored(tmp_path: Path) -> None:
    bad = tmp_path / "hearth.json"
    bad.write_text("{not json")
    assert config.file_layer(bad) == {}
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"index": {"maxFileKb": 64}}))
    s, _ = config.merge(config.file_layer(good))
    assert s.index.max_file_kb == 64


def test_generated_docs_are_current() -> None:
    """docs/config.schema.json and docs/configuration.md are generated: regenerate with
    `python -m hearth.server.docs docs` (and `npm run gen-settings` in editors/vscode)."""
    assert (ROOT / "docs" / "config.schema.json").read_text() == schema_text()
    assert (ROOT / "docs" / "configuration.md").read_text() == markdown()


def test_schema_is_camel_case() -> None:
    schema = config.json_schema()
    completion = schema["$defs"]["Completion"]["properties"]
    assert "debounceMs" in completion and "debounce_ms" not in completion
