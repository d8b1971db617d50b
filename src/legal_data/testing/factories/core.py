"""Factories for firms, users, parties, clients and cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from legal_data.domain.my_number import sample_my_number
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
from legal_data.models.intake import open_case
from legal_data.testing.factories.base import FactoryBase, TenantOwnedFactory, corporate_number


class TenantFactory(FactoryBase):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"firm-{n:04d}")
    name = factory.Sequence(lambda n: f"法律事務所テスト{n}")
    name_kana = "ホウリツジムショテスト"
    firm_form = "individual"
    qualified_invoice_number = factory.Sequence(lambda n: f"T{corporate_number(n + 1)}")


class UserFactory(TenantOwnedFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"lawyer{n}@example.jp")
    display_name = factory.Sequence(lambda n: f"弁護士 太郎{n}")
    name_kana = "ベンゴシ タロウ"
    kind = "lawyer"
    bar_registration_number = factory.Sequence(lambda n: f"{10000 + n % 89999:05d}")


class PartyFactory(TenantOwnedFactory):
    class Meta:
        model = Party

    kind = "company"
    name = factory.Sequence(lambda n: f"株式会社サンプル商事{n}")
    name_kana = "サンプルショウジ"
    corporate_number = factory.Sequence(lambda n: corporate_number(7_000_000 + n))


class PersonPartyFactory(PartyFactory):
    """A person. ``PersonPartyFactory(sensitive=True)`` also fills the encrypted fields
    (個人番号 with a valid check digit, address, phone, e-mail, date of birth)."""

    kind = "person"
    name = factory.Sequence(lambda n: f"山田 花子{n}")
    name_kana = "ヤマダ ハナコ"
    corporate_number = None

    class Params:
        sensitive = factory.Trait(
            my_number=factory.Sequence(lambda n: sample_my_number(40_000_000_000 + n)),
            address=factory.Sequence(lambda n: f"東京都千代田区霞が関1-{n % 9 + 1}-1"),
            phone=factory.Sequence(lambda n: f"090-{n // 10000 % 10000:04d}-{n % 10000:04d}"),
            email=factory.Sequence(lambda n: f"hanako{n}@example.jp"),
            date_of_birth=dt.date(1980, 4, 1),
        )


class PartyRelationFactory(TenantOwnedFactory):
    class Meta:
        model = PartyRelation

    from_party_id = factory.LazyAttribute(lambda o: PersonPartyFactory(tenant_id=o.tenant_id).id)
    to_party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    kind = "representative"


class ClientFactory(TenantOwnedFactory):
    class Meta:
        model = Client

    party = factory.SubFactory(PartyFactory, tenant_id=factory.SelfAttribute("..tenant_id"))
    party_id = factory.SelfAttribute("party.id")
    client_code = factory.Sequence(lambda n: f"C-{n:05d}")
    status = "active"

    class Params:
        #: ``ClientFactory(with_bank_account=True)``: an encrypted 振込先口座.
        with_bank_account = factory.Trait(
            bank_account=factory.LazyFunction(
                lambda: {
                    "bank": "三井住友銀行",
                    "branch": "東京中央支店",
                    "type": "普通",
                    "number": "1234567",
                    "holder": "カ) サンプルショウジ",
                }
            )
        )


class CaseFactory(TenantOwnedFactory):
    """A case, in ``intake`` by default.

    The database's conflict gate refuses a case born in any other status. Given another
    ``status`` (``CaseFactory(status="open")``), the factory does what the application
    does: insert in intake, record a clear conflict check
    (:func:`legal_data.models.intake.open_case`), then UPDATE the status (and
    ``closed_on``)."""

    class Meta:
        model = Case

    client = factory.SubFactory(ClientFactory, tenant_id=factory.SelfAttribute("..tenant_id"))
    client_id = factory.SelfAttribute("client.id")
    title = factory.Sequence(lambda n: f"損害賠償請求事件{n}")
    practice_area = "civil"
    status = "intake"
    opened_on = factory.LazyFunction(lambda: dt.date(2026, 4, 1))

    @classmethod
    def _create(cls, model_class: type[Case], *args: Any, **kwargs: Any) -> Case:
        status = kwargs.pop("status", "intake")
        closed_on = kwargs.pop("closed_on", None)
        case = super()._create(model_class, *args, status="intake", **kwargs)
        if status != "intake" or closed_on is not None:
            client = kwargs.get("client")
            terms = [client.party.name] if client is not None else [case.title]
            open_case(
                cls._meta.sqlalchemy_session,
                case,
                status=status,
                query_terms=terms,
                closed_on=closed_on,
            )
        return case


class CaseAssignmentFactory(TenantOwnedFactory):
    class Meta:
        model = CaseAssignment

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    role = "responsible"


class CasePartyFactory(TenantOwnedFactory):
    class Meta:
        model = CaseParty

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    role = "opposing_party"


class CourtCaseFactory(TenantOwnedFactory):
    class Meta:
        model = CourtCase

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    court_code = "tokyo-district"
    era = "令和"
    era_year = 7
    type_code = "ワ"
    number = factory.Sequence(lambda n: 1000 + n)
