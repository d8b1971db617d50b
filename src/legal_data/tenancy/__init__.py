"""Tenant isolation: the tenant context, tenant sessions and the Row Level Security SQL.

Firms are kept apart by PostgreSQL Row Level Security; this package makes sure every
transaction tells PostgreSQL which firm it works for (``SET LOCAL`` from a
``ContextVar``) and refuses to run when it cannot. See :mod:`.policies` for the SQL.
"""

from legal_data.tenancy.context import (
    TenantContext,
    current_context,
    system_scope,
    tenant_scope,
    use_context,
    with_tenant,
)
from legal_data.tenancy.session import (
    TenantSession,
    async_tenant_session,
    async_tenant_sessionmaker,
    render_context_sql,
    tenant_session,
    tenant_sessionmaker,
)

__all__ = [
    "TenantContext",
    "TenantSession",
    "async_tenant_session",
    "async_tenant_sessionmaker",
    "current_context",
    "render_context_sql",
    "system_scope",
    "tenant_scope",
    "tenant_session",
    "tenant_sessionmaker",
    "use_context",
    "with_tenant",
]

# READ auditing of models that opt in (``__audit_reads__``) listens on TenantSession.
import legal_data.audit.access  # noqa: F401
