"""Japanese full-text search: index tables, the queue, their triggers, the ``legal_search``
role and its SECURITY DEFINER search functions.

- ``search_documents``, ``search_cases``, ``search_communications``: index rows (one per
  chunk) written by the library's Python normalizer; GIN over positionless bigram
  lexemes carrying the firm's token; narrow rows (``toast_tuple_target = 128``, the
  normalized title kept inline). Tenant tables with RLS and the ethical-wall policy;
  derived data, so no audit triggers (``posture.AUDIT_EXEMPT``).
- ``search_queue``: filled by statement-level triggers on ``documents``,
  ``document_versions``, ``cases`` and ``communications`` (any write path); the same
  triggers copy filter columns into existing index rows at once.
- ``legal_search``: NOLOGIN, BYPASSRLS, no members, SELECT on the searched columns only;
  owns ``search_*_find``, which apply the firm, the walls and soft deletion themselves
  (``legal_data.search.sql`` explains why and how). Creating it needs the admin, like
  ``legal_auth`` in 0008. Conflict search (0018) uses this role too.
- Rows that exist already are queued (as the admin: RLS would show the owner no firm);
  ``legal-data search drain`` (or ``legal_data.search.drain``) indexes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.rbac.walls import child_wall_policy_sql, drop_wall_policy_sql, wall_policy_sql
from legal_data.search.sql import (
    DROP_FUNCTIONS,
    DROP_TRIGGERS,
    FIND_CASES,
    FIND_COMMUNICATIONS,
    FIND_DOCUMENTS,
    FIND_SIGNATURES,
    GRANTS,
    REVOKES,
    SNIPPET_FUNCTION,
    TRIGGERS,
    TRIGGERS_ALWAYS,
)
from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX_TABLES = ("search_documents", "search_cases", "search_communications")
TABLES = (*INDEX_TABLES, "search_queue")

CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_search') THEN
        CREATE ROLE legal_search NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
    END IF;
END
$$;
"""

DROP_ROLE = """
DO $$
BEGIN
    DROP ROLE IF EXISTS legal_search;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role legal_search kept: objects in other databases depend on it';
END
$$;
"""

# Existing rows enter the queue like new ones would (the admin sees every firm).
BACKFILL = """
INSERT INTO search_queue (tenant_id, id, kind, entity_id)
SELECT tenant_id, app_uuid_v7(), 'document', id FROM documents
UNION ALL SELECT tenant_id, app_uuid_v7(), 'case', id FROM cases
UNION ALL SELECT tenant_id, app_uuid_v7(), 'communication', id FROM communications;
"""


class _XID8(sa.types.UserDefinedType):
    """PostgreSQL's 64-bit transaction id (the column type of ``search_queue.txid``)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


def _index_table(name: str, entity: str, target: str, fk_name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("chunk_no", sa.SmallInteger(), nullable=False),
        sa.Column("n_chunks", sa.SmallInteger(), nullable=False),
        sa.Column("sort_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title_norm", sa.Text(), nullable=False),
        sa.Column("search_norm", sa.Text(), nullable=False),
        sa.Column("lexemes", postgresql.TSVECTOR(), nullable=False),
        sa.Column("offsets", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("normalizer_version", sa.SmallInteger(), nullable=False),
        sa.Column(
            "indexed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(entity, sa.UUID(), nullable=False),
        *columns,
        sa.CheckConstraint(
            "chunk_no >= 0 AND chunk_no < n_chunks", name=op.f(f"ck_{name}_chunk_no_in_range")
        ),
        sa.CheckConstraint("cardinality(offsets) >= 1", name=op.f(f"ck_{name}_offsets_not_empty")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{name}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", entity],
            [f"{target}.tenant_id", f"{target}.id"],
            name=op.f(fk_name),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{name}")),
        postgresql_with={"toast_tuple_target": "128"},
    )
    op.create_index(
        f"uq_{name}_tenant_id_{entity}_chunk_no",
        name,
        ["tenant_id", entity, "chunk_no"],
        unique=True,
    )
    op.create_index(f"ix_{name}_lexemes", name, ["lexemes"], postgresql_using="gin")
    # Ranking reads the normalized title of every candidate: keep it in the row.
    op.execute(f"ALTER TABLE {name} ALTER COLUMN title_norm SET STORAGE MAIN")


def upgrade() -> None:
    # The role first: the objects below grant it what the search functions read.
    op.execute("RESET ROLE")
    op.execute(CREATE_ROLE)
    op.execute("SET ROLE legal_owner")
    _index_table(
        "search_documents",
        "document_id",
        "documents",
        "fk_search_documents_tenant_id_document_id_documents",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.UUID(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    _index_table(
        "search_cases",
        "case_id",
        "cases",
        "fk_search_cases_tenant_id_case_id_cases",
        sa.Column("case_status", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    _index_table(
        "search_communications",
        "communication_id",
        "communications",
        # (the conventional name, ending in the target table, exceeds 63 characters)
        "fk_search_communications_tenant_id_communication_id",
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
    )
    op.create_table(
        "search_queue",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("app_uuid_v7()"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("txid", _XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column(
            "enqueued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('document', 'case', 'communication')", name=op.f("ck_search_queue_kind")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_queue_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_search_queue")),
    )
    op.create_index(
        "uq_search_queue_tenant_id_kind_entity_id",
        "search_queue",
        ["tenant_id", "kind", "entity_id"],
        unique=True,
    )
    op.create_index("ix_search_queue_tenant_id_txid", "search_queue", ["tenant_id", "txid"])
    op.create_index(
        "ix_search_queue_tenant_id_enqueued_at", "search_queue", ["tenant_id", "enqueued_at"]
    )

    for table in TABLES:
        op.execute(tenant_isolation_sql(table))
    # A screened user sees no index row of a walled case's documents or communications.
    op.execute(child_wall_policy_sql("search_documents", "documents", "document_id"))
    op.execute(wall_policy_sql("search_cases", "case_id"))
    op.execute(child_wall_policy_sql("search_communications", "communications", "communication_id"))
    op.execute(TRIGGERS)
    op.execute(TRIGGERS_ALWAYS)
    op.execute(SNIPPET_FUNCTION)

    # As the admin: the grants of the BYPASSRLS role, the functions it owns, the backfill.
    op.execute("RESET ROLE")
    op.execute(GRANTS)
    op.execute(FIND_DOCUMENTS + FIND_CASES + FIND_COMMUNICATIONS)
    for sig in FIND_SIGNATURES:
        op.execute(f"ALTER FUNCTION {sig} OWNER TO legal_search")
        op.execute(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO legal_app")
    op.execute(BACKFILL)
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    op.execute(DROP_FUNCTIONS)
    op.execute(REVOKES)
    op.execute(DROP_ROLE)
    op.execute("SET ROLE legal_owner")
    op.execute(DROP_TRIGGERS)
    for table in INDEX_TABLES:
        op.execute(drop_wall_policy_sql(table))
    for table in reversed(TABLES):
        op.execute(drop_tenant_isolation_sql(table))
        op.drop_table(table)
