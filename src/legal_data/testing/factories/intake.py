"""Factories for consultations, their parties and conflict checks."""

from __future__ import annotations

import datetime as dt

import factory

from legal_data.models import ConflictCheck, Consultation, ConsultationParty
from legal_data.testing.factories.base import TenantOwnedFactory
from legal_data.testing.factories.core import (
    CaseFactory,
    ClientFactory,
    PersonPartyFactory,
    UserFactory,
)

JST = dt.timezone(dt.timedelta(hours=9))


class ConsultationFactory(TenantOwnedFactory):
    """A consultation of a client that became a case (pass ``status="open"``,
    ``case_id=None`` for one that has not)."""

    class Meta:
        model = Consultation

    consulted_at = factory.Sequence(
        lambda n: dt.datetime(2026, 4, 10, 14, 0, tzinfo=JST) + dt.timedelta(days=n)
    )
    subject = factory.Sequence(lambda n: f"貸金返還についての相談{n}")
    lawyer_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    client_id = factory.LazyAttribute(lambda o: ClientFactory(tenant_id=o.tenant_id).id)
    status = "became_case"
    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    fee_yen = 5_500


class ConsultationPartyFactory(TenantOwnedFactory):
    class Meta:
        model = ConsultationParty

    consultation_id = factory.LazyAttribute(lambda o: ConsultationFactory(tenant_id=o.tenant_id).id)
    party_id = factory.LazyAttribute(lambda o: PersonPartyFactory(tenant_id=o.tenant_id).id)
    role = "consulter"


class ConflictCheckFactory(TenantOwnedFactory):
    """A clear, accepted conflict check of a case in intake, run for the consultation that
    led to it (pass ``consultation_id=None`` / ``decision=None`` etc. to leave them out)."""

    class Meta:
        model = ConflictCheck

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    consultation_id = factory.LazyAttribute(lambda o: ConsultationFactory(tenant_id=o.tenant_id).id)
    query_terms = factory.LazyFunction(lambda: ["ヤマダハナコ", "株式会社サンプル商事"])
    hits = factory.LazyFunction(list)
    result = "clear"
    checked_by = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    checked_at = factory.Sequence(
        lambda n: dt.datetime(2026, 4, 10, 15, 0, tzinfo=JST) + dt.timedelta(seconds=n)
    )
    decision = "accept"
    decided_by = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    decided_at = factory.LazyAttribute(lambda o: o.checked_at + dt.timedelta(hours=1))
