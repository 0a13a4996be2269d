"""The ``hearth`` command line.

stdout carries only results (one JSON document with ``--json``); progress bars and logs go to
stderr. ``hearth serve`` writes nothing to stdout but JSON-RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from hearth.server import config


def version() -> str:
    try:
        return metadata.version("hearth-lsp")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def emit(text: str = "") -> None:
    """Write a result line to stdout (CLI only; the server never calls this)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "psycopg.pool", "pygls.protocol", "pygls.feature_manager"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings() -> config.Settings:
    settings, problems = config.load()
    for p in problems:
        err(f"hearth: settings: {p} (using the default)")
    return settings


def find_repo_root(start: Path) -> Path:
    p = start.resolve()
    if p.is_file():
        p = p.parent
    for d in [p, *p.parents]:
        if (d / ".git").exists() or (d / ".hearthignore").exists():
            return d
    return p


# -- progress -----------------------------------------------------------------------------------
class _Bar:
    """A tqdm progress bar on stderr per indexing phase."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.phase = ""

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.phase != self.phase:
            if self.bar is not None:
                self.bar.close()
            self.phase = p.phase
            labels = {
                "scan": "scanning",
                "parse": "parsing",
                "embed": "embedding",
                "done": "done",
                "follow": "following",
            }
            label = labels[p.phase]
            self.bar = (
                None
                if p.phase in ("scan", "done")
                else tqdm(
                    total=p.total or None,
                    desc=f"hearth: {label}",
                    file=sys.stderr,
                    unit="files" if p.phase == "parse" else "chunks",
                    leave=True,
                    dynamic_ncols=True,
                )
            )
        if self.bar is not None:
            if p.total and self.bar.total != p.total:
                self.bar.total = p.total
            self.bar.n = p.done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _core(settings: config.Settings, *, embed: bool | None = None) -> Any:
    from hearth.server.app import DatabaseUnavailable, build_core

    try:
        return build_core(settings, embed=embed)
    except DatabaseUnavailable as exc:
        err(f"hearth: {exc}")
        err(
            "hearth: fix: set HEARTH_DATABASE_URL to a PostgreSQL with pgvector, or reinstall Hearth "
            "with its dependencies (the embedded server comes from the 'pgserver' wheel)"
        )
        raise SystemExit(2) from exc


# -- commands -------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    settings = _settings()
    root = Path(args.path).resolve()
    if not root.is_dir():
        err(f"hearth: not a directory: {root}")
        return 2
    core = _core(settings, embed=not args.no_embed)
    bar = _Bar(not args.no_progress and not args.json)
    try:
        summary = core.indexer.index_exclusive(
            root,
            embed=not args.no_embed,
            progress=bar,
            on_follow=lambda: err("hearth: another Hearth process is indexing this repository; following it"),
            rehash=args.rehash,
        )
    finally:
        bar.close()
    out = summary.as_json()
    if args.explain_skips:
        _, snap, _ = core.indexer.snapshot_for(root)
        out["skipped"] = [{"path": p, "reason": r} for p, r in core.store.skipped_files(snap)]
    if args.json:
        emit_json(out)
    else:
        emit(f"{summary.repo} [{summary.snapshot}]")
        emit(
            f"  files: {summary.files_seen} seen, {summary.files_indexed} parsed, {summary.files_reused} reused, "
            f"{summary.files_unchanged} unchanged, {summary.files_deleted} deleted, {summary.files_skipped} skipped"
        )
        emit(f"  chunks: {summary.chunks}, symbols: {summary.symbols}, embedded chunks: {summary.embedded}")
        mb = summary.bytes_parsed / 1e6
        emit(f"  {summary.seconds:.2f} s ({mb:.2f} MB parsed; embeddings {summary.embed_seconds:.2f} s)")
        if args.explain_skips:
            for item in out["skipped"]:
                emit(f"  skipped {item['path']}: {item['reason']}")
    core.close()
    return 0


def _repo_handle(core: Any, root: Path) -> Any:
    from hearth.server.services.context import RepoHandle

    repo_id = core.store.find_repo(str(root))
    if repo_id is None:
        return None
    _, snap, _ = core.indexer.snapshot_for(root)
    return RepoHandle(str(root), repo_id, snap)


def cmd_search(args: argparse.Namespace) -> int:
    settings = _settings()
    root = find_repo_root(Path(args.repo or "."))
    core = _core(settings)
    repo = _repo_handle(core, root)
    if repo is None:
        err(f"hearth: {root} is not indexed yet; run: hearth index {root}")
        hits = []
    else:
        hits = core.context.search(repo, args.query, k=args.k)
    if args.json:
        emit_json([h.as_json() for h in hits])
    else:
        for h in hits:
            emit(f"{h.path}:{h.start_line}-{h.end_line}  {h.score:.4f}  {h.source}  {h.symbol or ''}")
    core.close()
    return 0


def _parse_location(loc: str) -> tuple[str, int, int]:
    try:
        path, line, col = loc.rsplit(":", 2)
        return path, int(line), int(col)
    except ValueError as exc:
        raise SystemExit(f"hearth: expected PATH:LINE:COL (line 1-based, column 0-based), got {loc!r}") from exc


async def _context_items(
    core: Any, repo: Any, root: Path, path: str, line: int, col: int, text: str | None, k: int
) -> list[dict[str, Any]]:
    rel = Path(path)
    if rel.is_absolute():
        try:
            rel = rel.resolve().relative_to(root)
        except ValueError:
            err(f"hearth: {path} is outside the repository {root}")
            return []
    if text is None:
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            err(f"hearth: cannot read {root / rel}: {exc.strerror}")
            return []
    if repo is None:
        return []
    result = await core.context.for_completion(
        repo,
        rel.as_posix(),
        text,
        max(0, line - 1),
        max(0, col),
        budget_tokens=core.settings.completion.context_tokens * 4,
        k=k,
        wait_for_all=True,
        fresh_vector=True,
    )
    return [h.as_json() for h in result.items]


def cmd_context(args: argparse.Namespace) -> int:
    settings = _settings()
    core = _core(settings)
    if args.batch:
        root = find_repo_root(Path(args.repo or "."))
        repo = _repo_handle(core, root)
        if repo is None:
            err(f"hearth: {root} is not indexed yet; run: hearth index {root}")

        async def run_batch() -> None:
            src = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
            with src:
                for n, raw in enumerate(src, 1):
                    if not raw.strip():
                        continue
                    try:
                        req = json.loads(raw)
                        items = await _context_items(
                            core,
                            repo,
                            root,
                            str(req["path"]),
                            int(req["line"]),
                            int(req.get("col", 0)),
                            req.get("text"),
                            args.k,
                        )
                    except (ValueError, KeyError, TypeError) as exc:
                        err(f"hearth: line {n}: invalid request ({exc})")
                        items = []
                    sys.stdout.write(json.dumps(items, ensure_ascii=False) + "\n")
                    sys.stdout.flush()

        asyncio.run(run_batch())
        core.close()
        return 0
    if not args.location:
        err("hearth: context needs PATH:LINE:COL or --batch FILE")
        return 2
    path, line, col = _parse_location(args.location)
    root = find_repo_root(
        Path(args.repo) if args.repo else (Path(path).parent if Path(path).is_absolute() else Path("."))
    )
    repo = _repo_handle(core, root)
    if repo is None:
        err(f"hearth: {root} is not indexed yet; run: hearth index {root}")
    text = Path(args.text_file).read_text(encoding="utf-8", errors="replace") if args.text_file else None
    items = asyncio.run(_context_items(core, repo, root, path, line, col, text, args.k))
    if args.json:
        emit_json(items)
    else:
        for it in items:
            emit(
                f"{it['path']}:{it['start_line']}-{it['end_line']}  {it['score']:.3f}  {it['source']}  "
                f"{it.get('symbol') or ''}"
            )
    core.close()
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    settings = _settings()
    core = _core(settings, embed=False)
    trace = core.store.latest_trace("completion")
    core.close()
    if trace is None:
        err("hearth: no completion trace recorded yet")
        return 1
    if args.json:
        emit_json(trace)
    else:
        from hearth.server.demo import render_trace

        emit(render_trace(trace))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from hearth.server.doctor import run_doctor

    checks = asyncio.run(run_doctor(_settings(), Path(args.repo or ".").resolve()))
    if args.json:
        emit_json({"checks": checks, "ok": all(c["status"] != "error" for c in checks)})
    else:
        for c in checks:
            mark = {"ok": "ok     ", "warning": "warning", "error": "ERROR  "}[c["status"]]
            emit(f"[{mark}] {c['name']}: {c['detail']}")
            if c.get("fix") and c["status"] != "ok":
                emit(f"          fix: {c['fix']}")
    return 1 if any(c["status"] == "error" for c in checks) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hearth.server.demo import run_demo

    return asyncio.run(run_demo(_settings(), Path(args.repo).resolve() if args.repo else None, embed=args.embed))


def cmd_db(args: argparse.Namespace) -> int:
    from hearth.indexer.store.embedded import EmbeddedPostgres

    settings = _settings()
    if settings.database.url:
        emit(f"HEARTH_DATABASE_URL is set; Hearth uses {settings.database.url} and no embedded server")
        return 0
    pg = EmbeddedPostgres(settings.resolved_data_dir(), shared_buffers_mb=settings.database.shared_buffers_mb)
    if args.action == "stop":
        emit("stopped" if pg.stop() else "not running")
    elif args.action == "start":
        emit(pg.ensure_running())
    else:
        emit(f"{'running' if pg.is_running() else 'stopped'}: {pg.url} (data in {pg.pgdata})")
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    emit(json.dumps(config.json_schema(), indent=2, sort_keys=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from hearth.server.app import Hearth
    from hearth.server.protocol.server import StderrToClientHandler, create_server

    settings = _settings()
    app = Hearth(settings)
    server = create_server(app, version())
    logging.getLogger("hearth").addHandler(StderrToClientHandler(server))
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hearth", description="Hearth: a private, repository-aware coding assistant.")
    p.add_argument("--version", action="version", version=f"hearth {version()}")
    p.add_argument(
        "--log-level",
        default=os.environ.get("HEARTH_LOG_LEVEL", "warning"),
        choices=["debug", "info", "warning", "error"],
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the language server (stdio, or --tcp HOST:PORT)")
    s.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP (HOST defaults to 127.0.0.1)")
    s.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("index", help="index a repository")
    s.add_argument("path", nargs="?", default=".")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-embed", action="store_true", help="stop after symbols and full text")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--explain-skips", action="store_true", help="list every skipped file with its reason")
    s.add_argument(
        "--rehash",
        action="store_true",
        help="read and hash every file instead of trusting unchanged sizes and modification times",
    )
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="hybrid search over an indexed repository")
    s.add_argument("query")
    s.add_argument("--repo", default=None)
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("context", help="the ranked context an inline completion at PATH:LINE:COL would use")
    s.add_argument("location", nargs="?", metavar="PATH:LINE:COL")
    s.add_argument("--repo", default=None)
    s.add_argument("--text-file", default=None, help="the editor's unsaved buffer for PATH")
    s.add_argument("--batch", metavar="FILE.jsonl", help="one request per line: path, line, col, optional text")
    s.add_argument("-k", type=int, default=20)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_context)

    s = sub.add_parser("doctor", help="check the database, embedder, models and index")
    s.add_argument("--repo", default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("demo", help="index a repository, then ask the real server for an inline completion")
    s.add_argument("repo", nargs="?", default=None)
    s.add_argument("--embed", action="store_true", help="also compute embeddings before asking (slow on a CPU)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("trace", help="the latest completion trace (context, prompt, timings)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_trace)

    s = sub.add_parser("db", help="the embedded PostgreSQL: status, start, stop")
    s.add_argument("action", choices=["status", "start", "stop"])
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("config-schema", help="print the JSON Schema of Hearth's settings")
    s.set_defaults(func=cmd_config_schema)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    started = time.monotonic()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        err("hearth: interrupted")
        return 130
    finally:
        logging.getLogger(__name__).debug("%s took %.2fs", args.command, time.monotonic() - started)


if __name__ == "__main__":
    raise SystemExit(main())
