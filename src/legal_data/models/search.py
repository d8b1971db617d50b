"""The full-text search index: derived rows, one table per searchable kind, and the queue.

Nothing here is a business record. Each index row is computed from a document, a case or
a communication by the library's Python normalizer (:mod:`legal_data.search.normalize`),
so queries and index can never disagree; :mod:`legal_data.search.indexer` writes them.
The database keeps them honest on its own:

- triggers on the source tables put every changed entity on ``search_queue`` (ORM, Core,
  ``text()`` and psql writes alike) and copy the filter columns (case, category, status,
  soft deletion, sort time) into the index rows at once, in SQL, so a filter or an
  ethical wall never depends on the queue having been drained;
- index rows cascade away with their entity (composite foreign keys, ``ON DELETE
  CASCADE``);
- the application role reads them under Row Level Security and the ethical-wall policy,
  like every tenant table; searching goes through SECURITY DEFINER functions instead
  (:mod:`legal_data.search.sql` explains why).

Rows are kept narrow on purpose (``toast_tuple_target = 128`` moves ``lexemes``,
``search_norm`` and ``offsets`` out of line): a two-character query in a large firm
visits thousands of candidate rows, and only the ranking columns are read for them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.ids import new_id
from legal_data.models.audit import XID8
from legal_data.models.base import Base, BusinessRow
from legal_data.models.system import in_list

SEARCH_KINDS = ("document", "case", "communication")
#: Storage parameters of the index tables (see the module docstring).
NARROW_ROWS = {"toast_tuple_target": "128"}


class _IndexRow:
    """Columns every index table has: the chunk's text, lexemes and snippet offsets."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-100)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-99)
    chunk_no: Mapped[int] = mapped_column(SmallInteger, sort_order=10)
    n_chunks: Mapped[int] = mapped_column(SmallInteger, sort_order=11)
    sort_at: Mapped[dt.datetime] = mapped_column(sort_order=20)
    # The normalized title (rank: hits in the title first) and the chunk's normalized text
    # (search_document of the indexed fields) for the exact LIKE recheck.
    title_norm: Mapped[str] = mapped_column(Text, sort_order=30)
    search_norm: Mapped[str] = mapped_column(Text, sort_order=31)
    # Positionless bigrams prefixed with the firm's token (legal_data.search.indexer).
    lexemes: Mapped[str] = mapped_column(TSVECTOR, sort_order=32)
    # Original offset of every 64th normalized character of the chunk, then its end.
    offsets: Mapped[list[int]] = mapped_column(ARRAY(Integer), sort_order=33)
    normalizer_version: Mapped[int] = mapped_column(SmallInteger, sort_order=40)
    indexed_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"), sort_order=41)


def _checks(table: str) -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint("chunk_no >= 0 AND chunk_no < n_chunks", name="chunk_no_in_range"),
        CheckConstraint("cardinality(offsets) >= 1", name="offsets_not_empty"),
    )


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], ondelete="RESTRICT", name=f"fk_{table}_tenant_id_tenants"
    )


def _tier_indexes(table: str, entity: str) -> tuple[Index, Index]:
    """The walk's order and the title keys (revision 0020, ``search/sql_tiered.py``)."""
    return (
        Index(f"ix_{table}_tenant_id_sort_at", "tenant_id", "sort_at", entity),
        Index(
            f"ix_{table}_title_keys",
            text("search_title_keys(tenant_id, title_norm)"),
            postgresql_using="gin",
            postgresql_where=text("chunk_no = 0"),
        ),
    )


class SearchDocument(_IndexRow, Base):
    """One chunk of a document's title, description and current version's extracted text."""

    __tablename__ = "search_documents"
    __table_args__ = (
        _tenant_fk("search_documents"),
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
            name="fk_search_documents_tenant_id_document_id_documents",
        ),
        *_checks("search_documents"),
        Index(
            "uq_search_documents_tenant_id_document_id_chunk_no",
            "tenant_id",
            "document_id",
            "chunk_no",
            unique=True,
        ),
        Index("ix_search_documents_lexemes", "lexemes", postgresql_using="gin"),
        *_tier_indexes("search_documents", "document_id"),
        {"postgresql_with": NARROW_ROWS},
    )

    document_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID]
    category_id: Mapped[uuid.UUID | None]
    deleted: Mapped[bool] = mapped_column(server_default=text("false"))


class SearchCase(_IndexRow, Base):
    """One chunk of a case's title and description."""

    __tablename__ = "search_cases"
    __table_args__ = (
        _tenant_fk("search_cases"),
        ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            ondelete="CASCADE",
            name="fk_search_cases_tenant_id_case_id_cases",
        ),
        *_checks("search_cases"),
        Index(
            "uq_search_cases_tenant_id_case_id_chunk_no",
            "tenant_id",
            "case_id",
            "chunk_no",
            unique=True,
        ),
        Index("ix_search_cases_lexemes", "lexemes", postgresql_using="gin"),
        *_tier_indexes("search_cases", "case_id"),
        {"postgresql_with": NARROW_ROWS},
    )

    case_id: Mapped[uuid.UUID]
    # A copy of cases.status (named apart: the vocabulary CHECK lives on cases).
    case_status: Mapped[str] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(server_default=text("false"))


class SearchCommunication(_IndexRow, Base):
    """A communication's subject. Bodies are encrypted and never indexed (README)."""

    __tablename__ = "search_communications"
    __table_args__ = (
        _tenant_fk("search_communications"),
        ForeignKeyConstraint(
            ["tenant_id", "communication_id"],
            ["communications.tenant_id", "communications.id"],
            ondelete="CASCADE",
            name="fk_search_communications_tenant_id_communication_id",
        ),
        *_checks("search_communications"),
        Index(
            "uq_search_communications_tenant_id_communication_id_chunk_no",
            "tenant_id",
            "communication_id",
            "chunk_no",
            unique=True,
        ),
        Index("ix_search_communications_lexemes", "lexemes", postgresql_using="gin"),
        *_tier_indexes("search_communications", "communication_id"),
        {"postgresql_with": NARROW_ROWS},
    )

    communication_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(Text)


class SearchQueueEntry(Base):
    """An entity whose index rows must be recomputed (put here by triggers).

    ``txid`` is the transaction that queued it last: a tenant session indexes what its own
    transaction queued just before it commits; anything else waits for
    :func:`legal_data.search.indexer.drain`.
    """

    __tablename__ = "search_queue"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            ondelete="RESTRICT",
            name="fk_search_queue_tenant_id_tenants",
        ),
        CheckConstraint(in_list("kind", SEARCH_KINDS), name="kind"),
        Index(
            "uq_search_queue_tenant_id_kind_entity_id",
            "tenant_id",
            "kind",
            "entity_id",
            unique=True,
        ),
        Index("ix_search_queue_tenant_id_txid", "tenant_id", "txid"),
        Index("ix_search_queue_tenant_id_enqueued_at", "tenant_id", "enqueued_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=new_id, server_default=text("app_uuid_v7()")
    )
    kind: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID]
    txid: Mapped[int] = mapped_column(XID8(), server_default=text("pg_current_xact_id()"))
    enqueued_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


#: Longest synonym term, in normalized characters (the longest query term).
SYNONYM_MAX_CHARS = 256


class SearchSynonym(BusinessRow, Base):
    """A pair of terms a firm's searches treat as one (原告 ↔ 申立人), both normalized.

    Stored once per unordered pair (``term`` sorts first in code-point order, whatever
    the database's collation); :mod:`legal_data.search.synonyms` adds, removes and reads
    them, and the search calls expand query terms with them. Firm data under RLS, audited
    like every business row: who taught the firm's search a synonym is on record."""

    __tablename__ = "search_synonyms"
    __table_args__ = (
        CheckConstraint('term COLLATE "C" < synonym COLLATE "C"', name="ordered_pair"),
        CheckConstraint(
            f"char_length(term) BETWEEN 1 AND {SYNONYM_MAX_CHARS}"
            f" AND char_length(synonym) BETWEEN 1 AND {SYNONYM_MAX_CHARS}",
            name="term_length",
        ),
        Index(
            "uq_search_synonyms_tenant_id_term_synonym",
            "tenant_id",
            "term",
            "synonym",
            unique=True,
        ),
        Index("ix_search_synonyms_tenant_id_synonym", "tenant_id", "synonym"),
    )

    term: Mapped[str] = mapped_column(Text)
    synonym: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


# Index at commit what a tenant session's transaction queued (listens on TenantSession).
# Last: the search package it loads imports the models above (synonyms).
import legal_data.search.hooks  # noqa: E402, F401
