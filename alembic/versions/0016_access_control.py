"""Access control inside a firm: roles (hierarchy), role permissions with scope and
condition, user roles, direct grants/denials with expiry, ethical walls (情報遮断措置) and
their RESTRICTIVE policy on every case-related table; default roles for existing firms.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.audit.sql import audit_triggers_sql, drop_audit_triggers_sql
from legal_data.models.system import in_list
from legal_data.rbac.permissions import DEFAULT_ROLES, EFFECTS, PERMISSIONS, SCOPES
from legal_data.rbac.walls import (
    CASE_TABLES,
    CHILD_TABLES,
    DROP_WALL_FUNCTION_SQL,
    WALL_FUNCTION_SQL,
    all_wall_policies_sql,
    drop_wall_policy_sql,
)
from legal_data.tenancy.policies import drop_tenant_isolation_sql, tenant_isolation_sql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("roles", "role_permissions", "user_roles", "user_permissions", "ethical_walls")
ACTOR = sa.text("NULLIF(current_setting('app.current_user_id', true), '')::uuid")

CYCLE_TRIGGER = """
-- A role inherits from its ancestors; a cycle would make every role in it inherit
-- everything. Serialized per firm (advisory lock) so two concurrent moves cannot race.
CREATE FUNCTION roles_refuse_cycle() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_role_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('roles:' || NEW.tenant_id::text, 0));
    IF EXISTS (
        WITH RECURSIVE up(id) AS (
            SELECT NEW.parent_role_id
            UNION
            SELECT r.parent_role_id FROM roles r JOIN up ON r.id = up.id
            WHERE r.tenant_id = NEW.tenant_id AND r.parent_role_id IS NOT NULL
        )
        SELECT 1 FROM up WHERE up.id = NEW.id
    ) THEN
        RAISE EXCEPTION 'a role cannot inherit from itself (cycle in the role hierarchy)'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_roles_no_cycle',
                  TABLE = 'roles';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER roles_refuse_cycle BEFORE INSERT OR UPDATE OF parent_role_id ON roles
    FOR EACH ROW EXECUTE FUNCTION roles_refuse_cycle();
"""
DROP_CYCLE_TRIGGER = """
DROP TRIGGER IF EXISTS roles_refuse_cycle ON roles;
DROP FUNCTION IF EXISTS roles_refuse_cycle();
"""


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _backfill_sql() -> str:
    """Default roles for every firm that exists already (new firms get them from
    ``create_firm``)."""
    out = []
    for name, (parent, description, perms) in DEFAULT_ROLES.items():
        parent_sql = (
            f"(SELECT p.id FROM roles p WHERE p.tenant_id = t.id AND p.name = {_q(parent)})"
            if parent
            else "NULL"
        )
        out.append(
            "INSERT INTO roles (tenant_id, id, name, description, parent_role_id, is_default)"
            f" SELECT t.id, app_uuid_v7(), {_q(name)}, {_q(description)}, {parent_sql}, true"
            f" FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM roles x WHERE x.tenant_id = t.id"
            f" AND x.name = {_q(name)});"
        )
        for permission, scope in perms:
            out.append(
                "INSERT INTO role_permissions (tenant_id, id, role_id, permission, scope)"
                f" SELECT r.tenant_id, app_uuid_v7(), r.id, {_q(permission)}, {_q(scope)}"
                f" FROM roles r WHERE r.name = {_q(name)} AND r.is_default;"
            )
    return "\n".join(out)


def _business_columns() -> list[sa.Column]:
    return [
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
    ]


def _keys(table: str) -> list:
    return [
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]


def _tfk(table: str, column: str, target: str, ondelete: str = "RESTRICT"):
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"fk_{table}_tenant_id_{column}_{target}"),
        ondelete=ondelete,
    )


PERMISSION_CHECK = in_list("permission", tuple(PERMISSIONS))
CONDITION_SHAPE = "condition IS NULL OR jsonb_typeof(condition) = 'object'"


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parent_role_id", sa.UUID(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_business_columns(),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_roles_name_not_blank")),
        sa.CheckConstraint(
            "parent_role_id IS NULL OR parent_role_id <> id", name=op.f("ck_roles_not_own_parent")
        ),
        _tfk("roles", "parent_role_id", "roles"),
        *_keys("roles"),
    )
    op.create_index("uq_roles_tenant_id_name", "roles", ["tenant_id", "name"], unique=True)
    op.create_index("ix_roles_tenant_id_parent_role_id", "roles", ["tenant_id", "parent_role_id"])
    op.create_table(
        "role_permissions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("role_id", sa.UUID(), nullable=False),
        sa.Column("permission", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), server_default=sa.text("'firm'"), nullable=False),
        sa.Column("condition", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        *_business_columns(),
        sa.CheckConstraint(PERMISSION_CHECK, name=op.f("ck_role_permissions_permission")),
        sa.CheckConstraint(in_list("scope", SCOPES), name=op.f("ck_role_permissions_scope")),
        sa.CheckConstraint(CONDITION_SHAPE, name=op.f("ck_role_permissions_condition_object")),
        _tfk("role_permissions", "role_id", "roles", "CASCADE"),
        *_keys("role_permissions"),
    )
    op.create_index(
        "ix_role_permissions_tenant_id_role_id", "role_permissions", ["tenant_id", "role_id"]
    )
    op.create_table(
        "user_roles",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role_id", sa.UUID(), nullable=False),
        *_business_columns(),
        _tfk("user_roles", "user_id", "users", "CASCADE"),
        _tfk("user_roles", "role_id", "roles", "CASCADE"),
        *_keys("user_roles"),
    )
    op.create_index(
        "uq_user_roles_tenant_id_user_id_role_id",
        "user_roles",
        ["tenant_id", "user_id", "role_id"],
        unique=True,
    )
    op.create_index("ix_user_roles_tenant_id_role_id", "user_roles", ["tenant_id", "role_id"])
    op.create_table(
        "user_permissions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("permission", sa.Text(), nullable=False),
        sa.Column("effect", sa.Text(), server_default=sa.text("'grant'"), nullable=False),
        sa.Column("scope", sa.Text(), server_default=sa.text("'firm'"), nullable=False),
        sa.Column("condition", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        *_business_columns(),
        sa.CheckConstraint(PERMISSION_CHECK, name=op.f("ck_user_permissions_permission")),
        sa.CheckConstraint(in_list("scope", SCOPES), name=op.f("ck_user_permissions_scope")),
        sa.CheckConstraint(in_list("effect", EFFECTS), name=op.f("ck_user_permissions_effect")),
        sa.CheckConstraint(CONDITION_SHAPE, name=op.f("ck_user_permissions_condition_object")),
        _tfk("user_permissions", "user_id", "users", "CASCADE"),
        *_keys("user_permissions"),
    )
    op.create_index(
        "ix_user_permissions_tenant_id_user_id", "user_permissions", ["tenant_id", "user_id"]
    )
    op.create_table(
        "ethical_walls",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("role_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        *_business_columns(),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR role_id IS NOT NULL",
            name=op.f("ck_ethical_walls_user_or_role"),
        ),
        sa.CheckConstraint("btrim(reason) <> ''", name=op.f("ck_ethical_walls_reason_not_blank")),
        _tfk("ethical_walls", "case_id", "cases", "CASCADE"),
        _tfk("ethical_walls", "user_id", "users", "CASCADE"),
        _tfk("ethical_walls", "role_id", "roles", "CASCADE"),
        *_keys("ethical_walls"),
    )
    op.create_index("ix_ethical_walls_tenant_id_case_id", "ethical_walls", ["tenant_id", "case_id"])
    op.create_index(
        "ix_ethical_walls_tenant_id_user_id_case_id",
        "ethical_walls",
        ["tenant_id", "user_id", "case_id"],
    )
    op.create_index(
        "ix_ethical_walls_tenant_id_role_id_case_id",
        "ethical_walls",
        ["tenant_id", "role_id", "case_id"],
    )

    op.execute(CYCLE_TRIGGER)
    for table in TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(WALL_FUNCTION_SQL)
    op.execute(all_wall_policies_sql())

    # As the admin: the audit capture function belongs to legal_audit (only the admin may
    # attach it), and existing firms get the default roles (RLS would show the owner no
    # firm), as the system actor for the audit trail.
    op.execute("RESET ROLE")
    for table in TABLES:
        op.execute(audit_triggers_sql(table))
    op.execute("SET LOCAL app.current_user_role = 'system'")
    op.execute(_backfill_sql())
    op.execute("RESET app.current_user_role")
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    for table in (*CASE_TABLES, *CHILD_TABLES):
        op.execute(drop_wall_policy_sql(table))
    op.execute(DROP_WALL_FUNCTION_SQL)
    for table in reversed(TABLES):
        op.execute(drop_audit_triggers_sql(table))
        op.execute(drop_tenant_isolation_sql(table))
    op.execute(DROP_CYCLE_TRIGGER)
    for table in reversed(TABLES):
        op.drop_table(table)
