"""The ``legal-data`` command line.

Every command that touches a database takes ``--database-url`` (falling back to
``LEGAL_DATA_ADMIN_URL`` for operator work) or ``--app-url`` (falling back to
``LEGAL_DATA_DATABASE_URL``). Exit code 0 means success, 1 a finding, 2 a failure.
"""

from __future__ import annotations

from typing import Any

import click
import psycopg
import sqlalchemy.exc

from legal_data import __version__
from legal_data.cli.audit import audit
from legal_data.cli.check import check
from legal_data.cli.common import EXIT_ERROR, err_console
from legal_data.cli.db import db
from legal_data.cli.demo import demo
from legal_data.cli.keys import keys
from legal_data.cli.search import search
from legal_data.cli.stats import stats


class _Commands(click.Group):
    """The command group; a database that cannot be reached is a failure (exit 2) with
    one line saying why, not a traceback, whichever command tried."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (sqlalchemy.exc.OperationalError, psycopg.OperationalError) as exc:
            cause = getattr(exc, "orig", None) or exc
            reason = " ".join(str(cause).split())
            err_console.print(
                f"[red]error:[/red] cannot use the database: {reason}", soft_wrap=True
            )
            ctx.exit(EXIT_ERROR)


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="legal-data")
def cli() -> None:
    """legal_data: the data layer of a multi-tenant practice-management service."""


cli.add_command(demo)
cli.add_command(db)
cli.add_command(check)
cli.add_command(audit)
cli.add_command(keys)
cli.add_command(stats)
cli.add_command(search)


def main() -> None:
    cli()
