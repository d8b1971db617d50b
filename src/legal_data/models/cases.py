"""Cases (案件) and what hangs directly off them: status history, assignments, parties,
and court case numbers (事件番号)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, FetchedValue, ForeignKey, Index, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from legal_data.crypto.types import EncryptedText
from legal_data.domain.case_number import ERAS
from legal_data.models.base import Base, BusinessRow, SoftDeleted, Versioned, tenant_fk, tenant_join
from legal_data.models.parties import Client, Party
from legal_data.models.system import in_list

PRACTICE_AREAS = (
    "civil",
    "family",
    "criminal",
    "corporate",
    "labor",
    "intellectual_property",
    "bankruptcy",
    "administrative",
    "real_estate",
    "tax",
    "other",
)
CASE_STATUSES = ("intake", "open", "pending", "closed", "archived")
ASSIGNMENT_ROLES = ("responsible", "originating", "assistant")
CASE_PARTY_ROLES = ("client", "opposing_party", "opposing_counsel", "related")


class Case(BusinessRow, Versioned, SoftDeleted, Base):
    """A matter (案件). ``display_number`` is per firm, assigned by the database."""

    __tablename__ = "cases"
    __table_args__ = (
        tenant_fk("client_id", "clients"),
        CheckConstraint(in_list("practice_area", PRACTICE_AREAS), name="practice_area"),
        CheckConstraint(in_list("status", CASE_STATUSES), name="status"),
        CheckConstraint("btrim(title) <> ''", name="title_not_blank"),
        CheckConstraint("closed_on IS NULL OR closed_on >= opened_on", name="closed_after_opened"),
        CheckConstraint(
            "(status IN ('closed', 'archived')) = (closed_on IS NOT NULL)",
            name="closed_on_iff_closed",
        ),
        Index("uq_cases_tenant_id_display_number", "tenant_id", "display_number", unique=True),
        # The open-case list: newest first within a status, deleted rows skipped.
        Index(
            "ix_cases_tenant_id_status_opened_on",
            "tenant_id",
            "status",
            "opened_on",
            "id",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_cases_tenant_id_client_id", "tenant_id", "client_id"),
    )

    # Assigned by the ``cases_assign_display_number`` trigger from the firm's counter.
    display_number: Mapped[int] = mapped_column(Integer, server_default=FetchedValue())
    title: Mapped[str] = mapped_column(Text)
    practice_area: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'intake'"))
    client_id: Mapped[uuid.UUID]
    opened_on: Mapped[dt.date] = mapped_column(server_default=text("CURRENT_DATE"))
    closed_on: Mapped[dt.date | None]
    description: Mapped[str | None] = mapped_column(Text)
    # Case notes (メモ): encrypted and bound to this case, so they cannot be moved to
    # another matter by copying bytes.
    notes: Mapped[str | None] = mapped_column(EncryptedText(row_bound=True), deferred=True)

    client: Mapped[Client] = relationship(primaryjoin=tenant_join("Case", "client_id", "Client"))
    assignments: Mapped[list[CaseAssignment]] = relationship(
        primaryjoin=tenant_join("CaseAssignment", "case_id", "Case"),
        back_populates="case",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    parties: Mapped[list[CaseParty]] = relationship(
        primaryjoin=tenant_join("CaseParty", "case_id", "Case"),
        back_populates="case",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    court_cases: Mapped[list[CourtCase]] = relationship(
        primaryjoin=tenant_join("CourtCase", "case_id", "Case"),
        back_populates="case",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    status_history: Mapped[list[CaseStatus]] = relationship(
        primaryjoin=tenant_join("CaseStatus", "case_id", "Case"),
        viewonly=True,
        order_by="CaseStatus.changed_at",
    )


class CaseStatus(BusinessRow, Base):
    """One status transition of a case, written by a trigger on ``cases``."""

    __tablename__ = "case_statuses"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        CheckConstraint(in_list("to_status", CASE_STATUSES), name="to_status"),
        CheckConstraint(
            "from_status IS NULL OR " + in_list("from_status", CASE_STATUSES), name="from_status"
        ),
        Index(
            "ix_case_statuses_tenant_id_case_id_changed_at", "tenant_id", "case_id", "changed_at"
        ),
    )

    case_id: Mapped[uuid.UUID]
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    changed_by: Mapped[uuid.UUID | None]
    reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(
        primaryjoin=tenant_join("CaseStatus", "case_id", "Case"), viewonly=True
    )


class CaseAssignment(BusinessRow, Base):
    __tablename__ = "case_assignments"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("user_id", "users"),
        CheckConstraint(in_list("role", ASSIGNMENT_ROLES), name="role"),
        CheckConstraint("ended_on IS NULL OR ended_on >= assigned_on", name="ended_after_assigned"),
        Index(
            "uq_case_assignments_tenant_id_case_id_user_id_role",
            "tenant_id",
            "case_id",
            "user_id",
            "role",
            unique=True,
        ),
        Index("ix_case_assignments_tenant_id_user_id", "tenant_id", "user_id"),
    )

    case_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(Text)
    assigned_on: Mapped[dt.date] = mapped_column(server_default=text("CURRENT_DATE"))
    ended_on: Mapped[dt.date | None]

    case: Mapped[Case] = relationship(
        primaryjoin=tenant_join("CaseAssignment", "case_id", "Case"), back_populates="assignments"
    )


class CaseParty(BusinessRow, Base):
    """A party's role on a case. A party is never both client and opposing party of one case
    (enforced by a trigger that locks the case row, so concurrent writers cannot race it)."""

    __tablename__ = "case_parties"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        tenant_fk("party_id", "parties"),
        CheckConstraint(in_list("role", CASE_PARTY_ROLES), name="role"),
        Index(
            "uq_case_parties_tenant_id_case_id_party_id_role",
            "tenant_id",
            "case_id",
            "party_id",
            "role",
            unique=True,
        ),
        Index("ix_case_parties_tenant_id_party_id", "tenant_id", "party_id"),
    )

    case_id: Mapped[uuid.UUID]
    party_id: Mapped[uuid.UUID]
    role: Mapped[str] = mapped_column(Text)

    case: Mapped[Case] = relationship(
        primaryjoin=tenant_join("CaseParty", "case_id", "Case"), back_populates="parties"
    )
    party: Mapped[Party] = relationship(
        primaryjoin=tenant_join("CaseParty", "party_id", "Party"), lazy="joined"
    )


class CourtCase(BusinessRow, Base):
    """A court proceeding of a case, identified by its 事件番号 (e.g. 令和5年(ワ)第1234号)."""

    __tablename__ = "court_cases"
    __table_args__ = (
        tenant_fk("case_id", "cases", ondelete="CASCADE"),
        CheckConstraint(in_list("era", ERAS), name="era"),
        CheckConstraint("era_year >= 1", name="era_year_positive"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index(
            "uq_court_cases_tenant_id_case_number",
            "tenant_id",
            "court_code",
            "era",
            "era_year",
            "type_code",
            "number",
            unique=True,
        ),
        Index("ix_court_cases_tenant_id_case_id", "tenant_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID]
    court_code: Mapped[str] = mapped_column(ForeignKey("courts.code"))
    era: Mapped[str] = mapped_column(Text)
    era_year: Mapped[int] = mapped_column(Integer)
    type_code: Mapped[str] = mapped_column(ForeignKey("case_type_codes.code"))
    number: Mapped[int] = mapped_column(Integer)
    filed_on: Mapped[dt.date | None]
    judge_division: Mapped[str | None] = mapped_column(Text)  # 係属部 e.g. 民事第8部

    case: Mapped[Case] = relationship(
        primaryjoin=tenant_join("CourtCase", "case_id", "Case"), back_populates="court_cases"
    )
