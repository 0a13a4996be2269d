"""deploy/: the compose file, the GPU profiles, their arithmetic and the generated files stay consistent."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _load_arithmetic() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hearth_deploy_arithmetic", DEPLOY / "arithmetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ar = _load_arithmetic()
PROFILES = ar.load_profiles()
BY_NAME = {p.name: p for p in PROFILES}
GB = 1e9


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _env_file(name: str) -> dict[str, str]:
    """Read an env file the way compose's dotenv reader treats unquoted values."""
    values: dict[str, str] = {}
    for line in (DEPLOY / "env" / f"{name}.env").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        assert value[:1] not in ("'", '"'), f"{key}: a quoted value would lose its inner quoting"
        assert " #" not in value and "$" not in value, f"{key}: compose would cut or expand this"
        values[key] = value
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{([A-Z0-9_]+)(:-([^}]*))?\}", sub, text)


# --- compose -----------------------------------------------------------------------------------


def test_compose_has_the_four_services_with_required_keys() -> None:
    services = _compose()["services"]
    assert set(services) == {"vllm-completion", "vllm-chat", "vllm-embedding", "postgres"}
    for name, service in services.items():
        for key in ("image", "restart", "healthcheck", "ports"):
            assert key in service, f"{name} lacks {key}"
        assert service["healthcheck"]["test"], name
    for name in ("vllm-completion", "vllm-chat", "vllm-embedding"):
        service = services[name]
        assert "vllm/vllm-openai" in service["image"]
        assert service["entrypoint"] == ["vllm", "serve"]
        assert service["profiles"] == [name.removeprefix("vllm-")]
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
        assert any(v.endswith(":/root/.cache/huggingface") for v in service["volumes"]), "HF cache volume"
        assert "/health" in " ".join(service["healthcheck"]["test"])
        env = service["environment"]
        assert {"CUDA_VISIBLE_DEVICES", "HF_TOKEN", "VLLM_API_KEY"} <= set(env)
        assert "HEARTH_API_KEY" in env["VLLM_API_KEY"]
    postgres = services["postgres"]
    assert "pgvector/pgvector:pg17" in postgres["image"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in postgres["volumes"])
    assert {"hf-cache", "pgdata"} <= set(_compose()["volumes"])


def test_every_port_binds_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service["ports"]:
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port!r}"


@pytest.mark.parametrize("profile", sorted(BY_NAME))
def test_compose_command_with_env_file_gives_the_profile_flags(profile: str) -> None:
    services = _compose()["services"]
    env = _env_file(profile)
    for role in BY_NAME[profile].roles.values():
        service = services[f"vllm-{role.name}"]
        argv = shlex.split(_interpolate(service["command"], env))  # compose splits a string command so
        assert argv[0] == role.model
        assert _interpolate(service["environment"]["CUDA_VISIBLE_DEVICES"], env) == ",".join(
            str(g) for g in role.gpus
        )
        flags = {argv[i]: argv[i + 1] if i + 1 < len(argv) else "" for i in range(len(argv))}
        assert float(flags["--gpu-memory-utilization"]) == role.utilization
        assert int(flags["--max-model-len"]) == role.max_model_len
        assert argv[argv.index("--served-model-name") + 2] == f"hearth-{role.name}"
        if role.kind == "embed":
            assert flags["--runner"] == "pooling"
            continue
        assert "--enable-prefix-caching" in argv
        assert flags["--kv-cache-dtype"] in ("auto", "fp8")
        if role.name == "chat":
            spec = json.loads(flags["--speculative-config"])
            assert spec["method"] == "ngram" and spec["prompt_lookup_max"] >= spec["prompt_lookup_min"]
    enabled = {r.name for r in BY_NAME[profile].roles.values() if r.enabled}
    assert set(env["COMPOSE_PROFILES"].split(",")) == enabled


def test_env_files_are_current() -> None:
    names = {p.name for p in PROFILES}
    assert {p.stem for p in (DEPLOY / "env").glob("*.env")} == names
    for profile in PROFILES:
        text = (DEPLOY / "env" / f"{profile.name}.env").read_text(encoding="utf-8")
        assert text == ar.render_env(profile), f"{profile.name}: run python deploy/arithmetic.py --write-env"


# --- profiles ----------------------------------------------------------------------------------


def test_the_required_profiles_exist() -> None:
    assert {"rtx5090-x1", "rtx5090-x2", "h100-80g", "h200-141g"} <= set(BY_NAME)
    assert BY_NAME["rtx5090-x2"].roles["chat"].tp == 2


def test_yaml_subset_reader_agrees_with_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    for path in sorted((DEPLOY / "profiles").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert ar.parse_yaml(text) == yaml.safe_load(text), path.name


def test_yaml_subset_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ar.YamlSubsetError):
        ar.parse_yaml("a:\n  - b: 1\n")
    with pytest.raises(ar.YamlSubsetError):
        ar.parse_yaml("a: |\n  text\n")
    assert ar.parse_yaml("a: 'x # y'  # c\nb: [1, 2.5, z]\n") == {"a": "x # y", "b": [1, 2.5, "z"]}


@pytest.mark.parametrize("profile", sorted(BY_NAME))
def test_each_profile_fits_its_cards(profile: str) -> None:
    p = BY_NAME[profile]
    assert ar.fit_problems(p) == []
    for gpu, share in ar.card_usage(p).items():
        assert share <= p.card.max_total_utilization <= 0.95, gpu
    for role in p.roles.values():
        if not role.enabled:
            continue
        weights_and_kv = (
            ar.weight_bytes(role) / role.tp
            + role.overhead_bytes
            + role.max_model_len * ar.kv_bytes_per_token(role) / role.tp
        )
        assert weights_and_kv <= role.utilization * p.card.memory_bytes, role.name
    roles = p.roles
    assert roles["completion"].kind == roles["chat"].kind == "generate"
    assert "Coder" in roles["completion"].model  # FIM-trained
    assert roles["embedding"].vllm.get("runner") == "pooling"


# --- arithmetic against the notes' anchors (models-and-hardware.md) -----------------------------


def _on_one_card(role: Any) -> Any:
    return ar.Role(**{**role.__dict__, "gpus": (0,), "vllm": {**role.vllm, "tensor-parallel-size": 1}})


def test_rtx5090_anchors() -> None:
    x1, x2 = BY_NAME["rtx5090-x1"], BY_NAME["rtx5090-x2"]
    card = x1.card
    assert card.bandwidth == pytest.approx(1.792e12)
    # 7B FP8 on one 5090: 7.62 GB read per token -> ~235 tok/s ceiling (DESIGN.md section 4).
    coder7 = x2.roles["completion"]
    single = _on_one_card(coder7)
    assert ar.decode_weight_bytes(single) / GB == pytest.approx(7.62, abs=0.02)
    assert ar.decode_ceiling_tok_s(single, card) == pytest.approx(235, abs=2)
    assert ar.weight_bytes(single) / GB == pytest.approx(8.7, abs=0.05)
    # 70B at 4 bits: 39.8 GB of weights, more than one 32 GB card holds.
    chat70 = x2.roles["chat"]
    single70 = _on_one_card(chat70)
    assert ar.weight_bytes(single70) / GB == pytest.approx(39.8, abs=0.05)
    assert ar.weight_bytes(single70) > card.memory_bytes
    assert ar.kv_tokens(single70, card) == 0
    # 70B W4A16 over two cards: 18.83 GB per card -> 95 tok/s; section 6 row (a).
    f70 = ar.role_figures(chat70, card)
    assert f70["decode_ceiling_tok_s"] == pytest.approx(95, abs=1)
    assert f70["prefill_floor_1k5_s"] == pytest.approx(0.50, abs=0.01)
    assert f70["completion_64_s"] == pytest.approx(2.2, abs=0.05)
    assert f70["completion_64_cached_s"] == pytest.approx(1.38, abs=0.02)
    assert f70["completion_16_cached_s"] == pytest.approx(0.50, abs=0.02)
    assert f70["chat_ttft_8k_floor_s"] == pytest.approx(2.85, abs=0.03)
    # 32B AWQ on one card: 19.2 GB, 101 tok/s, section 6 row (b).
    f32 = ar.role_figures(x1.roles["chat"], card)
    assert f32["weight_bytes"] / GB == pytest.approx(19.2, abs=0.05)
    assert f32["decode_ceiling_tok_s"] == pytest.approx(101, abs=1)
    assert f32["completion_64_s"] == pytest.approx(1.85, abs=0.03)
    assert (f32["completion_64_cached_s"], f32["completion_16_cached_s"]) == (
        pytest.approx(1.10, abs=0.02),
        pytest.approx(0.41, abs=0.02),
    )
    assert f32["chat_ttft_8k_s"] == pytest.approx(5.3, abs=0.1)
    # KV per token: 70B 320 KiB at BF16, 32B 256 KiB; FP8 halves it.
    assert ar.kv_bytes_per_token(single70) == 160 * 1024  # the profile runs fp8 KV
    assert ar.kv_bytes_per_token(x1.roles["chat"]) == 128 * 1024
    # 1.5B BF16: 3.1 GB, section 6 row (d): 0.17 s / 0.05 s cached.
    f15 = ar.role_figures(x1.roles["completion"], card)
    assert f15["weight_bytes"] / GB == pytest.approx(3.1, abs=0.05)
    assert f15["completion_16_cached_s"] == pytest.approx(0.05, abs=0.01)


def test_json_output_has_every_profile_and_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert ar.main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["profile"] for d in data] == [p.name for p in PROFILES]
    assert all(d["fits"] for d in data)
    chat = next(r for r in data[0]["roles"] if r["role"] == "chat")
    assert {"weight_bytes", "kv_bytes_per_token", "kv_tokens", "decode_ceiling_tok_s"} <= set(chat)


def test_check_passes() -> None:
    assert ar.main(["--check"]) == 0


def test_readme_table_is_current_output() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- arithmetic:begin -->\n(.*?)<!-- arithmetic:end -->", readme, re.S)
    assert match, "README lacks the arithmetic markers"
    assert match.group(1) == ar.render_markdown(PROFILES), "run: python deploy/arithmetic.py and paste it"
