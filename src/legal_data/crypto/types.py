"""SQLAlchemy column types for encrypted fields: ``bytea`` holding a versioned envelope.

``mapped_column(EncryptedString())`` is all a model needs: the table and column names
are bound when the column is attached to its table, and so are two CHECK constraints
(the value is NULL or a well-formed envelope; a blind-indexed value and its index are
NULL together), which make PostgreSQL refuse a plain string written by ``text()`` SQL.

Writing
    Through the ORM, plain values are sealed at flush by :mod:`legal_data.crypto.orm`
    (with the row id for row-bound columns, and their blind indexes). Anywhere else
    (Core ``insert()``/``update()``, ORM bulk statements, comparisons) a plain value is
    refused with :class:`PlaintextRefused`: encrypting it there would skip the blind
    index, and row-bound columns cannot know the row. Pass :class:`Plaintext` to encrypt
    explicitly, or a :class:`Ciphertext` read from another row to copy it as is.
Reading
    A non-row-bound column decrypts in the type, for the firm in context. A row-bound
    column yields an opaque :class:`Ciphertext`; ORM instances get the plaintext from
    their ``load``/``refresh`` events, which know the row.
Errors
    Typed (``UnknownKey``, ``KeyDestroyed``, ``TenantMismatch``, ``AuthenticationFailed``,
    ``UnsupportedCiphertext``, :class:`PlaintextRefused`), naming table, column (and row
    when known); never plaintext or key bytes, never stored bytes passed off as a value.

Plaintext encoding (inside the envelope): one type tag byte, then UTF-8 text, JSON
(UTF-8, compact) or an ISO ``YYYY-MM-DD`` date. The tag stops a value of one type being
decoded as another.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Final, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from sqlalchemy import CheckConstraint, Column, Engine, LargeBinary, Table, bindparam, event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from legal_data.crypto import runtime
from legal_data.crypto.blind_index import BLIND_INDEX_LEN, KINDS, blind_index
from legal_data.crypto.envelope import (
    AAD_LABEL,
    MIN_ENVELOPE_LEN,
    Binding,
    decrypt,
    encrypt,
    parse_header,
)
from legal_data.crypto.keys import DataKey, KeyNotUsable
from legal_data.errors import (
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    LegalDataError,
    TenantContextMissing,
    UnknownKey,
    UnsupportedCiphertext,
    ValidationError,
)
from legal_data.tenancy.context import _current as _context_var
from legal_data.tenancy.context import current_context

T = TypeVar("T")

TAG_TEXT: Final = 0x01
TAG_JSON: Final = 0x03
TAG_DATE: Final = 0x04

BLIND_INDEX_SUFFIX: Final = "_bidx"


class PlaintextRefused(CryptoError, ValidationError):
    """A plain value reached an encrypted column outside the ORM's unit of work."""


# -- value objects ---------------------------------------------------------------------


class Ciphertext:
    """A stored envelope, opaque: what a row-bound column yields outside an ORM instance.

    Writing it back stores the same bytes (copying a value between rows at the SQL
    level); it decrypts only where it was sealed. Immutable by convention; a plain
    slotted class because one is built per row-bound value read.
    """

    __slots__ = ("envelope",)

    def __init__(self, envelope: bytes) -> None:
        self.envelope = envelope

    @property
    def key_id(self) -> uuid.UUID:
        return parse_header(self.envelope).key_id

    def __eq__(self, other: object) -> bool:
        return type(other) is Ciphertext and other.envelope == self.envelope

    def __hash__(self) -> int:
        return hash(self.envelope)

    def __repr__(self) -> str:
        return f"<Ciphertext {len(self.envelope)} bytes>"


class Plaintext:
    """An explicit request to encrypt ``value`` in a Core statement.

    ``row_id`` is required for row-bound columns (it must be the id of the row written).
    The repr never shows the value.
    """

    __slots__ = ("row_id", "value")

    def __init__(self, value: object, *, row_id: uuid.UUID | None = None) -> None:
        self.value = value
        self.row_id = row_id

    def __repr__(self) -> str:
        return "<Plaintext (hidden)>"


class _Sealed:
    """An ORM attribute value during a flush: the envelope to write, the plaintext to
    put back afterwards. Compares unequal to everything, so the ORM writes it."""

    __slots__ = ("envelope", "plain")

    def __init__(self, envelope: bytes, plain: object) -> None:
        self.envelope = envelope
        self.plain = plain

    def __repr__(self) -> str:
        return "<sealed value>"


# -- the column types --------------------------------------------------------------------


class EncryptedType(TypeDecorator[T], Generic[T]):
    """Base of the encrypted column types (``bytea`` in PostgreSQL)."""

    impl = LargeBinary
    cache_ok = True

    tag: ClassVar[int]

    def __init__(
        self,
        *,
        row_bound: bool = False,
        blind_index: str | None = None,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__()
        if blind_index is not None and blind_index not in KINDS:
            raise ConfigurationError(f"unknown blind index kind {blind_index!r}")
        self.row_bound = row_bound
        self.blind_index = blind_index
        self.table = table
        self.column = column
        self._bindings: dict[uuid.UUID, Binding] = {}
        self._bindings_lock = threading.Lock()
        # Per firm (by tenant_id.int): the binding's part of the AAD without the row flag,
        # and with the "not row-bound" flag.
        self._tails: dict[int, bytes] = {}
        self._tails_unbound: dict[int, bytes] = {}
        # Per firm: (the keyring it was built from, {header: (decrypt, associated data)}).
        self._fast: dict[int, tuple[runtime.TenantKeyring, dict[bytes, Any]]] = {}

    # -- naming ---------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.table or '?'}.{self.column or '?'}"

    @property
    def blind_index_column(self) -> str | None:
        return None if self.blind_index is None else f"{self.column}{BLIND_INDEX_SUFFIX}"

    def bound_to(self, table: str, column: str) -> EncryptedType[T]:
        """A copy of this type bound to ``table.column`` (part of the statement cache key)."""
        return type(self)(
            row_bound=self.row_bound, blind_index=self.blind_index, table=table, column=column
        )

    def _binding(self, tenant_id: uuid.UUID, row_id: uuid.UUID | None) -> Binding:
        if self.table is None or self.column is None:
            raise ConfigurationError("an encrypted column type was used before it was bound")
        if self.row_bound:
            if row_id is None:
                raise PlaintextRefused(
                    f"{self.where} is bound to its row: the row id is needed to seal or open it"
                )
            return Binding(tenant_id, self.table, self.column, row_id)
        found = self._bindings.get(tenant_id)
        if found is None:
            found = Binding(tenant_id, self.table, self.column)
            with self._bindings_lock:
                if len(self._bindings) > 10_000:
                    self._bindings.clear()
                self._bindings[tenant_id] = found
        return found

    # -- codec ----------------------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> T:
        raise NotImplementedError

    def _decode_checked(self, plaintext: bytes) -> T:
        if not plaintext or plaintext[0] != self.tag:
            raise UnsupportedCiphertext(f"{self.where}: the value is not of this column's type")
        try:
            return self.decode(plaintext[1:])
        except (UnicodeDecodeError, ValueError):
            # The message of a decoding error may quote the plaintext: never chain it.
            raise UnsupportedCiphertext(f"{self.where}: the decrypted value is malformed") from None

    # -- sealing and opening -------------------------------------------------------------

    def seal(
        self,
        value: Any,
        *,
        tenant_id: uuid.UUID,
        row_id: uuid.UUID | None,
        key: DataKey | None = None,
    ) -> bytes:
        """Encrypt ``value`` for this column of ``tenant_id`` (and ``row_id``)."""
        binding = self._binding(tenant_id, row_id)
        data = self.encode(value)
        try:
            key = key or runtime.active_key(tenant_id, "encryption")
            return encrypt(data, key=key, binding=binding)
        except (UnknownKey, KeyDestroyed, KeyNotUsable) as exc:
            raise type(exc)(f"{exc} (writing {self.where})") from None

    def open(self, envelope: bytes, *, tenant_id: uuid.UUID, row_id: uuid.UUID | None) -> T:
        """Decrypt a stored envelope of this column of ``tenant_id`` (and ``row_id``).

        The common case takes a short path: the firm's cached cipher for the key id in
        the header, and the associated data built from cached parts (byte for byte what
        :func:`~legal_data.crypto.envelope.decrypt` builds; a unit test holds them equal).
        Anything unusual (an unknown or unusable key, a malformed or tampered value)
        goes through ``decrypt``, which raises the precise error.
        """
        ring = runtime.ring_of(tenant_id.int)
        if (
            ring is not None
            and (row_id is not None or not self.row_bound)
            and type(envelope) is bytes
            and len(envelope) >= MIN_ENVELOPE_LEN
            and envelope[0] == 1
            and envelope[1] == 1
        ):
            cipher = ring.cipher_for(envelope[2:18])
            if cipher is not None:
                tail = self._tails.get(tenant_id.int) or self._binding_tail(tenant_id)
                row = b"\x00" if row_id is None else b"\x01" + row_id.bytes
                try:
                    plaintext = cipher.decrypt(
                        envelope[18:30], envelope[30:], AAD_LABEL + envelope[:18] + tail + row
                    )
                except InvalidTag:
                    pass  # the checked path below names what failed
                else:
                    return self._decode_checked(plaintext)
        plaintext = decrypt(
            envelope,
            keyring=runtime.keyring(tenant_id),
            binding=self._binding(tenant_id, row_id),
        )
        return self._decode_checked(plaintext)

    def _binding_tail(self, tenant_id: uuid.UUID) -> bytes:
        if self.table is None or self.column is None:
            raise ConfigurationError("an encrypted column type was used before it was bound")
        # Binding's AAD part ends with the one-byte row flag: keep what precedes it.
        tail = Binding(tenant_id, self.table, self.column)._aad_tail[:-1]
        if len(self._tails) > 10_000:
            self._tails.clear()
            self._tails_unbound.clear()
        self._tails[tenant_id.int] = tail
        self._tails_unbound[tenant_id.int] = tail + b"\x00"
        return tail

    def index(self, value: Any, *, tenant_id: uuid.UUID) -> bytes | None:
        """The blind index of ``value`` under the firm's active blind-index key."""
        if self.blind_index is None or value is None:
            return None
        if not isinstance(value, str):
            raise ValidationError(f"{self.where}: a blind-indexed value must be a str")
        key = runtime.active_key(tenant_id, "blind_index")
        try:
            return blind_index(value, key=key, kind=self.blind_index)
        except ValidationError:
            raise ValidationError(
                f"{self.where}: the value is empty after {self.blind_index} normalization"
            ) from None

    # -- SQLAlchemy hooks ---------------------------------------------------------------

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        kind = type(value)
        if kind is _Sealed or kind is Ciphertext:
            return value.envelope
        if kind is Plaintext:
            tenant_id = runtime.context_tenant(f"encrypting {self.where}")
            return self.seal(value.value, tenant_id=tenant_id, row_id=value.row_id)
        raise PlaintextRefused(
            f"refusing to write a plain {kind.__name__} to encrypted column {self.where}: "
            "write through an ORM instance (flush seals it and its blind index), or pass "
            "Plaintext(value) / a Ciphertext explicitly; compare with .matches(), not =="
        )

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        raise PlaintextRefused(f"encrypted column {self.where} cannot be rendered as a literal")

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        """:meth:`process_result_value` as one closure with its lookups hoisted: it runs
        for every value of every row read, so each attribute lookup saved counts."""
        if self.row_bound:

            def opaque(value: Any) -> Ciphertext | None:
                if value is None:
                    return None
                return Ciphertext(value if type(value) is bytes else bytes(value))

            return opaque
        decode, open_, where = self._fast_decoder(), self.open, self.where
        context, lookup = _context_var.get, self._fast_lookup

        def process(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not bytes:
                value = bytes(value)
            ctx = context()
            if ctx is None or ctx.tenant_id is None:
                raise TenantContextMissing(f"reading {where} needs a tenant context")
            # No header checks here: the header is part of the associated data, so a
            # wrong version, algorithm or length fails authentication below.
            hit = lookup(ctx.tenant_id.int, value[:18])
            if hit is not None:
                try:
                    return decode(hit[0](value[18:30], value[30:], hit[1]))
                except (InvalidTag, UnicodeDecodeError, ValueError, IndexError):
                    pass  # the checked path names what failed
            # First value of a firm or key (fills the caches), or any failure.
            return open_(value, tenant_id=ctx.tenant_id, row_id=None)

        return process

    def _fast_lookup(self, firm: int, header: bytes) -> tuple[Callable[..., bytes], bytes] | None:
        """(decrypt, associated data) for a non-row-bound value of ``firm`` whose header is
        ``header``; ``None`` when the firm's keyring or the key is not loaded and usable.

        Cached per keyring *object*: a reload (rotation, retirement, destruction, TTL)
        replaces the firm's keyring, so a cached cipher never outlives the key state it
        was made under (a destroyed key stops decrypting at once)."""
        ring = runtime._cache.entries.get(firm)
        if ring is None:
            return None
        cached = self._fast.get(firm)
        if cached is None or cached[0] is not ring:
            cached = (ring, {})
            if len(self._fast) > 10_000:
                self._fast.clear()
            self._fast[firm] = cached
        hit = cached[1].get(header)
        if hit is None:
            tail = self._tails_unbound.get(firm)
            cipher = ring.cipher_for(header[2:18]) if len(header) == 18 else None
            if tail is None or cipher is None:
                return None
            hit = (cipher.decrypt, AAD_LABEL + header + tail)
            cached[1][header] = hit
        return hit

    def row_opener(self) -> Callable[[bytes, uuid.UUID, uuid.UUID], T]:
        """:meth:`open` for a row-bound value, lookups hoisted: the ORM's load event calls it
        for every row. Same short path and the same fallback to the checked path."""
        rings, tails, label = runtime._cache.entries, self._tails, AAD_LABEL
        decode, open_ = self._fast_decoder(), self.open

        def open_row(envelope: bytes, tenant_id: uuid.UUID, row_id: uuid.UUID) -> T:
            firm = tenant_id.int
            ring, tail = rings.get(firm), tails.get(firm)
            if ring is not None and tail is not None and row_id is not None:
                cipher = ring._ciphers.get(envelope[2:18])
                if cipher is not None:
                    aad = label + envelope[:18] + tail + b"\x01" + row_id.bytes
                    try:
                        return decode(cipher.decrypt(envelope[18:30], envelope[30:], aad))
                    except (InvalidTag, UnicodeDecodeError, ValueError, IndexError):
                        pass  # the checked path names what failed
            return open_(envelope, tenant_id=tenant_id, row_id=row_id)

        return open_row

    def opener(self) -> Callable[[bytes, uuid.UUID, uuid.UUID | None], T]:
        """The fastest way to open one stored value of this column given its firm (and row
        id, for row-bound columns): what ORM instances call when an attribute is first
        read. Same short paths and the same fallback to the checked path."""
        if self.row_bound:
            return self.row_opener()  # type: ignore[return-value]
        decode, open_, lookup = self._fast_decoder(), self.open, self._fast_lookup

        def open_unbound(envelope: bytes, tenant_id: uuid.UUID, row_id: uuid.UUID | None) -> T:
            if type(envelope) is bytes:
                hit = lookup(tenant_id.int, envelope[:18])
                if hit is not None:
                    try:
                        return decode(hit[0](envelope[18:30], envelope[30:], hit[1]))
                    except (InvalidTag, UnicodeDecodeError, ValueError, IndexError):
                        pass  # the checked path names what failed
            return open_(envelope, tenant_id=tenant_id, row_id=None)

        return open_unbound

    def _fast_decoder(self) -> Callable[[bytes], T]:
        """Type tag check and decoding in one call; raises ValueError on a wrong tag."""
        tag, decode = self.tag, self.decode

        def fast(plaintext: bytes) -> T:
            if plaintext[0] != tag:
                raise ValueError("type tag")
            return decode(plaintext[1:])

        return fast

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if type(value) is not bytes:
            value = bytes(value)
        if self.row_bound:
            return Ciphertext(value)
        ctx = current_context()
        if ctx is None or ctx.tenant_id is None:
            raise TenantContextMissing(f"reading {self.where} needs a tenant context")
        return self.open(value, tenant_id=ctx.tenant_id, row_id=None)

    class comparator_factory(TypeDecorator.Comparator[Any]):  # SQLAlchemy's hook name
        def matches(self, value: str) -> ColumnElement[bool]:
            """Exact match through the blind index (the firm in context at execution)."""
            type_ = self.type
            assert isinstance(type_, EncryptedType)
            name = type_.blind_index_column
            if name is None:
                raise ConfigurationError(f"{type_.where} has no blind index to search")
            index_column = self.expr.table.c[name]  # type: ignore[attr-defined]
            return index_column == bindparam(
                None, type_=LargeBinary(), unique=True, callable_=partial(_lookup, type_, value)
            )


def _lookup(type_: EncryptedType[Any], value: str) -> bytes:
    """The blind index to search for, computed at execution (keys load at BEGIN).

    A firm whose keys were destroyed, or a value with nothing left after normalization,
    gets a value no index equals (indexes are 33 bytes): the lookup finds nothing.
    """
    tenant_id = runtime.context_tenant(f"searching {type_.where}")
    try:
        return type_.index(value, tenant_id=tenant_id) or b""
    except (KeyDestroyed, ValidationError):
        return b""


class EncryptedText(EncryptedType[str]):
    """Encrypted ``str`` of any length."""

    cache_ok = True  # SQLAlchemy reads it from each class's own namespace
    tag = TAG_TEXT

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise ValidationError(f"{self.where} takes str, not {type(value).__name__}")
        try:
            return bytes((self.tag,)) + value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(f"{self.where}: the value is not valid Unicode text") from None

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")

    def _fast_decoder(self) -> Callable[[bytes], str]:
        tag = self.tag

        def fast(plaintext: bytes) -> str:
            if plaintext[0] != tag:
                raise ValueError("type tag")
            return plaintext[1:].decode()

        return fast


class EncryptedString(EncryptedText):
    """Encrypted short ``str`` (names a different intent; stored the same way)."""

    cache_ok = True


class EncryptedJSON(EncryptedType[Any]):
    """Encrypted JSON document (dict, list, str, number, bool). Assign a new value to
    change it: in-place mutation is not tracked, as with a plain JSON column."""

    cache_ok = True
    tag = TAG_JSON

    def encode(self, value: Any) -> bytes:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            return bytes((self.tag,)) + text.encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError):
            raise ValidationError(f"{self.where}: the value is not serializable JSON") from None

    def decode(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))


class EncryptedDate(EncryptedType[dt.date]):
    """Encrypted calendar date (``datetime.date``, not ``datetime``)."""

    cache_ok = True
    tag = TAG_DATE

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ValidationError(f"{self.where} takes datetime.date, not {type(value).__name__}")
        return bytes((self.tag,)) + value.isoformat().encode("ascii")

    def decode(self, data: bytes) -> dt.date:
        return dt.date.fromisoformat(data.decode("ascii"))


# -- binding names and constraints at table attach -------------------------------------------


def envelope_check_sql(column: str) -> str:
    """NULL, or at least a version-1 AES-256-GCM envelope: refuses plain text in SQL too."""
    return (
        f"{column} IS NULL OR (octet_length({column}) >= {MIN_ENVELOPE_LEN}"
        f" AND get_byte({column}, 0) = 1 AND get_byte({column}, 1) = 1)"
    )


def blind_index_check_sql(column: str, index_column: str) -> str:
    """A value and its blind index exist together, and the index has the right length."""
    return (
        f"({column} IS NULL) = ({index_column} IS NULL)"
        f" AND ({index_column} IS NULL OR octet_length({index_column}) = {BLIND_INDEX_LEN})"
    )


@event.listens_for(Column, "after_parent_attach")
def _bind_to_table(column: Column[Any], table: Any) -> None:
    type_ = column.type
    if not isinstance(type_, EncryptedType) or not isinstance(table, Table):
        return
    bound = type_.bound_to(table.name, column.name)
    column.type = bound
    table.append_constraint(
        CheckConstraint(envelope_check_sql(column.name), name=f"{column.name}_envelope")
    )
    if bound.blind_index_column is not None:
        table.append_constraint(
            CheckConstraint(
                blind_index_check_sql(column.name, bound.blind_index_column),
                name=f"{column.name}_blind_index",
            )
        )


@event.listens_for(Engine, "handle_error")
def _typed_errors(context: ExceptionContext) -> None:
    """A refusal raised while SQLAlchemy prepares parameters (a plain value, no tenant
    context, a destroyed key) reaches the caller as itself, not wrapped in a
    ``StatementError`` whose message would also print the SQL."""
    original = context.original_exception
    if isinstance(original, LegalDataError) and not isinstance(original, DBAPIError):
        raise original


# Registers the unit-of-work hooks that seal and open values of ORM instances, and puts
# the table these columns' keys live in (tenant_keys) on the models' metadata. Imported
# last: both modules import this one.
from legal_data.crypto import orm as _orm  # noqa: E402, F401
from legal_data.models import keys as _keys_table  # noqa: E402, F401
