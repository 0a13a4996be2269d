"""Shared fixtures: a real PostgreSQL with pgvector, the vLLM stand-in, a sample repository.

PostgreSQL is never faked. The session starts one throwaway cluster (the same embedded-server
code Hearth uses, fsync off), builds a template database with Hearth's schema, and clones it for
each test or module. A test that needs the database fails (not skips) when it cannot start.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hearth.indexer.embedder import Embedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres
from hearth.server.services.context import RepoHandle
from tests.standin.vllm_standin import StandinServer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHOP = FIXTURES / "repos" / "shop"
TEMPLATE_DB = "hearth_template"


def _with_db(url: str, dbname: str) -> str:
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{dbname}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="hearth-pg-"))
    os.chmod(base, 0o755)  # when tests run as root, PostgreSQL runs as an unprivileged user
    try:
        pg = EmbeddedPostgres(base, fsync=False, database=TEMPLATE_DB)
        url = pg.ensure_running()
        Store(url, min_size=1, max_size=1).open().close()  # migrations into the template
    except Exception as exc:
        pytest.fail(f"the test PostgreSQL (with pgvector) could not start: {exc}", pytrace=False)
    yield pg
    pg.stop()
    shutil.rmtree(base, ignore_errors=True)


def _create_db(pg: EmbeddedPostgres) -> tuple[str, str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _with_db(pg.url, "postgres")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    return name, _with_db(pg.url, name)


def _drop_db(pg: EmbeddedPostgres, name: str) -> None:
    admin = _with_db(pg.url, "postgres")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database with Hearth's schema, for one test."""
    name, url = _create_db(pg_cluster)
    yield url
    _drop_db(pg_cluster, name)


@pytest.fixture(scope="module")
def module_db_url(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database with Hearth's schema, shared by one test module."""
    name, url = _create_db(pg_cluster)
    yield url
    _drop_db(pg_cluster, name)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url).open()
    yield s
    s.close()


def make_sample_repo(dest: Path) -> Path:
    """A copy of the sample repository, plus the files git would not keep (ignored, generated)."""
    shutil.copytree(SHOP, dest)
    (dest / "out").mkdir(exist_ok=True)
    (dest / "out" / "generated.py").write_text("def generated():\n    return 1\n")
    (dest / "debug.log").write_text("noise\n")
    return dest


def index_repo(store: Store, root: Path, embedder: Embedder | None = None) -> RepoHandle:
    """Index ``root`` into the store (with embeddings when an embedder is given); its handle for retrieval."""
    indexer = Indexer(store, LanguageRegistry.default(), embedder)
    indexer.index(root, embed=embedder is not None)
    repo_id, snap, _ = indexer.snapshot_for(root)
    return RepoHandle(str(root), repo_id, snap)


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    return make_sample_repo(tmp_path / "shop")


@pytest.fixture(scope="module")
def module_sample_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_repo(tmp_path_factory.mktemp("repo") / "shop")


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer(model="qwen2.5-coder-7b", max_model_len=8192, family="qwen") as server:
        yield server


@pytest.fixture
def hearth_env(module_db_url: str, standin: StandinServer, tmp_path: Path) -> dict[str, str]:
    """Environment for a `hearth serve` process under test: the test database and the stand-in."""
    standin.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({
        "HEARTH_DATABASE_URL": module_db_url,
        "HEARTH_MODEL_URL": standin.v1_url,
        "HEARTH_DATA_DIR": str(tmp_path / "data"),
        "HEARTH_EMBEDDING_PROVIDER": "hashing",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def hearth_command() -> list[str]:
    return [sys.executable, "-m", "hearth.server.cli", "serve"]
