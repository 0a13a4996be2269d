"""A synthetic Python repository of a given size, for the completion benchmark.

Each module holds ``funcs`` small functions; every function calls two functions of other
modules (imported at the top), so that definitions, full-text and symbol retrieval all have work
to do. The text is deterministic for a given seed.
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = (
    "price order cart item stock user account invoice tax ship route cache token parse render "
    "index score rank query batch queue event retry limit merge split filter sort group total"
).split()


def module_name(i: int) -> str:
    return f"pkg{i // 100:02d}/mod_{i:05d}.py"


def func_name(i: int, j: int, rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}_{j}"


def generate(root: Path, files: int, funcs: int, seed: int = 7) -> int:
    """Write the repository under ``root``; return the number of functions written."""
    rng = random.Random(seed)
    names = [[func_name(i, j, rng) for j in range(funcs)] for i in range(files)]
    for i in range(files):
        path = root / module_name(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        others = [rng.randrange(files) for _ in range(3)]
        imports = "".join(
            f"from pkg{o // 100:02d}.mod_{o:05d} import {names[o][0]}, {names[o][1]}\n" for o in others if o != i
        )
        body = [f'"""Module {i}: {" ".join(rng.sample(WORDS, 6))}."""\n\n{imports}\n']
        for j, name in enumerate(names[i]):
            o = rng.choice(others)
            callee = names[o][rng.randrange(2)] if o != i else names[i][(j + 1) % funcs]
            a, b = rng.sample(WORDS, 2)
            body.append(
                f"\ndef {name}({a}: int, {b}: int = {j}) -> int:\n"
                f'    """{a.capitalize()} and {b} for step {j}."""\n'
                f"    {a}_{b} = {callee}({a}, {b}) if {a} > {b} else {a} + {b}\n"
                f"    for _ in range({j % 5 + 1}):\n"
                f"        {a}_{b} = ({a}_{b} * 31 + {j}) % 1_000_003\n"
                f"        if {a}_{b} % {j % 7 + 2} == 0:\n"
                f"            {a}_{b} += len(str({a})) * {b} - {j}\n"
                f"    # {' '.join(rng.sample(WORDS, 8))}\n"
                f"    {b}_{a} = [{a}_{b} // (k + 1) for k in range({j % 4 + 2})]\n"
                f"    return {a}_{b} + sum({b}_{a}) if {b}_{a} else {a}_{b}\n\n"
            )
        path.write_text("".join(body), encoding="utf-8")
    return files * funcs
