"""Packaging: one distribution, hearth-lsp, with hearth.server and hearth.indexer namespaced."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_installed_package_imports_from_outside_the_source_tree(tmp_path: Path) -> None:
    code = (
        "import hearth.server, hearth.indexer, hearth.server.cli, hearth.indexer.pipeline;"
        "import importlib.resources as r;"
        "print(r.files('hearth.indexer').joinpath('queries/python/tags.scm').is_file());"
        "print(r.files('hearth.indexer.store').joinpath('migrations/001_init.sql').is_file())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["True", "True"]
    # No bare top-level `server` or `indexer` package is importable.
    bare = subprocess.run([sys.executable, "-c", "import server"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert bare.returncode != 0


def test_console_script_reports_the_version(tmp_path: Path) -> None:
    hearth = Path(sys.executable).with_name("hearth")
    out = subprocess.run([str(hearth), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=True)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.stdout.strip() == f"hearth {version}"


def test_every_python_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("server", "hearth.server"), ("indexer", "hearth.indexer")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]))
    assert found == listed


def test_wheel_contains_code_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    wheel = next(tmp_path.glob("hearth_lsp-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "hearth/server/cli.py", "hearth/server/protocol/server.py", "hearth/indexer/pipeline.py",
        "hearth/indexer/languages.toml", "hearth/indexer/queries/python/tags.scm",
        "hearth/indexer/queries/rust/imports.scm", "hearth/indexer/store/migrations/001_init.sql",
        "hearth/server/model/templates/fim.toml", "hearth/indexer/data/minilm-tokenizer.json",
    ]:
        assert required in names, required
    assert not any(re.match(r"(server|indexer)/", n) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "hearth = hearth.server.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
