"""Global reference data shared by every firm: courts and 事件記録符号 (case-type codes).

These tables have no ``tenant_id``; they are loaded by a data migration and are
read-only for the application role.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.models.base import Base, GlobalTable
from legal_data.models.system import in_list

COURT_KINDS = ("supreme", "high", "district", "family", "summary")


class Court(GlobalTable, Base):
    """A court or court branch (裁判所・支部)."""

    __tablename__ = "courts"
    __table_args__ = (CheckConstraint(in_list("kind", COURT_KINDS), name="kind"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    branch: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    prefecture: Mapped[str | None] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("courts.code"))


class CaseTypeCode(GlobalTable, Base):
    """事件記録符号: the code in a 事件番号 such as ワ (通常訴訟) or 家イ (家事調停)."""

    __tablename__ = "case_type_codes"
    __table_args__ = (CheckConstraint(in_list("court_kind", COURT_KINDS), name="court_kind"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    court_kind: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)  # 民事, 刑事, 家事, 行政
