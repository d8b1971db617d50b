"""Work: tasks (期日, 期限) and the "my open tasks" index; communications, participants and
e-mail threads. Rules are tried through the ORM and plain SQL as the app role."""

from __future__ import annotations

import datetime as dt

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture, run, sql  # noqa: F401
from sqlalchemy import select, text

from legal_data.errors import CheckViolation, ForeignKeyViolation, UniqueViolation
from legal_data.models import CommunicationEmail, Task
from legal_data.models.work import email_thread
from legal_data.testing.factories import (
    CommunicationEmailFactory,
    CommunicationFactory,
    CommunicationParticipantFactory,
    TaskFactory,
    UserFactory,
)

JST = dt.timezone(dt.timedelta(hours=9))


def test_deadline_tasks_need_a_due_time(db, firm):
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: TaskFactory(kind="控訴期限", due_at=None))
    assert info.value.rule == "ck_tasks_deadline_has_due_at"
    assert "期日" in str(info.value)
    task = run(db, firm, lambda s: TaskFactory(kind="調査", due_at=None))  # not a deadline
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE tasks SET kind = '期日' WHERE id = :id", id=task.id)
    assert info.value.rule == "ck_tasks_deadline_has_due_at"
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE tasks SET kind = 'deadline' WHERE id = :id", id=task.id)
    assert info.value.rule == "ck_tasks_kind"


def test_a_done_task_has_its_completion_time(db, firm):
    task = run(db, firm, lambda s: TaskFactory())

    def done_without_time(s):
        s.get(Task, (firm.id, task.id)).status = "done"

    with pytest.raises(CheckViolation) as info:
        run(db, firm, done_without_time)
    assert info.value.rule == "ck_tasks_completed_iff_done"
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "UPDATE tasks SET completed_at = now() WHERE id = :id", id=task.id)
    assert info.value.rule == "ck_tasks_completed_iff_done"
    sql(
        db,
        firm,
        "UPDATE tasks SET status = 'done', completed_at = now() WHERE id = :id",
        id=task.id,
    )


def test_my_open_tasks_by_due_date_use_their_index(db, firm):
    def work(s):
        me, other = UserFactory(), UserFactory()
        base = dt.datetime(2026, 7, 1, 17, 0, tzinfo=JST)
        TaskFactory(assignee_id=me.id, due_at=base + dt.timedelta(days=3), title="3")
        TaskFactory(assignee_id=me.id, due_at=base + dt.timedelta(days=1), title="1")
        TaskFactory(assignee_id=me.id, kind="その他", due_at=None, title="none")
        TaskFactory(assignee_id=me.id, due_at=base, title="done", status="done", completed_at=base)
        TaskFactory(assignee_id=other.id, due_at=base, title="other's")
        query = (
            select(Task.title)
            .where(
                Task.tenant_id == firm.id,
                Task.assignee_id == me.id,
                Task.status.in_(("open", "in_progress")),
            )
            .order_by(Task.due_at.asc().nulls_last())
        )
        titles = s.scalars(query).all()
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            s.execute(
                text("EXPLAIN " + str(query.compile(compile_kwargs={"literal_binds": True})))
            ).scalars()
        )
        return titles, plan

    titles, plan = run(db, firm, work)
    assert titles == ["1", "3", "none"]
    assert "ix_tasks_tenant_id_assignee_id_due_at_open" in plan


def test_communications_channel_and_participants(db, firm):
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: CommunicationFactory(channel="telegram"))
    assert info.value.rule == "ck_communications_channel"
    call = run(db, firm, lambda s: CommunicationFactory())
    with pytest.raises(CheckViolation) as info:
        run(
            db,
            firm,
            lambda s: CommunicationParticipantFactory(
                communication_id=call.id, party_id=None, user_id=None, address=None
            ),
        )
    assert info.value.rule == "ck_communication_participants_identifies_someone"


def test_email_details_belong_to_an_email(db, firm, firms):
    phone = run(db, firm, lambda s: CommunicationFactory(channel="phone"))
    with pytest.raises(ForeignKeyViolation) as info:
        run(db, firm, lambda s: CommunicationEmailFactory(communication_id=phone.id))
    assert info.value.rule == "fk_communication_emails_communication_email"
    mail = run(db, firm, lambda s: CommunicationEmailFactory())
    with pytest.raises(ForeignKeyViolation):  # an e-mail cannot turn into a phone call
        sql(
            db,
            firm,
            "UPDATE communications SET channel = 'phone' WHERE id = :id",
            id=mail.communication_id,
        )
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE communication_emails SET message_id = 'no-brackets@example.jp' WHERE id = :id",
            id=mail.id,
        )
    assert info.value.rule == "ck_communication_emails_message_id_format"


def test_message_ids_are_unique_per_firm(db, firm, firms):
    run(db, firm, lambda s: CommunicationEmailFactory(message_id="<same@example.jp>"))
    with pytest.raises(UniqueViolation) as info:
        run(db, firm, lambda s: CommunicationEmailFactory(message_id="<same@example.jp>"))
    assert info.value.rule == "uq_communication_emails_tenant_id_message_id"
    other = firms.new()
    run(db, other, lambda s: CommunicationEmailFactory(message_id="<same@example.jp>"))


def test_a_thread_can_be_reconstructed(db, firm):
    def work(s):
        first = CommunicationEmailFactory(message_id="<1@a.jp>")
        reply = CommunicationEmailFactory(message_id="<2@b.jp>", in_reply_to="<1@a.jp>")
        # A client that only sends References still lands in the thread.
        third = CommunicationEmailFactory(
            message_id="<3@a.jp>", reference_message_ids=["<1@a.jp>", "<2@b.jp>"]
        )
        unrelated = CommunicationEmailFactory(message_id="<9@c.jp>", in_reply_to="<8@c.jp>")
        thread = [
            e.message_id for e in email_thread(s, s.get(CommunicationEmail, (firm.id, third.id)))
        ]
        return first, reply, third, unrelated, thread

    first, reply, third, unrelated, thread = run(db, firm, work)
    assert first.thread_id == first.id
    assert reply.thread_id == third.thread_id == first.id
    assert unrelated.thread_id == unrelated.id
    assert thread == ["<1@a.jp>", "<2@b.jp>", "<3@a.jp>"]
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: CommunicationEmailFactory(message_id="<x@y>", in_reply_to="<x@y>"))
    assert info.value.rule == "ck_communication_emails_not_reply_to_self"
