"""Post-processing of a raw model completion into the text of an inline item.

Rules, in order: drop empty output; single-line mode keeps the first line; fix the indentation
of a first line that repeats the indentation already before the cursor; stop at the end of the
block (a line dedented below the cursor's block); stop where the output starts repeating the code
after the cursor; cut repetitive loops and copies of the line above; trim the tail that duplicates
the rest of the cursor's line; keep brackets balanced against that rest.

``decide_multiline`` chooses single- or multi-line from the syntax at the cursor (tree-sitter
where the language has a grammar, the text around the cursor otherwise).
"""

from __future__ import annotations

import re

from tree_sitter import Node, Parser

MAX_LINES = 40  # a multi-line suggestion longer than this is cut (the model is rewriting the file)
_OPENS_BLOCK = re.compile(r"[:{(\[]\s*$")
_CLOSERS_ONLY = re.compile(r"^[\s)\]};,]*$")

_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = {v: k for k, v in _CLOSERS.items()}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def is_multiline_position(prefix: str, suffix: str) -> bool:
    """Multi-line when the cursor ends a line that opens a block, or sits on an empty line in one."""
    line_before = prefix.rsplit("\n", 1)[-1]
    rest_of_line = suffix.split("\n", 1)[0]
    if rest_of_line.strip():
        return False
    if line_before.strip():
        return bool(_OPENS_BLOCK.search(line_before))
    return True  # an empty line: the user is about to write a statement or a block


_STRINGS = frozenset(
    ("string", "string_content", "template_string", "raw_string_literal", "interpreted_string_literal",
     "string_literal", "heredoc_body", "string_fragment")
)


def _inside_text(root: Node, row: int, byte_col: int) -> bool:
    """Is the cursor at (row, byte_col) inside a string or a comment?

    Looks at the last syntax leaf that starts before the cursor and its ancestors: a comment that
    reaches the cursor, a string that ends after it, or an unterminated string (a string start in
    an ERROR node with no string end after it).
    """
    cur = (row, byte_col)
    node: Node | None = root
    while node is not None and node.child_count:
        before = [c for c in node.children if (c.start_point.row, c.start_point.column) < cur]
        if not before:
            break
        node = before[-1]
    while node is not None:
        kind = node.type
        end = (node.end_point.row, node.end_point.column)
        if "comment" in kind:
            closed = (node.text or b"").rstrip().endswith(b"*/")
            return end > cur or (end == cur and not closed)
        if kind in _STRINGS:
            return end > cur
        if kind == "string_start" and (node.parent is None or node.parent.type not in _STRINGS):
            return True  # an unterminated string
        if kind == "ERROR":
            open_string = None
            for child in node.children:
                if (child.start_point.row, child.start_point.column) >= cur:
                    break
                if child.type == "string_start":
                    open_string = True
                elif child.type == "string_end":
                    open_string = False
            if open_string is not None:
                return open_string
        node = node.parent
    return False


def decide_multiline(prefix: str, suffix: str, parser: Parser | None = None) -> bool:
    """Single- or multi-line at the cursor between ``prefix`` and ``suffix``.

    Multi-line where a statement or block starts: an empty line, or a line that opens a block or a
    bracket with nothing after the cursor (an empty block body). Single-line in the middle of an
    expression or statement, with code after the cursor on its line, and inside a string or a
    comment (found with tree-sitter when a parser is given).
    """
    line_before = prefix.rsplit("\n", 1)[-1]
    rest_of_line = suffix.split("\n", 1)[0]
    if not _CLOSERS_ONLY.match(rest_of_line):
        return False  # code after the cursor on its line
    if line_before.strip() and not _OPENS_BLOCK.search(line_before):
        return False  # mid-statement or mid-expression
    if parser is not None:
        source = (prefix + suffix).encode("utf-8")
        lines_before = prefix.split("\n")
        try:
            tree = parser.parse(source)
        except Exception:  # a parser failure only costs the syntax check
            tree = None
        if tree is not None and _inside_text(tree.root_node, len(lines_before) - 1, len(line_before.encode("utf-8"))):
            return False
    if rest_of_line.strip():
        # Only closers after the cursor: multi-line only for an empty bracket/brace body, e.g. `{|}`.
        return bool(re.search(r"\{\s*$", line_before))
    return True


def fix_first_indent(text: str, prefix: str) -> str:
    """A first line that restates the indentation already before the cursor loses the surplus."""
    line_before = prefix.rsplit("\n", 1)[-1]
    if not line_before or line_before.strip() or not text[:1].isspace():
        return text
    first, nl, rest = text.partition("\n")
    if not first.strip():
        return text
    prev = next((ln for ln in reversed(prefix.split("\n")[:-1]) if ln.strip()), "")
    unit = "\t" if line_before.startswith("\t") else " " * 4
    expected = _indent(prev) + (len(unit) if _OPENS_BLOCK.search(prev) else 0)
    have = len(line_before) + _indent(first)
    if have <= expected:
        return text
    keep = max(0, expected - len(line_before))
    return first[_indent(first) - keep :] + nl + rest


def trim_suffix_overlap(text: str, rest_of_line: str) -> str:
    """Remove the end of ``text`` that the rest of the cursor's line already has."""
    rest = rest_of_line.rstrip()
    if not rest or not text:
        return text
    first_line, nl, _tail = text.partition("\n")
    target = first_line if not nl else text.rsplit("\n", 1)[-1]
    for n in range(min(len(rest), len(target)), 0, -1):
        if target.endswith(rest[:n]) and rest[:n].strip():
            # Only trim when the overlap ends at a token boundary in the rest of the line.
            if n == len(rest) or not rest[n - 1].isalnum() or not rest[n].isalnum():
                if not nl:
                    return first_line[: len(first_line) - n]
                return text[: len(text) - n]
    return text


def balance_brackets(text: str, rest_of_line: str) -> str:
    """Cut the completion at a closing bracket it did not open when the rest of the line closes it.

    The model closed the expression there and went on writing what would follow the bracket,
    which cannot be inserted before the bracket the line already has.
    """
    depth: list[str] = []
    rest_closers = [c for c in rest_of_line if c in _CLOSERS]
    for i, ch in enumerate(text):
        if ch in _OPENERS:
            depth.append(ch)
        elif ch in _CLOSERS:
            if depth and depth[-1] == _CLOSERS[ch]:
                depth.pop()
            elif rest_closers and rest_closers[0] == ch:
                return text[:i].rstrip()
    return text


def cut_repetition(lines: list[str]) -> list[str]:
    """Cut a model's loop: a line repeated three times, or a block of lines repeated at the end."""
    out: list[str] = []
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    for ln in lines:
        if len(out) >= 2 and ln.strip() and out[-1].strip() == ln.strip() == out[-2].strip():
            break
        out.append(ln)
    # A block that repeats itself (the model looping): keep the first occurrence.
    cut = True
    while cut:
        cut = False
        key = [ln.strip() for ln in out]
        n = len(out)
        for size in range(2, n // 2 + 1):
            if size > 1 and key[n - size :] == key[n - 2 * size : n - size] and any(key[n - size :]):
                out = out[: n - size]
                cut = True
                break
    return out


def repeats_line_above(text: str, prefix: str) -> bool:
    """The suggestion only copies the line above the cursor (a common junk completion)."""
    lines = prefix.split("\n")
    if len(lines) < 2 or lines[-1].strip():
        return False
    above = lines[-2].strip()
    return bool(above) and text.strip() == above and len(above) > 3


def postprocess(raw: str, prefix: str, suffix: str, *, multiline: bool) -> str:
    """The text of the inline item for ``raw`` model output at the cursor ('' for none)."""
    text = raw.replace("\r\n", "\n")
    if not text.strip():
        return ""
    rest_of_line = suffix.split("\n", 1)[0]
    line_before = prefix.rsplit("\n", 1)[-1]
    text = fix_first_indent(text, prefix)
    if not multiline:
        text = (
            text.split("\n", 1)[0]
            if line_before.strip() or not text.startswith("\n")
            else text.lstrip("\n").split("\n", 1)[0]
        )
    else:
        lines = text.split("\n")
        base = _indent(line_before) if line_before.strip() else len(line_before)
        # A line that opens a block (`:` or `{`) ends where the code comes back to its indentation;
        # otherwise (an open call, an empty line) where the code dedents below the cursor's block.
        opens_block = bool(line_before.strip() and re.search(r"[:{]\s*$", line_before))
        next_code = [ln for ln in suffix.split("\n")[1:] if ln.strip()][:1]
        kept: list[str] = [lines[0]]
        for ln in lines[1:]:
            if ln.strip():
                ind = _indent(ln)
                closer = bool(re.match(r"\s*[)\]}]", ln))
                if opens_block and ind <= base:
                    if closer and ind == base and not (next_code and next_code[0].strip() == ln.strip()):
                        kept.append(ln)  # the closing brace of the block the cursor opened
                    break
                if ind < base and not closer:
                    break  # dedented past the cursor's block: the block has ended
                if next_code and ln.strip() == next_code[0].strip():
                    break  # the model is rewriting the code after the cursor
            kept.append(ln)
        kept = cut_repetition(kept)[:MAX_LINES]
        while kept and not kept[-1].strip():
            kept.pop()
        text = "\n".join(kept)
    text = trim_suffix_overlap(text, rest_of_line)
    text = balance_brackets(text, rest_of_line)
    if not text.strip() or repeats_line_above(text, prefix):
        return ""
    return text.rstrip() if "\n" in text else text.rstrip("\n")
