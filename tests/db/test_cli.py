"""The `hearth` CLI against a real PostgreSQL: index, search, context, doctor, trace, errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_sample_repo


def run(args: list[str], env: dict[str, str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hearth.server.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=check)


@pytest.fixture(scope="module")
def indexed(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict]:
    repo = make_sample_repo(tmp_path_factory.mktemp("cli") / "shop")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(HEARTH_DATABASE_URL=module_db_url, HEARTH_DATA_DIR=str(repo.parent / "data"))
    out = run(["index", str(repo), "--json", "--explain-skips"], env, repo)  # the default CPU embedder
    return repo, env, json.loads(out.stdout)


def test_index_prints_one_json_summary(indexed: tuple[Path, dict[str, str], dict]) -> None:
    repo, _, summary = indexed
    assert summary["repo"] == str(repo)
    assert summary["files_indexed"] >= 10
    assert summary["chunks"] > 0 and summary["symbols"] > 0
    assert summary["embedded"] == summary["chunks"]
    assert summary["seconds"] > 0
    reasons = {s["path"]: s["reason"] for s in summary["skipped"]}
    assert reasons[".env"] == "secret file"
    assert "gitignore" in reasons["debug.log"]
    assert "gitignore" in reasons["out/"]  # an ignored directory is one entry
    assert "binary" in reasons["assets/logo.png"]
    assert "binary" in reasons["assets/blob.dat"]
    assert "keep.log" not in reasons  # negated in .gitignore


def test_second_run_is_incremental(indexed: tuple[Path, dict[str, str], dict]) -> None:
    repo, env, first = indexed
    again = json.loads(run(["index", str(repo), "--json"], env, repo).stdout)
    assert again["files_indexed"] == 0
    assert again["chunks"] == first["chunks"]


def test_search_finds_a_function_by_name_and_by_description(indexed: tuple[Path, dict[str, str], dict]) -> None:
    repo, env, _ = indexed
    by_name = json.loads(run(["search", "compute_total", "--repo", str(repo), "--json", "-k", "3"], env, repo).stdout)
    assert by_name[0]["path"] == "shop/pricing.py"
    assert by_name[0]["symbol"] == "compute_total"
    assert {"path", "start_line", "end_line", "score", "source"} <= set(by_name[0])
    by_words = json.loads(run(["search", "replace runs of characters that are not letters with a dash",
                               "--repo", str(repo), "--json", "-k", "3"], env, repo).stdout)
    assert by_words[0]["path"] == "shop/util/strings.py" and by_words[0]["symbol"] == "slugify"


def test_context_at_a_call_site_lists_the_cross_file_definition(indexed: tuple[Path, dict[str, str], dict]) -> None:
    repo, env, _ = indexed
    lines = (repo / "shop" / "cart.py").read_text().split("\n")
    row = next(i for i, ln in enumerate(lines) if "compute_total(self.items)" in ln)
    col = lines[row].index("compute_total(") + len("compute_total(")
    items = json.loads(run(["context", f"shop/cart.py:{row + 1}:{col}", "--repo", str(repo), "--json"], env,
                           repo).stdout)
    top = items[0]
    assert (top["path"], top["symbol"], top["source"]) == ("shop/pricing.py", "compute_total", "definition")
    assert top["start_line"] <= 8 <= top["end_line"]
    assert all(it["path"] != "shop/cart.py" for it in items)  # the file itself is in the prompt already


def test_context_with_an_unsaved_buffer(indexed: tuple[Path, dict[str, str], dict], tmp_path: Path) -> None:
    repo, env, _ = indexed
    buf = tmp_path / "buffer.py"
    buf.write_text("from shop.util.strings import slugify\n\n\ndef label(name):\n    return slugify(\n")
    items = json.loads(run(["context", "shop/new_module.py:5:19", "--repo", str(repo), "--text-file", str(buf),
                            "--json"], env, repo).stdout)
    assert items[0]["path"] == "shop/util/strings.py" and items[0]["symbol"] == "slugify"


def test_doctor_reports_each_part(indexed: tuple[Path, dict[str, str], dict]) -> None:
    repo, env, _ = indexed
    out = run(["doctor", "--json", "--repo", str(repo)], env, repo, check=False)
    report = json.loads(out.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["database"]["status"] == "ok"
    assert by_name["pgvector"]["status"] in ("ok", "warning")
    assert by_name["embedder"]["status"] == "ok"
    assert by_name["index"]["status"] == "ok"
    assert by_name["completion model"]["status"] == "warning"  # none configured here
    assert by_name["completion model"]["fix"]
    assert out.returncode == 0 and report["ok"] is True


def test_no_database_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env["HEARTH_DATABASE_URL"] = f"postgresql://nobody@127.0.0.1:{port}/none"
    out = run(["index", str(tmp_path), "--json"], env, tmp_path, check=False)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "cannot connect to PostgreSQL" in out.stderr and "HEARTH_DATABASE_URL" in out.stderr
    doctor = run(["doctor", "--json"], env, tmp_path, check=False)
    assert doctor.returncode == 1
    assert json.loads(doctor.stdout)["checks"][0]["status"] == "error"
