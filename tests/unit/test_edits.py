"""Checked edits: extraction, syntax checks, minimal line edits (hearth.server.services.edits)."""

from __future__ import annotations

import pytest

from hearth.indexer.languages import LanguageRegistry
from hearth.server.services.edits import (
    EditChecker,
    EditRejected,
    apply_changes,
    count_syntax_errors,
    extract_blocks,
    fit_indentation,
    line_edits,
)

SRC = '''"""Prices."""


def total(items):
    s = 0
    for i in items:
        s += i
    return s


def other():
    return 1
'''


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.default()


@pytest.fixture(scope="module")
def checker(registry: LanguageRegistry) -> EditChecker:
    return EditChecker(registry)


def plan(checker: EditChecker, answer: str, start: int = 3, end: int = 7, **kw: object):
    return checker.replace_lines(label="t", uri="file:///r/p.py", path="p.py", version=3, text=SRC,
                                 start_line=start, end_line=end, answer=answer, **kw)  # type: ignore[arg-type]


def test_fenced_answer_becomes_minimal_line_edits(checker: EditChecker) -> None:
    answer = "Here you go:\n```python\ndef total(items):\n    return sum(items)\n```\nDone."
    p = plan(checker, answer)
    (fc,) = p.changes
    assert fc.version == 3
    assert [(e.start, e.end) for e in fc.edits] == [((4, 0), (8, 0))]  # only the body lines change
    after = apply_changes(SRC, fc.edits)
    assert after == fc.new_text
    assert "    return sum(items)\n\n\ndef other()" in after
    assert count_syntax_errors(checker.registry, "p.py", after) == 0


def test_unfenced_answer_is_used_whole(checker: EditChecker) -> None:
    p = plan(checker, "def total(items):\n    return sum(items)\n")
    assert "return sum(items)" in p.changes[0].new_text


def test_flush_left_method_is_reindented() -> None:
    assert fit_indentation("def f(self):\n    return 1", "    def f(self):\n        return 2") == (
        "    def f(self):\n        return 1"
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I think this code is fine as it is, really.", "does not parse"),
        ("```python\ndef total(items):\n    return sum(items\n```", "does not parse"),
        ("```python\ndef total(items):\n    return sum(items)\n", "cut off"),
        ("```javascript\nfunction total(items) { return items.reduce((a, b) => a + b, 0); }\n```", "javascript"),
        ("```python\n```", "empty"),
        ("```python\ndef total(items):\n    # ... rest unchanged\n```", "leaves code out"),
        ("```python\n" + SRC.split("\n\n\n")[1] + "\n```", "same as the original"),
    ],
)
def test_bad_answers_are_rejected_with_a_reason(checker: EditChecker, answer: str, reason: str) -> None:
    with pytest.raises(EditRejected, match=reason):
        plan(checker, answer)


def test_original_errors_do_not_block_an_edit(checker: EditChecker) -> None:
    broken = SRC + "\ndef bad(:\n"
    p = checker.replace_lines(label="t", uri="u", path="p.py", version=1, text=broken, start_line=3, end_line=7,
                              answer="```py\ndef total(items):\n    return sum(items)\n```")
    assert "return sum(items)" in p.changes[0].new_text


def test_other_files_named_in_the_fence_join_the_same_plan(checker: EditChecker) -> None:
    answer = (
        "```python\ndef total(items):\n    return helper(items)\n```\n"
        "```python path=pkg/helpers.py\ndef helper(items):\n    return sum(items)\n```\n"
    )
    files = {"pkg/helpers.py": ("file:///r/pkg/helpers.py", "pkg/helpers.py", None, "")}
    p = plan(checker, answer, other_file=files.get)
    assert [c.path for c in p.changes] == ["p.py", "pkg/helpers.py"]
    assert p.changes[1].new_text.startswith("def helper")
    with pytest.raises(EditRejected, match="not in the workspace"):
        plan(checker, answer, other_file=lambda rel: None)


def test_new_file_and_append(checker: EditChecker) -> None:
    code = "```python\nfrom p import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n```"
    p = checker.new_file(label="t", uri="file:///r/tests/test_p.py", path="tests/test_p.py", existing=None,
                         version=None, answer=code)
    (fc,) = p.changes
    assert fc.create and fc.edits[0].start == (0, 0) and fc.edits[0].text.startswith("from p import total")
    p2 = checker.new_file(label="t", uri="u", path="tests/test_p.py", existing="import os\n", version=2, answer=code)
    assert not p2.changes[0].create
    assert apply_changes("import os\n", p2.changes[0].edits).startswith("import os\n\n\nfrom p import total")


def test_line_edits_handle_a_missing_final_newline() -> None:
    old, new = "a\nb\nc", "a\nB\nc\nd"
    assert apply_changes(old, line_edits(old, new)) == new
    old, new = "x = 1\n", "x = 1\ny = 2\n"
    (e,) = line_edits(old, new)
    assert e.start == e.end == (1, 0) and e.text == "y = 2\n"


def test_fence_labels_and_paths(registry: LanguageRegistry) -> None:
    blocks = extract_blocks(registry, "```ts web/api.ts\nx\n```\n~~~py\ny\n~~~\n```\nz\n```")
    assert [(b.language, b.path, b.code) for b in blocks] == [
        ("typescript", "web/api.ts", "x\n"), ("python", None, "y\n"), (None, None, "z\n")
    ]
