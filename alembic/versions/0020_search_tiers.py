"""Search by rank tier: frequent terms walk the firm's index rows newest first.

0017's search functions ranked every hit of the GIN index before returning a page, about
2 µs per hit: a two-character word in a third of a firm of 100,000 documents took
80–110 ms. The functions become PL/pgSQL that fill the page rank tier by rank tier, each
tier walked newest first for at most ``WALK_ROWS`` index rows and the rest of it looked
up in a GIN index (``legal_data.search.sql_tiered`` explains the plan and why it is
exact). Same names, arguments, results, owner (``legal_search``) and grants; the API
does not change.

- ``search_title_keys(tenant, title)`` / ``search_term_keys(tenant, term)``: immutable
  SQL functions, the firm-prefixed characters and bigrams of a normalized title;
- per index table, built ``CONCURRENTLY`` (no write is blocked on a live database; a
  failed build leaves an INVALID index, which a retried upgrade drops and rebuilds):
  ``ix_<table>_tenant_id_sort_at`` on ``(tenant_id, sort_at, <entity>)`` — the walk —
  and ``ix_<table>_title_keys``, GIN on ``search_title_keys(tenant_id, title_norm)`` for
  chunk 0 — titles that hold the terms;
- ``search_<kind>_hit``: one candidate's source re-check, exact recheck and snippet
  window (0017's page step), executable by ``legal_search`` only;
- ``search_<kind>_find`` replaced (``CREATE OR REPLACE`` keeps owner and grants).

Downgrade restores 0017's functions and drops the rest. No data changes: index rows are
not rewritten (the title keys are computed from ``title_norm``, already stored).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from legal_data.search.sql import FIND_CASES, FIND_COMMUNICATIONS, FIND_DOCUMENTS, FIND_SIGNATURES
from legal_data.search.sql_tiered import (
    DROP_HIT_FUNCTIONS,
    DROP_KEY_FUNCTIONS,
    FIND_FUNCTIONS,
    HIT_FUNCTIONS,
    INDEXES,
    KEY_FUNCTIONS,
)

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX_STATE = """
SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relname = :name AND c.relnamespace = 'public'::regnamespace
"""


def _state(name: str) -> bool | None:
    """True: a valid index; False: an INVALID leftover of a failed build; None: absent."""
    return op.get_bind().execute(sa.text(INDEX_STATE), {"name": name}).scalar()


def upgrade() -> None:
    op.execute(KEY_FUNCTIONS)
    with op.get_context().autocommit_block():
        for table, indexes in INDEXES.items():
            for name, columns, method, where in indexes:
                if _state(name) is False:
                    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                if _state(name) is None:
                    op.execute(
                        f"CREATE INDEX CONCURRENTLY {name} ON {table}"
                        f" USING {method} ({columns}){where}"
                    )
    op.execute(HIT_FUNCTIONS)
    # As the admin: the find functions belong to legal_search.
    op.execute("RESET ROLE")
    op.execute(FIND_FUNCTIONS)
    op.execute("SET ROLE legal_owner")


def downgrade() -> None:
    op.execute("RESET ROLE")
    for sig in FIND_SIGNATURES:
        op.execute(f"DROP FUNCTION {sig}")
    op.execute(FIND_DOCUMENTS + FIND_CASES + FIND_COMMUNICATIONS)
    for sig in FIND_SIGNATURES:
        op.execute(f"ALTER FUNCTION {sig} OWNER TO legal_search")
        op.execute(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {sig} TO legal_app")
    op.execute("SET ROLE legal_owner")
    op.execute(DROP_HIT_FUNCTIONS)
    with op.get_context().autocommit_block():
        for indexes in INDEXES.values():
            for name, *_rest in indexes:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(DROP_KEY_FUNCTIONS)
