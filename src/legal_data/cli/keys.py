"""``legal-data keys``: a firm's encryption keys: init, status, rotate, retire, rewrap, destroy.

Operator commands: they run with the admin URL and the master key of the deployment
(``LEGAL_DATA_MASTER_KEY`` / ``LEGAL_DATA_MASTER_KEY_FILE``, or ``--master-key-file``).
Each command changes this process's key cache at once; running application processes
pick changes up within the key cache TTL (60 s), sooner when they meet a new key id.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from sqlalchemy import Engine, text

from legal_data.cli.common import (
    EXIT_FINDINGS,
    admin_url_option,
    admin_url_or_exit,
    console,
    err_console,
    fail,
    json_option,
    print_json,
    print_table,
)
from legal_data.crypto import admin, runtime
from legal_data.crypto.keys import LocalMasterKey, MasterKeyProvider
from legal_data.db.engine import create_tenant_engine
from legal_data.errors import LegalDataError

F = TypeVar("F", bound=Callable[..., Any])


def _tenant_option(func: F) -> F:
    return click.option("--tenant", required=True, help="The firm: its id (UUID) or its slug.")(
        func
    )


def _master_key_option(func: F) -> F:
    return click.option(
        "--master-key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="File with the base64 master key (default: $LEGAL_DATA_MASTER_KEY or "
        "$LEGAL_DATA_MASTER_KEY_FILE).",
    )(func)


@contextmanager
def _operator(database_url: str | None, master_key_file: Path | None) -> Iterator[Engine]:
    """The operator engine (typed errors, hidden parameters) and the master key."""
    try:
        if master_key_file is not None:
            runtime.configure(LocalMasterKey.from_file(master_key_file))
        runtime.master_key_provider()
    except LegalDataError as exc:
        fail(exc)
    engine = create_tenant_engine(
        admin_url_or_exit(database_url),
        allow_privileged_role=True,
        application_name="legal_data keys",
        pool_size=2,
        max_overflow=2,
    )
    try:
        yield engine
    except LegalDataError as exc:
        fail(exc)
    finally:
        engine.dispose()


def _firm(engine: Engine, tenant: str) -> uuid.UUID:
    try:
        return uuid.UUID(tenant)
    except ValueError:
        pass
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM tenants WHERE slug = :s"), {"s": tenant}).first()
    if found is None:
        raise LegalDataError(f"no firm with id or slug {tenant!r}")
    return found.id


def _print_status(status: admin.KeyStatus) -> None:
    print_table(
        f"Keys of firm {status.tenant_id}",
        ["key id", "purpose", "version", "state", "master key"],
        [
            (k.key_id, k.purpose, k.version, k.state, k.master_key_id or "")
            for k in sorted(status.keys, key=lambda k: (k.purpose, k.version))
        ],
    )
    print_table(
        "Encrypted values per column",
        ["column", "values", "on active key", "on old keys"],
        [
            (
                f"{c.table}.{c.column}",
                c.total,
                c.on_active,
                ", ".join(f"v{v or '?'} ({state}): {n}" for _k, v, state, n in c.on_old) or "0",
            )
            for c in status.columns
        ],
    )


def _status_json(status: admin.KeyStatus) -> dict[str, Any]:
    return {
        "tenant_id": status.tenant_id,
        "keys": [
            {
                "key_id": k.key_id,
                "purpose": k.purpose,
                "version": k.version,
                "state": k.state,
                "master_key_id": k.master_key_id,
            }
            for k in status.keys
        ],
        "columns": [
            {
                "column": f"{c.table}.{c.column}",
                "values": c.total,
                "on_active_key": c.on_active,
                "on_old_keys": [
                    {"key_id": k, "version": v, "state": state, "values": n}
                    for k, v, state, n in c.on_old
                ],
            }
            for c in status.columns
        ],
        "remaining": status.remaining,
    }


@click.group()
def keys() -> None:
    """A firm's encryption keys: create, report, rotate, retire, rewrap, destroy."""


@keys.command()
@admin_url_option
@_tenant_option
@_master_key_option
def init(database_url: str | None, tenant: str, master_key_file: Path | None) -> None:
    """Create the firm's first keys (done automatically at its first encrypted write)."""
    with _operator(database_url, master_key_file) as engine:
        rows = admin.init_keys(engine, _firm(engine, tenant))
    console.print("keys: " + ", ".join(f"{r.purpose} v{r.version} ({r.state})" for r in rows))


@keys.command()
@admin_url_option
@_tenant_option
@_master_key_option
@json_option
def status(
    database_url: str | None, tenant: str, master_key_file: Path | None, as_json: bool
) -> None:
    """Per encrypted column: values on the active key and on old keys (exit 1 if any old)."""
    with _operator(database_url, master_key_file) as engine:
        report = admin.key_status(engine, _firm(engine, tenant))
    if as_json:
        print_json(_status_json(report))
    else:
        _print_status(report)
        console.print(f"{report.remaining} value(s) on old keys")
    sys.exit(EXIT_FINDINGS if report.remaining else 0)


@keys.command()
@admin_url_option
@_tenant_option
@_master_key_option
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
@click.option(
    "--new-key/--resume",
    "new_key",
    default=None,
    help="Always start a new key version / only finish moving values to the active key. "
    "Default: resume an unfinished rotation, else start a new version.",
)
@click.option("--pause-ms", default=0, show_default=True, help="Pause between batches.")
@json_option
def rotate(
    database_url: str | None,
    tenant: str,
    master_key_file: Path | None,
    batch_size: int,
    new_key: bool | None,
    pause_ms: int,
    as_json: bool,
) -> None:
    """New active key, then re-encrypt every value of the firm (resumable, idempotent)."""
    with _operator(database_url, master_key_file) as engine:
        firm = _firm(engine, tenant)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=as_json,
        ) as progress:
            task = progress.add_task("re-encrypting", total=None)
            report = admin.rotate(
                engine,
                firm,
                batch_size=batch_size,
                new_key=new_key,
                pause_seconds=pause_ms / 1000,
                on_start=lambda total: progress.update(task, total=total),
                on_progress=lambda n: progress.advance(task, n),
            )
    if as_json:
        print_json(
            {
                "tenant_id": firm,
                "new_key_id": report.new_key.key_id if report.new_key else None,
                "active_key_id": report.active_key_id,
                "reencrypted": report.reencrypted,
                "conflicts": report.conflicts,
                "unreadable": report.unreadable,
                "remaining": report.remaining,
            }
        )
    else:
        started = f"new key v{report.new_key.version}" if report.new_key else "resumed (no new key)"
        console.print(
            f"{started}: {sum(report.reencrypted.values())} value(s) re-encrypted in "
            f"{report.batches} batch(es), {report.conflicts} concurrent edit(s) left alone, "
            f"{report.remaining} value(s) still on old keys"
        )
        for where, n in report.unreadable.items():
            console.print(f"[red]{where}: {n} value(s) no usable key opens[/red]")
    sys.exit(EXIT_FINDINGS if report.remaining else 0)


@keys.command()
@admin_url_option
@_tenant_option
@_master_key_option
@click.argument("key")
def retire(database_url: str | None, tenant: str, master_key_file: Path | None, key: str) -> None:
    """Retire KEY (id or version) once no value uses it; exit 1 and change nothing if any do."""
    with _operator(database_url, master_key_file) as engine:
        row, left = admin.retire_key(engine, _firm(engine, tenant), key)
    if left:
        console.print(
            f"[red]key v{row.version} still encrypts {left} value(s)[/red]: run "
            "`legal-data keys rotate` first (it resumes)"
        )
        sys.exit(EXIT_FINDINGS)
    console.print(f"retired key v{row.version} ({row.key_id})")


@keys.command()
@admin_url_option
@click.option("--tenant", help="One firm (default: every firm).")
@_master_key_option
@click.option(
    "--old-master-key-file",
    "old_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The master key the keys are wrapped under now (repeatable).",
)
@click.option(
    "--old-master-key-env",
    "old_envs",
    multiple=True,
    help="Environment variable holding such an old master key (repeatable).",
)
def rewrap(
    database_url: str | None,
    tenant: str | None,
    master_key_file: Path | None,
    old_files: tuple[Path, ...],
    old_envs: tuple[str, ...],
) -> None:
    """Re-wrap data keys under the current master key (touches tenant_keys only)."""
    try:
        old: list[MasterKeyProvider] = [LocalMasterKey.from_file(p) for p in old_files]
        old += [LocalMasterKey.from_env(v) for v in old_envs]
    except LegalDataError as exc:
        fail(exc)
    with _operator(database_url, master_key_file) as engine:
        if tenant:
            firms = [_firm(engine, tenant)]
        else:
            with engine.connect() as conn:
                firms = list(
                    conn.execute(text("SELECT DISTINCT tenant_id FROM tenant_keys")).scalars()
                )
        done = sum(admin.rewrap_keys(engine, firm, old=old) for firm in firms)
    console.print(f"re-wrapped {done} key(s) of {len(firms)} firm(s)")


@keys.command()
@admin_url_option
@_tenant_option
@_master_key_option
@click.option("--confirm", default=None, help="The firm's id, to confirm without a prompt.")
def destroy(
    database_url: str | None, tenant: str, master_key_file: Path | None, confirm: str | None
) -> None:
    """Crypto-shred a firm: destroy all its keys. Its encrypted data becomes unreadable."""
    with _operator(database_url, master_key_file) as engine:
        firm = _firm(engine, tenant)
        report = admin.key_status(engine, firm)
        values = sum(c.total for c in report.columns)
        err_console.print(
            f"[red]This destroys every key of firm {firm}: its {values} encrypted value(s) "
            "become unreadable for good.[/red]"
        )
        if confirm is None:
            try:
                confirm = click.prompt("Type the firm's id to confirm", err=True)
            except click.Abort:
                fail(LegalDataError("not confirmed: nothing was destroyed"))
        if confirm != str(firm):
            fail(LegalDataError("the confirmation does not match the firm's id: nothing destroyed"))
        destroyed = admin.destroy_keys(engine, firm)
    console.print(f"destroyed {len(destroyed)} key(s) of firm {firm}")
