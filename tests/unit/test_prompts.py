"""FIM templates (data in server/model/templates/fim.toml): one rendering test per family, the
family guess, and the strict extraction of a chat model's hole filling."""

from __future__ import annotations

import pytest

from hearth.server.model.prompts import (
    CHAT_HOLE,
    ContextSnippet,
    extract_chat_fill,
    guess_family,
    load_templates,
    render_chat_fill,
    render_fim,
)

TEMPLATES = load_templates()
SNIPPETS = [ContextSnippet("shop/pricing.py", 3, 4, "def compute_total(items):\n    return sum(items)")]
ARGS = dict(snippets=SNIPPETS, repo_name="shop", path="shop/cart.py", prefix="x = compute_", suffix="\nprint(x)")


def test_every_family_of_the_issue_has_a_template() -> None:
    assert {"qwen", "qwen3", "deepseek", "starcoder", "codellama", "codestral"} <= set(TEMPLATES)
    for t in TEMPLATES.values():
        assert len(t.stop) <= 3, f"{t.name}: vLLM takes 4 stop strings and Hearth adds one"


def test_qwen25_repository_level() -> None:
    assert render_fim(TEMPLATES["qwen"], comment="#", **ARGS) == (
        "<|repo_name|>shop\n"
        "<|file_sep|>shop/pricing.py\ndef compute_total(items):\n    return sum(items)\n"
        "<|file_sep|>shop/cart.py\n"
        "<|fim_prefix|>x = compute_<|fim_suffix|>\nprint(x)<|fim_middle|>"
    )


def test_qwen3_coder_same_tokens_own_stops() -> None:
    prompt = render_fim(TEMPLATES["qwen3"], comment="#", **ARGS)
    assert prompt == render_fim(TEMPLATES["qwen"], comment="#", **ARGS)
    assert "<|im_end|>" in TEMPLATES["qwen3"].stop


def test_qwen_without_repository_tokens_quotes_context_as_comments() -> None:
    t = TEMPLATES["qwen"].with_comment_context()
    assert render_fim(t, comment="#", **ARGS) == (
        "<|fim_prefix|># shop/pricing.py:3-4\n# def compute_total(items):\n#     return sum(items)\n"
        "# Path: shop/cart.py\nx = compute_<|fim_suffix|>\nprint(x)<|fim_middle|>"
    )


def test_deepseek() -> None:
    assert render_fim(TEMPLATES["deepseek"], comment="#", **ARGS) == (
        "<｜fim▁begin｜># shop/pricing.py:3-4\n# def compute_total(items):\n#     return sum(items)\n"
        "# Path: shop/cart.py\nx = compute_<｜fim▁hole｜>\nprint(x)<｜fim▁end｜>"
    )


def test_starcoder2_repository_level() -> None:
    assert render_fim(TEMPLATES["starcoder"], comment="#", **ARGS) == (
        "<repo_name>shop\n<file_sep>shop/pricing.py\ndef compute_total(items):\n    return sum(items)\n"
        "<file_sep>shop/cart.py\n<fim_prefix>x = compute_<fim_suffix>\nprint(x)<fim_middle>"
    )


def test_codellama_spacing() -> None:
    prompt = render_fim(TEMPLATES["codellama"], comment="//", **{**ARGS, "snippets": []})
    assert prompt == "<PRE> // Path: shop/cart.py\nx = compute_ <SUF>\nprint(x) <MID>"
    assert TEMPLATES["codellama"].special_tokens == ("<PRE>", "<SUF>", "<MID>")


def test_codestral_suffix_first() -> None:
    prompt = render_fim(TEMPLATES["codestral"], comment="#", **{**ARGS, "snippets": []})
    assert prompt == "[SUFFIX]\nprint(x)[PREFIX]# Path: shop/cart.py\nx = compute_"
    assert TEMPLATES["codestral"].special_tokens == ("[PREFIX]", "[SUFFIX]")


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("Qwen/Qwen2.5-Coder-7B", "qwen"),
        ("qwen2.5-coder-1.5b-instruct", "qwen"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek"),
        ("bigcode/starcoder2-15b", "starcoder"),
        ("codellama/CodeLlama-13b-hf", "codellama"),
        ("mistralai/Codestral-22B-v0.1", "codestral"),
        ("meta-llama/Llama-3.3-70B-Instruct", None),
    ],
)
def test_guess_family(model: str, family: str | None) -> None:
    t = guess_family(TEMPLATES, model)
    assert (t.name if t else None) == family


def test_guess_family_from_the_root_path() -> None:
    t = guess_family(TEMPLATES, "hearth-completion", "/models/Qwen2.5-Coder-7B")
    assert t is not None and t.name == "qwen"


def test_prefix_of_the_prompt_is_stable_while_typing() -> None:
    a = render_fim(TEMPLATES["qwen"], comment="#", **{**ARGS, "prefix": "x = comp"})
    b = render_fim(TEMPLATES["qwen"], comment="#", **{**ARGS, "prefix": "x = compu"})
    same = a.index("<|fim_prefix|>") + len("<|fim_prefix|>x = comp")
    assert a[:same] == b[:same]


def test_chat_fill_prompt() -> None:
    messages = render_chat_fill(snippets=SNIPPETS, path="shop/cart.py", language="python", prefix="a = ", suffix="\n")
    assert messages[0]["role"] == "system" and CHAT_HOLE in messages[0]["content"]
    assert messages[1]["content"].endswith(f"```python\na = {CHAT_HOLE}\n\n```")
    assert messages[1]["content"].index("shop/pricing.py") < messages[1]["content"].index("shop/cart.py")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("```python\ncompute_total(items)\n```", "compute_total(items)"),
        ("Here is the code:\n```\nreturn a + b\n```\nIt adds.", "return a + b"),
        ("compute_total(items)", "compute_total(items)"),  # bare code, no prose
        ("Sure! You should call compute_total here.", ""),  # prose only
        (f"```\nx = {CHAT_HOLE}\n```", ""),  # echoed the marker
        ("```python\n```", ""),  # nothing to insert
        ("```python\ntotal = compute_total(items)\n```", "compute_total(items)"),  # echoed the line
        ("line one\nline two\nline three\nline four\n", ""),  # long bare text: not trusted
    ],
)
def test_strict_extraction(answer: str, expected: str) -> None:
    assert extract_chat_fill(answer, "def f(items):\n    total = ", "\n") == expected
