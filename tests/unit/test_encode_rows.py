"""The COPY rows a parse worker sends: every field escaped as COPY's text format needs, on both the fast path
(no field needs escaping) and the per-field one."""

from __future__ import annotations

import random

from hearth.indexer.store.db import _copy_field, encode_blob
from hearth.indexer.types import ParsedFile, Symbol


def _expected_line(repo_id: int, key: str, s: Symbol) -> str:
    fields = (s.name, s.kind, s.role, s.scope, s.detail)
    return "\t".join(
        [str(repo_id), _copy_field(key), *(_copy_field(f) for f in fields), str(s.line), str(s.col), str(s.end_line)]
    )


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
            for _ in range(rng.randrange(0, 6))
        )
        rows = encode_blob(7, "k:go", ParsedFile("go", (), symbols)).symbol_rows.decode()
        assert rows == "".join(_expected_line(7, "k:go", s) + "\n" for s in symbols)
