"""Inline completion benchmark: Hearth's own time per request, and a replayed typing session.

    python bench/completion/run.py build            # synthetic repository (~100k chunks) + index
    python bench/completion/run.py latency          # Hearth's own time per inline completion
    python bench/completion/run.py typing           # a real file typed at 8 chars/s
    python bench/completion/run.py all

Everything runs through the real `hearth serve` over stdio (pytest-lsp's client), a real
PostgreSQL (embedded, in the work directory, or --database-url) and the vLLM stand-in. Results go
to bench/results/completion-*.json. See README.md next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp.client import LanguageClient, make_test_lsp_client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402

from hearth.indexer.store.embedded import EmbeddedPostgres  # noqa: E402
from hearth.server.protocol.server import plain  # noqa: E402
from tests.standin.vllm_standin import StandinServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHOP = ROOT / "tests" / "fixtures" / "repos" / "shop"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return round(s[k], 2)


def dist(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p90": pct(values, 90), "p99": pct(values, 99),
            "max": pct(values, 100)}


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


# -- the index ----------------------------------------------------------------------------------------


def database(work: Path, url: str | None) -> str:
    if url:
        return url
    work.mkdir(parents=True, exist_ok=True)
    return EmbeddedPostgres(work / "pg", fsync=False, database="hearth_bench").ensure_running()


def base_env(db_url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update({
        "HEARTH_DATABASE_URL": db_url,
        "HEARTH_DATA_DIR": str(work / "data"),
        "HEARTH_EMBEDDING_PROVIDER": "hashing",
        "HEARTH_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def build(args: argparse.Namespace) -> dict[str, Any]:
    repo = args.work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    t0 = time.perf_counter()
    funcs = synth.generate(repo, args.files, args.funcs)
    shutil.copytree(SHOP, repo / "shop")  # a small real project inside, typed in the session
    gen_s = time.perf_counter() - t0
    db_url = database(args.work, args.database_url)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "hearth.server.cli", "index", str(repo), "--json", "--no-progress"],
        env=base_env(db_url, args.work), capture_output=True, text=True, check=True,
    )
    index_s = time.perf_counter() - t0
    report = json.loads(out.stdout)
    result = {"files": args.files, "functions": funcs, "generate_s": round(gen_s, 1), "index_s": round(index_s, 1),
              "index": report, "machine": machine()}
    print(json.dumps(result, indent=1))
    return result


# -- a client session --------------------------------------------------------------------------------


async def start(
    env: dict[str, str], repo: Path, options: dict[str, Any]
) -> tuple[LanguageClient, list[dict[str, Any]]]:
    client = make_test_lsp_client()
    statuses: list[dict[str, Any]] = []

    @client.feature("hearth/status")
    def on_status(ls: Any, params: Any) -> None:
        statuses.append(plain(params))

    await client.start_io(sys.executable, "-m", "hearth.server.cli", "serve", env=env)
    caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities()))
    await client.initialize_session(types.InitializeParams(
        capabilities=caps, root_uri=repo.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
        initialization_options=options,
    ))
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if any(s.get("quiescent") and s.get("index", {}).get("state") == "idle" and s["index"].get("files")
               for s in statuses) and any(s.get("models", {}).get("completion", {}).get("mode") == "fim"
                                          for s in statuses):
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"the server did not become ready: {statuses[-1:]}")
    return client, statuses


def inline_params(uri: str, line: int, col: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=col),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


def open_doc(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))


async def command(client: LanguageClient, name: str) -> Any:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=name, arguments=[]))


# -- Hearth's own time -------------------------------------------------------------------------------


async def latency(args: argparse.Namespace) -> dict[str, Any]:
    repo = args.work / "repo"
    db_url = database(args.work, args.database_url)
    with StandinServer(model="qwen2.5-coder-1.5b", family="qwen", max_model_len=8192) as standin:
        standin.configure(default_response="result + 1\n")  # instant: ttft 0, tokens/s 0
        env = dict(base_env(db_url, args.work), HEARTH_MODEL_URL=standin.v1_url)
        client, _ = await start(env, repo, {"completion": {"debounceMs": args.debounce_ms}})
        try:
            files = sorted((repo / "pkg00").glob("mod_*.py"))[:10]
            docs = []
            for f in files:
                uri = f.as_uri()
                text = f.read_text()
                open_doc(client, uri, text)
                docs.append((uri, text.split("\n")))
            # Positions: the end of a code line inside a function body, a different line each time.
            targets = []
            for uri, lines in docs:
                for i, ln in enumerate(lines):
                    if ln.startswith("    ") and "=" in ln and not ln.strip().startswith(("#", '"')):
                        cut = ln.index("=") + 2
                        targets.append((uri, i, cut))
            warm, n = args.warmup, args.requests
            # Each target twice: a new line (cold: retrieval runs), then one column earlier on the same line
            # (as while typing: the line's context is reused, the prefix differs so the cache does not answer).
            cycle = itertools.islice(itertools.cycle(targets), warm + n)
            plan = [(u, ln, c - d) for (u, ln, c) in cycle for d in (0, 1)]
            times, own, stages, kinds = [], [], [], []
            for k, (uri, line, col) in enumerate(plan):
                seen = len(standin.requests)
                t0 = time.perf_counter()
                res = await client.text_document_inline_completion_async(inline_params(uri, line, col))
                dt = (time.perf_counter() - t0) * 1000
                assert isinstance(res, types.InlineCompletionList) and res.items, "no item"
                if k >= 2 * warm:
                    kinds.append("cold" if k % 2 == 0 else "same-line")
                    # The stand-in's own time (its HTTP handling, tokenizer, SSE) is the model's, not Hearth's.
                    model = sum(((r.finished_at or r.time) - r.time) * 1000 for r in standin.requests[seen:]
                                if r.path == "/v1/completions")
                    times.append(dt)
                    # The debounce is deliberate waiting (the editor's keystrokes may still supersede the
                    # request), not work: with --debounce-ms, what Hearth adds beyond it is what is measured.
                    trace = plain(await client.protocol.send_request_async("hearth/trace", {"uri": uri}))
                    own.append(dt - model - float(trace.get("debounce_ms") or 0.0))
                    stages.append({**trace["stages"], **{f"context.{k}": v for k, v in
                                                         trace.get("context_timings", {}).items()}})
            status = plain(await command(client, "hearth.status"))
        finally:
            await client.shutdown_session()
            await client.stop()
    breakdown = {
        kind: {
            k: round(statistics.median([s.get(k, 0.0) for s, kd in zip(stages, kinds, strict=True) if kd == kind]), 2)
            for k in ("context_ms", "prompt_ms", "model_ms", "postprocess_ms", "total_ms",
                      *sorted({k for s in stages for k in s if k.startswith("context.")}))
        }
        for kind in ("cold", "same-line")
    }
    result = {
        "what": "textDocument/inlineCompletion over stdio, stand-in answering instantly, a new line each request "
                "(cold context); hearth_own = round trip minus the stand-in's time per request (and minus the "
                "debounce wait, when --debounce-ms is set)",
        "debounce_ms": args.debounce_ms,
        "requests": 2 * n, "warmup": 2 * warm,
        "round_trip_ms": dist(times),
        "hearth_own_ms": dist(own),
        "hearth_own_cold_ms": dist([v for v, kd in zip(own, kinds, strict=True) if kd == "cold"]),
        "hearth_own_same_line_ms": dist([v for v, kd in zip(own, kinds, strict=True) if kd == "same-line"]),
        "load_average": os.getloadavg(),
        "server_stage_medians_ms": breakdown,
        "index": status.get("index"), "machine": machine(),
    }
    print(json.dumps(result, indent=1))
    return result


# -- a replayed typing session -------------------------------------------------------------------------


def profile_speed(name: str) -> tuple[float, float]:
    """(time to first token s, tokens/s) of a profile's completion role, from deploy/arithmetic.py."""
    out = subprocess.run([sys.executable, str(ROOT / "deploy" / "arithmetic.py"), "--json"],
                         capture_output=True, text=True, check=True)
    prof = next(p for p in json.loads(out.stdout) if p["profile"] == name)
    role = next(r for r in prof["roles"] if r["role"] == "completion")
    tps = role["decode_realistic_tok_s"]
    ttft = max(0.0, role["completion_16_cached_s"] - 16 / tps)
    return ttft, tps


def metrics(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    out = {}
    for name in ("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total"):
        m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.MULTILINE)
        out[name] = float(m.group(1)) if m else 0.0
    return out


def leading_share(a: list[int], b: list[int]) -> float:
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return same / len(b) if b else 1.0


async def typing(args: argparse.Namespace) -> dict[str, Any]:
    repo = args.work / "repo"
    db_url = database(args.work, args.database_url)
    ttft, tps = profile_speed(args.profile)
    real = (repo / "shop" / "shop" / args.file).read_text()
    start_at = real.index(args.start)
    typed = real[start_at : start_at + args.chars]
    base_text = real[:start_at] + real[start_at + args.chars :]

    def responder(prompt: str) -> str | None:
        """A model that knows the file: the rest of the current line (or the next line)."""
        if "<|fim_prefix|>" not in prompt:
            return None
        before = prompt.split("<|fim_prefix|>", 1)[1].split("<|fim_suffix|>", 1)[0]
        tail = before[-120:]
        at = real.find(tail)
        if at < 0:
            return ""
        pos = at + len(tail)
        end = real.find("\n", pos)
        rest = real[pos:end]
        if not rest.strip():
            nxt = real.find("\n", end + 1)
            rest = real[pos:nxt]
        return rest + "\n"

    with StandinServer(model="qwen2.5-coder-1.5b", family="qwen", max_model_len=8192) as standin:
        standin.configure(ttft_s=ttft, tokens_per_s=tps, responder=responder)
        env = dict(base_env(db_url, args.work), HEARTH_MODEL_URL=standin.v1_url)
        client, _ = await start(env, repo, {})  # the default settings: adaptive debounce from 75 ms
        try:
            path = repo / "shop" / "shop" / args.file
            uri = path.as_uri()
            open_doc(client, uri, base_text)
            before_metrics = metrics(standin.base_url)
            n_before = len([r for r in standin.requests if r.path == "/v1/completions"])
            pending: list[tuple[dict[str, float], asyncio.Future[Any]]] = []
            interval = 1.0 / args.cps
            t_start = time.perf_counter()
            for i in range(1, len(typed) + 1):
                text = real[:start_at] + typed[:i] + real[start_at + args.chars :]
                client.text_document_did_change(types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 1),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                ))
                pre = real[:start_at] + typed[:i]
                line, col = pre.count("\n"), len(pre.rsplit("\n", 1)[-1])
                times = {"sent": time.perf_counter()}
                fut = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, line, col)))
                fut.add_done_callback(lambda _f, t=times: t.__setitem__("done", time.perf_counter()))
                pending.append((times, fut))
                await asyncio.sleep(max(0.0, t_start + i * interval - time.perf_counter()))
            done_at: list[tuple[float, Any]] = []
            for times, fut in pending:
                res = await fut
                done_at.append(((times["done"] - times["sent"]) * 1000, res))
            status = plain(await command(client, "hearth.status"))
        finally:
            await client.shutdown_session()
            await client.stop()
        reqs = [r for r in standin.requests if r.path == "/v1/completions"][n_before:]
        after_metrics = metrics(standin.base_url)
        tok = standin.tokenizer
        prompts = [r.json["prompt"] for r in reqs]
        ids = [tok.encode(p) for p in prompts]

    def cursor_line(prompt: str) -> str:
        return prompt.split("<|fim_suffix|>")[0].rsplit("\n", 1)[0]

    same_line, other = [], []
    for (pa, a), (pb, b) in itertools.pairwise(zip(prompts, ids, strict=True)):
        (same_line if cursor_line(pa) == cursor_line(pb) else other).append(leading_share(a, b))
    stats = status.get("completion_stats", {})
    # End-to-end latency: from the keystroke to the response, for responses that carried an item.
    latencies = [ms for ms, res in done_at if res is not None and res.items]
    hits = after_metrics["vllm:prefix_cache_hits_total"] - before_metrics["vllm:prefix_cache_hits_total"]
    queries = after_metrics["vllm:prefix_cache_queries_total"] - before_metrics["vllm:prefix_cache_queries_total"]
    result = {
        "file": f"tests/fixtures/repos/shop/shop/{args.file}", "chars_typed": len(typed), "chars_per_s": args.cps,
        "profile": args.profile, "standin_ttft_ms": round(ttft * 1000, 1), "standin_tokens_per_s": round(tps, 1),
        "lsp_requests": len(pending),
        "answered_with_item": sum(1 for _, r in done_at if r is not None and r.items),
        "model_requests": len(reqs),
        "model_requests_aborted": sum(1 for r in reqs if r.client_disconnected),
        "lsp_requests_superseded": stats.get("cancelled"),
        "cache_hits": stats.get("cache_hits"),
        "prefix_share_same_line": {"pairs": len(same_line), "mean": round(statistics.mean(same_line), 3) if same_line
                                   else None, "min": round(min(same_line), 3) if same_line else None},
        "prefix_share_line_change": {"pairs": len(other), "mean": round(statistics.mean(other), 3) if other else None},
        "standin_prefix_cache_hit_rate": round(hits / queries, 3) if queries else None,
        "machine": machine(),
    }
    result["keystroke_to_item_ms"] = {"p50": pct(latencies, 50), "p90": pct(latencies, 90), "p99": pct(latencies, 99)}
    print(json.dumps(result, indent=1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["build", "latency", "typing", "all"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hearth-bench-completion"))
    ap.add_argument("--database-url")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--funcs", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--profile", default="rtx5090-x1")
    ap.add_argument("--file", default="cart.py")
    ap.add_argument("--start", default="    def add(")
    ap.add_argument("--chars", type=int, default=360)
    ap.add_argument("--cps", type=float, default=8.0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--debounce-ms", type=int, default=0,
                    help="latency: completion.debounceMs (0: none; retrieval overlaps a non-zero debounce)")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    steps = ["build", "latency", "typing"] if args.what == "all" else [args.what]
    for step in steps:
        if step == "build":
            res = build(args)
        elif step == "latency":
            res = asyncio.run(latency(args))
        else:
            res = asyncio.run(typing(args))
        (RESULTS / f"completion-{step}{args.tag}.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
