"""``legal-data stats`` and :mod:`legal_data.db.stats` against a real PostgreSQL.

The migrated schema itself must come out clean (no duplicate index, every coming
partition there, an empty default partition); each report is then shown to find what
it is for in a scratch database: a duplicate and a redundant index, an index nobody
scanned, a table with most of its rows deleted, a missing month and rows in a default
partition. ``pg_stat_statements`` is usually not preloaded on test servers: the report
must then say so (and how to enable it) without failing; where the server does load it,
it must list statements.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, TextClause, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from legal_data.cli import cli
from legal_data.db import migrate
from legal_data.db import stats as db_stats
from legal_data.db.provision import libpq_conninfo
from legal_data.testing.harness import empty_database


@pytest.fixture(scope="module")
def migrated(legal_data_server) -> Iterator[URL]:
    with empty_database(legal_data_server, prefix="legal_data_stats") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def scratch(legal_data_server) -> Iterator[URL]:
    with empty_database(legal_data_server, prefix="legal_data_scratch") as url:
        yield url


#: Statistics of a fresh database are as old as the server (nothing resets them at CREATE
#: DATABASE): a large minimum age keeps unused indexes from counting on long-lived servers.
FRESH = dt.timedelta(days=36500)


@contextmanager
def connect(url: URL) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def url_of(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def sql(url: URL, *statements: str) -> None:
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


# -- the migrated schema ------------------------------------------------------------------------


def test_the_migrated_schema_is_clean(migrated):
    with connect(migrated) as conn:
        assert db_stats.duplicate_indexes(conn) == []
        assert db_stats.missing_partitions(conn, months_ahead=3) == []
        assert db_stats.default_partition_rows(conn) == []
        report = db_stats.collect(conn, min_stats_age=FRESH)
        # A fresh database has scanned few indexes (they are listed, not findings); nothing
        # else is wrong with it.
        assert not report.unused_are_findings
        assert report.findings == []


def test_stats_command_exits_0_on_a_clean_database(migrated):
    fresh = ("--min-stats-age-days", "36500")
    result = run("stats", "--database-url", url_of(migrated), *fresh)
    assert result.exit_code == 0, result.output
    assert "duplicate indexes: none" in result.output
    assert "partitions: present for this month and 3 ahead" in result.output
    as_json = run("stats", "--database-url", url_of(migrated), "--json", *fresh)
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert payload["findings"] == [] and payload["duplicates"] == []
    assert {"statements", "unused", "bloat", "missing_partitions"} <= set(payload)


def test_partitions_missing_further_ahead_are_named(migrated):
    with connect(migrated) as conn:
        now = conn.execute(psycopg_now()).scalar_one().astimezone(dt.UTC)
        missing = db_stats.missing_partitions(conn, months_ahead=5, now=now)
        expected = [_month(now, 4), _month(now, 5)]
        assert [(m.table, m.month) for m in missing] == [("audit_logs", m) for m in expected]
        # Seen from two months later, the current month is gone from the window and
        # months 4 to 7 (from today) are missing.
        later = db_stats.missing_partitions(conn, months_ahead=5, now=_add_months(now, 2))
        assert [m.month for m in later] == [_month(now, k) for k in (4, 5, 6, 7)]
    result = run(
        "stats",
        "--database-url",
        url_of(migrated),
        "--months-ahead",
        "5",
        "--json",
        "--min-stats-age-days",
        "36500",
    )
    assert result.exit_code == 1
    assert f"missing partition: audit_logs {expected[0]}" in json.loads(result.output)["findings"]


def psycopg_now() -> TextClause:
    return text("SELECT statement_timestamp()")


def _add_months(when: dt.datetime, n: int) -> dt.datetime:
    y, m = divmod(when.year * 12 + when.month - 1 + n, 12)
    return when.replace(year=y, month=m + 1, day=1)


def _month(when: dt.datetime, n: int) -> str:
    return f"{_add_months(when, n):%Y-%m}"


# -- pg_stat_statements --------------------------------------------------------------------------


def _preloaded(url: URL) -> bool:
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
    return row is not None and "pg_stat_statements" in str(row[0])


def _available(url: URL) -> bool:
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
            ).fetchone()
        )


def test_top_statements_say_how_to_enable_pg_stat_statements(scratch):
    with connect(scratch) as conn:
        report = db_stats.top_statements(conn)
    assert not report.available and report.statements == []
    assert report.message == db_stats.PGSS_MISSING
    assert "shared_preload_libraries" in report.message
    assert "CREATE EXTENSION pg_stat_statements" in report.message
    result = run("stats", "--database-url", url_of(scratch), "--min-stats-age-days", "36500")
    assert "pg_stat_statements is not installed" in result.output
    assert result.exit_code == 0, result.output  # a missing extension is not a finding


def test_top_statements_with_the_extension_created(scratch):
    if not _available(scratch):
        pytest.skip("this server has no pg_stat_statements extension files (contrib)")
    sql(scratch, "CREATE EXTENSION pg_stat_statements")
    with connect(scratch) as conn:
        report = db_stats.top_statements(conn)
    if _preloaded(scratch):
        assert report.available and report.message is None
        assert all(s.calls >= 1 and s.total_ms >= 0 for s in report.statements)
    else:
        # Created but not loaded by the server: reading the view raises; say what to do.
        assert not report.available and report.message == db_stats.PGSS_NOT_LOADED


# -- indexes ---------------------------------------------------------------------------------

SCRATCH_TABLES = (
    "CREATE TABLE parent (tenant_id uuid NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id))",
    "CREATE TABLE t (tenant_id uuid NOT NULL, id int NOT NULL, a int, b int, parent_id int,"
    " PRIMARY KEY (tenant_id, id),"
    " FOREIGN KEY (tenant_id, parent_id) REFERENCES parent (tenant_id, id))",
)


def test_duplicate_and_redundant_indexes_are_reported(scratch):
    sql(
        scratch,
        *SCRATCH_TABLES,
        "CREATE UNIQUE INDEX uq_t_tenant_id_a ON t (tenant_id, a)",
        "CREATE INDEX ix_t_tenant_id_a ON t (tenant_id, a)",  # same as the unique one
        "CREATE INDEX ix_t_tenant_id_b ON t (tenant_id, b)",
        "CREATE INDEX ix_t_tenant_id_b_again ON t (tenant_id, b)",  # exact duplicate
        "CREATE INDEX ix_t_tenant_id_b_a ON t (tenant_id, b, a)",  # covers (tenant_id, b)
        "CREATE INDEX ix_t_tenant_id_b_partial ON t (tenant_id, b) WHERE a > 0",  # different
        "CREATE INDEX ix_t_expr ON t (tenant_id, (a + b))",  # expression: not a prefix
    )
    with connect(scratch) as conn:
        found = {(d.index, d.same_as, d.kind) for d in db_stats.duplicate_indexes(conn)}
    assert found == {
        ("ix_t_tenant_id_a", "uq_t_tenant_id_a", "duplicate"),
        ("ix_t_tenant_id_b_again", "ix_t_tenant_id_b", "duplicate"),
        ("ix_t_tenant_id_b", "ix_t_tenant_id_b_a", "redundant"),
        ("ix_t_tenant_id_b_again", "ix_t_tenant_id_b_a", "redundant"),
    }
    result = run("stats", "--database-url", url_of(scratch), "--json")
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    assert "duplicate index: ix_t_tenant_id_a (duplicate of uq_t_tenant_id_a)" in findings
    table = run("stats", "--database-url", url_of(scratch))
    assert table.exit_code == 1 and "ix_t_tenant_id_b_again" in table.output


def test_unused_indexes_leave_out_unique_and_foreign_key_indexes(scratch):
    sql(
        scratch,
        *SCRATCH_TABLES,
        "CREATE INDEX ix_t_tenant_id_parent_id ON t (tenant_id, parent_id)",  # backs the FK
        "CREATE UNIQUE INDEX uq_t_tenant_id_b ON t (tenant_id, b)",
        "CREATE INDEX ix_t_tenant_id_a ON t (tenant_id, a)",
        "CREATE INDEX ix_t_b ON t (b)",
        "INSERT INTO t (tenant_id, id, a, b) SELECT gen_random_uuid(), g, g, g"
        " FROM generate_series(1, 1000) g",
    )
    with psycopg.connect(libpq_conninfo(scratch), autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT count(*) FROM t WHERE b = 5").fetchone()  # scans ix_t_b
        conn.execute("SELECT pg_stat_force_next_flush()")
    with connect(scratch) as conn:
        unused = {u.index for u in db_stats.unused_indexes(conn)}
        report = db_stats.collect(conn, min_stats_age=dt.timedelta(0))
    assert "ix_t_tenant_id_a" in unused
    assert not {"ix_t_b", "ix_t_tenant_id_parent_id", "uq_t_tenant_id_b", "t_pkey"} & unused
    assert report.unused_are_findings
    assert "unused index: ix_t_tenant_id_a on t" in report.findings


# -- bloat and partitions --------------------------------------------------------------------------


def test_a_table_with_most_rows_deleted_is_reported_as_bloated(scratch):
    sql(
        scratch,
        "CREATE TABLE churn (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = off)",
        "INSERT INTO churn SELECT g, repeat('法律', 10) FROM generate_series(1, 20000) g",
        "DELETE FROM churn WHERE id % 10 <> 0",
        "ANALYZE churn",
        "SELECT pg_stat_force_next_flush()",
    )
    with connect(scratch) as conn:
        bloat = {b.table: b for b in db_stats.table_bloat(conn)}
        report = db_stats.collect(conn, bloat_ratio=0.5, bloat_min_bytes=0)
    churn = bloat["churn"]
    assert churn.bloat_ratio > 0.8 and churn.estimated_bloat_bytes > 0
    # (The statistics counters race with ANALYZE's own report: ranges, not exact values.)
    assert churn.dead_tuples >= 15000 and churn.live_tuples <= 5000
    assert "bloated table: churn" in " ".join(report.findings)
    # The same rows, never deleted: the estimate sees no bloat. (Not VACUUM FULL of churn:
    # on a shared server another database's long transaction can keep the dead rows.)
    sql(
        scratch,
        "CREATE TABLE compact (id int PRIMARY KEY, payload text)",
        "INSERT INTO compact SELECT g, repeat('法律', 10) FROM generate_series(1, 2000) g",
        "ANALYZE compact",
    )
    with connect(scratch) as conn:
        assert {b.table: b for b in db_stats.table_bloat(conn)}["compact"].bloat_ratio < 0.2


def test_months_without_a_partition_and_rows_in_the_default_one(scratch):
    sql(
        scratch,
        "CREATE TABLE events (at timestamptz NOT NULL, what text) PARTITION BY RANGE (at)",
        "CREATE TABLE events_default PARTITION OF events DEFAULT",
    )
    with psycopg.connect(libpq_conninfo(scratch), autocommit=True) as conn:
        now = conn.execute("SELECT statement_timestamp()").fetchone()[0].astimezone(dt.UTC)
        for k in (0, 1, 3):  # month 2 is missing
            lo, hi = _add_months(now, k), _add_months(now, k + 1)
            conn.execute(
                f"CREATE TABLE events_{k} PARTITION OF events"
                f" FOR VALUES FROM ('{lo:%Y-%m-%d}+00') TO ('{hi:%Y-%m-%d}+00')"
            )
        # A row two months ahead has no partition of its own: it lands in the default one.
        conn.execute("INSERT INTO events VALUES (%s, 'too early')", (_add_months(now, 2),))
    with connect(scratch) as conn:
        missing = db_stats.missing_partitions(conn, months_ahead=3, now=now)
        defaults = db_stats.default_partition_rows(conn)
    assert [(m.table, m.month) for m in missing] == [("events", _month(now, 2))]
    assert [(d.table, d.partition, d.rows) for d in defaults] == [("events", "events_default", 1)]
    result = run(
        "stats", "--database-url", url_of(scratch), "--json", "--min-stats-age-days", "36500"
    )
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    assert f"missing partition: events {_month(now, 2)}" in findings
    assert "rows in default partition: events_default (1)" in findings


def test_stats_command_fails_clearly_without_a_database(monkeypatch):
    monkeypatch.delenv("LEGAL_DATA_ADMIN_URL", raising=False)
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 2
    assert "LEGAL_DATA_ADMIN_URL" in result.output
    unreachable = run("stats", "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert unreachable.exit_code == 2
    assert "cannot read statistics" in unreachable.output
