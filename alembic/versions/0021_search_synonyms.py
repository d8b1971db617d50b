"""Search synonyms: pairs of terms a firm's searches treat as one (原告 ↔ 申立人).

- ``search_synonyms``: a business table of the firm (standard columns, RLS
  ``tenant_isolation``, the three audit triggers as the admin, like 0016), one row per
  unordered pair of normalized terms (``term`` sorts first in code-point order, checked
  with ``COLLATE "C"`` so the rule does not depend on the database's collation), unique
  per firm, looked up from either side.

The search calls expand query terms with them (``legal_data.search.synonyms``); the
search functions and the index are unchanged.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.audit.sql import audit_triggers_sql, drop_audit_triggers_sql
from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = sa.text("NULLIF(current_setting('app.current_user_id', true), '')::uuid")
MAX_CHARS = 256  # normalize.MAX_TERM_CHARS when this revision was written


def upgrade() -> None:
    op.create_table(
        "search_synonyms",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("synonym", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), server_default=ACTOR, nullable=True),
        sa.Column("updated_by", sa.UUID(), server_default=ACTOR, nullable=True),
        sa.CheckConstraint(
            'term COLLATE "C" < synonym COLLATE "C"', name=op.f("ck_search_synonyms_ordered_pair")
        ),
        sa.CheckConstraint(
            f"char_length(term) BETWEEN 1 AND {MAX_CHARS}"
            f" AND char_length(synonym) BETWEEN 1 AND {MAX_CHARS}",
            name=op.f("ck_search_synonyms_term_length"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_synonyms_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_search_synonyms")),
    )
    op.create_index(
        "uq_search_synonyms_tenant_id_term_synonym",
        "search_synonyms",
        ["tenant_id", "term", "synonym"],
        unique=True,
    )
    op.create_index(
        "ix_search_synonyms_tenant_id_synonym", "search_synonyms", ["tenant_id", "synonym"]
    )
    op.execute(tenant_isolation_sql("search_synonyms"))
    # As the admin: the audit capture function belongs to legal_audit.
    op.execute("RESET ROLE")
    op.execute(audit_triggers_sql("search_synonyms"))
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute(drop_audit_triggers_sql("search_synonyms"))
    op.execute(drop_tenant_isolation_sql("search_synonyms"))
    op.drop_table("search_synonyms")
