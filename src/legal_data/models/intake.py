"""Intake: consultations (法律相談, which may never become a case), their parties, and
conflict checks (利益相反チェック) with their decision.

The conflict gate (弁護士法25条, 職務基本規程27・28条) is enforced by the database: a case
is created in ``intake`` and cannot leave it unless its latest conflict check is
``clear`` (and not declined), or found a potential/actual conflict that was
``waived_with_consent`` (trigger ``cases_require_conflict_clearance``). A check's query,
hits and result are a record: they cannot be changed afterwards, and a decision once
taken stays taken.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from legal_data.models.base import Base, BusinessRow, tenant_fk, tenant_join
from legal_data.models.cases import Case
from legal_data.models.system import in_list

CONSULTATION_STATUSES = ("open", "declined", "became_case", "closed")
CONSULTATION_PARTY_ROLES = ("consulter", "opposing_party", "related")
CONFLICT_RESULTS = ("clear", "potential", "conflict")
CONFLICT_DECISIONS = ("accept", "decline", "waived_with_consent")


class Consultation(BusinessRow, Base):
    """A legal consultation (法律相談). Its parties count in conflict checks even when it
    never becomes a case (弁護士法25条2号)."""

    __tablename__ = "consultations"
    __table_args__ = (
        tenant_fk("client_id", "clients"),
        tenant_fk("case_id", "cases"),
        tenant_fk("lawyer_id", "users"),
        CheckConstraint(in_list("status", CONSULTATION_STATUSES), name="status"),
        CheckConstraint("btrim(subject) <> ''", name="subject_not_blank"),
        CheckConstraint(
            "(status = 'became_case') = (case_id IS NOT NULL)", name="case_iff_became_case"
        ),
        CheckConstraint("fee_yen >= 0", name="fee_not_negative"),
        Index("ix_consultations_tenant_id_consulted_at", "tenant_id", "consulted_at"),
        Index("ix_consultations_tenant_id_client_id", "tenant_id", "client_id"),
        Index("ix_consultations_tenant_id_case_id", "tenant_id", "case_id"),
        Index("ix_consultations_tenant_id_lawyer_id", "tenant_id", "lawyer_id"),
    )

    consulted_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    subject: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    lawyer_id: Mapped[uuid.UUID | None]
    client_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(Text, server_default=text("'open'"))
    case_id: Mapped[uuid.UUID | None]
    # 相談料 charged, in yen (0 for a free consultation).
    fee_yen: Mapped[int] = mapped_column(server_default=text("0"))

    parties: Mapped[list[ConsultationParty]] = relationship(
        primaryjoin=tenant_join("ConsultationParty", "consultation_id", "Consultation"),
        back_populates="consultation",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ConsultationParty(BusinessRow, Base):
    __tablename__ = "consultation_parties"
    __table_args__ = (
        tenant_fk("consultation_id", "consultations", ondelete="CASCADE"),
        tenant_fk("party_id", "parties"),
        CheckConstraint(in_list("role", CONSULTATION_PARTY_ROLES), name="role"),
        Index(
            "uq_consultation_parties_tenant_id_consultation_id_party_id_role",
            "tenant_id",
            "consultation_id",
            "party_id",
            "role",
            unique=True,
        ),
        Index("ix_consultation_parties_tenant_id_party_id", "tenant_id", "party_id"),
    )

    consultation_id: Mapped[uuid.UUID]
    party_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(Text)

    consultation: Mapped[Consultation] = relationship(
        primaryjoin=tenant_join("ConsultationParty", "consultation_id", "Consultation"),
        back_populates="parties",
    )


class ConflictCheck(BusinessRow, Base):
    """One conflict search, its hits, its result and the decision taken on it."""

    __tablename__ = "conflict_checks"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("consultation_id", "consultations", ondelete="CASCADE"),
        tenant_fk("checked_by", "users"),
        tenant_fk("decided_by", "users"),
        CheckConstraint(in_list("result", CONFLICT_RESULTS), name="result"),
        CheckConstraint(
            "decision IS NULL OR " + in_list("decision", CONFLICT_DECISIONS), name="decision"
        ),
        CheckConstraint("case_id IS NOT NULL OR consultation_id IS NOT NULL", name="has_subject"),
        CheckConstraint("cardinality(query_terms) > 0", name="query_not_empty"),
        CheckConstraint("jsonb_typeof(hits) = 'array'", name="hits_array"),
        CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL)"
            " AND (decision IS NULL) = (decided_by IS NULL)",
            name="decision_complete",
        ),
        # Only a found conflict can be waived, and only with the client's recorded consent.
        CheckConstraint(
            "decision IS DISTINCT FROM 'waived_with_consent'"
            " OR (result IN ('potential', 'conflict') AND consent_obtained_on IS NOT NULL)",
            name="waiver_needs_consent",
        ),
        Index(
            "ix_conflict_checks_tenant_id_case_id_checked_at", "tenant_id", "case_id", "checked_at"
        ),
        Index("ix_conflict_checks_tenant_id_consultation_id", "tenant_id", "consultation_id"),
        Index("ix_conflict_checks_tenant_id_checked_by", "tenant_id", "checked_by"),
        Index("ix_conflict_checks_tenant_id_decided_by", "tenant_id", "decided_by"),
    )

    case_id: Mapped[uuid.UUID | None]
    consultation_id: Mapped[uuid.UUID | None]
    # The normalized names, kana, former names and 法人番号 searched for.
    query_terms: Mapped[list[str]] = mapped_column(ARRAY(Text))
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'"))
    result: Mapped[str] = mapped_column(Text)
    checked_by: Mapped[uuid.UUID | None]
    checked_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[dt.datetime | None]
    consent_obtained_on: Mapped[dt.date | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


def open_case(
    session: Session,
    case: Case,
    *,
    status: str = "open",
    query_terms: list[str] | None = None,
    checked_by: uuid.UUID | None = None,
    hits: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> ConflictCheck:
    """Record a clear conflict check for ``case`` and move it out of intake.

    For callers that ran the search elsewhere and found nothing (imports, the demo, test
    factories). ``fields`` are set on the case with the status (e.g. ``closed_on``).
    """
    terms = query_terms or [case.title]
    check = ConflictCheck(
        tenant_id=case.tenant_id,
        case_id=case.id,
        query_terms=terms,
        hits=hits or [],
        result="clear",
        checked_by=checked_by,
    )
    session.add(check)
    session.flush()
    case.status = status
    for name, value in fields.items():
        setattr(case, name, value)
    session.flush()
    return check
