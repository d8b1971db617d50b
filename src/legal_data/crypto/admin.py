"""Operator work on a firm's keys: create, rotate (re-encrypt), report, retire, rewrap, destroy.

Runs on an operator engine (the admin URL), one firm at a time. Each transaction sends
the firm's context with the system actor (``role="system"``), so the audit trail
records the re-encryption as the system's, and names the firm in every statement.

Rotation re-encrypts at the byte level (decrypt under the old key, encrypt under the
active one, same binding), table by table in keyset-paginated batches, each batch its
own transaction. Every row update is a compare-and-swap on the old ciphertexts, so a
user's concurrent edit is never overwritten: its row is skipped and, if it still sits
on an old key, taken up by the next pass. Re-running continues where a stopped run
left off; values already on the active key are never touched again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text

from legal_data.crypto import runtime, store
from legal_data.crypto.envelope import Binding, decrypt, encrypt
from legal_data.crypto.keys import MasterKeyProvider, Purpose, unwrap_data_key, wrap_data_key
from legal_data.crypto.store import KeyRow
from legal_data.errors import ConfigurationError, CryptoError, LegalDataError, UnknownKey

log = logging.getLogger(__name__)

MAX_PASSES = 3


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    column: str
    row_bound: bool


def registry() -> list[EncryptedColumn]:
    """Every encrypted column of the schema, generated from the models' metadata."""
    from legal_data.crypto.types import EncryptedType
    from legal_data.models import Base

    return [
        EncryptedColumn(table.name, column.name, column.type.row_bound)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedType)
    ]


def _by_table(columns: Sequence[EncryptedColumn]) -> dict[str, list[EncryptedColumn]]:
    tables: dict[str, list[EncryptedColumn]] = {}
    for c in columns:
        tables.setdefault(c.table, []).append(c)
    return tables


@contextmanager
def firm_transaction(engine: Engine, tenant_id: uuid.UUID, reason: str) -> Iterator[Connection]:
    """One transaction acting for ``tenant_id`` as the system actor."""
    with engine.connect() as conn, conn.begin():
        runtime.act_for_firm(conn, tenant_id, reason)
        yield conn


def _security_event(
    engine: Engine, tenant_id: uuid.UUID, kind: str, severity: str, details: dict[str, Any]
) -> None:
    from legal_data.audit.security import record_security_event

    record_security_event(engine, kind, severity, details, tenant_id=tenant_id)


# -- status ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnStatus:
    table: str
    column: str
    total: int
    on_active: int
    #: Values per key that is not the active one: (key id, version or None, state or "unknown").
    on_old: tuple[tuple[uuid.UUID, int | None, str, int], ...]

    @property
    def remaining(self) -> int:
        return self.total - self.on_active


@dataclass(frozen=True, slots=True)
class KeyStatus:
    tenant_id: uuid.UUID
    keys: tuple[KeyRow, ...]
    columns: tuple[ColumnStatus, ...]

    @property
    def active(self) -> KeyRow | None:
        return next(
            (k for k in self.keys if k.purpose == "encryption" and k.state == "active"), None
        )

    @property
    def remaining(self) -> int:
        return sum(c.remaining for c in self.columns)

    def values_on(self, key_id: uuid.UUID) -> int:
        return sum(n for c in self.columns for kid, _v, _s, n in c.on_old if kid == key_id)


def _count_by_key(conn: Connection, tenant_id: uuid.UUID, col: EncryptedColumn) -> dict[bytes, int]:
    q = conn.dialect.identifier_preparer
    table, column = q.quote(col.table), q.quote(col.column)
    rows = conn.execute(
        text(
            f"SELECT substring({column} from 3 for 16) AS kid, count(*) AS n FROM {table}"
            f" WHERE tenant_id = :t AND {column} IS NOT NULL GROUP BY 1"
        ),
        {"t": tenant_id},
    )
    return {bytes(r.kid): r.n for r in rows}


def key_status(engine: Engine, tenant_id: uuid.UUID) -> KeyStatus:
    """Per encrypted column: how many values the firm has, and on which keys."""
    with firm_transaction(engine, tenant_id, "report key usage") as conn:
        keys = store.fetch_key_rows(conn, tenant_id)
        by_bytes = store.key_ids(keys)
        active = next((k for k in keys if k.purpose == "encryption" and k.state == "active"), None)
        columns = []
        for col in registry():
            counts = _count_by_key(conn, tenant_id, col)
            on_active = counts.pop(active.key_id.bytes, 0) if active else 0
            old = []
            for kid, n in sorted(counts.items()):
                row = by_bytes.get(kid)
                old.append(
                    (
                        uuid.UUID(bytes=kid) if len(kid) == 16 else uuid.UUID(int=0),
                        row.version if row else None,
                        row.state if row else "unknown",
                        n,
                    )
                )
            columns.append(
                ColumnStatus(
                    col.table, col.column, on_active + sum(o[3] for o in old), on_active, tuple(old)
                )
            )
    return KeyStatus(tenant_id, tuple(keys), tuple(columns))


# -- creating keys -----------------------------------------------------------------------------


def init_keys(engine: Engine, tenant_id: uuid.UUID) -> list[KeyRow]:
    """Give the firm its first keys (no-op if it has active ones); return its key rows."""
    runtime.evict(tenant_id)
    return runtime.ensure_keys(tenant_id, engine).rows()


def new_key_version(
    engine: Engine, tenant_id: uuid.UUID, purpose: Purpose = "encryption"
) -> KeyRow:
    """Make a new version of the firm's ``purpose`` key active; the old one decrypt-only."""
    provider = runtime.master_key_provider()
    with firm_transaction(engine, tenant_id, f"rotate the firm's {purpose} key") as conn:
        old = [
            r
            for r in store.fetch_key_rows(conn, tenant_id)
            if r.purpose == purpose and r.state == "active"
        ]
        if not old:
            raise UnknownKey(f"tenant {tenant_id} has no active {purpose} key to rotate")
        key = store.add_active_key(conn, tenant_id, purpose, provider)
        rows = store.fetch_key_rows(conn, tenant_id)
    runtime.evict(tenant_id)
    _security_event(
        engine,
        tenant_id,
        "encryption_key_rotated",
        "notice",
        {"purpose": purpose, "from": str(old[0].key_id), "to": str(key.key_id)},
    )
    return next(r for r in rows if r.key_id == key.key_id)


# -- rotation --------------------------------------------------------------------------------


@dataclass
class RotationReport:
    tenant_id: uuid.UUID
    new_key: KeyRow | None
    active_key_id: uuid.UUID
    reencrypted: dict[str, int] = field(default_factory=dict)  # "table.column" -> values
    conflicts: int = 0  # rows skipped because someone changed them meanwhile
    unreadable: dict[str, int] = field(default_factory=dict)  # values no key could open
    batches: int = 0
    remaining: int = 0


def rotate(
    engine: Engine,
    tenant_id: uuid.UUID,
    *,
    batch_size: int = 500,
    new_key: bool | None = None,
    pause_seconds: float = 0.0,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Rotate the firm's encryption key and re-encrypt every encrypted value onto it.

    ``new_key``: ``True`` always starts a new key version, ``False`` only finishes
    moving values onto the active key, ``None`` (default) starts a new version unless a
    previous rotation left values on old keys, in which case it resumes that one.
    ``on_start(total)`` and ``on_progress(n)`` drive a progress bar; ``after_batch(n)``
    runs after each committed batch (tests use it to stop a run midway).
    """
    if batch_size < 1:
        raise ConfigurationError("batch_size must be at least 1")
    before = key_status(engine, tenant_id)
    created = None
    if new_key or (new_key is None and before.remaining == 0):
        created = new_key_version(engine, tenant_id)
        before = key_status(engine, tenant_id)
    active = before.active
    if active is None:
        raise UnknownKey(f"tenant {tenant_id} has no active encryption key")
    report = RotationReport(tenant_id, created, active.key_id)
    if on_start is not None:
        on_start(before.remaining)
    columns = _by_table(registry())
    for _ in range(MAX_PASSES):
        report.unreadable = {}
        for table, cols in columns.items():
            _rotate_table(
                engine,
                tenant_id,
                table,
                cols,
                batch_size,
                report,
                pause_seconds,
                on_progress,
                after_batch,
            )
        report.remaining = key_status(engine, tenant_id).remaining
        unreadable = sum(report.unreadable.values())
        if report.remaining <= unreadable:
            break
    return report


def _rotate_table(
    engine: Engine,
    tenant_id: uuid.UUID,
    table: str,
    cols: list[EncryptedColumn],
    batch_size: int,
    report: RotationReport,
    pause_seconds: float,
    on_progress: Callable[[int], None] | None,
    after_batch: Callable[[int], None] | None,
) -> None:
    after = uuid.UUID(int=0)
    while True:
        with firm_transaction(engine, tenant_id, "key rotation") as conn:
            ring = runtime.load_keys(conn, tenant_id)
            key = ring.active("encryption")
            rows = _old_rows(conn, tenant_id, table, cols, key.key_id, after, batch_size)
            if not rows:
                return
            moved = _reencrypt(conn, tenant_id, table, cols, rows, ring, key, report)
        report.batches += 1
        after = rows[-1]["id"]
        if on_progress is not None:
            on_progress(moved)
        if after_batch is not None:
            after_batch(report.batches)
        if pause_seconds:
            time.sleep(pause_seconds)


def _old_rows(
    conn: Connection,
    tenant_id: uuid.UUID,
    table: str,
    cols: list[EncryptedColumn],
    active: uuid.UUID,
    after: uuid.UUID,
    limit: int,
) -> list[dict[str, Any]]:
    q = conn.dialect.identifier_preparer
    names = [q.quote(c.column) for c in cols]
    on_old = " OR ".join(f"substring({n} from 3 for 16) <> :kid" for n in names)
    result = conn.execute(
        text(
            f"SELECT id, {', '.join(names)} FROM {q.quote(table)}"
            f" WHERE tenant_id = :t AND id > :after AND ({on_old}) ORDER BY id LIMIT :n"
        ),
        {"t": tenant_id, "after": after, "kid": active.bytes, "n": limit},
    )
    return [dict(r._mapping) for r in result]


def _reencrypt(
    conn: Connection,
    tenant_id: uuid.UUID,
    table: str,
    cols: list[EncryptedColumn],
    rows: list[dict[str, Any]],
    ring: runtime.TenantKeyring,
    key: Any,
    report: RotationReport,
) -> int:
    q = conn.dialect.identifier_preparer
    moved = 0
    for row in rows:
        new: dict[str, bytes] = {}
        for col in cols:
            old = row[col.column]
            if old is None or bytes(old[2:18]) == key.key_id.bytes:
                continue
            binding = Binding(tenant_id, table, col.column, row["id"] if col.row_bound else None)
            try:
                plaintext = decrypt(bytes(old), keyring=ring, binding=binding)
            except CryptoError:
                # Not movable by rotation (destroyed or retired key, tampered value):
                # counted, left as is, and shown by `keys status`.
                where = f"{table}.{col.column}"
                report.unreadable[where] = report.unreadable.get(where, 0) + 1
                continue
            new[col.column] = encrypt(plaintext, key=key, binding=binding)
        if not new:
            continue
        sets = ", ".join(f"{q.quote(c)} = :new_{i}" for i, c in enumerate(new))
        cas = " AND ".join(f"{q.quote(c)} = :old_{i}" for i, c in enumerate(new))
        params: dict[str, Any] = {"t": tenant_id, "id": row["id"]}
        for i, (c, value) in enumerate(new.items()):
            params[f"new_{i}"] = value
            params[f"old_{i}"] = bytes(row[c])
        changed = conn.execute(
            text(f"UPDATE {q.quote(table)} SET {sets} WHERE tenant_id = :t AND id = :id AND {cas}"),
            params,
        ).rowcount
        if changed:
            moved += len(new)
            for c in new:
                where = f"{table}.{c}"
                report.reencrypted[where] = report.reencrypted.get(where, 0) + 1
        else:
            report.conflicts += 1
    return moved


# -- retire, rewrap, destroy --------------------------------------------------------------------


def _key(rows: list[KeyRow], key: str) -> KeyRow:
    """A key row by id, or by ``purpose:version`` / bare version (encryption)."""
    for r in rows:
        if str(r.key_id) == key:
            return r
    purpose, _, version = key.rpartition(":")
    try:
        wanted = int(version)
    except ValueError:
        raise UnknownKey(f"no key {key!r}: give a key id or a version number") from None
    for r in rows:
        if r.version == wanted and r.purpose == (purpose or "encryption"):
            return r
    raise UnknownKey(f"no key {key!r} for this firm")


def retire_key(engine: Engine, tenant_id: uuid.UUID, key: str) -> tuple[KeyRow, int]:
    """Retire a decrypt-only key once no value uses it; returns (key, values still on it).

    Nothing changes when the count is not zero: rotate first.
    """
    status = key_status(engine, tenant_id)
    row = _key(list(status.keys), key)
    if row.state != "decrypt_only":
        raise LegalDataError(f"key {row.key_id} is {row.state}; only a decrypt_only key retires")
    left = status.values_on(row.key_id)
    if left:
        return row, left
    with firm_transaction(engine, tenant_id, "retire a key") as conn:
        store.set_state(conn, tenant_id, row.key_id, "retired")
    runtime.evict(tenant_id)
    _security_event(
        engine, tenant_id, "encryption_key_retired", "notice", {"key_id": str(row.key_id)}
    )
    return row, 0


def rewrap_keys(engine: Engine, tenant_id: uuid.UUID, *, old: Sequence[MasterKeyProvider]) -> int:
    """Re-wrap the firm's keys under the configured master key. Touches ``tenant_keys`` only."""
    new = runtime.master_key_provider()
    providers = {p.key_id: p for p in (*old, new)}
    done = 0
    with firm_transaction(engine, tenant_id, "rewrap the firm's keys") as conn:
        for row in store.fetch_key_rows(conn, tenant_id):
            if row.wrapped is None or row.master_key_id == new.key_id:
                continue
            provider = providers.get(row.master_key_id or "")
            if provider is None:
                raise ConfigurationError(
                    f"key {row.key_id} is wrapped under master key {row.master_key_id!r}, "
                    "which was not given"
                )
            key = unwrap_data_key(
                row.wrapped,
                provider=provider,
                key_id=row.key_id,
                tenant_id=row.tenant_id,
                purpose=row.purpose,
                version=row.version,
                state=row.state,
            )
            done += store.replace_wrapping(conn, row, wrap_data_key(key, provider=new), new.key_id)
    runtime.evict(tenant_id)
    if done:
        _security_event(
            engine,
            tenant_id,
            "encryption_keys_rewrapped",
            "notice",
            {"keys": done, "master_key_id": new.key_id},
        )
    return done


def destroy_keys(engine: Engine, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """Crypto-shred a firm: erase every key's material. Cannot be undone."""
    with firm_transaction(engine, tenant_id, "crypto-shred the firm") as conn:
        destroyed = store.destroy_all(conn, tenant_id)
    runtime.evict(tenant_id)
    _security_event(
        engine,
        tenant_id,
        "encryption_keys_destroyed",
        "critical",
        {"key_ids": [str(k) for k in destroyed]},
    )
    _vacuum_keys(engine)
    return destroyed


def _vacuum_keys(engine: Engine) -> None:
    """Dead row versions still hold the wrapped keys until vacuumed (backups and WAL keep
    them until they expire: docs/encryption.md). VACUUM cannot run in a transaction, and
    tenant engines refuse AUTOCOMMIT, so this goes to the driver connection directly."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        driver.rollback()
        driver.autocommit = True
        try:
            driver.execute("VACUUM tenant_keys")
        finally:
            driver.autocommit = False
    except Exception:  # a role that may not vacuum: the destruction itself stands
        log.warning("could not VACUUM tenant_keys after destroying keys", exc_info=True)
    finally:
        raw.close()
