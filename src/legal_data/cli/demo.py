"""``legal-data demo``: the main job, on an embedded throwaway PostgreSQL by default."""

from __future__ import annotations

import click

from legal_data.cli.common import console, fail
from legal_data.errors import LegalDataError


@click.command()
@click.option(
    "--database-url",
    default=None,
    help="Admin URL of an existing server to migrate and fill (the data is left there). "
    "Without it the demo runs on an embedded throwaway PostgreSQL.",
)
def demo(database_url: str | None) -> None:
    """Create two law firms with Japanese sample data and show isolation at work."""
    from legal_data.demo.runner import run_demo

    try:
        run_demo(database_url, console)
    except LegalDataError as exc:
        fail(exc)
