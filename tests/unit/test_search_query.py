"""User query syntax: AND terms, phrases, exclusions, LIKE patterns, the tsquery literal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.errors import InvalidSearchQuery, ValidationError
from legal_data.search.normalize import MAX_TERM_CHARS, normalize_text
from legal_data.search.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    like_escape,
    like_pattern,
    parse_query,
)

TSQUERY_SPECIAL = set("&|!():*<>'\\\" \t\n\u3000")


def test_terms_are_anded_and_normalized() -> None:
    p = parse_query("離婚　ＡＢＣ ｶﾀｶﾅ")
    assert p.terms == ("離婚", "abc", "カタカナ")
    assert p.excluded_terms == ()
    assert p.required_bigrams == ("離婚", "ab", "bc", "カタ", "タカ", "カナ")
    assert p.like_patterns == ("%離婚%", "%abc%", "%カタカナ%")
    assert p.tsquery == "'離婚' & 'ab' & 'bc' & 'カタ' & 'タカ' & 'カナ'"


def test_quoted_phrase_is_one_term() -> None:
    p = parse_query('"損害 賠償" 請求')
    assert p.terms == ("損害賠償", "請求")
    for quoted in ("＂損害 賠償＂", "“損害 賠償”"):
        assert parse_query(quoted).terms == ("損害賠償",)


def test_exclusion() -> None:
    p = parse_query('交通事故 -物損 -"後遺 障害" －示談 −保険')
    assert p.terms == ("交通事故",)
    assert p.excluded_terms == ("物損", "後遺障害", "示談", "保険")
    assert p.excluded_like_patterns == ("%物損%", "%後遺障害%", "%示談%", "%保険%")
    # Exclusions never add required lexemes (bigram NOT would over-exclude).
    assert p.required_bigrams == ("交通", "通事", "事故")


def test_minus_inside_a_word_is_not_an_exclusion() -> None:
    p = parse_query("03-1234-5678 a-b")
    assert p.terms == ("0312345678", "ab")
    assert p.excluded_terms == ()


def test_single_character_term_is_a_prefix_lexeme() -> None:
    p = parse_query("離")
    assert p.required_bigrams == ("離",)
    assert p.tsquery == "'離':*"
    assert p.like_patterns == ("%離%",)


def test_terms_that_normalize_to_nothing_are_ignored() -> None:
    p = parse_query('離婚 - !!! "" 、。')
    assert p.terms == ("離婚",)
    assert p.excluded_terms == ()


def test_duplicates_removed() -> None:
    p = parse_query("離婚 離婚 ＲＩＫＯＮ rikon")
    assert p.terms == ("離婚", "rikon")


def test_company_abbreviation_expanded_in_query() -> None:
    assert parse_query("㈱山田商事").terms == ("株式会社山田商事",)


@pytest.mark.parametrize(
    "q",
    ["", "   ", "\u3000\t\n", '"', '離婚 "調停', 'a"b"c"', "-離婚", '-"離婚"', "!!! 、", "-"],
)
def test_invalid_queries(q: str) -> None:
    with pytest.raises(InvalidSearchQuery):
        parse_query(q)


def test_invalid_search_query_is_a_validation_error() -> None:
    assert issubclass(InvalidSearchQuery, ValidationError)
    assert issubclass(InvalidSearchQuery, ValueError)


def test_limits() -> None:
    with pytest.raises(InvalidSearchQuery, match="longer than"):
        parse_query("あ" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(InvalidSearchQuery, match="more than"):
        parse_query(" ".join(f"語{i}" for i in range(MAX_TERMS + 1)))
    parse_query(" ".join(f"語{i}" for i in range(MAX_TERMS)))
    parse_query("あ" * MAX_TERM_CHARS)
    with pytest.raises(InvalidSearchQuery, match="term is longer"):
        parse_query("あ" * (MAX_TERM_CHARS + 1))


@pytest.mark.parametrize(
    ("term", "escaped"),
    [("50%", "50\\%"), ("a_b", "a\\_b"), ("c\\d", "c\\\\d"), ("離婚", "離婚"), ("\\%", "\\\\\\%")],
)
def test_like_escape(term: str, escaped: str) -> None:
    assert like_escape(term) == escaped
    assert like_pattern(term) == f"%{escaped}%"


@pytest.mark.parametrize(
    ("q", "terms"),
    [
        ("'); DROP TABLE x; --", ("drop", "table", "x")),
        ("a & b | !c", ("a", "b", "c")),
        ("'a':* & !'b'", ("a", "b")),
        ("離婚 <-> 調停", ("離婚", "調停")),
        ("%_% 離婚\\", ("離婚",)),
        ("\x00離\x1b[31m婚\x7f", ("離31m婚",)),
    ],
)
def test_injection_strings_become_plain_terms(q: str, terms: tuple[str, ...]) -> None:
    p = parse_query(q)
    assert p.terms == terms
    for lex in p.required_bigrams:
        assert not set(lex) & TSQUERY_SPECIAL
    for pattern in p.like_patterns:
        # Only the two wildcards we add; nothing from the user is a LIKE wildcard.
        assert pattern.startswith("%") and pattern.endswith("%")
        assert "%" not in pattern[1:-1] and "_" not in pattern


@given(st.text(max_size=80))
def test_any_input_parses_or_raises_invalid_search_query(q: str) -> None:
    try:
        p = parse_query(q)
    except InvalidSearchQuery:
        return
    assert p.terms
    assert all(t == normalize_text(t) and t for t in p.terms)
    assert len(p.like_patterns) == len(p.terms)
    assert p.required_bigrams
    for lex in p.required_bigrams:
        assert 1 <= len(lex) <= 2 and not set(lex) & TSQUERY_SPECIAL
    # The literal is quoted lexemes joined by ' & ', optionally with the prefix flag.
    for part in p.tsquery.split(" & "):
        assert part.startswith("'") and (part.endswith("'") or part.endswith("':*"))
