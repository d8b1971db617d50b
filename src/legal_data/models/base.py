"""Declarative base, naming convention and the column conventions every table follows.

Conventions (binding for every table, checked by catalog tests):

- tenant-scoped tables carry ``tenant_id uuid NOT NULL`` and have the primary key
  ``(tenant_id, id)``; foreign keys between them are composite, so the database
  itself makes a cross-firm reference impossible;
- every UNIQUE on a tenant-scoped table includes ``tenant_id``;
- ids are UUIDv7 generated in Python; status-like columns are ``text`` + CHECK;
  money is integer yen (``bigint``); timestamps are ``timestamptz``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from legal_data.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The actor of the current transaction, as sent by the tenant session (SET LOCAL).
CURRENT_ACTOR_SQL = "NULLIF(current_setting('app.current_user_id', true), '')::uuid"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        uuid.UUID: UUID(as_uuid=True),
        dt.datetime: DateTime(timezone=True),
        int: BigInteger(),
    }

    def __repr__(self) -> str:
        # Only identifiers: a repr must never print field contents (they may be secret).
        ident = ", ".join(
            f"{col}={getattr(self, col, None)!s}"
            for col in ("tenant_id", "id")
            if hasattr(self, col)
        )
        return f"<{type(self).__name__} {ident}>"


class GlobalTable:
    """Marker for reference tables shared by every firm (no ``tenant_id``, read-only to apps)."""

    __global_table__: ClassVar[bool] = True


class TenantScoped:
    """``tenant_id`` + ``id`` as the composite primary key."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True, sort_order=-100
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-99)


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), sort_order=90)
    updated_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), sort_order=91
    )


class Actors:
    """Who created and last changed the row, taken from the transaction's actor setting."""

    created_by: Mapped[uuid.UUID | None] = mapped_column(
        server_default=text(CURRENT_ACTOR_SQL), sort_order=92
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        server_default=text(CURRENT_ACTOR_SQL), onupdate=text(CURRENT_ACTOR_SQL), sort_order=93
    )


class BusinessRow(TenantScoped, Timestamps, Actors):
    """A tenant-scoped business table with the standard columns."""


class Versioned:
    """Optimistic locking: concurrent edits raise ``StaleDataError`` instead of losing data."""

    version: Mapped[int] = mapped_column(Integer, server_default=text("1"), sort_order=94)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class SoftDeleted:
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sort_order=95)


Yen = BigInteger


def tenant_fk(column: str, target: str, *, ondelete: str = "RESTRICT") -> ForeignKeyConstraint:
    """A composite ``(tenant_id, column) -> target (tenant_id, id)`` foreign key."""
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        ondelete=ondelete,
    )


def tenant_join(owner: str, column: str, target: str) -> str:
    """``primaryjoin`` for a relationship over a composite tenant FK.

    Only the id column is marked ``foreign()``: ``tenant_id`` is shared by several
    overlapping foreign keys and must not be written by any single relationship
    (SQLAlchemy's documented pattern for overlapping composite foreign keys).
    """
    return (
        f"and_({owner}.tenant_id == {target}.tenant_id, foreign({owner}.{column}) == {target}.id)"
    )
