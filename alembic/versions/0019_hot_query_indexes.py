"""Indexes for the hot queries (``legal_data.queries``), built without blocking writers.

- ``ix_time_entries_tenant_id_work_date``, ``ix_expenses_tenant_id_incurred_on`` and
  ``ix_invoices_tenant_id_issue_date``: one month of one firm, by date, with the columns
  the monthly report sums INCLUDEd — the report is three index-only range scans;
- ``ix_tasks_tenant_id_assignee_id_due_at_open`` gains ``id`` as its last column, so the
  keyset condition ``(due_at, id) > (:due_at, :id)`` of "my open tasks" is an index
  condition (same name, same predicate; rebuilt under a temporary name and swapped);
- ``ix_audit_logs_tenant_id_occurred_at`` gains ``id`` too: "newest 100 of a month"
  orders by ``(occurred_at, id)``, and only an index in exactly that order lets the
  planner merge the monthly partitions' index scans and stop after 100 rows (with the
  old index it read and sorted the firm's whole month: 50 ms at 40,000 rows).

Every index is built ``CONCURRENTLY`` (outside the revision's transaction, in Alembic's
autocommit block): on a live database with millions of rows a plain ``CREATE INDEX``
would block every write to the table for the whole build. ``audit_logs`` is partitioned
and PostgreSQL cannot build a partitioned index concurrently, so it is done the way the
manual describes: an invalid parent index ``ON ONLY audit_logs``, each partition's index
built concurrently and attached (the parent becomes valid with the last one), then the
old index is dropped — a plain ``DROP INDEX`` of a partitioned index, which holds its
lock for milliseconds (``lock_timeout`` bounds the wait for it). A concurrent build
that failed (lock timeout, cancel) leaves an INVALID index behind; running the upgrade
again drops it and builds it anew, so the revision can simply be retried.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_TASKS = sa.text("status IN ('open', 'in_progress')")
TASKS_INDEX = "ix_tasks_tenant_id_assignee_id_due_at_open"
TASKS_INDEX_NEXT = "ix_tasks_tenant_id_assignee_id_due_at_open_next"

#: name -> (table, columns, INCLUDE columns)
REPORT_INDEXES = {
    "ix_time_entries_tenant_id_work_date": (
        "time_entries",
        ["tenant_id", "work_date"],
        ["case_id", "minutes", "rate_yen", "billable"],
    ),
    "ix_expenses_tenant_id_incurred_on": (
        "expenses",
        ["tenant_id", "incurred_on"],
        ["case_id", "amount_yen", "is_disbursement"],
    ),
    "ix_invoices_tenant_id_issue_date": (
        "invoices",
        ["tenant_id", "issue_date"],
        ["case_id", "state", "subtotal_yen", "tax_yen", "withholding_yen", "total_yen"],
    ),
}

AUDIT_INDEX = "ix_audit_logs_tenant_id_occurred_at"
AUDIT_INDEX_NEXT = "ix_audit_logs_tenant_id_occurred_at_next"
AUDIT_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'public.audit_logs'::regclass ORDER BY c.relname
"""
#: Partition indexes attached to a parent index.
ATTACHED = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = (SELECT oid FROM pg_class WHERE relname = :parent
                     AND relnamespace = 'public'::regnamespace)
"""

INDEX_STATE = """
SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relname = :name AND c.relnamespace = 'public'::regnamespace
"""


def _state(name: str) -> bool | None:
    """True: a valid index; False: an INVALID leftover of a failed build; None: absent."""
    return op.get_bind().execute(sa.text(INDEX_STATE), {"name": name}).scalar()


def _drop(name: str) -> None:
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def _create(name: str, table: str, columns: list[str], **kw: object) -> None:
    if _state(name) is False:
        _drop(name)
    if _state(name) is None:
        op.create_index(name, table, columns, postgresql_concurrently=True, **kw)


def _swap_audit_index(columns: list[str], suffix: str) -> None:
    """Build ``AUDIT_INDEX_NEXT`` on ``columns`` partition by partition, concurrently, then
    make it ``AUDIT_INDEX`` (dropping the old one)."""
    bind = op.get_bind()
    cols = ", ".join(columns)
    if _state(AUDIT_INDEX_NEXT) is None:
        op.execute(f"CREATE INDEX {AUDIT_INDEX_NEXT} ON ONLY audit_logs ({cols})")
    attached = set(bind.execute(sa.text(ATTACHED), {"parent": AUDIT_INDEX_NEXT}).scalars())
    for part in bind.execute(sa.text(AUDIT_PARTITIONS)).scalars().all():
        child = f"{part}_{suffix}"
        if child in attached:
            continue
        if _state(child) is False:
            _drop(child)
        if _state(child) is None:
            op.execute(f"CREATE INDEX CONCURRENTLY {child} ON {part} ({cols})")
        op.execute(f"ALTER INDEX {AUDIT_INDEX_NEXT} ATTACH PARTITION {child}")
    op.execute(f"DROP INDEX IF EXISTS {AUDIT_INDEX}")
    op.execute(f"ALTER INDEX {AUDIT_INDEX_NEXT} RENAME TO {AUDIT_INDEX}")


def _audit_index_has_id() -> bool:
    return _has_id_column(AUDIT_INDEX)


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, (table, columns, include) in REPORT_INDEXES.items():
            _create(name, table, columns, postgresql_include=include)
        # The tasks index keeps its name: build the new one aside, then swap.
        if _state(TASKS_INDEX_NEXT) is not None or not _has_id_column(TASKS_INDEX):
            _create(
                TASKS_INDEX_NEXT,
                "tasks",
                ["tenant_id", "assignee_id", "due_at", "id"],
                postgresql_where=OPEN_TASKS,
            )
            _drop(TASKS_INDEX)
            op.execute(f"ALTER INDEX {TASKS_INDEX_NEXT} RENAME TO {TASKS_INDEX}")
        if _state(AUDIT_INDEX_NEXT) is not None or not _audit_index_has_id():
            _swap_audit_index(["tenant_id", "occurred_at", "id"], "tenant_id_occurred_at_id_idx")


def _has_id_column(name: str) -> bool:
    return bool(
        op.get_bind()
        .execute(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                " WHERE c.relname = :name AND c.relnamespace = 'public'::regnamespace"
                " AND a.attname = 'id')"
            ),
            {"name": name},
        )
        .scalar()
    )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        if _state(AUDIT_INDEX_NEXT) is not None or _audit_index_has_id():
            _swap_audit_index(["tenant_id", "occurred_at"], "tenant_id_occurred_at_idx")
        if _state(TASKS_INDEX_NEXT) is not None or _has_id_column(TASKS_INDEX):
            _drop(TASKS_INDEX_NEXT)
            _create(
                TASKS_INDEX_NEXT,
                "tasks",
                ["tenant_id", "assignee_id", "due_at"],
                postgresql_where=OPEN_TASKS,
            )
            _drop(TASKS_INDEX)
            op.execute(f"ALTER INDEX {TASKS_INDEX_NEXT} RENAME TO {TASKS_INDEX}")
        for name in REPORT_INDEXES:
            _drop(name)
