"""Row Level Security, policies and grants on every table that exists so far.

The SQL comes from ``legal_data.tenancy.policies`` (one generator for every tenant
table). Tables created by later revisions call the same generator in the revision
that creates them, so they are born isolated.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from legal_data.tenancy.policies import (
    drop_global_table_grants_sql,
    drop_tenant_isolation_sql,
    global_table_grants_sql,
    tenant_isolation_sql,
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "tenant_counters",
    "users",
    "user_sessions",
    "access_tokens",
    "parties",
    "party_relations",
    "clients",
    "cases",
    "case_statuses",
    "case_assignments",
    "case_parties",
    "court_cases",
)
GLOBAL_TABLES = ("courts", "case_type_codes")


def upgrade() -> None:
    # A firm sees and edits only its own row; firms are never deleted by the application.
    op.execute(
        tenant_isolation_sql("tenants", column="id", app_privileges="SELECT, INSERT, UPDATE")
    )
    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    for table in GLOBAL_TABLES:
        op.execute(global_table_grants_sql(table))


def downgrade() -> None:
    for table in GLOBAL_TABLES:
        op.execute(drop_global_table_grants_sql(table))
    for table in reversed(TENANT_TABLES):
        op.execute(drop_tenant_isolation_sql(table))
    op.execute(drop_tenant_isolation_sql("tenants"))
