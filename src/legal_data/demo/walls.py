"""Demo: an ethical wall (情報遮断措置) screens one lawyer from one case.

The firm's administrator (the system actor here) walls ``walled_user_id`` off
``case_id``; as the application role under Row Level Security the walled lawyer then sees
the firm's case list without that case — also through raw SQL — while a colleague sees
it; lifting the wall restores access in the next transaction. Returns the lines to print.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from legal_data.models import Case, Document, Role
from legal_data.rbac import walls
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.context import SYSTEM_ROLE


def _view(
    app_sessions: sessionmaker[Any], firm_id: uuid.UUID, user_id: uuid.UUID, case_id: uuid.UUID
) -> tuple[int, bool, int, int]:
    with (
        tenant_scope(firm_id, user_id=user_id, role="lawyer", reason="案件一覧"),
        app_sessions() as s,
        s.begin(),
    ):
        n_cases = s.scalar(select(func.count()).select_from(Case)) or 0
        sees = s.get(Case, (firm_id, case_id)) is not None
        raw = s.execute(text("SELECT count(*) FROM cases WHERE id = :c"), {"c": case_id}).scalar()
        docs = s.scalar(
            select(func.count()).select_from(Document).where(Document.case_id == case_id)
        )
        return n_cases, sees, int(raw or 0), int(docs or 0)


def demo_walls(
    app_sessions: sessionmaker[Any],
    admin_sessions: sessionmaker[Any],
    firm_id: uuid.UUID,
    case_id: uuid.UUID,
    walled_user_id: uuid.UUID,
    colleague_user_id: uuid.UUID,
) -> list[str]:
    """Wall ``walled_user_id`` off ``case_id``, show both views, lift the wall."""
    del admin_sessions  # the wall is set through the app role, as a firm's admin would
    lines = ["情報遮断措置 (ethical wall)"]
    with (
        tenant_scope(firm_id, role=SYSTEM_ROLE, reason="情報遮断措置の設定"),
        app_sessions() as s,
        s.begin(),
    ):
        title = s.scalar(select(Case.title).where(Case.id == case_id))
        wall = walls.add_wall(
            s,
            None,
            case_id,
            user_id=walled_user_id,
            reason="相手方代理人事務所から移籍した弁護士のため",
        )
        wall_id = wall.id
        roles = [r.name for r in s.scalars(select(Role).order_by(Role.name))]
    lines.append(f"  default roles: {', '.join(roles)}")
    lines.append(f"  wall set: lawyer {str(walled_user_id)[:8]} screened from 「{title}」")
    for label, user in (("walled lawyer", walled_user_id), ("colleague", colleague_user_id)):
        n, sees, raw, docs = _view(app_sessions, firm_id, user, case_id)
        lines.append(
            f"  {label:13s}: {n} cases visible; the walled case via ORM: "
            f"{'visible' if sees else 'hidden'}, via raw SQL: {raw} row(s), its documents: {docs}"
        )
    with (
        tenant_scope(firm_id, role=SYSTEM_ROLE, reason="情報遮断措置の解除"),
        app_sessions() as s,
        s.begin(),
    ):
        walls.end_wall(s, None, wall_id)
    n, sees, raw, _docs = _view(app_sessions, firm_id, walled_user_id, case_id)
    lines.append(
        f"  wall lifted  : walled lawyer now sees {n} cases; the case: "
        f"{'visible' if sees else 'hidden'} (every change to the wall is in the audit trail)"
    )
    return lines
