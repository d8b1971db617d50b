"""The ``legal-data`` commands against a real database: exit codes, tables, --json."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from legal_data.cli import cli
from legal_data.db import migrate
from legal_data.db.provision import libpq_conninfo
from legal_data.testing.harness import empty_database


@pytest.fixture(scope="module")
def migrated(legal_data_server):
    with empty_database(legal_data_server, prefix="legal_data_cli") as url:
        migrate.upgrade(url)
        yield url


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def url_of(url) -> str:
    return url.render_as_string(hide_password=False)


def test_check_is_clean_on_a_fresh_database_and_fails_without_force(migrated):
    clean = run("check", "--database-url", url_of(migrated), "--json")
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output) == {"ok": True, "findings": []}
    with psycopg.connect(libpq_conninfo(migrated), autocommit=True) as conn:
        conn.execute("ALTER TABLE cases NO FORCE ROW LEVEL SECURITY")
        try:
            found = run("check", "--database-url", url_of(migrated))
            as_json = run("check", "--database-url", url_of(migrated), "--json")
        finally:
            conn.execute("ALTER TABLE cases FORCE ROW LEVEL SECURITY")
    assert found.exit_code == 1
    assert "rls-forced" in found.output and "cases" in found.output
    assert {
        "rule": "rls-forced",
        "object": "cases",
        "detail": "ROW LEVEL SECURITY is not FORCEd",
    } in (json.loads(as_json.output)["findings"])


def test_check_reports_a_disabled_audit_trigger(migrated):
    with psycopg.connect(libpq_conninfo(migrated), autocommit=True) as conn:
        conn.execute("ALTER TABLE invoices DISABLE TRIGGER audit_update")
        try:
            found = run("check", "--database-url", url_of(migrated), "--json")
        finally:
            conn.execute("ALTER TABLE invoices ENABLE ALWAYS TRIGGER audit_update")
    assert found.exit_code == 1
    assert [f["object"] for f in json.loads(found.output)["findings"]] == ["invoices"]


def test_db_verify_passes_on_unchanged_revisions(migrated):
    result = run("db", "verify", "--database-url", url_of(migrated), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["findings"] == [] and payload["applied"] >= 14


def test_db_verify_names_an_edited_revision(migrated):
    with psycopg.connect(libpq_conninfo(migrated), autocommit=True) as conn:
        conn.execute("UPDATE schema_revisions SET sha256 = repeat('0', 64) WHERE revision = '0006'")
        try:
            result = run("db", "verify", "--database-url", url_of(migrated))
        finally:
            conn.execute(
                "UPDATE schema_revisions SET sha256 = %s WHERE revision = '0006'",
                [
                    migrate.file_checksum(
                        migrate.script_directory(migrate.alembic_config()).get_revision("0006").path
                    )
                ],
            )
    assert result.exit_code == 1
    assert "0006" in result.output and "edited" in result.output


def test_commands_without_a_database_url_fail_clearly(monkeypatch):
    monkeypatch.delenv("LEGAL_DATA_ADMIN_URL", raising=False)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "LEGAL_DATA_ADMIN_URL" in result.output


@pytest.mark.parametrize(
    "command", [["check"], ["demo"], ["db", "verify"], ["audit", "verify"], ["search", "status"]]
)
def test_a_database_that_cannot_be_reached_is_one_line_and_exit_2(migrated, command):
    gone = url_of(migrated.set(database="legal_data_no_such_database"))
    result = CliRunner().invoke(cli, [*command, "--database-url", gone])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]  # (the demo prints its header first)
    assert last.startswith("error: cannot use the database: "), result.output
    assert 'database "legal_data_no_such_database" does not exist' in last
    assert "Traceback" not in result.output


def test_audit_seal_and_verify_commands(migrated):
    seal = run("audit", "seal", "--database-url", url_of(migrated), "--json")
    assert seal.exit_code == 0, seal.output
    verify = run("audit", "verify", "--database-url", url_of(migrated), "--json")
    assert verify.exit_code == 0, verify.output
    assert all(r["ok"] for r in json.loads(verify.output))
    parts = run("audit", "partitions", "--database-url", url_of(migrated), "--json")
    assert parts.exit_code == 0 and json.loads(parts.output)["default_rows"] == 0
