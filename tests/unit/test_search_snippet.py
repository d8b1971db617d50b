"""Snippets: match on normalized text, highlight the original characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from legal_data.search.normalize import DASHES, normalize_text
from legal_data.search.query import parse_query
from legal_data.search.snippet import highlight


def test_highlights_original_width_variants() -> None:
    assert highlight("ｻｰﾊﾞｰの障害", "サーバー") == "【ｻｰﾊﾞｰ】の障害"
    assert highlight("ＡＢＣ社との契約", "abc") == "【ＡＢＣ】社との契約"


def test_expansion_maps_back_to_one_character() -> None:
    # ㈱ normalizes to 株式会社 (4 characters); the highlight covers the single ㈱.
    assert highlight("当社は㈱山田商事と取引", "株式会社山田") == "当社は【㈱山田】商事と取引"
    assert highlight("（株）山田商事", "株式会社") == "【（株）】山田商事"
    assert highlight("㍿山田", "会社") == "【㍿】山田"


def test_match_across_removed_spaces() -> None:
    assert highlight("損害　賠償を求める", '"損害賠償"') == "【損害　賠償】を求める"


def test_earliest_match_wins_then_longest() -> None:
    text = "調停の後に離婚調停"
    assert highlight(text, "離婚 調停") == "【調停】の後に離婚調停"
    assert highlight("離婚調停", "離婚 離婚調停") == "【離婚調停】"


def test_excluded_terms_are_not_highlighted() -> None:
    assert highlight("物損事故と交通事故", "交通事故 -物損") == "物損事故と【交通事故】"


def test_window_and_ellipses() -> None:
    text = "あ" * 100 + "離婚" + "い" * 100
    out = highlight(text, "離婚", width=20)
    assert out == "…" + "あ" * 9 + "【離婚】" + "い" * 9 + "…"
    # Near the end the unused room goes to the left side.
    out = highlight("あ" * 50 + "離婚", "離婚", width=10)
    assert out == "…" + "あ" * 8 + "【離婚】"
    # Near the start the unused room goes to the right side.
    out = highlight("離婚" + "い" * 50, "離婚", width=10)
    assert out == "【離婚】" + "い" * 8 + "…"


def test_match_longer_than_width_is_shown_whole() -> None:
    assert (
        highlight("前損害賠償請求事件後", "損害賠償請求事件", width=4) == "…【損害賠償請求事件】…"
    )


def test_no_match_returns_the_start() -> None:
    assert highlight("離婚調停の申立て", "詐欺", width=4) == "離婚調停…"
    assert highlight("短い", "詐欺") == "短い"


def test_whitespace_and_controls_flattened() -> None:
    assert highlight("前\n\n離婚\t後\x00", "離婚") == "前 【離婚】 後 "


def test_html_escapes_text_and_uses_mark() -> None:
    out = highlight('<b>A&B</b> 離婚 "x"', "離婚", html=True)
    assert out == "&lt;b&gt;A&amp;B&lt;/b&gt; <mark>離婚</mark> &quot;x&quot;"
    out = highlight("<i>離婚</i>", "離婚", html=True)
    assert out == "&lt;i&gt;<mark>離婚</mark>&lt;/i&gt;"
    assert "<script>" not in highlight("<script>x</script>", "詐欺", html=True)


def test_custom_markers_and_parsed_query() -> None:
    p = parse_query("離婚")
    assert highlight("協議離婚", p, start_marker="[", end_marker="]") == "協議[離婚]"


def test_bad_width() -> None:
    with pytest.raises(ValueError):
        highlight("離婚", "離婚", width=0)


def _no_dashes(text: str) -> bool:
    # A dash's normalization depends on the character before it, which the marked
    # excerpt alone does not show; the content check below skips such texts.
    return not any(unicodedata.normalize("NFKC", c) in DASHES for c in text)


@given(st.text(max_size=60).filter(lambda t: "⟦" not in t and "⟧" not in t), st.data())
def test_markers_present_whenever_a_term_matches(text: str, data: st.DataObject) -> None:
    norm = normalize_text(text)
    assume(norm)
    i = data.draw(st.integers(0, len(norm) - 1))
    j = data.draw(st.integers(i + 1, min(len(norm), i + 20)))
    term = norm[i:j]
    out = highlight(text, f'"{term}"', width=30, start_marker="⟦", end_marker="⟧")
    assert out.count("⟦") == 1 and out.count("⟧") == 1
    marked = out[out.index("⟦") + 1 : out.index("⟧")]
    assert marked
    if _no_dashes(text):
        # The marked original text normalizes to something containing the term.
        assert term in normalize_text(marked)
