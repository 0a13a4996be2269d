"""Post-processing of a raw model completion into the text of an inline item.

Rules, in order: drop empty output; single-line mode keeps the first line; stop at the end of
the block (a line dedented below the cursor's block); stop where the output starts repeating the
code after the cursor; cut repetitive loops; trim the tail that duplicates the rest of the
cursor's line; keep brackets balanced against that rest.
"""

from __future__ import annotations

import re

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
        return bool(re.search(r"[:{(\[]\s*$", line_before))
    return True  # an empty line: the user is about to write a statement or a block


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
    """Drop closing brackets the completion did not open when the rest of the line closes them."""
    depth: list[str] = []
    out = []
    rest_closers = [c for c in rest_of_line if c in _CLOSERS]
    for ch in text:
        if ch in _OPENERS:
            depth.append(ch)
        elif ch in _CLOSERS:
            if depth and depth[-1] == _CLOSERS[ch]:
                depth.pop()
            elif rest_closers and rest_closers[0] == ch:
                continue  # the rest of the line already closes it
        out.append(ch)
    return "".join(out)


def cut_repetition(lines: list[str]) -> list[str]:
    out: list[str] = []
    for ln in lines:
        if len(out) >= 2 and ln.strip() and out[-1] == ln and out[-2] == ln:
            break
        out.append(ln)
    # A block that repeats itself (the model looping): keep the first occurrence.
    n = len(out)
    for size in range(2, n // 2 + 1):
        if out[n - size :] == out[n - 2 * size : n - size] and any(s.strip() for s in out[n - size :]):
            return out[: n - size]
    return out


def postprocess(raw: str, prefix: str, suffix: str, *, multiline: bool) -> str:
    text = raw.replace("\r\n", "\n")
    if not text.strip():
        return ""
    rest_of_line = suffix.split("\n", 1)[0]
    line_before = prefix.rsplit("\n", 1)[-1]
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
                    if closer and ind == base:
                        kept.append(ln)  # the closing brace of the block the cursor opened
                    break
                if ind < base and not closer:
                    break  # dedented past the cursor's block: the block has ended
                if next_code and ln.strip() == next_code[0].strip():
                    break  # the model is rewriting the code after the cursor
            kept.append(ln)
        kept = cut_repetition(kept)
        while kept and not kept[-1].strip():
            kept.pop()
        text = "\n".join(kept)
    text = trim_suffix_overlap(text, rest_of_line)
    text = balance_brackets(text, rest_of_line)
    if not text.strip():
        return ""
    return text.rstrip() if "\n" in text else text.rstrip("\n")
