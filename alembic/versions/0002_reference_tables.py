"""Global reference tables: courts and 事件記録符号 (case-type codes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_type_codes",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("court_kind", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "court_kind IN ('supreme', 'high', 'district', 'family', 'summary')",
            name=op.f("ck_case_type_codes_court_kind"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_case_type_codes")),
    )
    op.create_table(
        "courts",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("prefecture", sa.Text(), nullable=True),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('supreme', 'high', 'district', 'family', 'summary')",
            name=op.f("ck_courts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["courts.code"], name=op.f("fk_courts_parent_code_courts")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_courts")),
    )


def downgrade() -> None:
    op.drop_table("courts")
    op.drop_table("case_type_codes")
    # ### end Alembic commands ###
