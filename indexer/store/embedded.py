"""An embedded PostgreSQL + pgvector cluster that Hearth starts itself.

Used when no ``HEARTH_DATABASE_URL`` is given. The cluster lives in Hearth's data directory,
listens only on a Unix socket inside a private directory, and stays up after the process that
started it exits, so that several editor windows and the CLI share it (``hearth db stop`` stops
it). Starting is serialised across processes with a file lock.

PostgreSQL binaries are looked up in this order: ``HEARTH_PG_BIN``; the system's PostgreSQL
installations that have the ``vector`` extension (newest first); the ``pgserver`` wheel's
bundled PostgreSQL 16 with pgvector 0.6. PostgreSQL refuses to run as root, so when Hearth runs
as root the cluster runs as the unprivileged ``postgres`` user (created as ``hearth`` if absent).
Hearth never changes the permissions of the user's folders for that: when the data directory or
the binaries are not reachable by that user, it uses ``/var/lib/hearth`` (and a copy of the
binaries there) instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT_HOME = Path("/var/lib/hearth")


def default_shared_buffers_mb(total_bytes: int | None = None) -> int:
    """PostgreSQL's shared buffers for the embedded cluster: an eighth of the machine's memory, from 128 MB to 4 GB.
    The vector index is searched at random (an HNSW search visits about a thousand pages) and pgvector's advice is
    to keep it in memory: 1.9 GB at 1M chunks, where the old fixed 128 MB re-read it from disk on every first visit.
    The buffers are shared memory that the server touches as it fills them, not an allocation up front."""
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total_bytes = 0
    return int(min(4096, max(128, total_bytes // 8 // (1 << 20))))


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not be found, initialised or started."""


@dataclass(frozen=True)
class PgInstall:
    bin_dir: Path
    share_dir: Path
    major: int
    origin: str  # "env", "system" or "pgserver"

    @property
    def has_vector(self) -> bool:
        return (self.share_dir / "extension" / "vector.control").exists()

    @property
    def has_trgm(self) -> bool:
        return (self.share_dir / "extension" / "pg_trgm.control").exists()

    def exe(self, name: str) -> str:
        return str(self.bin_dir / name)


def _major(bin_dir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # "postgres (PostgreSQL) 16.2"
    try:
        return int(out.strip().split()[-1].split(".")[0])
    except (ValueError, IndexError):
        return None


def _share_dir(bin_dir: Path, major: int) -> Path:
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        try:
            return Path(
                subprocess.run(
                    [str(pg_config), "--sharedir"], capture_output=True, text=True, timeout=10, check=True
                ).stdout.strip()
            )
        except (OSError, subprocess.SubprocessError):
            pass
    debian = Path(f"/usr/share/postgresql/{major}")
    if debian.exists():
        return debian
    return bin_dir.parent / "share" / "postgresql"


def _candidate(bin_dir: Path, origin: str) -> PgInstall | None:
    if not (bin_dir / "postgres").exists() or not (bin_dir / "initdb").exists():
        return None
    major = _major(bin_dir)
    if major is None:
        return None
    return PgInstall(bin_dir, _share_dir(bin_dir, major), major, origin)


def find_installations() -> list[PgInstall]:
    """Every usable PostgreSQL with pgvector, best first."""
    found: list[PgInstall] = []
    env = os.environ.get("HEARTH_PG_BIN")
    if env:
        c = _candidate(Path(env), "env")
        if c:
            found.append(c)
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for bin_dir in system:
        c = _candidate(bin_dir, "system")
        if c and c.has_vector:
            found.append(c)
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.origin:
        c = _candidate(Path(spec.origin).parent / "pginstall" / "bin", "pgserver")
        if c and c.has_vector:
            found.append(c)
    return [c for c in found if c.has_vector]


def _runs(bin_dir: Path) -> bool:
    """Do the server and initdb (which loads libpq) start at all from this directory?"""
    for exe in ("postgres", "initdb"):
        try:
            subprocess.run([str(bin_dir / exe), "--version"], capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return False
    return True


def _run_as_user() -> str | None:
    """The user PostgreSQL runs as: None for the current user, else a name (when root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "hearth"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "hearth"],
        check=True,
        capture_output=True,
    )
    return "hearth"


def _others_can_traverse(path: Path) -> bool:
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            return False
    return True


@dataclass
class EmbeddedPostgres:
    """One embedded cluster in ``data_dir``; ``ensure_running()`` returns its connection URL."""

    data_dir: Path
    install: PgInstall | None = None
    fsync: bool = True
    database: str = "hearth"
    shared_buffers_mb: int | None = None  # None: ``default_shared_buffers_mb()``

    def __post_init__(self) -> None:
        if self.install is None:
            installs = find_installations()
            if not installs:
                raise EmbeddedDatabaseError(
                    "no PostgreSQL with pgvector found: install Hearth with its dependencies "
                    "(the 'pgserver' wheel bundles one), or set HEARTH_DATABASE_URL"
                )
            self.install = installs[0]
        self.user = _run_as_user()
        base = self.data_dir
        if self.user and not _others_can_traverse(base.parent if not base.exists() else base):
            digest = hashlib.sha1(str(base).encode()).hexdigest()[:10]
            base = ROOT_HOME / f"db-{digest}"
        self.cluster_dir = base / f"pg{self.inst.major}"
        self.pgdata = self.cluster_dir / "data"
        self.socket_dir = self.cluster_dir / "run"
        if len(str(self.socket_dir)) > 90:  # Unix socket paths are limited to ~107 bytes
            digest = hashlib.sha1(str(self.cluster_dir).encode()).hexdigest()[:12]
            self.socket_dir = Path("/tmp") / f"hearth-{os.geteuid()}-{digest}"

    @property
    def inst(self) -> PgInstall:
        assert self.install is not None
        return self.install

    @property
    def buffers_mb(self) -> int:
        """The shared buffers the server is started with (``shared_buffers_mb``, else the machine's default)."""
        return self.shared_buffers_mb or default_shared_buffers_mb()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{self.database}?host={self.socket_dir}&port=5432"

    # -- process helpers -------------------------------------------------------------------
    def _bin_for_user(self) -> PgInstall:
        """Binaries the run-as user can execute (copied under /var/lib/hearth when needed).

        The copy keeps the installation's layout three levels up from ``bin/``: wheels such as
        pgserver find their bundled shared libraries (``pgserver.libs``, next to the package) through
        an RPATH of ``$ORIGIN/../../../<package>.libs``.
        """
        if not self.user or _others_can_traverse(self.inst.bin_dir):
            return self.inst
        install = self.inst.bin_dir.parent  # .../<package>/pginstall
        package = install.parent  # .../site-packages/<package>
        target = ROOT_HOME / f"pg-{self.inst.origin}-{self.inst.major}"
        copied_bin = target / package.name / install.name / "bin"
        if not _runs(copied_bin):
            ROOT_HOME.mkdir(parents=True, exist_ok=True)
            os.chmod(ROOT_HOME, 0o755)
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(install, tmp / package.name / install.name, symlinks=True)
            libs = package.parent / f"{package.name}.libs"
            if libs.is_dir():
                shutil.copytree(libs, tmp / libs.name, symlinks=True)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        c = _candidate(copied_bin, self.inst.origin) if _runs(copied_bin) else None
        if c is None:
            raise EmbeddedDatabaseError(f"copied PostgreSQL binaries at {target} do not run")
        return c

    def _cmd(self, args: list[str]) -> list[str]:
        if self.user:
            return ["runuser", "-u", self.user, "--", *args]
        return args

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._cmd(args), capture_output=True, text=True, timeout=timeout, cwd="/", check=False)

    def _chown(self, path: Path) -> None:
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cluster_dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def is_running(self) -> bool:
        binst = self._bin_for_user()
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        res = self._run([binst.exe("pg_ctl"), "-D", str(self.pgdata), "status"], timeout=20)
        return res.returncode == 0

    def ensure_running(self) -> str:
        """Initialise (first use) and start the cluster if needed; return its URL."""
        with self._lock():
            binst = self._bin_for_user()
            for d in (self.cluster_dir, self.socket_dir):
                d.mkdir(parents=True, exist_ok=True)
                os.chmod(d, 0o700)
                self._chown(d)
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(binst)
            if not self.is_running():
                self._start(binst)
            self._ensure_database(binst)
        return self.url

    def _initdb(self, binst: PgInstall) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-initialised directory from an interrupted run
        self.pgdata.mkdir(parents=True)
        self._chown(self.pgdata)
        started = time.monotonic()
        res = self._run(
            [
                binst.exe("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                *([] if self.fsync else ["--no-sync"]),
            ],
            timeout=120,
        )
        if res.returncode != 0:
            raise EmbeddedDatabaseError(f"initdb failed in {self.pgdata}: {res.stderr.strip()[-500:]}")
        conf = self.pgdata / "postgresql.conf"
        extra = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socket_dir}'",
            "port = 5432",
            "max_connections = 60",
            "maintenance_work_mem = 512MB",
            "log_min_messages = warning",
        ]
        if not self.fsync:
            extra += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(conf, "a", encoding="utf-8") as fh:
            fh.write("\n# Hearth\n" + "\n".join(extra) + "\n")
        log.info(
            "initialised embedded PostgreSQL %s in %s (%.1fs)", binst.major, self.pgdata, time.monotonic() - started
        )

    def _start(self, binst: PgInstall) -> None:
        logfile = self.cluster_dir / "postgres.log"
        if not logfile.exists():
            logfile.touch()
        self._chown(logfile)
        stale = self.pgdata / "postmaster.pid"
        start = [binst.exe("pg_ctl"), "-D", str(self.pgdata), "-l", str(logfile), "-w", "-t", "60",
                 "-o", f"-k {self.socket_dir} -c shared_buffers={self.buffers_mb}MB", "start"]  # fmt: skip
        res = self._run(start, timeout=90)
        if res.returncode != 0 and stale.exists():
            # A postmaster.pid left by a killed server: pg_ctl refuses; remove it once and retry.
            stale.unlink()
            res = self._run(start, timeout=90)
        if res.returncode != 0:
            tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
            raise EmbeddedDatabaseError(f"PostgreSQL did not start: {res.stderr.strip()} {tail}")

    def _ensure_database(self, binst: PgInstall) -> None:
        psql = [binst.exe("psql"), "-h", str(self.socket_dir), "-p", "5432", "-U", "postgres", "-tA"]
        res = self._run([*psql, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"])
        if res.returncode != 0:
            raise EmbeddedDatabaseError(f"cannot reach the embedded PostgreSQL: {res.stderr.strip()}")
        if res.stdout.strip() != "1":
            res = self._run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{self.database}"'])
            if res.returncode != 0 and "already exists" not in res.stderr:
                raise EmbeddedDatabaseError(f"cannot create database: {res.stderr.strip()}")

    def stop(self) -> bool:
        with self._lock():
            if not self.is_running():
                return False
            binst = self._bin_for_user()
            self._run([binst.exe("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], timeout=60)
            return True
