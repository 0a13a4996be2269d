"""A deterministic stand-in tokenizer with per-family special tokens and chat templates.

Text is split by one regex into word pieces (letter runs of at most eight characters), digit runs of at
most three, whitespace runs and single punctuation characters. A family's special tokens (FIM markers,
BOS/EOS, chat markers) are matched first and count as one token each; text written in another family's
marker syntax is split like any other text, so ``/tokenize`` tells a client whether a marker is a single
special token for the served model, as it does with a real vLLM.

Ids of ordinary pieces come from a hash of the piece (stable across processes); the tokenizer keeps a
reverse map of every piece it has seen so that ``/detokenize`` can turn ids back into text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_PIECE = r"[A-Za-z]{1,8}|[0-9]{1,3}|\s+|[^A-Za-z0-9\s]"


@dataclass(frozen=True)
class Family:
    """What differs between model families: special tokens, vocabulary size, BOS and chat template."""

    name: str
    vocab_size: int
    special_tokens: Mapping[str, int]
    bos: str | None
    eos: str
    chat_style: str  # "chatml" | "llama3" | "plain"
    fim: tuple[str, str, str] | None = None  # prefix, suffix, middle markers


FAMILIES: dict[str, Family] = {
    "qwen": Family(
        name="qwen",
        vocab_size=151_665,
        special_tokens={
            "<|endoftext|>": 151_643,
            "<|im_start|>": 151_644,
            "<|im_end|>": 151_645,
            "<|fim_prefix|>": 151_659,
            "<|fim_middle|>": 151_660,
            "<|fim_suffix|>": 151_661,
            "<|fim_pad|>": 151_662,
            "<|repo_name|>": 151_663,
            "<|file_sep|>": 151_664,
        },
        bos=None,
        eos="<|endoftext|>",
        chat_style="chatml",
        fim=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    ),
    "llama": Family(
        name="llama",
        vocab_size=128_256,
        special_tokens={
            "<|begin_of_text|>": 128_000,
            "<|end_of_text|>": 128_001,
            "<|start_header_id|>": 128_006,
            "<|end_header_id|>": 128_007,
            "<|eot_id|>": 128_009,
        },
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        chat_style="llama3",
    ),
    "deepseek": Family(
        name="deepseek",
        vocab_size=32_256,
        special_tokens={
            "<｜begin▁of▁sentence｜>": 32_013,
            "<｜end▁of▁sentence｜>": 32_014,
            "<｜fim▁hole｜>": 32_015,
            "<｜fim▁begin｜>": 32_016,
            "<｜fim▁end｜>": 32_017,
        },
        bos="<｜begin▁of▁sentence｜>",
        eos="<｜end▁of▁sentence｜>",
        chat_style="plain",
        fim=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    ),
    "starcoder": Family(
        name="starcoder",
        vocab_size=49_152,
        special_tokens={
            "<|endoftext|>": 0,
            "<fim_prefix>": 1,
            "<fim_middle>": 2,
            "<fim_suffix>": 3,
            "<fim_pad>": 4,
            "<repo_name>": 5,
            "<file_sep>": 6,
        },
        bos=None,
        eos="<|endoftext|>",
        chat_style="plain",
        fim=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    ),
    "codellama": Family(
        name="codellama",
        vocab_size=32_016,
        special_tokens={
            "<s>": 1,
            "</s>": 2,
            "<PRE>": 32_007,
            "<SUF>": 32_008,
            "<MID>": 32_009,
            "<EOT>": 32_010,
        },
        bos="<s>",
        eos="</s>",
        chat_style="plain",
        fim=("<PRE>", "<SUF>", "<MID>"),
    ),
    "codestral": Family(
        name="codestral",
        vocab_size=32_768,
        special_tokens={
            "<s>": 1,
            "</s>": 2,
            "[INST]": 3,
            "[/INST]": 4,
            "[SUFFIX]": 14,
            "[PREFIX]": 15,
            "[MIDDLE]": 16,
        },
        bos="<s>",
        eos="</s>",
        chat_style="plain",
        fim=("[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
    ),
}


@dataclass
class Tokenizer:
    """Deterministic tokenizer for one family. Not thread-safe for the reverse map, which is only a cache."""

    family: Family
    _seen: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        specials = sorted(self.family.special_tokens, key=len, reverse=True)
        alternatives = [re.escape(s) for s in specials] + [_PIECE]
        self._regex = re.compile("|".join(alternatives))
        self._special_ids = {v: k for k, v in self.family.special_tokens.items()}
        low = [v for v in self.family.special_tokens.values() if v < 1000]
        high = [v for v in self.family.special_tokens.values() if v >= 1000]
        self._first_plain_id = max(low) + 1 if low else 100
        self._plain_span = (min(high) if high else self.family.vocab_size) - self._first_plain_id

    @property
    def eos_id(self) -> int:
        return self.family.special_tokens[self.family.eos]

    def pieces(self, text: str) -> list[str]:
        return self._regex.findall(text)

    def piece_id(self, piece: str) -> int:
        special = self.family.special_tokens.get(piece)
        if special is not None:
            return special
        digest = hashlib.blake2b(piece.encode("utf-8"), digest_size=8).digest()
        token_id = self._first_plain_id + int.from_bytes(digest, "little") % self._plain_span
        self._seen.setdefault(token_id, piece)
        return token_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = [self.piece_id(p) for p in self.pieces(text)]
        if add_special_tokens and self.family.bos is not None:
            ids.insert(0, self.family.special_tokens[self.family.bos])
        return ids

    def id_to_piece(self, token_id: int) -> str:
        special = self._special_ids.get(token_id)
        if special is not None:
            return special
        return self._seen.get(token_id, f"<unk_{token_id}>")

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._special_ids]
        return "".join(self.id_to_piece(i) for i in ids)

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, Any]],
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
    ) -> str:
        """Render messages the way the family's chat template would (simplified)."""
        style = self.family.chat_style
        parts: list[str] = []
        last = len(messages) - 1
        for index, message in enumerate(messages):
            role = str(message.get("role", "user"))
            content = message_text(message)
            open_final = continue_final_message and index == last
            if style == "chatml":
                parts.append(f"<|im_start|>{role}\n{content}" + ("" if open_final else "<|im_end|>\n"))
            elif style == "llama3":
                if index == 0:
                    parts.append("<|begin_of_text|>")
                parts.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}")
                if not open_final:
                    parts.append("<|eot_id|>")
            else:
                if index == 0 and self.family.bos is not None:
                    parts.append(self.family.bos)
                parts.append(f"### {role.capitalize()}:\n{content}" + ("" if open_final else "\n"))
        if add_generation_prompt and not continue_final_message:
            if style == "chatml":
                parts.append("<|im_start|>assistant\n")
            elif style == "llama3":
                parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
            else:
                parts.append("### Assistant:\n")
        return "".join(parts)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string, a list of parts or null."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(texts)
    return str(content)
