"""``legal-data db``: migrations, revision checksums and login roles."""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

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
from legal_data.db import migrate
from legal_data.db.provision import sqlalchemy_url
from legal_data.db.roles import APP_GROUP, READONLY_GROUP, create_login
from legal_data.errors import LegalDataError


@click.group()
def db() -> None:
    """Migrations, revision checksums and login roles."""


@db.command()
@admin_url_option
@click.option("--revision", default="head", show_default=True)
def upgrade(database_url: str | None, revision: str) -> None:
    """Migrate the database (verifies applied revision checksums first)."""
    url = admin_url_or_exit(database_url)
    try:
        migrate.upgrade(url, revision)
    except LegalDataError as exc:
        fail(exc)
    console.print(f"upgraded to {', '.join(migrate.current_heads(url))}")


@db.command()
@admin_url_option
@json_option
def verify(database_url: str | None, as_json: bool) -> None:
    """Fail when an applied revision file was edited (or removed) after it was applied."""
    url = admin_url_or_exit(database_url)
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            scripts = migrate.script_directory(migrate.alembic_config())
            findings = migrate.checksum_findings(conn, scripts)
            applied = conn.exec_driver_sql("SELECT count(*) FROM schema_revisions").scalar()
    finally:
        engine.dispose()
    if as_json:
        print_json(
            {
                "applied": applied,
                "findings": [f.__dict__ for f in findings],
            }
        )
    elif findings:
        print_table(
            "Applied revisions that no longer match their files",
            ["revision", "file", "problem"],
            [(f.revision, f.filename, f.problem) for f in findings],
        )
        console.print(
            "[red]Restore the original files; change the schema with a new revision.[/red]"
        )
    else:
        console.print(f"{applied} applied revisions match their files")
    sys.exit(EXIT_FINDINGS if findings else 0)


@db.command("create-login")
@admin_url_option
@click.argument("name")
@click.option(
    "--readonly", is_flag=True, help=f"Member of {READONLY_GROUP} instead of {APP_GROUP}."
)
@click.option(
    "--password-env",
    default=None,
    help="Read the password from this environment variable (default: generate one).",
)
def create_login_cmd(
    database_url: str | None, name: str, readonly: bool, password_env: str | None
) -> None:
    """Create LOGIN role NAME as a member of legal_app (or legal_readonly)."""
    url = sqlalchemy_url(admin_url_or_exit(database_url))
    password = os.environ.get(password_env) if password_env else None
    if password_env and not password:
        fail(LegalDataError(f"${password_env} is empty"))
    try:
        generated, _ = create_login(
            url, name, password=password, group=READONLY_GROUP if readonly else APP_GROUP
        )
    except LegalDataError as exc:
        fail(exc)
    console.print(f"created login role {name} in {READONLY_GROUP if readonly else APP_GROUP}")
    if not password_env:
        # Shown once so it can be put into a secret store; it is not kept anywhere.
        click.echo(f"password: {generated}")
