"""Access control inside a firm: roles (a hierarchy), permissions granted to roles with a
scope and an optional condition, users' roles, direct grants and denials with an expiry,
and ethical walls (情報遮断措置). Semantics live in :mod:`legal_data.rbac`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.models.base import Base, BusinessRow, tenant_fk
from legal_data.models.system import in_list
from legal_data.rbac.permissions import EFFECTS, PERMISSIONS, SCOPES

_PERMISSION_CHECK = in_list("permission", tuple(PERMISSIONS))
_CONDITION_SHAPE = "condition IS NULL OR jsonb_typeof(condition) = 'object'"


class Role(BusinessRow, Base):
    """A firm's role. ``parent_role_id``: the role inherits every permission of its
    ancestors; a trigger refuses cycles (``ck_roles_no_cycle``)."""

    __tablename__ = "roles"
    __table_args__ = (
        tenant_fk("parent_role_id", "roles"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint("parent_role_id IS NULL OR parent_role_id <> id", name="not_own_parent"),
        Index("uq_roles_tenant_id_name", "tenant_id", "name", unique=True),
        Index("ix_roles_tenant_id_parent_role_id", "tenant_id", "parent_role_id"),
    )

    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    parent_role_id: Mapped[uuid.UUID | None]
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))


class RolePermission(BusinessRow, Base):
    __tablename__ = "role_permissions"
    __table_args__ = (
        tenant_fk("role_id", "roles", ondelete="CASCADE"),
        CheckConstraint(_PERMISSION_CHECK, name="permission"),
        CheckConstraint(in_list("scope", SCOPES), name="scope"),
        CheckConstraint(_CONDITION_SHAPE, name="condition_object"),
        Index("ix_role_permissions_tenant_id_role_id", "tenant_id", "role_id"),
    )

    role_id: Mapped[uuid.UUID]
    permission: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, server_default=text("'firm'"))
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))


class UserRole(BusinessRow, Base):
    __tablename__ = "user_roles"
    __table_args__ = (
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        tenant_fk("role_id", "roles", ondelete="CASCADE"),
        Index(
            "uq_user_roles_tenant_id_user_id_role_id",
            "tenant_id",
            "user_id",
            "role_id",
            unique=True,
        ),
        Index("ix_user_roles_tenant_id_role_id", "tenant_id", "role_id"),
    )

    user_id: Mapped[uuid.UUID]
    role_id: Mapped[uuid.UUID]


class UserPermission(BusinessRow, Base):
    """A direct grant or denial for one user, optionally expiring. Denials beat grants."""

    __tablename__ = "user_permissions"
    __table_args__ = (
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        CheckConstraint(_PERMISSION_CHECK, name="permission"),
        CheckConstraint(in_list("scope", SCOPES), name="scope"),
        CheckConstraint(in_list("effect", EFFECTS), name="effect"),
        CheckConstraint(_CONDITION_SHAPE, name="condition_object"),
        Index("ix_user_permissions_tenant_id_user_id", "tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID]
    permission: Mapped[str] = mapped_column(Text)
    effect: Mapped[str] = mapped_column(Text, server_default=text("'grant'"))
    scope: Mapped[str] = mapped_column(Text, server_default=text("'firm'"))
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    expires_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class EthicalWall(BusinessRow, Base):
    """情報遮断措置: screens a user and/or every holder of a role from one case. Enforced by
    a RESTRICTIVE policy on every case-related table; ended (not deleted) to lift it."""

    __tablename__ = "ethical_walls"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        tenant_fk("role_id", "roles", ondelete="CASCADE"),
        CheckConstraint("user_id IS NOT NULL OR role_id IS NOT NULL", name="user_or_role"),
        CheckConstraint("btrim(reason) <> ''", name="reason_not_blank"),
        Index("ix_ethical_walls_tenant_id_case_id", "tenant_id", "case_id"),
        Index("ix_ethical_walls_tenant_id_user_id_case_id", "tenant_id", "user_id", "case_id"),
        Index("ix_ethical_walls_tenant_id_role_id_case_id", "tenant_id", "role_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    role_id: Mapped[uuid.UUID | None]
    reason: Mapped[str] = mapped_column(Text)
    ended_at: Mapped[dt.datetime | None]
