"""Shared helpers of the domain-rule suites (documents, work, billing, trust, intake).

Imported explicitly, not a conftest: a suite imports ``db_fixture``, ``firm_fixture`` and
``firms_fixture`` (the fixtures ``db``, ``firm``, ``firms``) and the helpers it uses.
Every test gets a fresh firm of its own (``firm``) instead of a truncated database:
firms are isolated by Row Level Security, so tests cannot see each other's rows, and
the module truncates once at the end.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import text

from legal_data.models import Tenant
from legal_data.tenancy import tenant_session
from legal_data.testing.factories import bind_session
from legal_data.testing.harness import Harness
from legal_data.testing.plugin import TEST_ACTOR, make_tenant

_numbers = itertools.count(1)


class Firms:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    def new(self, **fields: Any) -> Tenant:
        n = next(_numbers)
        return make_tenant(self.harness, f"domain-{n:04d}", f"ドメイン検証法律事務所{n}", **fields)


@pytest.fixture(name="firms", scope="module")
def firms_fixture(legal_data_harness: Harness):
    yield Firms(legal_data_harness)
    legal_data_harness.truncate_all()


@pytest.fixture(name="firm")
def firm_fixture(firms: Firms) -> Tenant:
    return firms.new()


def run(harness: Harness, tenant: Tenant, work, **context: Any):
    """``work(session)`` in one app-role transaction of ``tenant``, factories bound."""
    with (
        tenant_session(
            harness.app_sessions, tenant.id, **{"role": "test", "user_id": TEST_ACTOR, **context}
        ) as s,
        bind_session(s),
    ):
        return work(s)


def sql(harness: Harness, tenant: Tenant, statement: str, **params: Any):
    """Plain SQL as the app role, in one transaction of ``tenant``."""
    return run(harness, tenant, lambda s: s.execute(text(statement), params))


@pytest.fixture(name="db")
def db_fixture(legal_data_harness: Harness) -> Harness:
    """The migrated database: ``db.app_sessions`` (app role), ``db.admin_engine``."""
    return legal_data_harness
