"""EXPLAIN as the application role: search reads the GIN index under Row Level Security.

Thousands of documents, cases and communications over two firms are bulk-loaded, indexed
by the library and ANALYZEd. Then, as a ``legal_app`` login:

- the naive query on the index table (``lexemes @@ …`` straight under RLS) cannot use the
  GIN index — ``@@`` is not leakproof, so it may not run before the policies — which is
  why search goes through the SECURITY DEFINER functions;
- ``search.documents`` / ``cases`` / ``communications`` (the public API, through
  ``search_*_find``) read the firm's rows only through indexes, and the right ones for
  the query (revision 0020): a term frequent in titles is served by the newest-first
  walk alone; a rare one goes on to the titles' GIN index and, for hits outside
  titles, the lexemes' GIN index. The index table is never
  scanned (also not for the exact recheck of several terms and exclusions, which must
  stay a per-row probe). The function's inner plans are captured with
  ``auto_explain`` (``log_nested_statements``), sent back as NOTICEs on a session whose
  role is the application login (``SET ROLE``), so privileges and RLS are the app's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.search.indexer import tenant_token
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.session import TenantSession
from legal_data.testing.plugin import make_tenant

PER_FIRM = 2000

LOAD = [
    "SET LOCAL app.current_user_role = 'system'",
    "INSERT INTO parties (tenant_id, id, kind, name)"
    " SELECT t, gen_random_uuid(), 'company', 'EXPLAIN用当事者'"
    " FROM unnest(CAST(:firms AS uuid[])) t",
    "INSERT INTO clients (tenant_id, id, party_id, client_code)"
    " SELECT p.tenant_id, gen_random_uuid(), p.id, 'C-EXPLAIN' FROM parties p"
    " WHERE p.tenant_id = ANY(CAST(:firms AS uuid[]))",
    "INSERT INTO cases (tenant_id, id, title, practice_area, client_id)"
    " SELECT c.tenant_id, gen_random_uuid(),"
    " (ARRAY['損害賠償請求事件', '離婚調停', '建物明渡請求', '遺産分割'])[1 + g % 4] || g,"
    " 'civil', c.id FROM clients c CROSS JOIN generate_series(1, :n / 10) g"
    " WHERE c.tenant_id = ANY(CAST(:firms AS uuid[]))",
    "INSERT INTO documents (tenant_id, id, case_id, title, description)"
    " SELECT k.tenant_id, gen_random_uuid(), k.id,"
    " (ARRAY['準備書面', '答弁書', '証拠説明書', '陳述書', '和解案'])[1 + g % 5] || g,"
    " (ARRAY['損害賠償について', '離婚の条件', '明渡しの時期', '遺産の範囲', '詐欺の被害'])"
    "[1 + (g / 5) % 5]"
    " FROM cases k CROSS JOIN generate_series(1, 10) g"
    " WHERE k.tenant_id = ANY(CAST(:firms AS uuid[]))",
    # Ten documents per firm with rare words: 稀少 in the title, 稀有 in the description.
    "INSERT INTO documents (tenant_id, id, case_id, title, description)"
    " SELECT k.tenant_id, gen_random_uuid(), k.id, '稀少な和解書', '稀有な語句'"
    " FROM (SELECT tenant_id, id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS n"
    "       FROM cases WHERE tenant_id = ANY(CAST(:firms AS uuid[]))) k WHERE k.n <= 10",
    "INSERT INTO communications (tenant_id, id, case_id, channel, direction, occurred_at,"
    " subject)"
    " SELECT k.tenant_id, gen_random_uuid(), k.id, 'phone', 'inbound',"
    " now() - g * interval '1 hour',"
    " (ARRAY['期日の件', '和解案の件', '詐欺被害の相談', '証拠の送付'])[1 + g % 4]"
    " FROM cases k CROSS JOIN generate_series(1, 5) g"
    " WHERE k.tenant_id = ANY(CAST(:firms AS uuid[]))",
]


@pytest.fixture(scope="module")
def loaded(legal_data_harness) -> Iterator[list[uuid.UUID]]:
    harness = legal_data_harness
    firms = [make_tenant(harness, f"fts-explain-{i}", f"全文検索事務所{i}").id for i in range(2)]
    with harness.admin_engine.begin() as conn:
        for statement in LOAD:
            conn.execute(text(statement), {"firms": firms, "n": PER_FIRM})
    for firm in firms:
        while True:
            with tenant_tx(harness.app_sessions, firm, role="system", commit=True) as s:
                if search.drain(s, batch_size=5000) == 0:
                    break
    with harness.admin_engine.begin() as conn:
        conn.execute(
            text("ANALYZE search_documents, search_cases, search_communications, documents")
        )
    yield firms
    harness.truncate_all()


def test_the_naive_query_cannot_use_the_gin_index_under_rls(legal_data_harness, loaded) -> None:
    firm = loaded[0]
    q = f"'{tenant_token(firm)}損害' & '{tenant_token(firm)}賠償'"
    with tenant_tx(legal_data_harness.app_sessions, firm) as s:
        plan = "\n".join(
            s.execute(
                text("EXPLAIN SELECT document_id FROM search_documents WHERE lexemes @@ :q"),
                {"q": q},
            ).scalars()
        )
        found = s.execute(
            text("SELECT count(*) FROM search_documents WHERE lexemes @@ CAST(:q AS tsquery)"),
            {"q": q},
        ).scalar_one()
    assert "ix_search_documents_lexemes" not in plan, plan
    assert found > 0  # the same rows are there; only the index is out of reach


@pytest.fixture
def explained(legal_data_harness) -> Iterator[tuple[TenantSession, list[str]]]:
    """A tenant session whose database role is the app login, with auto_explain on."""
    harness = legal_data_harness
    plans: list[str] = []
    with harness.admin_engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        for setting in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on",
            "SET auto_explain.log_level = 'notice'",
            "SET client_min_messages = 'notice'",
        ):
            conn.exec_driver_sql(setting)
        conn.exec_driver_sql(f'SET ROLE "{harness.app_url.username}"')
        conn.commit()
        assert (
            conn.execute(
                text("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            is False
        )
        session = TenantSession(bind=conn)
        try:
            yield session, plans
        finally:
            session.close()
            conn.rollback()
            conn.exec_driver_sql("RESET ROLE")
            conn.exec_driver_sql("SET auto_explain.log_min_duration = -1")
            conn.commit()


def _function_plans(plans: list[str]) -> str:
    """The plans of the statements inside the search function (they read public.search_*)."""
    inner = [p for p in plans if "FROM public.search_" in p]
    assert inner, plans
    return "\n".join(inner)


TITLES = "Bitmap Index Scan on ix_{t}_title_keys"
LEXEMES = "Bitmap Index Scan on ix_{t}_lexemes"


@pytest.mark.parametrize(
    ("call", "query", "table", "lookups"),
    [
        # Frequent in titles: the walk fills the page, no GIN index is read.
        (search.documents, "準備書面", "search_documents", set()),
        (search.documents, "答弁書", "search_documents", set()),
        # Ten documents with 稀少 in the title, 稀有 in the text: after the walks, the
        # titles' GIN index, then (the page is not full) the lexemes' for rank 0.
        (search.documents, "稀少", "search_documents", {TITLES, LEXEMES}),
        (search.documents, "稀有", "search_documents", {TITLES, LEXEMES}),
        (search.documents, "準備書面 明渡し -離婚", "search_documents", None),
        # Firms of 200 cases: the walk reads them all, no lookup is needed.
        (search.cases, "損害賠償請求事件", "search_cases", set()),
        (search.cases, "建物明渡", "search_cases", set()),
        (search.communications, "詐欺", "search_communications", None),
    ],
)
def test_search_reads_its_indexes_as_the_app_role(
    loaded, explained, call, query, table, lookups
) -> None:
    """The walk's own access path is the planner's choice by firm size: on these firms of
    a few thousand rows it reads the range through the primary key's firm prefix; at
    10,000 rows and more it scans ``ix_*_tenant_id_sort_at`` backward (``perf/README.md``).
    The lookups can only use their GIN index: every other condition is wrapped in IS TRUE.
    """
    session, plans = explained
    firm = loaded[0]
    with tenant_scope(firm, role="system"), session.begin():
        page = call(session, query)
    assert len(page) > 0
    plan = _function_plans(plans)
    assert "DISTINCT ON (s.sort_at" in plan  # the walk ran
    assert "Seq Scan on search_" not in plan, plan
    assert f"Seq Scan on {table}" not in plan, plan
    # Every candidate's exact recheck and snippet probe the entity's own chunks.
    assert f"Index Scan using uq_{table}_tenant_id_" in plan, plan
    if lookups is not None:
        for path in (TITLES, LEXEMES):
            assert (path.format(t=table) in plan) == (path in lookups), (path, plan)
    if LEXEMES in (lookups or ()):
        assert "Index Cond: (lexemes @@" in plan, plan


def test_explained_session_is_subject_to_rls(loaded, explained) -> None:
    session, _plans = explained
    with tenant_scope(loaded[0], role="system"), session.begin():
        firms = session.execute(text("SELECT count(DISTINCT tenant_id) FROM documents")).scalar()
    assert firms == 1
    assert isinstance(_plans, list) and Any is not None
