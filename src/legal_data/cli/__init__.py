"""The ``legal-data`` command line.

Every command that touches a database takes ``--database-url`` (falling back to
``LEGAL_DATA_ADMIN_URL`` for operator work) or ``--app-url`` (falling back to
``LEGAL_DATA_DATABASE_URL``). Exit code 0 means success, 1 a finding, 2 a failure.
"""

from __future__ import annotations

import click

from legal_data import __version__
from legal_data.cli.audit import audit
from legal_data.cli.check import check
from legal_data.cli.db import db
from legal_data.cli.demo import demo
from legal_data.cli.keys import keys
from legal_data.cli.search import search
from legal_data.cli.stats import stats


@click.group()
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
