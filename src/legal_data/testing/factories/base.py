"""Shared machinery of the factories: the session they write through, the tenant default."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from legal_data.domain.corporate_number import corporate_number_check_digit
from legal_data.errors import TenantContextMissing
from legal_data.tenancy.context import current_context

_ALL: list[type[SQLAlchemyModelFactory]] = []


def context_tenant() -> uuid.UUID:
    """The tenant in context: the default ``tenant_id`` of every tenant-owned factory."""
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing("factories need a tenant_scope(...) or an explicit tenant_id")
    return ctx.tenant_id


def corporate_number(n: int) -> str:
    """A valid 法人番号 derived from ``n`` (check digit computed)."""
    base = f"{n % 10**12:012d}"
    return f"{corporate_number_check_digit(base)}{base}"


class FactoryBase(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        _ALL.append(cls)


class TenantOwnedFactory(FactoryBase):
    class Meta:
        abstract = True

    tenant_id = factory.LazyFunction(context_tenant)


@contextmanager
def bind_session(session: Session) -> Iterator[Session]:
    """Make every factory write through ``session`` inside the block."""
    previous = [f._meta.sqlalchemy_session for f in _ALL]
    for f in _ALL:
        f._meta.sqlalchemy_session = session
    try:
        yield session
    finally:
        for f, prev in zip(_ALL, previous, strict=True):
            f._meta.sqlalchemy_session = prev
