"""factory-boy factories for the models, with realistic Japanese sample values.

Factories write through whatever session :func:`bind_session` gave them, so they work
for the app role under Row Level Security (inside a ``tenant_scope``) and for the
admin session alike. ``tenant_id`` defaults to the tenant in context.

    with tenant_scope(firm.id), app_sessions() as s, s.begin(), bind_session(s):
        case = CaseFactory(title="損害賠償請求事件")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy.orm import Session

from legal_data.domain.corporate_number import corporate_number_check_digit
from legal_data.errors import TenantContextMissing
from legal_data.models import (
    Case,
    CaseAssignment,
    CaseParty,
    Client,
    CourtCase,
    Party,
    PartyRelation,
    Tenant,
    User,
)
from legal_data.tenancy.context import current_context

_ALL: list[type[SQLAlchemyModelFactory]] = []


def _context_tenant() -> object:
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing("factories need a tenant_scope(...) or an explicit tenant_id")
    return ctx.tenant_id


def corporate_number(n: int) -> str:
    """A valid 法人番号 derived from ``n`` (check digit computed)."""
    base = f"{n % 10**12:012d}"
    return f"{corporate_number_check_digit(base)}{base}"


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        _ALL.append(cls)


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


class TenantFactory(_Base):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"firm-{n:04d}")
    name = factory.Sequence(lambda n: f"法律事務所テスト{n}")
    name_kana = "ホウリツジムショテスト"
    firm_form = "individual"
    qualified_invoice_number = factory.Sequence(lambda n: f"T{corporate_number(n + 1)}")


class _TenantOwned(_Base):
    class Meta:
        abstract = True

    tenant_id = factory.LazyFunction(_context_tenant)


class UserFactory(_TenantOwned):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"lawyer{n}@example.jp")
    display_name = factory.Sequence(lambda n: f"弁護士 太郎{n}")
    name_kana = "ベンゴシ タロウ"
    kind = "lawyer"
    bar_registration_number = factory.Sequence(lambda n: f"{10000 + n % 89999:05d}")


class PartyFactory(_TenantOwned):
    class Meta:
        model = Party

    kind = "company"
    name = factory.Sequence(lambda n: f"株式会社サンプル商事{n}")
    name_kana = "サンプルショウジ"
    corporate_number = factory.Sequence(lambda n: corporate_number(7_000_000 + n))


class PersonPartyFactory(PartyFactory):
    kind = "person"
    name = factory.Sequence(lambda n: f"山田 花子{n}")
    name_kana = "ヤマダ ハナコ"
    corporate_number = None


class PartyRelationFactory(_TenantOwned):
    class Meta:
        model = PartyRelation

    from_party_id = factory.LazyAttribute(lambda o: PersonPartyFactory(tenant_id=o.tenant_id).id)
    to_party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    kind = "representative"


class ClientFactory(_TenantOwned):
    class Meta:
        model = Client

    party = factory.SubFactory(PartyFactory, tenant_id=factory.SelfAttribute("..tenant_id"))
    party_id = factory.SelfAttribute("party.id")
    client_code = factory.Sequence(lambda n: f"C-{n:05d}")
    status = "active"


class CaseFactory(_TenantOwned):
    class Meta:
        model = Case

    client = factory.SubFactory(ClientFactory, tenant_id=factory.SelfAttribute("..tenant_id"))
    client_id = factory.SelfAttribute("client.id")
    title = factory.Sequence(lambda n: f"損害賠償請求事件{n}")
    practice_area = "civil"
    status = "open"
    opened_on = factory.LazyFunction(lambda: dt.date(2026, 4, 1))


class CaseAssignmentFactory(_TenantOwned):
    class Meta:
        model = CaseAssignment

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    role = "responsible"


class CasePartyFactory(_TenantOwned):
    class Meta:
        model = CaseParty

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    role = "opposing_party"


class CourtCaseFactory(_TenantOwned):
    class Meta:
        model = CourtCase

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    court_code = "tokyo-district"
    era = "令和"
    era_year = 7
    type_code = "ワ"
    number = factory.Sequence(lambda n: 1000 + n)
