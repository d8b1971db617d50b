"""``legal-data stats``: what a live database spends its time on and what to maintain.

Reads statistics views and the catalog only (:mod:`legal_data.db.stats`): top statements
by total time (``pg_stat_statements``, or a message saying how to enable it), unused and
duplicate indexes, table bloat estimates, monthly partitions missing for the coming
months. Exit 0 when there is nothing to act on, 1 on findings, 2 when it cannot run.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from legal_data.cli.common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    admin_url_option,
    admin_url_or_exit,
    console,
    err_console,
    json_option,
    print_json,
    print_table,
)
from legal_data.db import stats as db_stats
from legal_data.db.provision import sqlalchemy_url


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


@click.command()
@admin_url_option
@json_option
@click.option("--top", default=10, show_default=True, help="Statements to list.")
@click.option(
    "--months-ahead",
    default=3,
    show_default=True,
    type=click.IntRange(0, 120),
    help="Monthly partitions that must exist after the current month.",
)
@click.option(
    "--min-stats-age-days",
    default=7,
    show_default=True,
    type=click.IntRange(0),
    help="Unused indexes count as findings only when statistics are at least this old.",
)
@click.option(
    "--bloat-ratio",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Estimated bloat / table size that counts as a finding.",
)
@click.option(
    "--bloat-min-mib",
    default=64,
    show_default=True,
    type=click.IntRange(0),
    help="Only tables with at least this much estimated bloat count.",
)
def stats(
    database_url: str | None,
    as_json: bool,
    top: int,
    months_ahead: int,
    min_stats_age_days: int,
    bloat_ratio: float,
    bloat_min_mib: int,
) -> None:
    """Top statements, unused and duplicate indexes, bloat, missing partitions."""
    url = sqlalchemy_url(admin_url_or_exit(database_url))
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"application_name": "legal_data stats"}
    )
    try:
        with engine.connect() as conn:
            report = db_stats.collect(
                conn,
                top=top,
                months_ahead=months_ahead,
                min_stats_age=dt.timedelta(days=min_stats_age_days),
                bloat_ratio=bloat_ratio,
                bloat_min_bytes=bloat_min_mib * 1024 * 1024,
            )
    except DBAPIError as exc:
        err_console.print(f"[red]error:[/red] cannot read statistics: {exc.orig}")
        sys.exit(EXIT_ERROR)
    finally:
        engine.dispose()
    findings = report.findings
    if as_json:
        print_json(report.as_dict())
        sys.exit(EXIT_FINDINGS if findings else 0)

    if report.statements.available:
        print_table(
            f"Top {top} statements by total time",
            ["total ms", "calls", "mean ms", "rows", "query"],
            [
                (
                    f"{s.total_ms:,.1f}",
                    f"{s.calls:,}",
                    f"{s.mean_ms:,.3f}",
                    f"{s.rows:,}",
                    s.query[:120],
                )
                for s in report.statements.statements
            ],
        )
    else:
        console.print(f"[yellow]top statements:[/yellow] {report.statements.message}")
    age = f"statistics since {report.stats_since:%Y-%m-%d %H:%M}"
    if report.unused:
        print_table(
            f"Unused indexes ({age}"
            + ("" if report.unused_are_findings else "; too recent to count as findings")
            + ")",
            ["table", "index", "size"],
            [(u.table, u.index, _mib(u.size_bytes)) for u in report.unused],
        )
    else:
        console.print(f"unused indexes: none ({age})")
    if report.duplicates:
        print_table(
            "Duplicate and redundant indexes",
            ["table", "index", "kind", "covered by", "size"],
            [(d.table, d.index, d.kind, d.same_as, _mib(d.size_bytes)) for d in report.duplicates],
        )
    else:
        console.print("duplicate indexes: none")
    print_table(
        "Table bloat (estimate), largest first",
        ["table", "size", "est. bloat", "ratio", "dead tuples"],
        [
            (
                b.table,
                _mib(b.size_bytes),
                _mib(b.estimated_bloat_bytes),
                f"{b.bloat_ratio:.0%}",
                f"{b.dead_tuples:,}",
            )
            for b in report.bloat[:10]
        ],
    )
    if report.missing_partitions or report.default_partition_rows:
        print_table(
            f"Partitions missing (this month and {months_ahead} ahead)",
            ["table", "month / default partition"],
            [(m.table, m.month) for m in report.missing_partitions]
            + [(d.table, f"{d.partition}: {d.rows} row(s)") for d in report.default_partition_rows],
        )
        console.print("run [bold]legal-data audit partitions[/bold] to create them")
    else:
        console.print(f"partitions: present for this month and {months_ahead} ahead")
    if findings:
        console.print(f"[red]{len(findings)} finding(s)[/red]")
    else:
        console.print("[green]no findings[/green]")
    sys.exit(EXIT_FINDINGS if findings else 0)
