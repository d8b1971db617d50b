"""Administration of roles, grants, denials and role assignments inside a firm.

Every function takes the acting user (a user id or a resolved principal) and refuses with
:class:`~legal_data.errors.PermissionDenied` unless that user holds ``firm:admin``
(``wall:manage`` is enough for walls). The one exception is the documented system actor
(``tenant_scope(firm, role="system")``, ``actor=None``), used when a firm is created. Every
change is a row change in an audited table, so the audit trail records who did what.
Conditions are validated against the permission's model before they are stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from legal_data.errors import PermissionDenied
from legal_data.ids import new_id
from legal_data.models.access import Role, RolePermission, UserPermission, UserRole
from legal_data.rbac.authorize import authorize
from legal_data.rbac.conditions import validate
from legal_data.rbac.permissions import (
    DEFAULT_ROLES,
    FIRM_ADMIN,
    SCOPES,
    WALL_MANAGE,
    check_permission,
    resource_of,
)
from legal_data.rbac.resolve import Principal, invalidate, resolve
from legal_data.tenancy.context import SYSTEM_ROLE, current_context

Actor = uuid.UUID | Principal | None


def _principal(session: Session, actor: Actor) -> Principal | None:
    if actor is None:
        ctx = current_context()
        if ctx is not None and ctx.role == SYSTEM_ROLE:
            return None
        raise PermissionDenied("an administrative change needs an acting user")
    return actor if isinstance(actor, Principal) else resolve(session, actor)


def require_admin(session: Session, actor: Actor) -> None:
    p = _principal(session, actor)
    if p is not None and not authorize(p, FIRM_ADMIN):
        raise PermissionDenied(f"{FIRM_ADMIN} is required")


def require_wall_manager(session: Session, actor: Any) -> None:
    p = _principal(session, actor)
    if p is not None and not (authorize(p, FIRM_ADMIN) or authorize(p, WALL_MANAGE)):
        raise PermissionDenied(f"{WALL_MANAGE} or {FIRM_ADMIN} is required")


def _model_for(permission: str) -> type | None:
    from legal_data import models

    table = {
        "case": models.Case,
        "document": models.Document,
        "task": models.Task,
        "communication": models.Communication,
        "time_entry": models.TimeEntry,
        "expense": models.Expense,
        "invoice": models.Invoice,
        "payment": models.Invoice,
        "trust": models.TrustLedgerEntry,
        "client": models.Client,
    }
    return table.get(resource_of(permission))


def _check(permission: str, scope: str, condition: dict[str, Any] | None) -> None:
    check_permission(permission)
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if condition is not None:
        model = _model_for(permission)
        if model is None:
            raise ValueError(f"{permission} is not about records and takes no condition")
        validate(condition, model)


def create_role(
    session: Session,
    actor: Actor,
    name: str,
    *,
    parent_role_id: uuid.UUID | None = None,
    description: str | None = None,
) -> Role:
    require_admin(session, actor)
    role = Role(
        tenant_id=_tenant(), name=name, parent_role_id=parent_role_id, description=description
    )
    session.add(role)
    session.flush()
    return role


def set_parent(
    session: Session, actor: Actor, role_id: uuid.UUID, parent_role_id: uuid.UUID | None
) -> None:
    """Move a role in the hierarchy (the database refuses cycles: ``CheckViolation``)."""
    require_admin(session, actor)
    role = session.get_one(Role, (_tenant(), role_id))
    role.parent_role_id = parent_role_id
    session.flush()
    invalidate(session)


def grant(
    session: Session,
    actor: Actor,
    role_id: uuid.UUID,
    permission: str,
    *,
    scope: str = "firm",
    condition: dict[str, Any] | None = None,
) -> RolePermission:
    require_admin(session, actor)
    _check(permission, scope, condition)
    row = RolePermission(
        tenant_id=_tenant(),
        role_id=role_id,
        permission=permission,
        scope=scope,
        condition=condition,
    )
    session.add(row)
    session.flush()
    return row


def revoke(
    session: Session, actor: Actor, role_id: uuid.UUID, permission: str, *, scope: str | None = None
) -> int:
    """Remove the role's entries for ``permission`` (of one scope, or all)."""
    require_admin(session, actor)
    stmt = delete(RolePermission).where(
        RolePermission.role_id == role_id, RolePermission.permission == check_permission(permission)
    )
    if scope is not None:
        stmt = stmt.where(RolePermission.scope == scope)
    n = int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0)
    invalidate(session)
    return n


def assign(session: Session, actor: Actor, user_id: uuid.UUID, role_id: uuid.UUID) -> UserRole:
    require_admin(session, actor)
    row = UserRole(tenant_id=_tenant(), user_id=user_id, role_id=role_id)
    session.add(row)
    session.flush()
    return row


def unassign(session: Session, actor: Actor, user_id: uuid.UUID, role_id: uuid.UUID) -> int:
    require_admin(session, actor)
    stmt = delete(UserRole).where(UserRole.user_id == user_id, UserRole.role_id == role_id)
    n = int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0)
    invalidate(session)
    return n


def _user_entry(
    session: Session,
    actor: Actor,
    effect: str,
    user_id: uuid.UUID,
    permission: str,
    scope: str,
    condition: dict[str, Any] | None,
    expires_at: dt.datetime | None,
    reason: str | None,
) -> UserPermission:
    require_admin(session, actor)
    _check(permission, scope, condition)
    row = UserPermission(
        tenant_id=_tenant(),
        user_id=user_id,
        permission=permission,
        effect=effect,
        scope=scope,
        condition=condition,
        expires_at=expires_at,
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row


def grant_user(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    permission: str,
    *,
    scope: str = "firm",
    condition: dict[str, Any] | None = None,
    expires_at: dt.datetime | None = None,
    reason: str | None = None,
) -> UserPermission:
    """A direct grant to one user, optionally expiring."""
    return _user_entry(
        session, actor, "grant", user_id, permission, scope, condition, expires_at, reason
    )


def deny(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    permission: str,
    *,
    scope: str = "firm",
    condition: dict[str, Any] | None = None,
    expires_at: dt.datetime | None = None,
    reason: str | None = None,
) -> UserPermission:
    """A direct denial for one user; it beats every grant it matches."""
    return _user_entry(
        session, actor, "deny", user_id, permission, scope, condition, expires_at, reason
    )


def remove_user_entry(session: Session, actor: Actor, entry_id: uuid.UUID) -> int:
    require_admin(session, actor)
    stmt = delete(UserPermission).where(UserPermission.id == entry_id)
    n = int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0)
    invalidate(session)
    return n


def role_by_name(session: Session, name: str) -> Role | None:
    return session.scalars(select(Role).where(Role.name == name)).one_or_none()


def seed_default_roles(session: Session, tenant_id: uuid.UUID) -> dict[str, Role]:
    """The default roles of a new firm (管理者, パートナー弁護士, …) with their permissions.

    Runs in the firm's creating transaction (the system actor or the firm's creator)."""
    roles: dict[str, Role] = {}
    for name, (parent, description, _perms) in DEFAULT_ROLES.items():  # parents first
        roles[name] = Role(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            description=description,
            parent_role_id=roles[parent].id if parent else None,
            is_default=True,
        )
    session.add_all(roles.values())
    session.flush()
    session.add_all(
        RolePermission(tenant_id=tenant_id, role_id=roles[name].id, permission=p, scope=s)
        for name, (_parent, _d, perms) in DEFAULT_ROLES.items()
        for p, s in perms
    )
    session.flush()
    return roles


def _tenant() -> uuid.UUID:
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise PermissionDenied("no firm in context")
    return ctx.tenant_id
