"""The conflict check's SQL: name-key functions, key maintenance, the screened lookup.

Installed by ``alembic/versions/0018_conflicts.py``. This module is **append-only**: the
revision's checksum covers only the revision file, so what it imports from here must
never change. A changed key function is a new ``_v2`` function in a new revision (and a
re-keying of ``party_name_keys``), never an edit of a ``_v1`` one. For the same reason the
character tables below are frozen copies, not imports: ``tests/db/test_conflicts_keys.py``
fails when :mod:`legal_data.search.names` moves away from them, which is the signal to
add ``_v2``.

**Keys in SQL.** ``conflict_name_key_v1(name)`` is the SQL twin of
``normalize_text(company_key(name), fold_kana=True)`` and ``conflict_reading_key_v1``
the twin of ``kana_key`` (both cut to :data:`MAX_KEY_CHARS`). Stored keys and query keys
are computed by the *same* SQL function (the check sends the raw names and lets
PostgreSQL compute their keys), so they agree by construction; agreement with the
Python functions, which the fuzzy scoring and the docs rely on, is proved by
``tests/db/test_conflicts_keys.py`` (every character of the blocks below one by one,
plus hypothesis over generated names). The Python normalizer keeps Unicode letters,
digits and marks; SQL has no character categories, so it drops the explicit ranges of
:data:`DROPPED_RANGES` instead — every punctuation, symbol, space and control character
of the blocks Japanese and Western names are written with (Latin, Greek, Cyrillic,
general punctuation, symbols, CJK punctuation, kana, full/half width forms, emoji).
Case folding covers Latin (incl. Extended A/B and Vietnamese), Greek and Cyrillic.
Outside those blocks SQL and Python may disagree (e.g. Arabic punctuation is kept by
SQL), and inside them in one corner: the Python normalizer treats the ideographic tone
marks U+302A–302F as never combining and can leave them out of canonical order next to
another combining mark, where SQL's NFKC orders them. Stored and query keys still agree;
only the Python twin is off.

**Maintenance.** Statement-level ``AFTER INSERT``/``AFTER UPDATE`` triggers on
``parties`` (``ENABLE ALWAYS``, so a bulk load under ``session_replication_role =
replica`` is covered too) rebuild the keys of every party whose name, reading, former
names or 法人番号 changed; deleting a party cascades. The trigger function is
``SECURITY DEFINER`` owned by ``legal_search`` (BYPASSRLS, 0017): the application role
only reads the key tables, so it can neither forge nor delete keys to hide a party
from a conflict check, and operator writes without a tenant in context are covered.
It only mirrors rows of the statement's own transition tables, which already passed
the writer's Row Level Security checks.

**Screened matters.** ``conflict_screened_appearances(party_ids)`` (``SECURITY DEFINER``,
``legal_search``) tells a user screened by an ethical wall that a party appears, and in
which role, in a matter hidden from them — and nothing else (no case id, number, title or
status). It filters by the transaction's firm itself and returns nothing without one.
"""

from __future__ import annotations

from typing import Final

MAX_KEY_CHARS: Final = 256
"""Keys are cut to this many characters (index entries stay far below btree's limit)."""

SEARCH_ROLE: Final = "legal_search"
KEY_TABLE: Final = "party_name_keys"
GRAM_TABLE: Final = "party_name_grams"
KEY_KINDS: Final = ("name", "kana", "former", "corporate_number")
#: Key kinds that get bigram rows for the fuzzy search.
GRAM_KINDS: Final = ("name", "former")

# -- frozen character tables (v1) -------------------------------------------------------

#: 異体字/旧字体 → key form; a frozen copy of ``legal_data.search.names.VARIANTS``.
VARIANTS_V1: Final = (
    "髙高 﨑崎 嵜崎 齋斎 齊斉 邊辺 邉辺 澤沢 濱浜 濵浜 廣広 德徳 榮栄 櫻桜 "
    "國国 藏蔵 眞真 惠恵 會会 關関 龍竜 髮髪 穗穂 滿満 圓円 壽寿 實実 傳伝 "
    "淺浅 條条 黑黒 萬万 彌弥 禮礼 瀨瀬 稻稲 晉晋 恆恒 靜静 鐵鉄 寬寛 聰聡 "
    "槇槙 冨富 𠮷吉 嶋島 嶌島 峯峰 桒桑 渕淵 栁柳 埜野 邨村 舘館 嶽岳 檜桧 "
    "鷗鴎 篭籠"
)
#: Circled ideographs read as a legal-form abbreviation (before NFKC turns them into 株).
CIRCLED_V1: Final = (
    ("㊑", "(株)"),
    ("㊒", "(有)"),
    ("㊓", "(社)"),
    ("㊔", "(名)"),
    ("㊖", "(財)"),
    ("㊩", "(医)"),
    ("㊫", "(学)"),
    ("㊪", "(宗)"),
)
#: Parenthesized legal-form abbreviations (after NFKC) and the form they stand for.
ABBREVIATIONS_V1: Final = (
    ("(株)", "株式会社"),
    ("(有)", "有限会社"),
    ("(同)", "合同会社"),
    ("(資)", "合資会社"),
    ("(名)", "合名会社"),
    ("(社)", "社団法人"),
    ("(財)", "財団法人"),
    ("(一社)", "一般社団法人"),
    ("(一財)", "一般財団法人"),
    ("(公社)", "公益社団法人"),
    ("(公財)", "公益財団法人"),
    ("(医)", "医療法人"),
    ("(福)", "社会福祉法人"),
    ("(学)", "学校法人"),
    ("(宗)", "宗教法人"),
    ("(特非)", "特定非営利活動法人"),
)
#: Upper case → Unicode 14 case folding, one character each: ASCII, Latin-1, Latin
#: Extended-A/B, Greek, Cyrillic, Latin Extended Additional (and Greek final sigma), the
#: combining ypogegrammeni (ͺ after NFKC) and the two letterlike capitals Ⅎ Ↄ.
CASEFOLD_FROM_V1: Final = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮĴĶĹĻĽŁŃŅŇŊŌ"
    "ŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽƁƂƄƆƇƉƊƋƎƏƐƑƓƔƖƗƘƜƝƟƠƢƤƦƧƩƬƮƯƱƲƳƵƷƸƼǍǏǑǓǕǗǙǛǞǠǢǤǦǨǪǬǮǴǶǷǸǺǼǾȀȂȄ"
    "ȆȈȊȌȎȐȒȔȖȘȚȜȞȠȢȤȦȨȪȬȮȰȲȺȻȽȾɁɃɄɅɆɈɊɌɎͰͲͶͿΆΈΉΊΌΎΏΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫςϏϘϚϜϞϠϢϤϦϨϪ"
    "ϬϮϷϺϽϾϿЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢҤҦҨ"
    "ҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶӸӺӼӾԀԂԄԆԈԊԌԎԐԒԔԖԘԚԜԞԠԢԤԦԨԪԬԮḀḂḄḆḈḊḌḎḐḒḔḖḘḚḜḞ"
    "ḠḢḤḦḨḪḬḮḰḲḴḶḸḺḼḾṀṂṄṆṈṊṌṎṐṒṔṖṘṚṜṞṠṢṤṦṨṪṬṮṰṲṴṶṸṺṼṾẀẂẄẆẈẊẌẎẐẒẔẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐ"
    "ỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸỺỼỾ\u0345ℲↃ"
)
CASEFOLD_TO_V1: Final = (
    "abcdefghijklmnopqrstuvwxyzàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįĵķĺļľłńņňŋō"
    "ŏőœŕŗřśŝşšţťŧũūŭůűųŵŷÿźżžɓƃƅɔƈɖɗƌǝəɛƒɠɣɩɨƙɯɲɵơƣƥʀƨʃƭʈưʊʋƴƶʒƹƽǎǐǒǔǖǘǚǜǟǡǣǥǧǩǫǭǯǵƕƿǹǻǽǿȁȃȅ"
    "ȇȉȋȍȏȑȓȕȗșțȝȟƞȣȥȧȩȫȭȯȱȳⱥȼƚⱦɂƀʉʌɇɉɋɍɏͱͳͷϳάέήίόύώαβγδεζηθικλμνξοπρστυφχψωϊϋσϗϙϛϝϟϡϣϥϧϩϫ"
    "ϭϯϸϻͻͼͽѐёђѓєѕіїјљњћќѝўџабвгдежзийклмнопрстуфхцчшщъыьэюяѡѣѥѧѩѫѭѯѱѳѵѷѹѻѽѿҁҋҍҏґғҕҗҙқҝҟҡңҥҧҩ"
    "ҫҭүұҳҵҷҹһҽҿӏӂӄӆӈӊӌӎӑӓӕӗәӛӝӟӡӣӥӧөӫӭӯӱӳӵӷӹӻӽӿԁԃԅԇԉԋԍԏԑԓԕԗԙԛԝԟԡԣԥԧԩԫԭԯḁḃḅḇḉḋḍḏḑḓḕḗḙḛḝḟ"
    "ḡḣḥḧḩḫḭḯḱḳḵḷḹḻḽḿṁṃṅṇṉṋṍṏṑṓṕṗṙṛṝṟṡṣṥṧṩṫṭṯṱṳṵṷṹṻṽṿẁẃẅẇẉẋẍẏẑẓẕạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏố"
    "ồổỗộớờởỡợụủứừửữựỳỵỷỹỻỽỿιⅎↄ"
)
#: Case foldings to more than one character (the others of these blocks recompose).
CASEFOLD_MULTI_V1: Final = (("ß", "ss"), ("ẞ", "ss"), ("İ", "i\u0307"))
#: A superset of the non-ASCII characters above: strings without one skip translate().
_FOLDABLE_CLASS = r"[\u00C0-\u052F\u1E00-\u1EFF\u2132\u2183]"

#: Kana as the normalizer sees it (hiragana, katakana, iteration marks, ー, small ㇰ…).
KANA_CLASS: Final = r"\u3041-\u3096\u309D-\u309F\u30A1-\u30FA\u30FC-\u30FF\u31F0-\u31FF"
#: Dash-like characters after NFKC + case folding (``DASHES`` of the normalizer) but ー.
DASHES_BUT_LONG_VOWEL: Final = (
    r"\u002D\u2010\u2012-\u2015\u2053\u2212\u007E\u301C\u3030\u2E3A\u2E3B\u2500\u2501"
)
LONG_VOWEL: Final = "\u30fc"

#: Code points dropped from keys (inclusive ranges, with what they are). Every one is
#: punctuation, a symbol, a separator, a control or format character, a variation
#: selector or unassigned; no letter, digit or mark that survives NFKC is inside.
DROPPED_RANGES: Final = (
    (0x0001, 0x002F, "controls, space, ASCII punctuation !\"#$%&'()*+,-./"),
    (0x003A, 0x0040, "ASCII :;<=>?@"),
    (0x005B, 0x0060, "ASCII [\\]^_`"),
    (0x007B, 0x00BF, "ASCII {|}~, DEL, C1 controls, Latin-1 punctuation and symbols"),
    (0x00D7, 0x00D7, "×"),
    (0x00F7, 0x00F7, "÷"),
    (0x02C2, 0x02C5, "modifier symbols ˂˃˄˅"),
    (0x02D2, 0x02EB, "modifier symbols ˒…˫"),
    (0x02ED, 0x02ED, "modifier symbol ˭"),
    (0x02EF, 0x02FF, "modifier symbols ˯…˿"),
    (0x0375, 0x0375, "Greek lower numeral sign ͵"),
    (0x03F6, 0x03F6, "Greek reversed lunate epsilon symbol ϶"),
    (0x0482, 0x0482, "Cyrillic thousands sign ҂"),
    (0x1800, 0x180F, "Mongolian punctuation and free variation selectors"),
    (0x200B, 0x20C0, "zero-width and format characters, general punctuation, currency signs"),
    (0x2104, 0x212E, "letterlike symbols ℄…℮"),
    (0x213A, 0x214D, "letterlike symbols ℺…⅍"),
    (0x214F, 0x214F, "⅏"),
    (0x218A, 0x244A, "arrows, mathematical operators, technical symbols, control pictures"),
    (0x2500, 0x2775, "box drawing, blocks, geometric shapes, symbols, dingbats (not ❶…)"),
    (0x2794, 0x2BFF, "dingbat arrows, math symbols, misc symbols and arrows"),
    (0x2E00, 0x2E2E, "supplemental punctuation ⸀…⸮"),
    (0x2E30, 0x2E5D, "supplemental punctuation ⸰…⹝"),
    (0x3001, 0x3004, "、。〃〄"),
    (0x3008, 0x3020, "CJK brackets 〈〉《》「」『』【】〒〓〔〕〖〗〘〙〚〛〜〝〞〟〠"),
    (0x3030, 0x3030, "〰"),
    (0x3037, 0x3037, "〷"),
    (0x303D, 0x303F, "〽〾〿"),
    (0x30A0, 0x30A0, "゠"),
    (0x30FB, 0x30FB, "・"),
    (0x3190, 0x3191, "kanbun marks ㆐㆑"),
    (0x31C0, 0x31E3, "CJK strokes ㇀…㇣"),
    (0x327F, 0x327F, "㉿"),
    (0xFE00, 0xFE0F, "variation selectors"),
    (0xFE45, 0xFE46, "﹅﹆"),
    (0xFEFF, 0xFFFD, "BOM, full/half-width punctuation (NFKC leaves few), specials"),
    (0x1F000, 0x1F0F5, "game symbols"),
    (0x1F10D, 0x1FAF6, "enclosed alphanumeric supplement symbols, emoji, pictographs"),
    (0xE0001, 0xE01EF, "tags and variation selectors supplement (IVS)"),
)


def _are_escape(cp: int) -> str:
    return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"


def _bracket(ranges: tuple[tuple[int, int, str], ...]) -> str:
    parts = []
    for start, end, _what in ranges:
        parts.append(
            _are_escape(start) if start == end else f"{_are_escape(start)}-{_are_escape(end)}"
        )
    return "[" + "".join(parts) + "]"


def _q(value: str) -> str:
    """A SQL string literal (standard_conforming_strings: only quotes are doubled)."""
    return "'" + value.replace("'", "''") + "'"


def _replace_chain(expr: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        expr = f"replace({expr}, {_q(old)}, {_q(new)})"
    return expr


_VARIANT_PAIRS = tuple(VARIANTS_V1.split())
VARIANT_FROM_V1: Final = "".join(p[0] for p in _VARIANT_PAIRS)
VARIANT_TO_V1: Final = "".join(p[1] for p in _VARIANT_PAIRS)

_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ゝゞ"
_KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F7)) + "ヽヾ"
# Small kana → full size (after folding to hiragana), ゐゑ → いえ; ー is dropped
# (listed last in "from" with no counterpart, so translate() deletes it).
_SMALL = "ぁぃぅぇぉっゃゅょゎゕゖゐゑㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ" + LONG_VOWEL
_BIG = "あいうえおつやゆよわかけいえくしすとぬはひふへほむらりるれろ"
_VU = (("ヷ", "ゔあ"), ("ヸ", "ゔい"), ("ヹ", "ゔえ"), ("ヺ", "ゔお"))

# Whitespace as Python's ``\s`` sees it after NFKC (which turned the rest into ' ').
_WS = r"[ \t\n\v\f\r\u001C-\u001F\u0085\u1680\u2028\u2029]"
#: English legal forms, after NFKC + case folding (``names._EN_FORMS``, in ARE syntax;
#: plain groups, as ``(?:`` would read as a bind parameter in ``text()``).
EN_FORMS_V1: Final = (
    r"(?<![a-z0-9])(co\.?" + _WS + r"*,?" + _WS + r"*ltd\.?|kabushiki" + _WS + r"+kaisha"
    r"|k\." + _WS + r"*k\.|incorporated|inc\.?|corporation|corp\.?|l\.l\.c\.|llc|limited"
    r"|ltd\.?|co\.)(?![a-z0-9])"
)
#: Japanese legal forms, on normalized text (``names._JA_FORMS``).
JA_FORMS_V1: Final = (
    "特定非営利活動法人|npo法人|(一般|公益)?(社団|財団)法人|社会保険労務士法人"
    "|社会福祉法人|司法書士法人|行政書士法人|弁護士法人|税理士法人|弁理士法人|監査法人"
    "|社会医療法人|医療法人(社団|財団)?|学校法人|宗教法人|(株式|有限|合同|合資|合名|相互)会社"
)

#: Characters with a non-zero canonical combining class in the blocks above that join
#: the character before them in the Python normalizer's clusters (which treats
#: U+3000–U+3098, the ideographic tone marks U+302A–302F included, as never joining).
COMBINING_CLASS: Final = (
    r"\u0300-\u034E\u0350-\u036F\u0483-\u0487\u18A9\u1AB0-\u1ABD\u1ABF-\u1ACE"
    r"\u1DC0-\u1DFF\u20D0-\u20DC\u20E1\u20E5-\u20F0\u3099\u309A\uFE20-\uFE2F"
)
_CIRCLED_CLASS = "[" + "".join(c for c, _ in CIRCLED_V1) + "]"


def _circled_chain(expr: str) -> str:
    for old, new in CIRCLED_V1:
        expr = (
            f"regexp_replace({expr}, {_q(old + '(?![' + COMBINING_CLASS + '])')}, {_q(new)}, 'g')"
        )
    return expr


_VARIANT_CLASS = "[" + VARIANT_FROM_V1 + "]"
_KANA = "[" + KANA_CLASS + "]"
_NOT_KANA = "[^" + KANA_CLASS + "]"
_DASH = "[" + DASHES_BUT_LONG_VOWEL + "]"
_ANY_DASH = "[" + DASHES_BUT_LONG_VOWEL + LONG_VOWEL + "]"

# -- functions ----------------------------------------------------------------------------

#: The key functions, in creation order (each takes one ``text``).
KEY_FUNCTIONS: Final = (
    "conflict_casefold_v1",
    "conflict_norm_pass_v1",
    "conflict_norm_v1",
    "conflict_person_key_v1",
    "conflict_company_key_v1",
    "conflict_name_key_v1",
    "conflict_reading_key_v1",
)
_ALL_KEY_FUNCTIONS = ", ".join(f"{name}(text)" for name in KEY_FUNCTIONS)

FUNCTIONS_SQL: Final = f"""
-- Calls between these functions name the schema: the key-maintenance trigger runs them
-- with its search_path pinned to pg_catalog.

-- Case folding as the Python normalizer does it (str.casefold), for the scripts names are
-- written in: ASCII by lower() under the C collation (ASCII only, whatever the
-- database's locale), the rest by translate() — only when there is something to fold,
-- as translate() costs per character of its table. The three longer foldings first.
CREATE FUNCTION conflict_casefold_v1(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE WHEN t !~ '{_FOLDABLE_CLASS}' THEN lower(t COLLATE "C")
                ELSE translate({_replace_chain('lower(t COLLATE "C")', CASEFOLD_MULTI_V1)},
                               {_q(CASEFOLD_FROM_V1[26:])},
                               {_q(CASEFOLD_TO_V1[26:])})
           END;

-- One pass of the search normalizer v1 (legal_data.search.normalize): NFKC, case
-- folding, (株)-style abbreviations spelled out, dashes read in context (ー after kana,
-- a hyphen to drop elsewhere), then everything but letters, digits and marks dropped.
CREATE FUNCTION conflict_norm_pass_v1(t text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := t;
    before text;
BEGIN
    -- ㊑ reads as (株) unless a combining mark follows it (the Python normalizer maps
    -- whole character clusters, and a mark makes the cluster something else).
    IF s ~ '{_CIRCLED_CLASS}' THEN
        s := {_circled_chain("s")};
    END IF;
    s := normalize(public.conflict_casefold_v1(normalize(s, NFKC)), NFKC);
    IF strpos(s, '(') > 0 THEN
        s := {_replace_chain("s", ABBREVIATIONS_V1)};
    END IF;
    IF s ~ '{_ANY_DASH}' THEN
        -- A dash directly after kana (or after a ー that was one) is the long-vowel mark.
        LOOP
            before := s;
            s := regexp_replace(s, '({_KANA}){_DASH}', '\\1{LONG_VOWEL}', 'g');
            EXIT WHEN s = before;
        END LOOP;
        -- Every other dash is a hyphen: at the start (unless a leading ー), or after
        -- anything that is not kana, with the run of dashes that follows it.
        s := regexp_replace(s, '^{_DASH}{_ANY_DASH}*', '');
        s := regexp_replace(s, '({_NOT_KANA}){_ANY_DASH}+', '\\1', 'g');
    END IF;
    RETURN regexp_replace(s, '{_bracket(DROPPED_RANGES)}', '', 'g');
END
$$;

-- normalize_text v1: passes until stable (dropping characters can bring a base and a
-- combining mark together, か + space + ゙).
CREATE FUNCTION conflict_norm_v1(t text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := public.conflict_norm_pass_v1(t);
    again text;
BEGIN
    FOR i IN 1..8 LOOP
        EXIT WHEN s IS NFKC NORMALIZED AND public.conflict_casefold_v1(s) = s;
        again := public.conflict_norm_pass_v1(s);
        EXIT WHEN again = s;
        s := again;
    END LOOP;
    RETURN s;
END
$$;

-- names.person_key: NFKC, 異体字 folded, normalized.
CREATE FUNCTION conflict_person_key_v1(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := normalize(name, NFKC);
BEGIN
    IF s ~ '{_VARIANT_CLASS}' THEN
        s := translate(s, {_q(VARIANT_FROM_V1)}, {_q(VARIANT_TO_V1)});
    END IF;
    RETURN public.conflict_norm_v1(s);
END
$$;

-- names.company_key: legal forms (English and Japanese, abbreviated or not) removed
-- wherever they stand; a name that is nothing but a form keeps its person key.
CREATE FUNCTION conflict_company_key_v1(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := public.conflict_casefold_v1(normalize({_replace_chain("name", CIRCLED_V1)}, NFKC));
BEGIN
    s := regexp_replace(s, {_q(EN_FORMS_V1)}, ' ', 'g');
    IF s ~ '{_VARIANT_CLASS}' THEN
        s := translate(s, {_q(VARIANT_FROM_V1)}, {_q(VARIANT_TO_V1)});
    END IF;
    s := regexp_replace(public.conflict_norm_v1(s), {_q(JA_FORMS_V1)}, '', 'g');
    IF s = '' THEN
        s := public.conflict_person_key_v1(name);
    END IF;
    RETURN s;
END
$$;

-- The name key stored and searched: normalize_text(company_key, fold_kana=True), i.e.
-- normalized again when removing a form brought a kana and a combining mark together,
-- hiragana folded to katakana (さくら商事 = サクラ商事), cut to {MAX_KEY_CHARS} characters.
CREATE FUNCTION conflict_name_key_v1(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := public.conflict_company_key_v1(name);
BEGIN
    IF NOT s IS NFKC NORMALIZED THEN
        s := public.conflict_norm_v1(s);
    END IF;
    IF s ~ '[\u3041-\u3096\u309d\u309e]' THEN
        s := translate(s, {_q(_HIRAGANA)}, {_q(_KATAKANA)});
    END IF;
    RETURN left(s, {MAX_KEY_CHARS});
END
$$;

-- names.kana_key: a reading in hiragana, small kana enlarged, ー dropped.
CREATE FUNCTION conflict_reading_key_v1(reading text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := public.conflict_norm_v1(reading);
BEGIN
    IF s ~ '[\u30a1-\u30f6\u30fd\u30fe]' THEN
        s := translate(s, {_q(_KATAKANA)}, {_q(_HIRAGANA)});
    END IF;
    IF s ~ '[\u30f7-\u30fa]' THEN
        s := {_replace_chain("s", _VU)};
    END IF;
    RETURN left(translate(s, {_q(_SMALL)}, {_q(_BIG)}), {MAX_KEY_CHARS});
END
$$;

REVOKE ALL ON FUNCTION {_ALL_KEY_FUNCTIONS} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {_ALL_KEY_FUNCTIONS} TO legal_app, legal_readonly, {SEARCH_ROLE};
"""

DROP_FUNCTIONS_SQL: Final = "".join(
    f"DROP FUNCTION IF EXISTS {name}(text);\n" for name in reversed(KEY_FUNCTIONS)
)

# -- key maintenance ----------------------------------------------------------------------

# The keys of the parties in ``src`` (a CTE the caller defines over the transition
# tables), and their bigrams, in one statement.
_INSERT_KEYS = f"""
    raw AS MATERIALIZED (
        -- Materialized so that each key function runs once per value (a filter pushed
        -- into the UNION would call it again).
        SELECT s.tenant_id, s.id AS party_id, 'name' AS key_kind,
               public.conflict_name_key_v1(s.name) AS key, s.name AS source, 0::bigint AS pos
        FROM src s
        UNION ALL
        SELECT s.tenant_id, s.id, 'kana', public.conflict_reading_key_v1(s.name_kana),
               s.name_kana, 0
        FROM src s WHERE s.name_kana IS NOT NULL
        UNION ALL
        SELECT s.tenant_id, s.id, 'former', public.conflict_name_key_v1(f.name), f.name, f.pos
        FROM src s CROSS JOIN LATERAL unnest(s.former_names) WITH ORDINALITY AS f(name, pos)
        WHERE f.name IS NOT NULL
        UNION ALL
        SELECT s.tenant_id, s.id, 'corporate_number', s.corporate_number, s.corporate_number, 0
        FROM src s WHERE s.corporate_number IS NOT NULL
    ),
    keys AS (
        -- One row per distinct key of a party; of several former names with one key,
        -- the first listed is kept as the source.
        SELECT DISTINCT ON (r.tenant_id, r.party_id, r.key_kind, r.key)
               r.tenant_id, r.party_id, r.key_kind, r.key, r.source
        FROM raw r
        WHERE r.key <> ''
        ORDER BY r.tenant_id, r.party_id, r.key_kind, r.key, r.pos
    ),
    with_ids AS (
        -- Ids and bigrams (search.normalize.bigrams: distinct pairs, or the character
        -- itself for a one-character key) made once here, inline: cheaper per row than
        -- calling a function, and shared by both inserts (the CTE is materialized).
        SELECT k.*, public.app_uuid_v7() AS id,
               CASE WHEN k.key_kind IN ('name', 'former')
                    THEN ARRAY(SELECT DISTINCT substr(k.key, i, 2)
                               FROM generate_series(1, greatest(length(k.key) - 1, 1)) AS i)
                    ELSE '{{}}'::text[] END AS grams
        FROM keys k
    ),
    inserted AS (
        INSERT INTO public.{KEY_TABLE}
            (tenant_id, id, party_id, key_kind, key, source, gram_count)
        SELECT w.tenant_id, w.id, w.party_id, w.key_kind, w.key, w.source, cardinality(w.grams)
        FROM with_ids w
    )
    INSERT INTO public.{GRAM_TABLE} (tenant_id, id, key_id, gram, gram_count)
    SELECT w.tenant_id, public.app_uuid_v7(), w.id, g.gram, cardinality(w.grams)
    FROM with_ids w CROSS JOIN LATERAL unnest(w.grams) AS g(gram);"""

MAINTENANCE_SQL: Final = f"""
-- SECURITY DEFINER (owner {SEARCH_ROLE}, BYPASSRLS): the application role cannot write the
-- key tables itself. Only rows of this statement's transition tables are mirrored.
CREATE FUNCTION conflict_keys_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH src AS (SELECT * FROM new_rows),{_INSERT_KEYS}
    RETURN NULL;
END
$$;

CREATE FUNCTION conflict_keys_after_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Only parties whose searchable data changed are re-keyed (an update of an
    -- encrypted column or a key rotation leaves the keys alone). Old keys go and new
    -- ones come in one statement; the old keys' bigrams follow by cascade.
    WITH src AS (
        SELECT n.* FROM new_rows n
        JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
        WHERE (n.name, n.name_kana, n.former_names, n.corporate_number)
              IS DISTINCT FROM (o.name, o.name_kana, o.former_names, o.corporate_number)
    ),
    removed AS (
        DELETE FROM public.{KEY_TABLE} k USING src
        WHERE k.tenant_id = src.tenant_id AND k.party_id = src.id
    ),{_INSERT_KEYS}
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION conflict_keys_after_insert(), conflict_keys_after_update() FROM PUBLIC;

CREATE TRIGGER conflict_keys_insert AFTER INSERT ON parties
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conflict_keys_after_insert();
CREATE TRIGGER conflict_keys_update AFTER UPDATE ON parties
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conflict_keys_after_update();
-- Also under session_replication_role = replica: a bulk load must not skip the keys.
ALTER TABLE parties ENABLE ALWAYS TRIGGER conflict_keys_insert;
ALTER TABLE parties ENABLE ALWAYS TRIGGER conflict_keys_update;
"""

DROP_MAINTENANCE_SQL: Final = """
DROP TRIGGER IF EXISTS conflict_keys_update ON parties;
DROP TRIGGER IF EXISTS conflict_keys_insert ON parties;
DROP FUNCTION IF EXISTS conflict_keys_after_update();
DROP FUNCTION IF EXISTS conflict_keys_after_insert();
"""

#: Keys of the parties that existed before the revision (run as the admin).
BACKFILL_SQL: Final = f"""
WITH src AS (SELECT * FROM parties),{_INSERT_KEYS}
"""

# -- screened matters -----------------------------------------------------------------

SCREENED_SQL: Final = f"""
-- Where a party appears in matters an ethical wall hides from the current user: the
-- role only. SECURITY DEFINER (owner {SEARCH_ROLE}) because Row Level Security hides
-- exactly those rows from the caller; the firm and the walls are the transaction's own.
CREATE FUNCTION conflict_screened_appearances(p_party_ids uuid[])
    RETURNS TABLE (party_id uuid, source text, role text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t uuid := public.app_current_tenant_id();
    walled uuid[];
BEGIN
    IF t IS NULL THEN
        RETURN;  -- no firm, nothing
    END IF;
    walled := public.app_walled_case_ids();
    IF cardinality(walled) = 0 THEN
        RETURN;  -- the user is behind no wall (the usual case): nothing is hidden
    END IF;
    RETURN QUERY
        SELECT cp.party_id, 'case'::text, cp.role
        FROM public.case_parties cp
        WHERE cp.tenant_id = t AND cp.party_id = ANY (p_party_ids) AND cp.case_id = ANY (walled)
        UNION
        SELECT cl.party_id, 'case', 'client'
        FROM public.cases c
        JOIN public.clients cl ON cl.tenant_id = c.tenant_id AND cl.id = c.client_id
        WHERE c.tenant_id = t AND c.id = ANY (walled) AND cl.party_id = ANY (p_party_ids)
        UNION
        SELECT cp.party_id, 'consultation', cp.role
        FROM public.consultations c
        JOIN public.consultation_parties cp ON cp.tenant_id = c.tenant_id
                                           AND cp.consultation_id = c.id
        WHERE c.tenant_id = t AND c.case_id = ANY (walled) AND cp.party_id = ANY (p_party_ids);
END
$$;
REVOKE ALL ON FUNCTION conflict_screened_appearances(uuid[]) FROM PUBLIC;
"""

DROP_SCREENED_SQL: Final = "DROP FUNCTION IF EXISTS conflict_screened_appearances(uuid[]);"

#: What ``legal_search`` may touch (column privileges on tables other revisions own, so
#: the downgrade never takes away a table privilege granted elsewhere).
SEARCH_ROLE_GRANTS_SQL: Final = f"""
GRANT SELECT, INSERT, DELETE ON {KEY_TABLE}, {GRAM_TABLE} TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, case_id, party_id, role) ON case_parties TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, id, client_id) ON cases TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, id, party_id) ON clients TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, id, case_id) ON consultations TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, consultation_id, party_id, role) ON consultation_parties
    TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, case_id, user_id, role_id, ended_at) ON ethical_walls
    TO {SEARCH_ROLE};
GRANT SELECT (tenant_id, user_id, role_id) ON user_roles TO {SEARCH_ROLE};
GRANT EXECUTE ON FUNCTION app_walled_case_ids() TO {SEARCH_ROLE};
"""

REVOKE_SEARCH_ROLE_GRANTS_SQL: Final = f"""
REVOKE EXECUTE ON FUNCTION app_walled_case_ids() FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, user_id, role_id) ON user_roles FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, case_id, user_id, role_id, ended_at) ON ethical_walls
    FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, consultation_id, party_id, role) ON consultation_parties
    FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, id, case_id) ON consultations FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, id, party_id) ON clients FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, id, client_id) ON cases FROM {SEARCH_ROLE};
REVOKE SELECT (tenant_id, case_id, party_id, role) ON case_parties FROM {SEARCH_ROLE};
REVOKE ALL ON {KEY_TABLE}, {GRAM_TABLE} FROM {SEARCH_ROLE};
"""

DEFINER_FUNCTIONS: Final = (
    "conflict_keys_after_insert()",
    "conflict_keys_after_update()",
    "conflict_screened_appearances(uuid[])",
)

# -- queries of the check (module-level so the EXPLAIN tests run exactly these) ---------

#: The firm, the user and the keys of the names, computed by the stored keys' functions.
QUERY_KEYS_SQL: Final = """
SELECT app_current_tenant_id() AS tenant_id, app_current_user_id() AS user_id,
       ARRAY(SELECT conflict_name_key_v1(u.n) FROM unnest(CAST(:names AS text[]))
             WITH ORDINALITY AS u(n, i) ORDER BY u.i) AS name_keys,
       ARRAY(SELECT conflict_reading_key_v1(u.n) FROM unnest(CAST(:names AS text[]))
             WITH ORDINALITY AS u(n, i) ORDER BY u.i) AS reading_keys
"""

#: Exact key hits: an equality on ``(tenant_id, key)`` (``texteq`` is leakproof, so the
#: index stays usable under Row Level Security).
EXACT_SQL: Final = f"""
SELECT k.party_id, k.key_kind, k.key, k.source
FROM {KEY_TABLE} k
WHERE k.tenant_id = (SELECT app_current_tenant_id()) AND k.key = ANY (CAST(:keys AS text[]))
"""

#: Fuzzy candidates: keys sharing enough bigrams with query name ``i`` (``n`` bigrams)
#: that ``names.similarity`` could reach the threshold — Dice ≥ 0.6 needs
#: ``shared ≥ 0.3·(n + m)``, containment needs every bigram of the shorter key. Counted
#: from ``(tenant_id, gram, key_id, gram_count)`` alone; only the survivors' key rows are
#: read. Scored in Python afterwards.
CANDIDATES_SQL: Final = f"""
WITH q AS (
    SELECT * FROM unnest(CAST(:gram_i AS int[]), CAST(:grams AS text[])) AS q(i, gram)
), n AS (
    SELECT * FROM unnest(CAST(:gram_n AS int[])) WITH ORDINALITY AS n(n, i)
), shared AS (
    SELECT q.i, g.key_id, g.gram_count, count(*) AS shared
    FROM q JOIN {GRAM_TABLE} g ON g.tenant_id = (SELECT app_current_tenant_id())
                               AND g.gram = q.gram
    GROUP BY q.i, g.key_id, g.gram_count
), candidates AS (
    SELECT s.i, s.key_id
    FROM shared s JOIN n ON n.i = s.i
    WHERE 10 * s.shared >= 3 * (n.n + s.gram_count) OR s.shared = s.gram_count
       OR s.shared = n.n
)
SELECT c.i, k.party_id, k.key_kind, k.key, k.source
FROM candidates c
JOIN {KEY_TABLE} k ON k.tenant_id = (SELECT app_current_tenant_id()) AND k.id = c.key_id
"""

PARTIES_SQL: Final = """
SELECT p.id, p.kind, p.name, p.corporate_number
FROM parties p
WHERE p.tenant_id = (SELECT app_current_tenant_id()) AND p.id = ANY (CAST(:ids AS uuid[]))
"""

#: Where the parties appear, as far as the user may see (walls hide some of it): the
#: client register, case roles (``case_parties``, and the client of a case through
#: ``cases.client_id`` of a live client — the partial unique index on clients), consultation
#: roles, and relations both ways.
APPEARANCES_SQL: Final = """
SELECT cl.party_id, 'client' AS source, cl.status AS role, NULL::uuid AS matter_id,
       NULL::bigint AS number, cl.client_code AS title, NULL::text AS status,
       NULL::date AS on_date, NULL::uuid AS other_party_id
FROM clients cl
WHERE cl.tenant_id = (SELECT app_current_tenant_id()) AND cl.deleted_at IS NULL
  AND cl.party_id = ANY (CAST(:ids AS uuid[]))
UNION ALL
SELECT cp.party_id, 'case', cp.role, c.id, c.display_number, c.title, c.status, c.closed_on,
       NULL
FROM case_parties cp
JOIN cases c ON c.tenant_id = cp.tenant_id AND c.id = cp.case_id
WHERE cp.tenant_id = (SELECT app_current_tenant_id()) AND cp.party_id = ANY (CAST(:ids AS uuid[]))
UNION ALL
SELECT cl.party_id, 'case', 'client', c.id, c.display_number, c.title, c.status, c.closed_on,
       NULL
FROM clients cl
JOIN cases c ON c.tenant_id = cl.tenant_id AND c.client_id = cl.id
WHERE cl.tenant_id = (SELECT app_current_tenant_id()) AND cl.deleted_at IS NULL
  AND cl.party_id = ANY (CAST(:ids AS uuid[]))
UNION ALL
SELECT cp.party_id, 'consultation', cp.role, c.id, NULL, c.subject, c.status,
       CAST(c.consulted_at AS date), NULL
FROM consultation_parties cp
JOIN consultations c ON c.tenant_id = cp.tenant_id AND c.id = cp.consultation_id
WHERE cp.tenant_id = (SELECT app_current_tenant_id()) AND cp.party_id = ANY (CAST(:ids AS uuid[]))
UNION ALL
SELECT r.from_party_id, 'relation', r.kind, NULL, NULL, NULL, 'of', NULL, r.to_party_id
FROM party_relations r
WHERE r.tenant_id = (SELECT app_current_tenant_id())
  AND r.from_party_id = ANY (CAST(:ids AS uuid[]))
UNION ALL
SELECT r.to_party_id, 'relation', r.kind, NULL, NULL, NULL, 'has', NULL, r.from_party_id
FROM party_relations r
WHERE r.tenant_id = (SELECT app_current_tenant_id())
  AND r.to_party_id = ANY (CAST(:ids AS uuid[]))
"""

SCREENED_QUERY_SQL: Final = """
SELECT party_id, source, role FROM conflict_screened_appearances(CAST(:ids AS uuid[]))
"""
