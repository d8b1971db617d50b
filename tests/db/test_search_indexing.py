"""The index follows the data, whatever wrote it.

- ORM, Core and ``text()`` writes through a tenant session are searchable right after
  COMMIT (indexed in the same transaction by the commit hook);
- writes outside the library (psql, another service) are queued by the triggers and
  indexed by ``search.drain``; nothing is silently left out (``search.pending``);
- updates replace the old terms, soft deletion and case moves take effect at once (the
  triggers copy filter columns), hard deletion removes the rows (cascade);
- a text longer than 1 MB (far over tsvector's 16,383 positions) is chunked and every
  term is found wherever it is, across chunk boundaries too;
- rows that exist before revision 0017 are queued by the migration.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import func, select, text, update

from legal_data import search
from legal_data.db import migrate
from legal_data.models import Document, DocumentVersion, SearchDocument, add_document_version
from legal_data.search import indexer
from legal_data.search.normalize import CHUNK_CHARS, CHUNK_OVERLAP, NORMALIZER_VERSION
from legal_data.testing.factories import (
    CaseFactory,
    CommunicationFactory,
    DocumentFactory,
    UserFactory,
)
from legal_data.testing.harness import empty_database


def _outside(legal_db: Any, sql: str, **params: Any) -> None:
    """SQL outside the library: the admin's own connection, as the system actor."""
    with legal_db.admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(text(sql), params)


def _found(legal_db: Any, firm: uuid.UUID, query: str, **kw: Any) -> set[uuid.UUID]:
    with tenant_tx(legal_db.app_sessions, firm) as s:
        return {h.id for h in search.documents(s, query, limit=100, **kw)}


def _drain(legal_db: Any, firm: uuid.UUID) -> int:
    total = 0
    while True:
        with tenant_tx(legal_db.app_sessions, firm, role="system", commit=True) as s:
            n = search.drain(s, batch_size=2)
        total += n
        if n == 0:
            return total


def _pending(legal_db: Any, firm: uuid.UUID) -> int:
    with tenant_tx(legal_db.app_sessions, firm) as s:
        return search.pending(s)


def test_orm_core_and_text_writes_are_searchable_after_commit(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        case = CaseFactory()
        orm = DocumentFactory(case_id=case.id, title="ORMで登録した訴状")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        raw_id = uuid.uuid4()
        s.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title)"
                " VALUES (:t, :i, :c, 'SQLで登録した訴状')"
            ),
            {"t": tenant_a.id, "i": raw_id, "c": case.id},
        )
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        s.execute(
            update(Document)
            .where(Document.id == orm.id)
            .values(description="Coreで追記した答弁書")
            .execution_options(synchronize_session=False)
        )
    assert _found(legal_db, tenant_a.id, "訴状") == {orm.id, raw_id}
    assert _found(legal_db, tenant_a.id, "答弁書") == {orm.id}
    assert _pending(legal_db, tenant_a.id) == 0


def test_writes_outside_the_library_wait_for_the_drain(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        case = CaseFactory()
    doc_id = uuid.uuid4()
    _outside(
        legal_db,
        "INSERT INTO documents (tenant_id, id, case_id, title)"
        " VALUES (:t, :i, :c, '外部システムから取り込んだ準備書面')",
        t=tenant_a.id,
        i=doc_id,
        c=case.id,
    )
    _outside(
        legal_db,
        "UPDATE cases SET title = '外部で改題した事件' WHERE id = :c",
        c=case.id,
    )
    assert _pending(legal_db, tenant_a.id) == 2
    assert _found(legal_db, tenant_a.id, "準備書面") == set()  # not yet: queued
    assert _drain(legal_db, tenant_a.id) == 2
    assert _pending(legal_db, tenant_a.id) == 0
    assert _found(legal_db, tenant_a.id, "準備書面") == {doc_id}
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert [h.id for h in search.cases(s, "改題")] == [case.id]


def test_updates_replace_the_old_terms(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        doc = DocumentFactory(title="交通事故の示談書")
        comm = CommunicationFactory(subject="示談の電話")
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        s.get(Document, (tenant_a.id, doc.id)).title = "労働審判の申立書"
        s.execute(
            text("UPDATE communications SET subject = '審判期日の連絡' WHERE id = :i"),
            {"i": comm.id},
        )
    assert _found(legal_db, tenant_a.id, "示談") == set()
    assert _found(legal_db, tenant_a.id, "労働審判") == {doc.id}
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert search.communications(s, "示談").hits == []
        assert [h.id for h in search.communications(s, "期日")] == [comm.id]


def test_versions_and_extracted_text_are_indexed(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        owner = UserFactory()
        doc = DocumentFactory(title="証拠書類")
        add_document_version(
            s,
            doc,
            storage_key="v1.pdf",
            sha256="a" * 64,
            size_bytes=1,
            mime_type="application/pdf",
            uploaded_by=owner.id,
            extracted_text="第一版では賃貸借契約について述べる。",
        )
    assert _found(legal_db, tenant_a.id, "賃貸借") == {doc.id}
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        v2 = add_document_version(
            s,
            s.get(Document, (tenant_a.id, doc.id)),
            storage_key="v2.pdf",
            sha256="b" * 64,
            size_bytes=1,
            mime_type="application/pdf",
            uploaded_by=owner.id,
        )
    # The current version has no text yet: the first version's text is no longer indexed.
    assert _found(legal_db, tenant_a.id, "賃貸借") == set()
    # The OCR job fills it in later, with plain SQL in its own tenant session.
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        s.execute(
            text("UPDATE document_versions SET extracted_text = :t WHERE id = :v"),
            {"t": "第二版では使用貸借と明渡しを論じる。", "v": v2.id},
        )
    assert _found(legal_db, tenant_a.id, "使用貸借") == {doc.id}
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 2


def test_moves_and_deletions_apply_at_once(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        first, second = CaseFactory(), CaseFactory()
        doc = DocumentFactory(case_id=first.id, title="移送される上申書")
        gone = DocumentFactory(case_id=first.id, title="削除される上申書")
    # Outside the library and without any drain: filters follow the source rows.
    _outside(legal_db, "UPDATE documents SET case_id = :c WHERE id = :d", c=second.id, d=doc.id)
    assert _found(legal_db, tenant_a.id, "上申書", case_id=second.id) == {doc.id}
    assert _found(legal_db, tenant_a.id, "上申書", case_id=first.id) == {gone.id}
    _outside(legal_db, "DELETE FROM documents WHERE id = :d", d=gone.id)
    assert _found(legal_db, tenant_a.id, "上申書") == {doc.id}
    with legal_db.admin_engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM search_documents WHERE document_id = :d"), {"d": gone.id}
        ).scalar_one()
    assert left == 0
    # The queue entry left by the (later deleted) row is cleared by the system drain.
    _drain(legal_db, tenant_a.id)
    assert _pending(legal_db, tenant_a.id) == 0


def _long_text(chars: int) -> str:
    # Letters only (nothing the normalizer drops), so positions in the text and in its
    # normalized form differ by the title's length only. No term below occurs in it.
    filler = "本件は損害の有無を判断する"
    return (filler * (chars // len(filler) + 1))[:chars]


def test_a_text_over_one_megabyte_is_chunked_and_fully_searchable(legal_db, tenant_a) -> None:
    step = CHUNK_CHARS - CHUNK_OVERLAP
    title = "長大な判決書"
    shift = len(title) + 1  # the normalized text is the title, a newline, then the body
    body = list(_long_text(6 * CHUNK_CHARS))  # ~1.2 MB of UTF-8
    # Terms at the start, across the end of the first chunk (found in the second, which
    # overlaps it), deep inside, and at the very end.
    placed = {
        "冒頭の用語": 10,
        "境界をまたぐ用語": CHUNK_CHARS - shift - 4,
        "第三の用語": 3 * step + 500,
    }
    for term, at in placed.items():
        body[at : at + len(term)] = term
    body_text = "".join(body) + "末尾"
    assert len(body_text.encode()) > 1_000_000
    expected_chunks = len(indexer.index_chunks("tok01", [title, "", body_text]))
    assert expected_chunks >= 6
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        owner = UserFactory()
        doc = DocumentFactory(title=title)
        other = DocumentFactory(title="短い書面", description="冒頭の用語だけ")
        add_document_version(
            s,
            doc,
            storage_key="long.pdf",
            sha256="c" * 64,
            size_bytes=len(body_text),
            mime_type="application/pdf",
            uploaded_by=owner.id,
            extracted_text=body_text,
        )
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        rows = s.scalars(
            select(SearchDocument)
            .where(SearchDocument.document_id == doc.id)
            .order_by(SearchDocument.chunk_no)
        ).all()
        assert len(rows) == expected_chunks
        assert {r.n_chunks for r in rows} == {expected_chunks}
        assert all(r.normalizer_version == NORMALIZER_VERSION for r in rows)
        for term in placed:
            assert {h.id for h in search.documents(s, term)} >= {doc.id}, term
        assert {h.id for h in search.documents(s, "末尾")} == {doc.id}
        assert {h.id for h in search.documents(s, "尾")} == {doc.id}  # the final sentinel
        # Terms in different chunks, ANDed; an exclusion found in another chunk excludes.
        assert {h.id for h in search.documents(s, "冒頭の用語 第三の用語")} == {doc.id}
        assert {h.id for h in search.documents(s, "冒頭の用語 -末尾")} == {other.id}
        assert {h.id for h in search.documents(s, "冒頭の用語 存在しない")} == set()
        # The snippet is cut from deep inside the text, not from its start.
        (hit,) = search.documents(s, "第三の用語").hits
        assert "【第三の用語】" in hit.snippet
        assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


def test_big_commits_leave_the_rest_queued(legal_db, tenant_a, monkeypatch) -> None:
    monkeypatch.setattr(indexer, "MAX_INLINE", 3)
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True) as s:
        case = CaseFactory()
        s.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title)"
                " SELECT :t, gen_random_uuid(), :c, '一括登録' || g FROM generate_series(1, 5) g"
            ),
            {"t": tenant_a.id, "c": case.id},
        )
    # The case and 2 of the documents were indexed at commit (3 entities), the rest wait.
    assert _pending(legal_db, tenant_a.id) == 3
    assert len(_found(legal_db, tenant_a.id, "一括登録")) == 2
    _drain(legal_db, tenant_a.id)
    assert len(_found(legal_db, tenant_a.id, "一括登録")) == 5


def test_reindex_rewrites_rows_of_an_old_normalizer(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        doc = DocumentFactory(title="再索引の対象")
    _outside(legal_db, "UPDATE search_documents SET normalizer_version = 0, search_norm = ''")
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert indexer.stale_count(s) >= 1
        assert search.documents(s, "再索引").hits == []  # the recheck reads search_norm
    with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
        assert search.enqueue_all(s) >= 2  # the document and its case (at least)
    _drain(legal_db, tenant_a.id)
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert indexer.stale_count(s) == 0
        assert [h.id for h in search.documents(s, "再索引")] == [doc.id]


@pytest.fixture
def pre_search_database(legal_data_server) -> Any:
    with empty_database(legal_data_server, "search_backfill") as url:
        migrate.upgrade(url, "0016")
        yield url


def test_rows_from_before_the_search_revision_are_queued(pre_search_database) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(pre_search_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
            firm = conn.execute(
                text(
                    "INSERT INTO tenants (id, slug, name) VALUES (gen_random_uuid(), 'old', '旧')"
                    " RETURNING id"
                )
            ).scalar_one()
            for sql in (
                "INSERT INTO parties (tenant_id, id, kind, name)"
                " VALUES (:f, gen_random_uuid(), 'company', '旧株式会社')",
                "INSERT INTO clients (tenant_id, id, party_id, client_code)"
                " SELECT tenant_id, gen_random_uuid(), id, 'C-1' FROM parties",
                "INSERT INTO cases (tenant_id, id, title, practice_area, client_id)"
                " SELECT tenant_id, gen_random_uuid(), '移行前の事件', 'civil', id FROM clients",
                "INSERT INTO documents (tenant_id, id, case_id, title)"
                " SELECT tenant_id, gen_random_uuid(), id, '移行前の文書' FROM cases",
            ):
                conn.execute(text(sql), {"f": firm})
        migrate.upgrade(pre_search_database)
        with engine.connect() as conn:
            queued = conn.execute(
                text("SELECT kind, count(*) FROM search_queue GROUP BY kind ORDER BY kind")
            ).all()
        assert [tuple(r) for r in queued] == [("case", 1), ("document", 1)]
    finally:
        engine.dispose()


def test_the_drain_leaves_a_row_a_writer_holds_and_never_waits(legal_db, tenant_a) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        doc = DocumentFactory(title="係争中の書面")
    _outside(legal_db, "UPDATE documents SET title = '差し替えた書面' WHERE id = :d", d=doc.id)
    with legal_db.admin_engine.connect() as writer:
        writer.execute(text("SELECT 1 FROM documents WHERE id = :d FOR UPDATE"), {"d": doc.id})
        with tenant_tx(legal_db.app_sessions, tenant_a.id, role="system", commit=True) as s:
            # Waiting for the writer would fail here instead of hanging the test.
            s.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert search.drain(s) == 0
        assert _pending(legal_db, tenant_a.id) == 1
        writer.rollback()
    assert _drain(legal_db, tenant_a.id) == 1
    assert _found(legal_db, tenant_a.id, "差し替え") == {doc.id}


async def test_async_sessions_index_at_commit_and_search_through_run_sync(legal_db, tenant_a):
    from legal_data.db.engine import create_async_tenant_engine
    from legal_data.models import Case
    from legal_data.tenancy.session import async_tenant_session, async_tenant_sessionmaker
    from legal_data.testing.plugin import TEST_ACTOR

    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        case_id = CaseFactory().id
    engine = create_async_tenant_engine(legal_db.app_url, pool_size=1)
    factory = async_tenant_sessionmaker(engine)
    try:
        async with async_tenant_session(factory, tenant_a.id, user_id=TEST_ACTOR) as s:
            s.add(Document(tenant_id=tenant_a.id, case_id=case_id, title="非同期で登録した陳述書"))
        async with async_tenant_session(factory, tenant_a.id, user_id=TEST_ACTOR) as s:
            page = await s.run_sync(lambda sync: search.documents(sync, "陳述書"))
            assert [h.title for h in page] == ["非同期で登録した陳述書"]
            assert await s.get(Case, (tenant_a.id, case_id)) is not None
    finally:
        await engine.dispose()
