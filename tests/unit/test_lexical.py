"""Code-aware terms and the choice of full-text query words by rarity."""

from __future__ import annotations

from hearth.indexer.lexical import fts_words, rare_terms, tsquery_or


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
