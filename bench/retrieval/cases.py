"""Evaluation cases: real cross-file calls, the buffer cut just before the callee's name.

For every file of the corpus's language, each call whose callee is defined exactly once in the
repository, in another file, becomes a candidate case (the first call of that callee in the file,
as the user types it for the first time). The buffer is the file's text up to the callee's name,
as an editor holds it while the user types the call; the gold answer is the definition's line.

Kinds:
- ``imported``: a bare call of a name the file imports (Python ``from m import f``, TS named
  imports, Rust ``use``);
- ``same-package``: a bare Go call of a function defined in another file of the same directory;
- ``member``: ``obj.method(`` / ``pkg.Func(`` / ``Type::func(``: the receiver is typed, the name is not.

Cases are found with tree-sitter through Hearth's parser (the symbol table is the ground truth
of where names are defined), but the gold definition is only accepted when its name is unique
in the repository, so no retrieval method can be credited for a lucky homonym.
"""

from __future__ import annotations

import collections
import io
import logging
import pathlib
import random
import re
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from hearth.indexer.languages import LanguageRegistry
from hearth.indexer.parse import parse_source
from hearth.indexer.types import Chunk, ParsedFile
from hearth.indexer.walk import IgnorePolicy, WalkEntry

CALLABLE = {"function", "method", "class", "macro"}
# Member names that the standard libraries define on their own types: a call of one of these on an
# object the harness cannot type would credit a homonym in the repository, so such calls are left out.
_PY_STD = {n for t in (list, dict, set, str, bytes, io.StringIO, io.BytesIO, io.TextIOWrapper, logging.Logger,
                       threading.Event, threading.Barrier, collections.deque, pathlib.Path, re.Pattern, re.Match)
           for n in dir(t)}
_GO_STD = {"Error", "String", "Write", "Read", "Close", "Len", "Get", "Set", "Flags", "Lookup", "Name", "Parse",
           "SetOutput", "Args", "Wait", "Run", "Reset", "Bytes", "Copy", "WriteString", "Output"}
# Rust: methods of the prelude's traits and of Option, Result, iterators, slices, Vec, String/str, the collections,
# smart pointers, locks, integers and chars, and std's free functions reached through a path (`std::process::exit`).
_RUST_STD = set("""
    clone clone_from default eq ne cmp partial_cmp lt le gt ge hash fmt to_string to_owned into from try_into try_from
    as_ref as_mut borrow borrow_mut deref deref_mut drop
    unwrap expect unwrap_or unwrap_or_else unwrap_or_default unwrap_err expect_err is_some is_none is_ok is_err ok err
    map map_err map_or map_or_else and_then or_else or and filter take replace get_or_insert get_or_insert_with
    as_deref as_deref_mut ok_or ok_or_else copied cloned flatten transpose zip unzip insert
    iter iter_mut into_iter next next_back peek peekable rev enumerate skip skip_while take_while chain collect count
    last nth fold for_each all any find find_map position max min max_by min_by max_by_key min_by_key sum product
    filter_map flat_map inspect step_by fuse by_ref partition scan windows chunks split split_at split_off
    len is_empty push pop extend extend_from_slice truncate clear reserve with_capacity capacity retain dedup sort
    sort_by sort_by_key sort_unstable binary_search contains starts_with ends_with first get get_mut remove swap
    drain append as_slice as_mut_slice to_vec into_boxed_slice join concat repeat
    as_str as_bytes push_str chars char_indices bytes lines trim trim_start trim_end trim_matches parse
    to_lowercase to_uppercase to_ascii_lowercase to_ascii_uppercase eq_ignore_ascii_case is_char_boundary find rfind
    splitn rsplit rsplitn split_whitespace strip_prefix strip_suffix matches char_indices into_bytes from_utf8
    from_utf8_lossy as_os_str to_str to_string_lossy display
    entry or_insert or_insert_with keys values values_mut contains_key insert remove get_key_value
    new lock read write try_lock load store fetch_add swap compare_exchange as_ptr into_inner get_ref
    checked_add checked_sub checked_mul saturating_sub saturating_add wrapping_add wrapping_sub pow abs min max
    is_alphanumeric is_alphabetic is_numeric is_whitespace is_ascii is_ascii_digit to_digit from_u32 len_utf8
    encode_utf8 read_to_string read_to_end write_all write_str write_fmt flush exit
""".split())
# TypeScript/JavaScript: methods of the built-in objects (Array, String, Object, Promise, Map, Set, Function, Math,
# JSON, Number, Date, Error, console) and of the DOM's event targets.
_TS_STD = set("""
    push pop shift unshift slice splice concat join reverse sort indexOf lastIndexOf includes find findIndex filter
    map forEach reduce reduceRight some every fill flat flatMap keys values entries at from of isArray
    charAt charCodeAt codePointAt split substring substr toLowerCase toUpperCase trim trimStart trimEnd padStart
    padEnd startsWith endsWith replace replaceAll match matchAll search repeat normalize localeCompare
    toString toFixed valueOf toJSON
    assign create defineProperty defineProperties freeze getOwnPropertyNames getOwnPropertyDescriptor
    getPrototypeOf setPrototypeOf hasOwnProperty isPrototypeOf propertyIsEnumerable fromEntries
    then catch finally resolve reject all allSettled race any
    get set has delete clear add size
    call apply bind
    max min abs floor ceil round random pow sqrt sign trunc log
    stringify parse isInteger isFinite isNaN parseInt parseFloat now getTime toISOString
    error warn info debug
    addEventListener removeEventListener dispatchEvent
""".split())


@dataclass(frozen=True)
class Case:
    corpus: str
    language: str
    kind: str  # imported, same-package, member
    path: str
    line: int  # 0-based
    col: int  # 0-based, characters
    callee: str
    gold_path: str
    gold_line: int  # 1-based line of the definition's name

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CorpusFiles:
    root: Path
    texts: dict[str, str]
    parsed: dict[str, ParsedFile]

    def chunks(self) -> list[tuple[str, Chunk]]:
        return [(p, c) for p, pf in self.parsed.items() for c in pf.chunks]


def load(root: Path, registry: LanguageRegistry) -> CorpusFiles:
    """Every file Hearth would index, parsed with Hearth's parser."""
    texts: dict[str, str] = {}
    parsed: dict[str, ParsedFile] = {}
    for entry in IgnorePolicy(root).walk():
        if not isinstance(entry, WalkEntry):
            continue
        data = entry.abs_path.read_bytes()
        texts[entry.path] = data.decode("utf-8", "replace")
        parsed[entry.path] = parse_source(registry, entry.path, data)
    return CorpusFiles(root, texts, parsed)


def build(
    corpus: str, language: str, files: CorpusFiles, per_kind: int = 120, seed: int = 0, std_homonyms: bool = False
) -> list[Case]:
    """The corpus's cases, ``per_kind`` sampled per kind. Member calls of names that the language's standard
    library defines on its own types are left out (their gold label would be a homonym), unless ``std_homonyms``
    (the case set of the runs before 2026-11-26 12:00 kept them in Rust and TypeScript)."""
    std = {"python": _PY_STD, "go": _GO_STD}
    if not std_homonyms:
        std |= {"rust": _RUST_STD, "typescript": _TS_STD}
    defs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path, pf in files.parsed.items():
        if pf.language != language:
            continue
        for s in pf.symbols:
            if s.role == "def":
                defs[s.name].append((path, s.line))
    by_kind: dict[str, list[Case]] = defaultdict(list)
    for path, pf in sorted(files.parsed.items()):
        if pf.language != language:
            continue
        lines = files.texts[path].split("\n")
        imported = {s.name for s in pf.symbols if s.role == "import"}
        local = {s.name for s in pf.symbols if s.role == "def"}
        seen: set[str] = set()
        for s in sorted((s for s in pf.symbols if s.role == "ref" and s.kind == "call"), key=lambda s: (s.line, s.col)):
            if s.name in seen or s.name in local or len(s.name) < 2:
                continue
            where = defs.get(s.name, [])
            if len(where) != 1 or where[0][0] == path:
                continue
            gold_path, gold_line = where[0]
            gold_kind = next(
                (d.kind for d in files.parsed[gold_path].symbols if d.role == "def" and d.line == gold_line), ""
            )
            if gold_kind not in CALLABLE and not (language == "go" and gold_kind == "type"):
                continue
            row = s.line - 1
            before = lines[row][: s.col] if row < len(lines) else ""
            if before.endswith(".") or before.endswith("::"):
                if s.name in std.get(language, ()):
                    continue
                kind = "member"
            elif language == "go":
                if PurePosixPath(gold_path).parent != PurePosixPath(path).parent:
                    continue
                kind = "same-package"
            elif s.name in imported:
                kind = "imported"
            else:
                continue
            seen.add(s.name)
            by_kind[kind].append(Case(corpus, language, kind, path, row, s.col, s.name, gold_path, gold_line))
    rng = random.Random(seed)
    out: list[Case] = []
    for kind in sorted(by_kind):
        cases = by_kind[kind]
        out.extend(sorted(rng.sample(cases, per_kind), key=lambda c: (c.path, c.line)) if len(cases) > per_kind
                   else cases)
    return out


def buffer_of(case: Case, files: CorpusFiles) -> str:
    """The file's text up to the callee's name: what the editor holds when the user is about to type it."""
    lines = files.texts[case.path].split("\n")
    return "\n".join([*lines[: case.line], lines[case.line][: case.col]])
