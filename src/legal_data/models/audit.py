"""The audit trail's tables: the log, its seals and archives, and security events.

These tables are append-only and must outlive what they describe, so ``tenant_id``
carries no foreign key to ``tenants`` (deleting a firm must not delete its trail).
``audit_logs`` is partitioned by month on a server-set ``occurred_at``; the partitions
are created by ``audit_ensure_partitions()`` and are not part of the model.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Index, LargeBinary, SmallInteger, Text, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from legal_data.models.base import Base, GlobalTable
from legal_data.models.system import in_list

AUDIT_ACTIONS = ("INSERT", "UPDATE", "DELETE", "READ")
SEVERITIES = ("info", "notice", "warning", "critical")
#: Tenant id of security events that no firm can be blamed for (unknown firm at login).
NO_TENANT = uuid.UUID(int=0)


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "XID8"


# Let reflection (alembic check) recognize the type instead of warning about it.
ischema_names.setdefault("xid8", XID8)


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        CheckConstraint(in_list("action", AUDIT_ACTIONS), name="action"),
        # id last: "newest first" pages order by (occurred_at, id) (revision 0019).
        Index("ix_audit_logs_tenant_id_occurred_at", "tenant_id", "occurred_at", "id"),
        Index("ix_audit_logs_tenant_id_txid_id", "tenant_id", "txid", "id"),
        Index("ix_audit_logs_tenant_id_table_name_row_id", "tenant_id", "table_name", "row_id"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("app_uuid_v7()"))
    occurred_at: Mapped[dt.datetime] = mapped_column(
        primary_key=True, server_default=text("statement_timestamp()")
    )
    txid: Mapped[int] = mapped_column(XID8(), server_default=text("pg_current_xact_id()"))
    table_name: Mapped[str] = mapped_column(Text)
    row_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(Text)
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    changed_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(Text)
    client_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))


class AuditSeal(Base):
    """One sealed batch of a firm's audit rows: an RFC 6962 Merkle root over the rows
    whose transaction ids lie in ``[txid_from, txid_to)``, chained to the previous seal."""

    __tablename__ = "audit_seals"
    __table_args__ = (
        CheckConstraint("batch_no >= 1", name="batch_no_positive"),
        CheckConstraint("row_count >= 0", name="row_count_not_negative"),
        CheckConstraint("octet_length(merkle_root) = 32", name="merkle_root_sha256"),
        CheckConstraint("octet_length(seal_hash) = 32", name="seal_hash_sha256"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    batch_no: Mapped[int] = mapped_column(primary_key=True)
    txid_from: Mapped[int] = mapped_column(XID8())
    txid_to: Mapped[int] = mapped_column(XID8())
    row_count: Mapped[int]
    # Earliest and latest occurred_at of the batch: tells which monthly partitions hold it.
    occurred_from: Mapped[dt.datetime | None]
    occurred_to: Mapped[dt.datetime | None]
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary)
    prev_seal_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    seal_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    sealed_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class AuditArchive(GlobalTable, Base):
    """A month exported by ``legal-data audit archive`` and then dropped (operator data:
    no firm column, no privileges for the application roles)."""

    __tablename__ = "audit_archives"

    partition_name: Mapped[str] = mapped_column(Text, primary_key=True)
    row_count: Mapped[int]
    archive_sha256: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class SecurityEvent(Base):
    __tablename__ = "security_events"
    __table_args__ = (
        CheckConstraint(in_list("severity", SEVERITIES), name="severity"),
        CheckConstraint("kind ~ '^[a-z][a-z0-9_]{1,62}$'", name="kind_format"),
        Index("ix_security_events_tenant_id_occurred_at", "tenant_id", "occurred_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    kind: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    actor_id: Mapped[uuid.UUID | None]
    client_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
