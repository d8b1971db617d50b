"""Tiered search (revision 0020) returns exactly what the ranking defines, on every path.

``search_*_find`` fills a page rank tier by rank tier; each tier is walked newest first
for ``WALK_ROWS`` index rows and the rest is looked up in a GIN index. Here each firm has
several times ``WALK_ROWS`` rows, and the queries are chosen so that every path runs:
terms dense in titles (the walk fills the page), sparse in titles (the title-keys
lookup), dense and sparse only in bodies (walk, lexeme lookup), several terms (rank 1),
exclusions, a one-character term, terms only in entities split into chunks, no hit at
all. Many rows share a timestamp, so walk edges fall inside ties.

The oracle is the definition, evaluated in Python without any of that machinery: every
entity of the firm that is not deleted or walled, whose chunks hold every term and no
excluded one, ranked by its title, ordered by rank, time, id — all pages of the API
(odd page sizes, so pages straddle tier and walk edges) must concatenate to exactly it,
for a screened user and an unscreened one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.rbac import walls
from legal_data.search.query import parse_query
from legal_data.search.sql_tiered import WALK_ROWS, WALK_ROWS_TEXT
from legal_data.testing.factories import UserFactory
from legal_data.testing.plugin import make_tenant

DOCS = 3 * WALK_ROWS
CASES = 2 * WALK_ROWS
LONG = 12  # documents longer than one chunk (65,536 characters)

LOAD = [
    "SET LOCAL app.current_user_role = 'system'",
    "INSERT INTO parties (tenant_id, id, kind, name)"
    " VALUES (:f, gen_random_uuid(), 'company', '段階検索用依頼者')",
    "INSERT INTO clients (tenant_id, id, party_id, client_code)"
    " SELECT tenant_id, gen_random_uuid(), id, 'C-TIER' FROM parties WHERE tenant_id = :f",
    # Cases: 請求 in half the titles, 調停 in a third, 稀少 in 1 %; bodies alike.
    "INSERT INTO cases (tenant_id, id, title, description, practice_area, client_id,"
    " updated_at, deleted_at)"
    " SELECT c.tenant_id, gen_random_uuid(),"
    " CASE WHEN g % 100 = 3 THEN '稀少な事件' || g"
    "      WHEN g % 2 = 0 THEN '損害賠償請求事件' || g"
    "      WHEN g % 3 = 0 THEN '離婚調停' || g ELSE '顧問相談' || g END,"
    " CASE WHEN g % 5 = 0 THEN '請求と調停について協議' WHEN g % 89 = 4 THEN '稀有な経緯'"
    "      ELSE '打合せ' END,"
    " 'civil', c.id, timestamptz '2026-01-01' + (g % 40) * interval '1 minute',"
    " CASE WHEN g % 37 = 0 THEN now() END"
    " FROM clients c CROSS JOIN generate_series(1, :cases) g WHERE c.tenant_id = :f",
    # Documents over the first 8 cases (the first of them walled for one user below).
    "INSERT INTO documents (tenant_id, id, case_id, title, description, updated_at,"
    " deleted_at)"
    " SELECT k.tenant_id, gen_random_uuid(), k.id,"
    " CASE WHEN g % 50 = 1 THEN '和解稀少' || g"
    "      WHEN g % 2 = 0 THEN '請求書' || g ELSE '報告' || g END,"
    " CASE WHEN g % 80 = 7 THEN repeat('期日の調整。', 15000) || '末尾の請求と協議'"
    "      WHEN g % 3 = 0 THEN '請求について調停で協議した'"
    "      WHEN g % 97 = 5 THEN '稀有な語句を含む' ELSE '期日の調整' END,"
    " timestamptz '2026-01-01' + (g % 40) * interval '1 minute',"
    " CASE WHEN g % 31 = 0 THEN now() END"
    " FROM generate_series(1, :docs) g"
    " JOIN LATERAL (SELECT id, tenant_id FROM cases WHERE tenant_id = :f"
    "               ORDER BY title OFFSET g % 8 LIMIT 1) k ON true",
    "INSERT INTO communications (tenant_id, id, case_id, channel, direction, occurred_at,"
    " subject)"
    " SELECT k.tenant_id, gen_random_uuid(), CASE WHEN g % 4 = 0 THEN NULL ELSE k.id END,"
    " 'phone', 'inbound', timestamptz '2026-01-01' + (g % 40) * interval '1 minute',"
    " CASE WHEN g % 60 = 2 THEN '稀少な連絡' WHEN g % 10 = 6 THEN '請求と調停を協議' || g"
    "      WHEN g % 2 = 0 THEN '請求の件' || g"
    "      WHEN g % 3 = 0 THEN '調停と協議の件' || g WHEN g % 89 = 4 THEN '稀有な連絡'"
    "      ELSE '期日の件' || g END"
    " FROM generate_series(1, :docs) g"
    " JOIN LATERAL (SELECT id, tenant_id FROM cases WHERE tenant_id = :f"
    "               ORDER BY title OFFSET g % 8 LIMIT 1) k ON true",
]

QUERIES = [
    "請求",  # dense in titles: the walk fills pages
    "稀少",  # sparse in titles: the title-keys lookup
    "協議",  # never in a title, dense in bodies
    "稀有",  # sparse in bodies: the lexeme lookup
    "請求 協議",  # ranks 2, 1 and 0
    "調停 請求",
    "請求 -協議",
    "請",  # one character
    "末尾",  # only in documents split into chunks
    "見つからない語",
]
#: The only (kind, query) pairs without hits: only documents are split into chunks.
NOTHING = {(kind, "見つからない語") for kind in ("documents", "cases", "communications")} | {
    ("cases", "末尾"),
    ("communications", "末尾"),
}


@pytest.fixture(scope="module")
def firms(legal_data_harness) -> Iterator[dict[str, Any]]:
    h = legal_data_harness
    ids: dict[str, Any] = {}
    ids["firm"], ids["other"] = (
        make_tenant(h, f"tier-{i}", f"段階検索事務所{i}").id for i in range(2)
    )
    for firm, n in ((ids["firm"], 1), (ids["other"], 3)):
        with h.admin_engine.begin() as conn:
            for statement in LOAD:
                conn.execute(text(statement), {"f": firm, "docs": DOCS // n, "cases": CASES // n})
        while True:
            with tenant_tx(h.app_sessions, firm, role="system", commit=True) as s:
                if search.drain(s, batch_size=2000) == 0:
                    break
    with tenant_tx(h.app_sessions, ids["firm"], role="system", commit=True) as s:
        ids["screened"] = UserFactory().id
        ids["walled_case"] = s.execute(
            text("SELECT id FROM cases ORDER BY title LIMIT 1")
        ).scalar_one()
        walls.add_wall(s, None, ids["walled_case"], user_id=ids["screened"], reason="段階検索")
    with h.admin_engine.begin() as conn:
        conn.execute(text("ANALYZE search_documents, search_cases, search_communications"))
    yield ids
    h.truncate_all()


# index table, its entity column, and the ids of the entities the source shows a user
# screened from the cases ``w`` (not soft-deleted, not walled)
KINDS = {
    "documents": (
        "search_documents",
        "document_id",
        "SELECT id FROM documents WHERE tenant_id = :f AND deleted_at IS NULL"
        " AND case_id <> ALL (CAST(:w AS uuid[]))",
    ),
    "cases": (
        "search_cases",
        "case_id",
        "SELECT id FROM cases WHERE tenant_id = :f AND deleted_at IS NULL"
        " AND id <> ALL (CAST(:w AS uuid[]))",
    ),
    "communications": (
        "search_communications",
        "communication_id",
        "SELECT id FROM communications WHERE tenant_id = :f"
        " AND (case_id IS NULL OR case_id <> ALL (CAST(:w AS uuid[])))",
    ),
}


def _oracle(conn: Any, kind: str, firm: uuid.UUID, q: str, walled: list[uuid.UUID]) -> list:
    """The ranked definition, in Python over the firm's plain rows (no index, no plan: an
    SQL version of it was at the planner's mercy and once hit the statement timeout)."""
    table, e, visible = KINDS[kind]
    parsed = parse_query(q)
    shown = set(conn.execute(text(visible), {"f": firm, "w": walled}).scalars())
    entities: dict[uuid.UUID, tuple[str, Any, list[str]]] = {}
    for entity, title_norm, sort_at, text_norm in conn.execute(
        text(f"SELECT {e}, title_norm, sort_at, search_norm FROM {table} WHERE tenant_id = :f"),
        {"f": firm},
    ):
        entities.setdefault(entity, (title_norm, sort_at, []))[2].append(text_norm)

    def has(texts: list[str], term: str) -> bool:
        return any(term in chunk for chunk in texts)

    found = []
    for entity, (title_norm, sort_at, texts) in entities.items():
        if (
            entity in shown
            and all(has(texts, term) for term in parsed.terms)
            and not any(has(texts, term) for term in parsed.excluded_terms)
        ):
            in_title = [term in title_norm for term in parsed.terms]
            rank = 2 if all(in_title) else 1 if any(in_title) else 0
            found.append((rank, sort_at, entity))
    return sorted(found, reverse=True)


def _all_pages(session: Any, kind: str, q: str, size: int) -> list:
    call = getattr(search, kind)
    out: list = []
    after = None
    while True:
        page = call(session, q, limit=size, after=after)
        out.extend((h.rank, h.sort_at, h.id) for h in page)
        if page.next_cursor is None:
            return out
        after = page.next_cursor


def test_each_firm_is_larger_than_the_walk(legal_data_harness, firms) -> None:
    """The premise of the tests below: walks end at an edge, lookups run below it."""
    with legal_data_harness.admin_engine.connect() as conn:
        for table, _e, _v in KINDS.values():
            n = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id = :f"), {"f": firms["firm"]}
            ).scalar_one()
            assert n >= 2 * WALK_ROWS, table
        long_docs = conn.execute(
            text("SELECT count(DISTINCT document_id) FROM search_documents WHERE n_chunks > 1")
        ).scalar_one()
    assert long_docs >= LONG


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("who", ["screened", "colleague"])
def test_pages_are_exactly_the_ranked_definition(legal_data_harness, firms, kind, q, who) -> None:
    h = legal_data_harness
    user = firms["screened"] if who == "screened" else uuid.uuid4()
    walled = [firms["walled_case"]] if who == "screened" else []
    with h.admin_engine.connect() as conn:
        expected = _oracle(conn, kind, firms["firm"], q, walled)
    with tenant_tx(h.app_sessions, firms["firm"], user_id=user) as s:
        first = getattr(search, kind)(s, q, limit=20)
        paged = _all_pages(s, kind, q, 37)
    assert [(x.rank, x.sort_at, x.id) for x in first] == expected[:20]
    assert paged == expected
    assert bool(expected) == ((kind, q) not in NOTHING), "the query should find something"


def test_ranks_one_and_zero_come_from_lookups_too(legal_data_harness, firms) -> None:
    """A query whose rank-2 tier is small: the page runs on into ranks 1 and 0."""
    h = legal_data_harness
    with h.admin_engine.connect() as conn:
        expected = _oracle(conn, "documents", firms["firm"], "稀少 請求", [])
    with tenant_tx(h.app_sessions, firms["firm"]) as s:
        got = _all_pages(s, "documents", "稀少 請求", 5)
    assert got == expected
    assert {r for r, _at, _id in expected} == {1}


def test_the_walk_edge_row_is_returned_once(legal_data_harness) -> None:
    """Hits exactly at the edge (the WALK_ROWS-th newest row; WALK_ROWS_TEXT-th for rank
    0) and just below it: the walk takes the edge row, the lookup starts after it."""
    h = legal_data_harness
    firm = make_tenant(h, "tier-edge", "境界検索事務所").id
    n = WALK_ROWS + 50
    with h.admin_engine.begin() as conn:
        for statement in LOAD[:4]:
            conn.execute(text(statement), {"f": firm, "cases": 1})
        conn.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title, description, updated_at)"
                " SELECT k.tenant_id, gen_random_uuid(), k.id,"
                " CASE WHEN g IN (5, :edge, :edge + 1) THEN '境界の書面' ELSE '報告' END || g,"
                " CASE WHEN g IN (3, :text_edge, :text_edge + 1) THEN '端点' END,"
                " timestamptz '2026-01-01' + (:n - g) * interval '1 minute'"
                " FROM cases k CROSS JOIN generate_series(1, :n) g WHERE k.tenant_id = :f"
            ),
            {"f": firm, "n": n, "edge": WALK_ROWS, "text_edge": WALK_ROWS_TEXT},
        )
    with tenant_tx(h.app_sessions, firm, role="system", commit=True) as s:
        search.drain(s, batch_size=2000)
    with tenant_tx(h.app_sessions, firm) as s:
        titles = search.documents(s, "境界", limit=20)
        texts = search.documents(s, "端点", limit=20)
    assert [hit.title for hit in titles] == [
        "境界の書面5",
        f"境界の書面{WALK_ROWS}",
        f"境界の書面{WALK_ROWS + 1}",
    ]
    assert [hit.title for hit in texts] == [
        "報告3",
        f"報告{WALK_ROWS_TEXT}",
        f"報告{WALK_ROWS_TEXT + 1}",
    ]
