"""Conflict-check name keys and similarity."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.search.names import (
    SIMILARITY_EXACT,
    SIMILARITY_POTENTIAL,
    VARIANTS,
    company_key,
    fold_variants,
    kana_key,
    name_keys,
    person_key,
    similarity,
)

# -- company_key -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "株式会社山田商事",
        "山田商事株式会社",
        "㈱山田商事",
        "（株）山田 商事",
        "(株)山田商事",
        "山田商事㈲",
        "有限会社 山田商事",
        "山田商事(同)",
        "合同会社山田商事",
        "㍿山田商事",
        "㊑山田商事",
        "株式会社　山田　商事",
    ],
)
def test_company_forms_reduce_to_one_key(name: str) -> None:
    assert company_key(name) == "山田商事"


def test_katakana_reading_of_a_form_is_not_stripped() -> None:
    assert company_key("カブシキガイシャ山田商事") == "カブシキガイシャ山田商事"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("一般社団法人 日本法律協会", "日本法律協会"),
        ("(一社)日本法律協会", "日本法律協会"),
        ("公益財団法人みらい基金", "みらい基金"),
        ("社団法人みらい", "みらい"),
        ("特定非営利活動法人 ひまわり", "ひまわり"),
        ("(特非)ひまわり", "ひまわり"),
        ("NPO法人ひまわり", "ひまわり"),
        ("医療法人社団 さくら会", "さくら会"),
        ("医療法人さくら会", "さくら会"),
        ("(医)さくら会", "さくら会"),
        ("社会福祉法人 あおば会", "あおば会"),
        ("学校法人 東西学園", "東西学園"),
        ("宗教法人 光明寺", "光明寺"),
        ("弁護士法人 佐藤総合法律事務所", "佐藤総合法律事務所"),
        ("税理士法人 鈴木会計", "鈴木会計"),
        ("合資会社 田中屋", "田中屋"),
        ("合名会社田中屋", "田中屋"),
        ("Yamada Trading Co., Ltd.", "yamadatrading"),
        ("YAMADA TRADING CO.,LTD.", "yamadatrading"),
        ("Ｙａｍａｄａ　Ｔｒａｄｉｎｇ　Ｃｏ．，Ｌｔｄ．", "yamadatrading"),
        ("ABC K.K.", "abc"),
        ("ABC Kabushiki Kaisha", "abc"),
        ("ABC Inc.", "abc"),
        ("ABC, Inc.", "abc"),
        ("ABC Corp.", "abc"),
        ("ABC Corporation", "abc"),
        ("ABC LLC", "abc"),
        ("ABC Limited", "abc"),
        ("Zinc Inc.", "zinc"),  # the form is removed, 'inc' inside a word is not
        ("Incline Corp.", "incline"),
        ("髙島屋株式会社", "高島屋"),  # 異体字 folded in company keys too
        ("株式会社", "株式会社"),  # nothing but a form: keep it rather than an empty key
        ("㈱", "株式会社"),
    ],
)
def test_company_key_examples(name: str, key: str) -> None:
    assert company_key(name) == key


# -- person_key and the variant table ---------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("髙橋一郎", "高橋一郎"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("山﨑", "山崎"),
        ("山嵜", "山崎"),
        ("齋藤", "斎藤"),
        ("齊藤", "斉藤"),
        ("澤田", "沢田"),
        ("濱田", "浜田"),
        ("廣田", "広田"),
        ("德川", "徳川"),
        ("櫻井", "桜井"),
        ("國分", "国分"),
        ("𠮷田", "吉田"),
        ("中嶋", "中島"),
        ("山田　太郎", "山田太郎"),
        ("ジョン・スミス", "ジョンスミス"),
        ("ｼﾞｮﾝ･ｽﾐｽ", "ジョンスミス"),
        ("ＪＯＨＮ　Ｓｍｉｔｈ", "johnsmith"),
        ("辻\U000e0101", "辻"),  # ideographic variation sequence (2-dot 辶)
    ],
)
def test_person_key_equivalences(a: str, b: str) -> None:
    assert person_key(a) == person_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("斉藤", "斎藤"),  # different characters, not variants
        ("山崎", "山埼"),
        ("園田", "薗田"),
        ("山田太郎", "山田次郎"),
    ],
)
def test_person_key_keeps_different_characters_apart(a: str, b: str) -> None:
    assert person_key(a) != person_key(b)


def test_variant_table_is_well_formed() -> None:
    assert len(VARIANTS) >= 40
    for variant, canonical in VARIANTS.items():
        assert len(variant) == len(canonical) == 1
        assert variant != canonical
        # Folding is one step: a canonical form is never itself a variant.
        assert canonical not in VARIANTS
        # Not something NFKC already handles (that would make the entry dead).
        assert unicodedata.normalize("NFKC", variant) == variant
        assert unicodedata.category(variant) == unicodedata.category(canonical) == "Lo"
    for pair in (
        "髙高",
        "﨑崎",
        "嵜崎",
        "齋斎",
        "齊斉",
        "邊辺",
        "邉辺",
        "澤沢",
        "濱浜",
        "龍竜",
        "槇槙",
    ):
        assert VARIANTS[pair[0]] == pair[1]


@given(st.text(max_size=30))
def test_fold_variants_is_idempotent_and_length_preserving(text: str) -> None:
    once = fold_variants(text)
    assert fold_variants(once) == once
    assert len(once) == len(text)


@given(st.text(max_size=30))
def test_keys_are_idempotent(name: str) -> None:
    assert person_key(person_key(name)) == person_key(name)
    assert kana_key(kana_key(name)) == kana_key(name)


# -- kana_key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "key"),
    [
        ("ヤマダ　タロウ", "やまだたろう"),
        ("やまだ たろう", "やまだたろう"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだたろう"),
        ("キョウコ", "きようこ"),
        ("キヨウコ", "きようこ"),
        ("ジョージ", "じよじ"),
        ("ｼﾞｮｰｼﾞ", "じよじ"),
        ("ヴァイオリン", "ゔあいおりん"),
        ("ヷイオリン", "ゔあいおりん"),
        ("ヰヱ", "いえ"),
        ("ヶ", "け"),
        ("サトー", "さと"),
        ("スズキ・イチロー", "すずきいちろ"),
    ],
)
def test_kana_key(reading: str, key: str) -> None:
    assert kana_key(reading) == key


def test_kana_key_keeps_vu_distinct_from_bu() -> None:
    assert kana_key("ヴ") != kana_key("ブ")


# -- name_keys ---------------------------------------------------------------------------


def test_name_keys() -> None:
    assert name_keys("㈱山田商事", "company") == {"山田商事"}
    assert name_keys("さくら商事株式会社", "company") == {"さくら商事", "サクラ商事"}
    assert name_keys("髙橋 さくら", "person") == {"高橋さくら", "高橋サクラ"}
    assert name_keys("、・", "person") == set()
    with pytest.raises(ValueError):
        name_keys("山田", "animal")  # type: ignore[arg-type]


def test_company_and_kana_folded_keys_meet() -> None:
    assert name_keys("さくら商事", "company") & name_keys("サクラ商事㈱", "company")


# -- similarity --------------------------------------------------------------------------


def test_similarity_exact_on_equal_keys() -> None:
    assert similarity(company_key("株式会社山田商事"), company_key("山田商事株式会社")) == 1.0
    assert similarity(person_key("髙橋一郎"), person_key("高橋一郎")) == SIMILARITY_EXACT
    assert similarity(person_key("渡邊"), person_key("渡辺")) == 1.0


def test_similarity_near_misses() -> None:
    s = similarity("山田商事", "山田商店")
    assert SIMILARITY_POTENTIAL <= s < 1.0
    assert s > 0.43  # pg_trgm's score for the same pair (search_ja.md §1)
    assert s == pytest.approx(2 / 3)
    assert SIMILARITY_POTENTIAL <= similarity("鈴木一郎", "鈴木一朗") < 1.0


def test_similarity_containment_bonus() -> None:
    assert similarity("山田商事", "山田商事東京") == pytest.approx(0.9)
    assert similarity("山田商事東京", "山田商事") == pytest.approx(0.9)
    # A single shared character earns no bonus.
    assert similarity("山", "山田商事") == 0.0


def test_similarity_low_for_different_names() -> None:
    assert similarity("山田太郎", "山田次郎") < SIMILARITY_POTENTIAL
    assert similarity("田中", "中田") == 0.0
    assert similarity("", "山田") == 0.0
    assert similarity("", "") == 0.0


def test_similarity_below_exact_even_with_equal_bigram_sets() -> None:
    # Same bigram sets {ab, ba}, different keys: must still rank below an exact match.
    assert similarity("abab", "aba") < 1.0


@given(st.text(max_size=12), st.text(max_size=12))
def test_similarity_properties(a: str, b: str) -> None:
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == similarity(b, a)
    assert (s == 1.0) == (a == b and a != "")
