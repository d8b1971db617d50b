"""Factories for tasks and communications (with participants and e-mail specifics)."""

from __future__ import annotations

import datetime as dt

import factory

from legal_data.models import Communication, CommunicationEmail, CommunicationParticipant, Task
from legal_data.testing.factories.base import TenantOwnedFactory
from legal_data.testing.factories.core import CaseFactory, PartyFactory, UserFactory

JST = dt.timezone(dt.timedelta(hours=9))


class TaskFactory(TenantOwnedFactory):
    class Meta:
        model = Task

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    assignee_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    kind = "提出期限"
    title = factory.Sequence(lambda n: f"準備書面（{n}）提出期限")
    due_at = factory.Sequence(
        lambda n: dt.datetime(2026, 6, 1, 17, 0, tzinfo=JST) + dt.timedelta(days=n)
    )
    status = "open"
    priority = "normal"


class CommunicationFactory(TenantOwnedFactory):
    class Meta:
        model = Communication

    case_id = factory.LazyAttribute(lambda o: CaseFactory(tenant_id=o.tenant_id).id)
    channel = "phone"
    direction = "inbound"
    occurred_at = factory.Sequence(
        lambda n: dt.datetime(2026, 5, 1, 10, 0, tzinfo=JST) + dt.timedelta(hours=n)
    )
    party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    subject = "期日の件"
    body = "次回期日の調整について相手方代理人より電話あり。"


class CommunicationParticipantFactory(TenantOwnedFactory):
    class Meta:
        model = CommunicationParticipant

    communication_id = factory.LazyAttribute(
        lambda o: CommunicationFactory(tenant_id=o.tenant_id).id
    )
    role = "attendee"
    party_id = factory.LazyAttribute(lambda o: PartyFactory(tenant_id=o.tenant_id).id)
    user_id = factory.LazyAttribute(lambda o: UserFactory(tenant_id=o.tenant_id).id)
    address = "03-1234-5678"


class CommunicationEmailFactory(TenantOwnedFactory):
    """The e-mail specifics, with an ``email`` communication of its own unless given."""

    class Meta:
        model = CommunicationEmail

    communication_id = factory.LazyAttribute(
        lambda o: CommunicationFactory(tenant_id=o.tenant_id, channel="email").id
    )
    message_id = factory.Sequence(lambda n: f"<msg-{n}@mail.example.jp>")
    from_address = "counsel@opponent-law.example.jp"
    to_addresses = factory.LazyFunction(lambda: ["lawyer@firm.example.jp"])
    cc_addresses = factory.LazyFunction(list)
    sent_at = factory.Sequence(
        lambda n: dt.datetime(2026, 5, 1, 9, 0, tzinfo=JST) + dt.timedelta(minutes=n)
    )
