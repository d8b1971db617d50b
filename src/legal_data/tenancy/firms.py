"""Creating a firm (tenant) and the defaults every new firm starts with."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from legal_data.errors import InvalidTenantContext
from legal_data.ids import new_id
from legal_data.models import Tenant
from legal_data.models.documents import seed_document_categories
from legal_data.rbac.admin import seed_default_roles
from legal_data.tenancy.context import SYSTEM_ROLE, current_context, tenant_scope


def create_firm(session: Session, *, slug: str, name: str, **fields: Any) -> Tenant:
    """Insert a firm and its per-firm defaults (the document categories 訴状, 答弁書, …)
    in the session's current transaction.

    The context must already name the new firm (``tenant_scope(firm_id, ...)`` with an
    actor or the system actor): Row Level Security lets a firm create only itself, and
    the firm's first audit rows belong to it. :func:`new_firm` does all of that.
    """
    firm_id: uuid.UUID = fields.pop("id", None) or new_id()
    ctx = current_context()
    if ctx is None or ctx.tenant_id != firm_id:
        raise InvalidTenantContext("create_firm must run in tenant_scope(<the new firm's id>)")
    tenant = Tenant(id=firm_id, slug=slug, name=name, **fields)
    session.add(tenant)
    session.flush()
    seed_document_categories(session, firm_id)
    seed_default_roles(session, firm_id)
    return tenant


def new_firm(
    sessions: sessionmaker[Any], *, slug: str, name: str, reason: str = "create firm", **fields: Any
) -> Tenant:
    """Create a firm in its own transaction, as the system actor (operator work)."""
    firm_id = new_id()
    with tenant_scope(firm_id, role=SYSTEM_ROLE, reason=reason), sessions() as s, s.begin():
        return create_firm(s, id=firm_id, slug=slug, name=name, **fields)
