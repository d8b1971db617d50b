"""Demo: the audit trail of everything the demo did, sealed and verified."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import sessionmaker

from legal_data.audit import seal_tenant, verify_tenant
from legal_data.cli.common import print_table
from legal_data.models import AuditLog, SecurityEvent
from legal_data.tenancy import tenant_scope


def show_audit_trail(console: Console, app: sessionmaker, admin: Engine, firm, others) -> None:  # type: ignore[no-untyped-def]
    """What firm ``firm`` sees of its own trail (as the app role), then seal and verify
    every demo firm as the operator would from cron."""
    with (
        tenant_scope(firm.tenant_id, user_id=firm.lawyer_ids[0], role="lawyer"),
        app() as s,
        s.begin(),
    ):
        counts = s.execute(
            select(AuditLog.table_name, AuditLog.action, func.count())
            .group_by(AuditLog.table_name, AuditLog.action)
            .order_by(func.count().desc(), AuditLog.table_name)
            .limit(10)
        ).all()
        latest = s.execute(
            select(
                AuditLog.occurred_at,
                AuditLog.actor_role,
                AuditLog.action,
                AuditLog.table_name,
                AuditLog.changed_values,
                AuditLog.reason,
            )
            .where(AuditLog.action == "UPDATE")
            .order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc())
            .limit(6)
        ).all()
        events = s.execute(
            select(SecurityEvent.kind, SecurityEvent.severity, func.count()).group_by(
                SecurityEvent.kind, SecurityEvent.severity
            )
        ).all()
    print_table(
        f"Audit trail of {firm.sample.name}: most frequent changes (read as the app role)",
        ["table", "action", "rows"],
        counts,
    )
    print_table(
        "Latest updates (only the changed columns are kept)",
        ["when", "actor role", "action", "table", "changed columns", "reason"],
        [
            (f"{at:%H:%M:%S.%f}"[:-3], role, action, table, ", ".join(sorted(changed or {})), why)
            for at, role, action, table, changed, why in latest
        ],
    )
    if events:
        print_table("Security events of the firm", ["kind", "severity", "count"], events)
    rows = []
    for loaded in [firm, *others]:
        with admin.begin() as conn:
            sealed = seal_tenant(conn, loaded.tenant_id)
        with admin.begin() as conn:
            report = verify_tenant(conn, loaded.tenant_id)
        rows.append(
            (
                loaded.slug,
                sum(r.row_count for r in sealed),
                report.seals,
                report.rows_verified,
                "ok" if report.ok else f"FAILED: {report.findings[0]}",
            )
        )
    print_table(
        "legal-data audit seal + verify (operator, every demo firm)",
        ["firm", "rows sealed", "seals", "rows verified", "verify"],
        rows,
    )
    with admin.connect() as conn:
        default_rows = conn.execute(text("SELECT count(*) FROM audit_logs_default")).scalar()
    console.print(f"rows in the default audit partition: {default_rows} (must stay 0)")
