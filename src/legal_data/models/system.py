"""Firms (tenants), per-firm counters and the migration bookkeeping table."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.ids import new_id
from legal_data.models.base import Base, GlobalTable, TenantScoped, Timestamps

TENANT_STATUSES = ("active", "suspended", "closed")
FIRM_FORMS = ("individual", "partnership", "professional_corporation")


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL for ``column IN (...)``: the text + CHECK replacement for enums."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


class Tenant(Timestamps, Base):
    """A law firm. Its row is visible only inside its own tenant context."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(in_list("status", TENANT_STATUSES), name="status"),
        CheckConstraint(in_list("firm_form", FIRM_FORMS), name="firm_form"),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="slug_format"),
        CheckConstraint(
            "qualified_invoice_number IS NULL OR qualified_invoice_number ~ '^T[0-9]{13}$'",
            name="qualified_invoice_number_format",
        ),
        Index("uq_tenants_slug", "slug", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str | None] = mapped_column(Text)
    # 弁護士法人 (professional_corporation) invoices carry no 源泉徴収.
    firm_form: Mapped[str] = mapped_column(Text, server_default=text("'individual'"))
    # 適格請求書発行事業者登録番号: T + 13 digits.
    qualified_invoice_number: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'active'"))


class TenantCounter(TenantScoped, Base):
    """Per-firm counters for human numbers (case display numbers, invoice numbers).

    A global sequence would leak one firm's volume to another; a row per firm and
    counter name, incremented under its row lock, does not.
    """

    __tablename__ = "tenant_counters"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("uq_tenant_counters_tenant_id_name", "tenant_id", "name", unique=True),
    )

    name: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(server_default=text("0"))


class SchemaRevision(GlobalTable, Base):
    """Checksum of every applied Alembic revision file (Flyway-style validation)."""

    __tablename__ = "schema_revisions"

    revision: Mapped[str] = mapped_column(Text, primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
