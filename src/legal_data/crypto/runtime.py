"""The process-wide keyring: master key configuration and each firm's unwrapped keys.

- :func:`configure` sets the master key provider once per process (default: a
  :class:`~legal_data.crypto.keys.LocalMasterKey` from ``LEGAL_DATA_MASTER_KEY`` or the
  file named by ``LEGAL_DATA_MASTER_KEY_FILE``). Previous master keys can be given too,
  so keys still wrapped under them open while ``legal-data keys rewrap`` runs.
- A firm's key rows are loaded when a tenant session begins a transaction and the
  cache has no fresh entry for the firm (:func:`on_begin`, called from the tenant
  session's ``after_begin``): one ``SELECT`` on the session's own connection, none on a
  cache hit. Entries live :data:`KEYRING_TTL_SECONDS` (60 s). Rotation, retirement and
  destruction evict the local entry at once; other processes see the change within the
  TTL, and sooner when they meet a key id they do not know.
- Unwrapped keys are memoized per entry and reused across reloads while their row is
  unchanged (with a KMS, every unwrap is a network call).

Thread and asyncio safety: entries are immutable snapshots keyed by firm and swapped
atomically; each value is sealed with the key looked up for the firm named by its own
row or context, never with a shared "current key".
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

from legal_data.crypto import store
from legal_data.crypto.keys import (
    MASTER_KEY_ENV,
    DataKey,
    LocalMasterKey,
    MasterKeyProvider,
    Purpose,
    cipher_cache,
    unwrap_data_key,
    wrap_data_key,
)
from legal_data.crypto.store import KeyRow
from legal_data.errors import (
    ConfigurationError,
    KeyDestroyed,
    TenantContextMissing,
    TenantMismatch,
    UnknownKey,
)
from legal_data.tenancy.context import SYSTEM_ROLE, TenantContext, current_context

log = logging.getLogger(__name__)

KEYRING_TTL_SECONDS: Final = 60.0
_DECRYPTABLE: Final = frozenset({"active", "decrypt_only"})
MASTER_KEY_FILE_ENV: Final = "LEGAL_DATA_MASTER_KEY_FILE"
#: A key id nobody knows triggers at most one reload per firm per this many seconds, so
#: forged key ids cannot turn reads into a flood of queries.
_UNKNOWN_KEY_RELOAD_INTERVAL: Final = 1.0

_NOT_CONFIGURED = (
    "no master key is configured: call legal_data.crypto.configure(provider) at start-up, "
    f"or set {MASTER_KEY_ENV} (base64 of 32 random bytes) or {MASTER_KEY_FILE_ENV}"
)


# -- master key providers ----------------------------------------------------------------


class _Providers:
    def __init__(self) -> None:
        self.primary: MasterKeyProvider | None = None
        self.by_id: dict[str, MasterKeyProvider] = {}
        self.from_env_checked = False
        self.lock = threading.Lock()


_providers = _Providers()


def configure(
    provider: MasterKeyProvider | None, *, previous: Iterable[MasterKeyProvider] = ()
) -> None:
    """Set the master key provider new data keys are wrapped with.

    ``previous`` providers only unwrap (keys not yet re-wrapped after a master key
    change). ``configure(None)`` forgets everything (tests). Clears the key cache,
    since its keys were unwrapped under the old configuration.
    """
    with _providers.lock:
        _providers.primary = provider
        _providers.by_id = {p.key_id: p for p in (*previous, *([provider] if provider else []))}
        _providers.from_env_checked = provider is not None
    evict()


@contextmanager
def configured(
    provider: MasterKeyProvider | None, *, previous: Iterable[MasterKeyProvider] = ()
) -> Iterator[MasterKeyProvider | None]:
    """:func:`configure` for the duration of a block (tests); the old setup comes back."""
    with _providers.lock:
        saved = (_providers.primary, dict(_providers.by_id), _providers.from_env_checked)
    configure(provider, previous=previous)
    try:
        yield provider
    finally:
        with _providers.lock:
            _providers.primary, _providers.by_id, _providers.from_env_checked = saved
        evict()


def _from_environment() -> MasterKeyProvider | None:
    if os.environ.get(MASTER_KEY_ENV, "").strip():
        return LocalMasterKey.from_env()
    path = os.environ.get(MASTER_KEY_FILE_ENV, "").strip()
    if path:
        return LocalMasterKey.from_file(path)
    return None


def master_key_provider() -> MasterKeyProvider:
    """The provider that wraps new keys; raises :class:`ConfigurationError` if none."""
    primary = _providers.primary
    if primary is not None:
        return primary
    with _providers.lock:
        if _providers.primary is None and not _providers.from_env_checked:
            found = _from_environment()  # raises a clear error for a malformed key
            _providers.from_env_checked = True
            if found is not None:
                _providers.primary = found
                _providers.by_id[found.key_id] = found
        if _providers.primary is None:
            raise ConfigurationError(_NOT_CONFIGURED)
        return _providers.primary


def is_configured() -> bool:
    """Whether a master key is set or announced by the environment (nothing is read)."""
    return _providers.primary is not None or bool(
        os.environ.get(MASTER_KEY_ENV, "").strip() or os.environ.get(MASTER_KEY_FILE_ENV, "")
    )


def provider_for(master_key_id: str | None) -> MasterKeyProvider:
    """The provider for keys wrapped under ``master_key_id``: looked up, never guessed."""
    master_key_provider()  # loads the environment's key on first use
    found = _providers.by_id.get(master_key_id or "")
    if found is None:
        raise ConfigurationError(
            f"a data key is wrapped under master key {master_key_id!r}, which is not "
            "configured; pass it as a previous provider to configure(), or rewrap the keys"
        )
    return found


def use_throwaway_master_key(label: str) -> MasterKeyProvider:
    """Configure a freshly generated master key unless one is configured already.

    For tests and the demo only (``label`` says which, for logs): data encrypted under
    it is unreadable once the process ends.
    """
    if is_configured():
        return master_key_provider()
    provider = LocalMasterKey.generate()
    configure(provider)
    log.warning("using a throwaway master key (%s, %s): not for real data", label, provider.key_id)
    return provider


# -- per-firm keyrings ---------------------------------------------------------------------


class TenantKeyring:
    """One firm's keys as loaded at one moment; a :class:`~legal_data.crypto.KeyLookup`."""

    def __init__(
        self,
        tenant_id: uuid.UUID,
        rows: Iterable[KeyRow],
        *,
        engine: Engine | None,
        previous: TenantKeyring | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.loaded_at = time.monotonic()
        self._rows = {r.key_id: r for r in rows if r.tenant_id == tenant_id}
        self._active = {r.purpose: r.key_id for r in self._rows.values() if r.state == "active"}
        self._engine_ref = weakref.ref(engine) if engine is not None else None
        self._lock = threading.Lock()
        self._keys: dict[uuid.UUID, DataKey] = {}
        self._ciphers: dict[bytes, AESGCM] = {}
        self._reload_tried = 0.0
        if previous is not None:
            for key_id, key in previous._keys.items():
                row = self._rows.get(key_id)
                if row is not None and row.state == key.state and row == previous._rows[key_id]:
                    self._keys[key_id] = key

    @property
    def engine(self) -> Engine | None:
        return self._engine_ref() if self._engine_ref is not None else None

    @property
    def shredded(self) -> bool:
        """Whether any of the firm's keys was destroyed (crypto-shredding)."""
        return any(r.state == "destroyed" for r in self._rows.values())

    def fresh(self, now: float | None = None) -> bool:
        return ((now or time.monotonic()) - self.loaded_at) < KEYRING_TTL_SECONDS

    def rows(self) -> list[KeyRow]:
        return list(self._rows.values())

    def get(self, key_id: uuid.UUID, tenant_id: uuid.UUID) -> DataKey:
        if tenant_id != self.tenant_id:
            raise TenantMismatch(f"key {key_id} was asked for tenant {tenant_id}, not this one")
        row = self._rows.get(key_id)
        if row is None:
            return _unknown_key(self, key_id)
        return self._key(row)

    def active(self, purpose: Purpose) -> DataKey:
        """The key new values (or blind indexes) of ``purpose`` are made with."""
        key_id = self._active.get(purpose)
        if key_id is None:
            if self.shredded:
                raise KeyDestroyed(
                    f"the keys of tenant {self.tenant_id} were destroyed; nothing can be "
                    "encrypted or looked up for it any more"
                )
            raise UnknownKey(f"tenant {self.tenant_id} has no active {purpose} key")
        return self._key(self._rows[key_id])

    def cipher_for(self, key_id: bytes) -> AESGCM | None:
        """The cipher of an encryption key this firm may decrypt with, by the 16 key-id
        bytes of an envelope header; ``None`` for anything else (the caller then takes the
        checked path, which raises the precise error). The hot path of every read."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            row = self._rows.get(uuid.UUID(bytes=key_id)) if len(key_id) == 16 else None
            if row is None or row.purpose != "encryption" or row.state not in _DECRYPTABLE:
                return None
            cipher = cipher_cache.aesgcm(self._key(row))
            self._ciphers[key_id] = cipher
        return cipher

    def _key(self, row: KeyRow) -> DataKey:
        if row.state == "destroyed" or row.wrapped is None:
            raise KeyDestroyed(f"key {row.key_id} of tenant {row.tenant_id} was destroyed")
        key = self._keys.get(row.key_id)
        if key is None:
            with self._lock:
                key = self._keys.get(row.key_id)
                if key is None:
                    key = unwrap_data_key(
                        row.wrapped,
                        provider=provider_for(row.master_key_id),
                        key_id=row.key_id,
                        tenant_id=row.tenant_id,
                        purpose=row.purpose,
                        version=row.version,
                        state=row.state,
                    )
                    self._keys[row.key_id] = key
        return key


class _Cache:
    def __init__(self) -> None:
        # Keyed by the firm's id as an int: hashing a UUID runs Python code, an int's does not.
        self.entries: dict[int, TenantKeyring] = {}
        self.owners: dict[uuid.UUID, uuid.UUID] = {}  # key id -> firm, for TenantMismatch
        self.lock = threading.Lock()

    def put(self, keyring: TenantKeyring) -> TenantKeyring:
        with self.lock:
            old = self.entries.get(keyring.tenant_id.int)
            self.entries[keyring.tenant_id.int] = keyring
            for row in keyring.rows():
                self.owners[row.key_id] = row.tenant_id
        if old is not None:
            for row in old.rows():
                new = keyring._rows.get(row.key_id)
                if new is None or new.state == "destroyed":
                    cipher_cache.evict(row.key_id)
        return keyring


_cache = _Cache()


def ring_of(tenant_int: int) -> TenantKeyring | None:
    """The cached keyring of a firm by ``tenant_id.int`` (the read path's lookup)."""
    return _cache.entries.get(tenant_int)


def cached(tenant_id: uuid.UUID) -> TenantKeyring | None:
    """The cached keyring of a firm, fresh or not (``None`` if never loaded)."""
    return _cache.entries.get(tenant_id.int)


def evict(tenant_id: uuid.UUID | None = None) -> None:
    """Forget a firm's keys (or every firm's): the next transaction reloads them."""
    with _cache.lock:
        victims = (
            list(_cache.entries.values())
            if tenant_id is None
            else [e for e in [_cache.entries.get(tenant_id.int)] if e is not None]
        )
        for entry in victims:
            del _cache.entries[entry.tenant_id.int]
    for entry in victims:
        for row in entry.rows():
            cipher_cache.evict(row.key_id)


def load_keys(connection: Connection, tenant_id: uuid.UUID) -> TenantKeyring:
    """Read the firm's key rows through ``connection`` (its transaction, its role)."""
    rows = store.fetch_key_rows(connection, tenant_id)
    return _cache.put(
        TenantKeyring(tenant_id, rows, engine=connection.engine, previous=cached(tenant_id))
    )


def on_begin(connection: Connection, context: TenantContext) -> None:
    """Tenant-session hook: load the firm's keys on a cache miss or after the TTL.

    Does nothing without a tenant or without a master key: transactions that never
    touch an encrypted column must not fail for want of one.
    """
    tenant_id = context.tenant_id
    if tenant_id is None or not is_configured():
        return
    entry = _cache.entries.get(tenant_id.int)
    if entry is not None and entry.fresh():
        return
    load_keys(connection, tenant_id)


def keyring(tenant_id: uuid.UUID, connection: Connection | None = None) -> TenantKeyring:
    """The firm's keyring; loaded through ``connection`` if the cache has none."""
    entry = _cache.entries.get(tenant_id.int)
    if entry is not None:
        return entry
    master_key_provider()  # the clearest error first: no master key at all
    if connection is not None:
        return load_keys(connection, tenant_id)
    raise ConfigurationError(
        f"the keys of tenant {tenant_id} are not loaded in this process: use a tenant "
        "session (it loads them when a transaction begins) or call "
        "legal_data.crypto.runtime.load_keys(connection, tenant_id)"
    )


def install(tenant_id: uuid.UUID, keys: Iterable[DataKey]) -> TenantKeyring:
    """Put a firm's keys into the cache without a database (unit tests, benchmarks).

    They are wrapped under the configured master key, as if loaded from ``tenant_keys``.
    """
    provider = master_key_provider()
    rows = [
        KeyRow(
            key_id=k.key_id,
            tenant_id=k.tenant_id,
            purpose=k.purpose,
            version=k.version,
            state=k.state,
            wrapped=None if k.state == "destroyed" else wrap_data_key(k, provider=provider),
            master_key_id=provider.key_id,
        )
        for k in keys
    ]
    return _cache.put(TenantKeyring(tenant_id, rows, engine=None, previous=cached(tenant_id)))


def context_tenant(where: str) -> uuid.UUID:
    """The firm in context; encrypted values are never sealed or opened without one."""
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing(f"{where} needs a tenant context (tenant_scope) to be used")
    return ctx.tenant_id


def active_key(
    tenant_id: uuid.UUID, purpose: Purpose, connection: Connection | None = None
) -> DataKey:
    """The firm's active key of ``purpose``, creating the firm's first keys if it has none."""
    ring = keyring(tenant_id, connection)
    try:
        return ring.active(purpose)
    except UnknownKey:
        if ring.shredded:
            raise
    engine = connection.engine if connection is not None else ring.engine
    if engine is None:
        raise UnknownKey(
            f"tenant {tenant_id} has no active {purpose} key; create them with "
            "`legal-data keys init --tenant ...` or write through a tenant session"
        )
    return ensure_keys(tenant_id, engine).active(purpose)


# -- work on connections of our own ---------------------------------------------------------

_side_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_side_lock = threading.Lock()


def _side_engine(engine: Engine) -> Engine:
    """A pool-less engine on the same login. Key creation must commit on its own (a key
    created inside a transaction that rolls back would stay in the cache but not in the
    database), and a pool of one connection must not wait for itself."""
    with _side_lock:
        found = _side_engines.get(engine)
        if found is None:
            url = engine.url
            if url.drivername.endswith("_async"):
                # The rare key load of an async engine blocks briefly on a sync connection.
                url = url.set(drivername=url.drivername.removesuffix("_async"))
            found = create_engine(
                url,
                poolclass=NullPool,
                hide_parameters=True,
                connect_args={"application_name": "legal_data keys"},
            )
            _side_engines[engine] = found
        return found


def act_for_firm(conn: Connection, tenant_id: uuid.UUID, reason: str) -> None:
    """Send the firm's context, with the system actor, on ``conn``'s transaction."""
    from legal_data.tenancy.session import render_context_sql

    ctx = TenantContext(tenant_id=tenant_id, role=SYSTEM_ROLE, reason=reason)
    conn.exec_driver_sql(render_context_sql(ctx), execution_options={"no_parameters": True})


def ensure_keys(tenant_id: uuid.UUID, engine: Engine) -> TenantKeyring:
    """Create the firm's first keys (committed at once) and reload its keyring."""
    provider = master_key_provider()
    with _side_engine(engine).connect() as conn, conn.begin():
        act_for_firm(conn, tenant_id, "create the firm's encryption keys")
        created = store.create_first_keys(conn, tenant_id, provider)
        rows = store.fetch_key_rows(conn, tenant_id)
    if created:
        from legal_data.audit.security import record_security_event

        record_security_event(
            engine,
            "encryption_keys_created",
            "info",
            {"key_ids": [str(k) for k in created], "master_key_id": provider.key_id},
            tenant_id=tenant_id,
        )
    return _cache.put(TenantKeyring(tenant_id, rows, engine=engine, previous=cached(tenant_id)))


def reload(tenant_id: uuid.UUID, engine: Engine) -> TenantKeyring:
    """Reload a firm's keys on a connection of our own (no transaction of the caller)."""
    with _side_engine(engine).connect() as conn, conn.begin():
        act_for_firm(conn, tenant_id, "reload the firm's encryption keys")
        rows = store.fetch_key_rows(conn, tenant_id)
    return _cache.put(TenantKeyring(tenant_id, rows, engine=engine, previous=cached(tenant_id)))


def _unknown_key(ring: TenantKeyring, key_id: uuid.UUID) -> DataKey:
    owner = _cache.owners.get(key_id)
    if owner is not None and owner != ring.tenant_id:
        raise TenantMismatch(f"key {key_id} belongs to another tenant, not {ring.tenant_id}")
    now = time.monotonic()
    engine = ring.engine
    # Another process may have rotated since this entry was loaded: look once more.
    if engine is not None and now - ring._reload_tried > _UNKNOWN_KEY_RELOAD_INTERVAL:
        ring._reload_tried = now
        fresh = reload(ring.tenant_id, engine)
        fresh._reload_tried = now
        if key_id in fresh._rows:
            return fresh._key(fresh._rows[key_id])
    raise UnknownKey(f"key {key_id} is not a key of tenant {ring.tenant_id}")
