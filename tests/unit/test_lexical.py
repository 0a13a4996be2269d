"""Code-aware terms and the choice of full-text query words by rarity."""

from __future__ import annotations

import random
import re

from hearth.indexer.lexical import fts_words, rare_terms, term_text, terms, tsquery_or


def test_fts_words_match_how_postgres_splits_underscores() -> None:
    # ``cache_hash`` is indexed as ``cache`` and ``hash``: as a query word it would be a phrase of common parts.
    assert fts_words(["cache_hash", "cache", "__init__", "_scheduler", "parse2", "a-b", "cache"]) == [
        "cache", "init", "scheduler", "parse2", "ab",
    ]


def test_rare_terms_take_the_rarest_within_the_postings_budget() -> None:
    df = {"self": 9000, "return": 8000, "items": 400, "compute_total": 3, "tax": 60}
    assert rare_terms(["self", "return", "items", "compute_total", "tax"], df, max_postings=500) == [
        "compute_total", "tax", "items",
    ]
    assert rare_terms(["self", "return", "items", "compute_total", "tax"], df, max_postings=100) == [
        "compute_total", "tax",
    ]


def test_unknown_words_count_as_rarest_and_the_rarest_is_always_kept() -> None:
    assert rare_terms(["self", "brandnew"], {"self": 9000}, max_postings=10) == ["brandnew"]
    assert rare_terms(["self", "return"], {"self": 9000, "return": 8000}, max_postings=10) == ["return"]


def test_rare_terms_cap_the_number_of_words_and_keep_ties_in_order() -> None:
    words = [f"w{i}" for i in range(30)]
    assert rare_terms(words, {}, max_terms=4) == ["w0", "w1", "w2", "w3"]
    assert rare_terms([], {}) == []


def test_tsquery_or_drops_non_word_characters() -> None:
    assert tsquery_or(["a&b", "c", "!"]) == "ab | c"


def test_term_text_of_ascii_text_is_what_the_unicode_pattern_gives() -> None:
    # ASCII text takes a faster identifier pattern; the terms must be the same as the Unicode one's.
    unicode_ident = re.compile(r"[^\W\d]\w*")
    rng = random.Random(3)
    alphabet = "aZ_09 .\t\n(){}:-x\x7f\x00"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert unicode_ident.findall(text) == re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
        assert term_text(text) == " ".join(terms(text))
    for text in ["parseHTTPResponse_v2 x86_64 __init__", "café naïve_ID", "x\u00e9y _1 9a a9"]:
        assert term_text(text) == " ".join(terms(text))
