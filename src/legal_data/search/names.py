"""Name keys and fuzzy name similarity for conflict-of-interest checks.

A conflict check must find a party however the name was typed (legal_domain.md,
search_ja.md §5), so names are compared through keys:

- :func:`company_key` — NFKC, case-folded, legal-form words and their
  abbreviations removed wherever they stand (株式会社山田商事 = 山田商事株式会社 =
  ㈱山田商事 = （株）山田 商事 = 山田商事㈲ → ``山田商事``), 異体字 folded, then the
  search normalizer (spaces, punctuation and hyphens dropped).
- :func:`person_key` — NFKC, 異体字 folded through :data:`VARIANTS` (髙橋 = 高橋,
  渡邊 = 渡邉 = 渡辺), spaces and middle dots dropped.
- :func:`kana_key` — a reading in hiragana with small kana enlarged and long-vowel
  marks dropped (ヤマダ　タロウ = やまだたろう, ｼﾞｮｰｼﾞ = じよじ).

:func:`similarity` scores two keys in ``[0, 1]``: 1.0 only for equal keys, else the
Dice coefficient of their character bigrams, raised to ``0.7 + 0.3·|short|/|long|``
when one key (≥ 2 characters) contains the other, capped at 0.99. Thresholds:

- ``1.0`` — same key: report as a conflict candidate outright;
- ``≥ SIMILARITY_POTENTIAL (0.6)`` — report as *potential* for a human decision
  (山田商事/山田商店 0.67, 鈴木一郎/鈴木一朗 0.67, 山田商事/山田商事東京 0.9);
- below — not reported (山田太郎/山田次郎 0.33, 田中/中田 0.0).

pg_trgm scores 山田商事/山田商店 0.43 and 髙橋一郎/高橋一郎 0.25 (search_ja.md §1); on
keys the latter is an exact match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from legal_data.search.normalize import CIRCLED_LEGAL_FORMS, LONG_VOWEL, bigrams, normalize_text

SIMILARITY_EXACT: Final = 1.0
SIMILARITY_POTENTIAL: Final = 0.6
_CONTAINMENT_BASE: Final = 0.7
_NEAR_EXACT_CAP: Final = 0.99

# (variant, canonical, why). Only pairs that are standard 旧字体/新字体 pairs of the
# 常用漢字表/人名用漢字 or well-attested 異体字 of names. Deliberately absent: 斉/斎
# (different characters, 斉藤 ≠ 斎藤 in the 戸籍), 崎/埼 (埼 is a different character),
# 園/薗. Compatibility ideographs with decompositions (塚 U+FA10) are handled by NFKC;
# ideographic variation sequences (辻 with a 2-dot 辶) by dropping the selector.
_VARIANT_PAIRS: Final[tuple[tuple[str, str, str], ...]] = (
    ("髙", "高", "異体字 (はしご高)"),
    ("﨑", "崎", "異体字 (たつさき, U+FA11 has no NFKC decomposition)"),
    ("嵜", "崎", "異体字"),
    ("齋", "斎", "旧字体/新字体"),
    ("齊", "斉", "旧字体/新字体"),
    ("邊", "辺", "旧字体/新字体"),
    ("邉", "辺", "異体字 (邊の異体字)"),
    ("澤", "沢", "旧字体/新字体"),
    ("濱", "浜", "旧字体/新字体"),
    ("濵", "浜", "異体字 (濱の異体字)"),
    ("廣", "広", "旧字体/新字体"),
    ("德", "徳", "旧字体/新字体"),
    ("榮", "栄", "旧字体/新字体"),
    ("櫻", "桜", "旧字体/新字体"),
    ("國", "国", "旧字体/新字体"),
    ("藏", "蔵", "旧字体/新字体"),
    ("眞", "真", "旧字体/新字体"),
    ("惠", "恵", "旧字体/新字体"),
    ("會", "会", "旧字体/新字体"),
    ("關", "関", "旧字体/新字体"),
    ("龍", "竜", "旧字体/新字体"),
    ("髮", "髪", "旧字体/新字体"),
    ("穗", "穂", "旧字体/新字体"),
    ("滿", "満", "旧字体/新字体"),
    ("圓", "円", "旧字体/新字体"),
    ("壽", "寿", "旧字体/新字体"),
    ("實", "実", "旧字体/新字体"),
    ("傳", "伝", "旧字体/新字体"),
    ("淺", "浅", "旧字体/新字体"),
    ("條", "条", "旧字体/新字体"),
    ("黑", "黒", "旧字体/新字体"),
    ("萬", "万", "旧字体/新字体"),
    ("彌", "弥", "旧字体/新字体"),
    ("禮", "礼", "旧字体/新字体"),
    ("瀨", "瀬", "旧字体/新字体"),
    ("稻", "稲", "旧字体/新字体"),
    ("晉", "晋", "旧字体/新字体"),
    ("恆", "恒", "旧字体/新字体"),
    ("靜", "静", "旧字体/新字体"),
    ("鐵", "鉄", "旧字体/新字体"),
    ("寬", "寛", "旧字体/新字体"),
    ("聰", "聡", "旧字体/異体字"),
    ("槇", "槙", "異体字"),
    ("冨", "富", "俗字"),
    ("𠮷", "吉", "異体字 (つちよし, U+20BB7)"),
    ("嶋", "島", "異体字"),
    ("嶌", "島", "異体字"),
    ("峯", "峰", "異体字"),
    ("桒", "桑", "異体字"),
    ("渕", "淵", "略字/俗字"),
    ("栁", "柳", "異体字"),
    ("埜", "野", "異体字"),
    ("邨", "村", "異体字"),
    ("舘", "館", "異体字"),
    ("嶽", "岳", "異体字"),
    ("檜", "桧", "略字 (both 人名用; fold to the shorter form)"),
    ("鷗", "鴎", "略字"),
    ("篭", "籠", "略字 (籠 is 常用)"),
)

VARIANTS: Final[Mapping[str, str]] = MappingProxyType({v: c for v, c, _ in _VARIANT_PAIRS})
"""異体字/旧字体 → the form used in keys."""

_VARIANT_TRANS: Final = str.maketrans(dict(VARIANTS))

_CIRCLED_TRANS: Final = str.maketrans(dict(CIRCLED_LEGAL_FORMS))

# Applied after NFKC + casefold, while spaces still mark word boundaries.
_EN_FORMS: Final = re.compile(
    r"(?<![a-z0-9])(?:co\.?\s*,?\s*ltd\.?|kabushiki\s+kaisha|k\.\s*k\.|incorporated|inc\.?"
    r"|corporation|corp\.?|l\.l\.c\.|llc|limited|ltd\.?|co\.)(?![a-z0-9])"
)
# Applied to the normalized text, in which (株)/㈱/… are already spelled out (株式会社).
_JA_FORMS: Final = re.compile(
    r"特定非営利活動法人|npo法人|(?:一般|公益)?(?:社団|財団)法人|社会保険労務士法人"
    r"|社会福祉法人|司法書士法人|行政書士法人|弁護士法人|税理士法人|弁理士法人|監査法人"
    r"|社会医療法人|医療法人(?:社団|財団)?|学校法人|宗教法人|(?:株式|有限|合同|合資|合名|相互)会社"
)


def fold_variants(text: str) -> str:
    """Replace every 異体字/旧字体 of :data:`VARIANTS` by its key form."""
    return text.translate(_VARIANT_TRANS)


def company_key(name: str) -> str:
    """Company key: legal forms stripped, 異体字 folded, normalized (module docstring).

    A name that is nothing but a legal form keeps it (``株式会社`` → ``株式会社``).
    """
    text = unicodedata.normalize("NFKC", name.translate(_CIRCLED_TRANS)).casefold()
    text = normalize_text(fold_variants(_EN_FORMS.sub(" ", text)))
    return _JA_FORMS.sub("", text) or person_key(name)


def person_key(name: str) -> str:
    """Person key: NFKC, 異体字 folded, spaces/middle dots/punctuation dropped."""
    return normalize_text(fold_variants(unicodedata.normalize("NFKC", name)))


# Small kana → full size (hiragana, after katakana folding); ゐゑ → いえ.
_KANA_BIG: Final = str.maketrans(
    {
        "ぁ": "あ", "ぃ": "い", "ぅ": "う", "ぇ": "え", "ぉ": "お", "っ": "つ",
        "ゃ": "や", "ゅ": "ゆ", "ょ": "よ", "ゎ": "わ", "ゕ": "か", "ゖ": "け",
        "ゐ": "い", "ゑ": "え",
        "ㇰ": "く", "ㇱ": "し", "ㇲ": "す", "ㇳ": "と", "ㇴ": "ぬ", "ㇵ": "は",
        "ㇶ": "ひ", "ㇷ": "ふ", "ㇸ": "へ", "ㇹ": "ほ", "ㇺ": "む", "ㇻ": "ら",
        "ㇼ": "り", "ㇽ": "る", "ㇾ": "れ", "ㇿ": "ろ",
        # ヷヸヹヺ are ヴァ ヴィ ヴェ ヴォ; they have no hiragana of their own.
        "ヷ": "ゔあ", "ヸ": "ゔい", "ヹ": "ゔえ", "ヺ": "ゔお",
        LONG_VOWEL: None,
    }
)  # fmt: skip


def _katakana_to_hiragana(text: str) -> str:
    # ァ..ヶ (incl. ヴ → ゔ, so ヴ stays distinct from ブ) and ヽヾ map 0x60 down.
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" or c in "ヽヾ" else c for c in text)


def kana_key(reading: str) -> str:
    """Reading key: normalized, hiragana, small kana enlarged, ー dropped, ヴ kept as ゔ."""
    return _katakana_to_hiragana(normalize_text(reading)).translate(_KANA_BIG)


def name_keys(name: str, kind: Literal["person", "company"]) -> set[str]:
    """Keys to look a party up by: its key, plus the key with hiragana folded to katakana.

    The kana-folded variant lets さくら商事 find サクラ商事 (recall matters more than
    precision in a conflict check). Empty keys are left out.
    """
    if kind == "person":
        key = person_key(name)
    elif kind == "company":
        key = company_key(name)
    else:
        raise ValueError(f"unknown name kind {kind!r}")
    return {k for k in (key, normalize_text(key, fold_kana=True)) if k}


def similarity(a: str, b: str) -> float:
    """Fuzzy score of two name keys (module docstring); 1.0 means equal keys."""
    if not a or not b:
        return 0.0
    if a == b:
        return SIMILARITY_EXACT
    ga, gb = set(bigrams(a)), set(bigrams(b))
    score = 2 * len(ga & gb) / (len(ga) + len(gb))
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 2 and short in long_:
        score = max(score, _CONTAINMENT_BASE + (1 - _CONTAINMENT_BASE) * len(short) / len(long_))
    return min(score, _NEAR_EXACT_CAP)
