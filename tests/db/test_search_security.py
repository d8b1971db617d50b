"""Search cannot show what Row Level Security and the ethical walls would hide.

The search functions run as ``legal_search`` (BYPASSRLS), so they must apply the firm,
the walls and soft deletion themselves. Checked here through the public API as the
application role: another firm finds nothing; no tenant context finds nothing (also when
calling the functions directly with the setting unset or empty); a screened user finds
nothing of a walled case (documents, its case, its communications), directly or by role,
until the wall is lifted; a stale or forged index row cannot widen what the source row
allows; hostile input gives a clean typed error or an ordinary result, never SQL errors.
"""

from __future__ import annotations

import datetime as dt
import string
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.errors import InvalidSearchQuery, LegalDataError, PermissionDenied
from legal_data.models import Document
from legal_data.rbac import admin, walls
from legal_data.search.indexer import tenant_token
from legal_data.tenancy import system_scope
from legal_data.testing.factories import (
    CaseFactory,
    CommunicationFactory,
    DocumentFactory,
    UserFactory,
)

SECRET = "極秘の合併交渉"


def _seed(sessions: Any, firm: uuid.UUID) -> dict[str, uuid.UUID]:
    with tenant_tx(sessions, firm, commit=True):
        case = CaseFactory(title=f"{SECRET}の案件", description="合併比率の検討")
        doc = DocumentFactory(case_id=case.id, title=f"{SECRET}メモ", description="合併契約書案")
        comm = CommunicationFactory(case_id=case.id, subject=f"{SECRET}の件で電話")
        other = CaseFactory(title="通常の合併相談")
        other_doc = DocumentFactory(case_id=other.id, title="合併スケジュール")
        CommunicationFactory(case_id=other.id, subject="合併の打合せ")
        return {
            "case": case.id,
            "doc": doc.id,
            "comm": comm.id,
            "other": other.id,
            "other_doc": other_doc.id,
        }


def _outside(legal_db: Any, sql: str, **params: Any) -> None:
    """SQL outside the library: the admin (superuser) with a psql-like connection."""
    with legal_db.admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(text(sql), params)


def _ids(page: Any) -> set[uuid.UUID]:
    return {h.id for h in page}


def test_another_firm_finds_nothing(legal_db, tenant_a, tenant_b) -> None:
    a = _seed(legal_db.app_sessions, tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_b.id, commit=True) as s:
        own = DocumentFactory(title="合併のお知らせ")
    with tenant_tx(legal_db.app_sessions, tenant_b.id) as s:
        assert _ids(search.documents(s, "合併")) == {own.id}
        assert search.documents(s, SECRET).hits == []
        assert not _ids(search.cases(s, "合併")) & {a["case"], a["other"]}
        assert search.communications(s, SECRET).hits == []
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert _ids(search.documents(s, "合併")) == {a["doc"], a["other_doc"]}
        assert _ids(search.cases(s, SECRET)) == {a["case"]}
        assert _ids(search.communications(s, SECRET)) == {a["comm"]}


def test_no_tenant_context_finds_nothing(legal_db, tenant_a) -> None:
    _seed(legal_db.app_sessions, tenant_a.id)
    with system_scope(reason="test: no firm"), legal_db.app_sessions() as s, s.begin():
        assert search.documents(s, "合併").hits == []
        assert search.cases(s, "合併").hits == []
        assert search.communications(s, SECRET).hits == []
    # Straight to the function, with the firm's own token: unset, then empty setting.
    token = tenant_token(tenant_a.id)
    call = text(
        "SELECT count(*) FROM search_documents_find(:q, :q, ARRAY['合併'], ARRAY['%合併%'],"
        " '{}', NULL, NULL, NULL, NULL, NULL, 100)"
    )
    q = f"'{token}合併'"  # also as p_split: that branch reads only rows of split documents
    with legal_db.app_engine.connect() as conn:
        assert conn.execute(call, {"q": q}).scalar_one() == 0
        conn.execute(text("SELECT set_config('app.current_tenant_id', '', true)"))
        assert conn.execute(call, {"q": q}).scalar_one() == 0
        conn.execute(
            text("SELECT set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant_a.id)}
        )
        assert conn.execute(call, {"q": q}).scalar_one() == 2
        conn.rollback()


def test_a_forged_token_in_another_firm_is_not_found(legal_db, tenant_a, tenant_b) -> None:
    """The lexeme token speeds up the index; it is not what keeps firms apart."""
    _seed(legal_db.app_sessions, tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_b.id, commit=True) as s:
        foreign = DocumentFactory(title="合併の別件")
    # Firm B's index row rewritten with firm A's token (a hash collision, or tampering).
    _outside(
        legal_db,
        "UPDATE search_documents SET lexemes = array_to_tsvector(ARRAY["
        ":a || '合併', :a || '併の', :a || '合']) WHERE document_id = :d",
        a=tenant_token(tenant_a.id),
        d=foreign.id,
    )
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert foreign.id not in _ids(search.documents(s, "合併"))


@pytest.fixture
def screened(legal_db, tenant_a) -> dict[str, Any]:
    ids = _seed(legal_db.app_sessions, tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        ids["walled_user"] = UserFactory().id
        ids["colleague"] = UserFactory().id
        ids["role_member"] = UserFactory().id
        role = admin.create_role(s, None, "遮断テスト")
        admin.assign(s, None, ids["role_member"], role.id)
        ids["wall"] = walls.add_wall(
            s, None, ids["case"], user_id=ids["walled_user"], reason="相手方代理人と利害関係"
        ).id
        walls.add_wall(s, None, ids["case"], role_id=role.id, reason="チームごと遮断")
    return ids


def _finds(sessions: Any, firm: uuid.UUID, user: uuid.UUID) -> dict[str, set[uuid.UUID]]:
    with tenant_tx(sessions, firm, user_id=user) as s:
        return {
            "documents": _ids(search.documents(s, "合併")),
            "cases": _ids(search.cases(s, "合併")),
            "communications": _ids(search.communications(s, SECRET)),
        }


def test_a_screened_user_finds_nothing_of_the_walled_case(legal_db, tenant_a, screened) -> None:
    walled = {
        "documents": {screened["doc"]},
        "cases": {screened["case"]},
        "communications": {screened["comm"]},
    }
    for user in (screened["walled_user"], screened["role_member"]):
        found = _finds(legal_db.app_sessions, tenant_a.id, user)
        for kind, hidden in walled.items():
            assert not found[kind] & hidden, kind
        assert screened["other_doc"] in found["documents"]
        assert screened["other"] in found["cases"]
    colleague = _finds(legal_db.app_sessions, tenant_a.id, screened["colleague"])
    for kind, hidden in walled.items():
        assert hidden <= colleague[kind], kind


def test_lifting_the_wall_restores_search(legal_db, tenant_a, screened) -> None:
    user = screened["walled_user"]
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        walls.end_wall(s, None, screened["wall"])
    found = _finds(legal_db.app_sessions, tenant_a.id, user)
    assert screened["doc"] in found["documents"]
    assert screened["comm"] in found["communications"]


def test_a_screened_user_cannot_read_the_index_tables_either(legal_db, tenant_a, screened) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=screened["walled_user"]) as s:
        for table, column, hidden in (
            ("search_documents", "document_id", screened["doc"]),
            ("search_cases", "case_id", screened["case"]),
            ("search_communications", "communication_id", screened["comm"]),
        ):
            rows = s.execute(text(f"SELECT {column} FROM {table}")).scalars().all()
            assert rows and hidden not in rows, table


def test_stale_index_rows_cannot_widen_access(legal_db, tenant_a, screened) -> None:
    """The source row decides: an index row claiming another case or no deletion is
    overruled by the documents row itself."""
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        s.execute(
            text("UPDATE documents SET deleted_at = now() WHERE id = :d"),
            {"d": screened["other_doc"]},
        )
    _outside(
        legal_db,
        "UPDATE search_documents SET deleted = false, case_id = :other"
        " WHERE document_id IN (:gone, :walled)",
        other=screened["other"],
        gone=screened["other_doc"],
        walled=screened["doc"],
    )
    found = _finds(legal_db.app_sessions, tenant_a.id, screened["walled_user"])
    assert not found["documents"] & {screened["doc"], screened["other_doc"]}
    with tenant_tx(legal_db.app_sessions, tenant_a.id, user_id=screened["colleague"]) as s:
        assert screened["other_doc"] not in _ids(search.documents(s, "合併"))
        assert _ids(search.documents(s, "合併", case_id=screened["other"])) == set()


def test_soft_deleted_rows_are_not_found(legal_db, tenant_a) -> None:
    ids = _seed(legal_db.app_sessions, tenant_a.id)
    # Through plain SQL outside the library: the trigger hides them at once, no drain.
    _outside(legal_db, "UPDATE documents SET deleted_at = now() WHERE id = :d", d=ids["doc"])
    _outside(legal_db, "UPDATE cases SET deleted_at = now() WHERE id = :c", c=ids["other"])
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert _ids(search.documents(s, "合併")) == {ids["other_doc"]}
        assert _ids(search.cases(s, "合併")) == {ids["case"]}
    _outside(legal_db, "UPDATE documents SET deleted_at = NULL WHERE id = :d", d=ids["doc"])
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert ids["doc"] in _ids(search.documents(s, "合併"))


def test_reading_a_privileged_document_through_search_is_audited(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        doc = DocumentFactory(title="秘匿特権の意見書", is_privileged=True)
        DocumentFactory(title="通常の意見書")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        page = search.documents(s, "意見書")
        assert {h.id for h in page if h.is_privileged} == {doc.id}
    with legal_db.admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT row_id, changed_values FROM audit_logs WHERE tenant_id = :t"
                " AND action = 'READ' AND table_name = 'documents'"
            ),
            {"t": tenant_a.id},
        ).all()
    assert [(r.row_id, r.changed_values.get("via")) for r in rows] == [(doc.id, "search")]


def test_only_the_app_role_may_call_the_search_functions(legal_db) -> None:
    with legal_db.admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT p.proname, pg_get_userbyid(p.proowner),
                       has_function_privilege('public', p.oid, 'EXECUTE'),
                       has_function_privilege('legal_app', p.oid, 'EXECUTE'),
                       has_function_privilege('legal_readonly', p.oid, 'EXECUTE'),
                       p.proconfig
                FROM pg_proc p WHERE p.proname LIKE 'search\\_%\\_find'
                """
            )
        ).all()
        role = conn.execute(
            text(
                "SELECT rolcanlogin, rolsuper, rolbypassrls,"
                " (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid)"
                " FROM pg_roles r WHERE rolname = 'legal_search'"
            )
        ).one()
    assert {r[0] for r in rows} == {
        "search_documents_find",
        "search_cases_find",
        "search_communications_find",
    }
    for name, owner, public, app, readonly, config in rows:
        assert (owner, public, app, readonly) == ("legal_search", False, True, False), name
        assert config == [
            "search_path=pg_catalog, pg_temp",
            "enable_seqscan=off",
            "jit=off",
            "max_parallel_workers_per_gather=0",
        ], name
    assert tuple(role) == (False, False, True, 0)


def test_only_legal_search_may_call_the_candidate_helpers(legal_db) -> None:
    """``search_*_hit`` take the firm and the walls as arguments: they must be reachable
    only from inside the search functions, never by the application."""
    with legal_db.admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef,
                       has_function_privilege('public', p.oid, 'EXECUTE'),
                       has_function_privilege('legal_app', p.oid, 'EXECUTE'),
                       has_function_privilege('legal_readonly', p.oid, 'EXECUTE'),
                       has_function_privilege('legal_search', p.oid, 'EXECUTE')
                FROM pg_proc p WHERE p.proname LIKE 'search\\_%\\_hit'
                """
            )
        ).all()
    with (
        pytest.raises(PermissionDenied, match="search_documents_hit"),
        legal_db.app_engine.connect() as app,
    ):
        app.execute(
            text(
                "SELECT * FROM search_documents_hit(gen_random_uuid(), '{}',"
                " gen_random_uuid(), 2, now(), '{x}', '{%x%}', '{}', NULL, NULL)"
            )
        )
    assert {r[0] for r in rows} == {
        "search_documents_hit",
        "search_cases_hit",
        "search_communications_hit",
    }
    for name, *rights in rows:
        assert rights == ["legal_owner", False, False, False, False, True], name


def test_the_functions_reapply_every_policy_of_the_searched_tables(legal_db) -> None:
    """A new policy on a searched table must be applied by the search functions too
    (they bypass RLS): this test names the policies they re-apply, and fails on others."""
    with legal_db.admin_engine.connect() as conn:
        found = {
            (r.tablename, r.policyname)
            for r in conn.execute(
                text("SELECT tablename, policyname FROM pg_policies WHERE tablename = ANY(:t)"),
                {"t": ["documents", "document_versions", "cases", "communications"]},
            )
        }
    expected = {
        (t, p)
        for t in ("documents", "document_versions", "cases", "communications")
        for p in ("tenant_isolation", "tenant_access", "ethical_wall")
    }
    assert found == expected


# -- hostile input ------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE documents; --",
    "合併' OR '1'='1",
    "合併\x00調停",
    "\x00",
    "合併 & ! | ( ) : * < > \\",
    "'合併':*",
    "%",
    "_",
    "\\",
    "%合併%",
    "合併_",
    "\u202e併合\u202c",
    "合\u200b併",
    "\ud800合併",
    "合併" * 200,
    "$$; SELECT pg_sleep(10); $$",
    "E'\\x41'",
    '"unbalanced',
    "-合併",
    "合" + "\u0301" * 500,
]


def test_hostile_queries_give_a_typed_error_or_a_plain_result(legal_db, tenant_a) -> None:
    ids = _seed(legal_db.app_sessions, tenant_a.id)
    outcomes: dict[str, str] = {}
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        for query in HOSTILE:
            for call in (search.documents, search.cases, search.communications):
                try:
                    page = call(s, query)
                except InvalidSearchQuery:
                    outcomes[query] = "refused"
                    continue
                assert all(isinstance(h.id, uuid.UUID) for h in page)
                outcomes.setdefault(query, "searched")
        # The transaction is still usable: nothing reached PostgreSQL as SQL.
        assert s.get(Document, (tenant_a.id, ids["doc"])) is not None
    assert outcomes["合併' OR '1'='1"] == "searched"  # the terms 合併, or, 1, 1
    assert outcomes["%"] == outcomes["\\"] == outcomes["\x00"] == "refused"
    with legal_db.admin_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 2


def test_bad_parameters_are_typed_errors(legal_db, tenant_a) -> None:
    ids = _seed(legal_db.app_sessions, tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        bad: list[dict[str, Any]] = [
            {"case_id": "'; DROP TABLE cases; --"},
            {"case_id": 42},
            {"category_id": "not-a-uuid"},
            {"limit": 0},
            {"limit": 101},
            {"limit": "20"},
            {"limit": True},
            {"after": "not a cursor"},
            {"after": "W10"},
            {"after": "x" * 500},
        ]
        for kwargs in bad:
            with pytest.raises(InvalidSearchQuery):
                search.documents(s, "合併", **kwargs)
        with pytest.raises(InvalidSearchQuery):
            search.communications(s, "合併", channel="smoke signal")
        with pytest.raises(InvalidSearchQuery):
            search.cases(s, "合併", status="'; --")
        with pytest.raises(InvalidSearchQuery):
            search.documents(s, "")
        with pytest.raises(InvalidSearchQuery):
            search.documents(s, "-合併")  # exclusions alone
        assert _ids(search.documents(s, "合併", case_id=str(ids["case"]))) == {ids["doc"]}


_QUERY_CHARS = st.characters(codec="utf-8") | st.sampled_from(
    list("合併契約離婚調停'\"%_\\&|!():*<>-－ 　\x00\n\t") + list(string.punctuation)
)


_SEEDED: set[uuid.UUID] = set()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=st.text(_QUERY_CHARS, max_size=40))
def test_any_text_is_a_result_or_a_typed_error(legal_db, tenant_a, query: str) -> None:
    """Property: whatever the text, PostgreSQL never sees a malformed statement."""
    if tenant_a.id not in _SEEDED:  # fixtures are shared by the examples of one run
        _seed(legal_db.app_sessions, tenant_a.id)
        _SEEDED.add(tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        try:
            page = search.documents(s, query)
        except InvalidSearchQuery:
            return
        except LegalDataError as exc:  # pragma: no cover - a failure message
            pytest.fail(f"untyped failure for {query!r}: {exc!r}")
        assert len(page) <= 20


def test_timestamps_in_cursors_round_trip(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        for i in range(3):
            DocumentFactory(title=f"合併{i}")
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        first = search.documents(s, "合併", limit=1)
        assert first.hits[0].sort_at.tzinfo is not None
        assert isinstance(first.hits[0].sort_at, dt.datetime)
        second = search.documents(s, "合併", limit=1, after=first.next_cursor)
        assert second.hits[0].id != first.hits[0].id
