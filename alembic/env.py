"""Alembic environment for legal_data.

- The admin URL comes from ``-x url=...`` or ``LEGAL_DATA_ADMIN_URL`` (never from a file).
- Every revision runs in its own transaction with ``lock_timeout`` and ``statement_timeout``
  set, so a migration on a live database gives up instead of queueing behind a lock.
- Once the ``legal_owner`` role exists, migrations run as it (``SET ROLE``), so every
  object they create is owned by ``legal_owner``, not by the admin login.
- Before upgrading, the checksums of already-applied revision files are verified
  (Flyway-style): an edited, already-applied revision stops the run.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from legal_data.db import migrate
from legal_data.models import metadata

config = context.config
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations_offline() -> None:
    context.configure(
        url=migrate.admin_url_from(config),
        target_metadata=metadata,
        literal_binds=True,
        transaction_per_migration=True,
        include_object=migrate.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = migrate.migration_engine(config)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    migrate.prepare_connection(connection)
    if not config.attributes.get("skip_checksum_verification"):
        migrate.verify_checksums(connection, migrate.script_directory(config))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        transaction_per_migration=True,
        on_version_apply=migrate.record_checksum,
        include_object=migrate.include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
