"""The COPY rows a parse worker sends: every field escaped as COPY's text format needs, on both the fast path
(no field needs escaping) and the per-field one."""

from __future__ import annotations

import random

from hearth.indexer.store.db import _copy_field, encode_blob
from hearth.indexer.types import ParsedFile, Symbol


def _expected_line(repo_id: int, key: str, s: Symbol) -> str:
    fields = (s.name, s.kind, s.role, s.scope, s.detail)
    return "\t".join(
        [str(repo_id), _copy_field(key), *(_copy_field(f) for f in fields), str(s.line), str(s.col), str(s.end_line),
         "\\N", "\\N"]
    )


def _expected_rows(repo_id: int, key: str, symbols: tuple[Symbol, ...]) -> str:
    """Definitions and imports a line each, in order; then one line per referenced name and kind, in order of first
    appearance, with the first occurrence's position and every occurrence's line and column, ascending."""
    out = [_expected_line(repo_id, key, s) for s in symbols if s.role != "ref"]
    groups: dict[tuple[str, str], list[Symbol]] = {}
    for s in symbols:
        if s.role == "ref":
            groups.setdefault((s.name, s.kind), []).append(s)
    for (name, kind), occ in groups.items():
        occ = sorted(occ, key=lambda s: (s.line, s.col, s.end_line))
        first = occ[0]
        out.append(
            "\t".join(
                [str(repo_id), _copy_field(key), _copy_field(name), _copy_field(kind), "ref", "\\N", "\\N",
                 str(first.line), str(first.col), str(first.end_line),
                 "{" + ",".join(str(s.line) for s in occ) + "}", "{" + ",".join(str(s.col) for s in occ) + "}"]
            )
        )
    return "".join(line + "\n" for line in out)


def test_symbol_rows_escape_what_copy_needs_on_both_paths() -> None:
    rng = random.Random(5)
    pieces = ["a", "Zz", "_", "None", "\\N", "\\", "\t", "\n", "\r", "\x00", "\x1f", "é", " "]
    for _ in range(300):
        special = rng.random() < 0.5

        def text(special: bool = special) -> str:
            pool = pieces if special else pieces[:5] + pieces[-2:]
            return "".join(rng.choice(pool) for _ in range(rng.randrange(1, 6)))

        symbols = tuple(
            Symbol(
                text(),
                "function",
                rng.choice(["def", "ref", "import"]),
                rng.choice([None, text()]),
                rng.randrange(1, 9),
                rng.randrange(0, 9),
                rng.randrange(1, 9),
                rng.choice([None, text()]),
            )
            for _ in range(rng.randrange(0, 12))
        )
        rows = encode_blob(7, "k:go", ParsedFile("go", (), symbols)).symbol_rows.decode()
        assert rows == _expected_rows(7, "k:go", symbols)
