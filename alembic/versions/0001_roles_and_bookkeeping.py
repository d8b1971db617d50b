"""Roles, schema privileges, tenant-context functions and the revision checksum table.

Roles are cluster-wide, so they are created only if missing and left in place on
downgrade when another database still depends on them.

- ``legal_owner``    NOLOGIN: owns every table, function and policy.
- ``legal_app``      NOLOGIN NOBYPASSRLS: granted to application login roles.
- ``legal_readonly`` NOLOGIN NOBYPASSRLS: SELECT only, for reporting.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.tenancy.policies import (
    CURRENT_TENANT_FUNCTIONS_SQL,
    DROP_CURRENT_TENANT_FUNCTIONS_SQL,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_owner') THEN
        CREATE ROLE legal_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_app') THEN
        CREATE ROLE legal_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'legal_readonly') THEN
        CREATE ROLE legal_readonly NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
-- The migrating admin acts as legal_owner (SET ROLE) for everything that follows.
GRANT legal_owner TO CURRENT_USER;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO legal_owner;
GRANT USAGE ON SCHEMA public TO legal_app, legal_readonly;
"""

# UUIDv7 for rows the database creates itself (triggers); PostgreSQL 15 has no uuidv7().
# Unix-epoch milliseconds over the first 48 bits of a random v4, version bits set to 7.
UUID_V7_FUNCTION = """
CREATE FUNCTION app_uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    RETURN encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                      FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid;
"""

DROP_ROLES = """
REVOKE ALL ON SCHEMA public FROM legal_owner, legal_app, legal_readonly;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['legal_readonly', 'legal_app', 'legal_owner'] LOOP
        BEGIN
            EXECUTE format('DROP ROLE IF EXISTS %I', r);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'role % kept: objects in other databases depend on it', r;
        END;
    END LOOP;
END
$$;
"""


def upgrade() -> None:
    op.execute(CREATE_ROLES)
    op.create_table(
        "schema_revisions",
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_schema_revisions")),
    )
    op.execute("ALTER TABLE schema_revisions OWNER TO legal_owner")
    op.execute("ALTER TABLE alembic_version OWNER TO legal_owner")
    op.execute("REVOKE ALL ON schema_revisions, alembic_version FROM PUBLIC")
    # From here on this connection creates objects as legal_owner.
    op.execute("SET ROLE legal_owner")
    op.execute(CURRENT_TENANT_FUNCTIONS_SQL)
    op.execute(UUID_V7_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app_uuid_v7()")
    op.execute(DROP_CURRENT_TENANT_FUNCTIONS_SQL)
    op.execute("RESET ROLE")
    op.execute("ALTER TABLE alembic_version OWNER TO CURRENT_USER")
    op.drop_table("schema_revisions")
    op.execute(DROP_ROLES)
