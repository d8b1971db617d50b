"""Work on a case: tasks (期日, 期限), and communications with their participants and
e-mail specifics (enough to reconstruct a thread)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKeyConstraint,
    Index,
    Text,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from legal_data.crypto.types import EncryptedText
from legal_data.models.base import Base, BusinessRow, Versioned, tenant_fk, tenant_join
from legal_data.models.system import in_list

#: Task kinds. The deadline kinds must carry a due time (``ck_tasks_deadline_has_due_at``).
DEADLINE_TASK_KINDS = ("期日", "提出期限", "控訴期限", "上告期限", "抗告期限", "異議期限", "時効")
TASK_KINDS = (*DEADLINE_TASK_KINDS, "打合せ", "連絡", "調査", "書面作成", "その他")
TASK_STATUSES = ("open", "in_progress", "done", "cancelled")
OPEN_TASK_STATUSES = ("open", "in_progress")
TASK_PRIORITIES = ("low", "normal", "high", "urgent")

COMMUNICATION_CHANNELS = ("email", "phone", "meeting", "letter", "fax", "portal")
COMMUNICATION_DIRECTIONS = ("inbound", "outbound", "internal")
PARTICIPANT_ROLES = ("from", "to", "cc", "bcc", "attendee", "caller", "callee")


class Task(BusinessRow, Versioned, Base):
    """A task or deadline, optionally on a case, assigned to a user."""

    __tablename__ = "tasks"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("assignee_id", "users"),
        CheckConstraint(in_list("kind", TASK_KINDS), name="kind"),
        CheckConstraint(in_list("status", TASK_STATUSES), name="status"),
        CheckConstraint(in_list("priority", TASK_PRIORITIES), name="priority"),
        CheckConstraint("btrim(title) <> ''", name="title_not_blank"),
        CheckConstraint(
            "kind NOT IN (" + ", ".join(f"'{k}'" for k in DEADLINE_TASK_KINDS) + ")"
            " OR due_at IS NOT NULL",
            name="deadline_has_due_at",
        ),
        CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)", name="completed_iff_done"
        ),
        # "My open tasks by due date" (tasks without a due time sort last).
        Index(
            "ix_tasks_tenant_id_assignee_id_due_at_open",
            "tenant_id",
            "assignee_id",
            "due_at",
            "id",  # keyset tie-break (revision 0019)
            postgresql_where=text("status IN ('open', 'in_progress')"),
        ),
        Index("ix_tasks_tenant_id_case_id_due_at", "tenant_id", "case_id", "due_at"),
    )

    case_id: Mapped[uuid.UUID | None]
    assignee_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None]
    # True for a date-only due (the time part of due_at is then 00:00 JST).
    all_day: Mapped[bool] = mapped_column(server_default=text("false"))
    status: Mapped[str] = mapped_column(Text, server_default=text("'open'"))
    priority: Mapped[str] = mapped_column(Text, server_default=text("'normal'"))
    # Who completed it is in updated_by (and the audit log).
    completed_at: Mapped[dt.datetime | None]


class Communication(BusinessRow, Base):
    """A letter, call, meeting, fax, portal message or e-mail about a case."""

    __tablename__ = "communications"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("party_id", "parties"),
        CheckConstraint(in_list("channel", COMMUNICATION_CHANNELS), name="channel"),
        CheckConstraint(in_list("direction", COMMUNICATION_DIRECTIONS), name="direction"),
        # Target of communication_emails' (tenant, communication, channel) key.
        Index("uq_communications_tenant_id_id_channel", "tenant_id", "id", "channel", unique=True),
        Index(
            "ix_communications_tenant_id_case_id_occurred_at", "tenant_id", "case_id", "occurred_at"
        ),
        Index("ix_communications_tenant_id_party_id", "tenant_id", "party_id"),
    )

    case_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime]
    # The counterpart (相手方, 裁判所, 依頼者…) when it is a known party.
    party_id: Mapped[uuid.UUID | None]
    subject: Mapped[str | None] = mapped_column(Text)
    # Encrypted and bound to this communication (privileged bodies must not be movable
    # to another matter); every body is, since privilege is decided per message.
    body: Mapped[str | None] = mapped_column(EncryptedText(row_bound=True), deferred=True)
    is_privileged: Mapped[bool] = mapped_column(server_default=text("false"))

    participants: Mapped[list[CommunicationParticipant]] = relationship(
        primaryjoin=tenant_join("CommunicationParticipant", "communication_id", "Communication"),
        back_populates="communication",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    email: Mapped[CommunicationEmail | None] = relationship(
        primaryjoin=tenant_join("CommunicationEmail", "communication_id", "Communication"),
        back_populates="communication",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
    )


class CommunicationParticipant(BusinessRow, Base):
    """Who took part in a communication: a party, a user of the firm, or just an address."""

    __tablename__ = "communication_participants"
    __table_args__ = (
        # tenant_fk() with a name: the conventional one would exceed 63 characters.
        ForeignKeyConstraint(
            ["tenant_id", "communication_id"],
            ["communications.tenant_id", "communications.id"],
            name="fk_communication_participants_communication_id_communications",
            ondelete="CASCADE",
        ),
        tenant_fk("party_id", "parties"),
        tenant_fk("user_id", "users"),
        CheckConstraint(in_list("role", PARTICIPANT_ROLES), name="role"),
        CheckConstraint(
            "party_id IS NOT NULL OR user_id IS NOT NULL OR address IS NOT NULL",
            name="identifies_someone",
        ),
        Index(
            "ix_communication_participants_tenant_id_communication_id",
            "tenant_id",
            "communication_id",
        ),
        Index("ix_communication_participants_tenant_id_party_id", "tenant_id", "party_id"),
        Index("ix_communication_participants_tenant_id_user_id", "tenant_id", "user_id"),
    )

    communication_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(Text)
    party_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    # E-mail address, phone or fax number as used in this communication.
    address: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)

    communication: Mapped[Communication] = relationship(
        primaryjoin=tenant_join("CommunicationParticipant", "communication_id", "Communication"),
        back_populates="participants",
    )


class CommunicationEmail(BusinessRow, Base):
    """The e-mail specifics of a communication whose channel is ``email``.

    ``thread_id`` is assigned by the database: the thread of the message this one replies
    to (``in_reply_to``, else the latest known id of ``reference_message_ids``, the
    References header), or a new thread. A reply stored before its original starts a
    thread of its own.
    """

    __tablename__ = "communication_emails"
    __table_args__ = (
        # Only an e-mail communication can have e-mail specifics: the channel is part of the key.
        ForeignKeyConstraint(
            ["tenant_id", "communication_id", "channel"],
            ["communications.tenant_id", "communications.id", "communications.channel"],
            name="fk_communication_emails_communication_email",
            ondelete="CASCADE",
        ),
        CheckConstraint("channel = 'email'", name="channel_email"),
        CheckConstraint("message_id ~ '^<[^<>[:space:]]+>$'", name="message_id_format"),
        CheckConstraint(
            "in_reply_to IS NULL OR in_reply_to ~ '^<[^<>[:space:]]+>$'",
            name="in_reply_to_format",
        ),
        CheckConstraint("in_reply_to IS DISTINCT FROM message_id", name="not_reply_to_self"),
        Index(
            "uq_communication_emails_tenant_id_message_id", "tenant_id", "message_id", unique=True
        ),
        # One e-mail per communication (channel is always 'email'; it is in the key so the
        # index also backs the foreign key above).
        Index(
            "uq_communication_emails_tenant_id_communication_id",
            "tenant_id",
            "communication_id",
            "channel",
            unique=True,
        ),
        Index("ix_communication_emails_tenant_id_thread_id", "tenant_id", "thread_id"),
        Index("ix_communication_emails_tenant_id_in_reply_to", "tenant_id", "in_reply_to"),
    )

    communication_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(Text, server_default=text("'email'"))
    message_id: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    reference_message_ids: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{}'")
    )
    thread_id: Mapped[uuid.UUID] = mapped_column(server_default=FetchedValue())
    from_address: Mapped[str] = mapped_column(Text)
    to_addresses: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    cc_addresses: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    sent_at: Mapped[dt.datetime | None]

    communication: Mapped[Communication] = relationship(
        primaryjoin=tenant_join("CommunicationEmail", "communication_id", "Communication"),
        back_populates="email",
    )


def email_thread(session: Session, email: CommunicationEmail) -> list[CommunicationEmail]:
    """Every e-mail of ``email``'s thread, oldest first."""
    return list(
        session.scalars(
            select(CommunicationEmail)
            .where(
                CommunicationEmail.tenant_id == email.tenant_id,
                CommunicationEmail.thread_id == email.thread_id,
            )
            .order_by(CommunicationEmail.sent_at.nulls_last(), CommunicationEmail.id)
        )
    )
