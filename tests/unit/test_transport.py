"""Which database URLs the transport helpers accept (no database needed)."""

from __future__ import annotations

import pytest

from legal_data.db.transport import InsecureTransport, check_tls, require_tls

BASE = "postgresql+psycopg://app:s3cret@db.internal:5432/legal"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?sslmode=disable",
        "?sslmode=allow",
        "?sslmode=prefer",
        "?sslmode=require",
        "?sslmode=verify-ca&sslrootcert=/etc/ca.pem",
    ],
)
def test_anything_weaker_than_verify_full_is_refused_outside_development(query):
    with pytest.raises(InsecureTransport) as refused:
        require_tls(BASE + query, environment="production")
    assert "verify-full" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_verify_full_gets_tls_1_3_pinned():
    url = require_tls(BASE + "?sslmode=verify-full&sslrootcert=/etc/ca.pem", environment="staging")
    assert url.query["sslmode"] == "verify-full"
    assert url.query["ssl_min_protocol_version"] == "TLSv1.3"
    assert url.query["sslrootcert"] == "/etc/ca.pem"


def test_a_weaker_minimum_protocol_is_refused_and_an_equal_one_kept():
    with pytest.raises(InsecureTransport):
        require_tls(BASE + "?sslmode=verify-full&ssl_min_protocol_version=TLSv1.2")
    url = require_tls(
        BASE + "?sslmode=verify-full&ssl_min_protocol_version=TLSv1.2", min_version="TLSv1.2"
    )
    assert url.query["ssl_min_protocol_version"] == "TLSv1.2"


def test_unix_sockets_are_refused_outside_development():
    with pytest.raises(InsecureTransport) as refused:
        require_tls("postgresql+psycopg://app@/legal?host=/var/run/postgresql&sslmode=verify-full")
    assert "socket" in str(refused.value)


def test_development_accepts_anything(monkeypatch):
    assert require_tls(BASE, environment="development").query == {}
    monkeypatch.setenv("LEGAL_DATA_ENV", "development")
    assert require_tls(BASE + "?sslmode=disable").query["sslmode"] == "disable"
    monkeypatch.setenv("LEGAL_DATA_ENV", "production")
    with pytest.raises(InsecureTransport):
        require_tls(BASE)


class _Cursor:
    def __init__(self, row):
        self.row, self.sql = row, None

    def execute(self, sql):
        self.sql = sql

    def fetchone(self):
        return self.row

    def close(self):
        pass


class _Connection:
    def __init__(self, row):
        self.cursor_ = _Cursor(row)

    def cursor(self):
        return self.cursor_

    def rollback(self):
        pass


@pytest.mark.parametrize(
    ("row", "ok"),
    [((True, "TLSv1.3"), True), ((True, "TLSv1.2"), False), ((False, None), False), (None, False)],
)
def test_the_session_check_reads_pg_stat_ssl(row, ok):
    conn = _Connection(row)
    if ok:
        assert check_tls(conn) == (True, "TLSv1.3")
    else:
        with pytest.raises(InsecureTransport):
            check_tls(conn)
    assert "pg_stat_ssl" in conn.cursor_.sql and "pg_backend_pid()" in conn.cursor_.sql
