"""Start-up and idle memory of `hearth serve`.

Measures, over several fresh server processes: the time from sending `initialize` to its answer
(target <= 300 ms), the time until the index is open and quiescent, and the server's RSS once idle
(target <= 300 MB on a 30k-file repository, the embedding model excluded: run once with the hashing
embedder, which has no model, and once with the default CPU model to see the model's share).

    python bench/server/bench_startup.py [--repo PATH] [--runs 10] [--embedder hashing|local]

Needs HEARTH_DATABASE_URL or uses the embedded PostgreSQL. Index the repository first
(`hearth index PATH`), or the first run includes indexing. Prints a table and writes
bench/results/server-startup.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from hearth.server.protocol.server import plain

ROOT = Path(__file__).resolve().parents[2]


async def one_run(repo: Path, env: dict[str, str]) -> dict[str, float]:
    client = LanguageClient("bench", "0")
    statuses: list[dict[str, Any]] = []

    @client.feature("hearth/status")
    def on_status(ls: Any, params: Any) -> None:
        statuses.append(plain(params))

    @client.feature("window/logMessage")
    def on_log(ls: Any, params: Any) -> None:
        return None

    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "hearth.server.cli", "serve", env=env)
    proc = psutil.Process(client._server.pid)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        root_uri=repo.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
        initialization_options={"index": {"watch": False}},
    ))
    init_ms = (time.perf_counter() - t0) * 1000
    client.initialized(types.InitializedParams())
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if statuses and statuses[-1].get("quiescent") and statuses[-1]["index"]["state"] in ("idle", "error"):
            break
        await asyncio.sleep(0.02)
    ready_s = time.perf_counter() - started
    await asyncio.sleep(1.0)  # idle
    rss_mb = proc.memory_info().rss / 2**20
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"initialize_ms": init_ms, "ready_s": ready_s, "idle_rss_mb": rss_mb,
            "files": float(statuses[-1]["index"].get("files", 0)) if statuses else 0.0}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default=str(ROOT))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--embedder", default="hashing", choices=["hashing", "local"])
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    env = dict(os.environ, HEARTH_EMBEDDING_PROVIDER=args.embedder)
    runs = [await one_run(repo, env) for _ in range(args.runs)]
    init = sorted(r["initialize_ms"] for r in runs)
    summary = {
        "repo": str(repo), "files": runs[-1]["files"], "runs": len(runs), "embedder": args.embedder,
        "initialize_ms_median": statistics.median(init), "initialize_ms_max": init[-1],
        "ready_s_median": statistics.median(r["ready_s"] for r in runs),
        "idle_rss_mb_median": statistics.median(r["idle_rss_mb"] for r in runs),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print("| repo files | runs | embedder | initialize median / max | ready (index open) | idle RSS |")
    print("|---|---|---|---|---|---|")
    print(f"| {summary['files']:.0f} | {summary['runs']} | {args.embedder} | {summary['initialize_ms_median']:.0f} / "
          f"{summary['initialize_ms_max']:.0f} ms | {summary['ready_s_median']:.2f} s | "
          f"{summary['idle_rss_mb_median']:.0f} MB |")
    out = ROOT / "bench" / "results" / f"server-startup-{args.embedder}.json"
    out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
