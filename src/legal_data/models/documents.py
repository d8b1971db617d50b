"""Documents (文書): per-firm categories, documents, their append-only versions, templates.

- ``document_categories`` are per firm and form a tree (``parent_id``); every new firm
  gets :data:`DEFAULT_DOCUMENT_CATEGORIES` (:func:`seed_document_categories`).
- A ``documents`` row describes one document of a case; its content lives in
  ``document_versions``, which are append-only: a new version must be numbered after
  every existing one, a stored version never changes (only its extracted text may be
  filled in later by the text-extraction job), and the database points the document at
  the version just added (``current_version_id``, trigger
  ``document_versions_make_current``). The pointer is checked by trigger, not by a
  foreign key (a key in both directions would make the two tables a cycle): set by hand
  it must name a version of the same document (at once on UPDATE, at commit on INSERT).
- A document on legal hold, or before its retention date, cannot be deleted (nor soft
  deleted while on hold).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    FetchedValue,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from legal_data.ids import new_id
from legal_data.models.base import Base, BusinessRow, SoftDeleted, Versioned, tenant_fk, tenant_join
from legal_data.models.system import in_list

#: The categories every firm starts with, in display order.
DEFAULT_DOCUMENT_CATEGORIES: tuple[str, ...] = (
    "訴状",
    "答弁書",
    "準備書面",
    "証拠説明書",
    "書証",
    "委任状",
    "契約書",
    "意見書",
    "判決書",
    "和解調書",
    "内容証明",
    "その他",
)

TEMPLATE_KINDS = ("document", "email", "letter", "fax")
TEMPLATE_LANGUAGES = ("ja", "en")

SHA256_HEX_SQL = "sha256 ~ '^[0-9a-f]{64}$'"
MIME_TYPE_SQL = "mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'"


class DocumentCategory(BusinessRow, Base):
    """A per-firm document category (訴状, 準備書面, …), optionally under a parent."""

    __tablename__ = "document_categories"
    __table_args__ = (
        tenant_fk("parent_id", "document_categories"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index("uq_document_categories_tenant_id_name", "tenant_id", "name", unique=True),
        Index("ix_document_categories_tenant_id_parent_id", "tenant_id", "parent_id"),
    )

    name: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None]
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


def seed_document_categories(session: Session, tenant_id: uuid.UUID) -> None:
    """Give firm ``tenant_id`` the default categories (idempotent: existing names are kept)."""
    rows = [
        {"tenant_id": tenant_id, "id": new_id(), "name": name, "sort_order": (i + 1) * 10}
        for i, name in enumerate(DEFAULT_DOCUMENT_CATEGORIES)
    ]
    session.execute(
        insert(DocumentCategory)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "name"])
    )


class Document(BusinessRow, Versioned, SoftDeleted, Base):
    """A document of a case. Its content is the version ``current_version_id`` points at."""

    __tablename__ = "documents"
    # Loading a privileged document through a tenant session writes a READ audit event.
    __audit_reads__: ClassVar[Callable[[Document], bool]] = staticmethod(
        lambda doc: bool(doc.is_privileged)
    )
    __table_args__ = (
        tenant_fk("case_id", "cases"),
        tenant_fk("category_id", "document_categories"),
        CheckConstraint("btrim(title) <> ''", name="title_not_blank"),
        CheckConstraint(
            "NOT (legal_hold AND deleted_at IS NOT NULL)", name="legal_hold_not_deleted"
        ),
        Index(
            "ix_documents_tenant_id_case_id",
            "tenant_id",
            "case_id",
            "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_documents_tenant_id_category_id",
            "tenant_id",
            "category_id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # Disposal runs: documents past their retention date and not on hold.
        Index(
            "ix_documents_tenant_id_retain_until",
            "tenant_id",
            "retain_until",
            postgresql_where=text("deleted_at IS NULL AND NOT legal_hold"),
        ),
    )

    case_id: Mapped[uuid.UUID]
    category_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # 秘匿特権 / work product: excluded from productions and client portals.
    is_privileged: Mapped[bool] = mapped_column(server_default=text("false"))
    retain_until: Mapped[dt.date | None]
    legal_hold: Mapped[bool] = mapped_column(server_default=text("false"))
    # Set by the database whenever a version is added.
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(server_onupdate=FetchedValue())

    category: Mapped[DocumentCategory | None] = relationship(
        primaryjoin=tenant_join("Document", "category_id", "DocumentCategory"), viewonly=True
    )
    versions: Mapped[list[DocumentVersion]] = relationship(
        primaryjoin=tenant_join("DocumentVersion", "document_id", "Document"),
        back_populates="document",
        order_by="DocumentVersion.version_number",
        passive_deletes=True,
    )
    current_version: Mapped[DocumentVersion | None] = relationship(
        primaryjoin="and_(Document.tenant_id == DocumentVersion.tenant_id, "
        "Document.current_version_id == foreign(DocumentVersion.id))",
        viewonly=True,
        uselist=False,
    )


class DocumentVersion(BusinessRow, Base):
    """One stored version of a document's content (append-only)."""

    __tablename__ = "document_versions"
    __table_args__ = (
        tenant_fk("document_id", "documents", ondelete="CASCADE"),
        tenant_fk("uploaded_by", "users"),
        CheckConstraint("version_number >= 1", name="version_number_positive"),
        CheckConstraint(SHA256_HEX_SQL, name="sha256_hex"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint(MIME_TYPE_SQL, name="mime_type_format"),
        CheckConstraint("btrim(storage_key) <> ''", name="storage_key_not_blank"),
        Index(
            "uq_document_versions_tenant_id_document_id_version_number",
            "tenant_id",
            "document_id",
            "version_number",
            unique=True,
        ),
        Index("ix_document_versions_tenant_id_sha256", "tenant_id", "sha256"),
        Index("ix_document_versions_tenant_id_uploaded_by", "tenant_id", "uploaded_by"),
    )

    document_id: Mapped[uuid.UUID]
    # Assigned by the database (last version + 1) when not given.
    version_number: Mapped[int] = mapped_column(Integer, server_default=FetchedValue())
    storage_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int]
    mime_type: Mapped[str] = mapped_column(Text)
    original_filename: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[uuid.UUID]
    uploaded_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    # Filled later by the text-extraction (OCR) job; the only column that may change.
    extracted_text: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship(
        primaryjoin=tenant_join("DocumentVersion", "document_id", "Document"),
        back_populates="versions",
    )


def add_document_version(
    session: Session,
    document: Document,
    *,
    storage_key: str,
    sha256: str,
    size_bytes: int,
    mime_type: str,
    uploaded_by: uuid.UUID,
    original_filename: str | None = None,
    extracted_text: str | None = None,
) -> DocumentVersion:
    """Append a version to ``document``; the database numbers it and makes it current."""
    version = DocumentVersion(
        tenant_id=document.tenant_id,
        document_id=document.id,
        storage_key=storage_key,
        sha256=sha256,
        size_bytes=size_bytes,
        mime_type=mime_type,
        uploaded_by=uploaded_by,
        original_filename=original_filename,
        extracted_text=extracted_text,
    )
    session.add(version)
    session.flush()
    # The trigger moved the document's pointer; reload it (the row version is unchanged).
    session.expire(document, ["current_version_id", "current_version", "versions"])
    return version


class Template(BusinessRow, Base):
    """A document or communication template with ``{{placeholder}}`` fields."""

    __tablename__ = "templates"
    __table_args__ = (
        tenant_fk("category_id", "document_categories"),
        CheckConstraint(in_list("kind", TEMPLATE_KINDS), name="kind"),
        CheckConstraint(in_list("language", TEMPLATE_LANGUAGES), name="language"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint("btrim(body) <> ''", name="body_not_blank"),
        # Placeholder names are identifiers (they are substituted by name, never evaluated).
        CheckConstraint(
            "array_to_string(placeholders, ' ') ~ '^([a-z_][a-z0-9_.]* ?)*$'",
            name="placeholders_identifiers",
        ),
        Index(
            "uq_templates_tenant_id_kind_name_language",
            "tenant_id",
            "kind",
            "name",
            "language",
            unique=True,
        ),
        Index("ix_templates_tenant_id_category_id", "tenant_id", "category_id"),
        Index(
            "ix_templates_tenant_id_kind_active",
            "tenant_id",
            "kind",
            "name",
            postgresql_where=text("is_active"),
        ),
    )

    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text, server_default=text("'ja'"))
    category_id: Mapped[uuid.UUID | None]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    placeholders: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
