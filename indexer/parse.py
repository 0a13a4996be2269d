"""Parse one file into chunks and symbols with tree-sitter.

Chunks: a whole definition when it fits the chunk budget; a larger one is split at syntax
boundaries (its body's children), each piece headed by the enclosing signatures; small
neighbours (module-level code, small definitions) are merged up to the budget. Files in
languages without a grammar get line-window chunks.

Symbols: definitions (with their scope path, e.g. ``Parser.parse``), references (calls, types)
and imports, from the language's ``tags.scm`` and ``imports.scm`` queries.

``parse_source`` is a pure function of (path, bytes), so it can run in worker threads or
processes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate

from tree_sitter import Node, Query, QueryCursor

from hearth.indexer.languages import LanguageRegistry, LoadedLanguage
from hearth.indexer.lexical import lexeme_text
from hearth.indexer.types import Chunk, ParsedFile, Symbol

CHUNK_TOKENS = 384
BYTES_PER_TOKEN = 3.2  # a conservative estimate for code; budgets are counted in tokens
WINDOW_LINES = 40
CLASS_LIKE = {"class", "interface", "impl", "enum", "trait", "struct", "object"}
# Languages where a function inside a module is a method of it (Ruby); in Rust or TypeScript a
# function inside ``mod``/``namespace`` is still a function.
CLASS_LIKE_BY_LANGUAGE = {"ruby": CLASS_LIKE | {"module"}}
MAX_SIGNATURE_ROWS = 6
WRAPPERS = {"decorated_definition", "export_statement", "attribute_item"}
_RUST_USE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\s+as\s+[A-Za-z_][A-Za-z0-9_]*)?")


def estimate_tokens(text_or_len: str | int) -> int:
    n = text_or_len if isinstance(text_or_len, int) else len(text_or_len.encode("utf-8", "replace"))
    return int(n / BYTES_PER_TOKEN) + 1


def last_row(node: Node) -> int:
    """The last row that holds part of the node: one ending at column 0 ends on the row before."""
    row, col = node.end_point
    if col == 0 and row > node.start_point[0]:
        return row - 1
    return row


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


@dataclass
class _Def:
    kind: str
    name: str
    name_node: Node
    node: Node  # the node that carries the definition (for chunk ranges: its wrapper if any)
    scope_only: bool = False


class _FileParser:
    def __init__(
        self, lang: LoadedLanguage, source: bytes, budget_tokens: int, with_chunks: bool = True, with_refs: bool = True
    ) -> None:
        self.lang = lang
        self.with_chunks = with_chunks
        self.with_refs = with_refs
        self.source = source
        self.lines = source.split(b"\n")
        # The byte offset of each line; in ASCII source a column in bytes is also one in characters.
        self.line_starts = list(accumulate(map((1).__add__, map(len, self.lines[:-1])), initial=0))
        self.ascii = source.isascii()
        self.budget = int(budget_tokens * BYTES_PER_TOKEN)
        self.defs: dict[int, _Def] = {}  # node id -> def (keyed by both the node and its wrapper)
        self.keyed: list[tuple[int, int, int, _Def]] = []  # (start byte, end byte, node id, def) of each key
        self.chunks: list[Chunk] = []
        self.symbols: list[Symbol] = []
        self.class_like = CLASS_LIKE_BY_LANGUAGE.get(lang.name, CLASS_LIKE)
        self.emitted_through = -1  # the last row already in a chunk or a header (chunks never share rows)
        self.claim_from: int | None = None  # a split definition's first row, claimed by its first piece
        # The definitions of the nodes from the root down to the one being visited (what a walk up
        # ``Node.parent`` from one of its children meets, outermost first).
        self.ancestors: list[_Def] = []

    # -- helpers -----------------------------------------------------------------------------
    def line_text(self, row: int) -> str:
        return self.lines[row].decode("utf-8", "replace") if row < len(self.lines) else ""

    def col_chars(self, row: int, col_bytes: int) -> int:
        if self.ascii or row >= len(self.lines):
            return col_bytes
        return len(self.lines[row][:col_bytes].decode("utf-8", "replace"))

    def node_text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def rows_text(self, start_row: int, end_row: int) -> str:
        """The lines from ``start_row`` to ``end_row``, decoded in one piece (the same text as decoding each
        line: a newline is never part of a multi-byte sequence)."""
        last = min(end_row, len(self.lines) - 1)
        if start_row > last:
            return ""
        end = self.line_starts[last] + len(self.lines[last])
        return self.source[self.line_starts[start_row] : end].decode("utf-8", "replace")

    def scope_path(self, node: Node) -> list[str]:
        """The names of the definitions enclosing a child of the node being visited (outermost first; a
        definition keyed by both its node and its wrapper counts once). Read from the visit's ancestor
        stack: ``Node.parent`` costs a descent from the root in tree-sitter, quadratic in the depth."""
        names: list[str] = []
        for d in self.ancestors:
            if not names or names[-1] != d.name:
                names.append(d.name)
        return names

    def enclosing(self, nodes: list[Node]) -> list[tuple[str | None, str | None]]:
        """For each node, what walking up ``Node.parent`` gives (the dotted scope path and the
        nearest enclosing definition's kind), from byte ranges in one sweep instead of walking up the
        tree from each node (``Node.parent`` costs a descent from the root in tree-sitter)."""
        out: list[tuple[str | None, str | None]] = [(None, None)] * len(nodes)
        if not self.keyed or not nodes:
            return out
        keyed = sorted(self.keyed, key=lambda k: (k[0], -k[1]))
        ranges = [(n.start_byte, n.end_byte, n.id) for n in nodes]
        order = sorted(range(len(nodes)), key=lambda i: (ranges[i][0], -ranges[i][1]))
        stack: list[tuple[int, int, int, _Def]] = []  # nested: each entry contains the ones above it
        i = 0
        for k in order:
            start, end, nid = ranges[k]
            while i < len(keyed) and keyed[i][0] <= start:
                entry = keyed[i]
                i += 1
                while stack and stack[-1][1] <= entry[0] and stack[-1][1] < entry[1]:
                    stack.pop()
                stack.append(entry)
            names: list[str] = []
            nearest: str | None = None
            for s0, e0, kid, d in stack:  # outermost first
                if s0 <= start and end <= e0 and kid != nid:
                    if not names or names[-1] != d.name:
                        names.append(d.name)
                    nearest = d.kind
            out[k] = (".".join(names) or None, nearest)
        return out

    # -- symbols -------------------------------------------------------------------------------
    def symbol_matches(self) -> tuple[list[tuple[int, dict[str, list[Node]]]], list[tuple[int, dict[str, list[Node]]]]]:
        """The matches of the tags query and of the imports query, from one pass over the tree when the
        language has both (``_symbol_query``)."""
        tags = self.lang.queries.get("tags")
        imports = self.lang.queries.get("imports")
        if tags is not None and imports is not None:
            both, n_tags = _symbol_query(self.lang, tags, imports)
            if both is not None:
                matches = QueryCursor(both).matches(self.tree_root)
                return [m for m in matches if m[0] < n_tags], [m for m in matches if m[0] >= n_tags]
        return (
            QueryCursor(tags).matches(self.tree_root) if tags is not None else [],
            QueryCursor(imports).matches(self.tree_root) if imports is not None else [],
        )

    def collect_tags(self, matches: list[tuple[int, dict[str, list[Node]]]]) -> None:
        refs: list[tuple[str, Node]] = []
        roles = _CAPTURE_ROLES
        for _idx, caps in matches:
            def_node = name_node = None
            kind = ""
            scope_only = False
            for cname, nodes in caps.items():
                role = roles.get(cname)
                if role is None:
                    role = roles[cname] = _capture_role(cname)
                what, detail = role
                if what == _DEF or what == _SCOPE:
                    def_node, kind = nodes[0], detail
                    scope_only = what == _SCOPE
                elif what == _NAME:
                    name_node = nodes[0]
                elif what == _REF and self.with_refs:
                    refs.extend([(detail, n) for n in nodes])
            if def_node is not None and name_node is not None:
                carrier = def_node
                while carrier.parent is not None and carrier.parent.type in WRAPPERS:
                    carrier = carrier.parent
                d = _Def(kind, self.node_text(name_node), name_node, carrier, scope_only)
                for keyed in (def_node, carrier):
                    if keyed.id not in self.defs:
                        self.defs[keyed.id] = d
                        self.keyed.append((keyed.start_byte, keyed.end_byte, keyed.id, d))
        seen: set[int] = set()
        own: list[_Def] = []
        for d in self.defs.values():
            if id(d) in seen or d.scope_only:
                continue
            seen.add(id(d))
            own.append(d)
        def_scopes = self.enclosing([d.node for d in own])
        for d, (scope, nearest) in zip(own, def_scopes, strict=True):
            kind = d.kind
            if kind == "function" and nearest in self.class_like:
                kind = "method"
            row, col = d.name_node.start_point
            sig_row = d.name_node.start_point[0]
            self.symbols.append(
                Symbol(
                    name=d.name,
                    kind=kind,
                    role="def",
                    scope=scope,
                    line=row + 1,
                    col=self.col_chars(row, col),
                    end_line=last_row(d.node) + 1,
                    detail=self.line_text(sig_row).strip()[:200],
                )
            )
        # References carry no scope: the index keeps one row per name and kind per file, with every occurrence's
        # line and column (``encode_blob``), and the chunk holding a line says where it is.
        source, col_chars, append = self.source, self.col_chars, self.symbols.append
        for kind, n in refs:
            row, col = n.start_point
            end_row, end_col = n.end_point
            last = end_row - 1 if end_col == 0 and end_row > row else end_row  # last_row(n)
            name = source[n.start_byte : n.end_byte].decode("utf-8", "replace")
            append(Symbol(name, kind, "ref", None, row + 1, col_chars(row, col), last + 1))

    def collect_imports(self, matches: list[tuple[int, dict[str, list[Node]]]]) -> None:
        # (row, module, imported name) -> (local name, original name when aliased, node); an aliased
        # match of the same import replaces the plain one.
        found: dict[tuple[int, str, str | None], tuple[str, str | None, Node]] = {}
        for _idx, caps in matches:
            mods = caps.get("import.module", [])
            if not mods:
                continue
            module_node = mods[0]
            # A path captured as several sibling nodes (Scala's `a.b.C`) is the text they span.
            raw = self.source[module_node.start_byte : mods[-1].end_byte].decode("utf-8", "replace")
            raw = _unquote(raw)
            row = module_node.start_point[0]
            names = [_unquote(self.node_text(n)) for n in caps.get("import.name", [])]
            aliases = [self.node_text(n) for n in caps.get("import.alias", [])]
            if self.lang.name == "rust":
                module = raw.split("::{")[0] if "::{" in raw else raw.rsplit("::", 1)[0]
                for name, alias in _rust_use(raw):
                    found[(row, module, name)] = (alias or name, name if alias else None, module_node)
                continue
            module = raw
            key: tuple[int, str, str | None]
            if names:
                key = (row, module, names[0])
                if aliases or key not in found:
                    found[key] = (aliases[0], names[0], module_node) if aliases else (names[0], None, module_node)
            else:
                key = (row, module, None)
                last = re.split(r"[./:]", module.rstrip("/"))[-1] or module
                if aliases or key not in found:
                    found[key] = (aliases[0] if aliases else last, None, module_node)
        for (row, module, _name), (local, original, node) in found.items():
            self.symbols.append(
                Symbol(
                    name=local,
                    kind="import",
                    role="import",
                    scope=module,
                    line=row + 1,
                    col=self.col_chars(row, node.start_point[1]),
                    end_line=last_row(node) + 1,
                    detail=original,
                )
            )

    # -- chunks --------------------------------------------------------------------------------
    def emit(self, start_row: int, end_row: int, headers: list[str], kind: str, symbol: str | None) -> None:
        # Rows already in a chunk or in a header are not repeated (a lone `;` after a definition,
        # the opening line of a split definition's body).
        start_row = max(start_row, self.emitted_through + 1)
        if start_row > end_row:
            return
        body = self.rows_text(start_row, end_row)
        if not re.search(r"\w", body):
            self.emitted_through = max(self.emitted_through, end_row)
            return
        if estimate_tokens(body) > CHUNK_TOKENS * 4 and end_row - start_row >= WINDOW_LINES:
            # A single huge node (a long literal): fall back to line windows.
            for s in range(start_row, end_row + 1, WINDOW_LINES):
                self.emit(s, min(s + WINDOW_LINES - 1, end_row), headers, kind, symbol)
            return
        self.emitted_through = max(self.emitted_through, end_row)
        first_row = start_row if self.claim_from is None else min(self.claim_from, start_row)
        self.claim_from = None
        text = "\n".join([*headers, body]) if headers else body
        names = symbol.replace(".", " ") if symbol else ""
        self.chunks.append(
            Chunk(
                ord=len(self.chunks),
                start_line=first_row + 1,
                end_line=end_row + 1,
                kind=kind,
                symbol=symbol,
                text=text,
                text_hash=text_hash(text),
                name_terms=lexeme_text(names + " " + " ".join(headers)),
                body_terms=lexeme_text(body),
            )
        )

    def symbol_of(self, node: Node) -> str | None:
        d = self.defs.get(node.id)
        path = self.scope_path(node)
        if d is not None and not d.scope_only:
            path = [*path, d.name]
        elif d is not None:
            path = [*path, d.name]
        return ".".join(path) or None

    def signature_end(self, inner: Node, body: Node, name_node: Node) -> int:
        """The last row of a definition's signature (the header of each piece when it is split)."""
        first = inner.children[0]
        if first.child_count > 0 and first.id != body.id and _contains(first, name_node):
            return last_row(first)  # a heading (markdown) or a key (yaml): the signature is that node
        row, col = body.start_point
        before = self.lines[row][:col] if row < len(self.lines) else b""
        end = row if before.strip() else row - 1  # the body's first row is a signature row only if shared
        end = max(end, name_node.end_point[0], inner.start_point[0])
        return min(end, inner.start_point[0] + MAX_SIGNATURE_ROWS - 1)

    def split_def(self, node: Node, headers: list[str]) -> None:
        """An over-budget definition: every child, in pieces, each headed by the signature."""
        d = self.defs[node.id]
        inner = node
        between: list[Node] = []  # the wrappers from ``node`` down to ``inner``'s parent
        while inner.type in WRAPPERS:  # a decorated or exported definition: go to the definition itself
            nxt = next((c for c in inner.children if self.defs.get(c.id) is d), None)
            if nxt is None:
                break
            between.append(inner)
            inner = nxt
        body = self.body_of(inner)
        if body is None:
            self.emit(node.start_point[0], last_row(node), headers, self._kind_of(node), self.symbol_of(node))
            return
        sig_end = self.signature_end(inner, body, d.name_node)
        sig = self.rows_text(node.start_point[0], sig_end).rstrip()
        self.emitted_through = max(self.emitted_through, sig_end)
        claimed = self.claim_from is None
        if claimed:
            self.claim_from = node.start_point[0]  # the first piece's range starts at the signature it carries
        depth = len(self.ancestors)
        for n in between:
            self._enter(n)
        self.visit(inner, [*headers, sig])
        del self.ancestors[depth:]
        if claimed:
            self.claim_from = None

    def body_of(self, node: Node) -> Node | None:
        best = None
        for child in node.children:
            if child.child_count > 0 and (
                best is None or child.end_byte - child.start_byte > best.end_byte - best.start_byte
            ):
                best = child
        if best is not None and best.type in WRAPPERS | {"function_definition", "class_definition"}:
            return best  # a wrapper's payload: recurse through it
        return best

    def _enter(self, node: Node) -> None:
        d = self.defs.get(node.id)
        if d is not None:
            self.ancestors.append(d)

    def visit(self, node: Node, headers: list[str]) -> None:
        depth = len(self.ancestors)
        self._enter(node)
        self._visit_children(node, node.id == self.tree_root.id, headers)
        del self.ancestors[depth:]

    def _visit_children(self, node: Node, is_root: bool, headers: list[str]) -> None:
        run: list[Node] = []
        run_bytes = 0

        def flush() -> None:
            nonlocal run, run_bytes
            if run:
                first, last = run[0], run[-1]
                defs_in_run = [self.defs[n.id] for n in run if n.id in self.defs and not self.defs[n.id].scope_only]
                if len(defs_in_run) == 1 and len(run) == 1:
                    kind, symbol = self._kind_of(run[0]), self.symbol_of(run[0])
                elif defs_in_run:
                    kind, symbol = "group", self.symbol_of(next(n for n in run if n.id in self.defs))
                else:
                    kind, symbol = (
                        ("module" if is_root else "block"),
                        (".".join(self.scope_path(first)) or None),
                    )
                self.emit(first.start_point[0], last_row(last), headers, kind, symbol)
            run, run_bytes = [], 0

        for child in node.children:
            size = child.end_byte - child.start_byte
            is_def = child.id in self.defs
            small = size <= self.budget
            if small and (not is_def or size <= self.budget // 4):
                if run and run_bytes + size > self.budget:
                    flush()
                # A new run starts on its own line; never split a line between two chunks.
                if run and child.start_point[0] == run[-1].end_point[0]:
                    pass
                run.append(child)
                run_bytes += size
                continue
            flush()
            if small:
                self.emit(child.start_point[0], last_row(child), headers, self._kind_of(child), self.symbol_of(child))
            elif child.child_count == 0:
                self.emit(child.start_point[0], last_row(child), headers, "block", None)
            elif is_def:
                self.split_def(child, headers)
            else:
                self.visit(child, headers)
        flush()

    def _kind_of(self, node: Node) -> str:
        d = self.defs.get(node.id)
        if d is None:
            return "block"
        if d.kind == "function" and self.ancestors and self.ancestors[-1].kind in self.class_like:
            return "method"
        return d.kind

    def run(self) -> ParsedFile:
        tree = self.lang.parser().parse(self.source)
        self.tree_root = tree.root_node
        tags, imports = self.symbol_matches()
        self.collect_tags(tags)
        self.collect_imports(imports)
        if self.with_chunks:
            self.visit(tree.root_node, [])
        self.chunks.sort(key=lambda c: (c.start_line, c.end_line))
        chunks = tuple(
            Chunk(i, c.start_line, c.end_line, c.kind, c.symbol, c.text, c.text_hash, c.name_terms, c.body_terms)
            for i, c in enumerate(self.chunks)
        )
        err = "syntax errors" if tree.root_node.has_error else None
        return ParsedFile(self.lang.name, chunks, tuple(self.symbols), err)


# A language's tags and imports queries compiled as one (its tags patterns first), by language: one query
# cursor pass over the tree finds both (the imports query alone walked the whole tree for a few matches).
# The same matches in the same order as the two queries give. None where the sources cannot be read again.
_SYMBOL_QUERIES: dict[int, tuple[LoadedLanguage, Query | None, int]] = {}


def _symbol_query(lang: LoadedLanguage, tags: Query, imports: Query) -> tuple[Query | None, int]:
    cached = _SYMBOL_QUERIES.get(id(lang))
    if cached is None or cached[0] is not lang:
        both: Query | None = None
        try:
            qdir = resources.files("hearth.indexer").joinpath("queries").joinpath(lang.spec.query_dir)
            src = [qdir.joinpath(f"{purpose}.scm").read_text(encoding="utf-8") for purpose in ("tags", "imports")]
            both = Query(lang.language, src[0] + "\n" + src[1])
            if both.pattern_count != tags.pattern_count + imports.pattern_count:
                both = None
        except Exception:  # the separate queries still work: use them
            both = None
        cached = _SYMBOL_QUERIES[id(lang)] = (lang, both, tags.pattern_count)
    return cached[1], cached[2]


_DEF, _SCOPE, _NAME, _REF, _OTHER = range(5)
_CAPTURE_ROLES: dict[str, tuple[int, str]] = {}  # a tags capture name -> (what it marks, its kind)


def _capture_role(cname: str) -> tuple[int, str]:
    if cname.startswith("definition.") or cname.startswith("scope."):
        return (_SCOPE if cname.startswith("scope.") else _DEF), cname.split(".", 1)[1]
    if cname.startswith("name.definition.") or cname.startswith("name.scope."):
        return _NAME, ""
    if cname.startswith("name.reference."):
        return _REF, cname.rsplit(".", 1)[1]
    return _OTHER, ""


def _unquote(raw: str) -> str:
    """An import path without its quotes or angle brackets (`"a.h"`, `<stdio.h>`)."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == "<" and raw[-1] == ">":
        return raw[1:-1]
    return raw.strip("\"'`")


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _rust_use(tree: str) -> list[tuple[str, str | None]]:
    inner = tree
    if "{" in tree:
        inner = tree[tree.index("{") + 1 : tree.rindex("}")] if "}" in tree else tree
    else:
        inner = tree.rsplit("::", 1)[-1]
    out: list[tuple[str, str | None]] = []
    for m in _RUST_USE.finditer(inner):
        parts = m.group(0).split()
        if parts[0] in {"self", "super", "crate"}:
            continue
        out.append((parts[0], parts[2] if len(parts) == 3 else None))
    return out


def window_chunks(source: bytes, language: str | None, lines_per_chunk: int = WINDOW_LINES) -> ParsedFile:
    lines = source.decode("utf-8", "replace").split("\n")
    chunks: list[Chunk] = []
    budget_bytes = CHUNK_TOKENS * BYTES_PER_TOKEN
    start = 0
    while start < len(lines):
        end = start
        size = 0
        while end < len(lines) and end - start < lines_per_chunk and (size < budget_bytes or end == start):
            size += len(lines[end]) + 1
            end += 1
        body = "\n".join(lines[start:end])
        if re.search(r"\w", body):
            chunks.append(
                Chunk(len(chunks), start + 1, end, "window", None, body, text_hash(body), "", lexeme_text(body))
            )
        start = end
    return ParsedFile(language, tuple(chunks), ())


def parse_source(
    registry: LanguageRegistry,
    path: str,
    source: bytes,
    budget_tokens: int = CHUNK_TOKENS,
    *,
    chunks: bool = True,
    refs: bool = True,
) -> ParsedFile:
    """The file's chunks and symbols; with ``chunks=False`` no chunks, with ``refs=False`` no references (the
    context at a cursor reads only the buffer's definitions and imports: both off take about 40% of the time)."""
    lang = registry.for_path(path)
    if lang is None:
        return window_chunks(source, registry.name_for_path(path)) if chunks else ParsedFile(
            registry.name_for_path(path), (), ()
        )
    return _FileParser(lang, source, budget_tokens, chunks, refs).run()


def identifiers_near(text: str, line: int, col: int, before: int = 12) -> Iterable[str]:
    """Identifiers on the cursor line and the lines before it (nearest first)."""
    lines = text.split("\n")
    rows = range(min(line, len(lines) - 1), max(-1, line - before - 1), -1)
    for r in rows:
        src = lines[r][:col] if r == line else lines[r]
        yield from reversed(re.findall(r"[^\W\d]\w*", src))
