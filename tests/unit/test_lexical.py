"""Code-aware terms and the choice of full-text query words by rarity."""

from __future__ import annotations

import random
import re

from hearth.indexer.lexical import (
    MAX_LEXEME_BYTES,
    fts_words,
    ident_lexemes,
    lexeme_text,
    rare_terms,
    terms,
    tsquery_all,
    tsquery_any,
    tsvector_literal,
)


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


def test_tsquery_any_quotes_lowercased_words_and_drops_non_word_characters() -> None:
    assert tsquery_any(["a&b", "C", "!", "c", "café"]) == "'ab' | 'c' | 'café'"
    assert tsquery_any(["!"]) == ""
    assert tsquery_any(["a" * (MAX_LEXEME_BYTES + 1), "b"]) == "'b'"  # PostgreSQL rejects a longer lexeme
    assert tsquery_all(["Parse", "header", "!", "parse"]) == "'parse' & 'header'"


def test_lexeme_text_of_ascii_text_is_what_the_unicode_pattern_gives() -> None:
    # ASCII text takes a faster identifier pattern; the lexemes must be the same as the Unicode one's.
    unicode_ident = re.compile(r"[^\W\d]\w*")
    rng = random.Random(3)
    alphabet = "aZ_09 .\t\n(){}:-x\x7f\x00"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert unicode_ident.findall(text) == re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
        want = [lx for ident in dict.fromkeys(unicode_ident.findall(text)) for lx in ident_lexemes(ident)]
        assert lexeme_text(text).split() == want


def test_lexemes_split_at_underscores_as_postgres_would() -> None:
    assert ident_lexemes("parseHTTPResponse_v2") == ("parsehttpresponse", "v2", "parse", "http", "response", "2")
    assert ident_lexemes("__init__") == ("init",)
    assert ident_lexemes("x86_64") == ("x86", "64", "86")
    assert ident_lexemes("x") == ()
    assert ident_lexemes("a" * (MAX_LEXEME_BYTES + 1)) == ()


def test_lexeme_text_lists_each_identifier_once_in_order_of_appearance() -> None:
    text = "parseArgs(args); parseArgs(more, args) # parseFile"
    assert lexeme_text(text) == "parseargs parse args args more parsefile parse file"
    # Every term of the full expansion is there (split at underscores), only fewer times.
    rng = random.Random(5)
    words = ["parseHTTPResponse", "x", "args", "_tmp", "v2", "café", "Node", "id", "snake_case_name"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 30)))
        got = lexeme_text(text).split()
        assert set(got) == {lx for t in terms(text) for lx in t.split("_") if lx}


def test_lexeme_text_keeps_the_lexeme_limit() -> None:
    names = [f"name{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(100)]  # one lexeme each
    text = " ".join(names)
    assert lexeme_text(text, limit=7).split() == names[:7]
    assert lexeme_text(" ".join([text] * 3), limit=7) == lexeme_text(text, limit=7)
    assert lexeme_text(" ".join([text] * 3)).split() == names


def test_lexeme_text_stays_within_what_a_tsvector_holds() -> None:
    names = [f"{'q' * 2000}{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(3000)]
    got = lexeme_text(" ".join(names))
    assert 190_000 < len(got) <= 200_000 and got.split() == names[: len(got.split())]


def test_tsvector_literal_weights_the_names() -> None:
    assert tsvector_literal("cart add", "add items") == "cart:1A add:1A add items"
    assert tsvector_literal("", "add items") == "add items"
    assert tsvector_literal("cart", "") == "cart:1A"
