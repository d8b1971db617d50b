"""Shared pieces of the ``legal-data`` commands: URL options, output, exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from legal_data.db.engine import ENV_DATABASE_URL
from legal_data.db.migrate import ENV_ADMIN_URL
from legal_data.errors import LegalDataError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def admin_url_option(func: F) -> F:
    """``--database-url`` falling back to ``LEGAL_DATA_ADMIN_URL`` (operator work)."""
    return click.option(
        "--database-url",
        "database_url",
        envvar=ENV_ADMIN_URL,
        show_envvar=True,
        help=f"Admin URL of the database (default: ${ENV_ADMIN_URL}).",
    )(func)


def app_url_option(func: F) -> F:
    """``--app-url`` falling back to ``LEGAL_DATA_DATABASE_URL`` (application login)."""
    return click.option(
        "--app-url",
        "app_url",
        envvar=ENV_DATABASE_URL,
        show_envvar=True,
        help=f"Application login URL (default: ${ENV_DATABASE_URL}).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


def require(value: str | None, what: str, env: str) -> str:
    if not value:
        err_console.print(f"[red]error:[/red] no {what}: pass it as an option or set ${env}")
        sys.exit(EXIT_ERROR)
    return value


def admin_url_or_exit(url: str | None) -> str:
    return require(url or os.environ.get(ENV_ADMIN_URL), "admin database URL", ENV_ADMIN_URL)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) if v is not None else "" for v in row))
    console.print(table)


def print_json(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def fail(exc: LegalDataError) -> None:
    err_console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
    sys.exit(EXIT_ERROR)
