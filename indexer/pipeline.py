"""The indexing pipeline: walk -> content hash -> diff -> parse -> store per batch -> embed.

Content-addressed: a file whose content hash the repository has already parsed (on this or any
other branch) costs one row; only new content is parsed. Each batch is one transaction, so an
interrupted run leaves a consistent index that the next run completes. Symbols and full text are
complete before any embedding is computed; embeddings fill in afterwards, cached by chunk text
hash and model.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from hearth.indexer.embedder import Embedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import parse_source
from hearth.indexer.store.db import EncodedBlob, FileRow, FileState, Store, encode_blob
from hearth.indexer.types import IndexSummary, ParsedFile
from hearth.indexer.walk import IgnorePolicy, Skip, WalkEntry

log = logging.getLogger(__name__)

BATCH_FILES = 200
BATCH_BYTES = 4 * 1024 * 1024
POOL_MIN_FILES = 300  # a full run with at least this much to parse uses a process pool
POOL_MIN_BYTES = 4 * 1024 * 1024
PIPELINE_DEPTH = 2  # batches parsed ahead of the one being written
# Files per job sent to a parse worker (and bytes, whichever is reached first): a job per file cost about
# 100 microseconds of the indexing process's CPU (a future, pickling, the pool's queues and threads) and as
# much in the worker, 44k times for a large repository; a batch's files go out in a few jobs instead.
JOB_FILES = 32
JOB_BYTES = 512 * 1024

_worker_registry: LanguageRegistry | None = None
_T = TypeVar("_T")


def _init_worker(parent: int) -> None:
    global _worker_registry
    _exit_with_parent(parent)
    _worker_registry = LanguageRegistry.default()


def _exit_with_parent(parent: int) -> None:
    """A parse worker must not outlive its indexer (which may be killed with SIGKILL), even one that
    died while this worker was still starting."""
    if os.getppid() != parent:
        os._exit(1)
    try:  # Linux: the kernel delivers SIGKILL when the parent dies
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() == parent:  # 1 = PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _parse_job(job: tuple[int, list[tuple[str, bytes, str]]]) -> list[EncodedBlob | Exception]:
    """In a worker process: ``parse_source`` is pure, so only the repository and (path, bytes, content key)
    of each file go in, and each result comes back as the rows the store copies in (cheaper to send than
    the objects), in the order of the files."""
    assert _worker_registry is not None
    repo_id, files = job
    out: list[EncodedBlob | Exception] = []
    for path, data, digest in files:
        try:
            out.append(encode_blob(repo_id, digest, parse_source(_worker_registry, path, data)))
        except Exception as exc:
            out.append(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return out


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str  # scan | parse | embed | done
    done: int
    total: int
    message: str = ""


ProgressFn = Callable[[Progress], None]


class Cancelled(Exception):
    """Indexing was cancelled; what was committed so far stays valid."""


# After an indexing run that parsed or deleted at least this many files (or this share of the repository),
# the index tables' planner statistics are refreshed at once (Store.analyze).
ANALYZE_MIN_FILES = 100
ANALYZE_SHARE = 0.2


def git_state(root: Path) -> str:
    """The branch/worktree state that names the snapshot: 'branch:<name>', 'detached:<sha>' or 'default'."""
    git = root / ".git"
    try:
        if git.is_file():  # a linked worktree: "gitdir: <path>"
            gitdir = Path(git.read_text().split(":", 1)[1].strip())
            git = gitdir if gitdir.is_absolute() else (root / gitdir)
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return "default"
    if head.startswith("ref:"):
        ref = head.split(":", 1)[1].strip()
        return "branch:" + ref.removeprefix("refs/heads/")
    return "detached:" + head[:12]


def content_hash(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def content_key(data: bytes, language: str | None) -> str:
    """The key of a parse result: the content's SHA-1 and the language it is parsed as (the same
    bytes in a ``.py`` and a ``.md`` file give different chunks and symbols)."""
    return f"{content_hash(data)}:{language or 'text'}"


@dataclass
class _Pending:
    """A batch whose new content is being parsed (futures) or is still to be parsed here."""

    have: set[str]  # content already in the index
    todo: dict[str, _Work]
    # Each file sent to a worker: its job and its place in the job's results.
    futures: dict[str, tuple[Future[list[EncodedBlob | Exception]], int]]

    def results(self, registry: LanguageRegistry) -> dict[str, ParsedFile | EncodedBlob | Exception]:
        out: dict[str, ParsedFile | EncodedBlob | Exception] = {}
        for digest, w in self.todo.items():
            job = self.futures.get(digest)
            if job is not None:
                fut, i = job
                try:
                    out[digest] = fut.result()[i]
                except Exception as exc:  # a worker died: parse here
                    log.warning("parse worker failed on %s (%s); parsing in-process", w.entry.path, exc)
                    out[digest] = _parse_here(registry, w)
            else:
                out[digest] = _parse_here(registry, w)
        return out


def _parse_here(registry: LanguageRegistry, w: _Work) -> ParsedFile | Exception:
    try:
        return parse_source(registry, w.entry.path, w.data)
    except Exception as exc:
        return exc


@dataclass
class _Work:
    entry: WalkEntry
    data: bytes
    digest: str
    language: str | None  # what the registry names the path's language (looked up once)


class Indexer:
    def __init__(
        self,
        store: Store,
        registry: LanguageRegistry,
        embedder: Embedder | None,
        *,
        max_file_bytes: int = 1024 * 1024,
        extra_ignore: Sequence[str] = (),
        embed_batch: int = 32,
        parse_workers: int | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.extra_ignore = tuple(extra_ignore)
        self.embed_batch = embed_batch
        self._policies: dict[Path, IgnorePolicy] = {}
        self.parse_workers = parse_workers
        self._pool: ProcessPoolExecutor | None = None

    def policy(self, root: Path) -> IgnorePolicy:
        root = root.resolve()
        if root not in self._policies:
            self._policies[root] = IgnorePolicy(root, self.extra_ignore, self.max_file_bytes)
        return self._policies[root]

    def snapshot_for(self, root: Path) -> tuple[int, int, str]:
        """(repo id, snapshot id, snapshot name) for the working tree's current state."""
        root = root.resolve()
        repo_id = self.store.ensure_repo(str(root))
        name = git_state(root)
        snap = self.store.snapshot_id(repo_id, name)
        if snap is None:
            prev = self.store.latest_snapshot(repo_id)
            snap = self.store.ensure_snapshot(repo_id, name, copy_from=prev[0] if prev else None)
        return repo_id, snap, name

    # -- one indexer per repository ----------------------------------------------------------
    def index_exclusive(
        self,
        root: Path,
        *,
        embed: bool = True,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prefer_paths: Sequence[str] = (),
        on_follow: Callable[[], None] | None = None,
        poll_s: float = 0.5,
        rehash: bool = False,
    ) -> IndexSummary:
        """``index`` under the repository's advisory lock.

        When another process holds it, follow that process: report its progress (files and chunks
        in the index, polled) as phase "follow" until the lock is free, then run (which then finds
        almost everything unchanged, and completes whatever the other process left undone).
        """
        root = root.resolve()
        return self._exclusive(
            root,
            lambda: self.index(
                root, embed=embed, progress=progress, cancel=cancel, prefer_paths=prefer_paths, rehash=rehash
            ),
            progress,
            cancel,
            on_follow,
            poll_s,
        )

    def embed_exclusive(
        self,
        root: Path,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prefer_paths: Sequence[str] = (),
        on_follow: Callable[[], None] | None = None,
        poll_s: float = 0.5,
    ) -> int:
        """``embed_pending`` for the working tree's snapshot under the repository's advisory lock (the
        second half of a run whose symbols and full text are already in: ``index(embed=False)``)."""
        root = root.resolve()

        def work() -> int:
            repo_id, snap, _ = self.snapshot_for(root)
            return self.embed_pending(repo_id, snap, progress=progress, cancel=cancel, prefer_paths=prefer_paths)

        return self._exclusive(root, work, progress, cancel, on_follow, poll_s)

    def _exclusive(
        self,
        root: Path,
        work: Callable[[], _T],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        on_follow: Callable[[], None] | None,
        poll_s: float,
    ) -> _T:
        report = progress or (lambda p: None)
        announced = False
        while True:
            with self.store.indexer_lock(str(root)) as leader:
                if leader:
                    return work()
            if not announced:
                announced = True
                if on_follow is not None:
                    on_follow()
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            repo_id, snap, _ = self.snapshot_for(root)
            c = self.store.counts(repo_id, snap, self.embedder.name if self.embedder else None)
            report(
                Progress(
                    "follow",
                    c["files"],
                    0,
                    f"another process is indexing: {c['files']} files, {c['chunks']} chunks, {c['embedded']} embedded",
                )
            )
            time.sleep(poll_s)

    # -- full run ---------------------------------------------------------------------------
    def index(
        self,
        root: Path,
        *,
        embed: bool = True,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prefer_paths: Sequence[str] = (),
        rehash: bool = False,
    ) -> IndexSummary:
        """Bring the working tree's snapshot up to date.

        A file whose size and modification time match its stored row is taken as unchanged without
        reading it (the walk and one ``stat`` per file: an unchanged repository costs little).
        ``rehash`` reads and hashes every file instead, for when modification times cannot be trusted
        (a tool that restores them, a clock step): content the index has is not parsed again, only the
        rows of files whose content differs are rewritten.
        """
        started = time.monotonic()
        root = root.resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        report = progress or (lambda p: None)
        repo_id, snap, name = self.snapshot_for(root)
        policy = self.policy(root)
        known = self.store.file_states(snap)
        report(Progress("scan", 0, 0, f"scanning {root}"))

        workers = self.parse_workers if self.parse_workers is not None else min(2, os.cpu_count() or 1)
        try:
            entries: list[WalkEntry] = []
            skips: list[Skip] = []
            # The parse pool starts as soon as the walk has found enough to parse, so that the workers start
            # (interpreter, imports) while the walk goes on, not after it.
            to_parse = to_parse_bytes = 0
            for item in policy.walk():
                if isinstance(item, Skip):
                    skips.append(item)
                    continue
                entries.append(item)
                if workers > 1 and self._pool is None and (rehash or not _unchanged(known.get(item.path), item)):
                    to_parse += 1
                    to_parse_bytes += item.size
                    if to_parse >= POOL_MIN_FILES or to_parse_bytes >= POOL_MIN_BYTES:
                        self._start_pool(workers)
            seen = {e.path for e in entries} | {s.path for s in skips}
            deleted = [p for p in known if p not in seen]

            skip_rows = [
                FileRow(s.path, None, 0, 0, None, "skipped", s.reason)
                for s in skips
                if not (known.get(s.path) and known[s.path].status == "skipped")
            ]
            changed = entries if rehash else [e for e in entries if not _unchanged(known.get(e.path), e)]
            stats = dict(indexed=0, reused=0, unchanged=len(entries) - len(changed), bytes=0, skipped=len(skips))
            total = len(changed)
            report(Progress("parse", 0, total, f"{total} files to check, {len(deleted)} deleted"))
            self._index_changed(repo_id, snap, policy, changed, known, skip_rows, deleted, stats, report, cancel)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

        removed = self.store.gc_blobs(repo_id)
        if removed:
            log.info("removed %d orphaned file versions", removed)
        self.store.mark_indexed(snap)
        if stats["indexed"] + len(deleted) >= max(ANALYZE_MIN_FILES, ANALYZE_SHARE * len(entries)):
            # A bulk change: fresh statistics before anything plans a query on these rows.
            t0 = time.monotonic()
            self.store.analyze()
            log.info("planner statistics refreshed in %.2f s", time.monotonic() - t0)

        embed_started = time.monotonic()
        if embed and self.embedder is not None:
            self.embed_pending(repo_id, snap, progress=report, cancel=cancel, prefer_paths=prefer_paths)
        embed_seconds = time.monotonic() - embed_started if embed else 0.0
        counts = self.store.counts(repo_id, snap, self.embedder.name if self.embedder else None)
        report(Progress("done", total, total, "indexed"))
        return IndexSummary(
            repo=str(root),
            snapshot=name,
            files_seen=len(entries) + len(skips),
            files_indexed=stats["indexed"],
            files_unchanged=stats["unchanged"],
            files_reused=stats["reused"],
            files_deleted=len(deleted),
            files_skipped=counts["skipped"],
            chunks=counts["chunks"],
            symbols=counts["symbols"],
            embedded=counts["embedded"],
            bytes_parsed=stats["bytes"],
            seconds=round(time.monotonic() - started, 3),
            embed_seconds=round(embed_seconds, 3),
        )

    def _index_changed(
        self,
        repo_id: int,
        snap: int,
        policy: IgnorePolicy,
        changed: list[WalkEntry],
        known: dict[str, FileState],
        skip_rows: list[FileRow],
        deleted: list[str],
        stats: dict[str, int],
        report: ProgressFn,
        cancel: threading.Event | None,
    ) -> None:
        total = len(changed)
        # Batches go to the workers as soon as their files are read, and to a writer thread once submitted:
        # this thread reads the next files while PostgreSQL writes (with many small files, reading and
        # writing in turn left both cores partly idle), the workers parse up to PIPELINE_DEPTH batches ahead
        # of the one being written, and batches are written in order.
        writer = _Writer(lambda item: self._write(repo_id, snap, *item, known=known, stats=stats), report, total)
        vanished: list[str] = []
        batch: list[_Work] = []
        batch_bytes = 0
        first = True
        try:
            for entry in changed:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                try:
                    data = entry.abs_path.read_bytes()
                except FileNotFoundError:
                    # Deleted between the walk and the read: gone, like a file the walk never saw.
                    log.info("%s was deleted while indexing", entry.path)
                    if entry.path in known:
                        vanished.append(entry.path)
                    writer.count(1)
                    continue
                except OSError as exc:
                    skip_rows.append(FileRow(entry.path, None, 0, 0, None, "skipped", f"unreadable: {exc.strerror}"))
                    writer.count(1)
                    continue
                reason = policy.check_content(entry.path, data)
                if reason:
                    stats["skipped"] += 1
                    skip_rows.append(FileRow(entry.path, None, len(data), entry.mtime_ns, None, "skipped", reason))
                    writer.count(1)
                    continue
                lang = self.registry.name_for_path(entry.path)
                batch.append(_Work(entry, data, content_key(data, lang), lang))
                batch_bytes += len(data)
                if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                    writer.put((batch, skip_rows, deleted if first else [], self._submit(repo_id, batch)))
                    first = False
                    skip_rows, batch, batch_bytes = [], [], 0
            writer.put((batch, skip_rows, (deleted if first else []) + vanished, self._submit(repo_id, batch)))
        except BaseException:
            writer.abandon()
            raise
        writer.finish()

    def _write(
        self,
        repo_id: int,
        snap: int,
        batch: list[_Work],
        skip_rows: list[FileRow],
        deleted: Sequence[str],
        pending: _Pending | None = None,
        *,
        known: dict[str, FileState],
        stats: dict[str, int],
    ) -> None:
        pending = pending or self._submit(repo_id, batch)
        have = pending.have
        blobs: dict[str, ParsedFile | EncodedBlob] = {}
        rows: list[FileRow] = list(skip_rows)
        parsed = pending.results(self.registry)
        for w in batch:
            lang = w.language
            if w.digest not in have and w.digest not in blobs:
                try:
                    result = parsed.get(w.digest)
                    if isinstance(result, Exception) or result is None:
                        raise result or RuntimeError("not parsed")
                    blobs[w.digest] = result
                except Exception as exc:  # one bad file never loses the batch
                    log.warning("cannot parse %s: %s", w.entry.path, exc)
                    rows.append(
                        FileRow(
                            w.entry.path, None, len(w.data), w.entry.mtime_ns, lang, "skipped", f"parse error: {exc}"
                        )
                    )
                    continue
                stats["indexed"] += 1
                stats["bytes"] += len(w.data)
            elif known.get(w.entry.path) is None or known[w.entry.path].content_hash != w.digest:
                stats["reused"] += 1
            else:
                stats["unchanged"] += 1
                if _unchanged(known[w.entry.path], w.entry) and known[w.entry.path].status == "indexed":
                    continue  # read only to check its content (``rehash``): the row is right as it is
            rows.append(FileRow(w.entry.path, w.digest, len(w.data), w.entry.mtime_ns, lang, "indexed"))
        if rows or blobs or deleted:
            self.store.write_batch(repo_id, snap, list(blobs.items()), rows, deleted)

    def _start_pool(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        # The pool starts its processes on the first job: an empty one starts them now.
        self._pool.submit(_parse_job, (0, []))

    def _submit(self, repo_id: int, batch: list[_Work]) -> _Pending:
        """Start parsing a batch's new content: in the worker pool when there is one (a full run)."""
        have = self.store.existing_blobs(repo_id, (w.digest for w in batch))
        todo: dict[str, _Work] = {}
        for w in batch:
            if w.digest not in have:
                todo.setdefault(w.digest, w)
        futures: dict[str, tuple[Future[list[EncodedBlob | Exception]], int]] = {}
        if self._pool is not None and len(todo) > 1:
            try:
                for job in _jobs(list(todo.values())):
                    fut = self._pool.submit(_parse_job, (repo_id, [(w.entry.path, w.data, w.digest) for w in job]))
                    for i, w in enumerate(job):
                        futures[w.digest] = (fut, i)
            except (BrokenExecutor, RuntimeError) as exc:
                log.warning("the parse pool is gone (%s); parsing in-process", exc)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                futures = {}
        return _Pending(have, todo, futures)

    # -- single files (watcher, didSave) ---------------------------------------------------------
    def update_paths(self, root: Path, rel_paths: Iterable[str], *, embed: bool = True) -> dict[str, int]:
        """Re-check the given paths (files or directories): changed files are re-parsed, missing ones removed.

        One transaction for the whole call. A directory that exists is walked (a directory moved
        into the tree); one that does not takes every indexed path under it along (moved away).
        """
        root = root.resolve()
        repo_id, snap, _ = self.snapshot_for(root)
        policy = self.policy(root)
        known = self.store.file_states(snap)
        batch: list[_Work] = []
        rows: list[FileRow] = []
        deleted: set[str] = set()
        todo: dict[str, None] = {}
        for rel in sorted(set(rel_paths)):
            if PurePosixPath(rel).name in (".gitignore", ".hearthignore", "exclude"):
                policy.invalidate(rel)
            abs_path = root / rel
            prefix = rel.rstrip("/") + "/"
            if policy.under_ignored_dir(rel):
                continue  # the walker never enters it, so neither does an update
            if abs_path.is_dir():
                dir_reason = policy.ignored_by_rules(rel, is_dir=True)
                if abs_path.is_symlink() or dir_reason is not None:
                    # Now a directory the walker does not enter: what was indexed under it goes, and
                    # the directory is one skipped entry, as the walker records it.
                    deleted.update(p for p in known if p.startswith(prefix))
                    if dir_reason is not None and PurePosixPath(rel).name != ".git":
                        rows.append(FileRow(prefix, None, 0, 0, None, "skipped", dir_reason))
                    continue
                seen_under: set[str] = set()
                for item in policy.walk(rel):
                    seen_under.add(item.path)
                    if isinstance(item, WalkEntry):
                        todo[item.path] = None
                    else:
                        rows.append(FileRow(item.path, None, 0, 0, None, "skipped", item.reason))
                deleted.update(p for p in known if p.startswith(prefix) and p not in seen_under)
                continue
            if not abs_path.exists() and not abs_path.is_symlink():
                deleted.update(p for p in known if p == rel or p.startswith(prefix))
                continue
            todo[rel] = None
        for rel in todo:
            abs_path = root / rel
            verdict = policy.classify_file(rel, abs_path)
            if verdict is None:
                if rel in known:
                    deleted.add(rel)
                continue
            if isinstance(verdict, Skip):
                rows.append(FileRow(rel, None, 0, 0, None, "skipped", verdict.reason))
                continue
            try:
                data = abs_path.read_bytes()
            except FileNotFoundError:
                if rel in known:
                    deleted.add(rel)
                continue
            except OSError as exc:
                rows.append(FileRow(rel, None, 0, 0, None, "skipped", f"unreadable: {exc.strerror}"))
                continue
            reason = policy.check_content(rel, data)
            if reason:
                rows.append(FileRow(rel, None, len(data), verdict.mtime_ns, None, "skipped", reason))
                continue
            lang = self.registry.name_for_path(rel)
            batch.append(_Work(verdict, data, content_key(data, lang), lang))
        # A path that is skipped now keeps a row (with its reason); one recorded as skipped before
        # and skipped again needs no write.
        rows = [r for r in rows if not (known.get(r.path) and known[r.path].status == "skipped")]
        stats = {"indexed": 0, "reused": 0, "unchanged": 0, "bytes": 0, "skipped": len(rows)}
        written = {r.path for r in rows} | {w.entry.path for w in batch}
        gone = sorted(deleted - written)
        self._write(repo_id, snap, batch, rows, gone, known=known, stats=stats)
        if embed and self.embedder is not None and batch:
            self.embed_pending(repo_id, snap, prefer_paths=[w.entry.path for w in batch], limit_batches=4)
        stats["deleted"] = len(gone)
        return stats

    # -- embeddings -------------------------------------------------------------------------------
    def embed_pending(
        self,
        repo_id: int,
        snap: int,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prefer_paths: Sequence[str] = (),
        limit_batches: int | None = None,
    ) -> int:
        if self.embedder is None:
            return 0
        emb = self.embedder
        report = progress or (lambda p: None)
        counts = self.store.counts(repo_id, snap, emb.name)
        total = counts["chunks"]
        done = counts["embedded"]
        self.store.ensure_vector_index(emb.name, emb.dim)
        n = 0
        batches = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            todo = self.store.chunks_missing_embeddings(repo_id, snap, emb.name, self.embed_batch, prefer_paths)
            if not todo:
                break
            vectors = emb.embed([t for _, t in todo])
            self.store.write_embeddings(repo_id, emb.name, [(h, v) for (h, _), v in zip(todo, vectors, strict=True)])
            n += len(todo)
            done += len(todo)
            batches += 1
            report(Progress("embed", min(done, total), total))
            if limit_batches is not None and batches >= limit_batches:
                break
        return n


_Batch = tuple[list[_Work], list[FileRow], list[str], _Pending]


class _Writer:
    """Writes submitted batches in order on a thread of its own, at most ``PIPELINE_DEPTH`` waiting, and
    reports progress (files written, plus those skipped on reading, which ``count`` adds)."""

    def __init__(self, write: Callable[[_Batch], None], report: ProgressFn, total: int) -> None:
        self._write = write
        self._report = report
        self._total = total
        self._done = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=PIPELINE_DEPTH)
        self._failed: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hearth-index-writer", daemon=True)
        self._thread.start()

    def count(self, files: int) -> None:
        with self._lock:
            self._done += files

    def put(self, batch: _Batch | None) -> None:
        """Queue a batch (waiting while ``PIPELINE_DEPTH`` are queued); raises what stopped the writer."""
        while True:
            if self._failed is not None:
                raise self._failed
            try:
                self._queue.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every queued batch is written; raises what stopped the writer."""
        self.put(None)
        self._thread.join()
        if self._failed is not None:
            raise self._failed

    def abandon(self) -> None:
        """Stop after the batch being written (cancelled, or the reading side failed); the rest is not written."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None or self._stop.is_set():
                return
            try:
                self._write(batch)
            except BaseException as exc:  # handed to the reading thread, which raises it
                self._failed = exc
                return
            with self._lock:
                self._done += len(batch[0])
                done = min(self._done, self._total)
            self._report(Progress("parse", done, self._total))


def _jobs(work: list[_Work]) -> Iterable[list[_Work]]:
    """The files in jobs of at most ``JOB_FILES`` files and about ``JOB_BYTES`` bytes, in order."""
    job: list[_Work] = []
    size = 0
    for w in work:
        if job and (len(job) >= JOB_FILES or size + len(w.data) > JOB_BYTES):
            yield job
            job, size = [], 0
        job.append(w)
        size += len(w.data)
    if job:
        yield job


def _unchanged(state: FileState | None, entry: WalkEntry) -> bool:
    """Whether the stored row still describes the file: same size and modification time. That covers a
    file skipped for its content (binary, minified, generated, a parse error): its row records the size
    and time it was read at, and reading it again would only give the same verdict. Rows without a
    time (skipped by name or unreadable) are checked again, and so is a file once too large (it grew
    while being read): the walker only lets it through when the size limit allows it now."""
    if state is None or state.size != entry.size or state.mtime_ns != entry.mtime_ns:
        return False
    if state.status == "indexed":
        return True
    return (
        state.status == "skipped"
        and state.mtime_ns != 0
        and not (state.skip_reason or "").startswith("larger than")
    )
