"""Where the CPU of a full index goes: `hearth index` under `perf record -a -g`, samples sorted into components.

Run by hand as root (perf needs it), holding the measurement lock:
``python bench/indexing/accounting.py [--corpus DIR] [--database NAME]``. The corpus and the embedded
PostgreSQL are the ones ``bench.py`` uses (a database of its own, emptied first). perf samples every
process on the machine at 499 Hz with call stacks, so PostgreSQL's backends are split by what their
stacks went through (full-text parsing, index inserts, foreign-key checks, WAL, ...) and the parse
workers into tree-sitter's C code and the Python interpreter. Each sample counts once, for the first
rule its stack matches (the order below). Prints CPU-seconds per component, and writes them as JSON
with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # the benchmark's corpus and database helpers

HZ = 499
# PostgreSQL: (component, functions a sample's stack may go through), first match wins.
PG_RULES = [
    ("to_tsvector: the text parser", ["parsetext"]),
    ("to_tsvector: sorting and building", ["make_tsvector", "to_tsvector_byid", "tsvector_concat"]),
    ("WAL records", ["XLogInsert", "XLogFlush", "XLogWrite", "XLogBackgroundFlush"]),
    ("GIN indexes (full text, symbol-name trigrams)", ["gininsert", "ginInsertCleanup"]),
    ("foreign-key checks", ["RI_FKey_check", "AfterTriggerEndQuery"]),
    ("ANALYZE, VACUUM", ["analyze_rel", "vacuum", "do_autovacuum"]),
    ("TOAST compression", ["toast_compress_datum", "pglz_decompress", "toast_decompress_datum"]),
    ("btree indexes", ["btinsert"]),
    ("COPY text parsing", ["NextCopyFrom"]),
    ("heap inserts", ["heap_insert", "heap_multi_insert", "CopyMultiInsertBufferFlush", "heap_prepare_insert"]),
    ("writing buffers to the OS", ["FlushBuffer", "mdextend", "smgrextend", "__libc_pwrite"]),
    ("planning", ["pg_plan_queries", "GetCachedPlan", "standard_planner"]),
]


def samples(script: str) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """(command, pid, [(function, object file), innermost first]) per sample of ``perf script`` output."""
    out: list[tuple[str, int, list[tuple[str, str]]]] = []
    cur: tuple[str, int, list[tuple[str, str]]] | None = None
    for line in script.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur = None
        elif not line.startswith("\t"):
            comm, pid = line.split()[:2]
            cur = (comm, int(pid), [])
        elif cur is not None:
            m = re.match(r"\s*[0-9a-f]+ (.*) \((.*)\)$", line.rstrip())
            if m:
                cur[2].append((m.group(1), m.group(2)))
    if cur:
        out.append(cur)
    return out


def categorise(found: list[tuple[str, int, list[tuple[str, str]]]], main_pid: int) -> dict[str, dict[str, float]]:
    counts: Counter[tuple[str, str]] = Counter()
    for comm, pid, stack in found:
        names = [s for s, _ in stack]
        objs = [o for _, o in stack]
        if comm == "swapper":
            counts[("idle", "")] += 1
        elif comm == "postgres":
            cat = next((label for label, funcs in PG_RULES if any(f in names for f in funcs)), "other")
            if cat == "other" and "PostgresMain" not in names:
                cat = "background processes (WAL writer, checkpointer, ...)"
            counts[("postgres", cat)] += 1
        elif comm.startswith("python"):
            role = "indexing process" if pid == main_pid else "parse workers"
            top = objs[0] if objs else ""
            if "_binding" in top or any("_binding" in o for o in objs[:6]):
                cat = "tree-sitter (C: parsing, queries, freeing trees)"
            elif "kernel" in top:
                cat = "kernel (pipes, reads, page faults)"
            elif "libcrypto" in top or "_hashlib" in top:
                cat = "sha1"
            elif "libc" in top:
                cat = "libc (allocation, copies)"
            else:
                cat = "Python interpreter"
            counts[(role, cat)] += 1
        else:
            counts[("other processes", "")] += 1
    out: dict[str, dict[str, float]] = {}
    for (group, cat), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        out.setdefault(group, {})[cat or "all"] = round(n / HZ, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(bench.WORK / "x"))
    ap.add_argument("--database", default="hearth_accounting")
    ap.add_argument("--out", help="write the components as JSON here")
    args = ap.parse_args()
    url = bench.database_url(args.database)
    bench.reset_db(url)
    env = dict(os.environ, HEARTH_DATABASE_URL=url, HEARTH_EMBEDDING_PROVIDER="hashing")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        index = [sys.executable, "-m", "hearth.server.cli", "index", args.corpus, "--no-embed", "--json"]
        index.append("--no-progress")
        proc = subprocess.Popen(
            ["perf", "record", "-a", "-g", "-F", str(HZ), "-o", str(data), "--", *index],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        summary_text, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"perf record or hearth index failed ({proc.returncode})")
        script = subprocess.run(
            ["perf", "script", "-i", str(data), "-F", "comm,pid,ip,sym,dso"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    summary = json.loads(summary_text)
    found = samples(script)
    busy = Counter(pid for comm, pid, _ in found if comm.startswith("python"))
    # The indexing process is the first Python process perf saw busy (the workers start after it).
    main_pid = min(pid for pid, n in busy.items() if n >= 50)
    parts = categorise(found, main_pid)
    mb = summary["bytes_parsed"] / 1e6
    result = {
        "mb_parsed": round(mb, 1),
        "index_seconds": summary["seconds"],
        "cpu_seconds": {g: {"total": round(sum(c.values()), 2), **c} for g, c in parts.items()},
    }
    busy_cpu = sum(v["total"] for g, v in result["cpu_seconds"].items() if g != "idle")
    result["busy_cpu_seconds_per_mb"] = round(busy_cpu / mb, 3)
    for group, comps in result["cpu_seconds"].items():
        print(f"{group:18s} {comps['total']:6.1f} CPU-s  {comps['total'] / mb:.3f} per MB")
        for cat, secs in comps.items():
            if cat != "total":
                print(f"    {cat:52s} {secs:6.2f}  {secs / mb:.4f}")
    print(f"busy CPU per MB: {result['busy_cpu_seconds_per_mb']}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
