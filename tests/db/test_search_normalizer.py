"""The normalizer's fast path gives exactly what the full path gives (no database needed).

Indexing and snippets normalize a lot of text, so ``normalize_with_map`` first tries a
per-character fast path (cached images, the full path's own legal-form and dash code);
any text it is not sure about goes through the cluster-by-cluster full path. Hypothesis
feeds both with Japanese legal text and with the characters that make normalization hard:
half-width kana and voiced marks, dashes and long-vowel marks, parenthesized and circled
legal forms, full-width letters, combining marks, Hangul jamo, variation selectors.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from legal_data.search.normalize import (
    _fast_path,
    _normalize_with_map_full,
    normalize_text,
    normalize_with_map,
)

HARD = list(
    "離婚調停損害賠償請求事件山田商事株式会社有限会社"
    "ｶﾀｶﾅｻｰﾊﾞｰﾛｰﾝﾞﾟかがゝゞヽヾ々ー〜～−‐-－―─━"
    "()（）［］「」【】。、・ 　\n\t"
    "㈱㈲㈳㊑㊒㍿㋿①⑴⒈ℌﬁｱｲｳＡＢＣａｂｃ０１２ABCabc0123"
    "\u3099\u309a\u309b\u309c\u0301\u0308\u1100\u1161\u11a8가ß"
    "\ufe0f\U000e0100\u200b\u202e\ufeff"
)
TEXT = st.text(st.sampled_from(HARD) | st.characters(codec="utf-8"), max_size=60)
LEGAL = st.lists(
    st.sampled_from(
        ["(株)", "（株）", "㈱", "(一社)", "（特非）", "(名)", "(ワ)", "（", "）", "株"]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(TEXT)
def test_fast_path_equals_full_path(text: str) -> None:
    fast = _fast_path(text)
    if fast is not None:
        assert fast == _normalize_with_map_full(text)
    assert normalize_with_map(text) == _normalize_with_map_full(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(TEXT | LEGAL, max_size=4).map("".join))
def test_fast_path_equals_full_path_around_legal_forms(text: str) -> None:
    assert normalize_with_map(text) == _normalize_with_map_full(text)


def test_the_fast_path_takes_ordinary_japanese_text() -> None:
    # (Half-width voiced marks, ｻｰﾊﾞｰ, join the kana before them: those texts take the
    # full path.)
    text = "令和5年(ワ)第1234号　㈱山田商事に対する損害賠償請求事件。ｶﾀｶﾅのﾛｰﾝ、ローン。"
    assert _fast_path(text) is not None
    assert normalize_text(text) == _normalize_with_map_full(text).text
    assert (
        normalize_text(text)
        == "令和5年ワ第1234号株式会社山田商事に対する損害賠償請求事件カタカナのローンローン"
    )
