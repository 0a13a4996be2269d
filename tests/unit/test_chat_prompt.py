"""The chat prompt's budget: the probed window, the answer's reserve, context before history, history trimmed
oldest first, and a clear error when the turn alone does not fit."""

from __future__ import annotations

import dataclasses

import pytest

from hearth.indexer.types import Hit
from hearth.server.config import Settings
from hearth.server.services.chat import DEFAULT_MAX_MODEL_LEN, ChatError, PromptBuilder, Templates
from hearth.server.services.models import ModelRoles


def builder(max_model_len: int | None) -> PromptBuilder:
    roles = ModelRoles(Settings())
    roles.chat = dataclasses.replace(roles.chat, state="ok", model="llama", max_model_len=max_model_len)
    return PromptBuilder(Templates.load(), roles)


def hit(i: int, lines: int = 10) -> Hit:
    text = "\n".join(f"    value_{i}_{n} = compute(value_{i}_{n - 1})" for n in range(lines))
    return Hit(f"pkg/mod_{i}.py", 10 * i + 1, 10 * i + lines, 1.0 / (i + 1), "fts", text, language="python")


def history(turns: int, words: int = 200) -> list[dict[str, str]]:
    out = []
    for i in range(turns):
        out.append({"role": "user", "content": f"question {i}: " + "why " * words})
        out.append({"role": "assistant", "content": f"answer {i}: " + "because " * words})
    return out


def prompt_tokens(p: PromptBuilder, messages: list[dict[str, str]]) -> int:
    return sum(p.tokens(m["content"]) + 4 for m in messages)


def test_the_window_is_the_probed_one_and_a_quarter_is_kept_for_the_answer() -> None:
    assert builder(4096).window() == 4096 and builder(4096).reserve() == 1024
    assert builder(None).window() == DEFAULT_MAX_MODEL_LEN  # not probed yet: a safe default
    assert builder(131072).reserve() == 4096  # never more than 4096 tokens of answer
    assert builder(600).reserve() == 256  # never less than 256


def test_context_budget_is_half_of_what_system_turn_and_answer_leave() -> None:
    p = builder(4096)
    system, turn = "You are Hearth.", "Explain this function. " * 20
    free = 4096 - 1024 - p.tokens(system) - p.tokens(turn) - 32
    assert p.context_budget(system, turn) == free // 2
    # A longer turn leaves less room for context.
    assert p.context_budget(system, turn * 4) < p.context_budget(system, turn)


def test_a_turn_that_does_not_fit_is_refused_with_a_clear_message() -> None:
    p = builder(1024)
    with pytest.raises(ChatError, match=r"too long for the chat model.*select less code"):
        p.context_budget("system", "x = 1\n" * 2000)


def test_stable_part_first_then_the_kept_history_then_the_turn() -> None:
    p = builder(8192)
    hits = [hit(0), hit(1), hit(2)]
    prompt = p.build("SYSTEM TEXT", hits, history(2, words=20), "what does compute do?", root="/r")
    system = prompt.messages[0]
    assert system["role"] == "system" and system["content"].startswith("SYSTEM TEXT")
    # Every context item is in the system message, citable as path:lines, in the order given.
    where = [system["content"].index(h.path) for h in hits]
    assert where == sorted(where)
    assert all(h.text.split("\n")[0].strip() in system["content"] for h in hits)
    assert [m["role"] for m in prompt.messages[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert prompt.messages[-1] == {"role": "user", "content": "what does compute do?"}
    assert prompt.budget["history_kept"] == 4 and prompt.budget["history_dropped"] == 0
    assert prompt.max_tokens == p.reserve()


def test_history_is_trimmed_oldest_first_to_fit_the_window() -> None:
    p = builder(4096)
    hits = [hit(i, lines=20) for i in range(4)]
    old = history(12)  # far more than the window holds
    prompt = p.build("SYSTEM TEXT", hits, old, "and now?", root=None)
    kept = prompt.messages[1:-1]
    assert 0 < len(kept) < len(old)
    # The newest turns are kept, contiguous, ending with the last answer, never starting with an answer.
    assert kept == old[-len(kept):]
    assert kept[0]["role"] == "user"
    assert prompt.budget["history_dropped"] == len(old) - len(kept)
    # Everything sent plus the answer's reserve fits the window.
    assert prompt_tokens(p, prompt.messages) + prompt.max_tokens <= p.window()


def test_an_answer_whose_question_was_trimmed_is_dropped_too() -> None:
    p = builder(4096)
    sized = [{"role": "user", "content": "q " * 8000}, {"role": "assistant", "content": "short answer"}]
    prompt = p.build("SYSTEM TEXT", [], sized, "next?", root=None)
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.budget["history_kept"] == 0 and prompt.budget["history_dropped"] == 2
