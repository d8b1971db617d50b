"""Transport security against real servers.

The suite's own server has no TLS: there the connect-time check must refuse. A
throwaway PostgreSQL 15 cluster with a self-signed CA, ``ssl_min_protocol_version =
'TLSv1.3'``, scram-sha-256 and a hostssl-only ``pg_hba.conf`` (the settings
docs/encryption.md recommends) proves the rest: verify-full connects over TLS 1.3 and
passes the check; plaintext, a wrong host name, a foreign CA and TLS 1.2 are refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from legal_data.db.transport import (
    PG_STAT_SSL_SQL,
    InsecureTransport,
    check_tls,
    create_secure_tenant_engine,
)

PG15 = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "tls-test-password"  # a throwaway cluster's throwaway password


def test_the_suites_plain_server_fails_the_session_check(legal_data_harness):
    raw = legal_data_harness.admin_engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        rows = cursor.execute(PG_STAT_SSL_SQL).fetchall()
        assert len(rows) == 1 and rows[0][0] is False  # our own backend, not encrypted
        with pytest.raises(InsecureTransport):
            check_tls(raw.driver_connection)
    finally:
        raw.close()


def _run(*args: str, user: str | None = None, **kw) -> subprocess.CompletedProcess:
    command = list(args)
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, **kw)  # noqa: S603


def _openssl_pair(d: Path, name: str, cn: str, *, ca: str | None = None) -> None:
    if ca is None:
        _run(
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.crt"),
        )
        return
    _run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={cn}",
        "-keyout",
        str(d / f"{name}.key"),
        "-out",
        str(d / f"{name}.csr"),
    )
    (d / "san.ext").write_text(f"subjectAltName=DNS:{cn}\n")
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(d / f"{name}.csr"),
        "-CA",
        str(d / f"{ca}.crt"),
        "-CAkey",
        str(d / f"{ca}.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(d / "san.ext"),
        "-out",
        str(d / f"{name}.crt"),
    )


@pytest.fixture(scope="module")
def tls_server() -> Iterator[dict[str, str]]:
    user = "postgres" if os.geteuid() == 0 else None
    if not (PG15 / "postgres").exists() or shutil.which("openssl") is None:
        pytest.skip("needs PostgreSQL 15 binaries and openssl")
    if user is not None and shutil.which("runuser") is None:
        pytest.skip("needs runuser to start PostgreSQL as an unprivileged user")
    d = Path(tempfile.mkdtemp(prefix="legal-data-tls-"))
    os.chmod(d, 0o755)  # noqa: S103 - the server user must reach its files
    _openssl_pair(d, "ca", "legal-data test CA")
    _openssl_pair(d, "other-ca", "some other CA")
    _openssl_pair(d, "server", "localhost", ca="ca")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    if user is not None:
        shutil.chown(d, user)
        for f in d.iterdir():
            shutil.chown(f, user)
    os.chmod(d / "server.key", 0o600)
    data = d / "data"
    try:
        _run(
            str(PG15 / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            user=user,
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nlisten_addresses = 'localhost'\n"
                f"unix_socket_directories = '{d}'\nssl = on\n"
                f"ssl_cert_file = '{d / 'server.crt'}'\nssl_key_file = '{d / 'server.key'}'\n"
                "ssl_min_protocol_version = 'TLSv1.3'\npassword_encryption = 'scram-sha-256'\n"
            )
        (data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all ::1/128 scram-sha-256\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
            "hostnossl all all ::/0 reject\n"
        )
        _run(str(PG15 / "pg_ctl"), "-D", str(data), "-l", str(d / "log"), "-w", "start", user=user)
        with psycopg.connect(f"host={d} port={port} user=postgres dbname=postgres") as conn:
            conn.execute(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
        yield {"dir": str(d), "port": port}
    finally:
        if (data / "postmaster.pid").exists():
            _run(str(PG15 / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop", user=user)
        shutil.rmtree(d, ignore_errors=True)


def _url(server: dict[str, str], host: str = "localhost", **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"postgresql+psycopg://postgres:{PASSWORD}@{host}:{server['port']}/postgres?{params}"


def test_verify_full_connects_with_tls_1_3_and_passes_the_check(tls_server):
    url = _url(tls_server, sslmode="verify-full", sslrootcert=f"{tls_server['dir']}/ca.crt")
    engine = create_secure_tenant_engine(url, allow_privileged_role=True, environment="production")
    try:
        assert engine.url.query["ssl_min_protocol_version"] == "TLSv1.3"
        with engine.connect() as conn:  # the connect hook ran check_tls already
            assert tuple(conn.execute(text(PG_STAT_SSL_SQL)).one()) == (True, "TLSv1.3")
            stored = conn.execute(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")
            ).scalar()
            assert stored.startswith("SCRAM-SHA-256$")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("why", "conninfo"),
    [
        ("plaintext", "sslmode=disable"),
        ("wrong host name", "host=127.0.0.1 sslmode=verify-full sslrootcert={dir}/ca.crt"),
        ("foreign CA", "sslmode=verify-full sslrootcert={dir}/other-ca.crt"),
        (
            "TLS 1.2",
            "sslmode=verify-full sslrootcert={dir}/ca.crt ssl_max_protocol_version=TLSv1.2",
        ),
    ],
)
def test_weaker_connections_are_refused(tls_server, why, conninfo):
    base = f"host=localhost port={tls_server['port']} user=postgres password={PASSWORD}"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"{base} {conninfo.format(dir=tls_server['dir'])}", connect_timeout=5)
