"""Explain and the code-changing actions: refactor, document, simplify, tests, fix.

Listing what is offered costs nothing (no parse, no database, no model): ``offers`` only looks
at the request. The work happens on resolve or on the command: gather context, ask the chat
model, check its answer (``edits.EditChecker``) and hand back an ``EditPlan`` to apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.server.services.chat import BadRequest, Grounding, OnDelta, Prompt, Target, tests_path_for
from hearth.server.services.edits import EditChecker, EditPlan, EditRejected

log = logging.getLogger(__name__)

# action -> (title, code action kind)
EDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "document": ("Hearth: Add documentation", "refactor.rewrite.hearth.document"),
    "simplify": ("Hearth: Simplify", "refactor.rewrite.hearth.simplify"),
    "tests": ("Hearth: Write tests", "refactor.hearth.tests"),
    "fix": ("Hearth: Fix", "quickfix.hearth.fix"),
    "refactor": ("Hearth: Refactor…", "refactor.rewrite.hearth.refactor"),
}
EXPLAIN_KIND = "refactor.hearth.explain"
KINDS = ("quickfix", "refactor", "refactor.rewrite", EXPLAIN_KIND, *(k for _, k in EDIT_ACTIONS.values()))
LABELS = {
    "document": "Hearth: add documentation",
    "simplify": "Hearth: simplify",
    "tests": "Hearth: write tests",
    "fix": "Hearth: fix",
    "refactor": "Hearth: refactor",
}


@dataclass(frozen=True, slots=True)
class Offer:
    """One code action: ``action`` names what resolving it does; ``command`` offers run a command."""

    action: str  # explain | refactor | document | simplify | tests | fix
    title: str
    kind: str
    diagnostic: str | None = None
    diagnostic_index: int | None = None


class ActionService:
    def __init__(self, grounding: Grounding) -> None:
        self.g = grounding
        self.checker = EditChecker(grounding.registry)

    def offers(self, uri: str, diagnostics: Sequence[str], only: Sequence[str] | None = None) -> list[Offer]:
        """What to offer at a range of an open document; nothing for documents Hearth does not have open."""
        if self.g.documents.get(uri) is None:
            return []
        out = [Offer("fix", f"Hearth: Fix “{_short(d)}”", EDIT_ACTIONS["fix"][1], d, i)
               for i, d in enumerate(diagnostics[:3])]
        out.append(Offer("explain", "Hearth: Explain", EXPLAIN_KIND))
        out.append(Offer("refactor", *EDIT_ACTIONS["refactor"]))
        for action in ("document", "simplify", "tests"):
            out.append(Offer(action, *EDIT_ACTIONS[action]))
        if only:
            out = [o for o in out if any(o.kind == k or o.kind.startswith(k + ".") for k in only)]
        return out

    # -- explain ----------------------------------------------------------------------------------
    async def explain(
        self, uri: str, start: tuple[int, int] | None, end: tuple[int, int] | None, on_delta: OnDelta | None
    ) -> str:
        target = self.g.target(uri, start, end)
        turn = self.g.templates.task("explain", **target.values())
        prompt = await self._prompt(self.g.templates.system, turn, target)
        return await self.g.stream(prompt, on_delta)

    # -- edits ------------------------------------------------------------------------------------
    async def plan(
        self,
        action: str,
        uri: str,
        start: tuple[int, int] | None,
        end: tuple[int, int] | None,
        *,
        instruction: str | None = None,
        diagnostic: str | None = None,
    ) -> EditPlan:
        """Ask the model for the change and check it; EditRejected (nothing to apply) or BadRequest."""
        if action not in LABELS:
            raise BadRequest(f"unknown action {action!r}")
        if action == "refactor" and not (instruction and instruction.strip()):
            raise BadRequest("missing argument: instruction")
        target = self.g.target(uri, start, end, whole_definition=action != "refactor")
        values = target.values()
        if action == "refactor":
            turn = self.g.templates.task("refactor", instruction=instruction, **values)
        elif action == "fix":
            turn = self.g.templates.task("fix", diagnostic=diagnostic or "the bug in this code", **values)
        elif action == "tests":
            turn = self.g.templates.task("tests", test_path=tests_path_for(target.path, target.language), **values)
        else:
            turn = self.g.templates.task(action, **values)
        system = self.g.templates.system + "\n\n" + self.g.templates.edit_rules
        prompt = await self._prompt(system, turn, target)
        answer = await self.g.stream(prompt, None, temperature=0.0)
        if action == "tests":
            return self._tests_plan(target, answer)
        return self.checker.replace_lines(
            label=LABELS[action], uri=target.uri, path=target.path, version=target.version, text=target.text,
            start_line=target.start_line, end_line=target.end_line, answer=answer, other_file=self._other_file(target),
        )

    def _tests_plan(self, target: Target, answer: str) -> EditPlan:
        rel = tests_path_for(target.path, target.language)
        if rel == target.path:  # tests in the same file (Rust): append to it
            lines = target.text.split("\n")
            whole = Target(target.uri, target.root, target.path, target.text, target.version, 0, len(lines) - 1,
                           target.language)
            return self.checker.new_file(label=LABELS["tests"], uri=whole.uri, path=whole.path,
                                         existing=whole.text, version=whole.version, answer=answer)
        if target.root is None:
            raise EditRejected("tests need a workspace folder to go in")
        dest = Path(target.root) / rel
        uri = dest.as_uri()
        doc = self.g.documents.get(uri)
        existing = doc.text if doc else (dest.read_text(encoding="utf-8") if dest.is_file() else None)
        return self.checker.new_file(label=LABELS["tests"], uri=uri, path=rel, existing=existing,
                                     version=doc.version if doc else None, answer=answer)

    def _other_file(self, target: Target) -> Callable[[str], tuple[str, str, int | None, str] | None]:
        def find(rel: str) -> tuple[str, str, int | None, str] | None:
            if target.root is None or rel.startswith("/") or ".." in Path(rel).parts:
                return None
            uri = (Path(target.root) / rel).as_uri()
            try:
                _, path, text, version = self.g.document(uri)
            except BadRequest:
                return None
            return uri, path, version, text

        return find

    async def _prompt(self, system: str, turn: str, target: Target) -> Prompt:
        budget = self.g.prompts.context_budget(system, turn)
        hits = await self.g.gather(target.root, target.code, target, budget)
        return self.g.prompts.build(system, hits, [], turn, root=target.root)


def _short(text: str, n: int = 60) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= n else line[: n - 1] + "…"
