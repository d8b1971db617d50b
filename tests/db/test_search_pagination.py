"""Ranked, keyset-paginated results.

The order is total — rank (every term in the title 2, some 1, none 0), then ``sort_at``
(recency), then id, all descending — so pages fetched one after another with the
previous page's cursor concatenate to exactly the single long page, ties included; rows
added between two page fetches never make a row appear twice or go missing; a cursor
only works with the query and filters it came from.
"""

from __future__ import annotations

import uuid

import pytest
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.errors import InvalidSearchQuery
from legal_data.testing.factories import CaseFactory, CommunicationFactory, DocumentFactory


@pytest.fixture
def many(legal_db, tenant_a) -> dict[str, uuid.UUID]:
    # One transaction: every document gets the same updated_at, so ties are broken by id.
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        case = CaseFactory(title="離婚調停事件")
        for i in range(12):
            DocumentFactory(case_id=case.id, title=f"離婚調停の記録{i}")
        for i in range(12):
            DocumentFactory(case_id=case.id, title=f"期日報告{i}", description="離婚について")
        for i in range(6):
            DocumentFactory(case_id=case.id, title=f"調停{i}", description="離婚の条件")
        for i in range(4):
            DocumentFactory(case_id=case.id, title=f"報告書{i}", description="離婚調停について")
        for i in range(5):
            CommunicationFactory(case_id=case.id, subject=f"離婚の相談{i}")
    # Later rows are more recent: a second batch with its own timestamp.
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        for i in range(7):
            DocumentFactory(case_id=case.id, title=f"新しい離婚関係書類{i}")
    return {"case": case.id}


def _all_pages(session, query: str, size: int, **kw) -> list[search.DocumentHit]:
    hits: list[search.DocumentHit] = []
    after = None
    while True:
        page = search.documents(session, query, limit=size, after=after, **kw)
        hits.extend(page)
        if page.next_cursor is None:
            return hits
        after = page.next_cursor


@pytest.mark.parametrize("size", [1, 5, 10, 41])
def test_pages_concatenate_to_the_full_order(legal_db, tenant_a, many, size) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        full = search.documents(s, "離婚", limit=100)
        assert len(full) == 41 and full.next_cursor is None
        keys = [(h.rank, h.sort_at, h.id) for h in full]
        assert keys == sorted(keys, reverse=True)
        paged = _all_pages(s, "離婚", size)
    assert [h.id for h in paged] == [h.id for h in full]


def test_rank_puts_title_hits_first(legal_db, tenant_a, many) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        both = search.documents(s, "離婚 調停", limit=100)
        one = search.documents(s, "離婚", limit=100)
    # Both terms in the title, then one of them, then neither (both in the description).
    assert [h.rank for h in both] == [2] * 12 + [1] * 6 + [0] * 4
    assert all(h.title.startswith("離婚調停の記録") for h in both.hits[:12])
    assert all(h.title.startswith("報告書") for h in both.hits[18:])
    # Within one rank the newer batch comes first.
    assert [h.rank for h in one] == [2] * 19 + [0] * 22
    assert all(h.title.startswith("新しい") for h in one.hits[:7])
    assert all(h.title.startswith("離婚調停の記録") for h in one.hits[7:19])


def test_rows_added_between_pages_are_neither_repeated_nor_skipped(
    legal_db, tenant_a, many
) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        first = search.documents(s, "離婚", limit=10)
        before = [h.id for h in search.documents(s, "離婚", limit=100)]
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        newest = DocumentFactory(case_id=many["case"], title="最新の離婚関係書類")
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        rest = _all_pages_after(s, "離婚", first.next_cursor)
    assert newest.id not in rest  # it sorts before the cursor: belongs to page one now
    assert [h.id for h in first] + rest == before


def _all_pages_after(session, query: str, cursor: str | None) -> list[uuid.UUID]:
    out: list[uuid.UUID] = []
    while cursor is not None:
        page = search.documents(session, query, limit=10, after=cursor)
        out.extend(h.id for h in page)
        cursor = page.next_cursor
    return out


def test_filters_narrow_and_paginate(legal_db, tenant_a, many) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        elsewhere = DocumentFactory(title="別件の離婚書類")
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        everything = {h.id for h in search.documents(s, "離婚", limit=100)}
        in_case = _all_pages(s, "離婚", 8, case_id=many["case"])
        assert elsewhere.id in everything
        assert {h.id for h in in_case} == everything - {elsewhere.id}
        assert all(h.case_id == many["case"] for h in in_case)
        comms = search.communications(s, "離婚", case_id=many["case"], limit=2)
        assert len(comms) == 2
        more = search.communications(s, "離婚", case_id=many["case"], after=comms.next_cursor)
        assert len(more) == 3 and not {h.id for h in comms} & {h.id for h in more}


def test_a_cursor_belongs_to_its_search(legal_db, tenant_a, many) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        cursor = search.documents(s, "離婚", limit=5).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidSearchQuery):
            search.documents(s, "調停", after=cursor)
        with pytest.raises(InvalidSearchQuery):
            search.documents(s, "離婚", after=cursor, case_id=many["case"])
        with pytest.raises(InvalidSearchQuery):
            search.cases(s, "離婚", after=cursor)
        with pytest.raises(InvalidSearchQuery):
            search.documents(s, "離婚", after=cursor[:-2] + ("A" if cursor[-2] != "A" else "B") * 2)
        # The same query typed differently normalizes alike, so the cursor carries over.
        assert len(search.documents(s, "離婚 ", after=cursor, limit=5)) == 5


def test_the_same_timestamp_orders_by_id(legal_db, tenant_a, many) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        hits = [h for h in search.documents(s, "記録", limit=100)]
        stamps = {h.sort_at for h in hits}
        assert len(hits) == 12 and len(stamps) == 1
        assert [h.id for h in hits] == sorted((h.id for h in hits), reverse=True)
        rows = s.execute(text("SELECT count(*) FROM search_documents")).scalar_one()
        assert rows == 41  # one chunk per document
