"""``legal-data check``: the security posture of a live database."""

from __future__ import annotations

import sys

import click
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from legal_data.cli.common import (
    EXIT_FINDINGS,
    admin_url_option,
    admin_url_or_exit,
    app_url_option,
    console,
    json_option,
    print_json,
    print_table,
)
from legal_data.db.provision import sqlalchemy_url
from legal_data.tenancy.posture import check_posture


@click.command()
@admin_url_option
@app_url_option
@json_option
def check(database_url: str | None, app_url: str | None, as_json: bool) -> None:
    """Report RLS, roles, grants, SECURITY DEFINER functions and views; exit 1 on findings."""
    url = sqlalchemy_url(admin_url_or_exit(database_url))
    login = make_url(app_url).username if app_url else None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            findings = check_posture(conn, login=login)
    finally:
        engine.dispose()
    if as_json:
        print_json({"ok": not findings, "findings": [f.as_dict() for f in findings]})
    elif findings:
        print_table(
            f"{len(findings)} security finding(s)",
            ["rule", "object", "detail"],
            [(f.rule, f.object, f.detail) for f in findings],
        )
    else:
        console.print("[green]no findings[/green]: every tenant table is isolated")
    sys.exit(EXIT_FINDINGS if findings else 0)
