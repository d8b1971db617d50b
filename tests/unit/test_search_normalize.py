"""Normalizer v1, bigram lexemes, the tsquery literal and chunking."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from legal_data.search.normalize import (
    CHUNK_CHARS,
    CHUNK_OVERLAP,
    FIELD_SEPARATOR,
    MAX_TERM_CHARS,
    NORMALIZER_VERSION,
    bigrams,
    chunks,
    index_lexemes,
    normalize_text,
    normalize_with_map,
    search_document,
    term_lexemes,
    tsquery_literal,
    tsquery_terms,
    tsvector_text,
)

# Characters that tsquery input syntax treats specially, plus whitespace.
TSQUERY_SPECIAL = frozenset("&|!():*<>'\\\"") | frozenset(string.whitespace)

JA_ALPHABET = (
    "あいうえおかがきぎくけこさしすせそたちつてとなにぬのはばぱまやゆよらりるれろわをんっゃゅょ"
    "アイウエオカガキギクケコサシスセソタチツテトナニヌノハバパマヤユヨラリルレロワヲンッャュョヴ"
    "ｱｲｳｶｷｸｻｼｽﾀﾁﾂﾊﾋﾌﾏﾐﾑﾗﾘﾙﾝｯｬﾞﾟｰ"
    "離婚調停損害賠償請求事件山田商事株式会社高髙橋渡邊辺相続労働審判建物明渡令和々〆〇"
    "ＡＢＣａｂｃ０１２３abcXYZ019"
    "ー-‐‑–—―−－~～〜"
    " 　\t\n、。・「」（）()【】!?.,:;'\"\\/&|*<>%_"
    "㈱㈲㍿①㋿゛゜"
    "\u0301\u3099\u200b\ufeff\x00\x07\ufe00"
)
ja_text = st.text(alphabet=st.sampled_from(JA_ALPHABET), max_size=40)
any_text = st.text(max_size=40)
mixed_text = st.one_of(ja_text, any_text)

INJECTIONS = [
    "'); DROP TABLE x; --",
    "a & b | !c",
    ":*",
    "'a':* & !'b'",
    "foo <-> bar",
    "\\'; SELECT 1; --",
    "\x00\x01\x1b[31m\x7f",
    "\u202e\u200d\ufeff",
]


def test_version_is_pinned() -> None:
    # Changing the normalizer's output requires a version bump and a re-index.
    assert NORMALIZER_VERSION == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("ｱｲｳｴｵｶﾞ", "アイウエオガ"),
        ("ｻｰﾊﾞｰ", "サーバー"),
        ("Straße", "strasse"),
        ("㈱山田商事", "株式会社山田商事"),
        ("（株）山田　商事", "株式会社山田商事"),
        ("㍿山田", "株式会社山田"),
        ("㊑山田", "株式会社山田"),
        ("(有)佐藤", "有限会社佐藤"),
        ("(特非)ABC", "特定非営利活動法人abc"),
        ("①②", "12"),
        ("㋿5年(ワ)第1234号", "令和5年ワ第1234号"),
        ("損害 賠償", "損害賠償"),
        ("損害\u3000賠償\n", "損害賠償"),
        ("「離婚」、調停。", "離婚調停"),
        ("佐々木", "佐々木"),
        ("a\x00b\u200bc\ufeff", "abc"),
        ("葛\U000e0100城", "葛城"),
        ("か゛", "が"),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # After kana, any dash is the long-vowel mark...
        ("サ－バ", "サーバ"),
        ("サ−バ", "サーバ"),
        ("サ‐バ", "サーバ"),
        ("サ—バ", "サーバ"),
        ("サ~バ", "サーバ"),
        ("データ", "データ"),
        ("すご〜い", "すごーい"),
        ("ア--", "アーー"),
        # ...elsewhere it is a hyphen and dropped, even when typed as ー.
        ("03ー1234", "031234"),
        ("03－1234−5678", "0312345678"),
        ("東京ー大阪", "東京大阪"),
        ("1〜3", "13"),
        ("(い)-(ろ)", "いろ"),
        ("ア ー", "ア"),
        # A leading ー is kept, so fragments of normalized text stay as they are.
        ("ーム", "ーム"),
        ("-ム", "ム"),
    ],
)
def test_dash_and_long_vowel(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_fold_kana() -> None:
    assert normalize_text("ひらがな", fold_kana=True) == "ヒラガナ"
    assert normalize_text("ゝゞ", fold_kana=True) == "ヽヾ"
    assert normalize_text("らーめん", fold_kana=True) == "ラーメン"
    assert normalize_text("ひらがな") == "ひらがな"


@given(mixed_text, st.booleans())
def test_normalize_is_idempotent(text: str, fold: bool) -> None:
    once = normalize_text(text, fold_kana=fold)
    assert normalize_text(once, fold_kana=fold) == once


@given(mixed_text)
def test_normalized_output_has_no_tsquery_specials_or_controls(text: str) -> None:
    out = normalize_text(text)
    assert not (set(out) & TSQUERY_SPECIAL)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)


@given(mixed_text, st.data())
def test_substrings_of_normalized_text_are_normalized(text: str, data: st.DataObject) -> None:
    """A fragment copied out of a normalized document is a query that finds it."""
    norm = normalize_text(text)
    assume(norm)
    i = data.draw(st.integers(0, len(norm) - 1))
    j = data.draw(st.integers(i + 1, len(norm)))
    assert normalize_text(norm[i:j]) == norm[i:j]


# Characters whose normalization does not depend on neighbours (no dashes or ー, no
# separate voiced marks, no combining marks): raw substrings stay substrings. ー is
# the documented exception: "2ー" drops it as a hyphen, while the fragment "ー" keeps it.
CONTEXT_FREE = st.text(
    alphabet=st.sampled_from(
        "離婚調停損害賠償山田商事株式会社アイウカガサバあいうＡＢＣabc０１2 　、。「」()㈱①"
    ),
    max_size=30,
)


@given(CONTEXT_FREE, st.data())
def test_raw_substring_normalizes_to_a_substring(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    assert normalize_text(text[i:j]) in normalize_text(text)


@given(mixed_text)
def test_map_points_into_the_original(text: str) -> None:
    norm = normalize_with_map(text)
    assert len(norm.starts) == len(norm.ends) == len(norm.text)
    for k in range(len(norm.text)):
        s, e = norm.span(k, k + 1)
        assert 0 <= s < e <= len(text)
        # Every output character comes from its original span.
        assert norm.text[k] in normalize_text(text[s:e], fold_kana=False) or norm.text[k] == "ー"
    assert list(norm.starts) == sorted(norm.starts)


def test_map_covers_expansions() -> None:
    norm = normalize_with_map("当社㈱山田")
    assert norm.text == "当社株式会社山田"
    assert norm.span(2, 6) == (2, 3)  # 株式会社 ← ㈱
    assert norm.span(6, 8) == (3, 5)
    assert normalize_with_map("（株）").span(0, 4) == (0, 3)
    with pytest.raises(ValueError):
        norm.span(3, 3)


def test_bigrams() -> None:
    assert bigrams("離婚調停") == ["離婚", "婚調", "調停"]
    assert bigrams("離") == ["離"]
    assert bigrams("") == []
    assert bigrams("ああああ") == ["ああ"]  # de-duplicated
    assert bigrams("abab") == ["ab", "ba"]  # first-seen order
    assert bigrams("離婚\n調停") == ["離婚", "調停"]  # never across fields


def test_index_lexemes_add_field_final_sentinels() -> None:
    norm = search_document("隔離", "措置")
    assert norm == "隔離\n措置"
    lex = index_lexemes(norm)
    assert lex == ["隔離", "措置", "離", "置"]
    # Without the sentinel a 1-character prefix query '離':* would miss this document.
    assert not any(g.startswith("離") for g in bigrams(norm))


def test_search_document_skips_empty_fields() -> None:
    assert search_document("", "  、 ", "本文") == "本文"
    assert search_document() == ""


def test_tsvector_text() -> None:
    assert tsvector_text("離婚調停") == "離婚 婚調 調停 停"
    assert tsvector_text("") == ""


@given(mixed_text, st.data())
def test_and_query_never_misses_a_substring_match(text: str, data: st.DataObject) -> None:
    """If the normalized term occurs in the document, all its lexemes are indexed."""
    norm = search_document(text)
    assume(norm)
    i = data.draw(st.integers(0, len(norm) - 1))
    j = data.draw(st.integers(i + 1, min(len(norm), i + MAX_TERM_CHARS)))
    term = normalize_text(norm[i:j])
    assert term in norm
    indexed = set(index_lexemes(norm))
    for lex in term_lexemes(term):
        if len(lex) == 2:
            assert lex in indexed
        else:  # prefix match
            assert any(g.startswith(lex) for g in indexed)


@given(mixed_text)
def test_lexemes_are_safe_for_tsquery(text: str) -> None:
    for lex in index_lexemes(search_document(text)) + tsquery_terms(text):
        assert 1 <= len(lex) <= 2
        assert not (set(lex) & TSQUERY_SPECIAL)


@pytest.mark.parametrize("attack", INJECTIONS)
def test_injection_strings_yield_harmless_terms(attack: str) -> None:
    terms = tsquery_terms(attack)
    for t in terms:
        assert not (set(t) & TSQUERY_SPECIAL)
        assert t.isalnum()
    if terms:
        literal = tsquery_literal(terms)
        assert all(part.startswith("'") for part in literal.split(" & "))


def test_injection_examples_exactly() -> None:
    assert tsquery_terms("'); DROP TABLE x; --") == [
        "dr",
        "ro",
        "op",
        "pt",
        "ta",
        "ab",
        "bl",
        "le",
        "ex",
    ]
    assert tsquery_terms("a & b | !c") == ["ab", "bc"]
    assert tsquery_terms(":*") == []
    assert tsquery_terms("\x00\x1b") == []


@pytest.mark.parametrize(
    ("terms", "literal"),
    [
        (["離婚"], "'離婚'"),
        (["離"], "'離':*"),
        (["損害", "害賠", "離"], "'損害' & '害賠' & '離':*"),
        (["a'b"], "'a''b'"),
        (["c\\d"], "'c\\\\d'"),
        (["x y", "&|"], "'x y' & '&|'"),
        (["ab", "ab", ""], "'ab'"),
    ],
)
def test_tsquery_literal_quotes_every_lexeme(terms: list[str], literal: str) -> None:
    assert tsquery_literal(terms) == literal


def test_tsquery_literal_rejects_empty() -> None:
    with pytest.raises(ValueError):
        tsquery_literal([])
    with pytest.raises(ValueError):
        tsquery_literal([""])


def test_chunks_small_document_is_one_chunk() -> None:
    assert chunks("") == [""]
    assert chunks("離婚調停") == ["離婚調停"]


@given(
    st.text(alphabet=st.sampled_from("離婚調停損害賠償ab\n"), max_size=120),
    st.integers(2, 20),
    st.data(),
)
def test_chunks_keep_every_short_substring_whole(
    text: str, max_chars: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, max_chars - 1))
    parts = chunks(text, max_chars=max_chars, overlap=overlap)
    assert all(len(p) <= max_chars for p in parts)
    assert "".join(p[overlap:] if k else p for k, p in enumerate(parts)) == text
    assume(text)
    i = data.draw(st.integers(0, len(text) - 1))
    j = data.draw(st.integers(i + 1, min(len(text), i + overlap + 1)))
    assert any(text[i:j] in p for p in parts)


def test_chunks_reject_bad_parameters() -> None:
    with pytest.raises(ValueError):
        chunks("abc", max_chars=2, overlap=2)
    with pytest.raises(ValueError):
        chunks("abc", max_chars=2, overlap=-1)


def test_chunk_overlap_covers_the_longest_term() -> None:
    assert CHUNK_OVERLAP + 1 >= MAX_TERM_CHARS


def test_worst_case_chunk_stays_under_the_tsvector_limit() -> None:
    """4-byte characters in random order: nearly every bigram distinct and 8 bytes long."""
    rng = random.Random(0)
    alphabet = [chr(0x20000 + k) for k in range(4096)]  # CJK Extension B letters
    text = "".join(rng.choice(alphabet) for _ in range(CHUNK_CHARS + 5000))
    norm = search_document(text)
    assert len(norm) == CHUNK_CHARS + 5000
    parts = chunks(norm)
    assert len(parts) == 2
    lexemes = index_lexemes(parts[0])
    lexeme_bytes = sum(len(lex.encode("utf-8")) for lex in lexemes)
    assert len(lexemes) > CHUNK_CHARS * 0.95
    assert lexeme_bytes <= (1 << 20) // 2 + 4  # half of PostgreSQL's 1 MiB lexeme limit


def test_field_separator_is_never_in_a_query() -> None:
    assert FIELD_SEPARATOR not in normalize_text(f"a{FIELD_SEPARATOR}b")
