"""Chat and code-action latency of Hearth itself, through `hearth serve`, the stand-in answering instantly.

Measured per request, from the client's side of stdio:
- chat_ttft: `hearth/chat` sent -> first `$/progress` delta received (context retrieval, history,
  prompt, the stand-in's first chunk);
- explain_ttft: `hearth.explain` with a partialResultToken -> first delta;
- list: `textDocument/codeAction` round trip;
- resolve: `codeAction/resolve` of "Add documentation" (model answer included, but instant).

    python bench/chat/run.py build --files 2000 --funcs 50     # ~100k chunks (synthetic, slow)
    python bench/chat/run.py measure --requests 100
    # against an index that already exists (e.g. the completion benchmark's 102k chunks), no rebuild:
    python bench/chat/run.py measure --repo /tmp/hearth-bench-completion/repo \
        --database-url 'postgresql://postgres@/hearth_bench?host=/tmp/hearth-bench-completion/pg/pg15/run' \
        --embedder hashing --requests 40 --warmup 5 --tag 100k
Writes bench/results/chat-<tag>.json. The repository must contain the sample project as `shop/`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "completion"))

import synth  # noqa: E402
from lsprotocol import types  # noqa: E402
from run import base_env, database, machine  # noqa: E402

from tests.e2e.test_actions import start_action_session  # noqa: E402
from tests.standin.vllm_standin import StandinServer  # noqa: E402

SHOP = ROOT / "tests" / "fixtures" / "repos" / "shop"
DOC = '''    def add(self, sku: str, quantity: int, unit_cents: int) -> None:
        """Add a line item."""
        self.items.append(LineItem(slugify(sku), quantity, unit_cents))
'''


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 2)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": pct(values, 50), "p90_ms": pct(values, 90), "p99_ms": pct(values, 99),
            "mean_ms": round(statistics.fmean(values), 2)}


def build(args: argparse.Namespace) -> None:
    repo = args.work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    funcs = synth.generate(repo, args.files, args.funcs)
    shutil.copytree(SHOP, repo / "shop")
    db_url = database(args.work, args.database_url)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hearth.server.cli", "index", str(repo), "--json", "--no-progress"],
                         env=env_for(args, db_url), capture_output=True, text=True, check=True)
    print(json.dumps({"functions": funcs, "index_s": round(time.perf_counter() - t0, 1),
                      "index": json.loads(out.stdout)}, indent=1))


def env_for(args: argparse.Namespace, db_url: str) -> dict[str, str]:
    """The server's environment: the benchmark's defaults with the embedder the index was built with."""
    return dict(base_env(db_url, args.work), HEARTH_EMBEDDING_PROVIDER=args.embedder)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    repo = (args.repo or args.work / "repo").resolve()
    cart = repo / "shop" / "shop" / "cart.py"
    if not cart.is_file():
        raise SystemExit(f"{cart} is missing: --repo must be a repository with the sample project under shop/")
    db_url = database(args.work, args.database_url)
    load_start = os.getloadavg()
    with StandinServer(model="qwen2.5-coder-7b", max_model_len=32768, family="qwen") as standin:
        standin.configure(rules=[("Add documentation", f"```python\n{DOC}```"),
                                 ("Explain what", "It adds an item to the cart, slugifying the SKU."),
                                 ("", "compute_total sums the items and adds the tax.")])
        env = dict(env_for(args, db_url), HEARTH_MODEL_URL=standin.v1_url)
        s = await start_action_session(env, repo, "vscode")
        try:
            await s.wait(lambda st: st.get("quiescent") and st["index"]["state"] == "idle" and st["index"]["files"],
                         timeout=900)
            counts = s.last_status()["index"]
            uri, text = cart.as_uri(), cart.read_text()
            s.open(uri, text)
            row = next(i for i, ln in enumerate(text.split("\n")) if "def add" in ln)
            rng = {"start": {"line": row, "character": 8}, "end": {"line": row, "character": 8}}
            out: dict[str, list[float]] = {"chat_ttft": [], "explain_ttft": [], "list": [], "resolve": []}

            async def first_delta(token: str, call: Any) -> float:
                t0 = time.perf_counter()
                task = asyncio.ensure_future(call)
                while not s.deltas.get(token):
                    await asyncio.sleep(0.0005)
                ms = (time.perf_counter() - t0) * 1000
                await task
                return ms

            conv = None
            for i in range(args.warmup + args.requests):
                token = f"c{i}"
                params: dict[str, Any] = {"message": f"How does compute_total use the tax rate? ({i})",
                                          "partialResultToken": token}
                if conv and i % 10:
                    params["conversationId"] = conv
                ms = await first_delta(token, s.client.protocol.send_request_async("hearth/chat", params))
                if i == 0:
                    conv = None
                if i >= args.warmup:
                    out["chat_ttft"].append(ms)
                token = f"e{i}"
                ms = await first_delta(token, s.command("hearth.explain", {"uri": uri, "range": rng,
                                                                            "partialResultToken": token}))
                if i >= args.warmup:
                    out["explain_ttft"].append(ms)
                t0 = time.perf_counter()
                actions = await s.actions(uri, types.Range(start=types.Position(row, 8), end=types.Position(row, 8)))
                list_ms = (time.perf_counter() - t0) * 1000
                doc = next(a for a in actions if a.title == "Hearth: Add documentation")
                t0 = time.perf_counter()
                resolved = await s.client.code_action_resolve_async(doc)
                resolve_ms = (time.perf_counter() - t0) * 1000
                assert resolved.edit is not None, s.messages()
                if i >= args.warmup:
                    out["list"].append(list_ms)
                    out["resolve"].append(resolve_ms)
            load = os.getloadavg()
        finally:
            await s.client.shutdown_session()
            await s.client.stop()
    loadavg = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in load]}
    result = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_average": loadavg,
              "repo": str(repo), "embedder": args.embedder, "index": counts,
              **{k: summary(v) for k, v in out.items()}}
    print(json.dumps(result, indent=1))
    dest = ROOT / "bench" / "results" / f"chat{('-' + args.tag) if args.tag else ''}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["build", "measure"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hearth-bench-chat"))
    ap.add_argument("--database-url", help="an existing database (default: an embedded PostgreSQL under --work)")
    ap.add_argument("--repo", type=Path, help="measure: an already indexed repository (default: --work/repo)")
    ap.add_argument("--embedder", default="hashing", choices=["hashing", "local", "openai"],
                    help="the embedding provider the index was built with")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--funcs", type=int, default=50)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    if args.what == "build":
        build(args)
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
