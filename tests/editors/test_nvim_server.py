"""Hearth's Neovim client against the real server: a headless Neovim 0.11 runs the plugin, which
starts ``hearth serve`` (the test database, the vLLM stand-in, the hashing embedder) on a copy
of the sample repository. Each test runs one Lua scenario of ``tests/editors/nvim/`` and asserts
here on what it observed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import hearth_command
from tests.editors.conftest import run_scenario
from tests.standin.vllm_standin import StandinServer


def test_ghost_text_shows_tab_inserts_it_and_the_server_counts_the_accept(
    nvim: str, hearth_env: dict[str, str], standin: StandinServer, module_sample_repo: Path
) -> None:
    standin.configure(rules=[("<|fim_middle|>", "self.items)")])
    typed = "    def size(self) -> int:<CR>        return len("
    r = run_scenario(
        nvim,
        "inline_accept.lua",
        module_sample_repo,
        cmd=hearth_command(),
        base_env=hearth_env,
        env={"HEARTH_NVIM_FILE": "shop/cart.py", "HEARTH_NVIM_TYPE": typed},
    )
    assert r["capability_inline"] is True
    assert r["mode_before"] == "i"
    assert r["line_before"] == "        return len("
    assert r["ghost"] == "self.items)"
    lines = (module_sample_repo / "shop" / "cart.py").read_text().rstrip("\n").split("\n")
    assert r["ghost_at"] == [len(lines) + 1, len("        return len(")]

    assert r["ghost_after"] is False
    assert r["lines_after"][-2:] == ["    def size(self) -> int:", "        return len(self.items)"]
    assert r["cursor_after"] == [len(lines) + 2, len("        return len(self.items)")]
    # The item's command went to the server as it sent it, and the server counted it.
    assert [c["command"] for c in r["commands"]] == ["hearth.acceptCompletion"]
    (arg,) = r["commands"][0]["arguments"]
    assert set(arg) == {"id"} and arg["id"] == r["trace"]["id"]
    stats = r["completion_stats"]
    assert stats["accepted"] == 1 and stats["accepted_chars"] == len("self.items)")
    assert r["completion_fallback"] == "null"
    assert r["trace"]["outcome"] == "shown" and r["trace"]["text"] == "self.items)"
    fim = [q for q in standin.requests if q.path == "/v1/completions"]
    assert fim and fim[-1].json["prompt"].rstrip().endswith("<|fim_middle|>")


def health_sections(report: list[str]) -> dict[str, list[str]]:
    """`:checkhealth` output by section (`hearth: database` -> its lines)."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in report:
        m = re.match(r"^(hearth: [\w ]+?) ~$", line.strip())
        if m:
            current = m[1]
            sections[current] = []
        elif current and line.strip():
            sections[current].append(line.strip())
    return sections


def test_statusline_follows_the_index_and_checkhealth_reports_ok(
    nvim: str, hearth_env: dict[str, str], sample_repo: Path
) -> None:
    r = run_scenario(nvim, "status_health.lua", sample_repo, cmd=hearth_command(), base_env=hearth_env)
    status = r["status"]
    files = status["index"]["files"]
    assert files > 5 and status["health"] == "ok" and status["database"]["state"] == "ok"
    assert r["before_start"] == ""
    assert r["statusline"] == f"H {files} files"
    # Seen on the way: the index's work-done progress, then the final count.
    assert any(s.startswith("H indexing") for s in r["seen"]), r["seen"]
    assert r["seen"][-1] == f"H {files} files"

    sections = health_sections(r["report"])
    for name in ("server binary", "server", "database", "models", "index"):
        lines = sections[f"hearth: {name}"]
        assert lines[0].startswith("- ✅ OK"), (name, r["report"])
        assert not any("WARNING" in ln or "ERROR" in ln for ln in lines), (name, r["report"])
    assert "pgvector" in sections["hearth: database"][0]
    assert sections["hearth: models"] == [
        "- ✅ OK completion model qwen2.5-coder-7b (fim)",
        "- ✅ OK chat model qwen2.5-coder-7b",
    ]
    assert sections["hearth: index"][0] == (
        f"- ✅ OK up to date: {files} files, {status['index']['chunks']} chunks, "
        f"{status['index']['embedded']} embedded, {status['index']['pending']} pending"
    )
    assert "running (client" in sections["hearth: server"][0]


def test_checkhealth_starts_a_server_itself_when_none_runs(
    nvim: str, hearth_env: dict[str, str], sample_repo: Path
) -> None:
    r = run_scenario(nvim, "checkhealth.lua", sample_repo, cmd=hearth_command(), base_env=hearth_env)
    sections = health_sections(r["report"])
    assert r["clients"] == 0
    assert re.match(r"- ✅ OK hearth \S+ \(", sections["hearth: server binary"][0])
    assert re.match(r"- ✅ OK hearth \S+ answered initialize in \d+ ms", sections["hearth: server"][0])
    for name in ("database", "models"):
        assert all(ln.startswith("- ✅ OK") for ln in sections[f"hearth: {name}"]), (name, r["report"])
    # The throwaway server has just started indexing: reported, not an error.
    assert not any("ERROR" in ln for ln in r["report"]), r["report"]


DOCUMENTED_ADD = '''Here is the function with its documentation:

```python
    def add(self, sku: str, quantity: int, unit_cents: int) -> None:
        """Add `quantity` units of `sku` at `unit_cents` each."""
        self.items.append(LineItem(slugify(sku), quantity, unit_cents))
```
'''


def test_code_action_resolves_and_applies_the_edit(
    nvim: str, hearth_env: dict[str, str], standin: StandinServer, sample_repo: Path
) -> None:
    standin.configure(rules=[("Add documentation", DOCUMENTED_ADD)])
    cart = (sample_repo / "shop" / "cart.py").read_text().splitlines()
    line = next(i for i, ln in enumerate(cart) if "def add(" in ln) + 1
    r = run_scenario(
        nvim,
        "code_action.lua",
        sample_repo,
        cmd=hearth_command(),
        base_env=hearth_env,
        env={"HEARTH_NVIM_FILE": "shop/cart.py", "HEARTH_NVIM_LINE": str(line), "HEARTH_NVIM_ACTION": "documentation"},
    )
    assert "Hearth: Add documentation" in r["titles"] and "Hearth: Explain" in r["titles"]
    assert r["before"] == cart
    expected = [*cart[:line], '        """Add `quantity` units of `sku` at `unit_cents` each."""', *cart[line:]]
    assert r["after"] == expected
    chats = [q for q in standin.requests if q.path == "/v1/chat/completions"]
    assert len(chats) == 1 and "def add(self, sku" in chats[0].json["messages"][-1]["content"]


def test_chat_streams_into_its_buffer_with_sources_that_open(
    nvim: str, hearth_env: dict[str, str], standin: StandinServer, sample_repo: Path
) -> None:
    answer = "`Cart.total` sums the line items with `compute_total`, then applies the discount."
    standin.configure(rules=[("How is the total computed?", answer)], tokens_per_s=400)
    r = run_scenario(
        nvim,
        "chat_stream.lua",
        sample_repo,
        cmd=hearth_command(),
        base_env=hearth_env,
        env={"HEARTH_NVIM_FILE": "shop/cart.py", "HEARTH_NVIM_MESSAGE": "How is the total computed?"},
    )
    lines = r["lines"]
    assert lines[:5] == ["## You", "", "How is the total computed?", "", "## Hearth"]
    assert lines[6] == answer
    # Streamed: many buffer updates (one per delta), not one paste of the whole answer.
    assert r["updates"] > 5
    assert r["filetype"] == "markdown"
    i = lines.index("Sources:")
    sources = lines[i + 1 :]
    assert sources and all(re.fullmatch(r"\S+:\d+-\d+", s) for s in sources), sources
    path, span = sources[0].split(":")
    assert r["opened"] == str(sample_repo / path)
    assert r["opened_line"] == int(span.split("-")[0])


def test_explain_code_action_streams_into_the_chat_buffer(
    nvim: str, hearth_env: dict[str, str], standin: StandinServer, module_sample_repo: Path
) -> None:
    answer = "`Cart.add` appends one line item, with the SKU slugified."
    standin.configure(rules=[("Explain", answer)], tokens_per_s=400)
    cart = (module_sample_repo / "shop" / "cart.py").read_text().splitlines()
    line = next(i for i, ln in enumerate(cart) if "def add(" in ln) + 1
    r = run_scenario(
        nvim,
        "code_action.lua",
        module_sample_repo,
        cmd=hearth_command(),
        base_env=hearth_env,
        env={
            "HEARTH_NVIM_FILE": "shop/cart.py",
            "HEARTH_NVIM_LINE": str(line),
            "HEARTH_NVIM_ACTION": "Hearth: Explain",
            "HEARTH_NVIM_EXPECT": "chat",
        },
    )
    assert r["after"] == r["before"]
    assert r["chat"][:3] == ["## You", "", f"Explain shop/cart.py:{line}-{line}"]
    assert r["chat"][4:7] == ["## Hearth", "", answer]
    chats = [q for q in standin.requests if q.path == "/v1/chat/completions"]
    assert len(chats) == 1 and "def add(self, sku" in chats[0].json["messages"][-1]["content"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (apt-get install tmux)")
def test_tmux_session_capture(
    nvim: str, hearth_env: dict[str, str], standin: StandinServer, sample_repo: Path, tmp_path: Path
) -> None:
    """The terminal as the user sees it; refreshes docs/nvim-session.txt when HEARTH_NVIM_SESSION_OUT names it."""
    from tests.editors.nvim import tmux_session

    standin.configure(rules=[("<|fim_middle|>", tmux_session.ANSWER)])
    shots = tmux_session.capture_session(sample_repo, hearth_command(), hearth_env)
    text = tmux_session.render(shots)
    (_, first, first_cursor), (_, second, second_cursor) = shots
    assert "def units(self) -> int:" in first and "-- INSERT --" in first
    assert '"""The number of units in the cart."""' in first and tmux_session.ACCEPTED in first
    assert re.search(r"H \d+ files", first)
    # The cursor is where typing stopped while the suggestion shows, at its end after <Tab>.
    assert first_cursor[1] == len("        ") + 1
    assert second_cursor == (first_cursor[0] + 1, len(tmux_session.ACCEPTED) + 1)
    assert second.count(tmux_session.ACCEPTED) == 1
    out = os.environ.get("HEARTH_NVIM_SESSION_OUT")
    (Path(out) if out else tmp_path / "nvim-session.txt").write_text(text)
