"""``legal-data search``: the index's queue, as operator commands.

- ``status`` — per firm, entities waiting on ``search_queue`` and index rows written by
  another normalizer version; exit 1 while there are any;
- ``drain`` — index everything queued (writes made outside the library, a migration's
  backfill, overflow from big commits), firm by firm, as the system actor;
- ``reindex --tenant T`` — queue every document, case and communication of a firm, then
  drain (after a normalizer version change, or to rebuild).

They read every firm's queue, so they run with the admin URL, like ``legal-data audit``;
the indexing itself goes through tenant sessions in each firm's context. Also runnable as
``python -m legal_data.search``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy import text

from legal_data.cli.common import (
    EXIT_FINDINGS,
    admin_url_option,
    admin_url_or_exit,
    console,
    fail,
    json_option,
    print_json,
    print_table,
)
from legal_data.db.engine import create_tenant_engine
from legal_data.db.provision import sqlalchemy_url
from legal_data.errors import LegalDataError
from legal_data.search import indexer
from legal_data.tenancy import system_scope, tenant_scope
from legal_data.tenancy.context import SYSTEM_ROLE
from legal_data.tenancy.session import tenant_sessionmaker

_PENDING = """
SELECT tenant_id, count(*) FROM search_queue
WHERE CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid)
GROUP BY tenant_id ORDER BY tenant_id
"""
_STALE = " UNION ALL ".join(
    f"SELECT tenant_id, count(*) FROM {table} WHERE normalizer_version <> :v"
    " AND (CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid))"
    " GROUP BY tenant_id"
    for table in ("search_documents", "search_cases", "search_communications")
)


def _sessions(url: str | None) -> Any:
    engine = create_tenant_engine(
        sqlalchemy_url(admin_url_or_exit(url)),
        allow_privileged_role=True,
        application_name="legal_data search",
    )
    return engine, tenant_sessionmaker(engine)


def _tenant(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(LegalDataError(f"--tenant must be a UUID, got {value!r}"))
        raise AssertionError("unreachable") from None


def _counts(sessions: Any, tenant: uuid.UUID | None) -> dict[uuid.UUID, list[int]]:
    out: dict[uuid.UUID, list[int]] = {}
    with system_scope(reason="legal-data search status"), sessions() as s, s.begin():
        for firm, n in s.execute(text(_PENDING), {"tenant": tenant}):
            out.setdefault(firm, [0, 0])[0] += n
        params = {"tenant": tenant, "v": indexer.NORMALIZER_VERSION}
        for firm, n in s.execute(text(_STALE), params):
            out.setdefault(firm, [0, 0])[1] += n
    return out


def drain_firm(sessions: Any, firm: uuid.UUID, batch_size: int) -> int:
    """Drain one firm's queue completely, one batch per transaction; returns the count."""
    total = 0
    while True:
        with (
            tenant_scope(firm, role=SYSTEM_ROLE, reason="legal-data search drain"),
            sessions() as s,
            s.begin(),
        ):
            done = indexer.drain(s, batch_size=batch_size)
        total += done
        if done == 0:
            return total


@click.group()
def search() -> None:
    """The full-text search index: queue status, drain, reindex."""


@search.command()
@admin_url_option
@click.option("--tenant", help="One firm (default: every firm).")
@json_option
def status(database_url: str | None, tenant: str | None, as_json: bool) -> None:
    """Queued entities and stale index rows per firm; exit 1 while there are any."""
    engine, sessions = _sessions(database_url)
    try:
        counts = _counts(sessions, _tenant(tenant))
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()
    rows = [(str(firm), q, stale) for firm, (q, stale) in sorted(counts.items())]
    if as_json:
        print_json([{"tenant_id": f, "queued": q, "stale_rows": st} for f, q, st in rows])
    else:
        print_table("Search index backlog", ["firm", "queued", "stale rows"], rows)
    if any(q or st for _f, q, st in rows):
        sys.exit(EXIT_FINDINGS)


@search.command()
@admin_url_option
@click.option("--tenant", help="One firm (default: every firm with queued entities).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@json_option
def drain(database_url: str | None, tenant: str | None, batch_size: int, as_json: bool) -> None:
    """Index everything queued, firm by firm."""
    engine, sessions = _sessions(database_url)
    done: list[tuple[str, int]] = []
    try:
        firm = _tenant(tenant)
        firms: Sequence[uuid.UUID] = [firm] if firm else list(_counts(sessions, None))
        for f in firms:
            done.append((str(f), drain_firm(sessions, f, batch_size)))
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()
    if as_json:
        print_json([{"tenant_id": f, "indexed": n} for f, n in done])
    else:
        console.print(f"indexed {sum(n for _f, n in done)} entities of {len(done)} firm(s)")


@search.command()
@admin_url_option
@click.option("--tenant", required=True, help="The firm to rebuild.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(indexer.KINDS),
    help="Only these kinds (default: all).",
)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
def reindex(database_url: str | None, tenant: str, kinds: tuple[str, ...], batch_size: int) -> None:
    """Queue every entity of a firm, then index them all."""
    engine, sessions = _sessions(database_url)
    try:
        firm = _tenant(tenant)
        assert firm is not None
        with (
            tenant_scope(firm, role=SYSTEM_ROLE, reason="legal-data search reindex"),
            sessions() as s,
            s.begin(),
        ):
            queued = indexer.enqueue_all(s, kinds or indexer.KINDS)
        indexed = drain_firm(sessions, firm, batch_size)
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()
    console.print(f"queued {queued}, indexed {indexed}")
