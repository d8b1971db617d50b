"""A throwaway PgBouncer in transaction-pooling mode, in front of the perf database.

Debian's ``pgbouncer`` package (``apt-get install -y pgbouncer``; the harness only needs
the binary, not the packaged service). It runs as the unprivileged ``postgres`` user
when the harness runs as root, listens on a Unix socket in a private temporary
directory, authenticates the application login with SCRAM against a generated
``auth_file`` and logs into PostgreSQL as that same login. Stopped (SIGTERM to the
process it started) and removed on exit.

Transaction pooling hands each transaction to whichever server connection is free, so
session state does not survive between transactions: the tenant context must be
transaction-local (it is: ``SET LOCAL``), psycopg's server-side prepared statements must
be off (PgBouncer 1.18 does not track them: ``prepare_threshold=None``), and libpq's
``options`` startup parameter cannot be used (PgBouncer refuses it), so the timeouts
the engine normally sends that way are set on the login role instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from sqlalchemy.engine import URL

from legal_data.db.provision import libpq_conninfo

INSTALL_HINT = (
    "pgbouncer is not installed. On Debian/Ubuntu: apt-get install -y pgbouncer"
    " (the harness starts its own instance; the packaged service can stay stopped)."
)
RUN_AS = "postgres"


def find_pgbouncer() -> str:
    exe = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )
    if exe is None:
        raise SystemExit(INSTALL_HINT)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextmanager
def pgbouncer(app_url: URL, *, pool_size: int, max_clients: int) -> Iterator[URL]:
    """Start PgBouncer for ``app_url``'s database; yield the URL to reach it."""
    exe = find_pgbouncer()
    as_root = os.geteuid() == 0
    workdir = tempfile.mkdtemp(prefix="perf-pgbouncer-")
    port = _free_port()
    server_host = app_url.query.get("host") or app_url.host or "localhost"
    if isinstance(server_host, tuple):
        server_host = server_host[0]
    server_port = app_url.query.get("port") or app_url.port or 5432
    if isinstance(server_port, tuple):
        server_port = server_port[0]
    user, password = app_url.username or "", app_url.password or ""
    ini = os.path.join(workdir, "pgbouncer.ini")
    auth = os.path.join(workdir, "userlist.txt")
    with open(auth, "w") as f:
        f.write(f"{_quote(user)} {_quote(str(password))}\n")
    with open(ini, "w") as f:
        f.write(
            f"""[databases]
{app_url.database} = host={server_host} port={server_port} dbname={app_url.database}

[pgbouncer]
listen_addr =
listen_port = {port}
unix_socket_dir = {workdir}
auth_type = scram-sha-256
auth_file = {auth}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_clients}
max_db_connections = {pool_size}
server_reset_query =
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
"""
        )
    os.chmod(auth, 0o600)
    run_as: dict[str, object] = {}
    if as_root:
        # PgBouncer refuses to run as root; the process we start is PgBouncer itself
        # (no runuser in between), so stopping it by its pid stops the pooler.
        pw = pwd.getpwnam(RUN_AS)
        for path in (workdir, ini, auth):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    # A fixed argv: the binary found above and the config file written above.
    proc = subprocess.Popen(  # noqa: S603
        [exe, ini],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **run_as,  # type: ignore[arg-type]
    )
    url = app_url.set(host=None, port=None, query={"host": workdir, "port": str(port)})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(libpq_conninfo(url), prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    log = ""
                    with suppress(OSError), open(os.path.join(workdir, "pgbouncer.log")) as lf:
                        log = lf.read()[-2000:]
                    raise SystemExit(f"pgbouncer did not start: {err}{log}") from None
                time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
