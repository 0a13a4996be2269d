"""Recall of the callee's definition: Hearth's completion context against BM25 and Jaccard windows.

    python bench/retrieval/recall.py [--corpus click,cobra] [--per-kind 120] [--embedder none|hashing|minilm]

For each case (see cases.py) the three methods rank code from the rest of the repository:
- ``hearth``: ContextService.for_completion on the indexed repository with the buffer as the open
  document's text, exactly what ``hearth context --batch`` prints (budget and k as the CLI's);
- ``bm25``: Okapi BM25 (k1 1.2, b 0.75) over Hearth's chunks, the last 20 lines of the buffer as the
  query, Hearth's code-aware terms on both sides;
- ``jaccard``: RepoCoder's sliding windows (20 lines, stride 10) over every other file, ranked by
  Jaccard similarity of identifier sets with the buffer's last 20 lines.
An item is a hit when it is in the gold file and its lines contain the definition's line. The
calling file is never a candidate. Results: recall@1/5/10 and MRR (over the first 10) per
language x kind, written to bench/results/retrieval-recall.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, CorpusFiles, buffer_of, build, load
from corpora import CORPORA, fetch

from hearth.indexer.embedder import Embedder, HashingEmbedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.lexical import identifiers, terms
from hearth.indexer.pipeline import Indexer
from hearth.indexer.store.db import Store
from hearth.indexer.store.embedded import EmbeddedPostgres
from hearth.server.services.context import ContextService, RepoHandle

RESULTS = Path(__file__).resolve().parents[1] / "results"
QUERY_LINES = 20
K = 10
Span = tuple[str, int, int]  # path, start line, end line (1-based, inclusive)


class BM25:
    def __init__(self, docs: Sequence[tuple[Span, str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.spans = [s for s, _ in docs]
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: list[int] = []
        for i, (_, text) in enumerate(docs):
            tf = Counter(terms(text))
            self.lengths.append(sum(tf.values()))
            for t, n in tf.items():
                self.postings[t].append((i, n))
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        n_docs = len(self.spans)
        self.idf = {t: math.log(1 + (n_docs - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def rank(self, query: str, exclude_path: str, k: int = K) -> list[Span]:
        scores: dict[int, float] = defaultdict(float)
        for t in set(terms(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, n in self.postings[t]:
                norm = n + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                scores[i] += idf * n * (self.k1 + 1) / norm
        order = sorted(scores.items(), key=lambda kv: -kv[1])
        return [self.spans[i] for i, _ in order if self.spans[i][0] != exclude_path][:k]


class JaccardWindows:
    def __init__(self, files: CorpusFiles, size: int = 20, stride: int = 10) -> None:
        self.windows: list[tuple[Span, frozenset[str]]] = []
        for path, text in files.texts.items():
            lines = text.split("\n")
            for s in range(0, max(1, len(lines) - size + stride), stride):
                ids = frozenset(identifiers("\n".join(lines[s : s + size])))
                if ids:
                    self.windows.append(((path, s + 1, min(len(lines), s + size)), ids))

    def rank(self, query: str, exclude_path: str, k: int = K) -> list[Span]:
        q = frozenset(identifiers(query))
        if not q:
            return []
        scored = [(len(q & ids) / len(q | ids), span) for span, ids in self.windows if span[0] != exclude_path]
        scored.sort(key=lambda x: -x[0])
        return [span for _, span in scored[:k]]


def rank_of(case: Case, spans: Sequence[Span]) -> int | None:
    for i, (path, start, end) in enumerate(spans[:K]):
        if path == case.gold_path and start <= case.gold_line <= end:
            return i + 1
    return None


def scores(ranks: Sequence[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {
        "n": len(ranks),
        "r@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "r@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "r@10": sum(1 for r in ranks if r is not None and r <= 10) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
    }


def make_embedder(name: str) -> Embedder | None:
    if name == "none":
        return None
    if name == "hashing":
        return HashingEmbedder()
    from hearth.indexer.embedder import LocalMiniLM

    return LocalMiniLM()


async def hearth_ranks(
    context: ContextService, repo: RepoHandle, files: CorpusFiles, cases: Sequence[Case]
) -> tuple[list[int | None], list[float]]:
    ranks: list[int | None] = []
    times: list[float] = []
    for case in cases:
        text = buffer_of(case, files)
        t0 = time.perf_counter()
        result = await context.for_completion(
            repo, case.path, text, case.line, case.col, budget_tokens=4096, k=20, wait_for_all=True,
            fresh_vector=True,
        )
        times.append((time.perf_counter() - t0) * 1000)
        ranks.append(rank_of(case, [(h.path, h.start_line, h.end_line) for h in result.items]))
    return ranks, times


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="", help="comma-separated corpus names (default: all)")
    ap.add_argument("--per-kind", type=int, default=120, help="cases sampled per corpus and kind")
    ap.add_argument("--kind", default="", help="comma-separated kinds to keep (imported, same-package, member)")
    ap.add_argument("--embedder", default="none", choices=["none", "hashing", "minilm"])
    ap.add_argument("--database-url", default=os.environ.get("HEARTH_BENCH_DATABASE_URL"))
    ap.add_argument("--out", default=str(RESULTS / "retrieval-recall.json"))
    ap.add_argument(
        "--std-homonyms", action="store_true",
        help="keep Rust/TypeScript member calls of standard-library method names (the case set before 2026-11-26)",
    )
    ap.add_argument("--dump-misses", default=None, help="write Hearth's misses as JSONL here")
    args = ap.parse_args(argv)
    wanted = {x for x in args.corpus.split(",") if x}
    registry = LanguageRegistry.default()
    pg = None
    url = args.database_url
    if not url:
        pg = EmbeddedPostgres(Path(tempfile.gettempdir()) / "hearth-bench-pg", fsync=False, database="bench_recall")
        url = pg.ensure_running()
    store = Store(url).open()
    embedder = make_embedder(args.embedder)
    indexer = Indexer(store, registry, embedder)
    context = ContextService(store, registry, embedder)
    per_group: dict[tuple[str, str], dict[str, list[int | None]]] = defaultdict(lambda: defaultdict(list))
    misses: list[dict[str, Any]] = []
    latencies: list[float] = []
    started = time.time()
    for corpus in CORPORA:
        if wanted and corpus.name not in wanted:
            continue
        root = fetch(corpus)
        files = load(root, registry)
        cases = build(corpus.name, corpus.language, files, per_kind=args.per_kind, std_homonyms=args.std_homonyms)
        if args.kind:
            cases = [c for c in cases if c.kind in args.kind.split(",")]
        t0 = time.time()
        indexer.index(root, embed=embedder is not None)
        index_s = time.time() - t0
        repo_id, snap, _ = indexer.snapshot_for(root)
        repo = RepoHandle(str(root.resolve()), repo_id, snap)
        bm25 = BM25([((p, c.start_line, c.end_line), c.text) for p, c in files.chunks()])
        jac = JaccardWindows(files)
        h_ranks, times = asyncio.run(hearth_ranks(context, repo, files, cases))
        latencies.extend(times)
        for case, h in zip(cases, h_ranks, strict=True):
            query = "\n".join(buffer_of(case, files).split("\n")[-QUERY_LINES:])
            group = per_group[(case.language, case.kind)]
            group["hearth"].append(h)
            group["bm25"].append(rank_of(case, bm25.rank(query, case.path)))
            group["jaccard"].append(rank_of(case, jac.rank(query, case.path)))
            if h is None:
                misses.append(case.as_json())
        found = sum(1 for r in h_ranks if r is not None)
        sys.stderr.write(
            f"{corpus.name}: {len(files.texts)} files, {len(cases)} cases, indexed in {index_s:.1f}s, "
            f"hearth r@10 {found / max(1, len(cases)):.2f}\n"
        )
    store.close()
    rows = []
    totals: dict[str, list[int | None]] = defaultdict(list)
    for (lang, kind), methods in sorted(per_group.items()):
        row: dict[str, Any] = {"language": lang, "kind": kind}
        for m, ranks in methods.items():
            row[m] = scores(ranks)
            totals[m].extend(ranks)
        rows.append(row)
    overall = {m: scores(r) for m, r in totals.items()}
    latencies.sort()
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "embedder": args.embedder,
        "per_kind": args.per_kind,
        "std_homonyms": args.std_homonyms,
        "seconds": round(time.time() - started, 1),
        "rows": rows,
        "overall": overall,
        "hearth_ms_p50": latencies[len(latencies) // 2] if latencies else None,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    if args.dump_misses:
        Path(args.dump_misses).write_text("".join(json.dumps(m) + "\n" for m in misses))
    print(table(out))
    return 0


def table(out: dict[str, Any]) -> str:
    lines = [
        "| language | kind | n | Hearth r@1 / r@5 / r@10 / MRR | BM25 (same) | Jaccard windows (same) |",
        "|---|---|---|---|---|---|",
    ]

    def cell(s: dict[str, float]) -> str:
        return f"{s['r@1']:.2f} / {s['r@5']:.2f} / **{s['r@10']:.2f}** / {s['mrr']:.2f}"

    for row in out["rows"]:
        lines.append(
            f"| {row['language']} | {row['kind']} | {row['hearth']['n']} | {cell(row['hearth'])} | "
            f"{cell(row['bm25'])} | {cell(row['jaccard'])} |"
        )
    o = out["overall"]
    lines.append(f"| all | all | {o['hearth']['n']} | {cell(o['hearth'])} | {cell(o['bm25'])} | {cell(o['jaccard'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
