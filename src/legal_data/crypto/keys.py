"""Key hierarchy: master key → per-firm data keys → cached AES-GCM ciphers.

Layers
------
- A :class:`MasterKeyProvider` (KMS in production, :class:`LocalMasterKey` in
  development) wraps and unwraps data keys. Only wrapped data keys are stored.
- A :class:`DataKey` is one per-firm key with a purpose (``"encryption"`` for
  field envelopes, ``"blind_index"`` for HMAC search indexes), a version and a
  lifecycle state. Its 32 key bytes are private: no ``repr``, no equality on
  material, no pickling.
- A :class:`KeyLookup` resolves the key id written in an envelope header to
  exactly one key of the current firm. Lookup is by id only; trying keys in
  turn would cost O(keys) and, since GCM is not key-committing, could accept
  a ciphertext under a key it was not made with.
- :class:`CipherCache` keeps one ``AESGCM`` object per (tenant id, key id):
  building one costs ~3× a 100-byte encryption.

Key states
----------
==============  =======  =======  ===========================================
state           encrypt  decrypt  meaning
==============  =======  =======  ===========================================
active          yes      yes      the one key new values are sealed with
decrypt_only    no       yes      rolled out before promotion, or superseded
retired         no       no       no row should use it; reversible scream test
destroyed       no       no       material erased (crypto-shredding), final
==============  =======  =======  ===========================================

"Retired" refuses decryption (raising :class:`KeyNotUsable`) so that a value
the rotation job missed shows up loudly while setting the key back to
``decrypt_only`` can still recover it; destruction cannot be undone.

Wrapping
--------
:class:`LocalMasterKey` wraps with AES-256-GCM rather than AES key wrap
(RFC 3394): AES-KW has no associated data, and the wrapped key must be bound
to its tenant, key id, purpose and version so that a ``tenant_keys`` row copied
to another firm, or relabelled as another purpose or version, fails to unwrap.
GCM's random-nonce limit (2^32 messages per key) is irrelevant at one wrap per
data key. KMS ``Encrypt`` with an encryption context is the same shape, so a
KMS adapter implements :class:`MasterKeyProvider` by passing
:meth:`WrapContext.encryption_context`.

Local wrapped-key layout (61 bytes)::

    offset  size  field
    0       1     wrap format version = 0x01 (AES-256-GCM)
    1       12    random nonce
    13      32    encrypted data key
    45      16    GCM tag

Wrap AAD::

    b"legal_data/dek-wrap/v1"  22 bytes, constant domain label
    wrap format version         1 byte (0x01)
    tenant_id                   16 bytes (UUID.bytes)
    key_id                      16 bytes (UUID.bytes)
    len(purpose)                2 bytes, big-endian
    purpose                     ASCII
    version                     4 bytes, big-endian unsigned
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Final, Literal, NoReturn, Protocol, get_args, runtime_checkable
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from legal_data.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    TenantMismatch,
    UnknownKey,
    UnsupportedCiphertext,
)

Purpose = Literal["encryption", "blind_index"]
KeyState = Literal["active", "decrypt_only", "retired", "destroyed"]

BytesLike = bytes | bytearray | memoryview
"""Binary input accepted wherever bytes are (psycopg may hand back memoryview for bytea)."""

PURPOSES: Final[frozenset[str]] = frozenset(get_args(Purpose))
KEY_STATES: Final[frozenset[str]] = frozenset(get_args(KeyState))

KEY_BYTES: Final = 32
MASTER_KEY_ENV: Final = "LEGAL_DATA_MASTER_KEY"

_WRAP_VERSION: Final = 1
_WRAP_NONCE_LEN: Final = 12
_WRAP_TAG_LEN: Final = 16
_WRAPPED_LEN: Final = 1 + _WRAP_NONCE_LEN + KEY_BYTES + _WRAP_TAG_LEN
_WRAP_AAD_LABEL: Final = b"legal_data/dek-wrap/v1"
_KEK_ID_LABEL: Final = b"legal_data/kek-id/v1"
_MAX_VERSION: Final = 2**32 - 1
_GENERATE_HINT: Final = (
    'generate one with: python -c "import base64, os; '
    'print(base64.b64encode(os.urandom(32)).decode())"'
)


class KeyNotUsable(CryptoError):
    """The key exists but may not be used for this operation.

    Raised for a key of the wrong purpose (a blind-index key named in an
    envelope, an encryption key given to ``blind_index``), for encrypting with a
    key that is not ``active``, and for decrypting or indexing with a ``retired`` key.
    """


# -- data keys ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class DataKey:
    """One per-firm data key. The key bytes never appear in ``repr`` or errors.

    ``material`` is required (32 bytes) unless ``state == "destroyed"``, in which
    case it must be omitted: a destroyed key is a tombstone that only raises.
    Equality is identity, so comparing keys never compares key bytes.
    """

    key_id: UUID
    tenant_id: UUID
    purpose: Purpose
    version: int
    state: KeyState
    material: InitVar[BytesLike | None] = None
    _material: bytes | None = field(init=False, repr=False)

    def __post_init__(self, material: BytesLike | None) -> None:
        if not isinstance(self.key_id, UUID) or not isinstance(self.tenant_id, UUID):
            raise ConfigurationError("DataKey key_id and tenant_id must be uuid.UUID instances")
        if self.purpose not in PURPOSES:
            raise ConfigurationError(f"DataKey purpose must be one of {sorted(PURPOSES)}")
        if self.state not in KEY_STATES:
            raise ConfigurationError(f"DataKey state must be one of {sorted(KEY_STATES)}")
        _check_version(self.version)
        if self.state == "destroyed":
            if material is not None:
                raise ConfigurationError(
                    f"data key {self.key_id} is destroyed and must not carry key material"
                )
            stored = None
        else:
            if not isinstance(material, (bytes, bytearray, memoryview)):
                raise ConfigurationError(
                    f"data key {self.key_id} needs {KEY_BYTES} bytes of material"
                )
            # Copy so a caller's bytearray cannot change the key under a cached cipher.
            stored = bytes(material)
            if len(stored) != KEY_BYTES:
                raise ConfigurationError(
                    f"data key {self.key_id} material is {len(stored)} bytes; need {KEY_BYTES}"
                )
        object.__setattr__(self, "_material", stored)

    @property
    def can_encrypt(self) -> bool:
        return self.state == "active"

    @property
    def can_decrypt(self) -> bool:
        return self.state in ("active", "decrypt_only")

    def with_state(self, state: KeyState) -> DataKey:
        """Return this key in another lifecycle state; ``"destroyed"`` drops the material."""
        return DataKey(
            key_id=self.key_id,
            tenant_id=self.tenant_id,
            purpose=self.purpose,
            version=self.version,
            state=state,
            material=None if state == "destroyed" else self._material,
        )

    def __reduce__(self) -> NoReturn:
        # Pickles end up in task queues, caches and core dumps; key bytes must not.
        raise TypeError("DataKey cannot be pickled; store it wrapped (see wrap_data_key)")


def _check_version(version: object) -> None:
    # bool is an int subclass; True as a version is always a bug.
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigurationError("key version must be an int")
    if not 1 <= version <= _MAX_VERSION:
        raise ConfigurationError(f"key version must be between 1 and {_MAX_VERSION}")


def _material_of(key: DataKey) -> bytes:
    """Package-internal access to key bytes (envelope, blind index, wrapping)."""
    material = key._material
    if material is None:
        raise KeyDestroyed(f"data key {key.key_id} of tenant {key.tenant_id} was destroyed")
    return material


def generate_data_key(
    tenant_id: UUID, purpose: Purpose, version: int, *, state: KeyState = "active"
) -> DataKey:
    """Create a fresh random data key for a firm.

    The key id is a random UUIDv4: it is visible in every envelope and need not
    be time-ordered, so it should reveal nothing, not even when it was made.
    Pass ``state="decrypt_only"`` to roll a key out to every process before it is
    promoted to ``active``.
    """
    return DataKey(
        key_id=uuid4(),
        tenant_id=tenant_id,
        purpose=purpose,
        version=version,
        state=state,
        material=os.urandom(KEY_BYTES),
    )


# -- cipher cache ------------------------------------------------------------------


class CipherCache:
    """Thread- and asyncio-safe cache of ``AESGCM`` objects keyed by (tenant id, key id).

    Safety does not come from the lock alone: entries are immutable and every
    caller passes its own key explicitly, so there is no shared "current key"
    that one thread or task could switch under another (the sqlalchemy-utils
    race). Lookups never await, so tasks cannot interleave inside one. Reads are
    lock-free dict lookups; the lock only serialises insertion and eviction.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ConfigurationError("CipherCache max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: dict[tuple[UUID, UUID], tuple[bytes, AESGCM]] = {}
        self._lock = threading.Lock()

    def aesgcm(self, key: DataKey) -> AESGCM:
        """Return the cipher for ``key``, building it once per (tenant id, key id)."""
        material = _material_of(key)
        slot = (key.tenant_id, key.key_id)
        entry = self._entries.get(slot)
        if entry is None:
            with self._lock:
                entry = self._entries.get(slot)
                if entry is None:
                    if len(self._entries) >= self._max_entries:
                        # Evict the oldest insertion: rebuilding a cipher costs microseconds,
                        # so strict LRU bookkeeping on every hit is not worth it.
                        del self._entries[next(iter(self._entries))]
                    entry = (material, AESGCM(material))
                    self._entries[slot] = entry
        cached_material, cipher = entry
        # A key id must name one key forever; if two materials claim it, refuse
        # rather than seal with whichever was cached first.
        if cached_material is not material and not hmac.compare_digest(cached_material, material):
            raise CryptoError(
                f"two different key materials claim key id {key.key_id} of tenant "
                f"{key.tenant_id}; key ids must be unique"
            )
        return cipher

    def evict(self, key_id: UUID) -> None:
        """Forget every cipher for ``key_id`` (call when a key is destroyed)."""
        with self._lock:
            for slot in [s for s in self._entries if s[1] == key_id]:
                del self._entries[slot]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


cipher_cache: Final = CipherCache()
"""The process-wide cache used by :func:`legal_data.crypto.envelope.encrypt`/``decrypt``."""


# -- key lookup --------------------------------------------------------------------


@runtime_checkable
class KeyLookup(Protocol):
    """Exact key resolution for decryption.

    ``get`` returns the key with id ``key_id`` if it belongs to ``tenant_id``.
    It raises :class:`~legal_data.errors.UnknownKey` when there is no such key,
    :class:`~legal_data.errors.TenantMismatch` when the key belongs to another
    firm and :class:`~legal_data.errors.KeyDestroyed` when it was destroyed. It
    never tries other keys.
    """

    def get(self, key_id: UUID, tenant_id: UUID) -> DataKey: ...


class StaticKeyring:
    """In-memory :class:`KeyLookup`: for tests, and as the DB keyring's cache.

    Also tracks the single ``active`` key per (tenant, purpose), so the write
    path can ask :meth:`active` which key to seal with.
    """

    def __init__(self, keys: Iterable[DataKey] = ()) -> None:
        self._keys: dict[UUID, DataKey] = {}
        self._active: dict[tuple[UUID, str], UUID] = {}
        self._lock = threading.Lock()
        for key in keys:
            self.add(key)

    def add(self, key: DataKey) -> None:
        """Add a key, or replace it (same id, same tenant) with a new state."""
        with self._lock:
            existing = self._keys.get(key.key_id)
            if existing is not None and (
                existing.tenant_id != key.tenant_id
                or existing.purpose != key.purpose
                or existing.version != key.version
            ):
                raise ConfigurationError(
                    f"key id {key.key_id} is already used by another key; key ids must be unique"
                )
            if (
                existing is not None
                and existing._material is not None
                and key._material is not None
                and not hmac.compare_digest(existing._material, key._material)
            ):
                raise ConfigurationError(
                    f"key id {key.key_id} is already used with other key material"
                )
            slot = (key.tenant_id, key.purpose)
            active_id = self._active.get(slot)
            if key.state == "active":
                if active_id is not None and active_id != key.key_id:
                    raise ConfigurationError(
                        f"tenant {key.tenant_id} already has active {key.purpose} key "
                        f"{active_id}; demote it before activating {key.key_id}"
                    )
                self._active[slot] = key.key_id
            elif active_id == key.key_id:
                del self._active[slot]
            self._keys[key.key_id] = key
        if key.state == "destroyed":
            cipher_cache.evict(key.key_id)

    def set_state(self, key_id: UUID, state: KeyState) -> DataKey:
        """Move a key to another state (``"destroyed"`` erases its material here)."""
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKey(f"key {key_id} is not in this keyring")
        if key.state == "destroyed" and state != "destroyed":
            raise KeyDestroyed(f"key {key_id} was destroyed; destruction cannot be undone")
        updated = key.with_state(state)
        self.add(updated)
        return updated

    def destroy(self, key_id: UUID) -> None:
        """Crypto-shred: erase the key's material; later reads raise KeyDestroyed."""
        self.set_state(key_id, "destroyed")

    def get(self, key_id: UUID, tenant_id: UUID) -> DataKey:
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKey(f"key {key_id} is not a key of tenant {tenant_id}")
        if key.tenant_id != tenant_id:
            raise TenantMismatch(f"key {key_id} belongs to another tenant, not {tenant_id}")
        if key.state == "destroyed":
            raise KeyDestroyed(f"key {key_id} of tenant {tenant_id} was destroyed")
        return key

    def active(self, tenant_id: UUID, purpose: Purpose) -> DataKey:
        """The key new values of ``purpose`` are sealed (or indexed) with."""
        key_id = self._active.get((tenant_id, purpose))
        if key_id is None:
            raise UnknownKey(f"tenant {tenant_id} has no active {purpose} key")
        return self._keys[key_id]

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys


# -- master keys and wrapping ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrapContext:
    """What a wrapped data key is bound to: tenant, key id, purpose, version."""

    tenant_id: UUID
    key_id: UUID
    purpose: Purpose
    version: int

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, UUID) or not isinstance(self.tenant_id, UUID):
            raise ConfigurationError("WrapContext key_id and tenant_id must be uuid.UUID instances")
        if self.purpose not in PURPOSES:
            raise ConfigurationError(f"WrapContext purpose must be one of {sorted(PURPOSES)}")
        _check_version(self.version)

    @classmethod
    def for_key(cls, key: DataKey) -> WrapContext:
        return cls(
            tenant_id=key.tenant_id, key_id=key.key_id, purpose=key.purpose, version=key.version
        )

    def aad(self, wrap_version: int = _WRAP_VERSION) -> bytes:
        """Canonical associated data (layout in the module docstring)."""
        purpose = self.purpose.encode("ascii")
        return b"".join(
            (
                _WRAP_AAD_LABEL,
                bytes((wrap_version,)),
                self.tenant_id.bytes,
                self.key_id.bytes,
                len(purpose).to_bytes(2, "big"),
                purpose,
                self.version.to_bytes(4, "big"),
            )
        )

    def encryption_context(self) -> dict[str, str]:
        """The same binding as a string map, for KMS ``EncryptionContext``-style APIs."""
        return {
            "legal_data:tenant_id": str(self.tenant_id),
            "legal_data:key_id": str(self.key_id),
            "legal_data:purpose": self.purpose,
            "legal_data:version": str(self.version),
        }


@runtime_checkable
class MasterKeyProvider(Protocol):
    """Wraps and unwraps data-key material; implemented locally or by a KMS adapter.

    ``key_id`` identifies the master key (a KMS key ARN, or ``local:<fingerprint>``)
    and is stored next to each wrapped key as ``kek_ref``. ``unwrap`` must raise
    :class:`~legal_data.errors.AuthenticationFailed` when the blob was altered,
    was made under another master key, or was made for another context.
    """

    @property
    def key_id(self) -> str: ...

    def wrap(self, material: bytes, context: WrapContext) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytes: ...


class LocalMasterKey:
    """A master key held in process memory (development, tests, single-host installs).

    Production should use a KMS so the master key never enters the process and
    can be scheduled for deletion independently of backups.
    """

    __slots__ = ("__weakref__", "_cipher", "_key_id")

    def __init__(self, material: BytesLike) -> None:
        if not isinstance(material, (bytes, bytearray, memoryview)):
            raise ConfigurationError(f"master key must be {KEY_BYTES} raw bytes")
        raw = bytes(material)
        if len(raw) != KEY_BYTES:
            raise ConfigurationError(f"master key is {len(raw)} bytes; need {KEY_BYTES}")
        self._cipher = AESGCM(raw)
        # Domain-separated from every other use of the key, so publishing the id in
        # tenant_keys.kek_ref reveals nothing about wraps made with it.
        fingerprint = hmac.digest(raw, _KEK_ID_LABEL, sha256)[:8].hex()
        self._key_id = f"local:{fingerprint}"

    @classmethod
    def from_bytes(cls, material: BytesLike) -> LocalMasterKey:
        return cls(material)

    @classmethod
    def generate(cls) -> LocalMasterKey:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_env(
        cls, variable: str = MASTER_KEY_ENV, *, environ: Mapping[str, str] | None = None
    ) -> LocalMasterKey:
        """Read a base64-encoded 32-byte key from an environment variable."""
        env = os.environ if environ is None else environ
        value = env.get(variable)
        if value is None or not value.strip():
            raise ConfigurationError(f"{variable} is not set; {_GENERATE_HINT}")
        return cls(_decode_base64_key(value, source=f"environment variable {variable}"))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LocalMasterKey:
        """Read a base64-encoded 32-byte key from a file (same format as the env var)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigurationError(f"master key file {file} does not exist") from None
        except UnicodeDecodeError:
            raise ConfigurationError(
                f"master key file {file} must hold base64 text; {_GENERATE_HINT}"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"master key file {file} cannot be read: {exc.strerror}"
            ) from None
        return cls(_decode_base64_key(text, source=f"master key file {file}"))

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, material: bytes, context: WrapContext) -> bytes:
        return self._wrap_with_nonce(material, context, os.urandom(_WRAP_NONCE_LEN))

    def _wrap_with_nonce(self, material: bytes, context: WrapContext, nonce: bytes) -> bytes:
        # Test-only hook for golden vectors; reusing a nonce breaks GCM.
        if len(material) != KEY_BYTES:
            raise ConfigurationError(f"data key material must be {KEY_BYTES} bytes")
        if len(nonce) != _WRAP_NONCE_LEN:
            raise ConfigurationError(f"wrap nonce must be {_WRAP_NONCE_LEN} bytes")
        sealed = self._cipher.encrypt(nonce, bytes(material), context.aad())
        return bytes((_WRAP_VERSION,)) + nonce + sealed

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytes:
        if not isinstance(wrapped, (bytes, bytearray, memoryview)):
            raise UnsupportedCiphertext(f"wrapped key {context.key_id} is not bytes")
        blob = bytes(wrapped)
        if len(blob) != _WRAPPED_LEN or blob[0] != _WRAP_VERSION:
            raise UnsupportedCiphertext(
                f"wrapped key {context.key_id} is not a version-{_WRAP_VERSION} local wrap "
                f"({len(blob)} bytes; expected {_WRAPPED_LEN})"
            )
        nonce = blob[1 : 1 + _WRAP_NONCE_LEN]
        try:
            return self._cipher.decrypt(nonce, blob[1 + _WRAP_NONCE_LEN :], context.aad())
        except InvalidTag:
            raise AuthenticationFailed(
                f"wrapped key {context.key_id} of tenant {context.tenant_id} "
                f"({context.purpose} v{context.version}) did not authenticate under master key "
                f"{self._key_id}: wrong master key, or the blob or its metadata was altered"
            ) from None

    def __repr__(self) -> str:
        return f"LocalMasterKey(key_id={self._key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("LocalMasterKey cannot be pickled")


def _decode_base64_key(text: str, *, source: str) -> bytes:
    # Error messages name the source and the decoded length, never the value.
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{source} is not valid base64; {_GENERATE_HINT}") from None
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(
            f"{source} decodes to {len(raw)} bytes; a master key is {KEY_BYTES} bytes "
            f"(AES-256); {_GENERATE_HINT}"
        )
    return raw


def wrap_data_key(key: DataKey, *, provider: MasterKeyProvider) -> bytes:
    """Wrap a data key for storage in ``tenant_keys.wrapped``."""
    return provider.wrap(_material_of(key), WrapContext.for_key(key))


def unwrap_data_key(
    wrapped: bytes,
    *,
    provider: MasterKeyProvider,
    key_id: UUID,
    tenant_id: UUID,
    purpose: Purpose,
    version: int,
    state: KeyState,
) -> DataKey:
    """Rebuild a :class:`DataKey` from its stored row; the metadata must match the wrap."""
    if state == "destroyed":
        raise KeyDestroyed(f"key {key_id} of tenant {tenant_id} was destroyed")
    context = WrapContext(tenant_id=tenant_id, key_id=key_id, purpose=purpose, version=version)
    material = provider.unwrap(wrapped, context)
    if len(material) != KEY_BYTES:
        raise CryptoError(f"master key provider returned a malformed data key for {key_id}")
    return DataKey(
        key_id=key_id,
        tenant_id=tenant_id,
        purpose=purpose,
        version=version,
        state=state,
        material=material,
    )
