#!/usr/bin/env python3
"""Memory and latency arithmetic for Hearth's vLLM deployment profiles.

Reads ``deploy/profiles/*.yaml`` (standard library only: a small YAML-subset reader is included) and
prints, per profile and role: weight bytes, KV-cache bytes per token, the KV tokens that fit in the
role's ``--gpu-memory-utilization`` share, the batch-1 decode ceiling (bandwidth / bytes read per
token), the prefill floor for 1.5k and 8k-token prompts (FLOPs / peak), and the realistic latency of
a 64-token completion, of a 16-token single-line completion with 1,200 of 1,500 prompt tokens in the
prefix cache, and of the first token of a chat turn with an 8k-token prompt.

The method and the efficiency assumptions are those of shared/notes/models-and-hardware.md sections
3 and 6: "floor" is 100 % of peak compute (prefill) and bandwidth (decode); "realistic" is prefill at
50 % of the BF16/FP8 dense peak, decode at 70 % of bandwidth, plus 2 all-reduces per layer of 20 us
per decode step under tensor parallelism. Decode reads every linear weight and the lm_head (the
embedding table is a lookup) plus the KV cache of the context. Network, tokenizer and LSP time are
not included.

Usage::

    python deploy/arithmetic.py              # Markdown tables (pasted into deploy/README.md)
    python deploy/arithmetic.py --json       # the same figures as JSON
    python deploy/arithmetic.py --check      # exit 1 if a profile does not fit its cards
    python deploy/arithmetic.py --write-env  # regenerate deploy/env/<profile>.env for compose
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEPLOY_DIR = Path(__file__).resolve().parent
PROFILES_DIR = DEPLOY_DIR / "profiles"
ENV_DIR = DEPLOY_DIR / "env"

GIB = 2**30
MIB = 2**20

# Efficiency assumptions, models-and-hardware.md section 6.
PREFILL_EFFICIENCY = 0.50
DECODE_EFFICIENCY = 0.70
ALL_REDUCE_S = 20e-6  # per all-reduce, two per layer per decode step, only with tensor parallelism

# Bits per weight of the linear layers; embedding and lm_head stay 16-bit (section 2 of the notes).
BITS_PER_WEIGHT = {"bf16": 16.0, "fp8": 8.0, "awq": 4.156}
# Which tensor-core rate prefill runs at: W4A16 (AWQ-Marlin) computes in BF16.
COMPUTE_RATE = {"bf16": "bf16", "fp8": "fp8", "awq": "bf16"}
KV_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}

# The workload of models-and-hardware.md section 6.
PROMPT_TOKENS = 1_500
CACHED_TOKENS = 1_200
LONG_OUTPUT = 64
LINE_OUTPUT = 16
CHAT_PROMPT_TOKENS = 8_000


# ---------------------------------------------------------------------------------------------
# A YAML subset: block mappings, block lists of scalars, flow lists of scalars, plain and quoted
# scalars, comments. Enough for the profile files; tests check it agrees with PyYAML on them.


class YamlSubsetError(ValueError):
    pass


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or line[i - 1] in " :[,-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str, lineno: int) -> Any:
    text = text.strip()
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlSubsetError(f"line {lineno}: unterminated single-quoted string")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise YamlSubsetError(f"line {lineno}: bad double-quoted string: {exc}") from None
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlSubsetError(f"line {lineno}: flow list must fit on one line")
        inner = text[1:-1].strip()
        return [_scalar(part, lineno) for part in inner.split(",")] if inner else []
    if text[:1] in "{|>&*!":
        raise YamlSubsetError(f"line {lineno}: unsupported YAML construct {text[:1]!r}")
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _split_key(content: str, lineno: int) -> tuple[str, str] | None:
    if content.endswith(":"):
        return content[:-1].strip(), ""
    idx = content.find(": ")
    if idx <= 0 or content[0] in "'\"[":
        return None
    return content[:idx].strip(), content[idx + 2 :]


def parse_yaml(text: str) -> Any:
    """Parse the YAML subset used by deploy/profiles (see the module docstring)."""
    lines: list[tuple[int, str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        body = _strip_comment(raw).rstrip()
        if not body.strip() or body.strip() == "---":
            continue
        indent = len(body) - len(body.lstrip(" "))
        if body[indent : indent + 1] == "\t":
            raise YamlSubsetError(f"line {lineno}: tabs are not allowed for indentation")
        lines.append((indent, body.strip(), lineno))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise YamlSubsetError(f"line {lines[pos][2]}: unexpected indentation")
    return value


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines: list[tuple[int, str, int]], pos: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[pos][1]):
        items: list[Any] = []
        while pos < len(lines) and lines[pos][0] == indent and _is_item(lines[pos][1]):
            rest, lineno = lines[pos][1][1:].strip(), lines[pos][2]
            pos += 1
            if rest:
                if _split_key(rest, lineno) is not None:
                    raise YamlSubsetError(f"line {lineno}: lists of mappings are not supported")
                items.append(_scalar(rest, lineno))
            elif pos < len(lines) and lines[pos][0] > indent:
                value, pos = _block(lines, pos, lines[pos][0])
                items.append(value)
            else:
                items.append(None)
        return items, pos
    mapping: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][0] == indent:
        content, lineno = lines[pos][1], lines[pos][2]
        if _is_item(content):
            raise YamlSubsetError(f"line {lineno}: list item where a key was expected")
        split = _split_key(content, lineno)
        if split is None:
            raise YamlSubsetError(f"line {lineno}: expected 'key: value'")
        key, rest = split
        if key in mapping:
            raise YamlSubsetError(f"line {lineno}: duplicate key {key!r}")
        pos += 1
        if rest.strip():
            mapping[key] = _scalar(rest, lineno)
        elif pos < len(lines) and (
            lines[pos][0] > indent or (lines[pos][0] == indent and _is_item(lines[pos][1]))
        ):
            mapping[key], pos = _block(lines, pos, lines[pos][0])
        else:
            mapping[key] = None
    return mapping, pos


# ---------------------------------------------------------------------------------------------
# Profiles


@dataclass(frozen=True)
class Card:
    name: str
    count: int
    memory_bytes: int
    bandwidth: float  # bytes/s
    bf16_flops: float  # dense FLOP/s
    fp8_flops: float  # dense FLOP/s
    max_total_utilization: float

    def peak(self, rate: str) -> float:
        return self.fp8_flops if rate == "fp8" else self.bf16_flops


@dataclass(frozen=True)
class Role:
    name: str
    enabled: bool
    kind: str  # generate | embed
    model: str
    quantisation: str
    gpus: tuple[int, ...]
    layers: int
    q_heads: int
    kv_heads: int
    head_dim: int
    linear_params: float
    embedding_params: float
    tied_embeddings: bool
    overhead_bytes: float
    vllm: dict[str, Any]

    @property
    def tp(self) -> int:
        return int(self.vllm.get("tensor-parallel-size", 1))

    @property
    def utilization(self) -> float:
        return float(self.vllm["gpu-memory-utilization"])

    @property
    def max_model_len(self) -> int:
        return int(self.vllm["max-model-len"])

    @property
    def kv_dtype(self) -> str:
        return str(self.vllm.get("kv-cache-dtype", "auto"))


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    card: Card
    roles: dict[str, Role]
    data: dict[str, Any]


def _role(name: str, raw: dict[str, Any]) -> Role:
    arch = raw["architecture"]
    return Role(
        name=name,
        enabled=bool(raw.get("enabled", True)),
        kind=str(raw.get("kind", "generate")),
        model=str(raw["model"]),
        quantisation=str(raw["quantisation"]),
        gpus=tuple(int(g) for g in str(raw["gpus"]).split(",")),
        layers=int(arch["layers"]),
        q_heads=int(arch["q_heads"]),
        kv_heads=int(arch["kv_heads"]),
        head_dim=int(arch["head_dim"]),
        linear_params=float(arch["linear_params_b"]) * 1e9,
        embedding_params=float(arch["embedding_params_b"]) * 1e9,
        tied_embeddings=bool(arch["tied_embeddings"]),
        overhead_bytes=float(raw["overhead_gib"]) * GIB,
        vllm=dict(raw["vllm"]),
    )


def load_profile(path: Path) -> Profile:
    data = parse_yaml(path.read_text(encoding="utf-8"))
    c = data["card"]
    card = Card(
        name=str(c["name"]),
        count=int(c["count"]),
        memory_bytes=int(c["memory_mib"]) * MIB,
        bandwidth=float(c["bandwidth_tb_s"]) * 1e12,
        bf16_flops=float(c["bf16_dense_tflops"]) * 1e12,
        fp8_flops=float(c["fp8_dense_tflops"]) * 1e12,
        max_total_utilization=float(c["max_total_utilization"]),
    )
    roles = {name: _role(name, raw) for name, raw in data["roles"].items()}
    return Profile(name=str(data["name"]), title=str(data["title"]), card=card, roles=roles, data=data)


def load_profiles(directory: Path = PROFILES_DIR) -> list[Profile]:
    return [load_profile(p) for p in sorted(directory.glob("*.yaml"))]


# ---------------------------------------------------------------------------------------------
# Arithmetic


def weight_bytes(role: Role) -> float:
    """All weights: linear layers at the scheme's bits, embedding and (untied) lm_head at 16 bits."""
    tables = 1 if role.tied_embeddings else 2
    return role.linear_params * BITS_PER_WEIGHT[role.quantisation] / 8 + tables * role.embedding_params * 2


def decode_weight_bytes(role: Role) -> float:
    """Bytes of weights read per decode step: linear layers plus the lm_head, not the embedding table."""
    return role.linear_params * BITS_PER_WEIGHT[role.quantisation] / 8 + role.embedding_params * 2


def kv_bytes_per_token(role: Role) -> int:
    return 2 * role.layers * role.kv_heads * role.head_dim * KV_BYTES[role.kv_dtype]


def kv_budget_bytes(role: Role, card: Card) -> float:
    """Per card: the role's share of memory less its weight shard and activation/CUDA-graph overhead."""
    return role.utilization * card.memory_bytes - weight_bytes(role) / role.tp - role.overhead_bytes


def kv_tokens(role: Role, card: Card) -> int:
    per_card = kv_bytes_per_token(role) / role.tp
    return max(0, int(kv_budget_bytes(role, card) // per_card))


def prefill_flops(role: Role, new_tokens: int, cached_tokens: int = 0) -> float:
    """2 x params x new tokens, plus causal attention of the new tokens over the whole context."""
    params = role.linear_params + role.embedding_params  # linear layers and the lm_head
    total = new_tokens + cached_tokens
    attention = 2 * role.layers * role.q_heads * role.head_dim * (total**2 - cached_tokens**2)
    return 2 * params * new_tokens + attention


def prefill_s(
    role: Role, card: Card, new_tokens: int, cached_tokens: int = 0, realistic: bool = True
) -> float:
    peak = card.peak(COMPUTE_RATE[role.quantisation]) * role.tp
    eff = PREFILL_EFFICIENCY if realistic else 1.0
    return prefill_flops(role, new_tokens, cached_tokens) / (peak * eff)


def decode_step_s(role: Role, card: Card, context: int, realistic: bool = True) -> float:
    read = (decode_weight_bytes(role) + context * kv_bytes_per_token(role)) / role.tp
    eff = DECODE_EFFICIENCY if realistic else 1.0
    step = read / (card.bandwidth * eff)
    if role.tp > 1 and realistic:
        step += 2 * role.layers * ALL_REDUCE_S
    return step


def decode_ceiling_tok_s(role: Role, card: Card) -> float:
    return card.bandwidth / (decode_weight_bytes(role) / role.tp)


def role_figures(role: Role, card: Card) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "role": role.name,
        "enabled": role.enabled,
        "model": role.model,
        "quantisation": role.quantisation,
        "gpus": list(role.gpus),
        "tensor_parallel_size": role.tp,
        "gpu_memory_utilization": role.utilization,
        "max_model_len": role.max_model_len,
        "kv_cache_dtype": role.kv_dtype,
        "weight_bytes": weight_bytes(role),
        "weight_gib_per_card": weight_bytes(role) / role.tp / GIB,
        "kv_bytes_per_token": kv_bytes_per_token(role),
        "kv_budget_gib_per_card": kv_budget_bytes(role, card) / GIB,
        "kv_tokens": kv_tokens(role, card),
    }
    if role.kind != "generate":
        return figures
    p, c, n = PROMPT_TOKENS, CACHED_TOKENS, PROMPT_TOKENS - CACHED_TOKENS
    step = decode_step_s(role, card, p)
    figures.update(
        {
            "decode_ceiling_tok_s": decode_ceiling_tok_s(role, card),
            "decode_realistic_tok_s": 1 / step,
            "prefill_floor_1k5_s": prefill_s(role, card, p, realistic=False),
            "prefill_floor_8k_s": prefill_s(role, card, CHAT_PROMPT_TOKENS, realistic=False),
            "completion_64_floor_s": prefill_s(role, card, p, realistic=False)
            + LONG_OUTPUT * decode_step_s(role, card, p, realistic=False),
            "completion_64_s": prefill_s(role, card, p) + LONG_OUTPUT * step,
            "completion_64_cached_s": prefill_s(role, card, n, c) + LONG_OUTPUT * step,
            "completion_16_cached_s": prefill_s(role, card, n, c) + LINE_OUTPUT * step,
            "chat_ttft_8k_floor_s": prefill_s(role, card, CHAT_PROMPT_TOKENS, realistic=False),
            "chat_ttft_8k_s": prefill_s(role, card, CHAT_PROMPT_TOKENS),
        }
    )
    return figures


def card_usage(profile: Profile) -> dict[int, float]:
    usage = {gpu: 0.0 for gpu in range(profile.card.count)}
    for role in profile.roles.values():
        if role.enabled:
            for gpu in role.gpus:
                usage[gpu] = usage.get(gpu, 0.0) + role.utilization
    return usage


def fit_problems(profile: Profile) -> list[str]:
    """Why a profile would not start on its cards; empty when it fits."""
    problems: list[str] = []
    card = profile.card
    for gpu, used in card_usage(profile).items():
        if gpu >= card.count:
            problems.append(f"{profile.name}: GPU {gpu} does not exist ({card.count} cards)")
        if used > card.max_total_utilization + 1e-9:
            problems.append(
                f"{profile.name}: GPU {gpu} is promised {used:.2f} of its memory "
                f"(limit {card.max_total_utilization:.2f})"
            )
    for role in profile.roles.values():
        if not role.enabled:
            continue
        if len(role.gpus) != role.tp:
            problems.append(f"{profile.name}/{role.name}: {len(role.gpus)} GPUs but TP {role.tp}")
        if role.kv_heads % role.tp:
            problems.append(f"{profile.name}/{role.name}: {role.kv_heads} KV heads not divisible by TP")
        if kv_tokens(role, card) < role.max_model_len:
            problems.append(
                f"{profile.name}/{role.name}: KV cache holds {kv_tokens(role, card)} tokens, "
                f"less than one --max-model-len {role.max_model_len} sequence"
            )
    return problems


def profile_figures(profile: Profile) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "title": profile.title,
        "card": profile.card.name,
        "cards": profile.card.count,
        "card_memory_gib": profile.card.memory_bytes / GIB,
        "card_utilization": {str(k): round(v, 4) for k, v in card_usage(profile).items()},
        "fits": not fit_problems(profile),
        "roles": [role_figures(r, profile.card) for r in profile.roles.values()],
    }


# ---------------------------------------------------------------------------------------------
# Output


def _s(x: float) -> str:
    return f"{x:.2f}"


def render_markdown(profiles: list[Profile]) -> str:
    mem = [
        "| Profile | Role | Model | Quant | GPUs (TP) | Util | Weights GB (GiB/card) | KV B/token "
        "| KV budget GiB/card | KV tokens fit | max-model-len |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lat = [
        "| Profile | Role | Decode ceiling tok/s | Realistic tok/s @1.5k | Prefill floor 1.5k / 8k s "
        "| 64 tok, 1.5k uncached: floor / realistic s | 1,200 of 1,500 cached: 64 tok / 16 tok s "
        "| Chat TTFT 8k: floor / realistic s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for profile in profiles:
        for role in profile.roles.values():
            f = role_figures(role, profile.card)
            label = role.name if role.enabled else f"{role.name} (off)"
            gpus = ",".join(str(g) for g in role.gpus)
            mem.append(
                f"| {profile.name} | {label} | {role.model} | {role.quantisation} | {gpus} ({role.tp}) "
                f"| {role.utilization:.2f} | {f['weight_bytes'] / 1e9:.1f} ({f['weight_gib_per_card']:.1f}) "
                f"| {f['kv_bytes_per_token']:,} ({role.kv_dtype}) | {f['kv_budget_gib_per_card']:.1f} "
                f"| {f['kv_tokens']:,} | {role.max_model_len:,} |"
            )
            if role.kind != "generate":
                continue
            lat.append(
                f"| {profile.name} | {label} | {f['decode_ceiling_tok_s']:.0f} "
                f"| {f['decode_realistic_tok_s']:.0f} "
                f"| {_s(f['prefill_floor_1k5_s'])} / {_s(f['prefill_floor_8k_s'])} "
                f"| {_s(f['completion_64_floor_s'])} / {_s(f['completion_64_s'])} "
                f"| {_s(f['completion_64_cached_s'])} / {_s(f['completion_16_cached_s'])} "
                f"| {_s(f['chat_ttft_8k_floor_s'])} / {_s(f['chat_ttft_8k_s'])} |"
            )
    usage = [
        "| Profile | Card | Memory per card | Utilisation promised per card | Fits |",
        "|---|---|---|---|---|",
    ]
    for profile in profiles:
        per_card = ", ".join(f"GPU{g}: {u:.2f}" for g, u in card_usage(profile).items())
        usage.append(
            f"| {profile.name} | {profile.card.count} x {profile.card.name} "
            f"| {profile.card.memory_bytes / GIB:.2f} GiB | {per_card} "
            f"| {'yes' if not fit_problems(profile) else 'NO'} |"
        )
    return "\n".join(
        [
            "Memory (per role; KV figures are per card for the role's share):",
            "",
            *mem,
            "",
            "Latency (batch 1, one request alone on its server):",
            "",
            *lat,
            "",
            "Cards:",
            "",
            *usage,
            "",
        ]
    )


def _arg_value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith("{"):
        return f"'{value}'"  # JSON for --speculative-config: one shell word for compose's command split
    return str(value)


def vllm_args(role: Role) -> list[str]:
    """The role's vLLM flags as compose's shell-style command string expects them."""
    args: list[str] = []
    for flag, value in role.vllm.items():
        if value is True:
            args.append(f"--{flag}")
        elif value is False:
            args.append(f"--no-{flag}")
        elif value is not None:
            args.append(f"--{flag} {_arg_value(value)}")
    return args


def render_env(profile: Profile) -> str:
    enabled = [name for name, role in profile.roles.items() if role.enabled]
    lines = [
        f"# Generated by `python deploy/arithmetic.py --write-env` from profiles/{profile.name}.yaml.",
        "# Do not edit: change the profile and regenerate. Use: docker compose --env-file <this file> up -d",
        f"HEARTH_DEPLOY_PROFILE={profile.name}",
        f"COMPOSE_PROFILES={','.join(enabled)}",
    ]
    for name, role in profile.roles.items():
        key = name.upper()
        lines.append(f"VLLM_{key}_MODEL={role.model}")
        lines.append(f"VLLM_{key}_GPUS={','.join(str(g) for g in role.gpus)}")
        lines.append(f"VLLM_{key}_ARGS={' '.join(vllm_args(role))}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--check", action="store_true", help="exit 1 if any profile does not fit")
    parser.add_argument("--write-env", action="store_true", help="write deploy/env/<profile>.env")
    parser.add_argument("--profiles", type=Path, default=PROFILES_DIR, help="profiles directory")
    args = parser.parse_args(argv)
    profiles = load_profiles(args.profiles)
    if args.write_env:
        ENV_DIR.mkdir(exist_ok=True)
        for profile in profiles:
            (ENV_DIR / f"{profile.name}.env").write_text(render_env(profile), encoding="utf-8")
    problems = [p for profile in profiles for p in fit_problems(profile)]
    if args.check:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.json:
        print(json.dumps([profile_figures(p) for p in profiles], indent=2))
    elif not args.write_env:
        print(render_markdown(profiles), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
