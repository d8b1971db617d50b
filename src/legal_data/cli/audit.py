"""``legal-data audit``: seal, verify, prove, partitions and archive.

These are operator commands: they read every firm's audit rows, so they run with the
admin URL (a role that is not filtered by Row Level Security, e.g. the migration admin).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import click
from rich.progress import Progress
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from legal_data.audit import retention
from legal_data.audit.seal import (
    inclusion_proof,
    seal_tenant,
    tenants_with_audit_rows,
    verify_tenant,
)
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
from legal_data.db.provision import sqlalchemy_url
from legal_data.errors import LegalDataError


def _engine(url: str | None) -> Engine:
    return create_engine(
        sqlalchemy_url(admin_url_or_exit(url)),
        poolclass=NullPool,
        connect_args={"application_name": "legal_data audit"},
    )


def _tenants(engine: Engine, tenant: str | None) -> list[uuid.UUID]:
    if tenant:
        try:
            return [uuid.UUID(tenant)]
        except ValueError:
            fail(LegalDataError(f"--tenant must be a UUID, got {tenant!r}"))
    with engine.connect() as conn:
        return tenants_with_audit_rows(conn)


@click.group()
def audit() -> None:
    """Seal and verify the audit trail; manage its partitions."""


@audit.command()
@admin_url_option
@click.option("--tenant", help="Seal one firm (default: every firm).")
@click.option("--batch-rows", default=50_000, show_default=True, help="Rows per sealed batch.")
@json_option
def seal(database_url: str | None, tenant: str | None, batch_rows: int, as_json: bool) -> None:
    """Seal every finished audit row (safe to run from cron, concurrently with writers)."""
    engine = _engine(database_url)
    results = []
    try:
        firms = _tenants(engine, tenant)
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("sealing", total=len(firms))
            for firm in firms:
                with engine.begin() as conn:
                    results.extend(seal_tenant(conn, firm, max_rows=batch_rows))
                progress.advance(task)
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()
    if as_json:
        print_json(
            [
                {
                    "tenant_id": r.tenant_id,
                    "batch_no": r.batch_no,
                    "rows": r.row_count,
                    "merkle_root": r.merkle_root.hex(),
                }
                for r in results
            ]
        )
    else:
        console.print(
            f"sealed {sum(r.row_count for r in results)} rows in {len(results)} batches "
            f"for {len(firms)} firm(s)"
        )


@audit.command()
@admin_url_option
@click.option("--tenant", help="Verify one firm (default: every firm).")
@json_option
def verify(database_url: str | None, tenant: str | None, as_json: bool) -> None:
    """Recompute every seal; exit 1 and name the first bad batch on any mismatch."""
    engine = _engine(database_url)
    try:
        reports = []
        firms = _tenants(engine, tenant)
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("verifying", total=len(firms))
            for firm in firms:
                with engine.begin() as conn:
                    reports.append(verify_tenant(conn, firm))
                progress.advance(task)
    finally:
        engine.dispose()
    bad = [r for r in reports if not r.ok]
    if as_json:
        print_json(
            [
                {
                    "tenant_id": r.tenant_id,
                    "ok": r.ok,
                    "seals": r.seals,
                    "rows_verified": r.rows_verified,
                    "unsealed_rows": r.unsealed_rows,
                    "archived_batches": r.archived_batches,
                    "first_bad_batch": r.first_bad_batch,
                    "findings": [str(f) for f in r.findings],
                }
                for r in reports
            ]
        )
    else:
        print_table(
            "Audit trail verification",
            ["firm", "seals", "rows verified", "unsealed", "result"],
            [
                (
                    r.tenant_id,
                    r.seals,
                    r.rows_verified,
                    r.unsealed_rows,
                    "ok" if r.ok else f"FIRST BAD BATCH {r.first_bad_batch}: {r.findings[0]}",
                )
                for r in reports
            ],
        )
    sys.exit(EXIT_FINDINGS if bad else 0)


@audit.command()
@admin_url_option
@click.option("--tenant", required=True)
@click.argument("audit_id")
def prove(database_url: str | None, tenant: str, audit_id: str) -> None:
    """Print the inclusion proof of one audit row (JSON), checked before it is printed."""
    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            proof = inclusion_proof(conn, uuid.UUID(tenant), uuid.UUID(audit_id))
    except (LegalDataError, ValueError) as exc:
        fail(exc if isinstance(exc, LegalDataError) else LegalDataError(str(exc)))
    finally:
        engine.dispose()
    if not proof.verify():
        fail(LegalDataError("the computed proof does not verify; the batch was altered"))
    print_json(proof.as_dict())


@audit.command()
@admin_url_option
@click.option("--months-ahead", default=3, show_default=True)
@json_option
def partitions(database_url: str | None, months_ahead: int, as_json: bool) -> None:
    """Create the coming months' partitions; report rows per partition (default must be 0)."""
    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            created = retention.ensure_partitions(conn, months_ahead)
        with engine.connect() as conn:
            parts = retention.partitions(conn)
    finally:
        engine.dispose()
    default_rows = dict(parts).get("audit_logs_default", 0)
    if as_json:
        print_json({"created": created, "partitions": dict(parts), "default_rows": default_rows})
    else:
        print_table(f"Audit partitions ({created} created)", ["partition", "rows"], parts)
        if default_rows:
            console.print("[red]rows in the default partition: create partitions ahead[/red]")
    sys.exit(EXIT_FINDINGS if default_rows else 0)


@audit.command()
@admin_url_option
@click.option("--before", "month", required=True, help="The month to archive, YYYY-MM.")
@click.option("--out", "directory", type=click.Path(path_type=Path), default=Path("."))
def archive(database_url: str | None, month: str, directory: Path) -> None:
    """Export a sealed month to JSON lines with its seals, then detach and drop it."""
    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            result = retention.archive_month(conn, month, directory)
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()
    console.print(
        f"archived {result.rows} rows of {result.partition} to {result.path} "
        f"(sha256 {result.sha256})"
    )
