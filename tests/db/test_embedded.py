"""The embedded PostgreSQL: first use, sharing between processes, recovery, the pgserver wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres, default_shared_buffers_mb, find_installations


@pytest.fixture
def data_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="hearth-emb-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.pgdata / "postmaster.pid").read_text().split("\n")[0])


def test_first_use_initialises_and_other_processes_share_the_server(data_dir: Path) -> None:
    pg = EmbeddedPostgres(data_dir, fsync=False)
    try:
        url = pg.ensure_running()
        pid = _postmaster_pid(pg)
        store = Store(url).open()
        assert store.vector_version
        store.close()
        # Another process (the CLI, a second editor window) finds the same running server.
        env = dict(os.environ, HEARTH_DATA_DIR=str(data_dir))
        env.pop("HEARTH_DATABASE_URL", None)
        out = subprocess.run([sys.executable, "-m", "hearth.server.cli", "db", "status"], env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        assert out.stdout.startswith("running:")
        assert EmbeddedPostgres(data_dir, fsync=False).ensure_running() == url
        assert _postmaster_pid(pg) == pid  # not restarted
    finally:
        pg.stop()
    assert not pg.is_running()


def test_the_shared_buffers_setting_sizes_the_embedded_server(data_dir: Path) -> None:
    pg = EmbeddedPostgres(data_dir, fsync=False, shared_buffers_mb=48)
    try:
        with psycopg.connect(pg.ensure_running()) as c:
            row = c.execute("SHOW shared_buffers").fetchone()
        assert row is not None and row[0] == "48MB"
    finally:
        pg.stop()
    # Unset, it is the machine's default (an eighth of its memory, 128 MB at least).
    assert EmbeddedPostgres(data_dir, fsync=False).buffers_mb == default_shared_buffers_mb() >= 128


def test_a_killed_server_is_restarted(data_dir: Path) -> None:
    pg = EmbeddedPostgres(data_dir, fsync=False)
    try:
        url = pg.ensure_running()
        os.kill(_postmaster_pid(pg), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while pg.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert EmbeddedPostgres(data_dir, fsync=False).ensure_running() == url
        with psycopg.connect(url) as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()


def test_the_pgserver_wheel_serves_hearths_schema(data_dir: Path) -> None:
    """The quick start's default where the system PostgreSQL has no pgvector: the pgserver wheel."""
    install = next((i for i in find_installations() if i.origin == "pgserver"), None)
    assert install is not None, "the pgserver wheel (a dependency) is not installed"
    pg = EmbeddedPostgres(data_dir, install=install, fsync=False)
    try:
        store = Store(pg.ensure_running()).open()
        try:
            assert store.server_version().startswith("16.")
            assert store.vector_version and store.vector_version.startswith("0.6")
            assert not store.supports_iterative_scan
            repo = store.ensure_repo("/tmp/x")
            store.ensure_vector_index("m", 3)
            import numpy as np

            store.write_embeddings(repo, "m", [("h1", np.array([1.0, 0.0, 0.0]))])
            with store.conn() as c:
                n = c.execute("SELECT count(*) FROM embeddings WHERE model = 'm'").fetchone()
            assert n == (1,)
        finally:
            store.close()
    finally:
        pg.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_binaries_out_of_reach_of_the_postgres_user_are_copied_with_their_libraries(data_dir: Path) -> None:
    """As root, with Hearth installed under a private folder (a venv under /root, a mode-700 checkout),
    the pgserver binaries are copied where the unprivileged user can run them, bundled libraries too."""
    from hearth.indexer.store.embedded import _candidate

    wheel = next((i for i in find_installations() if i.origin == "pgserver"), None)
    assert wheel is not None, "the pgserver wheel (a dependency) is not installed"
    site = wheel.bin_dir.parents[2]
    private = Path(tempfile.mkdtemp(prefix="hearth-private-"))  # mode 700
    try:
        shutil.copytree(site / "pgserver", private / "pgserver", symlinks=True)
        shutil.copytree(site / "pgserver.libs", private / "pgserver.libs", symlinks=True)
        install = _candidate(private / "pgserver" / "pginstall" / "bin", "pgserver")
        assert install is not None
        pg = EmbeddedPostgres(data_dir, install=install, fsync=False)
        try:
            store = Store(pg.ensure_running()).open()
            assert store.vector_version and store.vector_version.startswith("0.6")
            store.close()
        finally:
            pg.stop()
    finally:
        shutil.rmtree(private, ignore_errors=True)
