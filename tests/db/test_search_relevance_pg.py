"""The Japanese relevance set (tests/fixtures/search_relevance.json) against PostgreSQL.

Every fixture document is stored twice in one firm through the application role: as a
document (title, and the body as its current version's extracted text) and as a case
(title and description). Each query must return exactly the expected set — precision and
recall — through ``search.documents`` and ``search.cases``, i.e. through the bigram GIN
prefilter, the exact ``LIKE`` recheck and Row Level Security. 1-, 2- and 8-character
queries, full-width/half-width variants and company-name variants are in the set
(``tests/unit/test_search_relevance.py`` checks the same file against a pure-Python model).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from isolation_support import tenant_tx

from legal_data import search
from legal_data.models import Case, Document, add_document_version
from legal_data.testing.factories import CaseFactory, UserFactory

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "search_relevance.json"
SET: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded(legal_data_harness) -> Any:
    """One firm holding every fixture document as a document and as a case."""
    from legal_data.testing.plugin import make_tenant

    harness = legal_data_harness
    firm = make_tenant(harness, f"relevance-{uuid.uuid4().hex[:8]}", "検索事務所")
    documents: dict[uuid.UUID, str] = {}
    cases: dict[uuid.UUID, str] = {}
    with tenant_tx(harness.app_sessions, firm.id, commit=True) as s:
        owner = UserFactory()
        matter = CaseFactory(title="関連性テスト用の案件ではない")
        for i, doc in enumerate(SET["documents"]):
            d = Document(tenant_id=firm.id, case_id=matter.id, title=doc["title"])
            s.add(d)
            s.flush()
            add_document_version(
                s,
                d,
                storage_key=f"relevance/{i}.pdf",
                sha256=f"{i:064x}",
                size_bytes=1,
                mime_type="application/pdf",
                uploaded_by=owner.id,
                extracted_text=doc["body"],
            )
            documents[d.id] = doc["id"]
            c = CaseFactory(title=doc["title"], description=doc["body"])
            cases[c.id] = doc["id"]
    # The matter holding the documents also matches some queries as a case; leave it out.
    cases_excluded = {matter.id}
    yield firm, documents, cases, cases_excluded
    harness.truncate_all()


@pytest.mark.parametrize("case", SET["queries"], ids=[q["id"] for q in SET["queries"]])
def test_documents_relevance(legal_data_harness, loaded, case: dict[str, Any]) -> None:
    firm, documents, _cases, _ = loaded
    with tenant_tx(legal_data_harness.app_sessions, firm.id) as s:
        page = search.documents(s, case["q"], limit=100)
    assert sorted(documents[h.id] for h in page) == sorted(case["expected"]), case.get("note")
    assert page.next_cursor is None


@pytest.mark.parametrize("case", SET["queries"], ids=[q["id"] for q in SET["queries"]])
def test_cases_relevance(legal_data_harness, loaded, case: dict[str, Any]) -> None:
    firm, _documents, cases, excluded = loaded
    with tenant_tx(legal_data_harness.app_sessions, firm.id) as s:
        page = search.cases(s, case["q"], limit=100)
    found = sorted(cases[h.id] for h in page if h.id not in excluded)
    assert found == sorted(case["expected"]), case.get("note")


def test_the_set_covers_the_required_query_lengths() -> None:
    lengths = {len(q["q"]) for q in SET["queries"]}
    assert {1, 2, 8} <= lengths


def test_snippets_mark_the_original_text(legal_data_harness, loaded) -> None:
    firm, documents, _cases, _ = loaded
    by_fixture = {v: k for k, v in documents.items()}
    with tenant_tx(legal_data_harness.app_sessions, firm.id) as s:
        page = search.documents(s, "サーバー", limit=100)
        hits = {documents[h.id]: h for h in page}
        # Half-width ｻｰﾊﾞｰ in the original is what gets marked for a full-width query.
        assert "【ｻｰﾊﾞｰ】" in hits["d23"].snippet
        assert "【サーバー】" in hits["d24"].snippet
        page = search.documents(s, "株式会社山田商事", limit=100, html=True)
        snippets = {documents[h.id]: h.snippet for h in page}
        assert "<mark>㈱山田商事</mark>" in snippets["d17"]
        assert "<mark>（株）山田商事</mark>" in snippets["d18"]
        # The body is preferred over the title for the snippet.
        page = search.documents(s, "離婚訴訟", limit=5)
        (hit,) = [h for h in page if h.id == by_fixture["d02"]]
        assert hit.snippet.startswith("調停不成立のため【離婚訴訟】を提起")
        assert hit.rank == 2  # every term in the title


def test_titles_rank_first_then_recency(legal_data_harness, loaded) -> None:
    firm, documents, _cases, _ = loaded
    with tenant_tx(legal_data_harness.app_sessions, firm.id) as s:
        page = search.documents(s, "離婚", limit=100)
    ranks = [h.rank for h in page]
    assert ranks == sorted(ranks, reverse=True)
    titled = {documents[h.id] for h in page if h.rank == 2}
    assert titled == {"d01", "d02", "d34"}


def test_models_are_used(loaded) -> None:
    assert Case and Document  # the fixture goes through the ORM models
