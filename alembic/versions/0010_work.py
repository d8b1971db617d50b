"""Work: tasks, communications, their participants and e-mail specifics.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from legal_data.tenancy.policies import tenant_isolation_sql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "tasks",
    "communications",
    "communication_participants",
    "communication_emails",
)

TRIGGERS = """
-- Threads: a message joins the thread of the message it replies to (In-Reply-To), else
-- of the latest message named in its References header that the firm has; otherwise it
-- starts a thread of its own (thread id = its own id).
CREATE FUNCTION communication_emails_assign_thread() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.thread_id IS NULL THEN
        SELECT e.thread_id INTO NEW.thread_id
        FROM communication_emails e
        WHERE e.tenant_id = NEW.tenant_id
          AND (e.message_id = NEW.in_reply_to OR e.message_id = ANY (NEW.reference_message_ids))
        ORDER BY e.message_id = NEW.in_reply_to DESC NULLS LAST,
                 array_position(NEW.reference_message_ids, e.message_id) DESC NULLS LAST
        LIMIT 1;
        NEW.thread_id := coalesce(NEW.thread_id, NEW.id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER communication_emails_assign_thread BEFORE INSERT ON communication_emails
    FOR EACH ROW EXECUTE FUNCTION communication_emails_assign_thread();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS communication_emails_assign_thread ON communication_emails;
DROP FUNCTION IF EXISTS communication_emails_assign_thread();
"""


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("assignee_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("priority", sa.Text(), server_default=sa.text("'normal'"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)",
            name=op.f("ck_tasks_completed_iff_done"),
        ),
        sa.CheckConstraint("btrim(title) <> ''", name=op.f("ck_tasks_title_not_blank")),
        sa.CheckConstraint(
            "kind IN ('期日', '提出期限', '控訴期限', '上告期限', '抗告期限', '異議期限', '時効', '打合せ', '連絡', '調査', '書面作成', 'その他')",
            name=op.f("ck_tasks_kind"),
        ),
        sa.CheckConstraint(
            "kind NOT IN ('期日', '提出期限', '控訴期限', '上告期限', '抗告期限', '異議期限', '時効') OR due_at IS NOT NULL",
            name=op.f("ck_tasks_deadline_has_due_at"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_tasks_priority")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'cancelled')", name=op.f("ck_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "assignee_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_tasks_tenant_id_assignee_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_tasks_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tasks_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_tenant_id_assignee_id_due_at_open",
        "tasks",
        ["tenant_id", "assignee_id", "due_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('open', 'in_progress')"),
    )
    op.create_index(
        "ix_tasks_tenant_id_case_id_due_at",
        "tasks",
        ["tenant_id", "case_id", "due_at"],
        unique=False,
    )
    op.create_table(
        "communications",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_id", sa.UUID(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("is_privileged", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "channel IN ('email', 'phone', 'meeting', 'letter', 'fax', 'portal')",
            name=op.f("ck_communications_channel"),
        ),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound', 'internal')",
            name=op.f("ck_communications_direction"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_communications_tenant_id_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_communications_tenant_id_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_communications_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_communications")),
    )
    op.create_index(
        "ix_communications_tenant_id_case_id_occurred_at",
        "communications",
        ["tenant_id", "case_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_communications_tenant_id_party_id",
        "communications",
        ["tenant_id", "party_id"],
        unique=False,
    )
    op.create_index(
        "uq_communications_tenant_id_id_channel",
        "communications",
        ["tenant_id", "id", "channel"],
        unique=True,
    )
    op.create_table(
        "communication_participants",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("communication_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("party_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "role IN ('from', 'to', 'cc', 'bcc', 'attendee', 'caller', 'callee')",
            name=op.f("ck_communication_participants_role"),
        ),
        sa.CheckConstraint(
            "party_id IS NOT NULL OR user_id IS NOT NULL OR address IS NOT NULL",
            name=op.f("ck_communication_participants_identifies_someone"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "communication_id"],
            ["communications.tenant_id", "communications.id"],
            name="fk_communication_participants_communication_id_communications",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "party_id"],
            ["parties.tenant_id", "parties.id"],
            name=op.f("fk_communication_participants_tenant_id_party_id_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_communication_participants_tenant_id_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_communication_participants_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_communication_participants")),
    )
    op.create_index(
        "ix_communication_participants_tenant_id_communication_id",
        "communication_participants",
        ["tenant_id", "communication_id"],
        unique=False,
    )
    op.create_index(
        "ix_communication_participants_tenant_id_party_id",
        "communication_participants",
        ["tenant_id", "party_id"],
        unique=False,
    )
    op.create_index(
        "ix_communication_participants_tenant_id_user_id",
        "communication_participants",
        ["tenant_id", "user_id"],
        unique=False,
    )
    op.create_table(
        "communication_emails",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("communication_id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), server_default=sa.text("'email'"), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column(
            "reference_message_ids",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("thread_id", sa.UUID(), server_default=sa.FetchedValue(), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=False),
        sa.Column(
            "to_addresses",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "cc_addresses",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.Column(
            "updated_by",
            sa.UUID(),
            server_default=sa.text(
                "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
            ),
            nullable=True,
        ),
        sa.CheckConstraint("channel = 'email'", name=op.f("ck_communication_emails_channel_email")),
        sa.CheckConstraint(
            "in_reply_to IS NULL OR in_reply_to ~ '^<[^<>[:space:]]+>$'",
            name=op.f("ck_communication_emails_in_reply_to_format"),
        ),
        sa.CheckConstraint(
            "message_id ~ '^<[^<>[:space:]]+>$'",
            name=op.f("ck_communication_emails_message_id_format"),
        ),
        sa.CheckConstraint(
            "in_reply_to IS DISTINCT FROM message_id",
            name=op.f("ck_communication_emails_not_reply_to_self"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "communication_id", "channel"],
            ["communications.tenant_id", "communications.id", "communications.channel"],
            name="fk_communication_emails_communication_email",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_communication_emails_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_communication_emails")),
    )
    op.create_index(
        "ix_communication_emails_tenant_id_in_reply_to",
        "communication_emails",
        ["tenant_id", "in_reply_to"],
        unique=False,
    )
    op.create_index(
        "ix_communication_emails_tenant_id_thread_id",
        "communication_emails",
        ["tenant_id", "thread_id"],
        unique=False,
    )
    op.create_index(
        "uq_communication_emails_tenant_id_communication_id",
        "communication_emails",
        ["tenant_id", "communication_id", "channel"],
        unique=True,
    )
    op.create_index(
        "uq_communication_emails_tenant_id_message_id",
        "communication_emails",
        ["tenant_id", "message_id"],
        unique=True,
    )
    # ### end Alembic commands ###

    for table in TENANT_TABLES:
        op.execute(tenant_isolation_sql(table))
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index("uq_communication_emails_tenant_id_message_id", table_name="communication_emails")
    op.drop_index(
        "uq_communication_emails_tenant_id_communication_id", table_name="communication_emails"
    )
    op.drop_index("ix_communication_emails_tenant_id_thread_id", table_name="communication_emails")
    op.drop_index(
        "ix_communication_emails_tenant_id_in_reply_to", table_name="communication_emails"
    )
    op.drop_table("communication_emails")
    op.drop_index(
        "ix_communication_participants_tenant_id_user_id", table_name="communication_participants"
    )
    op.drop_index(
        "ix_communication_participants_tenant_id_party_id", table_name="communication_participants"
    )
    op.drop_index(
        "ix_communication_participants_tenant_id_communication_id",
        table_name="communication_participants",
    )
    op.drop_table("communication_participants")
    op.drop_index("uq_communications_tenant_id_id_channel", table_name="communications")
    op.drop_index("ix_communications_tenant_id_party_id", table_name="communications")
    op.drop_index("ix_communications_tenant_id_case_id_occurred_at", table_name="communications")
    op.drop_table("communications")
    op.drop_index("ix_tasks_tenant_id_case_id_due_at", table_name="tasks")
    op.drop_index(
        "ix_tasks_tenant_id_assignee_id_due_at_open",
        table_name="tasks",
        postgresql_where=sa.text("status IN ('open', 'in_progress')"),
    )
    op.drop_table("tasks")
