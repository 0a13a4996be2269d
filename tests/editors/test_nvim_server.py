"""Hearth's Neovim client against the real server: a headless Neovim 0.11 runs the plugin, which
starts ``hearth serve`` (the test database, the vLLM stand-in, the hashing embedder) on a copy
of the sample repository. Each test runs one Lua scenario of ``tests/editors/nvim/`` and asserts
here on what it observed.
"""

from __future__ import annotations

import re
from pathlib import Path

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
