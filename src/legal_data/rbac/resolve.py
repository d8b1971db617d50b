"""A user's effective permissions: one recursive-CTE query, cached per transaction.

The query walks the user's roles up the hierarchy (``UNION``, so even a cycle could not
loop), collects the roles' permissions, adds the user's direct grants and denials that
have not expired (``expires_at > now()``, the transaction's start) and the cases the user
is currently assigned to. Row Level Security keeps all of it inside the firm in context
(and hides assignments of cases the user is walled from).

The result is stored in ``session.info`` together with the transaction it was read in; a
new transaction, or a flush that changes roles, grants or assignments, reads it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

_CACHE_KEY = "legal_data.rbac.principals"
_RBAC_TABLES = frozenset(
    {"roles", "role_permissions", "user_roles", "user_permissions", "case_assignments"}
)

RESOLVE_SQL = text(
    """
WITH RECURSIVE chain(role_id) AS (
    SELECT ur.role_id FROM user_roles ur WHERE ur.user_id = :user_id
    UNION
    SELECT r.parent_role_id FROM roles r JOIN chain c ON r.id = c.role_id
    WHERE r.parent_role_id IS NOT NULL
)
SELECT 'grant' AS kind, rp.permission, rp.scope, rp.condition
FROM role_permissions rp JOIN chain c ON rp.role_id = c.role_id
UNION ALL
SELECT up.effect, up.permission, up.scope, up.condition
FROM user_permissions up
WHERE up.user_id = :user_id AND (up.expires_at IS NULL OR up.expires_at > now())
UNION ALL
SELECT 'assigned', ca.case_id::text, NULL, NULL
FROM case_assignments ca
WHERE ca.user_id = :user_id AND (ca.ended_on IS NULL OR ca.ended_on >= CURRENT_DATE)
"""
)


@dataclass(frozen=True)
class Entry:
    permission: str
    scope: str
    condition: dict[str, Any] | None

    def key(self) -> tuple[str, str, str]:
        import json

        return (self.permission, self.scope, json.dumps(self.condition, sort_keys=True))


@dataclass(frozen=True)
class Principal:
    """A user's effective permissions in one transaction."""

    user_id: uuid.UUID
    grants: tuple[Entry, ...] = ()
    denials: tuple[Entry, ...] = ()
    assigned_case_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def grants_for(self, permission: str) -> list[Entry]:
        return [e for e in self.grants if e.permission == permission]

    def denials_for(self, permission: str) -> list[Entry]:
        return [e for e in self.denials if e.permission == permission]

    def permissions(self) -> set[str]:
        """Names granted by some entry (conditions and denials aside)."""
        return {e.permission for e in self.grants}


def _cache(session: Session) -> dict[uuid.UUID, Principal]:
    tx = session.get_transaction()
    held = session.info.get(_CACHE_KEY)
    if held is None or held[0] is not tx:
        held = (tx, {})
        session.info[_CACHE_KEY] = held
    return held[1]


def invalidate(session: Session) -> None:
    session.info.pop(_CACHE_KEY, None)


def resolve(session: Session, user: uuid.UUID | Any) -> Principal:
    """The effective permissions of ``user`` (a user id or a ``User``), once per transaction."""
    user_id = user if isinstance(user, uuid.UUID) else user.id
    cache = _cache(session)
    found = cache.get(user_id)
    if found is not None:
        return found
    grants: dict[tuple[str, str, str], Entry] = {}
    denials: dict[tuple[str, str, str], Entry] = {}
    assigned: set[uuid.UUID] = set()
    for kind, permission, scope, condition in session.execute(
        RESOLVE_SQL, {"user_id": user_id}
    ).all():
        if kind == "assigned":
            assigned.add(uuid.UUID(permission))
            continue
        entry = Entry(permission, scope, condition)
        (grants if kind == "grant" else denials)[entry.key()] = entry
    principal = Principal(
        user_id=user_id,
        grants=tuple(grants.values()),
        denials=tuple(denials.values()),
        assigned_case_ids=frozenset(assigned),
    )
    cache[user_id] = principal
    return principal


@event.listens_for(Session, "after_flush")
def _drop_cache_on_rbac_change(session: Session, _ctx: object) -> None:
    if _CACHE_KEY not in session.info:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in _RBAC_TABLES:
            invalidate(session)
            return
