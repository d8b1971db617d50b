"""Running Alembic programmatically, and Flyway-style checksums of applied revisions.

Alembic records only *which* revisions ran. This module also records the SHA-256 of
each applied revision file in ``schema_revisions`` and refuses to go on when a file
that already ran was edited afterwards (``legal-data db verify``, and before every
upgrade). Editing an applied migration silently forks production from every other
environment; a new revision is the only honest way to change the schema.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from legal_data.db.provision import sqlalchemy_url
from legal_data.errors import ConfigurationError, RevisionChecksumMismatch

ENV_ADMIN_URL = "LEGAL_DATA_ADMIN_URL"
OWNER_ROLE = "legal_owner"
REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT_LOCATION = REPO_ROOT / "alembic"

# Defaults for a live database: give up after 5 s waiting for a lock, 5 min per statement.
DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000


def alembic_config(
    url: str | URL | None = None,
    *,
    connection: Connection | None = None,
    script_location: Path | None = None,
    x: dict[str, str] | None = None,
) -> Config:
    """An Alembic :class:`Config` for this project's migrations, independent of the cwd.

    ``x`` are the ``-x key=value`` arguments of the alembic CLI (``url``,
    ``lock_timeout_ms``, ``statement_timeout_ms``).
    """
    location = script_location or SCRIPT_LOCATION
    if not location.is_dir():
        raise ConfigurationError(f"migration scripts not found at {location}")
    cfg = Config(
        str(REPO_ROOT / "alembic.ini"),
        cmd_opts=argparse.Namespace(x=[f"{k}={v}" for k, v in (x or {}).items()]),
    )
    cfg.set_main_option("script_location", str(location))
    # Library callers own their logging; only the alembic CLI applies alembic.ini's.
    cfg.attributes["configure_logger"] = False
    if url is not None:
        rendered = sqlalchemy_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def admin_url_from(config: Config) -> str:
    """The admin URL: ``-x url=...``, then the config, then ``LEGAL_DATA_ADMIN_URL``."""
    from alembic import context

    x_url = context.get_x_argument(as_dictionary=True).get("url")
    url = x_url or config.get_main_option("sqlalchemy.url") or os.environ.get(ENV_ADMIN_URL)
    if not url:
        raise ConfigurationError(
            f"no database URL: pass -x url=... or set {ENV_ADMIN_URL} to an admin URL"
        )
    return sqlalchemy_url(url).render_as_string(hide_password=False)


def migration_engine(config: Config) -> Engine:
    from alembic import context

    x = context.get_x_argument(as_dictionary=True)
    lock_ms = int(x.get("lock_timeout_ms", DEFAULT_LOCK_TIMEOUT_MS))
    stmt_ms = int(x.get("statement_timeout_ms", DEFAULT_STATEMENT_TIMEOUT_MS))
    options = f"-c lock_timeout={lock_ms} -c statement_timeout={stmt_ms}"
    return create_engine(
        admin_url_from(config),
        poolclass=NullPool,
        connect_args={"options": options, "application_name": "legal_data migrations"},
    )


def prepare_connection(connection: Connection) -> None:
    """Act as ``legal_owner`` once 0001 set it up here, so created objects are owned by it.

    Roles are cluster-wide: the role may exist from another database while this one is
    still empty, so the test is whether the role may create in this database's schema.
    """
    can_own = connection.execute(
        text(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :r)"
            " AND pg_has_role(session_user, :r, 'MEMBER')"
            " AND has_schema_privilege(:r, 'public', 'CREATE')"
        ),
        {"r": OWNER_ROLE},
    ).scalar()
    if can_own:
        connection.exec_driver_sql(f"SET ROLE {OWNER_ROLE}")
    connection.commit()


def script_directory(config: Config) -> ScriptDirectory:
    return ScriptDirectory.from_config(config)


def file_checksum(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record_checksum(
    *, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: dict[str, Any]
) -> None:
    """``on_version_apply`` hook: remember the applied file's checksum, forget it on downgrade."""
    conn = ctx.connection
    if conn is None or step.up_revision_id is None:
        return
    if not inspect(conn).has_table("schema_revisions"):
        return  # the bookkeeping table is itself being dropped (downgrade to base)
    if step.is_upgrade:
        script = step.up_revision
        assert script is not None
        path = Path(script.path)  # type: ignore[attr-defined]
        conn.execute(
            text(
                "INSERT INTO schema_revisions (revision, filename, sha256)"
                " VALUES (:r, :f, :s) ON CONFLICT (revision) DO UPDATE"
                " SET filename = excluded.filename, sha256 = excluded.sha256, applied_at = now()"
            ),
            {"r": step.up_revision_id, "f": path.name, "s": file_checksum(path)},
        )
    else:
        conn.execute(
            text("DELETE FROM schema_revisions WHERE revision = :r"), {"r": step.up_revision_id}
        )


@dataclass(frozen=True)
class ChecksumFinding:
    revision: str
    filename: str
    problem: str  # "edited" or "missing"


def checksum_findings(connection: Connection, scripts: ScriptDirectory) -> list[ChecksumFinding]:
    """Compare recorded checksums with the revision files on disk."""
    if not inspect(connection).has_table("schema_revisions"):
        return []
    rows = connection.execute(
        text("SELECT revision, filename, sha256 FROM schema_revisions ORDER BY applied_at")
    ).all()
    findings = []
    for revision, filename, recorded in rows:
        script = scripts.get_revision(revision) if _known(scripts, revision) else None
        if script is None:
            findings.append(ChecksumFinding(revision, filename, "missing"))
        elif file_checksum(script.path) != recorded:
            findings.append(ChecksumFinding(revision, filename, "edited"))
    return findings


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except Exception:
        return False


def verify_checksums(connection: Connection, scripts: ScriptDirectory) -> None:
    findings = checksum_findings(connection, scripts)
    connection.commit()
    if findings:
        detail = "; ".join(f"{f.revision} ({f.filename}) {f.problem}" for f in findings)
        raise RevisionChecksumMismatch(
            "applied migration files no longer match what ran on this database: "
            f"{detail}. Restore the original files and add a new revision instead."
        )


#: Monthly audit partitions are created by ``audit_ensure_partitions()``, not by models.
_AUDIT_PARTITION = re.compile(r"^audit_logs_(p\d{6}|default)$")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter: objects the models do not describe on purpose."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not (table and _AUDIT_PARTITION.match(table))


# -- programmatic entry points (tests, demo, CLI) ----------------------------------


def upgrade(url: str | URL, revision: str = "head", **config: Any) -> None:
    """Upgrade to ``revision``; ``config`` goes to :func:`alembic_config`."""
    command.upgrade(alembic_config(url, **config), revision)


def downgrade(url: str | URL, revision: str, **config: Any) -> None:
    command.downgrade(alembic_config(url, **config), revision)


def check(url: str | URL) -> None:
    """Raise ``alembic.util.AutogenerateDiffsDetected`` if the models drifted from the DB."""
    command.check(alembic_config(url))


def current_heads(url: str | URL) -> tuple[str, ...]:
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
