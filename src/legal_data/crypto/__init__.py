"""Field-level encryption for legal_data: AES-256-GCM envelopes, keys, blind indexes.

This package owns everything that touches key material and is independent of the
database:

- :mod:`.envelope` — the versioned binary envelope stored in ``bytea`` columns
  (``encrypt``/``decrypt``/``parse_header``) and its associated-data binding to
  tenant, table, column and optionally row.
- :mod:`.keys` — per-firm data keys, their exact lookup (``KeyLookup``), master
  key wrapping (``MasterKeyProvider``, ``LocalMasterKey``) and the thread-safe
  ``AESGCM`` cache.
- :mod:`.blind_index` — HMAC-SHA256 blind indexes over versioned Japanese-aware
  normalizers for exact-match search.

The database side builds on it: :mod:`.types` (encrypted column types), :mod:`.orm`
(sealing and opening in the unit of work), :mod:`.runtime` (the process-wide keyring over
``tenant_keys`` and the master key: ``legal_data.crypto.configure(provider)``),
:mod:`.admin` (rotation, retirement, re-wrapping, crypto-shredding).
"""

from legal_data.crypto.blind_index import (
    BLIND_INDEX_LEN,
    KINDS,
    blind_index,
    normalize_email,
    normalize_identifier,
    normalize_phone,
)
from legal_data.crypto.envelope import (
    OVERHEAD,
    Binding,
    EnvelopeHeader,
    decrypt,
    encrypt,
    parse_header,
)
from legal_data.crypto.keys import (
    BytesLike,
    CipherCache,
    DataKey,
    KeyLookup,
    KeyNotUsable,
    KeyState,
    LocalMasterKey,
    MasterKeyProvider,
    Purpose,
    StaticKeyring,
    WrapContext,
    cipher_cache,
    generate_data_key,
    unwrap_data_key,
    wrap_data_key,
)

__all__ = [
    "BLIND_INDEX_LEN",
    "KINDS",
    "OVERHEAD",
    "Binding",
    "BytesLike",
    "CipherCache",
    "DataKey",
    "EnvelopeHeader",
    "KeyLookup",
    "KeyNotUsable",
    "KeyState",
    "LocalMasterKey",
    "MasterKeyProvider",
    "Purpose",
    "StaticKeyring",
    "WrapContext",
    "blind_index",
    "cipher_cache",
    "decrypt",
    "encrypt",
    "generate_data_key",
    "normalize_email",
    "normalize_identifier",
    "normalize_phone",
    "parse_header",
    "unwrap_data_key",
    "wrap_data_key",
]


def __getattr__(name: str) -> object:
    # ``legal_data.crypto.configure`` without importing the database side eagerly.
    if name == "configure":
        from legal_data.crypto.runtime import configure

        return configure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
