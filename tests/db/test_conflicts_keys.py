"""The SQL name keys agree with the Python ones (``legal_data.search.names``).

Stored keys and query keys are both computed by the SQL functions, so they always agree
with each other; these tests prove that the SQL functions are also the twins of the
Python keys the fuzzy scoring and the documentation rely on:

- every assigned character of the blocks names are written with, alone and between
  kanji, kana and Latin letters (about 38,000 strings);
- hypothesis: names built from legal forms in every spelling (株式会社, ㈱, （株）, ㍿,
  ㊑, Co., Ltd. …), 異体字 and their key forms, kana of every width, dashes, spaces,
  punctuation, combining marks and variation selectors;
- the character tables frozen in ``legal_data.conflicts.sql`` still equal the Python
  ones (when this fails, the Python keys changed: add ``_v2`` SQL functions in a new
  revision and re-key, never edit ``_v1``);
- the bigrams stored for the fuzzy search are ``search.normalize.bigrams`` of the key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Connection

from legal_data.conflicts import sql
from legal_data.search.names import VARIANTS, company_key, kana_key
from legal_data.search.normalize import (
    CIRCLED_LEGAL_FORMS,
    DASHES,
    LEGAL_FORM_ABBREVIATIONS,
    bigrams,
    normalize_text,
)

#: The blocks the SQL functions are twins of the Python ones on (module docstring of
#: legal_data.conflicts.sql): Latin, Greek, Cyrillic, punctuation and symbols, CJK
#: punctuation, kana, enclosed CJK, compatibility forms, full/half width, emoji, IVS.
BLOCKS = (
    (0x0001, 0x052F),
    (0x1800, 0x18AF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x2BFF),
    (0x2E00, 0x2E7F),
    (0x3000, 0x33FF),
    (0x4E00, 0x4FFF),
    (0xF900, 0xFAFF),
    (0xFE00, 0xFFFF),
    (0x1F000, 0x1FAFF),
    (0x20BB7, 0x20BB7),
    (0xE0000, 0xE01EF),
)


def python_keys(name: str) -> tuple[str, str]:
    return (
        normalize_text(company_key(name), fold_kana=True)[: sql.MAX_KEY_CHARS],
        kana_key(name)[: sql.MAX_KEY_CHARS],
    )


def sql_keys(conn: Connection, names: list[str]) -> list[tuple[str, str]]:
    rows = conn.execute(
        text(
            "SELECT conflict_name_key_v1(u.n), conflict_reading_key_v1(u.n)"
            " FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS u(n, i) ORDER BY u.i"
        ),
        {"names": names},
    ).all()
    return [(a, b) for a, b in rows]


@pytest.fixture
def conn(legal_data_harness) -> Iterator[Connection]:
    with legal_data_harness.admin_engine.connect() as c:
        yield c
        c.rollback()  # no transaction (and no lock) outlives the test


def _assigned(start: int, end: int) -> Iterator[str]:
    for cp in range(start, end + 1):
        ch = chr(cp)
        if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(ch) != "Cn":
            yield ch


def test_every_character_of_the_name_blocks(conn):
    texts = []
    for start, end in BLOCKS:
        for ch in _assigned(start, end):
            texts += [ch, f"山{ch}田", f"サ{ch}ン", f"a{ch}b"]
    assert len(texts) > 30_000
    got = sql_keys(conn, texts)
    differ = [
        (t, g, python_keys(t)) for t, g in zip(texts, got, strict=True) if g != python_keys(t)
    ]
    assert differ == []


@pytest.mark.parametrize(
    ("name", "name_key", "reading_key"),
    [
        ("株式会社山田商事", "山田商事", "株式会社山田商事"),
        ("㈱山田商事", "山田商事", "株式会社山田商事"),
        ("山田商事（株）", "山田商事", "山田商事株式会社"),
        ("Yamada Trading Co., Ltd.", "yamadatrading", "yamadatradingcoltd"),
        ("髙橋　一郎", "高橋一郎", "髙橋一郎"),
        ("山﨑", "山崎", "山﨑"),
        ("さくら商事", "サクラ商事", "さくら商事"),
        ("ｻｸﾗ ｼｮｳｼﾞ", "サクラショウジ", "さくらしようじ"),
        ("ジョージ・スミス", "ジョージスミス", "じよじすみす"),
        ("株式会社", "株式会社", "株式会社"),
        ("・・・", "", ""),
    ],
)
def test_examples(conn, name, name_key, reading_key):
    assert sql_keys(conn, [name]) == [(name_key, reading_key)] == [python_keys(name)]


_TOKENS = [
    *["株式会社", "有限会社", "合同会社", "合資会社", "合名会社", "相互会社", "一般社団法人"],
    *["公益財団法人", "医療法人社団", "社会医療法人", "弁護士法人", "特定非営利活動法人"],
    *["NPO法人", "㍿", "㈱", "㈲", "（株）", "(株)", "（一社）", "(特非)", "㊑", "㊒"],
    *LEGAL_FORM_ABBREVIATIONS,
    *CIRCLED_LEGAL_FORMS,
    *["Co., Ltd.", "CO.,LTD.", "Inc.", "inc", "Corp.", "Corporation", "K.K.", "LLC", "L.L.C."],
    *["Kabushiki Kaisha", "Limited", "Ltd", "co.", "Zinc", "Incline", "Ｃｏ．，Ｌｔｄ．"],
    *VARIANTS,
    *VARIANTS.values(),
    *"山田商事高橋一郎太郎花子鈴木佐藤渡辺さくらサクラｻｸﾗやまだヤマダﾔﾏﾀﾞきょうこキョウコ",
    *"ヴァヷヰヱヶゝゞヽヾ々〆ㇰㇱ",
    *DASHES,
    *["ｰ", "－", "～", "‑", " ", "　", "・", "･", "、", "。", "（", "）", "(", ")", "「", "」"],
    *["&", ".", ",", "'", "\t", "\n", "①", "⑳", "㋿", "🍣", "★", "※", "〒", "\ufe00"],
    *"ABCxyz0123４５６ÄäÖöÜüßẞİΣσςЖжÀàŁł",
    *["゛", "゜", "\u3099", "\u309a", "ﾞ", "ﾟ", "か", "カ", "ｶ", "\U000e0100"],
]

names = st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=8).map("".join)


def _in_blocks(ch: str) -> bool:
    # Not the ideographic tone marks U+302A–302F: the Python normalizer treats them as
    # never combining, so next to another combining mark it leaves the two out of
    # canonical order (its output is then not NFKC); SQL orders them. No name has them.
    return any(start <= ord(ch) <= end for start, end in BLOCKS) and not 0x302A <= ord(ch) <= 0x302F


short_texts = st.text(
    alphabet=st.characters(
        categories=("Lu", "Ll", "Lo", "Lm", "Nd", "Mn", "Pd", "Po", "Ps", "Pe", "Zs", "So", "Sm"),
        max_codepoint=0x33FF,
    ).filter(_in_blocks),
    min_size=1,
    max_size=12,
)


# One connection for all examples is what the fixture is for (nothing is written).
REUSE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=60, deadline=None, suppress_health_check=REUSE)
@given(st.lists(names | short_texts, min_size=1, max_size=200))
def test_sql_keys_are_the_python_keys(conn, batch):
    got = sql_keys(conn, batch)
    assert [(t, g) for t, g in zip(batch, got, strict=True) if g != python_keys(t)] == []


@pytest.fixture(scope="module")
def firm_id(legal_data_harness) -> Iterator[object]:
    from legal_data.testing.plugin import make_tenant

    yield make_tenant(legal_data_harness, "keys-firm", "キー検証法律事務所").id
    legal_data_harness.truncate_all()


@settings(max_examples=25, deadline=None, suppress_health_check=REUSE)
@given(st.lists(names | short_texts, min_size=1, max_size=40))
def test_stored_keys_and_bigrams_are_the_python_ones(legal_data_harness, firm_id, batch):
    """What the trigger stores: the name key of each name and former name, and the
    bigrams of those keys (``search.normalize.bigrams``), for any batch of parties."""
    batch = [n for n in batch if n.strip()]  # parties.name must not be blank
    with legal_data_harness.admin_engine.connect() as c, c.begin() as tx:
        c.execute(text("SET LOCAL app.current_user_role = 'system'"))
        c.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name, former_names)"
                " SELECT :t, gen_random_uuid(), 'company', n, ARRAY[n || '旧', n]"
                " FROM unnest(CAST(:names AS text[])) AS n"
            ),
            {"t": firm_id, "names": batch},
        )
        stored = c.execute(
            text(
                "SELECT k.key_kind, k.key, k.source, k.gram_count,"
                " coalesce(array_agg(g.gram) FILTER (WHERE g.gram IS NOT NULL), '{}'),"
                " coalesce(array_agg(DISTINCT g.gram_count)"
                " FILTER (WHERE g.gram IS NOT NULL), '{}')"
                " FROM party_name_keys k LEFT JOIN party_name_grams g"
                " ON g.tenant_id = k.tenant_id AND g.key_id = k.id"
                " WHERE k.tenant_id = :t GROUP BY k.tenant_id, k.id"
            ),
            {"t": firm_id},
        ).all()
        tx.rollback()
    expected = {
        (kind, python_keys(source)[0])
        for name in batch
        for kind, source in (("name", name), ("former", name + "旧"), ("former", name))
        if python_keys(source)[0]
    }
    assert {(kind, key) for kind, key, *_ in stored} == expected
    for _kind, key, source, gram_count, grams, copies in stored:
        assert key == python_keys(source)[0]
        assert sorted(grams) == sorted(bigrams(key)) and gram_count == len(bigrams(key))
        assert copies == ([gram_count] if grams else [])  # each bigram row knows the count


def test_the_frozen_tables_are_the_python_tables():
    pairs = dict(p for p in (tuple(x) for x in sql.VARIANTS_V1.split()))
    assert pairs == dict(VARIANTS)
    assert dict(sql.ABBREVIATIONS_V1) == dict(LEGAL_FORM_ABBREVIATIONS)
    assert dict(sql.CIRCLED_V1) == dict(CIRCLED_LEGAL_FORMS)
    assert sql.LONG_VOWEL in DASHES
    # The fold table is str.casefold for every character it names.
    for upper, lower in zip(sql.CASEFOLD_FROM_V1, sql.CASEFOLD_TO_V1, strict=True):
        assert upper.casefold() == lower, upper
    for upper, lower in sql.CASEFOLD_MULTI_V1:
        assert upper.casefold() == lower


def test_stored_keys_and_grams_of_a_party(legal_data_harness, firm_id):
    with legal_data_harness.admin_engine.connect() as admin, admin.begin() as tx:
        admin.execute(text("SET LOCAL app.current_user_role = 'system'"))
        admin.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name, name_kana, former_names,"
                " corporate_number) VALUES (:t, gen_random_uuid(), 'company', '株式会社山田商事',"
                " 'ヤマダショウジ', ARRAY['山田商店', '㈱山田商店', NULL], :n)"
            ),
            {"t": firm_id, "n": "7000012050002"},
        )
        keys, grams = _stored(admin, firm_id)
        tx.rollback()
    assert [tuple(k) for k in keys] == [
        ("corporate_number", "7000012050002", "7000012050002", 0),
        ("former", "山田商店", "山田商店", 3),  # two former names, one key: the first
        ("kana", "やまだしようじ", "ヤマダショウジ", 0),
        ("name", "山田商事", "株式会社山田商事", 3),
    ]
    assert [(k, sorted(g)) for k, g in grams] == [
        ("山田商事", sorted(bigrams("山田商事"))),
        ("山田商店", sorted(bigrams("山田商店"))),
    ]


def _stored(conn: Connection, firm: object) -> tuple[list, list]:
    keys = conn.execute(
        text(
            "SELECT key_kind, key, source, gram_count FROM party_name_keys WHERE tenant_id = :t"
            " ORDER BY key_kind, key"
        ),
        {"t": firm},
    ).all()
    grams = conn.execute(
        text(
            "SELECT k.key, array_agg(g.gram ORDER BY g.gram) FROM party_name_grams g"
            " JOIN party_name_keys k ON k.tenant_id = g.tenant_id AND k.id = g.key_id"
            " WHERE g.tenant_id = :t GROUP BY k.key ORDER BY k.key"
        ),
        {"t": firm},
    ).all()
    return list(keys), list(grams)
