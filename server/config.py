"""Hearth's settings: one typed, defaulted tree.

Sources, lowest precedence first: defaults < settings file (``hearth.json`` in the data dir or
``HEARTH_CONFIG``) < ``initializationOptions`` < ``workspace/didChangeConfiguration`` <
environment variables. Keys are camelCase on the wire (``debounceMs``) and snake_case in Python.
Unknown keys are ignored; an invalid value is reported and the default kept (see ``merge``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

log = logging.getLogger(__name__)


class _Section(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class ModelEndpoint(_Section):
    url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server (vLLM).")
    model: str | None = Field(
        default=None, description="Model name to request; unset: the first model the server lists."
    )
    api_key: str | None = Field(default=None, description="Bearer token for the server (vLLM --api-key).")
    timeout_ms: int = Field(default=10_000, ge=100, le=600_000, description="Request deadline in ms.")


class CompletionModel(ModelEndpoint):
    url: str | None = Field(
        default=None,
        description="Base URL of the fill-in-the-middle coder's OpenAI-compatible server (vLLM), e.g. "
        "http://127.0.0.1:8000/v1. Unset or without FIM support: completion uses the chat role.",
    )
    template: str = Field(
        default="auto",
        description="Fill-in-the-middle template: auto (chosen from the served model and checked with "
        "/tokenize), qwen, deepseek, starcoder, codellama, codestral, or chat (a hole-filling prompt to the "
        "chat role, for models without FIM training).",
    )
    timeout_ms: int = Field(default=4_000, ge=100, le=600_000, description="Request deadline in ms.")


class ChatModel(ModelEndpoint):
    url: str | None = Field(
        default=None,
        description="Base URL of the chat model's OpenAI-compatible server (vLLM), e.g. "
        "http://127.0.0.1:8001/v1; used for explain, refactor and chat.",
    )
    timeout_ms: int = Field(default=120_000, ge=100, le=3_600_000, description="Request deadline in ms.")


class EmbeddingModel(_Section):
    provider: Literal["local", "openai", "hashing"] = Field(
        default="local",
        description="local: the in-process CPU model shipped with Hearth (all-MiniLM-L6-v2, int8 ONNX); "
        "openai: an OpenAI-compatible /v1/embeddings server (vLLM --runner pooling); "
        "hashing: a fast lexical feature-hashing embedder (no model).",
    )
    url: str | None = Field(default=None, description="Base URL for provider=openai.")
    model: str | None = Field(default=None, description="Model name for provider=openai.")
    api_key: str | None = Field(default=None, description="Bearer token for provider=openai.")
    batch_size: int = Field(default=32, ge=1, le=2048, description="Chunks per embedding batch.")
    threads: int = Field(default=0, ge=0, le=64, description="CPU threads for the local model (0: auto).")


class Models(_Section):
    completion: CompletionModel = CompletionModel()
    chat: ChatModel = ChatModel()
    embedding: EmbeddingModel = EmbeddingModel()


class Completion(_Section):
    enabled: bool = Field(default=True, description="Offer inline completions.")
    debounce_ms: int = Field(
        default=75, ge=0, le=2_000, description="Delay before asking the model; a keystroke within it cancels."
    )
    context_tokens: int = Field(
        default=1_024, ge=0, le=32_000, description="Token budget for repository context in the prompt."
    )
    prefix_lines: int = Field(default=120, ge=1, le=5_000, description="Lines before the cursor sent.")
    suffix_lines: int = Field(default=40, ge=0, le=5_000, description="Lines after the cursor sent.")
    max_tokens: int = Field(default=96, ge=1, le=4_096, description="Most tokens a suggestion may have.")
    multiline: Literal["auto", "always", "never"] = Field(
        default="auto", description="Multi-line suggestions: decided from the syntax at the cursor (auto)."
    )
    context_timeout_ms: int = Field(default=40, ge=1, le=5_000, description="Time box for each context source.")


class Index(_Section):
    enabled: bool = Field(default=True, description="Index the workspace folders in the background.")
    watch: bool = Field(default=True, description="Keep the index fresh from file-system events.")
    embed: bool = Field(default=True, description="Compute embeddings (after symbols and full text).")
    max_file_kb: int = Field(default=1_024, ge=1, le=1_048_576, description="Skip files larger than this.")
    exclude: list[str] = Field(
        default_factory=list, description="Extra gitignore-style patterns to skip (like .hearthignore)."
    )


class Database(_Section):
    url: str | None = Field(
        default=None,
        description="PostgreSQL URL (with pgvector). Unset: an embedded server in Hearth's data dir.",
    )
    shared_buffers_mb: int | None = Field(
        default=None,
        ge=16,
        le=65_536,
        description="Shared buffers of the embedded PostgreSQL, in MB: the server loads the vector index and the"
        " tables a completion reads into them. Unset: an eighth of the machine's memory, from 128 to 4096. Applies"
        " when Hearth starts the embedded server: after `hearth db stop`, the next use starts it with the new size.",
    )


class Settings(_Section):
    database: Database = Database()
    models: Models = Models()
    completion: Completion = Completion()
    index: Index = Index()
    data_dir: str | None = Field(default=None, description="Where Hearth keeps its embedded database and caches.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the server (logs go to stderr / the client's log)."
    )

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("hearth", appauthor=False))


# Environment variables, each mapped to a path in the tree. HEARTH_MODEL_URL is the default for
# both generation roles; the specific variables override it.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "HEARTH_DATABASE_URL": ("database", "url"),
    "HEARTH_DATA_DIR": ("dataDir",),
    "HEARTH_MODEL_URL": ("models", "*generate", "url"),
    "HEARTH_COMPLETION_URL": ("models", "completion", "url"),
    "HEARTH_CHAT_URL": ("models", "chat", "url"),
    "HEARTH_EMBEDDING_URL": ("models", "embedding", "url"),
    "HEARTH_COMPLETION_MODEL": ("models", "completion", "model"),
    "HEARTH_CHAT_MODEL": ("models", "chat", "model"),
    "HEARTH_EMBEDDING_MODEL": ("models", "embedding", "model"),
    "HEARTH_EMBEDDING_PROVIDER": ("models", "embedding", "provider"),
    "HEARTH_COMPLETION_TEMPLATE": ("models", "completion", "template"),
    "HEARTH_API_KEY": ("models", "*all", "apiKey"),
    "HEARTH_LOG_LEVEL": ("logLevel",),
}


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return
    node[path[-1]] = value


def env_layer(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given by environment variables, as a camelCase tree."""
    environ = os.environ if environ is None else environ
    layer: dict[str, Any] = {}
    # Generic fallbacks first so that specific variables win.
    order = sorted(ENV_VARS, key=lambda k: 0 if "*" in "".join(ENV_VARS[k]) else 1)
    for name in order:
        value = environ.get(name)
        if not value:
            continue
        path = ENV_VARS[name]
        if "*generate" in path:
            for role in ("completion", "chat"):
                _set(layer, ("models", role, path[-1]), value)
        elif "*all" in path:
            for role in ("completion", "chat", "embedding"):
                _set(layer, ("models", role, path[-1]), value)
        else:
            _set(layer, path, value)
    return layer


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _drop_invalid(tree: dict[str, Any], err: ValidationError) -> list[str]:
    """Remove the keys a validation error points at; return readable messages."""
    messages = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        messages.append(f"{'.'.join(loc)}: {e['msg']}")
        node: Any = tree
        for key in loc[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(loc[-1], None)
    return messages


def _camel_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {to_camel(str(k)) if "_" in str(k) else str(k): _camel_tree(v) for k, v in value.items()}
    return value


def merge(*layers: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Merge layers (lowest precedence first) into Settings.

    Returns the settings and a list of problems; invalid values fall back to their defaults.
    """
    tree: dict[str, Any] = {}
    for layer in layers:
        if layer:
            tree = _deep_merge(tree, _camel_tree(layer))
    problems: list[str] = []
    for _ in range(20):
        try:
            return Settings.model_validate(tree), problems
        except ValidationError as err:
            found = _drop_invalid(tree, err)
            if not found:
                break
            problems.extend(found)
    return Settings(), [*problems, "settings could not be validated; using defaults"]


def file_layer(path: Path | None = None) -> dict[str, Any]:
    """The settings file (JSON), if present."""
    if path is None:
        env = os.environ.get("HEARTH_CONFIG")
        path = Path(env) if env else default_data_dir() / "hearth.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring settings file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def load(
    init_options: Mapping[str, Any] | None = None,
    workspace: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, list[str]]:
    return merge(file_layer(), init_options, workspace, env_layer(environ))


def json_schema() -> dict[str, Any]:
    """JSON Schema of the settings tree (camelCase), the source of docs and VS Code settings."""
    return Settings.model_json_schema(by_alias=True)
