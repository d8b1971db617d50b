"""Creating a firm (tenant) and the defaults every new firm starts with."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from legal_data.ids import new_id
from legal_data.models import Tenant
from legal_data.models.documents import seed_document_categories


def create_firm(session: Session, *, slug: str, name: str, **fields: Any) -> Tenant:
    """Insert a firm and its per-firm defaults (the document categories 訴状, 答弁書, …)
    in the session's current transaction.

    Through a tenant session the context must already name the new firm's id
    (``tenant_scope(firm_id)``): Row Level Security lets a firm create only itself.
    """
    firm_id: uuid.UUID = fields.pop("id", None) or new_id()
    tenant = Tenant(id=firm_id, slug=slug, name=name, **fields)
    session.add(tenant)
    session.flush()
    seed_document_categories(session, firm_id)
    return tenant
