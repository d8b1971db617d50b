"""Exact-match search on encrypted e-mail, phone and 個人番号 through blind indexes:
normalized variants match, other firms' indexes differ, the index is used."""

from __future__ import annotations

import pytest
from crypto_support import acting, db_fixture, firms_fixture, person, raw  # noqa: F401
from sqlalchemy import select, text
from sqlalchemy.orm import aliased

from legal_data.models import Party


@pytest.fixture(scope="module")
def firm_with_people(legal_data_harness, firms):
    db = legal_data_harness
    firm = firms.new()
    with acting(db, firm) as s:
        taro = person(s, email="Taro.Yamada@Example.co.jp", phone="03-1234-5678")
        hanako = person(
            s,
            name="山田 花子",
            email="hanako@example.jp",
            phone="090-8765-4321",
            my_number="987654321000",
        )
    return firm, taro.id, hanako.id


@pytest.mark.parametrize(
    ("column", "query", "who"),
    [
        ("email", "taro.yamada@example.co.jp", 0),
        ("email", "ＴＡＲＯ．ＹＡＭＡＤＡ＠ＥＸＡＭＰＬＥ．ＣＯ．ＪＰ", 0),
        ("email", "  Hanako@EXAMPLE.jp ", 1),
        ("phone", "0312345678", 0),
        ("phone", "+81 3-1234-5678", 0),
        ("phone", "(03) 1234 5678", 0),
        ("phone", "０３－１２３４－５６７８", 0),
        ("phone", "03‐1234‐5678", 0),  # U+2010 hyphens
        ("phone", "+81 (0)90 8765 4321", 1),
        ("my_number", "1234 5678 9018", 0),
        ("my_number", "１２３４－５６７８－９０１８", 0),
        ("my_number", "987654321000", 1),
    ],
)
def test_normalized_variants_find_the_person(db, firm_with_people, column, query, who):
    firm, *ids = firm_with_people
    with acting(db, firm) as s:
        found = s.scalars(select(Party.id).where(getattr(Party, column).matches(query))).all()
    assert found == [ids[who]]


def test_near_misses_find_nothing(db, firm_with_people):
    firm, *_ = firm_with_people
    with acting(db, firm) as s:
        for column, query in (
            ("email", "taro.yamada@example.jp"),
            ("phone", "03-1234-5679"),
            ("my_number", "123456789019"),
            ("email", "   "),
        ):
            assert (
                s.scalars(select(Party.id).where(getattr(Party, column).matches(query))).all() == []
            )


def test_the_same_value_has_different_indexes_in_different_firms(db, firm_with_people, firms):
    firm, taro_id, _ = firm_with_people
    other = firms.new()
    with acting(db, other) as s:
        copy = person(s, email="taro.yamada@example.co.jp")
        assert s.scalars(
            select(Party.id).where(Party.email.matches("taro.yamada@example.co.jp"))
        ).all() == [copy.id]
    rows = raw(db, "SELECT id, email_bidx FROM parties WHERE id IN (:a, :b)", a=taro_id, b=copy.id)
    assert len({bytes(r.email_bidx) for r in rows}) == 2
    # The index keys are not the encryption keys: a firm has one of each.
    keys = raw(db, "SELECT purpose FROM tenant_keys WHERE tenant_id = :t ORDER BY 1", t=firm.id)
    assert [k.purpose for k in keys] == ["blind_index", "encryption"]


def test_lookups_work_on_aliases_and_use_the_index(db, firm_with_people):
    firm, taro_id, _ = firm_with_people
    with acting(db, firm) as s:
        other = aliased(Party)
        assert s.scalars(select(other.id).where(other.phone.matches("0312345678"))).all() == [
            taro_id
        ]
        s.execute(text("SET LOCAL enable_seqscan = off"))
        index = Party.email.type.index("taro.yamada@example.co.jp", tenant_id=firm.id)
        plan = "\n".join(
            s.execute(
                text("EXPLAIN SELECT id FROM parties WHERE email_bidx = :b"), {"b": index}
            ).scalars()
        )
    assert "ix_parties_tenant_id_email_bidx" in plan
