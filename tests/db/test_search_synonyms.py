"""A firm's search synonyms (revision 0021): stored normalized, once per pair, per firm;
searches expand required terms with them and merge the combinations exactly.

The merged order is checked against its definition: all pages of a search with synonyms
concatenate to the union of the literal searches of every combination, each hit ranked
by its title under the term groups, ordered by rank, time, id.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.errors import InvalidSearchQuery, InvalidSynonym, LegalDataError
from legal_data.search import synonyms
from legal_data.search.normalize import normalize_text
from legal_data.testing.factories import CaseFactory, CommunicationFactory, DocumentFactory


def test_pairs_are_normalized_and_stored_once(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        first = synonyms.add(s, "申立人", "原告", note="調停では申立人")
        again = synonyms.add(s, "原告", "申立人")
        wide = synonyms.add(s, "ＡＢＣ", "エービーシー")  # stored as normalized: abc
        assert again.id == first.id
        assert (first.term, first.synonym) == ("原告", "申立人")
        assert "abc" in (wide.term, wide.synonym)
        assert synonyms.pairs(s) == sorted([("原告", "申立人"), _ordered("ＡＢＣ", "エービーシー")])
        assert synonyms.alternatives(s, ("申立人", "離婚")) == [("申立人", "原告"), ("離婚",)]
    with legal_db.admin_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT term, synonym, created_by IS NOT NULL FROM search_synonyms")
        ).all()
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_logs WHERE table_name = 'search_synonyms'"
                " AND tenant_id = :t AND action = 'INSERT'"
            ),
            {"t": tenant_a.id},
        ).scalar_one()
    assert len(rows) == 2 and all(r[2] for r in rows)
    assert audited == 2


def _ordered(a: str, b: str) -> tuple[str, str]:
    x, y = normalize_text(a), normalize_text(b)
    return (x, y) if x < y else (y, x)


@pytest.mark.parametrize(
    ("term", "synonym"),
    [
        ("", "原告"),
        ("原告", "  "),
        ("原告", "原告"),
        ("ＡＢＣ", "abc"),
        ("㈱", "株式会社"),
        ("原" * 257, "申"),
        (1, "x"),
    ],
)
def test_bad_pairs_are_refused_before_any_sql(legal_db, tenant_a, term, synonym) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        with pytest.raises(InvalidSynonym) as raised:
            synonyms.add(s, term, synonym)
        assert isinstance(raised.value, LegalDataError)
        assert synonyms.pairs(s) == []


def test_remove_either_order(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        synonyms.add(s, "原告", "申立人")
        assert synonyms.remove(s, "申立人", "原告") is True
        assert synonyms.remove(s, "申立人", "原告") is False
        assert synonyms.pairs(s) == []


def test_another_firms_synonyms_change_nothing(legal_db, tenant_a, tenant_b) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_b.id, commit=True) as s:
        synonyms.add(s, "原告", "申立人")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        case = CaseFactory(title="調停事件")
        DocumentFactory(case_id=case.id, title="申立人の陳述書")
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert synonyms.pairs(s) == []
        assert search.documents(s, "原告").hits == []
    with tenant_tx(legal_db.app_sessions, tenant_b.id) as s:
        assert search.documents(s, "原告").hits == []  # B's synonym, A's document


@pytest.fixture
def corpus(legal_db, tenant_a) -> dict[str, Any]:
    """Documents naming the claimant either way, in titles and texts — some both ways —
    over two commits (two timestamps: ties inside each, broken by id)."""
    ids: dict[str, Any] = {}
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        synonyms.add(s, "原告", "申立人")
        synonyms.add(s, "離婚", "離縁")
        case = CaseFactory(title="離婚調停事件")
        ids["case"] = case.id
        for i in range(5):
            DocumentFactory(case_id=case.id, title=f"原告の主張{i}", description="離婚を求める")
            DocumentFactory(case_id=case.id, title=f"申立人の主張{i}", description="離縁を求める")
            DocumentFactory(case_id=case.id, title=f"報告{i}", description="申立人は離婚を求める")
            DocumentFactory(case_id=case.id, title=f"離縁の記録{i}", description="原告の陳述")
            DocumentFactory(case_id=case.id, title=f"無関係{i}", description="相手方の主張")
            # Found by both spellings, ranked 2 by one and 0 by the other: the merge must
            # show it once, at its best rank, and skip it when the other comes by later.
            DocumentFactory(
                case_id=case.id, title=f"申立人の陳述{i}", description="原告は離縁を望む"
            )
        CommunicationFactory(case_id=case.id, subject="申立人からの電話")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        for i in range(3):
            DocumentFactory(case_id=case.id, title=f"新しい申立書{i}", description="申立人と離婚")
    return ids


def _pages(session: Any, q: str, size: int, **kw: Any) -> list[search.DocumentHit]:
    hits: list[search.DocumentHit] = []
    after = None
    for _ in range(200):  # a cursor that does not move on would page forever
        page = search.documents(session, q, limit=size, after=after, **kw)
        hits.extend(page)
        if page.next_cursor is None:
            return hits
        after = page.next_cursor
    raise AssertionError(f"more than 200 pages of {size}: the cursor does not advance")


def _definition(session: Any, q: str) -> list[tuple[int, Any, uuid.UUID]]:
    """The union of the literal searches of every combination, ranked by group."""
    parsed = search.parse_query(q)
    groups, combos = synonyms.expansions(session, parsed)
    found: dict[uuid.UUID, tuple[int, Any, uuid.UUID]] = {}
    for combo in combos:
        for hit in _pages(session, combo, 100, synonyms=False):
            key = (synonyms.rank(normalize_text(hit.title), groups), hit.sort_at, hit.id)
            found[hit.id] = max(found.get(hit.id, key), key)
    return sorted(found.values(), reverse=True)


@pytest.mark.parametrize("q", ["原告", "申立人", "原告 離婚", "離縁 申立人", "原告 -陳述"])
@pytest.mark.parametrize("size", [1, 4, 7, 100])
def test_pages_with_synonyms_are_the_ranked_union(legal_db, tenant_a, corpus, q, size) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        expected = _definition(s, q)
        got = [(h.rank, h.sort_at, h.id) for h in _pages(s, q, size)]
    assert got == expected
    assert len({i for _r, _at, i in got}) == len(got)


def test_synonyms_widen_recall_and_can_be_turned_off(legal_db, tenant_a, corpus) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        wide = search.documents(s, "原告 離婚", limit=100)
        literal = search.documents(s, "原告 離婚", limit=100, synonyms=False)
        comms = search.communications(s, "原告")
    titles = {h.title for h in wide}
    assert {h.title for h in literal} == {f"原告の主張{i}" for i in range(5)}
    # 申立人 … 離縁, 申立人 … 離婚, 離縁 … 原告: every spelling of both terms.
    assert {f"申立人の主張{i}" for i in range(5)} <= titles
    assert {f"報告{i}" for i in range(5)} <= titles
    assert {f"離縁の記録{i}" for i in range(5)} <= titles
    assert {f"新しい申立書{i}" for i in range(3)} <= titles
    assert not any(t.startswith("無関係") for t in titles)
    # Rank by the title under the groups: 申立人の主張 has an alternative of 原告 only.
    ranks = {h.title: h.rank for h in wide}
    assert ranks["申立人の主張0"] == 1 and ranks["報告0"] == 0 and ranks["原告の主張0"] == 1
    # The snippet marks what was found, 申立人 where 原告 was asked for.
    report = next(h for h in wide if h.title == "報告0")
    assert "【申立人】" in report.snippet or "【離婚】" in report.snippet
    assert [h.title for h in comms] == ["申立人からの電話"]


def test_exclusions_are_not_expanded(legal_db, tenant_a, corpus) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        titles = {h.title for h in search.documents(s, "離婚 -原告", limit=100)}
    # 申立人 is a synonym of 原告, but "-原告" excludes the literal term only.
    assert "報告0" in titles
    assert not any(t.startswith("原告の主張") or t.startswith("離縁の記録") for t in titles)


def test_a_cursor_is_bound_to_the_synonym_setting(legal_db, tenant_a, corpus) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        page = search.documents(s, "原告", limit=2)
        with pytest.raises(InvalidSearchQuery, match="cursor"):
            search.documents(s, "原告", limit=2, after=page.next_cursor, synonyms=False)
        with pytest.raises(InvalidSearchQuery, match="synonyms"):
            search.documents(s, "原告", synonyms="yes")  # type: ignore[arg-type]


def test_too_many_combinations_are_refused(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        for a, b in [("甲", "乙"), ("丙", "丁"), ("戊", "己"), ("庚", "辛")]:
            synonyms.add(s, a, b)
        assert len(synonyms.expansions(s, search.parse_query("甲 丙 戊"))[1]) == 8
        with pytest.raises(InvalidSearchQuery, match="16 combinations"):
            search.documents(s, "甲 丙 戊 庚")
        assert search.documents(s, "甲 丙 戊 庚", synonyms=False).hits == []
