"""Versioned AES-256-GCM envelope for one encrypted column value (stored as ``bytea``).

Envelope layout, format version 1 (``n`` = plaintext length, total ``n + 46`` bytes)::

    offset  size  field
    0       1     format version   = 0x01
    1       1     algorithm id     = 0x01 (AES-256-GCM)
    2       16    key id           (UUID.bytes, RFC 4122 byte order)
    18      12    nonce            (96 bits from os.urandom, fresh per value)
    30      n     ciphertext
    30+n    16    GCM tag

Bytes 0..17 are the *header*. In SQL the key id is
``substring(col from 3 for 16)``, so rotation progress ("no row still on the
old key") is a plain query.

Associated data (authenticated, not stored)::

    b"legal_data/fle/v1"   17 bytes, constant domain label
    header                 18 bytes (envelope[0:18]: version, algorithm, key id)
    tenant_id              16 bytes (UUID.bytes)
    len(table)             2 bytes, big-endian
    table                  UTF-8
    len(column)            2 bytes, big-endian
    column                 UTF-8
    row flag               1 byte: 0x00 = not row-bound, 0x01 = row-bound
    row_id                 16 bytes (UUID.bytes), present only when row flag = 0x01

Every variable-length field is length-prefixed and every other field has a
fixed size, so distinct bindings never encode to the same bytes:
``("ab", "c")`` and ``("a", "bc")`` differ, and so do "not row-bound" and any
row id. Authenticating the header means a rewritten key id, version or
algorithm fails as surely as a flipped ciphertext bit.

Failure modes, checked in this order (every one a
:class:`~legal_data.errors.CryptoError`; nothing ever returns the stored bytes):

1. :class:`~legal_data.errors.UnsupportedCiphertext` — the value cannot be a
   version-1 envelope: not bytes, shorter than 46 bytes (so any truncation into
   the header, nonce or tag), unknown format version, or unknown algorithm. No
   key is looked up for such values.
2. Key resolution by the header's key id, exactly, in the caller's tenant:
   :class:`~legal_data.errors.UnknownKey` (no such key — including a key id
   altered into one that does not exist: there is no key to authenticate it
   with, and trying others is what this design forbids),
   :class:`~legal_data.errors.TenantMismatch` (the key is another firm's),
   :class:`~legal_data.errors.KeyDestroyed` (crypto-shredded),
   :class:`~legal_data.crypto.keys.KeyNotUsable` (blind-index key or retired key).
3. :class:`~legal_data.errors.AuthenticationFailed` — everything else: any
   altered nonce, ciphertext or tag byte, truncation that leaves 46 bytes or
   more, appended bytes, a key id rewritten to another key of the same firm, or
   a value moved to another table, column, row or tenant.

Error messages name the tenant, table, column, row and key id; they never
contain plaintext or key bytes.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Final, NoReturn
from uuid import UUID

from cryptography.exceptions import InvalidTag

from legal_data.crypto.keys import BytesLike, DataKey, KeyLookup, KeyNotUsable, cipher_cache
from legal_data.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    TenantMismatch,
    UnknownKey,
    UnsupportedCiphertext,
)

FORMAT_VERSION: Final = 1
ALG_AES_256_GCM: Final = 1
HEADER_LEN: Final = 18
NONCE_LEN: Final = 12
TAG_LEN: Final = 16
OVERHEAD: Final = HEADER_LEN + NONCE_LEN + TAG_LEN
"""Envelope bytes added to every plaintext (46)."""
MIN_ENVELOPE_LEN: Final = OVERHEAD

AAD_LABEL: Final = b"legal_data/fle/v1"
_MAX_NAME_BYTES: Final = 0xFFFF

_SUPPORTED_ALGORITHMS: Final = frozenset({ALG_AES_256_GCM})
_HEADER_PREFIX: Final = bytes((FORMAT_VERSION, ALG_AES_256_GCM))


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The readable, authenticated-on-decrypt prefix of an envelope."""

    version: int
    algorithm: int
    key_id: UUID


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a value lives: it decrypts only under the same binding it was sealed with.

    ``row_id`` is set for the most sensitive columns (My Number, bank accounts,
    privileged notes) so a value copied to another row fails to decrypt. Binding
    a row means the id must exist before the value is sealed (UUIDv7 in Python).
    """

    tenant_id: UUID
    table: str
    column: str
    row_id: UUID | None = None
    # The binding's part of the AAD, encoded once: bindings are reused per column.
    _aad_tail: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Runs once per value sealed or opened, so it avoids loops and temporaries.
        table, column, row_id = self.table, self.column, self.row_id
        if not isinstance(self.tenant_id, UUID):
            raise ConfigurationError("Binding.tenant_id must be a uuid.UUID")
        if row_id is not None and not isinstance(row_id, UUID):
            raise ConfigurationError("Binding.row_id must be a uuid.UUID or None")
        if not isinstance(table, str) or not table:
            raise ConfigurationError("Binding.table must be a non-empty str")
        if not isinstance(column, str) or not column:
            raise ConfigurationError("Binding.column must be a non-empty str")
        table_bytes, column_bytes = table.encode(), column.encode()
        if len(table_bytes) > _MAX_NAME_BYTES or len(column_bytes) > _MAX_NAME_BYTES:
            raise ConfigurationError(
                f"Binding table and column must be at most {_MAX_NAME_BYTES} bytes"
            )
        object.__setattr__(
            self,
            "_aad_tail",
            b"".join(
                (
                    self.tenant_id.bytes,
                    len(table_bytes).to_bytes(2, "big"),
                    table_bytes,
                    len(column_bytes).to_bytes(2, "big"),
                    column_bytes,
                    b"\x00" if row_id is None else b"\x01" + row_id.bytes,
                )
            ),
        )

    def describe(self) -> str:
        """``table.column [row …] of tenant …`` for error messages."""
        row = "" if self.row_id is None else f" row {self.row_id}"
        return f"{self.table}.{self.column}{row} of tenant {self.tenant_id}"


def _aad(header: bytes, binding: Binding) -> bytes:
    return AAD_LABEL + header + binding._aad_tail


def _at(binding: Binding | None) -> str:
    # Called only on failure: describe() formats UUIDs, about a microsecond per call.
    return "" if binding is None else f" in {binding.describe()}"


def _parse(envelope: object, binding: Binding | None) -> bytes:
    """Check the envelope's shape and return it as ``bytes``; raise UnsupportedCiphertext."""
    if not isinstance(envelope, (bytes, bytearray, memoryview)):
        # A str here usually means plaintext reached an encrypted column; say so
        # without echoing it.
        raise UnsupportedCiphertext(
            f"stored value{_at(binding)} is {type(envelope).__name__}, "
            "not an encrypted envelope (bytes)"
        )
    size = len(envelope)
    if size < MIN_ENVELOPE_LEN:
        raise UnsupportedCiphertext(
            f"stored value{_at(binding)} is {size} bytes; "
            f"an envelope has at least {MIN_ENVELOPE_LEN}"
        )
    version, algorithm = envelope[0], envelope[1]
    if version != FORMAT_VERSION:
        raise UnsupportedCiphertext(f"unknown envelope format version {version}{_at(binding)}")
    if algorithm not in _SUPPORTED_ALGORITHMS:
        raise UnsupportedCiphertext(f"unknown envelope algorithm id {algorithm}{_at(binding)}")
    # One copy for bytearray/memoryview input; bytes(b) returns b itself.
    return bytes(envelope)


@functools.lru_cache(maxsize=4096)
def _key_id(raw: bytes) -> UUID:
    # UUID() is pure Python and costs as much as the AES-GCM call itself; a process
    # sees few key ids, so memoize. Bounded, so forged key ids cannot grow it.
    return UUID(bytes=raw)


def parse_header(envelope: BytesLike) -> EnvelopeHeader:
    """Read version, algorithm and key id without decrypting.

    Raises :class:`~legal_data.errors.UnsupportedCiphertext` for input that is not
    bytes, is shorter than :data:`MIN_ENVELOPE_LEN`, or names an unknown format
    version or algorithm. The header is *not* authenticated until :func:`decrypt`.
    """
    checked = _parse(envelope, None)
    return EnvelopeHeader(
        version=checked[0], algorithm=checked[1], key_id=_key_id(checked[2:HEADER_LEN])
    )


def encrypt(plaintext: BytesLike, *, key: DataKey, binding: Binding) -> bytes:
    """Seal ``plaintext`` under ``key`` (the firm's active encryption key) for ``binding``."""
    return _encrypt_with_nonce(plaintext, key=key, binding=binding, nonce=os.urandom(NONCE_LEN))


def _encrypt_with_nonce(
    plaintext: BytesLike, *, key: DataKey, binding: Binding, nonce: bytes
) -> bytes:
    """Test-only hook for golden vectors. Never call with a chosen nonce in production:
    a repeated (key, nonce) pair reveals the XOR of plaintexts and the GHASH key."""
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise ConfigurationError(
            f"encrypt() takes bytes, got {type(plaintext).__name__} for "
            f"{binding.describe()}; encode it first"
        )
    if len(nonce) != NONCE_LEN:
        raise ConfigurationError(f"nonce must be {NONCE_LEN} bytes")
    if key.tenant_id != binding.tenant_id or not key.can_encrypt or key.purpose != "encryption":
        _refuse_encryption_key(key, binding)
    header = _HEADER_PREFIX + key.key_id.bytes
    sealed = cipher_cache.aesgcm(key).encrypt(nonce, plaintext, _aad(header, binding))
    return header + nonce + sealed


def _refuse_encryption_key(key: DataKey, binding: Binding) -> NoReturn:
    where = binding.describe()
    if key.tenant_id != binding.tenant_id:
        raise TenantMismatch(f"key {key.key_id} belongs to another tenant; cannot seal {where}")
    if key.purpose != "encryption":
        raise KeyNotUsable(f"key {key.key_id} is a {key.purpose} key; cannot seal {where}")
    if key.state == "destroyed":
        raise KeyDestroyed(f"key {key.key_id} was destroyed; cannot seal {where}")
    raise KeyNotUsable(f"key {key.key_id} is {key.state}, not active; cannot seal {where}")


def decrypt(envelope: BytesLike, *, keyring: KeyLookup, binding: Binding) -> bytes:
    """Open an envelope stored at ``binding``; see the module docstring for failure modes."""
    data = _parse(envelope, binding)
    key_id = _key_id(data[2:HEADER_LEN])
    key = _resolve(keyring, key_id, binding)
    try:
        return cipher_cache.aesgcm(key).decrypt(
            data[HEADER_LEN : HEADER_LEN + NONCE_LEN],
            data[HEADER_LEN + NONCE_LEN :],
            _aad(data[:HEADER_LEN], binding),
        )
    except InvalidTag:
        raise AuthenticationFailed(
            f"ciphertext in {binding.describe()} failed authentication under key "
            f"{key_id}: the value, its header or its binding (tenant, table, column, "
            "row) was altered, or it was written for another place"
        ) from None


def _resolve(keyring: KeyLookup, key_id: UUID, binding: Binding) -> DataKey:
    try:
        key = keyring.get(key_id, binding.tenant_id)
    # Re-raise the same type with the location added: the keyring cannot know it.
    except KeyDestroyed as exc:
        raise KeyDestroyed(f"{exc} (reading {binding.describe()})") from exc
    except TenantMismatch as exc:
        raise TenantMismatch(f"{exc} (reading {binding.describe()})") from exc
    except UnknownKey as exc:
        raise UnknownKey(f"{exc} (reading {binding.describe()})") from exc
    # The keyring is trusted for speed, not for isolation: check what it returned.
    if (
        key.key_id == key_id
        and key.tenant_id == binding.tenant_id
        and key.purpose == "encryption"
        and key.can_decrypt
    ):
        return key
    where = binding.describe()
    if key.key_id != key_id:
        raise CryptoError(f"keyring returned key {key.key_id} for key id {key_id} ({where})")
    if key.tenant_id != binding.tenant_id:
        raise TenantMismatch(f"key {key_id} belongs to another tenant (reading {where})")
    if key.state == "destroyed":
        raise KeyDestroyed(f"key {key_id} was destroyed (reading {where})")
    if key.purpose != "encryption":
        raise KeyNotUsable(f"key {key_id} is a {key.purpose} key (reading {where})")
    raise KeyNotUsable(f"key {key_id} is {key.state}; set it back to decrypt_only to read {where}")
