"""Checked edits: from a model's answer to minimal text changes that keep the code parseable.

The pipeline, in order:
1. extract the code: the fenced blocks of the answer (a block whose info string names a path is
   the whole new content of that file), or the whole answer when it has no fence;
2. check it: the fence's language is the file's; the changed file parses with tree-sitter with
   no more syntax errors than the original (ERROR and MISSING nodes are counted);
3. turn the new text into minimal line edits (difflib over lines).

Anything that fails a check raises ``EditRejected`` with a message for the user; nothing here
knows about LSP (positions are 0-based lines and code-point columns).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from hearth.indexer.languages import LanguageRegistry

FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\n`]*)$", re.MULTILINE)
PLACEHOLDER = re.compile(r"^\s*(#|//|/\*|--)?\s*\.\.\.\s*(rest|existing|unchanged|remaining)\b", re.I | re.M)

# Fence labels that are not a registry name or a file extension.
FENCE_ALIASES = {
    "py": "python", "python3": "python", "js": "javascript", "jsx": "javascript", "ts": "typescript",
    "tsx": "tsx", "golang": "go", "rs": "rust", "sh": "bash", "shell": "bash", "zsh": "bash",
    "c++": "cpp", "cs": "csharp", "c#": "csharp", "rb": "ruby", "kt": "kotlin", "yml": "yaml",
    "md": "markdown",
}
# Labels that say nothing about the language.
NEUTRAL_FENCES = {"", "text", "plain", "plaintext", "code", "diff", "patch", "output", "console"}
# Languages one grammar parses for the other (a TypeScript file may hold plain JavaScript).
COMPATIBLE = {("typescript", "javascript"), ("tsx", "javascript"), ("tsx", "typescript"), ("cpp", "c")}


class EditRejected(Exception):
    """The model's answer cannot be applied; ``str(exc)`` tells the user why."""


@dataclass(frozen=True, slots=True)
class CodeBlock:
    code: str
    language: str | None  # the registry name the fence names, None when unlabelled
    label: str  # the fence's raw language label
    path: str | None  # a file path named in the info string


@dataclass(frozen=True, slots=True)
class TextChange:
    """Replace [start, end) (0-based line, code-point column) with ``text``."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str


@dataclass(frozen=True, slots=True)
class FileChange:
    uri: str
    path: str  # relative to the repository root (or the URI's path outside a workspace)
    version: int | None  # the open buffer's version the edits apply to; None for files on disk
    edits: tuple[TextChange, ...]
    create: bool = False  # a new file: created, then ``edits`` insert its content
    new_text: str = ""
    before: str = ""  # the text the edits apply to


@dataclass(frozen=True, slots=True)
class EditPlan:
    label: str  # what the change does, e.g. "Hearth: add documentation"
    changes: tuple[FileChange, ...]

    @property
    def empty(self) -> bool:
        return not any(c.edits for c in self.changes)

    def summary(self) -> str:
        n = sum(len(c.edits) for c in self.changes)
        files = ", ".join(c.path for c in self.changes if c.edits or c.create)
        return f"{n} change{'s' if n != 1 else ''} in {files}" if files else "no changes"


def fence_language(registry: LanguageRegistry, label: str) -> str | None:
    """The registry language a fence label names (``py``, ``python``, ``ts`` ...), None if neutral/unknown."""
    word = label.strip().split()[0].lower() if label.strip() else ""
    word = word.removeprefix("{").removeprefix(".").rstrip("}")
    if word in NEUTRAL_FENCES:
        return None
    if word in registry.specs:
        return word
    if word in FENCE_ALIASES:
        return FENCE_ALIASES[word]
    return registry.name_for_path(f"x.{word}") or word


def _info_path(info: str) -> str | None:
    for tok in info.split()[1:] if len(info.split()) > 1 else []:
        tok = tok.strip("'\"")
        for prefix in ("path=", "file=", "filename=", "title="):
            if tok.startswith(prefix):
                return tok[len(prefix):].strip("'\"") or None
        if "/" in tok or re.match(r"^[\w.-]+\.\w+$", tok):
            return tok
    first = info.strip()
    if ("/" in first or re.match(r"^[\w-]+\.\w+$", first)) and " " not in first:
        return first  # ```shop/pricing.py
    return None


def extract_blocks(registry: LanguageRegistry, answer: str) -> list[CodeBlock]:
    """The fenced code blocks of an answer; [] when it has none. An unclosed fence is a cut-off answer."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        m = FENCE_OPEN.search(answer, pos)
        if m is None:
            break
        fence, info = m.group(1), m.group(2).strip()
        start = m.end() + 1
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        end = close.search(answer, start)
        if end is None:
            raise EditRejected("the answer was cut off inside a code block")
        code = answer[start : end.start()] if start <= end.start() else ""
        label = info.split()[0] if info.split() else ""
        path = _info_path(info)
        language = fence_language(registry, label) if label and label != path else None
        if path and language is None:
            language = registry.name_for_path(path)
        blocks.append(CodeBlock(code, language, label, path))
        pos = end.end()
    return blocks


def count_syntax_errors(registry: LanguageRegistry, path: str, text: str) -> int | None:
    """ERROR and MISSING nodes in the parse of ``text`` as ``path``'s language; None without a grammar."""
    lang = registry.for_path(path)
    if lang is None:
        return None
    tree = lang.parser().parse(text.encode("utf-8"))
    root = tree.root_node
    if not root.has_error:
        return 0
    count = 0
    cursor = tree.walk()
    while True:
        node = cursor.node
        descend = False
        if node is not None:
            if node.is_error or node.is_missing:
                count += 1
            elif node.has_error:
                descend = True
        if descend and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return count


def line_edits(old: str, new: str) -> tuple[TextChange, ...]:
    """Minimal whole-line replacements turning ``old`` into ``new`` (difflib over lines)."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    out: list[TextChange] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        out.append(TextChange(_line_pos(a, i1), _line_pos(a, i2), "".join(b[j1:j2])))
    return tuple(out)


def _line_pos(lines: list[str], i: int) -> tuple[int, int]:
    """The position of the start of line ``i``; past the end, the end of the text."""
    if i < len(lines):
        return (i, 0)
    if not lines:
        return (0, 0)
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return (len(lines), 0)
    return (len(lines) - 1, len(last))


def apply_changes(text: str, edits: tuple[TextChange, ...]) -> str:
    """Apply non-overlapping changes (any order) to ``text``; what a client does with them."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))

    def off(p: tuple[int, int]) -> int:
        return min(len(text), offsets[min(p[0], len(lines))] + p[1])

    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: off(e.start)] + e.text + text[off(e.end) :]
    return text


def _indent_of(lines: list[str]) -> str:
    ind = [re.match(r"[ \t]*", ln).group(0) for ln in lines if ln.strip()]  # type: ignore[union-attr]
    if not ind:
        return ""
    common = ind[0]
    for x in ind[1:]:
        while not x.startswith(common):
            common = common[:-1]
    return common


def fit_indentation(code: str, original: str) -> str:
    """Re-indent a replacement the model gave flush-left for an indented original (a method, a block)."""
    want = _indent_of(original.split("\n"))
    have = _indent_of(code.split("\n"))
    if not want or have == want:
        return code
    if have and want.startswith(have):
        extra = want[len(have):]
    elif not have:
        extra = want
    else:
        return code
    return "\n".join(extra + ln if ln.strip() else ln for ln in code.split("\n"))


class EditChecker:
    """Checks a model's answer against the file it changes and plans the edits."""

    def __init__(self, registry: LanguageRegistry) -> None:
        self.registry = registry

    def _check_language(self, block: CodeBlock, path: str) -> None:
        want = self.registry.name_for_path(path)
        got = block.language
        if want is None or got is None or got == want or (want, got) in COMPATIBLE:
            return
        raise EditRejected(f"the answer is {block.label or got} code, but {path} is {want}")

    def check_parses(self, path: str, before: str, after: str) -> None:
        if after.strip() == "":
            return
        new_errors = count_syntax_errors(self.registry, path, after)
        if new_errors is None:
            return
        old_errors = count_syntax_errors(self.registry, path, before) if before.strip() else 0
        if new_errors > (old_errors or 0):
            lang = self.registry.name_for_path(path) or "its language"
            raise EditRejected(
                f"the changed {path} does not parse as {lang} ({new_errors} syntax error"
                f"{'s' if new_errors != 1 else ''}, the original has {old_errors or 0}); nothing was applied"
            )

    def _main_block(self, answer: str, blocks: list[CodeBlock], path: str) -> CodeBlock:
        if not answer.strip():
            raise EditRejected("the model's answer was empty; nothing was applied")
        if not blocks:
            if PLACEHOLDER.search(answer):
                raise EditRejected("the answer leaves code out ('... rest unchanged'); nothing was applied")
            return CodeBlock(answer.strip("\n") + "\n", None, "", None)
        own = [b for b in blocks if b.path is None or PurePosixPath(b.path).as_posix() == path]
        if not own:
            raise EditRejected(f"the answer has no code for {path}; nothing was applied")
        block = own[0]
        if not block.code.strip():
            raise EditRejected("the answer's code block is empty; nothing was applied")
        if PLACEHOLDER.search(block.code):
            raise EditRejected("the answer leaves code out ('... rest unchanged'); nothing was applied")
        return block

    def replace_lines(
        self,
        *,
        label: str,
        uri: str,
        path: str,
        version: int | None,
        text: str,
        start_line: int,
        end_line: int,
        answer: str,
        other_file: Callable[[str], tuple[str, str, int | None, str] | None] | None = None,
    ) -> EditPlan:
        """Replace lines [start_line, end_line] (0-based, inclusive) of ``text`` with the answer's code.

        ``other_file(rel_path) -> (uri, path, version, text)`` resolves blocks labelled with another
        file's path (whole-file replacements); all the files' changes form one plan.
        """
        blocks = extract_blocks(self.registry, answer)
        block = self._main_block(answer, blocks, path)
        self._check_language(block, path)
        lines = text.splitlines(keepends=True)
        if not lines:
            lines = [""]
        start_line = max(0, min(start_line, len(lines) - 1))
        end_line = max(start_line, min(end_line, len(lines) - 1))
        original = "".join(lines[start_line : end_line + 1])
        code = block.code
        if block.path is not None:  # the whole file
            new_text = code
        else:
            code = fit_indentation(code.rstrip("\n"), original.rstrip("\n"))
            if original.endswith("\n") or end_line + 1 < len(lines):
                code += "\n"
            new_text = "".join(lines[:start_line]) + code + "".join(lines[end_line + 1 :])
        self.check_parses(path, text, new_text)
        changes = [FileChange(uri, path, version, line_edits(text, new_text), new_text=new_text, before=text)]
        for other in blocks:
            if other.path is None or other is block or other.path == path:
                continue
            if other_file is None:
                raise EditRejected(f"the answer changes {other.path}, which this action cannot change")
            found = other_file(other.path)
            if found is None:
                raise EditRejected(f"the answer changes {other.path}, which is not in the workspace")
            o_uri, o_path, o_version, o_text = found
            self._check_language(other, o_path)
            self.check_parses(o_path, o_text, other.code)
            changes.append(FileChange(o_uri, o_path, o_version, line_edits(o_text, other.code), new_text=other.code,
                                      before=o_text))
        plan = EditPlan(label, tuple(changes))
        if plan.empty:
            raise EditRejected("the answer is the same as the original code; nothing to apply")
        return plan

    def new_file(
        self, *, label: str, uri: str, path: str, existing: str | None, version: int | None, answer: str
    ) -> EditPlan:
        """A new file with the answer's code; appended to ``existing`` when that file is already there."""
        blocks = [CodeBlock(b.code, b.language, b.label, None) for b in extract_blocks(self.registry, answer)[:1]]
        block = self._main_block(answer, blocks, path)
        self._check_language(block, path)
        code = block.code.rstrip("\n") + "\n"
        if existing is None:
            self.check_parses(path, "", code)
            return EditPlan(label, (FileChange(uri, path, None, (TextChange((0, 0), (0, 0), code),), True, code),))
        new_text = existing.rstrip("\n") + "\n\n\n" + code if existing.strip() else code
        self.check_parses(path, existing, new_text)
        return EditPlan(label, (FileChange(uri, path, version, line_edits(existing, new_text), new_text=new_text,
                                           before=existing),))
