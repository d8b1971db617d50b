"""Security events: failed logins, token revocations, permission denials, tenant-context
violations and key operations, written by the library where it detects them.

Events are written through ``security_event_record()`` on a connection of their own
and committed at once: the transaction that caused them is usually being rolled back,
and the event must survive that. A failure to record is logged, never allowed to hide
the original error.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from legal_data.tenancy.context import TenantContext, current_context

log = logging.getLogger(__name__)

SEVERITIES = ("info", "notice", "warning", "critical")


_event_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _event_engine(engine: Engine) -> Engine:
    """A pool-less engine on the same login: an event must be recordable even when the
    application's pool is exhausted by the very request that failed."""
    with _lock:
        found = _event_engines.get(engine)
        if found is None:
            found = create_engine(
                engine.url,
                poolclass=NullPool,
                hide_parameters=True,
                connect_args={"application_name": "legal_data security events"},
            )
            _event_engines[engine] = found
        return found


def record_security_event(
    engine: Engine,
    kind: str,
    severity: str,
    details: dict[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    context: TenantContext | None = None,
) -> uuid.UUID | None:
    """Record one event in its own transaction; returns its id, or None if it failed."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    ctx = context or current_context()
    tenant = tenant_id or (ctx.tenant_id if ctx else None)
    try:
        from legal_data.tenancy.session import render_context_sql

        with _event_engine(engine).connect() as conn, conn.begin():
            if ctx is not None:
                conn.exec_driver_sql(
                    render_context_sql(ctx), execution_options={"no_parameters": True}
                )
            return conn.execute(
                text("SELECT security_event_record(:t, :k, :s, CAST(:d AS jsonb))"),
                {
                    "t": tenant,
                    "k": kind,
                    "s": severity,
                    "d": json.dumps(details or {}, ensure_ascii=False, default=str),
                },
            ).scalar_one()
    except Exception:
        log.warning("could not record security event %s", kind, exc_info=True)
        return None
