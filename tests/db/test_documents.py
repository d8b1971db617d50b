"""Documents: seeded categories, append-only versions, the current-version pointer, legal
hold and retention, templates. Each rule is tried through the ORM and plain SQL as the
app role and must come back as a typed error naming the rule."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture, run, sql  # noqa: F401
from sqlalchemy import func, select, text

from legal_data.errors import CheckViolation, UniqueViolation
from legal_data.models import (
    DEFAULT_DOCUMENT_CATEGORIES,
    Document,
    DocumentCategory,
    DocumentVersion,
    add_document_version,
)
from legal_data.testing.factories import (
    DocumentCategoryFactory,
    DocumentFactory,
    DocumentVersionFactory,
    TemplateFactory,
    UserFactory,
)

APPEND_ONLY = "ck_document_versions_append_only"


def sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@pytest.fixture
def document(db, firm):
    return run(db, firm, lambda s: DocumentFactory())


@pytest.fixture
def uploader(db, firm):
    return run(db, firm, lambda s: UserFactory())


def upload(db, firm, document, uploader, n):
    def work(s):
        doc = s.get(Document, (firm.id, document.id))
        version = add_document_version(
            s,
            doc,
            storage_key=f"k/{n}",
            sha256=sha(n),
            size_bytes=100 + n,
            mime_type="application/pdf",
            uploaded_by=uploader.id,
        )
        return version, doc.current_version_id

    return run(db, firm, work)


def test_a_new_firm_starts_with_the_default_categories(db, firm):
    names = run(
        db,
        firm,
        lambda s: s.scalars(
            select(DocumentCategory.name).order_by(DocumentCategory.sort_order)
        ).all(),
    )
    assert tuple(names) == DEFAULT_DOCUMENT_CATEGORIES


def test_category_names_are_unique_per_firm_and_not_their_own_parent(db, firm, firms):
    with pytest.raises(UniqueViolation) as info:
        run(db, firm, lambda s: DocumentCategoryFactory(name="訴状", parent_id=None))
    assert info.value.rule == "uq_document_categories_tenant_id_name"
    assert "already exists" in str(info.value)
    child = run(db, firm, lambda s: DocumentCategoryFactory())  # a sub-category
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE document_categories SET parent_id = id WHERE id = :id", id=child.id)
    assert info.value.rule == "ck_document_categories_not_own_parent"


def test_versions_are_numbered_in_order_and_become_current(db, firm, document, uploader):
    first, current = upload(db, firm, document, uploader, 1)
    assert (first.version_number, current) == (1, first.id)
    second, current = upload(db, firm, document, uploader, 2)
    assert (second.version_number, current) == (2, second.id)

    def read(s):
        doc = s.get(Document, (firm.id, document.id))
        return doc.current_version.version_number, [v.version_number for v in doc.versions]

    assert run(db, firm, read) == (2, [1, 2])


def test_a_version_cannot_be_numbered_before_the_latest(db, firm, document, uploader):
    upload(db, firm, document, uploader, 1)
    upload(db, firm, document, uploader, 2)
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: DocumentVersionFactory(document_id=document.id, version_number=1))
    assert info.value.rule == APPEND_ONLY
    assert "append-only" in str(info.value)
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "INSERT INTO document_versions (tenant_id, id, document_id, version_number,"
            " storage_key, sha256, size_bytes, mime_type, uploaded_by)"
            " VALUES (:t, gen_random_uuid(), :d, 0, 'k', :h, 1, 'application/pdf', :u)",
            t=firm.id,
            d=document.id,
            h=sha(9),
            u=uploader.id,
        )
    assert info.value.rule == "ck_document_versions_version_number_positive"


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("sha256", "ABC", "ck_document_versions_sha256_hex"),
        ("sha256", sha(1).upper(), "ck_document_versions_sha256_hex"),
        ("size_bytes", -1, "ck_document_versions_size_not_negative"),
        ("mime_type", "pdf", "ck_document_versions_mime_type_format"),
        ("storage_key", "  ", "ck_document_versions_storage_key_not_blank"),
    ],
)
def test_version_fields_are_checked(db, firm, document, column, value, rule):
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: DocumentVersionFactory(document_id=document.id, **{column: value}))
    assert info.value.rule == rule


def test_a_stored_version_never_changes(db, firm, document, uploader):
    version, _ = upload(db, firm, document, uploader, 1)

    def orm_edit(s):
        s.get(DocumentVersion, (firm.id, version.id)).storage_key = "elsewhere"

    with pytest.raises(CheckViolation) as info:
        run(db, firm, orm_edit)
    assert info.value.rule == APPEND_ONLY
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE document_versions SET sha256 = :h WHERE id = :id",
            h=sha(2),
            id=version.id,
        )
    assert info.value.rule == APPEND_ONLY
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "DELETE FROM document_versions WHERE id = :id", id=version.id)
    assert info.value.rule == APPEND_ONLY
    # The text-extraction job may fill in the text later.
    sql(
        db,
        firm,
        "UPDATE document_versions SET extracted_text = '本文' WHERE id = :id",
        id=version.id,
    )


def test_deleting_a_document_takes_its_versions_unless_held_or_retained(db, firm, uploader):
    held = run(db, firm, lambda s: DocumentFactory(legal_hold=True))
    upload(db, firm, held, uploader, 1)
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: s.delete(s.get(Document, (firm.id, held.id))))
    assert info.value.rule == "ck_documents_legal_hold_not_deleted"
    with pytest.raises(CheckViolation) as info:  # not even a soft delete
        sql(db, firm, "UPDATE documents SET deleted_at = now() WHERE id = :id", id=held.id)
    assert info.value.rule == "ck_documents_legal_hold_not_deleted"

    retained = run(db, firm, lambda s: DocumentFactory(retain_until=dt.date(2099, 1, 1)))
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "DELETE FROM documents WHERE id = :id", id=retained.id)
    assert info.value.rule == "ck_documents_retention_period"

    expired = run(db, firm, lambda s: DocumentFactory(retain_until=dt.date(2020, 1, 1)))
    upload(db, firm, expired, uploader, 2)
    sql(db, firm, "DELETE FROM documents WHERE id = :id", id=expired.id)
    left = run(
        db,
        firm,
        lambda s: s.scalar(select(func.count()).where(DocumentVersion.document_id == expired.id)),
    )
    assert left == 0


def test_the_current_version_belongs_to_the_document(db, firm, document, uploader):
    other = run(db, firm, lambda s: DocumentFactory())
    foreign, _ = upload(db, firm, other, uploader, 1)
    mine, _ = upload(db, firm, document, uploader, 2)
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE documents SET current_version_id = :v WHERE id = :id",
            v=foreign.id,
            id=document.id,
        )
    assert info.value.rule == "ck_documents_current_version_of_document"

    # Inserted with a pointer already set (an import): checked at commit.
    def insert_dangling(s):
        s.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title, current_version_id)"
                " SELECT tenant_id, gen_random_uuid(), case_id, '写し', :v FROM documents"
                " WHERE id = :id"
            ),
            {"v": mine.id, "id": document.id},
        )

    with pytest.raises(CheckViolation) as info:
        run(db, firm, insert_dangling)
    assert info.value.rule == "ck_documents_current_version_of_document"


def test_templates(db, firm):
    template = run(db, firm, lambda s: TemplateFactory())
    with pytest.raises(UniqueViolation) as info:
        run(db, firm, lambda s: TemplateFactory(name=template.name))
    assert info.value.rule == "uq_templates_tenant_id_kind_name_language"
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: TemplateFactory(placeholders=["client.name", "1; DROP"]))
    assert info.value.rule == "ck_templates_placeholders_identifiers"
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE templates SET language = 'fr' WHERE id = :id", id=template.id)
    assert info.value.rule == "ck_templates_language"
