"""Shared helpers of the field-encryption suites (imported explicitly, not a conftest).

Every test gets firms of its own (``new_firm``); Row Level Security keeps them apart,
and the module truncates once at the end. Writes carry an actor (the audit trail
requires one): ``ACTOR`` for the application, the system actor for raw SQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from legal_data.crypto import runtime
from legal_data.models import Party, Tenant
from legal_data.tenancy import tenant_session
from legal_data.testing.factories import bind_session
from legal_data.testing.harness import Harness
from legal_data.testing.plugin import make_tenant

ACTOR = uuid.UUID("01890000-0000-7000-8000-0000000c0ffe")
_numbers = itertools.count(1)


class Firms:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    def new(self) -> Tenant:
        n = next(_numbers)
        return make_tenant(self.harness, f"crypto-{n:04d}", f"暗号化検証法律事務所{n}")


@pytest.fixture(name="firms", scope="module")
def firms_fixture(legal_data_harness: Harness) -> Iterator[Firms]:
    yield Firms(legal_data_harness)
    legal_data_harness.truncate_all()


@pytest.fixture(name="db")
def db_fixture(legal_data_harness: Harness) -> Harness:
    return legal_data_harness


@contextmanager
def acting(harness: Harness, firm: Tenant | uuid.UUID, **context: Any) -> Iterator[Session]:
    """One app-role transaction of ``firm`` with the test actor, factories bound."""
    firm_id = firm if isinstance(firm, uuid.UUID) else firm.id
    context.setdefault("user_id", ACTOR)
    context.setdefault("role", "lawyer")
    with tenant_session(harness.app_sessions, firm_id, **context) as s, bind_session(s):
        yield s


@contextmanager
def as_operator(harness: Harness, firm: Tenant | uuid.UUID | None = None) -> Iterator[Connection]:
    """One admin transaction (not filtered by RLS) as the system actor."""
    with harness.admin_engine.connect() as conn, conn.begin():
        if firm is not None:
            runtime.act_for_firm(conn, firm if isinstance(firm, uuid.UUID) else firm.id, "test")
        else:
            conn.exec_driver_sql("SET LOCAL app.current_user_role = 'system'")
        yield conn


def raw(harness: Harness, sql: str, **params: Any) -> list[Any]:
    """Rows of plain SQL as the admin (what is really stored)."""
    with harness.admin_engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def person(session: Session, **fields: Any) -> Party:
    """A person with every encrypted field filled (override any), flushed."""
    values: dict[str, Any] = {
        "kind": "person",
        "name": "山田 太郎",
        "my_number": "123456789018",
        "address": "東京都千代田区霞が関1-1-1",
        "phone": "090-1234-5678",
        "email": "taro@example.jp",
    }
    values.update(fields)
    values.setdefault("tenant_id", runtime.context_tenant("test"))
    party = Party(**values)
    session.add(party)
    session.flush()
    return party
