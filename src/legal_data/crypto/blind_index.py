"""HMAC-SHA256 blind indexes: exact-match search over encrypted columns.

A blind index is stored next to the ciphertext (``bytea``, 33 bytes) and
compared for equality (``WHERE email_bidx = :x``, ``UNIQUE (tenant_id,
email_bidx)``). It is keyed with the firm's ``blind_index`` key, never the
encryption key, so it can be rotated on its own schedule and a leaked index
key does not decrypt anything.

Output layout (33 bytes)::

    offset  size  field
    0       1     normalizer version of ``kind`` (currently 1 for every kind)
    1       32    HMAC-SHA256(key, message)

HMAC message::

    b"legal_data/bidx/v1"   18 bytes, constant domain label
    len(kind)               2 bytes, big-endian
    kind                    ASCII ("email" | "phone" | "identifier")
    normalizer version      1 byte
    tenant_id               16 bytes (the key's tenant, UUID.bytes)
    normalized value        UTF-8 (last, so it needs no length prefix)

Choices:

- *Full 32-byte HMAC, not truncated.* These kinds identify one person or
  company, so the index serves unique lookups and ``UNIQUE`` constraints; a
  collision would be a false "already exists". Truncation only helps privacy
  for low-cardinality values (it adds deliberate false positives), which
  should not get an index like this at all. 16 extra bytes per row is cheap.
- *Domain separation by kind.* ``kind`` is in the message, so the email and
  phone indexes of the same string are unrelated values.
- *Versioned normalizers.* The version byte is both the output prefix and part
  of the message: changing a normalizer means a new version, a second index
  column and a backfill, never values that silently stop matching.
- *Leakage.* Equal inputs give equal indexes within a firm (frequency leaks);
  different firms' keys give unrelated values. With the index key, anyone can
  test guesses at ~3 M/s per core: all Japanese mobile numbers in minutes, all
  My Numbers in hours. The key must be protected (wrapped) like an encryption key.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from types import MappingProxyType
from typing import Final

from legal_data.crypto.keys import DataKey, KeyNotUsable, _material_of
from legal_data.errors import ConfigurationError, KeyDestroyed, ValidationError

BLIND_INDEX_LEN: Final = 33
_LABEL: Final = b"legal_data/bidx/v1"
_ASCII_DIGITS: Final = frozenset("0123456789")
_ASCII_ALNUM: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def normalize_email(value: str) -> str:
    """Email normalizer v1: NFKC, casefold, NFKC again, strip.

    NFKC turns full-width ``ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ`` into ASCII; the second NFKC
    is Unicode's compatibility caseless matching, since casefolding can leave
    text that is no longer NFKC. Local parts are treated as case-insensitive, as
    every mainstream provider does.
    """
    folded = unicodedata.normalize("NFKC", value).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def normalize_phone(value: str) -> str:
    """Phone normalizer v1: NFKC, ASCII digits only, Japanese country code to trunk 0.

    Keeping only digits removes spaces, brackets and every dash variant
    (``‐‑‒–—―ー－`` and ``-``) in one step; NFKC first turns full-width digits into
    ASCII. ``+81`` becomes the trunk prefix ``0`` (``+81 90-1234-5678`` and
    ``+81 (0)90-1234-5678`` → ``09012345678``). A leading ``81`` without ``+`` is
    treated as the country code only when the digit count fits an international
    Japanese number (11-13 digits): domestic numbers always start with ``0``,
    but an 8-digit local number may start with ``81``.
    """
    text = unicodedata.normalize("NFKC", value)
    digits = "".join(ch for ch in text if ch in _ASCII_DIGITS)
    first_digit = next((i for i, ch in enumerate(text) if ch in _ASCII_DIGITS), len(text))
    explicit_plus = "+" in text[:first_digit]
    if digits.startswith("81") and (explicit_plus or 11 <= len(digits) <= 13):
        national = digits[2:]
        # "+81 (0)90 …" keeps its trunk 0; adding another would give "0090 …".
        digits = national if national.startswith("0") else "0" + national
    return digits


def normalize_identifier(value: str) -> str:
    """Identifier normalizer v1 (法人番号, My Number, registration numbers):
    NFKC, ASCII letters and digits only, uppercase.

    NFKC maps full-width ``１２３ＡＢＣ`` to ASCII; dropping everything else removes
    separators (spaces, dots, every dash variant) and non-ASCII text around the id.
    """
    text = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in text if ch in _ASCII_ALNUM).upper()


@dataclass(frozen=True, slots=True)
class Normalizer:
    """A named, versioned normalization step for one index kind."""

    version: int
    normalize: Callable[[str], str]


KINDS: Final[Mapping[str, Normalizer]] = MappingProxyType(
    {
        "email": Normalizer(version=1, normalize=normalize_email),
        "phone": Normalizer(version=1, normalize=normalize_phone),
        "identifier": Normalizer(version=1, normalize=normalize_identifier),
    }
)
"""Index kinds and their current normalizers. A kind is an index *domain*: all
email columns of a firm share one, so client and opposing-party emails can be
matched for conflict checks."""


def blind_index(value: str, *, key: DataKey, kind: str) -> bytes:
    """Return ``version byte ‖ HMAC-SHA256`` (33 bytes) of the normalized ``value``.

    ``key`` must be the firm's ``blind_index`` key in state ``active`` (writes and
    queries) or ``decrypt_only`` (queries against the old index during rotation).
    Raises :class:`~legal_data.errors.ValidationError` if ``value`` normalizes to
    the empty string, since all such values would share one index.
    """
    normalizer = KINDS.get(kind)
    if normalizer is None:
        raise ConfigurationError(f"unknown blind index kind {kind!r}; known: {sorted(KINDS)}")
    if not isinstance(value, str):
        raise ConfigurationError(f"blind_index() takes str, got {type(value).__name__}")
    if key.purpose != "blind_index":
        raise KeyNotUsable(f"key {key.key_id} is a {key.purpose} key, not a blind_index key")
    if key.state == "destroyed":
        raise KeyDestroyed(f"blind index key {key.key_id} of tenant {key.tenant_id} was destroyed")
    if not key.can_decrypt:
        raise KeyNotUsable(f"blind index key {key.key_id} is {key.state}")
    normalized = normalizer.normalize(value)
    if not normalized:
        # The message must not echo the value: it is personal data.
        raise ValidationError(f"value for {kind} blind index is empty after normalization")
    kind_bytes = kind.encode("ascii")
    version = bytes((normalizer.version,))
    message = b"".join(
        (
            _LABEL,
            len(kind_bytes).to_bytes(2, "big"),
            kind_bytes,
            version,
            key.tenant_id.bytes,
            normalized.encode("utf-8"),
        )
    )
    return version + hmac.digest(_material_of(key), message, sha256)
