"""SQL on ``tenant_keys``: a firm's key rows, its first keys, new versions, state changes.

Used by the process-wide keyring (as the application role, under Row Level Security,
with the firm's context set) and by the operator commands (admin URL, inside a
``tenant_scope`` of the firm). Every statement names the firm explicitly as well, so
an operator role that is not filtered by RLS still touches one firm only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import (
    UUID,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    Text,
    column,
    func,
    insert,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from legal_data.crypto.keys import (
    DataKey,
    KeyState,
    MasterKeyProvider,
    Purpose,
    generate_data_key,
    wrap_data_key,
)

PURPOSES: tuple[Purpose, ...] = ("encryption", "blind_index")

# A lightweight description of the table (the model is legal_data.models.keys.TenantKey):
# the column types import this module, and the models import the column types.
_keys = table(
    "tenant_keys",
    column("tenant_id", UUID()),
    column("id", UUID()),
    column("purpose", Text()),
    column("version", Integer()),
    column("state", Text()),
    column("wrapped", LargeBinary()),
    column("master_key_id", Text()),
    column("created_at", DateTime(timezone=True)),
    column("state_changed_at", DateTime(timezone=True)),
)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One ``tenant_keys`` row as stored (the material is still wrapped)."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    purpose: Purpose
    version: int
    state: KeyState
    wrapped: bytes | None = field(repr=False)
    master_key_id: str | None


def fetch_key_rows(conn: Connection, tenant_id: uuid.UUID) -> list[KeyRow]:
    """Every key row of ``tenant_id`` (one round trip)."""
    result = conn.execute(
        select(
            _keys.c.id,
            _keys.c.tenant_id,
            _keys.c.purpose,
            _keys.c.version,
            _keys.c.state,
            _keys.c.wrapped,
            _keys.c.master_key_id,
        ).where(_keys.c.tenant_id == tenant_id)
    )
    return [
        KeyRow(
            key_id=r.id,
            tenant_id=r.tenant_id,
            purpose=cast(Purpose, r.purpose),
            version=r.version,
            state=cast(KeyState, r.state),
            wrapped=None if r.wrapped is None else bytes(r.wrapped),
            master_key_id=r.master_key_id,
        )
        for r in result
    ]


def _values(key: DataKey, provider: MasterKeyProvider) -> dict[str, object]:
    return {
        "tenant_id": key.tenant_id,
        "id": key.key_id,
        "purpose": key.purpose,
        "version": key.version,
        "state": key.state,
        "wrapped": wrap_data_key(key, provider=provider),
        "master_key_id": provider.key_id,
    }


def create_first_keys(
    conn: Connection, tenant_id: uuid.UUID, provider: MasterKeyProvider
) -> list[uuid.UUID]:
    """Give the firm an active key of each purpose it lacks; return the new key ids.

    A firm whose keys were destroyed gets none: crypto-shredding must not be undone by
    the next write quietly starting over with fresh keys. ``ON CONFLICT DO NOTHING``
    makes two processes creating a firm's first keys at once converge on one set.
    """
    rows = fetch_key_rows(conn, tenant_id)
    if any(r.state == "destroyed" for r in rows):
        return []
    created = []
    for purpose in PURPOSES:
        mine = [r for r in rows if r.purpose == purpose]
        if any(r.state == "active" for r in mine):
            continue
        version = max((r.version for r in mine), default=0) + 1
        key = generate_data_key(tenant_id, purpose, version)
        inserted = conn.execute(
            pg_insert(_keys)
            .values(_values(key, provider))
            .on_conflict_do_nothing()
            .returning(_keys.c.id)
        ).first()
        if inserted is not None:
            created.append(key.key_id)
    return created


def add_active_key(
    conn: Connection, tenant_id: uuid.UUID, purpose: Purpose, provider: MasterKeyProvider
) -> DataKey:
    """Rotation's first step: a new version becomes active, the old active one decrypt-only.

    Both in the caller's transaction, so no moment exists with zero or two active keys.
    """
    version = (
        conn.execute(
            select(func.coalesce(func.max(_keys.c.version), 0)).where(
                _keys.c.tenant_id == tenant_id, _keys.c.purpose == purpose
            )
        ).scalar_one()
        + 1
    )
    conn.execute(
        update(_keys)
        .where(
            _keys.c.tenant_id == tenant_id,
            _keys.c.purpose == purpose,
            _keys.c.state == "active",
        )
        .values(state="decrypt_only", state_changed_at=func.now())
    )
    key = generate_data_key(tenant_id, purpose, version)
    conn.execute(insert(_keys).values(_values(key, provider)))
    return key


def set_state(conn: Connection, tenant_id: uuid.UUID, key_id: uuid.UUID, state: KeyState) -> bool:
    """Move one key to ``state`` (``destroyed`` also erases the wrapped material)."""
    values: dict[str, object] = {"state": state, "state_changed_at": func.now()}
    if state == "destroyed":
        values["wrapped"] = None
    changed = conn.execute(
        update(_keys)
        .where(_keys.c.tenant_id == tenant_id, _keys.c.id == key_id, _keys.c.state != state)
        .values(values)
    ).rowcount
    return bool(changed)


def destroy_all(conn: Connection, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """Crypto-shred the firm: erase every key's material; return the ids destroyed now."""
    result = conn.execute(
        update(_keys)
        .where(_keys.c.tenant_id == tenant_id, _keys.c.state != "destroyed")
        .values(state="destroyed", wrapped=None, state_changed_at=func.now())
        .returning(_keys.c.id)
    )
    return [r.id for r in result]


def replace_wrapping(conn: Connection, row: KeyRow, wrapped: bytes, master_key_id: str) -> bool:
    """Store ``row`` wrapped under another master key (compare-and-swap on the old blob)."""
    changed = conn.execute(
        update(_keys)
        .where(
            _keys.c.tenant_id == row.tenant_id,
            _keys.c.id == row.key_id,
            _keys.c.wrapped == row.wrapped,
        )
        .values(wrapped=wrapped, master_key_id=master_key_id)
    ).rowcount
    return bool(changed)


def key_ids(rows: Iterable[KeyRow]) -> dict[bytes, KeyRow]:
    """Rows by the 16 key-id bytes found in envelope headers."""
    return {r.key_id.bytes: r for r in rows}
