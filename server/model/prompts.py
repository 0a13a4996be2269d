"""Prompt building from templates kept as data (``templates/fim.toml``).

Completion prompts put the stable parts first (retrieved context in a stable order, then the
file header) and the text near the cursor last, so that consecutive requests while typing share
most of their prompt and vLLM's prefix cache hits.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources

CHAT_HOLE = "<<FILL_HERE>>"


@dataclass(frozen=True, slots=True)
class FimTemplate:
    name: str
    match: tuple[str, ...]
    prefix: str
    suffix: str
    middle: str
    order: str  # psm | spm
    context: str  # file_sep | comment
    stop: tuple[str, ...]
    repo_name: str = ""
    file_sep: str = ""

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The FIM markers, which must be single special tokens of the served model."""
        toks = [self.prefix.strip(), self.suffix.strip(), self.middle.strip()]
        return tuple(t for t in toks if t)

    @property
    def repo_tokens(self) -> tuple[str, ...]:
        """The repository-level markers (``file_sep`` context), checked like the FIM markers."""
        if self.context != "file_sep":
            return ()
        return tuple(t for t in (self.repo_name.strip(), self.file_sep.strip()) if t)

    def with_comment_context(self) -> FimTemplate:
        """This template with cross-file context given as comments (for a model lacking repo tokens)."""
        return replace(self, context="comment", repo_name="", file_sep="")


@dataclass(frozen=True, slots=True)
class ContextSnippet:
    path: str
    start_line: int
    end_line: int
    text: str


def load_templates() -> dict[str, FimTemplate]:
    data = tomllib.loads(
        resources.files("hearth.server.model").joinpath("templates").joinpath("fim.toml").read_text(encoding="utf-8")
    )
    out = {}
    for name, t in data.items():
        out[name] = FimTemplate(
            name=name,
            match=tuple(t.get("match", ())),
            prefix=t["prefix"],
            suffix=t["suffix"],
            middle=t.get("middle", ""),
            order=t.get("order", "psm"),
            context=t.get("context", "comment"),
            stop=tuple(t.get("stop", ())),
            repo_name=t.get("repo_name", ""),
            file_sep=t.get("file_sep", ""),
        )
    return out


def guess_family(templates: dict[str, FimTemplate], *names: str | None) -> FimTemplate | None:
    """The template whose ``match`` substrings occur in the model id or its root path."""
    hay = " ".join(n.lower() for n in names if n)
    best: tuple[int, FimTemplate] | None = None
    for t in templates.values():
        for m in t.match:
            if m in hay and (best is None or len(m) > best[0]):
                best = (len(m), t)
    return best[1] if best else None


def _comment_block(snippets: Sequence[ContextSnippet], comment: str) -> str:
    parts = []
    for s in snippets:
        body = "\n".join(f"{comment} {line}" if line else comment for line in s.text.split("\n"))
        parts.append(f"{comment} {s.path}:{s.start_line}-{s.end_line}\n{body}\n")
    return "".join(parts)


def render_fim(
    t: FimTemplate,
    /,
    *,
    snippets: Sequence[ContextSnippet],
    repo_name: str,
    path: str,
    prefix: str,
    suffix: str,
    comment: str,
) -> str:
    """The FIM prompt: other files first (stable order), then the file's header, then the cursor.

    Repository-level templates give each snippet as a file of its own (``<|file_sep|>path``); the
    others quote snippets as line comments at the top of the prefix. ``prefix`` and ``suffix`` are
    the text before and after the cursor, already bounded by the caller.
    """
    if t.context == "file_sep" and t.file_sep:
        head = f"{t.repo_name}{repo_name}\n" if t.repo_name else ""
        for s in snippets:
            head += f"{t.file_sep}{s.path}\n{s.text}\n"
        head += f"{t.file_sep}{path}\n"
        pre = prefix
    else:
        head = ""
        ctx = _comment_block(snippets, comment)
        pre = f"{ctx}{comment} Path: {path}\n{prefix}"
    if t.order == "spm":
        return f"{head}{t.suffix}{suffix}{t.prefix}{pre}{t.middle}"
    return f"{head}{t.prefix}{pre}{t.suffix}{suffix}{t.middle}"


def render_chat_fill(
    *, snippets: Sequence[ContextSnippet], path: str, language: str | None, prefix: str, suffix: str
) -> list[dict[str, str]]:
    """A hole-filling prompt for chat models without FIM training (e.g. Llama 3.x 70B).

    Stable parts first here too (the system message, the other files in a stable order, the
    file's path), so that vLLM's prefix cache serves consecutive requests.
    """
    system = (
        "You complete code. The user shows a file with the marker " + CHAT_HOLE + " where the cursor is. "
        "Answer with only the code that replaces the marker, in one fenced code block, nothing else. "
        "Do not repeat code before or after the marker. If nothing should be inserted, answer with an "
        "empty code block."
    )
    ctx = "".join(f"File {s.path} (lines {s.start_line}-{s.end_line}):\n```\n{s.text}\n```\n\n" for s in snippets)
    lang = language or ""
    user = (
        f"Code from other files of the repository:\n\n{ctx}" if ctx else ""
    ) + f"The file {path}:\n```{lang}\n{prefix}{CHAT_HOLE}{suffix}\n```"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:\n?```|$)", re.DOTALL)
_PROSE = re.compile(r"^(here|sure|certainly|the |this |i |to |you |it |okay|ok[,.!])", re.IGNORECASE)


def extract_chat_fill(answer: str, prefix: str, suffix: str) -> str:
    """Strictly extract the inserted code from a chat model's answer ('' when unusable).

    The answer must be one fenced code block, or (for models that ignore the instruction) a few
    lines of bare code that do not read like prose. Echoes of the hole marker are refused; an echo
    of the code around the hole (the cursor's line, or whole lines of the prefix) is cut away.
    """
    m = _FENCE.search(answer)
    if m:
        code = m.group(1)
    else:
        bare = answer.strip("\n")
        if not bare.strip() or "```" in bare or len(bare.split("\n")) > 3 or _PROSE.match(bare.strip()):
            return ""
        code = bare
    if CHAT_HOLE in code or "FILL_HERE" in code:
        return ""
    code = code.rstrip("\n")
    before = prefix.rsplit("\n", 1)[-1]
    # A model that rewrote the region around the hole: keep what follows the last prefix line it echoed.
    if before.strip():
        head = before.lstrip()
        for ln_start in [0, *(i + 1 for i, ch in enumerate(code) if ch == "\n")]:
            line = code[ln_start:]
            if line.lstrip(" \t").startswith(head):
                code = line.lstrip(" \t")[len(head) :]
                break
    else:
        prev = [ln for ln in prefix.split("\n")[-4:-1] if ln.strip()]
        if prev and code.lstrip("\n").startswith(prev[-1]):
            code = code.lstrip("\n")[len(prev[-1]) :].lstrip("\n")
    return code
