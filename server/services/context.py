"""Context assembly: what from the repository goes into a prompt.

For a completion at the cursor, three sources run in parallel, each time-boxed:
- definitions of the identifiers around the cursor and of the file's imports, from Hearth's own
  symbol table, ranked import-aware (imported module, then same package, then anywhere);
- hybrid search (full text with code-aware terms, symbol names, vectors) with the code before
  the cursor as the query;
- similar windows of the other open files (Jaccard over identifier sets).
Results are ranked, deduplicated (never code already in the prompt) and fitted to a token
budget. Hybrid search fuses its retrievers with reciprocal-rank fusion.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from hearth.indexer.embedder import Embedder
from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.lexical import identifiers, query_terms, split_identifier
from hearth.indexer.parse import estimate_tokens, identifiers_near, parse_source
from hearth.indexer.store.db import Store
from hearth.indexer.store.search import DefRow, symbol_path
from hearth.indexer.types import Hit, ParsedFile
from hearth.server.services.documents import OpenDocument

log = logging.getLogger(__name__)

RRF_K = 60
DEFINITIONS_GRACE = 3  # the definitions' extra time, in time boxes, when they are late
STATS_CHECK_S = 60.0  # how often search checks whether a repository's term statistics are stale
STATS_MAX_AGE_S = 600.0  # statistics older than this are refreshed on any change of the chunk count
# Chat's vector leg (the question's embedding on a CPU model included) may take this long; the lexical legs and
# the definitions carry the answer without it.
CHAT_VECTOR_DEADLINE_S = 0.08
CHAT_CALLER_NAMES = 4  # the names whose callers chat context adds
# A document's query vector (completion's vector leg uses the previous request's) is computed this long after
# the request, when it is answered: a CPU model's inference beside a request competes with it for two cores.
QUERY_VECTOR_DELAY_S = 0.1
KEYWORDS = frozenset(
    """if else elif for while return def class import from as with try except finally raise pass break
    continue lambda yield async await None True False self cls and or not in is function const let var new
    this super extends implements interface type enum export default public private protected static void
    int str float bool string number boolean null undefined true false fn impl pub mut struct trait use mod
    crate match loop where func package go defer chan map range select switch case nil print len range
    println format new make append error Err Ok Some None unwrap expect String Vec""".split()
)


_LOWER_KEYWORDS = frozenset(k.lower() for k in KEYWORDS)
# Callee prediction ranks definitions on their symbol rows and reads the chunks of this many of the best only.
CALLEE_CHUNK_PROBES = 256
# Definitions of the identifiers around the cursor kept (best first, at most three per name) before their texts
# are read: more than a completion budget holds after the callees.
IDENTIFIER_DEFS = 40
IDENTIFIER_PER_NAME = 6
PARSE_CACHE = 8  # buffers whose parse is kept for the next request
REF_COUNT_TTL_S = 60.0  # how long the reference counts of callee candidates are kept in memory
TYPE_NAMES_WAIT_S = 0.05  # how long a request waits for the snapshot's type names when none are listed yet
# An open buffer is parsed in the background once the editor has been quiet this long (didOpen, didChange): the
# request that follows finds its parse ready, or one of a text that differs only by what was typed on a line or
# two (the imports and definitions the context reads from it are the same), and a fresh parse follows.
PREPARE_IDLE_S = 0.25
MINOR_EDIT_CHARS = 400
# A changed line that may bring an import or a definition: the buffer is parsed again before it is used.
_STRUCTURAL_LINE = re.compile(
    r"^\s*(?:@|#\s*include|(?:export\s+)?(?:import|from|use|using|require|package|mod|def|class|fn|func|function|"
    r"struct|enum|trait|impl|interface|type|module|namespace|extern|pub|object)\b)|\brequire\s*\("
)
WINDOW_CACHE = 32  # open files whose windows' identifier sets are kept
_SPOT = "hearth.spot"  # Hit.extra key: (content_hash, line) of a definition whose chunk text is still to be read


@dataclass(frozen=True, slots=True)
class RepoHandle:
    root: str
    repo_id: int
    snapshot_id: int


@dataclass
class ContextResult:
    items: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    dropped: int = 0
    degraded: bool = False  # a source failed (not merely slow): the result may be missing context

    def as_json(self) -> list[dict[str, Any]]:
        return [h.as_json() for h in self.items]


def rrf(rankings: Sequence[Sequence[Hit]], k: int = RRF_K, weights: Sequence[float] | None = None) -> list[Hit]:
    """Weighted reciprocal-rank fusion of ranked lists of hits, keyed by (path, start_line).

    A hit found by several lists keeps the symbol and kind of the first list that found it (put the
    most specific retriever first).
    """
    scores: dict[tuple[str, int], float] = {}
    best: dict[tuple[str, int], Hit] = {}
    sources: dict[tuple[str, int], set[str]] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights is not None and i < len(weights) else 1.0
        for rank, h in enumerate(ranking):
            key = (h.path, h.start_line)
            scores[key] = scores.get(key, 0.0) + w / (k + rank + 1)
            sources.setdefault(key, set()).add(h.source)
            if key not in best:
                best[key] = h
    out = []
    for key, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        h = best[key]
        src = sorted(sources[key])
        out.append(Hit(h.path, h.start_line, h.end_line, s, "+".join(src), h.text, h.symbol, h.kind, h.language))
    return out


_IDENT_QUERY = re.compile(r"\s*[^\W\d][\w]*(?:(?:\.|::|#)[^\W\d]\w*)*(?:\(\))?\s*")


def symbol_weight(query: str, idents: Sequence[str]) -> float:
    """How much the exact symbol-name matches count in the fusion.

    A query that is an identifier (``compute_total``, ``Store.search``) asks for its definition: the
    exact matches dominate. A short question naming a code-shaped identifier leans on them; a window
    of code (the completion query) weighs all retrievers alike.
    """
    if _IDENT_QUERY.fullmatch(query):
        return 4.0
    if (
        len(query) < 200
        and len(query.split()) <= 12
        and any("_" in i or any(c.isdigit() for c in i) or i[1:] != i[1:].lower() for i in idents)
    ):
        return 2.0
    return 1.0


def _code_like(ident: str, query: str) -> bool:
    """An identifier worth a symbol-name lookup: code-shaped, or the whole query is one word."""
    if len(ident) < 3 or ident in KEYWORDS:
        return False
    if "_" in ident or any(c.isdigit() for c in ident) or (ident[1:] != ident[1:].lower()):
        return True
    return query.strip() == ident or "(" in query or "=" in query or "." in query


def _code_identifiers(query: str, limit: int, scan_chars: int = 20_000) -> list[str]:
    """The distinct code-shaped identifiers (``_code_like``) of the query's first ``scan_chars``, in order, at
    most ``limit``."""
    return [i for i in dict.fromkeys(identifiers(query[:scan_chars])) if _code_like(i, query)][:limit]


def _keep_recent(cache: dict[str, Any], key: str, value: Any, limit: int) -> None:
    """Store ``value`` as the newest entry of a small per-document cache and drop the oldest beyond ``limit``
    (requests run on several threads: another one may trim it at the same time)."""
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > limit:
        try:
            cache.pop(next(iter(cache)))
        except (KeyError, StopIteration, RuntimeError):
            break


def _common_prefix(a: str, b: str) -> int:
    """The length of the common prefix of ``a`` and ``b``, by halving (slice comparisons run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _minor_edit(old: str, new: str) -> bool:
    """Whether ``new`` is ``old`` with one small edit (at most MINOR_EDIT_CHARS on at most two lines) whose lines
    bring no import or definition: the symbols a parse of either gives the context are the same."""
    if abs(len(new) - len(old)) > MINOR_EDIT_CHARS:
        return False
    prefix = _common_prefix(old, new)
    suffix = _common_prefix(old[prefix:][::-1], new[prefix:][::-1])  # after the prefix
    gone, came = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    if len(gone) > MINOR_EDIT_CHARS or len(came) > MINOR_EDIT_CHARS or gone.count("\n") + came.count("\n") > 2:
        return False
    # The whole lines the edit touches, before and after it.
    start = new.rfind("\n", 0, prefix) + 1
    end_new = new.find("\n", prefix + len(came))
    end_old = old.find("\n", prefix + len(gone))
    touched = (new[start : len(new) if end_new < 0 else end_new], old[start : len(old) if end_old < 0 else end_old])
    return not any(_STRUCTURAL_LINE.search(line) for part in touched for line in part.split("\n"))


def _module_matches(path: str, module: str, current_path: str) -> bool:
    """Does the file at ``path`` plausibly implement the imported ``module``?

    Called for every candidate definition and import of a request (thousands of pairs on a large index): the
    path arithmetic is done once per path and once per (module, importing file), the test itself is string
    comparisons."""
    stem_path, parent = _stem_parent(path)
    how, target = _module_target(module, current_path)
    if how == "rel-path":
        return stem_path.endswith(target.lstrip("./")) or stem_path == target or parent == target
    if how == "rel-module":
        return stem_path == target or parent == target or stem_path == target + "/__init__"
    return stem_path.endswith(target) or parent.endswith(target) or stem_path.endswith(target + "/__init__")


@functools.lru_cache(maxsize=65536)
def _stem_parent(path: str) -> tuple[str, str]:
    """A file's path without its suffix, and its directory."""
    p = PurePosixPath(path)
    return str(p.with_suffix("")), str(p.parent)


@functools.lru_cache(maxsize=4096)
def _module_target(module: str, current_path: str) -> tuple[str, str]:
    """What ``_module_matches`` compares paths with: a relative path import (./util), a relative module
    (..pkg.util) resolved against the importing file, or an absolute module as a path suffix."""
    mod = module.strip("\"'")
    if mod.startswith("."):
        # Relative import: ./util (JS/TS) or .util / ..pkg.util (Python)
        base = PurePosixPath(current_path).parent
        if "/" in mod:
            target = str(PurePosixPath(base, mod))
            target = re.sub(r"/\./", "/", target)
            return "rel-path", str(PurePosixPath(*[x for x in PurePosixPath(target).parts if x != "."]))
        dots = len(mod) - len(mod.lstrip("."))
        for _ in range(dots - 1):
            base = base.parent
        rest = mod.lstrip(".").replace(".", "/")
        return "rel-module", str(PurePosixPath(base, rest)) if rest else str(base)
    for sep in ("::", "."):
        if sep in mod and "/" not in mod:
            mod = mod.replace(sep, "/")
    return "suffix", mod.removeprefix("crate/")


_SITE = re.compile(
    r"(?P<recv>(?:[^\W\d]\w*(?:\(\))?(?:\.|::))*[^\W\d]\w*(?:\(\))?)?(?P<sep>\.|::)?(?P<partial>[^\W\d]\w*)?$"
)
_CAP = re.compile(r"[A-Z]\w*")
CALLABLE_KINDS = frozenset({"function", "method", "class", "macro", "type", "struct", "interface"})
# TypeScript's interfaces and type aliases exist only for the type checker: nothing calls them.
JS_CALLABLE_KINDS = CALLABLE_KINDS - {"type", "interface"}
_TYPED_JS = frozenset({"typescript", "tsx", "javascript"})
# Languages whose ``self.a.b`` receivers are typed field by field (Python and Go keep the buffer's assignments).
_FIELD_CHAINS = _TYPED_JS | {"rust"}


@dataclass(frozen=True, slots=True)
class CursorSite:
    """What is being typed at the cursor: ``recv.partial`` / ``Type::partial`` / a bare ``partial``."""

    receiver: str | None
    sep: str
    partial: str


def cursor_site(line_before: str) -> CursorSite:
    m = _SITE.search(line_before[-300:])
    if m is None:
        return CursorSite(None, "", "")
    sep = m.group("sep") or ""
    recv = m.group("recv") if sep else None
    if not sep and m.group("recv"):  # the name being typed ended up in recv: split off its last segment
        whole = (m.group("recv") or "") + (m.group("partial") or "")
        parts = re.split(r"(\.|::)", whole)
        if len(parts) == 1:
            return CursorSite(None, "", whole)
        return CursorSite("".join(parts[:-2]), parts[-2], parts[-1])
    return CursorSite(recv.rstrip(".:") if recv else None, sep, m.group("partial") or "")


def open_call_paren(line_before: str) -> int | None:
    """The column of the ``(`` of the innermost call still open at the end of ``line_before`` (a name right
    before it), or None. Brackets inside string literals are skipped."""
    quote = ""
    opens: list[int] = []
    for i, ch in enumerate(line_before):
        if quote:
            if ch == quote and line_before[i - 1 : i] != "\\":
                quote = ""
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in "([{":
            opens.append(i if ch == "(" else -1)
        elif ch in ")]}" and opens:
            opens.pop()
    if not opens or opens[-1] < 0:
        return None
    pos = opens[-1]
    before = line_before[:pos].rstrip()
    return len(before) if before[-1:].isalnum() or before[-1:] == "_" else None


_GO_TEST_FUNC = re.compile(r"(?:Test|Benchmark|Example|Fuzz)(?:[A-Z_\d]|$)")
_LHS = re.compile(r"([^\W\d][\w.]*(?:\s*,\s*[^\W\d][\w.]*)*)\s*(?::=|=|\+=)\s*$")


def call_slot(before_name: str) -> tuple[str | None, list[str]]:
    """What the call being typed feeds: a value (``x := ``, ``return ``, an argument), a condition
    (``if ``, ``!``, ``&&``), or nothing known; with the assigned names' words for an assignment."""
    t = before_name.rstrip()
    m = _LHS.search(t + " ") if re.search(r"(?::=|[^=!<>]=|\+=)$", t) else None
    if m:
        names = [x.strip().rsplit(".", 1)[-1] for x in m.group(1).split(",")]
        return "value", [n for n in names if n not in ("_", "err")]
    if re.search(r"(?:\bif|\bwhile|\belif|!|&&|\|\||\bnot|\band|\bor)$", t):
        return "cond", []
    if re.search(r"(?:\breturn|[(,]|\bin|\bmatch)$", t):
        return "value", []
    return None, []


_STATEMENT_TARGET = re.compile(r"\s*(?:(?:const|let|var|val)\s+)?(?:mut\s+)?([^\W\d][\w.]*)\s*(?::[^=]+)?(?::=|=)(?!=)")


def statement_target(line_before: str) -> list[str]:
    """The name a statement assigns (``inst.ulid = ...`` -> ulid, ``const total = ...`` -> total), when the line
    starts with an assignment."""
    m = _STATEMENT_TARGET.match(line_before)
    if not m:
        return []
    name = m.group(1).rsplit(".", 1)[-1]
    return [name] if name not in ("_", "err", "self", "this") else []


def _lhs_match(lhs: Sequence[Sequence[str]], name: str, name_terms: Sequence[str]) -> float:
    """How well a callee's name matches the variables its result is assigned to (0..1): shared words,
    words abbreviating each other (cfg/config), or the name spelling the variable's initials (ld). ``lhs`` holds
    each variable's words (``split_identifier``: split once per request, not once per candidate)."""
    best = 0.0
    low = name.lower()
    for words in lhs:
        if not words:
            continue
        if len(words) > 1 and low == "".join(w[0] for w in words):
            return 1.0
        hits = sum(
            1 for w in words if any(_word_match(w, t) for t in name_terms) or _abbreviates_run(w, name_terms)
        )
        best = max(best, hits / len(words))
    return best


@functools.lru_cache(maxsize=65536)
def _name_terms(name: str) -> tuple[str, ...]:
    """``query_terms`` of a definition's name or type (scored for every candidate of every request)."""
    return tuple(query_terms(name))


def _abbreviates_run(w: str, terms: Sequence[str]) -> bool:
    """Does ``w`` abbreviate two or more consecutive words of a name, a prefix of each (``bs`` for bool slice,
    ``ips`` for ip slice, ``uis`` for uint slice, ``sio`` for string io)?"""
    if not 2 <= len(w) <= 6 or len(terms) < 2:
        return False
    if not any(t[:1] == w[0] for t in terms[:-1]):
        return False  # a run starts at a word with w's first letter, and is two words long at least

    def rest(i: int, j: int, pieces: int) -> bool:  # w[i:] abbreviates terms[j], terms[j + 1]...
        if i == len(w):
            return pieces >= 2
        if j >= len(terms):
            return False
        t = terms[j]
        ends = range(i + 1, min(len(w), i + len(t)) + 1)
        return any(t.startswith(w[i:k]) and rest(k, j + 1, pieces + 1) for k in ends)

    return any(rest(0, j, 0) for j in range(len(terms) - 1))


_FUNC_DEF = re.compile(
    r"^[ \t]*(?:(?:pub(?:\([^)]*\))?|export|async|static|private|public|protected|unsafe|const|default|override)"
    r"[ \t]+)*"
    r"(?:function|func|def|fn)\b[ \t]*(?:\([^)]*\)[ \t]*)?([^\W\d]\w*)",
    re.MULTILINE,
)


def enclosing_function(before: str) -> str | None:
    """The name of the function whose body the cursor is in (the last function header of the text before it)."""
    last = None
    for m in _FUNC_DEF.finditer(before[-20_000:]):
        last = m.group(1)
    return last


def is_sibling(name: str, caller: str | None) -> bool:
    """Is ``name`` a sibling of the function being written: another member of the same family of names
    (``setUpBSFlagSet`` / ``setUpIPNetFlagSet``, ``newIntValue`` / ``newBoolValue``), sharing its first two words
    or its first and last words? Parallel implementations rarely call each other; a wrapper calling its helper
    (``parse`` / ``parseInner``: one name extends the other) is not a sibling."""
    if not caller or name == caller:
        return False
    a, b = name.lower().strip("_"), caller.lower().strip("_")
    if a[:1] != b[:1]:
        return False  # no shared first word (the test runs for every candidate: this settles most)
    if a.startswith(b) or b.startswith(a):
        return False  # ``uuidv6`` calling ``_uuidv6``: a wrapper and its implementation
    wa, wb = split_identifier(name), split_identifier(caller)
    if len(wa) < 2 or len(wb) < 2:
        return False
    return wa[:2] == wb[:2] or (wa[0] == wb[0] and wa[-1] == wb[-1])


def _word_match(w: str, t: str) -> bool:
    """Equal words, or one abbreviating the other (``cfg``/``config``, ``str``/``string``)."""
    if w == t:
        return True
    if min(len(w), len(t)) < 3:
        return False
    return t.startswith(w) or w.startswith(t) or _subsequence(w, t) or _subsequence(t, w)


@functools.lru_cache(maxsize=65536)
def _result_kind(detail: str, language: str | None) -> str | None:
    """``none`` for a function declared to return nothing, ``bool`` for a predicate, else None."""
    sig = detail.strip().rstrip("{:").strip()
    if language == "go":
        m = re.match(r"func\s*(?:\([^)]*\)\s*)?\w+\s*(?:\[[^\]]*\])?\s*\((.*)$", sig)
        if not m:
            return None
        depth, rest = 1, ""
        for i, ch in enumerate(m.group(1)):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                rest = m.group(1)[i + 1 :].strip()
                break
        else:
            return None
        return "none" if not rest else "bool" if rest == "bool" else None
    m = re.search(r"(?:->|\)\s*:)\s*([\w.\[\]| ]+)$", sig)
    if not m:
        return None
    ret = m.group(1).strip()
    if ret in ("None", "void", "()"):
        return "none"
    return "bool" if ret in ("bool", "boolean") else None


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return bool(short) and short[0] == long[:1] and all(ch in it for ch in short)


@functools.lru_cache(maxsize=2048)
def _type_patterns(var: str, language: str | None) -> list[re.Pattern[str]]:
    v = re.escape(var)
    t = r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
    # annotations; constructors and calls; Go :=; with ... as; Go parameters; Go var; Rust let x = T::new( / T {
    pats = [
        # annotations, TS/Rust types (Rust references with a lifetime: ``cmd: &'cmd mut Command``)
        rf"\b{v}[ \t]*:[ \t]*[\"']?(?:&[ \t]*(?:'\w+[ \t]+)?)?(?:mut[ \t]+)?(?:Optional\[)?{t}",
        rf"\b{v}[ \t]*(?::[ \t]*[^=]+)?=[ \t]*(?:await[ \t]+)?(?:new[ \t]+)?&?{t}[ \t]*[\(\{{<]",
        rf"\b{v}[ \t]*:=[ \t]*&?{t}[ \t]*[\(\{{]",  # Go short declarations
        rf"\bwith[ \t]+{t}[ \t]*\(.*\bas[ \t]+{v}\b",  # Python with ... as var
        rf"\b{v}[ \t]+\*?{t}[ \t]*[,)]",  # Go parameters and receivers
        rf"\bvar[ \t]+{v}[ \t]+\*?{t}",  # Go var declarations
        rf"\blet[ \t]+(?:mut[ \t]+)?{v}[ \t]*=[ \t]*&?(?:mut[ \t]+)?{t}(?:::\w+)?[ \t]*[\(\{{]",
    ]
    return [re.compile(p) for p in pats]


class ContextService:
    def __init__(
        self,
        store: Store,
        registry: LanguageRegistry,
        embedder: Embedder | None,
        *,
        source_timeout_s: float = 0.04,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        """``count_tokens`` counts a text's tokens for the completion model (a local estimate calibrated
        against the served tokenizer, see ``ModelRoles.count_tokens``); it is called for every item, so
        it must never ask the model server. Without it, a byte-based estimate is used."""
        self.store = store
        self.registry = registry
        self.embedder = embedder
        self.source_timeout_s = source_timeout_s
        self.count_tokens: Callable[[str], int] = count_tokens or estimate_tokens
        self._query_vectors: dict[str, tuple[str, np.ndarray]] = {}  # doc key -> (query text, vector)
        self._embedding_in_flight: set[str] = set()
        self._query_wanted: dict[str, str] = {}  # doc key -> the latest query to embed for it
        self._closing = False  # close() was called: a refresh cut short by the closed pool is not news
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-query-embed")
        self._type_cache: dict[tuple[int, int], tuple[float, list[str]]] = {}
        self._type_loads: dict[tuple[int, int], Future[None]] = {}
        self._type_sets: dict[tuple[int, int], tuple[list[str], frozenset[str]]] = {}
        # Hybrid search's concurrent legs (full text, vectors; symbol names run on the caller's thread) and the
        # definitions source's lookups (identifier definitions, the enclosing call).
        self._legs = ThreadPoolExecutor(max_workers=6, thread_name_prefix="hearth-search")
        self._maintenance = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-term-stats")
        self._stats_checked: dict[int, float] = {}
        self._parses: dict[str, tuple[str, ParsedFile]] = {}  # path -> (text, its parse), oldest first
        self._to_parse: dict[str, tuple[str, float]] = {}  # path -> (the newest text to parse, when it came)
        self._to_parse_lock = threading.Lock()
        self._requests = 0  # completion contexts being gathered now
        self._last_request = 0.0  # when the last one began or ended (monotonic)
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-buffer-parse")
        # path -> (text, the identifier sets of its 20-line windows): open files are re-read per request only
        # when they changed, not tokenised again for every keystroke in another file.
        self._windows: dict[str, tuple[str, list[tuple[int, frozenset[str]]]]] = {}
        self._stats_jobs: dict[int, Future[bool]] = {}
        self._prewarmed = False  # the vector index was loaded into memory (``prewarm``)
        self._tables_prewarmed = False  # and the tables a completion reads
        # (repo, snapshot) -> (when the counts were first kept, name -> reference count)
        self._ref_cache: dict[tuple[int, int], tuple[float, dict[str, int]]] = {}

    # -- hybrid search ----------------------------------------------------------------------------
    def search(
        self,
        repo: RepoHandle,
        query: str,
        k: int = 10,
        exclude_paths: Sequence[str] = (),
        vector: np.ndarray | None = None,
        use_vectors: bool = True,
        vector_deadline_s: float | None = None,
        use_names: bool = True,
        depth: int | None = None,
    ) -> list[Hit]:
        """Hybrid search: full text, symbol names and vectors, fused with RRF; best first.

        The retrievers are independent queries and run concurrently on the store's pool; the query's
        embedding (when no ``vector`` is given) is computed while the lexical ones run. With
        ``vector_deadline_s``, the vector leg is dropped if it has not finished that many seconds after
        the call began (a slow CPU embedder never holds up an answer that the lexical legs can give).
        """
        started = time.perf_counter()
        self._check_term_stats(repo)
        fetch = depth or max(k * 3, 20)  # each leg's results, fused by rank
        # The code words nearest the end of the query (the cursor), keywords left out; full text keeps the
        # rarest of them (by the repository's term statistics).
        words = [w for w in query_terms(query[-4000:], limit=256) if w not in _LOWER_KEYWORDS][-24:]
        idents = _code_identifiers(query, 24) if use_names else []
        rid, snap = repo.repo_id, repo.snapshot_id
        embedder = self.embedder if use_vectors and query.strip() else None

        def vector_leg() -> list[Hit]:
            assert embedder is not None
            vec = vector if vector is not None else embedder.embed([query[:4000]])[0]
            return self.store.search_vector(rid, snap, embedder.name, embedder.dim, vec, fetch, exclude_paths)

        legs: dict[str, Future[list[Hit]]] = {}
        if embedder is not None:
            legs["vector"] = self._legs.submit(vector_leg)
        if words:
            legs["fts"] = self._legs.submit(self.store.search_fts, rid, snap, words, fetch, exclude_paths)
        named = (
            self.store.search_symbol_names(rid, snap, idents, fetch, exclude_paths) if idents else []
        )  # on this thread: one leg fewer to hand over
        rankings: list[list[Hit]] = []
        weights: list[float] = []
        if idents:
            # First, so that a chunk found by name is named after the matching definition.
            exact = [h for h in named if h.score >= 0.8]
            rankings += [exact, [h for h in named if h.score < 0.8]]
            weights += [symbol_weight(query, idents), 1.0]
        if "fts" in legs:
            rankings.append(legs["fts"].result())
            weights.append(1.0)
        if "vector" in legs:
            timeout = None
            if vector_deadline_s is not None:
                timeout = max(0.0, vector_deadline_s - (time.perf_counter() - started))
            try:
                rankings.append(legs["vector"].result(timeout=timeout))
                weights.append(1.0)
            except FutureTimeout:
                log.debug("search: the vector leg missed its %.0f ms deadline", (vector_deadline_s or 0) * 1000)
        return rrf(rankings, weights=weights)[:k]

    def close(self) -> None:
        """Stop the background work (statistics refreshes, query embeddings) without waiting for it; the
        store is closed after this, and a refresh cut short is simply done again next time."""
        self._closing = True
        for pool in (self._maintenance, self._background, self._legs, self._parser):
            pool.shutdown(wait=False, cancel_futures=True)

    # -- term statistics ----------------------------------------------------------------------------
    def _check_term_stats(self, repo: RepoHandle) -> None:
        """At most once a minute per repository, check in the background whether its term statistics and the
        snapshot's reference counts are missing or stale (the chunk count moved by a tenth, or at all for ten
        minutes) and refresh them."""
        now = time.monotonic()
        if now - self._stats_checked.get(repo.repo_id, -1e9) < STATS_CHECK_S:
            return
        self._stats_checked[repo.repo_id] = now
        self._stats_jobs[repo.repo_id] = self._maintenance.submit(
            self._refresh_if_stale, repo.repo_id, repo.snapshot_id
        )

    @staticmethod
    def _stale(then: int | None, chunks: int, age: float | None) -> bool:
        return (
            then is None
            or abs(chunks - then) > 0.1 * max(chunks, 1)
            or (chunks != then and (age or 0) > STATS_MAX_AGE_S)
        )

    def _refresh_if_stale(self, repo_id: int, snapshot_id: int | None = None) -> bool:
        """Refresh the repository's term statistics and the snapshot's reference counts where stale; whether
        anything was refreshed."""
        refreshed = False
        try:
            then, chunks, age = self.store.term_stats_drift(repo_id)
            if self._stale(then, chunks, age):
                t0 = time.perf_counter()
                self.store.refresh_term_stats(repo_id)
                refreshed = True
                log.info(
                    "term statistics of repository %d: %d chunks in %.1f s", repo_id, chunks, time.perf_counter() - t0
                )
        except Exception as exc:  # statistics only speed search up; it works without them
            (log.debug if self._closing else log.warning)("term statistics refresh failed: %s", exc)
        if snapshot_id is None:
            return refreshed
        try:
            then, chunks, age = self.store.ref_stats_drift(repo_id, snapshot_id)
            if self._stale(then, chunks, age):
                t0 = time.perf_counter()
                names = self.store.refresh_ref_stats(repo_id, snapshot_id)
                refreshed = True
                log.info(
                    "reference counts of snapshot %d: %d names in %.1f s", snapshot_id, names, time.perf_counter() - t0
                )
        except Exception as exc:  # without them, references are counted per request
            (log.debug if self._closing else log.warning)("reference counts refresh failed: %s", exc)
        if not self._prewarmed:
            self.prewarm()
        return refreshed

    def prewarm(self) -> dict[str, Any] | None:
        """Load the vector index and the tables a completion reads into memory (``Store.prewarm``; once per service,
        by the first statistics check, off the request path); what was loaded, or None without pg_prewarm."""
        try:
            t0 = time.perf_counter()
            done = self.store.prewarm(
                self.embedder.name if self.embedder is not None else None, tables=not self._tables_prewarmed
            )
        except Exception as exc:  # a cold cache is only slower
            (log.debug if self._closing else log.warning)("prewarming the index failed: %s", exc)
            return None
        if done is not None:
            # Done, unless the vector index is still to come (the embeddings fill in after the index): then the next
            # check loads that alone.
            self._tables_prewarmed = True
            self._prewarmed = done["vector"] is not None or self.embedder is None
            done["seconds"] = round(time.perf_counter() - t0, 2)
            log.info("index loaded into memory: %s", done)
        return done

    def wait_term_stats(self, repo: RepoHandle, timeout_s: float | None = None) -> bool:
        """Check (and refresh if needed) the repository's term statistics and the snapshot's reference counts
        now; whether any were refreshed."""
        self._stats_checked[repo.repo_id] = time.monotonic()
        job = self._maintenance.submit(self._refresh_if_stale, repo.repo_id, repo.snapshot_id)
        self._stats_jobs[repo.repo_id] = job
        return job.result(timeout=timeout_s)

    # -- completion context -------------------------------------------------------------------------
    @contextmanager
    def _gathering(self) -> Iterator[None]:
        """While a completion context is gathered (background buffer parses wait for none to be)."""
        self._requests += 1
        self._last_request = time.monotonic()
        try:
            yield
        finally:
            self._requests -= 1
            self._last_request = time.monotonic()

    async def for_completion(
        self,
        repo: RepoHandle | None,
        path: str,
        text: str,
        line: int,
        col: int,
        *,
        budget_tokens: int = 1024,
        open_docs: Sequence[OpenDocument] = (),
        prompt_window: tuple[int, int] | None = None,
        k: int = 20,
        wait_for_all: bool = False,
        fresh_vector: bool = False,
    ) -> ContextResult:
        """Ranked context for a completion at (line, col) (0-based) of ``path`` holding ``text``."""
        with self._gathering():
            started = time.perf_counter()
            lines = text.split("\n")
            line = max(0, min(line, len(lines) - 1)) if lines else 0
            col = max(0, min(col, len(lines[line]) if lines else 0))
            timings: dict[str, float] = {}
            if repo is None:
                return ContextResult([], {"total_ms": 0.0})
            exclude = [path, *[d.path for d in open_docs if d.path and d.path != path]]
            timeout = None if wait_for_all else self.source_timeout_s
            failed: list[str] = []

            async def timed(name: str, coro: Any) -> list[Hit]:
                t0 = time.perf_counter()
                try:
                    res: list[Hit] = await coro
                    return res
                except Exception as exc:  # one failing source never breaks the others
                    log.warning("context source %s failed: %s", name, exc)
                    failed.append(name)
                    return []
                finally:
                    timings[f"{name}_ms"] = (time.perf_counter() - t0) * 1000

            window_lo = max(0, line - 20)
            query_text = "\n".join([*lines[window_lo:line], lines[line][:col]]) if lines else ""
            # The buffer is parsed (its imports and definitions: milliseconds, tens of them for a file of thousands
            # of lines) on the definitions' thread, while search already runs; the sources' time box starts once it
            # is parsed, as when the parse came first.
            loop = asyncio.get_running_loop()
            parsed_signal: asyncio.Future[None] = loop.create_future()

            def parse_then_define() -> list[Hit]:
                try:
                    parsed = self._parse(path, text)
                finally:
                    timings["parse_ms"] = (time.perf_counter() - started) * 1000
                    loop.call_soon_threadsafe(_resolve, parsed_signal)
                return self._definitions(repo, path, text, line, col, parsed, exclude)

            tasks = {
                "definitions": asyncio.ensure_future(timed("definitions", asyncio.to_thread(parse_then_define))),
                "search": asyncio.ensure_future(
                    timed(
                        "search",
                        asyncio.to_thread(self._search_for_completion, repo, path, query_text, exclude, fresh_vector),
                    )
                ),
            }
            others = [d for d in open_docs if d.path and d.path != path]
            if others:  # (no thread to hand over to when no other file is open)
                tasks["open_files"] = asyncio.ensure_future(
                    timed("open_files", asyncio.to_thread(self._open_file_windows, path, query_text, others))
                )
            parsed_or_failed: list[asyncio.Future[Any]] = [parsed_signal, tasks["definitions"]]
            await asyncio.wait(parsed_or_failed, return_when=asyncio.FIRST_COMPLETED)
            done, pending = await asyncio.wait(tasks.values(), timeout=timeout)
            if timeout is not None and tasks["definitions"] in pending:
                # The definitions are what the model cannot guess: a slow lookup (cold caches on a new
                # server, a loaded machine) gets a little longer rather than an empty prompt.
                more, pending = await asyncio.wait([tasks["definitions"]], timeout=timeout * DEFINITIONS_GRACE)
                done |= more
                pending = {t for t in tasks.values() if t not in done}
            for t in pending:
                t.cancel()
            results = {name: (t.result() if t in done and not t.cancelled() else []) for name, t in tasks.items()}
            for name, t in tasks.items():
                if t in pending:
                    timings[f"{name}_ms"] = self.source_timeout_s * 1000
                    log.debug("context source %s timed out", name)
            items = self._rank(results, prompt_window, path)
            fitted, dropped = _fit_budget(items, budget_tokens, self.count_tokens)
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            return ContextResult(fitted[:k], timings, dropped, degraded=bool(failed))

    def _parse(self, path: str, text: str) -> ParsedFile:
        """The buffer's parse, for its imports and definitions.

        The same text's parse when one is kept (a request on another line of a file not edited since), or, when
        the text differs from the last one parsed for this path by a small edit of a line or two that brings no
        import or definition (what is typed between two requests), that parse while the new text is parsed in
        the background; otherwise parsed now. The last few buffers are kept."""
        cached = self._parses.get(path)
        if cached is not None and cached[0] == text:
            return cached[1]
        if cached is not None and _minor_edit(cached[0], text):
            self.prepare(path, text)
            return cached[1]
        return self._parse_now(path, text)

    def _parse_now(self, path: str, text: str) -> ParsedFile:
        parsed = parse_source(self.registry, path, text.encode("utf-8", "replace"), chunks=False, refs=False)
        _keep_recent(self._parses, path, (text, parsed), PARSE_CACHE)
        return parsed

    def prepare(self, path: str, text: str, idle_s: float = PREPARE_IDLE_S) -> None:
        """Parse an open buffer off the request path, once no newer text has come for ``idle_s`` and no
        completion context has been gathered for as long (the server calls this on didOpen and didChange; a parse
        beside a request would compete with it for the interpreter)."""
        if self._closing or not path:
            return
        with self._to_parse_lock:
            first = path not in self._to_parse
            self._to_parse[path] = (text, time.monotonic() + idle_s)
        if first:
            try:
                self._parser.submit(self._prepare_when_quiet, path)
            except RuntimeError:  # closed
                self._to_parse.pop(path, None)

    def _prepare_when_quiet(self, path: str) -> None:
        while not self._closing:
            with self._to_parse_lock:
                text, due = self._to_parse[path]
                due = max(due, self._last_request + PREPARE_IDLE_S)
                wait = max(due - time.monotonic(), 0.01 if self._requests else 0.0)
                if wait <= 0:
                    del self._to_parse[path]  # a newer text from now on starts a job of its own
                    break
            time.sleep(wait)
        if self._closing:
            return
        cached = self._parses.get(path)
        if cached is None or cached[0] != text:
            try:
                self._parse_now(path, text)
            except Exception as exc:  # a parse that fails here is done again, and reported, on the request path
                log.debug("background parse of %s failed: %s", path, exc)

    async def for_chat(
        self,
        repo: RepoHandle | None,
        question: str,
        *,
        path: str | None = None,
        selection: str | None = None,
        budget_tokens: int = 6000,
        k: int = 24,
        vector_deadline_s: float | None = CHAT_VECTOR_DEADLINE_S,
    ) -> ContextResult:
        """Context for a question or a selection: hybrid search plus definitions of the symbols involved.

        Every item is citable as path:lines. The selection's own lines are not repeated. The vector leg
        (embedding the question included) is dropped when it takes longer than ``vector_deadline_s``.
        """
        started = time.perf_counter()
        if repo is None:
            return ContextResult([], {"total_ms": 0.0})
        query = "\n".join(x for x in (question, selection or "") if x)
        exclude = [path] if path and selection else []

        def gather() -> list[Hit]:
            names = [i for i in dict.fromkeys(identifiers(query[:20_000])) if len(i) > 2 and i not in KEYWORDS]
            # The definitions lookup runs beside the hybrid search (which embeds the question meanwhile), and so
            # do the callers of what the selection defines.
            found = self._legs.submit(self.store.definitions, repo.repo_id, repo.snapshot_id, names[:48], exclude, 60)
            calls = self._legs.submit(self._callers, repo, path or "", question, selection, exclude)
            hits = self.search(repo, query[:8000], k=k, exclude_paths=exclude, vector_deadline_s=vector_deadline_s)
            defs = [h for _, h in found.result()]
            callers = calls.result()
            ranked = [
                Hit(h.path, h.start_line, h.end_line, 1.0 + h.score, "definition", h.text, h.symbol, h.kind, h.language)
                for h in defs[:k]
            ]
            # Callers rank below the definitions and above the search results (their scores stay under 1).
            ranked += [
                Hit(h.path, h.start_line, h.end_line, 0.5 + h.score / 2, "caller", h.text, h.symbol, h.kind, h.language)
                for h in callers
            ]
            ranked += [
                Hit(h.path, h.start_line, h.end_line, h.score * 10, h.source, h.text, h.symbol, h.kind, h.language)
                for h in hits
            ]
            return self._rank({"definitions": [], "search": ranked}, None, path or "")

        items = await asyncio.to_thread(gather)
        fitted, dropped = _fit_budget(items, budget_tokens, self.count_tokens)
        return ContextResult(fitted[:k], {"total_ms": (time.perf_counter() - started) * 1000}, dropped)

    def _callers(
        self, repo: RepoHandle, path: str, question: str, selection: str | None, exclude: Sequence[str]
    ) -> list[Hit]:
        """Callers of what a selection defines; without a selection, of the code-shaped names the question
        mentions (``compute_total``, ``Cart.add``: a name with no references simply finds nothing)."""
        if selection:
            involved = self._defined_in(path, selection)
        else:
            involved = _code_identifiers(question[:4000], CHAT_CALLER_NAMES)
        if not involved:
            return []
        return self.store.callers(repo.repo_id, repo.snapshot_id, involved, exclude)

    def _defined_in(self, path: str, selection: str) -> list[str]:
        """The names a selection defines (functions, methods, classes: what its callers call), outermost first."""
        try:
            parsed = parse_source(self.registry, path, textwrap.dedent(selection).encode("utf-8", "replace"))
        except Exception as exc:  # a selection that does not parse has no definitions to follow
            log.debug("selection not parsed: %s", exc)
            return []
        defs = [sym for sym in parsed.symbols if sym.role == "def" and sym.kind not in ("variable", "constant")]
        return list(dict.fromkeys(sym.name for sym in defs))[:CHAT_CALLER_NAMES]

    def _definitions(
        self, repo: RepoHandle, path: str, text: str, line: int, col: int, parsed: ParsedFile, exclude: Sequence[str]
    ) -> list[Hit]:
        """The callee at the cursor (and the call whose arguments it is in), then the definitions of the
        identifiers around it. Candidates are ranked on symbol rows; the chunk texts of the items kept are
        read in one round trip at the end."""
        # The identifier definitions run on the search pool while this thread predicts the callee (one connection
        # more per request: with search's three legs, five of the store's six).
        idents = self._legs.submit(self._identifier_definitions, repo, path, text, line, col, parsed, exclude)
        # Inside a call's arguments: the called function's signature comes first (its exact name: cheap lookups, on
        # the search pool too, while this thread predicts the callee).
        lines = text.split("\n")
        paren = open_call_paren(lines[line][:col]) if line < len(lines) else None
        called = (
            self._legs.submit(self._callees, repo, path, text, line, paren, parsed, exclude, exact=True)
            if paren is not None
            else None
        )
        callees = [
            replace(h, score=2.5 + h.score / (1.0 + h.score))
            for h in self._callees(repo, path, text, line, col, parsed, exclude)
        ]
        enclosing = (
            [replace(h, score=3.5 + h.score / (1.0 + h.score)) for h in called.result()[:2]] if called else []
        )
        items = enclosing + callees + idents.result()
        return self._with_texts(repo, items)

    def _ref_counts(self, repo: RepoHandle, names: Sequence[str]) -> dict[str, int]:
        """How often each name is referenced in the snapshot (the callees' popularity prior), kept for
        REF_COUNT_TTL_S: the candidates of successive requests in a file are mostly the same names, and the counts
        change only with the background refresh of the reference statistics."""
        now = time.monotonic()
        key = (repo.repo_id, repo.snapshot_id)
        cache = self._ref_cache.get(key)
        if cache is None or now - cache[0] > REF_COUNT_TTL_S or len(cache[1]) > 50_000:
            cache = self._ref_cache[key] = (now, {})
        known = cache[1]
        missing = [n for n in names if n not in known]
        if missing:
            found = self.store.ref_counts(repo.repo_id, repo.snapshot_id, missing)
            for n in missing:
                known[n] = found.get(n, 0)
        return {n: known[n] for n in names}

    def _with_texts(self, repo: RepoHandle, items: Sequence[Hit]) -> list[Hit]:
        """Fill in the chunk (lines, text) of items that carry a blob and line in ``extra`` (``_SPOT``); items
        whose chunk is gone are left out."""
        spots = [h.extra[_SPOT] for h in items if _SPOT in h.extra]
        found = iter(self.store.chunks_at(repo.repo_id, spots, with_text=True) if spots else [])
        out: list[Hit] = []
        for h in items:
            if _SPOT not in h.extra:
                out.append(h)
                continue
            ch = next(found)
            if ch is not None:
                start, end, language, body, _ = ch
                out.append(
                    replace(
                        h, start_line=start, end_line=end, text=body or "", language=language or h.language, extra={}
                    )
                )
        return out

    def _identifier_definitions(
        self, repo: RepoHandle, path: str, text: str, line: int, col: int, parsed: ParsedFile, exclude: Sequence[str]
    ) -> list[Hit]:
        local_defs = {s.name for s in parsed.symbols if s.role == "def"}
        imports = [s for s in parsed.symbols if s.role == "import"]
        imported_names = {s.name: s for s in imports}
        wanted: list[str] = []
        for ident in identifiers_near(text, line, col):
            if len(ident) < 3 or ident in KEYWORDS or ident in wanted:
                continue
            if ident in local_defs and ident not in imported_names:
                continue
            wanted.append(ident)
            if len(wanted) >= 24:
                break
        # Names the file imports: the original name when aliased.
        for s in imports:
            name = s.detail or s.name
            if name not in wanted and len(name) > 2:
                wanted.append(name)
        if not wanted:
            return []
        # At most IDENTIFIER_PER_NAME definitions of each name are ranked (a name defined hundreds of times costs
        # no more than that); three of each are kept.
        names = wanted[:48]
        rows = self.store.def_symbols(
            repo.repo_id, repo.snapshot_id, names, exclude, limit=len(names) * IDENTIFIER_PER_NAME,
            per_name=IDENTIFIER_PER_NAME,
        )
        modules = [s.scope or "" for s in imports]
        proximity = {name: i for i, name in enumerate(wanted)}
        cur_dir = str(PurePosixPath(path).parent)
        per_name: dict[str, int] = {}
        scored: list[tuple[float, DefRow]] = []
        for d in rows:
            rank = proximity.get(d.name, len(wanted))
            base = 1.0 / (1.0 + 0.15 * rank)
            imp = imported_names.get(d.name)
            if imp is not None and _module_matches(d.path, imp.scope or "", path):
                boost = 2.0
            elif any(m and _module_matches(d.path, m, path) for m in modules):
                boost = 1.6
            elif _stem_parent(d.path)[1] == cur_dir:
                boost = 1.3
            else:
                boost = 1.0
            if d.scope and d.kind == "method":
                boost *= 0.9
            scored.append((base * boost, d))
        scored.sort(key=lambda sd: (-sd[0], sd[1].path, sd[1].line))
        out = []
        for score, d in scored:
            per_name[d.name] = per_name.get(d.name, 0) + 1
            if per_name[d.name] > 3:
                continue
            out.append(_def_hit(d, score))
            if len(out) >= IDENTIFIER_DEFS:
                break
        return out

    # -- the callee at the cursor -----------------------------------------------------------------
    def _callees(
        self,
        repo: RepoHandle,
        path: str,
        text: str,
        line: int,
        col: int,
        parsed: ParsedFile,
        exclude: Sequence[str],
        exact: bool = False,
    ) -> list[Hit]:
        """Definitions the user is probably about to call at the cursor, best first (without their text:
        ``_with_texts`` reads it).

        A bare name: the file's imports (resolved to their modules) and, in Go, the package's other
        files. ``recv.``/``Type::``: the receiver's type, inferred from annotations, constructors,
        assignments and parameters in the buffer (or the enclosing class for self/this), then the
        type's members and its bases' members; a module or package receiver gives its top-level
        definitions. Ranked by whether the name is already used in the buffer, its popularity in
        the repository and its overlap with the words around the cursor.
        """
        lines = text.split("\n")
        if not lines or line >= len(lines):
            return []
        line_before = lines[line][:col]
        site = cursor_site(line_before)
        language = parsed.language
        before = "\n".join([*lines[max(0, line - 400) : line], line_before])
        # Types and fields are declared anywhere above (a struct at the top of a long file): receivers are typed from
        # the whole text before the cursor.
        head = text[: sum(len(x) + 1 for x in lines[:line]) + col]
        imports = [s for s in parsed.symbols if s.role == "import"]
        cur_dir = str(PurePosixPath(path).parent)
        cands: list[tuple[float, DefRow]] = []
        rid, snap = repo.repo_id, repo.snapshot_id
        partial = site.partial.lower()
        # Only callables whose name starts with what is typed (is it, for ``exact``) can be ranked: the queries
        # leave the rest out, so that their limits never cut the candidates that count.
        callable_kinds = JS_CALLABLE_KINDS if language in _TYPED_JS else CALLABLE_KINDS
        flt: dict[str, Any] = {"kinds": sorted(callable_kinds), "prefix": partial or None, "exact": exact}
        if site.receiver is None and site.sep:
            pass  # ``).`` or a line starting with ``.``: a chain's member, typed below
        elif site.receiver is None:
            by_name = {(s.detail or s.name): s for s in imports}
            if by_name:
                for d in self.store.def_symbols(
                    rid, snap, list(by_name)[:200], exclude, limit=600, top_level=True, **flt
                ):
                    imp = by_name.get(d.name)
                    if imp is None:
                        continue
                    cands.append((1.0 if _module_matches(d.path, imp.scope or "", path) else 0.5, d))
            if language == "go":
                pattern = "%.go" if cur_dir == "." else f"{_like_escape(cur_dir)}/%.go"
                in_test = path.endswith("_test.go")
                # Test files are invisible to the package's other files (and read here only by tests).
                skip = [] if in_test else ["%\\_test.go"]
                for d in self.store.path_def_symbols(
                    rid, snap, [pattern], exclude, limit=2000, no_methods=True, skip_patterns=skip, **flt
                ):
                    if d.path.endswith("_test.go") and (not in_test or _GO_TEST_FUNC.match(d.name)):
                        continue  # test files are invisible to the package; test functions are never called
                    if _stem_parent(d.path)[1] == cur_dir or (cur_dir == "." and "/" not in d.path):
                        cands.append((0.9, d))
        else:
            cands = self._members(repo, path, site, head, language, imports, exclude, flt)
        if not cands and site.sep and (site.receiver is None or "()" in site.receiver):
            # A chain (``Command::new("git").about("x").``, a builder continued on the next line): the type its
            # calls return, step by step.
            chain = receiver_chain(before[: len(before) - len(site.partial)][:-len(site.sep)] if site.sep else "")
            chain_types = self._chain_type(repo, chain, head, language) if chain else []
            if chain_types:
                cands = self._members(repo, path, site, head, language, imports, exclude, flt, chain_types)
        cands = [
            (w, d)
            for w, d in cands
            if d.kind in callable_kinds and (d.name.lower() == partial if exact else d.name.lower().startswith(partial))
        ]
        if not cands:
            return []
        used = set(identifiers(before[-60_000:]))
        near = set(query_terms("\n".join(lines[max(0, line - 6) : line + 1])))
        # What the call feeds, read before its receiver (``getBS, err := f.``: an assignment to getBS).
        head_of_call = line_before[: len(line_before) - len(site.partial) - len(site.sep) - len(site.receiver or "")]
        slot, lhs = call_slot(head_of_call if site.sep else line_before[: len(line_before) - len(site.partial)])
        if site.sep and lhs and re.search(r"(?:[(,]\s*\w+\s*=|\+=)\s*$", head_of_call):
            # ``type=click.``: a keyword argument, whose name says what is expected, not what is computed;
            # ``self.style += _Style.``: the call's result is an operand, the target names the sum.
            lhs = []
        lhs_weight = 0.8
        if not lhs:
            # Deeper in the statement (``inst.ulid = (params) => inst.check(core.``): what the statement assigns
            # still names what it computes, less surely.
            statement = line_before[: len(line_before) - len(site.partial)]
            if site.receiver is None and site.sep and not statement.strip(" \t.:"):
                k = line - 1  # a chain continued line after line: the statement starts where the chain does
                while k > 0 and lines[k].lstrip().startswith("."):
                    k -= 1
                statement = lines[k] if k >= 0 else ""
            lhs, lhs_weight = statement_target(statement), 0.4
        caller = enclosing_function(before)
        # Rust: examples, integration tests and benches are crates of their own, which see only ``pub`` items.
        external = language == "rust" and bool(re.match(r"(?:.*/)?(?:examples|tests|benches)/", path))
        continued = site.receiver is None and line_before.strip() == site.sep + site.partial
        pop = self._ref_counts(repo, list(dict.fromkeys(d.name for _, d in cands))[:500])
        lhs_words = [split_identifier(v) for v in lhs]

        def factor(name: str, detail: str) -> float:
            """The callee's score apart from where it is defined (w): the same for every copy of a name."""
            score = 1.0
            if name.startswith("__") and name.endswith("__"):
                score *= 0.3
            if name not in used:
                score *= 1.6
            if is_sibling(name, caller):
                score *= 0.5
            if language == "rust":
                score *= _rust_visibility(detail, external)
                if continued and _declared_return(detail, "Self") == "Self":
                    score *= 1.5  # a chain continued line after line is a builder: its links return Self
            score *= 1.0 + 0.15 * math.log1p(pop.get(name, 0))
            name_terms = _name_terms(name)
            overlap = sum(1 for t in name_terms if t in near)
            score *= 1.0 + 0.25 * overlap
            if lhs:  # ``levenshteinDistance := ld(``, ``cfg := GetActiveHelpConfig(``
                match = _lhs_match(lhs_words, name, name_terms)
                ret = _declared_return(detail, None)
                if ret and match < 1.0:  # ``let styled = self.cmd.`` -> ``fn write_help_err(..) -> StyledStr``
                    match = max(match, 0.6 * _lhs_match(lhs_words, ret, _name_terms(ret)))
                score *= 1.0 + lhs_weight * match
            if slot:
                returns = _result_kind(detail, language)
                if slot == "value" and returns == "none":
                    score *= 0.3
                elif slot == "cond" and returns == "bool":
                    score *= 1.8
            return float(score)

        factors: dict[tuple[str, str], float] = {}
        scored: list[tuple[float, DefRow]] = []
        for w, d in cands:
            key = (d.name, d.detail or "")
            f = factors.get(key)
            if f is None:
                f = factors[key] = factor(*key)
            scored.append((float(w * f), d))
        # The chunks of the best-scored definitions only: a chunk's total is at most 1.45 times its best
        # definition's score, so a definition far down this list almost never names one of the top 16.
        order = sorted((-sc, d.path, d.line, i) for i, (sc, d) in enumerate(scored))  # no key function: 3,000 calls
        scored = [scored[o[3]] for o in order[:CALLEE_CHUNK_PROBES]]
        spans = self.store.chunks_at(rid, [(d.content_hash or "", d.line) for _, d in scored])
        per_chunk: dict[tuple[str, int], list[float]] = {}
        first: dict[tuple[str, int], tuple[float, DefRow, tuple[int, int]]] = {}
        for (score, d), span in zip(scored, spans, strict=True):
            if span is None:
                continue
            key = (d.path, span[0])
            per_chunk.setdefault(key, []).append(score)
            if key not in first or score > first[key][0]:
                first[key] = (score, d, (span[0], span[1]))  # the chunk is named after its most likely callee
        totals = []
        for key, scores in per_chunk.items():
            scores.sort(reverse=True)
            totals.append((-(scores[0] + 0.15 * sum(scores[1:4])), key))
        totals.sort()
        ranked = []
        for neg, key in totals[:16]:  # (the best score, then path and first line, as items are ranked)
            _, d, (start, end) = first[key]
            ranked.append(
                replace(_def_hit(d, -neg), start_line=start, end_line=end, extra={_SPOT: (d.content_hash, start)})
            )
        return ranked

    def _members(
        self,
        repo: RepoHandle,
        path: str,
        site: CursorSite,
        before: str,
        language: str | None,
        imports: Sequence[Any],
        exclude: Sequence[str],
        flt: dict[str, Any],
        known_types: Sequence[str] = (),
    ) -> list[tuple[float, DefRow]]:
        """Candidate members for ``recv.``: a module's top-level definitions, or the members of the receiver's
        type (``known_types`` when the caller inferred them) and of its bases."""
        rid, snap = repo.repo_id, repo.snapshot_id
        recv = "" if known_types else site.receiver or ""
        root = re.split(r"\.|::", recv)[0].removesuffix("()")
        last = re.split(r"\.|::", recv)[-1].removesuffix("()")
        out: list[tuple[float, DefRow]] = []
        if not known_types and language in _TYPED_JS and recv == root and _CAP.fullmatch(root):
            # ``Notification.createNext(``: an imported class's static members before the module's functions.
            typed = self._members(repo, path, site, before, language, imports, exclude, flt, known_types=[root])
            if typed:
                return typed
        # A module or package: its top-level definitions.
        if "()" not in recv:
            for imp in imports:
                if imp.name != root:
                    continue
                module = imp.scope or ""
                if imp.detail:  # from pkg import module
                    module = f"{module}.{imp.detail}" if not module.endswith(".") else module + imp.detail
                rest = recv[len(root) :].lstrip(".:")
                if rest and language != "go":
                    module = f"{module}.{rest.replace('::', '.')}"
                patterns = _module_path_patterns(module, path, language)
                rows = self.store.path_def_symbols(rid, snap, patterns, exclude, limit=3000, **flt)
                out += [(_depth_weight(d.path, patterns), d) for d in rows]
            if not out and language == "rust" and site.sep == "::" and root == recv and root[:1].islower():
                # ``backtrack::`` with no ``use``: a module of the crate (``mod backtrack;``), in backtrack.rs or
                # backtrack/mod.rs.
                patterns = _module_path_patterns(root, path, language)
                out += [(0.9, d) for d in self.store.path_def_symbols(rid, snap, patterns, exclude, limit=3000, **flt)]
            if out:
                return out
        types: list[tuple[str, float]] = [(t, 1.0) for t in known_types]
        if known_types:
            pass
        elif recv in ("self", "this", "Self", "cls"):
            types += [(t, 1.0) for t in _enclosing_types(before, language)]
            # The bases named on the enclosing class's header (the file itself is not searched: its own class row
            # is not there to name them), and the trait an ``impl Trait for T`` block implements.
            types += [(b, 0.9) for b in _enclosing_bases(before) if b not in dict(types)]
        elif _CAP.fullmatch(last) and (site.sep == "::" or language in ("python", "typescript", "javascript")):
            # ``use crate::error::Error as ClapError``: the type's own name
            original = next((imp.detail for imp in imports if imp.name == last and imp.detail), None)
            types.append((original or last, 1.0))
        if not types and language in _FIELD_CHAINS and re.fullmatch(r"(?:self|this)(?:\.\w+)+", recv):
            # ``self.ro.nfa.``: each field's type from its declaration (in the buffer, else in the type's body)
            types += [(t, 1.0) for t in self._chain_type(repo, receiver_chain(recv), before, language)]
        if not types and recv.endswith("()"):  # a call's result: the method's declared return type
            ret = self._return_type(repo, last, exclude)
            if ret:
                types.append((ret, 0.9))
        recent = _recent_lines(before)  # variables are typed from the last few hundred lines
        bound = _binding(recv, recent) if not types and re.fullmatch(r"[^\W\d]\w*", recv) else None
        chain = receiver_chain(bound[0]) if bound is not None else []
        if bound is not None and (bound[1] or any(st.sep == "." and st.call for st in chain[1:])):
            # ``let ma = self.get_mut(arg).expect(..);``, ``for sc in cmd.get_subcommands() {``: the type of the
            # chain of calls the variable was bound to (an element of it for a loop variable), not its first link's.
            types += [(t, 0.9) for t in self._chain_type(repo, chain, before, language, element=bound[1])]
        if not types:
            for var in dict.fromkeys([recv, last]):
                found = _infer_type(var, recent, language)
                if found:
                    types.append((found, 1.0))
                    break
        if not types and chain and not (len(chain) == 1 and not chain[0].call):
            types += [(t, 0.9) for t in self._chain_type(repo, chain, before, language)]  # ``cfg := load(path)``
        resolved: list[tuple[str, float]] = []
        for t, w in types:
            t = t.rsplit(".", 1)[-1].rsplit("::", 1)[-1]
            if t[:1].islower() and t not in ("self",):  # a factory function: its declared return type
                ret = self._return_type(repo, t, exclude)
                if ret:
                    resolved.append((ret, w * 0.9))
            elif t and language == "go" and not known_types and t not in self._type_names_set(repo):
                # ``f := NewFlagSet(``: Go's exported functions are capitalized like its types
                ret = self._return_type(repo, t, exclude)
                resolved.append((ret, w * 0.9) if ret else (t, w))
            elif t:
                resolved.append((t, w))
        if not resolved and not known_types:
            resolved = [(t, 0.6) for t in self._types_named_like(repo, last)]
        if not resolved and split_identifier(last):
            resolved = [(t, 0.5) for t in self._types_named_like(repo, split_identifier(last)[-1])]
        if not resolved:
            return []
        weights = dict(resolved)
        rows = self.store.member_symbols(rid, snap, list(weights), exclude)
        bases: dict[str, float] = {}
        for d in rows:
            owner = _owner_type(d)
            if d.name in weights and d.kind not in ("method", "function"):
                for b in _bases(d.detail or ""):
                    if b not in weights:
                        bases[b] = weights[d.name] * 0.8
                continue
            out.append((weights.get(owner, 0.8), d))
        if bases:
            for d in self.store.member_symbols(rid, snap, list(bases)[:12], exclude):
                if d.kind in ("method", "function"):
                    out.append((bases.get(_owner_type(d), 0.6), d))
        return out

    def _chain_type(
        self,
        repo: RepoHandle,
        chain: Sequence[ChainStep],
        before: str,
        language: str | None,
        element: bool = False,
    ) -> list[str]:
        """The types a chain of calls may evaluate to (at most ``CHAIN_TYPES``, usually one): its root typed from
        the buffer (``self``, a variable, a type named before ``::``), then each call's declared return type on
        the types so far, ``Self`` being the type the method belongs to. A call whose definitions on the types so
        far disagree keeps every answer; more than ``CHAIN_TYPES`` leave the chain untyped. The calls' definitions
        are read in one round trip. ``before`` is the whole buffer before the cursor (the enclosing ``impl`` and the
        struct's fields may be far above). With ``element``, the last call's result is a collection or an iterator
        and the type of its elements is wanted (a loop variable)."""
        while len(chain) > 1 and chain[1].sep == "::" and not chain[0].call and not _CAP.match(chain[0].name):
            chain = chain[1:]  # a module path: ``clap::Command::new(``, ``crate::x::f(``
        first = chain[0]
        types: set[str] | None = None  # None: unknown (any type)
        rest = list(chain[1:])
        if first.name == UNKNOWN_ROOT:
            pass  # typed by the calls that follow
        elif first.name in ("self", "this", "Self"):
            found = _enclosing_types(before, language)
            if not found:
                return []
            types = {found[0]}
        elif _CAP.fullmatch(first.name) and not first.call:
            types = {first.name}
        elif not first.call:
            t = _infer_type(first.name, _recent_lines(before), language)
            if not t:
                return []
            types = {t.rsplit(".", 1)[-1].rsplit("::", 1)[-1]}
        else:
            rest = list(chain)  # a free function's result
        calls = [st.name for st in rest if st.call]
        defs = self.store.def_symbols(
            repo.repo_id, repo.snapshot_id, list(dict.fromkeys(calls)), (), limit=400, kinds=["function", "method"]
        ) if calls else []
        by_name: dict[str, list[DefRow]] = {}
        for d in defs:
            by_name.setdefault(d.name, []).append(d)
        for i, st in enumerate(rest):
            if not st.call:  # a field
                if types is None or len(types) != 1:
                    return []
                field_type = self._field_type(repo, next(iter(types)), st.name, before, language)
                if not field_type:
                    return []
                types = {field_type}
                continue
            options = [
                d for d in by_name.get(st.name, []) if _method_accepts(d.detail or "", st.sep, st.args, language)
            ]
            own = [d for d in options if types is None or _owner_type(d) in types]
            if not own and types and st.name in _SAME_TYPE_CALLS:
                continue  # ``.clone()``, ``.unwrap()``: the same type (or what it wraps) on
            if not own and types and options and all(_owner_type(d) for d in options):
                own = options  # a trait's or a base's method: any definition of the name
            if element and i == len(rest) - 1:
                nxt = {_element_type(d.detail or "", _owner_type(d) or None) for d in own}
            else:
                nxt = {_declared_return(d.detail or "", _owner_type(d) or None) for d in own}
            nxt.discard(None)
            if not nxt or len(nxt) > CHAIN_TYPES:
                return []
            types = {t for t in nxt if t}
        if element and (not rest or not rest[-1].call):
            return []  # the elements of a field or a variable: not known here
        return sorted(types) if types else []

    def _field_type(self, repo: RepoHandle, owner: str, field: str, before: str, language: str | None) -> str | None:
        """The type of ``owner``'s field: a tuple struct's n-th field (``self.0``) or a field annotated in the
        buffer (``cmd: &'cmd Command``), else the type the field's name abbreviates (``cmd`` -> Command)."""
        if field.isdigit():
            m = re.search(rf"\bstruct\s+{re.escape(owner)}\s*(?:<[^>]*>)?\s*\(([^;{{]*)\)\s*;", before)
            if not m:
                return None
            parts = _split_params(m.group(1))
            n = int(field)
            if n >= len(parts):
                return None
            names = [x for x in re.findall(r"[A-Za-z_]\w*", re.sub(r"'\w+", "", parts[n])) if x not in ("pub", "crate")]
            while names and names[0] in _WRAPPERS and len(names) > 1:
                names = names[1:]
            return names[0] if names and names[0][:1].isupper() else None
        found = _infer_type(field, before, language)
        if not found:  # declared in the type's body in another file
            for decl in self.store.field_declarations(repo.repo_id, repo.snapshot_id, [owner], field):
                found = _annotation_type(decl)
                if found:
                    break
        if not found:
            named = self._types_named_like(repo, field)
            found = named[0] if named else None
        return found.rsplit(".", 1)[-1].rsplit("::", 1)[-1] if found else None

    def _return_type(self, repo: RepoHandle, func: str, exclude: Sequence[str]) -> str | None:
        for d in self.store.def_symbols(repo.repo_id, repo.snapshot_id, [func], (), limit=5):
            found = re.findall(r"(?:->|\)\s*:|\))\s*&?(?:mut\s+)?\*?([A-Z]\w*)", d.detail or "")
            if found and found[-1] not in ("Self",):
                return str(found[-1])
        return None

    def _types_named_like(self, repo: RepoHandle, var: str) -> list[str]:
        """Types whose name the variable abbreviates: ``ctx`` -> Context, ``formatter`` -> HelpFormatter."""
        v = var.strip("_").lower()
        if len(v) < 2:
            return []
        names = self._type_names(repo)
        exact = [n for n in names if n.lower() == v]
        if exact:
            return exact[:3]
        suffix = [n for n in names if n.lower().endswith(v) and len(v) >= 4]
        if suffix:
            return sorted(suffix, key=len)[:3]
        return sorted((n for n in names if _subsequence(v, n.lower())), key=len)[:3]

    def _type_names_set(self, repo: RepoHandle) -> frozenset[str]:
        """``_type_names`` as a set (built once per list)."""
        names = self._type_names(repo)
        key = (repo.repo_id, repo.snapshot_id)
        cached = self._type_sets.get(key)
        if cached is None or cached[0] is not names:
            cached = self._type_sets[key] = (names, frozenset(names))
        return cached[1]

    def _type_names(self, repo: RepoHandle) -> list[str]:
        """The snapshot's type names: read once, then refreshed in the background when older than 30 s while
        requests use the previous list. Listing them takes milliseconds on a small index and over half a second at
        1M chunks: the first request waits at most TYPE_NAMES_WAIT_S for them and otherwise goes on without
        (the list arrives in the background for the next ones)."""
        key = (repo.repo_id, repo.snapshot_id)
        cached = self._type_cache.get(key)
        now = time.monotonic()
        if cached is None:
            loading = self._type_loads.get(key)
            if loading is None:

                def load() -> None:
                    try:
                        self._type_cache[key] = (time.monotonic(), self.store.type_names(*key))
                    finally:
                        self._type_loads.pop(key, None)

                loading = self._type_loads[key] = self._legs.submit(load)
            try:
                loading.result(timeout=TYPE_NAMES_WAIT_S)
            except FutureTimeout:
                return []
            cached = self._type_cache.get(key)
            return cached[1] if cached is not None else []
        elif now - cached[0] > 30:
            self._type_cache[key] = (now, cached[1])  # one refresh at a time

            def refresh() -> None:
                try:
                    self._type_cache[key] = (time.monotonic(), self.store.type_names(repo.repo_id, repo.snapshot_id))
                except Exception as exc:
                    log.debug("type names refresh failed: %s", exc)

            self._maintenance.submit(refresh)
        return cached[1]

    def _search_for_completion(
        self, repo: RepoHandle, path: str, query: str, exclude: Sequence[str], fresh: bool = False
    ) -> list[Hit]:
        vec = None
        if self.embedder is not None and fresh and query.strip():
            vec = self.embedder.embed([query[-4000:]])[0]
        elif self.embedder is not None:
            cached = self._query_vectors.get(path)
            vec = cached[1] if cached else None
            # The vector of the previous request for this document is good enough for a keystroke;
            # refresh it in the background so the next request sees the current window.
            self._refresh_query_vector(path, query)
        hits = self._search_without_new_embedding(repo, query, exclude, vec)
        return [
            Hit(h.path, h.start_line, h.end_line, h.score, "search:" + h.source, h.text, h.symbol, h.kind, h.language)
            for h in hits
        ]

    def _search_without_new_embedding(
        self, repo: RepoHandle, query: str, exclude: Sequence[str], vec: np.ndarray | None
    ) -> list[Hit]:
        """Hybrid search that never embeds the query here: vectors only when one is at hand."""
        # No symbol-name leg: the definitions source already looks up the identifiers near the cursor. Full text
        # alone needs no deeper list than the ten kept (each hit's text is read); with vectors, twice that to fuse.
        return self.search(
            repo, query, k=10, exclude_paths=exclude, vector=vec, use_vectors=vec is not None, use_names=False,
            depth=20 if vec is not None else 10,
        )

    def _refresh_query_vector(self, key: str, query: str) -> None:
        """Embed the query for the next request of this document, off the request's path: after a short delay
        (the request that asked is answered by then; a CPU model's inference beside it slowed it down), and
        the latest query asked for by then."""
        if self.embedder is None:
            return
        cached = self._query_vectors.get(key)
        if cached and cached[0] == query:
            return
        self._query_wanted[key] = query
        if key in self._embedding_in_flight:
            return
        self._embedding_in_flight.add(key)
        embedder = self.embedder

        def work() -> None:
            try:
                time.sleep(QUERY_VECTOR_DELAY_S)
                wanted = self._query_wanted.pop(key, query)
                self._query_vectors[key] = (wanted, embedder.embed([wanted[-4000:]])[0])
            except Exception as exc:
                log.debug("query embedding failed: %s", exc)
            finally:
                self._embedding_in_flight.discard(key)

        self._background.submit(work)

    def _open_file_windows(self, path: str, query: str, open_docs: Sequence[OpenDocument]) -> list[Hit]:
        """The 20-line window (stride 10) of each other open file most similar to the query by Jaccard
        over identifier sets (as RepoCoder and Copilot); the best three above 0.08."""
        want = {i for i in identifiers(query) if len(i) > 2 and i not in KEYWORDS}
        if not want:
            return []
        n_want = len(want)
        out: list[Hit] = []
        for doc in open_docs[:8]:
            if doc.path is None or doc.path == path:
                continue
            best: tuple[float, int] | None = None
            for start, ids in self._window_sets(doc.path, doc.text):
                inter = len(want & ids)  # |want | ids| = |want| + |ids| - |want & ids|: no union set built
                j = inter / (n_want + len(ids) - inter)
                if best is None or j > best[0]:
                    best = (j, start)
            if best and best[0] >= 0.08:
                s = best[1]
                lines = doc.text.split("\n")
                body = "\n".join(lines[s : s + 20])
                out.append(Hit(doc.path, s + 1, min(len(lines), s + 20), best[0], "open-file", body))
        return sorted(out, key=lambda h: -h.score)[:3]

    def _window_sets(self, path: str, text: str) -> list[tuple[int, frozenset[str]]]:
        """The identifier sets of ``text``'s 20-line windows (stride 10), kept per open file until it changes."""
        cached = self._windows.get(path)
        if cached is not None and (cached[0] is text or cached[0] == text):
            return cached[1]
        lines = text.split("\n")
        per_line = [{i for i in identifiers(ln) if len(i) > 2} for ln in lines]
        windows = []
        for start in range(0, max(1, len(lines)), 10):
            ids = frozenset().union(*per_line[start : start + 20])
            if ids:
                windows.append((start, ids))
        _keep_recent(self._windows, path, (text, windows), WINDOW_CACHE)
        return windows

    def _rank(self, results: dict[str, list[Hit]], prompt_window: tuple[int, int] | None, path: str) -> list[Hit]:
        ranked: list[Hit] = []
        # Definitions first (they are what the model cannot guess), then the fused rest.
        defs = results.get("definitions", [])
        others = rrf([results.get("search", []), results.get("open_files", [])])
        for h in defs:
            ranked.append(
                Hit(h.path, h.start_line, h.end_line, 1.0 + h.score, h.source, h.text, h.symbol, h.kind, h.language)
            )
        for h in others:
            src = h.source
            ranked.append(
                Hit(h.path, h.start_line, h.end_line, h.score * 10, src, h.text, h.symbol, h.kind, h.language)
            )
        out: list[Hit] = []
        kept: dict[str, list[tuple[int, int]]] = {}  # the line ranges kept so far, per path
        for h in sorted(ranked, key=lambda x: (-x.score, x.path, x.start_line)):
            if (
                h.path == path
                and prompt_window
                and not (h.end_line < prompt_window[0] or h.start_line > prompt_window[1])
            ):
                continue  # already in the prompt
            spans = kept.setdefault(h.path, [])
            if any(not (h.end_line < start or h.start_line > end) for start, end in spans):
                continue
            spans.append((h.start_line, h.end_line))
            out.append(h)
        return out


def model_token_counter(chars_per_token: Callable[[], float]) -> Callable[[str], int]:
    """A token counter for the completion model: characters over the model's characters-per-token ratio,
    which ``ModelRoles`` calibrates once per probe with the server's ``/tokenize`` (read on every call,
    so a recalibration applies at once; counting itself never leaves the process)."""

    def count(text: str) -> int:
        ratio = chars_per_token()
        if not ratio or ratio <= 0:
            return estimate_tokens(text)
        return int(len(text) / ratio) + 1

    return count


def _fit_budget(
    items: Sequence[Hit], budget_tokens: int, count_tokens: Callable[[str], int] = estimate_tokens
) -> tuple[list[Hit], int]:
    """The items, best first, that fit the budget (each costs its text plus a path header); how many did not."""
    out: list[Hit] = []
    used = 0
    dropped = 0
    for h in items:
        cost = count_tokens(h.text) + 8
        if used + cost > budget_tokens:
            dropped += 1
            continue
        used += cost
        out.append(h)
    return out, dropped


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_JS_EXT = re.compile(r"\.(?:js|mjs|cjs|jsx)$")


def _module_path_patterns(module: str, current_path: str, language: str | None) -> list[str]:
    """LIKE patterns for the files that implement an imported module or package."""
    mod = module.strip("\"'")
    if not mod:
        return []
    if mod.startswith("."):
        base = PurePosixPath(current_path).parent
        if "/" in mod:  # ./util, ../lib/x (JS/TS)
            parts: list[str] = []
            for part in PurePosixPath(base, mod).parts:
                if part == "..":
                    parts = parts[:-1]
                elif part != ".":
                    parts.append(part)
            stem = "/".join(parts)
        else:  # .util, ..pkg.util (Python)
            dots = len(mod) - len(mod.lstrip("."))
            for _ in range(dots - 1):
                base = base.parent
            rest = mod.lstrip(".").replace(".", "/")
            stem = str(PurePosixPath(base, rest)) if rest else str(base)
        stem = stem.lstrip("./")
        if "/" in mod and (m := _JS_EXT.search(stem)):  # TS imports name the emitted file: ./util.js is util.ts
            stem = stem[: m.start()]
        if "/" in mod and (stem == "index" or stem.endswith("/index")):
            # A directory's index is a barrel (``export * from "./api.js"``): the directory's files define its names.
            folder = _like_escape(stem.removesuffix("index").rstrip("/"))
            return [folder + "/%"] if folder else ["%"]
        stem = _like_escape(stem)
        if "/" in mod and language in ("typescript", "javascript", "tsx"):
            return [stem + ".%", stem + "/%"]  # a file, or a directory (its index and what the index re-exports)
        return [stem + ".%", stem + "/index.%", stem + "/__init__.py"]
    if language == "go":
        last = _like_escape(mod.rstrip("/").rsplit("/", 1)[-1])
        return [f"{last}/%.go", f"%/{last}/%.go"]
    sep_mod = mod.replace("::", "/").replace(".", "/").removeprefix("crate/")
    stem = _like_escape(sep_mod)
    return [f"{stem}.%", f"%/{stem}.%", f"{stem}/%", f"%/{stem}/%"]


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One link of a receiver chain: the separator before it (``""`` for the root), its name, whether it is
    called."""

    sep: str
    name: str
    call: bool
    args: int | None = None  # how many arguments the call passes (None: not a call)


CHAIN_TYPES = 3  # a chain link whose definitions disagree on more result types than this leaves the chain untyped
UNKNOWN_ROOT = "?"  # a chain's root whose type the buffer cannot tell (a macro's or an expression's result)
_LINE_COMMENT = re.compile(r"//[^\n\"']*$", re.MULTILINE)  # a comment ending a line (no quote after it)
# Methods of the standard library that keep the receiver's type (or unwrap it): a chain goes on through them.
_SAME_TYPE_CALLS = frozenset(
    "clone to_owned unwrap expect unwrap_or_default as_ref as_mut borrow borrow_mut lock into_inner".split()
)
_CLOSERS = {")": "(", "]": "[", ">": "<"}


def receiver_chain(text: str, limit: int = 2000) -> list[ChainStep]:
    """The chain of names and calls that ends ``text`` (the receiver before a ``.``/``::``), root first:
    ``Command::new("git")\n    .about("x")`` gives ``Command``, ``::new()``, ``.about()``. Arguments, turbofish
    generics, ``?`` and ``!`` are skipped (an indexed element ends the chain: its type is unknown); whitespace and
    line breaks between links are allowed. Empty when the text does not end with such a chain."""
    t = _LINE_COMMENT.sub("", text[-limit:])
    i = len(t)
    steps: list[ChainStep] = []
    while True:
        while i > 0 and t[i - 1].isspace():
            i -= 1
        while i > 0 and t[i - 1] in "?!":
            i -= 1
        call = False
        args = 0
        if i > 0 and t[i - 1] == "]":
            return []  # an element of a collection: its type is not the collection's
        if i > 0 and t[i - 1] == ")":
            call = True
            depth = 0
            j = i
            while j > 0:
                ch = t[j - 1]
                if ch in ")]":
                    depth += 1
                elif ch in "([":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j == 0:
                return []
            args = _count_args(t[j:i - 1])
            i = j - 1
            if i >= 2 and t[i - 1] == ">" and "::<" in t[max(0, i - 200) : i]:  # turbofish: f::<T>(
                i = t.rindex("::<", 0, i)
        if call and i > 0 and t[i - 1] == "!":
            i -= 1  # a macro's result (``arg!(--color)``): ends the chain as an unknown root
            steps.insert(0, ChainStep("", UNKNOWN_ROOT, False))
            break
        k = i
        while k > 0 and (t[k - 1].isalnum() or t[k - 1] == "_" or t[k - 1] == "$"):
            k -= 1
        if k < i and t[k:i].isdigit() and not call and t[k - 1 : k] == ".":
            pass  # a tuple field: ``self.0``
        elif k == i or t[k].isdigit():
            if steps and call:  # ``(a + b).len()``, ``[x].iter()``: a value of unknown type
                steps.insert(0, ChainStep("", UNKNOWN_ROOT, False))
                break
            return []
        name = t[k:i]
        j = k
        while j > 0 and t[j - 1].isspace():
            j -= 1
        sep = ""
        if t[max(0, j - 2) : j] == "::":
            sep = "::"
        elif j > 0 and t[j - 1] == "." and t[max(0, j - 2) : j] != "..":
            sep = "."
        steps.insert(0, ChainStep(sep, name, call, args if call else None))
        if not sep or len(steps) > 12:
            break
        i = j - len(sep)
    if steps:
        steps[0] = replace(steps[0], sep="")
    if len(steps) == 1 and steps[0].name == UNKNOWN_ROOT:
        return []
    return steps


def _count_args(inner: str) -> int:
    """How many arguments a call's text between its parentheses passes (commas at depth zero, strings skipped)."""
    if not inner.strip():
        return 0
    depth, n, quote = 0, 1, ""
    for i, ch in enumerate(inner):
        if quote:
            if ch == quote and inner[i - 1 : i] != "\\":
                quote = ""
        elif ch in "\"'`" and not (ch == "'" and i + 2 < len(inner) and inner[i + 2] != "'"):
            quote = ch  # a string (a Rust lifetime's quote is not one)
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            n += 1
    return n - (1 if inner.rstrip().endswith(",") else 0)


@functools.lru_cache(maxsize=65536)
def _method_accepts(detail: str, sep: str, args: int | None, language: str | None) -> bool:
    """Can the definition on this signature line be called as this chain step? A Rust method called with ``.``
    takes ``self``; and a signature complete on its line takes as many arguments as the call passes (optional and
    rest parameters aside)."""
    m = re.search(r"\((.*)\)", detail)
    if language == "rust" and sep == ".":
        if not re.search(r"\(\s*(?:&\s*(?:'\w+\s+)?)?(?:mut\s+)?self\b", detail):
            return False
    if args is None or m is None or "(" in m.group(1):
        return True
    params = [x for x in _split_params(m.group(1)) if x.strip()]
    if language == "rust" and params and re.match(r"\s*(?:&\s*(?:'\w+\s+)?)?(?:mut\s+)?self\b", params[0]):
        params = params[1:]
    if any("?" in x.split(":", 1)[0] or "=" in x or x.strip().startswith(("...", "*")) for x in params):
        return args <= len(params) or any(x.strip().startswith(("...", "*")) for x in params)
    return len(params) == args


def _split_params(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<[{":
            depth += 1
        elif ch in ">]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


_RET = re.compile(r"(?:->|\)\s*:)\s*(.+?)\s*(?:\bwhere\b.*)?[{;]?\s*$")
_WRAPPERS = frozenset({"Option", "Result", "Box", "Rc", "Arc", "RefCell", "Cell", "Mutex", "RwLock", "Promise"})


# What holds or yields elements: the element is the type inside (``impl Iterator<Item = &Arg>``, ``Vec<Arg>``,
# ``&[Arg]``, ``Arg[]``, ``list[Arg]``).
_COLLECTIONS = frozenset(
    """Iterator IntoIterator DoubleEndedIterator ExactSizeIterator Vec VecDeque Iter IterMut IntoIter Cloned
    Copied Array ReadonlyArray Iterable IterableIterator Generator Set HashSet BTreeSet list List Sequence tuple
    set frozenset Iterable AsyncIterator AsyncIterable Observable""".split()
)


@functools.lru_cache(maxsize=65536)
def _element_type(detail: str, self_type: str | None) -> str | None:
    """The type of the elements of what a function's signature line declares it returns (``-> impl Iterator<Item =
    &Command>``: Command); None when it returns no collection or iterator."""
    m = _RET.search(detail)
    if not m:
        return None
    names = [
        n for n in re.findall(r"[A-Za-z_]\w*", re.sub(r"'\w+|\bItem\s*=", "", m.group(1)))
        if n not in ("mut", "dyn", "impl", "const", "crate", "super", "_")
    ]
    if not names or (names[0] not in _COLLECTIONS and not re.search(r"\[\s*\]|^\s*&?\s*\[", m.group(1))):
        return None
    while names and (names[0] in _COLLECTIONS or names[0] in _WRAPPERS):
        names = names[1:]
    return _first_type(names, self_type)


def _recent_lines(text: str, n: int = 400) -> str:
    """The last ``n`` lines of ``text``."""
    i = len(text)
    for _ in range(n):
        i = text.rfind("\n", 0, i)
        if i < 0:
            return text
    return text[i + 1 :]


def _annotation_type(decl: str) -> str | None:
    """The type a field's annotation names, references, lifetimes and the wrappers that dereference or may hold
    it (``&'cmd mut Command``, ``Arc<ExecReadOnly>``, ``Option<Scheduler>``, ``Scheduler | null``) removed."""
    names = [
        n for n in re.findall(r"[A-Za-z_]\w*", re.sub(r"'\w+", "", decl))
        if n not in ("mut", "dyn", "impl", "const", "crate", "super", "readonly", "null", "undefined")
    ]
    while names and names[0] in _WRAPPERS and len(names) > 1:
        names = names[1:]
    return names[0] if names and names[0][:1].isupper() else None


@functools.lru_cache(maxsize=2048)
def _binding_pattern(var: str) -> re.Pattern[str]:
    """What binds ``var`` (compiled once per name: the patterns embed it)."""
    v = re.escape(var)
    return re.compile(
        rf"(?:\b(?:let|const|var)\s+(?:mut\s+)?{v}\s*(?::[^=\n]+)?=(?!=)|^[ \t]*{v}\s*:?=(?!=))\s*(?P<expr>[^\n;]+)"
        rf"|\bfor\s*\(?\s*(?:(?:const|let|var)\s+)?(?:mut\s+)?{v}\s+(?:in|of)\s+(?P<iter>[^\n]+)",
        re.MULTILINE,
    )


def _binding(var: str, before: str) -> tuple[str, bool] | None:
    """The expression ``var`` was last bound to in the buffer (``let var = expr;``, ``var := expr``, ``const var =
    expr``, ``var = expr``), or iterated over (``for var in expr``, ``for (const var of expr)``: then True)."""
    pat = _binding_pattern(var)
    last = None
    for m in pat.finditer(before[-40_000:]):
        last = m
    if last is None:
        return None
    if last.group("iter") is not None:
        expr = re.sub(r"\s*[{:]\s*$", "", last.group("iter").strip())
        if expr.count(")") > expr.count("("):  # ``for (const x of expr)``
            expr = expr[: expr.rindex(")")].rstrip()
        return expr, True
    return re.sub(r"[;{]\s*$", "", last.group("expr").strip()), False


@functools.lru_cache(maxsize=65536)
def _declared_return(detail: str, self_type: str | None) -> str | None:
    """The type a function's signature line declares it returns, outer references, lifetimes and wrappers
    (``Option``, ``Result``, ``Box``, ``Promise``...) removed; ``Self`` and ``this`` are ``self_type``."""
    m = _RET.search(detail)
    if not m:
        return None
    names = re.findall(r"[A-Za-z_]\w*", re.sub(r"'\w+", "", m.group(1)))
    names = [n for n in names if n not in ("mut", "dyn", "impl", "const", "crate", "super")]
    while names and names[0] in _WRAPPERS and len(names) > 1:
        names = names[1:]
    return _first_type(names, self_type)


def _first_type(names: Sequence[str], self_type: str | None) -> str | None:
    """The type a declaration names first (``Self``/``this`` is ``self_type``); None when it is no type name."""
    if not names:
        return None
    if names[0] in ("Self", "this"):
        return self_type
    return names[0] if names[0][:1].isupper() else None


@functools.lru_cache(maxsize=65536)
def _rust_visibility(detail: str, external: bool) -> float:
    """How reachable a Rust item is from the calling file, by its signature line: ``pub`` items from anywhere,
    ``pub(crate)`` ones only inside the crate (never from an example or an integration test), private ones only
    in their own module (another file rarely)."""
    sig = detail.lstrip()
    if sig.startswith("pub ") or sig.startswith("pub("):
        return 0.2 if external and sig.startswith("pub(") else 1.0
    if re.match(r"(?:(?:const|async|unsafe|extern\s+\"\w+\")\s+)*fn\b", sig):
        return 0.2 if external else 0.6
    return 1.0


def _depth_weight(path: str, patterns: Sequence[str]) -> float:
    """A module's definition found through a directory pattern (``dir/%``) counts less the deeper it lies below
    the directory: the directory's own files first (what its index re-exports), then its subdirectories'."""
    for p in patterns:
        if p.endswith("/%") and not p.endswith("%/%"):
            rest = path[len(p) - 1 :] if path.startswith(p[:-1].replace("\\", "")) else ""
            if "/" in rest:
                return 0.7
    return 1.0


def _enclosing_types(before: str, language: str | None) -> list[str]:
    # annotations; constructors and calls; Go :=; with ... as; Go parameters; Go var; Rust let x = T::new( / T {
    pats = [
        r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_]\w*)",
        r"^\s*impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?([A-Za-z_]\w*)",
        r"^func\s*\(\s*\w+\s+\*?([A-Za-z_]\w*)",
    ]
    best: tuple[int, str] | None = None
    for p in pats:
        for m in re.finditer(p, before, re.MULTILINE):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group(1))
    return [best[1]] if best else []


_CLASS_HEADER = re.compile(
    r"^[ \t]*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+[A-Za-z_]\w*[^\n]*"
    r"|^[ \t]*impl\b[^\n]*",
    re.MULTILINE,
)


def _enclosing_bases(before: str) -> list[str]:
    """The bases of the class the cursor is in (``class A extends B implements C``, ``class A(B):``), or the
    trait of the ``impl Trait for T`` block it is in."""
    last = None
    for m in _CLASS_HEADER.finditer(before[-40_000:]):
        last = m.group(0).strip()
    if last is None:
        return []
    if last.startswith("impl"):
        if not re.search(r"\sfor\s", last):
            return []  # an inherent impl: no trait
        trait = re.match(r"impl(?:<[^>]*>)?\s+([\w:]+)", last)
        return [trait.group(1).rsplit("::", 1)[-1]] if trait else []
    return _bases(last)


def _infer_type(var: str, before: str, language: str | None) -> str | None:
    """The type of ``var`` from its nearest annotation, constructor call or declaration in the buffer."""
    if not var or var in KEYWORDS:
        return None
    best: tuple[int, str] | None = None
    window = before[-40_000:]
    if var not in window:
        return None
    if "\n" in window:
        # The lines that mention it (every pattern names it on the line of the type), in order.
        window = "\n".join(ln for ln in window.split("\n") if var in ln)
    for pat in _type_patterns(var, language):
        for m in pat.finditer(window):
            t = m.group(1)
            if t in KEYWORDS or t in ("str", "int", "float", "bool", "string", "number", "any", "Any", "Optional"):
                continue
            if best is None or m.start() > best[0]:
                best = (m.start(), t)
    return best[1] if best else None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _def_hit(d: DefRow, score: float) -> Hit:
    """A definition as a hit still without its chunk: its own line until ``_with_texts`` reads the chunk."""
    return Hit(
        d.path,
        d.line,
        d.line,
        score,
        "definition",
        "",
        symbol_path(d.scope, d.name),
        d.kind,
        d.language,
        extra={_SPOT: (d.content_hash, d.line)},
    )


def _owner_type(d: DefRow) -> str:
    if d.scope:
        return d.scope.split("<", 1)[0].rsplit(".", 1)[-1]
    m = re.match(r"func\s*\(\s*\w*\s*\*?(\w+)", d.detail or "")
    return m.group(1) if m else ""


def _bases(detail: str) -> list[str]:
    """Base types named on a class's signature line: ``class A(B, C):``, ``class A extends B implements C``."""
    out: list[str] = []
    m = re.match(r"\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+\w+(?:<[^>]*>)?\s*\(([^)]*)\)", detail)
    if m:
        out += [x.strip().split("[", 1)[0].rsplit(".", 1)[-1] for x in m.group(1).split(",") if "=" not in x]
    for kw in ("extends", "implements"):
        for mm in re.finditer(rf"\b{kw}\s+([\w.]+(?:<[^>]*>)?(?:\s*,\s*[\w.]+(?:<[^>]*>)?)*)", detail):
            out += [x.strip().split("<", 1)[0].rsplit(".", 1)[-1] for x in mm.group(1).split(",")]
    return [b for b in out if b and b[0].isalpha() and b not in ("object", "Generic", "Protocol")]
