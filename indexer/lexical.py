"""Code-aware lexical terms for full-text search.

Identifiers are kept whole and also split at camelCase, snake_case and digit boundaries, all
lowercased: ``parseHTTPResponse_v2`` gives ``parsehttpresponse_v2 parse http response v2``.
The same function builds the indexed text and the query, so both sides agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

_IDENT = re.compile(r"[^\W\d]\w*", re.UNICODE)
# The same identifiers in ASCII text, about twice as fast to find (a character class instead of two Unicode
# category tests per character).
_IDENT_ASCII = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+", re.UNICODE)

# Words that carry no signal in a natural-language query about code.
QUERY_STOPWORDS = frozenset(
    """a an and are as at be by for from how i in is it of on or that the this to was what when where
    which who why with does do can me my function method code find show please""".split()
)

MAX_TERMS = 6000


def split_identifier(ident: str) -> list[str]:
    parts = [p.lower() for p in _PARTS.findall(ident)]
    return [p for p in parts if len(p) > 1 or p.isdigit()]


def identifiers(text: str) -> list[str]:
    return _IDENT.findall(text)


@lru_cache(maxsize=1 << 17)
def ident_terms(ident: str) -> tuple[str, ...]:
    """One identifier's terms: the whole, lowercased, then its parts (cached: code repeats its
    identifiers, which makes indexing several times faster)."""
    whole = ident.lower()
    if len(whole) < 2:
        return ()
    parts = split_identifier(ident)
    if len(parts) > 1 or (parts and parts[0] != whole):
        return (whole, *(p for p in parts if p != whole))
    return (whole,)


def terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    out: list[str] = []
    for ident in _IDENT.findall(text):
        out.extend(ident_terms(ident))
        if len(out) >= limit:
            break
    return out[:limit]


# PostgreSQL's limits on a tsvector: a lexeme's length in bytes, and the whole vector's (with headroom for
# its entry headers). ``to_tsvector`` drops longer words with a notice; a tsvector literal with one is an error.
MAX_LEXEME_BYTES = 2046
MAX_LEXEMES_CHARS = 200_000  # a chunk body's: at most 800 kB of UTF-8, under the 1 MB a tsvector may hold
MAX_NAME_LEXEMES_CHARS = 40_000  # its names' (160 kB), with their weights


def ident_lexemes(ident: str) -> tuple[str, ...]:
    """An identifier's full-text lexemes: its terms (``ident_terms``) split at underscores, each once, as
    PostgreSQL's default parser would split them (``cache_hash`` is ``cache`` and ``hash``; ``__init__`` is
    ``init``). Words too long for a tsvector are left out."""
    out: dict[str, None] = {}
    for term in ident_terms.__wrapped__(ident):  # not through ident_terms' own cache: held in _LexemeCache
        for lexeme in term.split("_") if "_" in term else (term,):
            if lexeme and (len(lexeme) * 4 <= MAX_LEXEME_BYTES or len(lexeme.encode()) <= MAX_LEXEME_BYTES):
                out[lexeme] = None
    return tuple(out)


class _LexemeCache(dict[str, str]):
    """Each identifier's lexemes joined with spaces ("" when it has none), computed on the first lookup.

    A dict with ``__missing__``: a hit is a C-level lookup, which ``lexeme_text`` does for every
    identifier of every chunk. Cleared when it grows past ``MAX_ENTRIES`` (a long-running server)."""

    MAX_ENTRIES = 1 << 17

    def __missing__(self, ident: str) -> str:
        if len(self) >= self.MAX_ENTRIES:
            self.clear()
        text = " ".join(ident_lexemes(ident))
        self[ident] = text
        return text


_lexeme_cache = _LexemeCache()


def lexeme_text(text: str, limit: int = MAX_TERMS) -> str:
    """The full-text lexemes of a chunk's text, space-separated: each distinct identifier's ``ident_lexemes``,
    in order of first appearance, at most ``limit`` of them (and ``MAX_LEXEMES_CHARS`` characters).

    The parse worker builds a chunk's tsvector from these as a literal (``tsvector_literal``), so PostgreSQL
    need not run its text parser over the chunk (a tenth of the CPU of a full index went there). A lexeme is
    there once, without positions: ``ts_rank`` gives a lexeme's k-th occurrence only 1/k² of the first's weight,
    and Hearth's full-text queries are ORs of words, which need no positions. A lexeme shared by identifiers
    (``parse`` of ``parseArgs`` and ``parseFile``) may be listed more than once; the literal's reader merges it.
    """
    idents = dict.fromkeys((_IDENT_ASCII if text.isascii() else _IDENT).findall(text))
    joined = " ".join(filter(None, map(_lexeme_cache.__getitem__, idents)))
    # Each lexeme is at least one character and a separator: a shorter text has fewer than ``limit`` lexemes.
    if len(joined) < 2 * limit:
        return joined
    out: list[str] = []
    size = 0
    for ident in idents:
        for lexeme in _lexeme_cache[ident].split():
            size += len(lexeme) + 1
            if len(out) >= limit or size > MAX_LEXEMES_CHARS:
                return " ".join(out)
            out.append(lexeme)
    return " ".join(out)


def tsvector_literal(name_lexemes: str, body_lexemes: str) -> str:
    """A chunk's tsvector in PostgreSQL's input syntax: the lexemes of its symbol path and signatures weighted A
    (at position 1, which a weight needs), then the body's, unweighted and without positions. Lexemes are word
    characters only, so none needs quoting."""
    if not name_lexemes:
        return body_lexemes
    if len(name_lexemes) > MAX_NAME_LEXEMES_CHARS:  # a signature of very long lines: keep the vector within bounds
        name_lexemes = name_lexemes[:MAX_NAME_LEXEMES_CHARS].rsplit(" ", 1)[0]
    named = " ".join([lexeme + ":1A" for lexeme in name_lexemes.split()])
    return f"{named} {body_lexemes}" if body_lexemes else named


def _tsquery(words: Iterable[str], op: str) -> str:
    """The words joined by ``op`` in tsquery input syntax (cast with ``::tsquery``, not parsed by ``to_tsquery``):
    lowercased as ``lexeme_text`` indexes them, non-word characters dropped, and words too long to be lexemes too
    (they are in no vector, and PostgreSQL rejects the whole query for one)."""
    safe = dict.fromkeys(re.sub(r"\W", "", w).lower() for w in words)
    return f" {op} ".join(f"'{w}'" for w in safe if w and len(w.encode()) <= MAX_LEXEME_BYTES)


def tsquery_any(words: Iterable[str]) -> str:
    """A tsquery matching any of the words (``_tsquery``)."""
    return _tsquery(words, "|")


def tsquery_all(words: Iterable[str]) -> str:
    """A tsquery matching all of the words (``_tsquery``)."""
    return _tsquery(words, "&")


def query_terms(text: str, limit: int = 64) -> list[str]:
    """Distinct terms of a query, stop words removed, in order of appearance."""
    seen: dict[str, None] = {}
    for t in terms(text[:100_000], limit * 8):
        if t in QUERY_STOPWORDS:
            continue
        seen.setdefault(t, None)
        if len(seen) >= limit:
            break
    return list(seen)


def fts_words(words: Iterable[str]) -> list[str]:
    """The words as lexemes (``ident_lexemes``): ``cache_hash`` is indexed as ``cache`` and ``hash`` (which ``terms``
    lists too), so a word with an inner underscore is left out; leading and trailing underscores are dropped
    (``__init__`` is ``init``)."""
    out: dict[str, None] = {}
    for w in words:
        core = re.sub(r"\W", "", w).strip("_")
        if core and "_" not in core:
            out.setdefault(core, None)
    return list(out)


def rare_terms(
    words: Sequence[str], doc_freq: Mapping[str, int], *, max_terms: int = 10, max_postings: int = 500
) -> list[str]:
    """The query words worth a full-text query, rarest first, from the repository's document frequencies.

    A word the statistics do not know counts as rarest (absent when they were taken: it costs nothing to
    match, and it may be new). Words are taken in order of rarity while their summed document frequency
    stays within ``max_postings`` (the rarest one always), at most ``max_terms``: an OR of common words
    matches most of a large index, and ranking adds little for them. Ties keep the order of ``words``.
    """
    order = sorted(dict.fromkeys(words), key=lambda w: doc_freq.get(w, 0))
    out: list[str] = []
    total = 0
    for w in order:
        df = doc_freq.get(w, 0)
        if out and (total + df > max_postings or len(out) >= max_terms):
            break
        out.append(w)
        total += df
    return out
