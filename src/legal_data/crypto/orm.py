"""Unit-of-work hooks: seal ORM attribute values at flush, open row-bound ones at load.

Why at this level: a row-bound value is bound to its row id, which a column type never
sees, and a blind index must change together with its value. So for every mapper with
encrypted columns:

- ``before_insert``/``before_update`` seal each new or changed plaintext with the row's
  firm (and id: assigned here if still unset) and set its blind index; the attribute
  briefly holds a sealed value, which ``after_insert``/``after_update`` replace with the
  plaintext again (as does a rollback of a failed flush), so the application only ever
  sees its own values;
- reading is lazy: an entity query loads each encrypted column's envelope into a hidden
  attribute (``_sealed_<name>``, a ``column_property`` of the same column read as
  ``bytea``) while the encrypted attribute itself is ``deferred``; the ``load``/``refresh``
  events install a per-instance loader, and the first access of the attribute opens the
  envelope (with the row's firm, and id for row-bound columns) and keeps the plaintext.
  A list of 1,000 parties therefore costs nothing for the My Numbers nobody looks at,
  and plaintext exists in memory only for the values used.

At load the row's firm must be the firm in context, and every envelope's key must be
one the firm can decrypt with: an unknown or destroyed key is refused at load, as before
(:class:`~legal_data.errors.KeyDestroyed` and friends); a value whose authentication
fails is refused when it is read (:class:`~legal_data.errors.AuthenticationFailed`).
Sealing and opening need the firm of the row to be the firm in context: keys are
loaded per firm, and a tenant session acts for one firm only.

Why not decrypt in the column type for entities too: SQLAlchemy processes every value of
a row when the row is built, so a type cannot defer work; AES-GCM of five values costs
about half of what loading a plaintext row does (``perf/crypto_orm_load.py``). Core and
column queries (``select(Party.email)``) still decrypt in the type: they ask for the value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, LargeBinary, event, type_coerce
from sqlalchemy.orm import ColumnProperty, Mapper, Session, attributes, column_property
from sqlalchemy.orm.base import LoaderCallableStatus, PassiveFlag
from sqlalchemy.orm.state import InstanceState

from legal_data.crypto import runtime
from legal_data.crypto.types import (  # defined before it imports us
    Ciphertext,
    EncryptedType,
    _Sealed,
)
from legal_data.errors import ConfigurationError, TenantContextMissing, TenantMismatch
from legal_data.ids import new_id
from legal_data.tenancy.context import current_context

_PENDING = "legal_data.crypto.sealed_states"
#: The hidden attribute holding an encrypted attribute's envelope as loaded.
SEALED_PREFIX = "_sealed_"


@dataclass(frozen=True, slots=True)
class EncryptedAttribute:
    key: str
    type: EncryptedType[Any]
    index_key: str | None


@dataclass(frozen=True, slots=True)
class _Spec:
    attributes: tuple[EncryptedAttribute, ...]
    #: (attribute key, hidden envelope key, type) of every encrypted attribute.
    lazy: tuple[tuple[str, str, EncryptedType[Any]], ...]
    #: attribute key -> its per-instance loader, copied into each loaded instance's state.
    loaders: dict[str, Callable[[InstanceState[Any], PassiveFlag], Any]]


_specs: dict[Mapper[Any], _Spec] = {}


def spec_of(mapper: Mapper[Any]) -> _Spec | None:
    for m in mapper.iterate_to_root():
        found = _specs.get(m)
        if found is not None:
            return found
    return None


def _encrypted_props(mapper: Mapper[Any]) -> list[ColumnProperty[Any]]:
    # iterate_properties, not column_attrs: the latter configures every mapper, which
    # cannot happen while models are still being declared.
    return [
        prop
        for prop in mapper.iterate_properties
        if isinstance(prop, ColumnProperty)
        and isinstance(prop.columns[0], Column)
        and isinstance(prop.columns[0].type, EncryptedType)
        and mapper.local_table is prop.columns[0].table
    ]


@event.listens_for(Mapper, "after_mapper_constructed")
def _add_envelope_attributes(mapper: Mapper[Any], cls: type) -> None:
    for prop in _encrypted_props(mapper):
        if not prop.deferred:
            raise ConfigurationError(
                f"{cls.__name__}.{prop.key} is encrypted: map it with "
                "mapped_column(..., deferred=True) so entity loads carry its envelope and "
                "open it on first access (legal_data.crypto.orm)"
            )
        column = prop.columns[0]
        # Read as plain bytea: no processing while the row is built.
        mapper.add_property(
            SEALED_PREFIX + prop.key,
            column_property(type_coerce(column, LargeBinary()), expire_on_flush=True),
        )


@event.listens_for(Mapper, "mapper_configured")
def _register(mapper: Mapper[Any], cls: type) -> None:
    found = []
    for prop in _encrypted_props(mapper):
        column = prop.columns[0]
        index = column.type.blind_index_column
        index_key = None
        if index is not None:
            index_key = mapper.get_property_by_column(column.table.c[index]).key
        found.append(EncryptedAttribute(prop.key, column.type, index_key))
    if not found:
        return
    lazy = tuple((a.key, SEALED_PREFIX + a.key, a.type) for a in found)
    spec = _Spec(tuple(found), lazy, {key: _loader(key, sealed, t) for key, sealed, t in lazy})
    _specs[mapper] = spec
    event.listen(mapper, "before_insert", _before_insert)
    event.listen(mapper, "before_update", _before_update)
    event.listen(mapper, "after_insert", _restore)
    event.listen(mapper, "after_update", _restore)

    def on_load(state: InstanceState[Any], context: Any) -> None:
        _arm(state, spec)

    def on_refresh(state: InstanceState[Any], context: Any, keys: Any) -> None:
        _arm(state, spec)

    # raw=True: the state as is, without SQLAlchemy wrapping each call per instance.
    event.listen(cls, "load", on_load, raw=True)
    event.listen(cls, "refresh", on_refresh, raw=True)


# -- writing ---------------------------------------------------------------------------------


def _firm(state: InstanceState[Any], action: str) -> uuid.UUID:
    tenant_id = state.dict.get("tenant_id")
    in_context = runtime.context_tenant(f"{action} {state.class_.__name__}")
    if tenant_id != in_context:
        raise TenantMismatch(
            f"{state.class_.__name__} of tenant {tenant_id} is written in the context of "
            f"tenant {in_context}: values are sealed only for the firm in context"
        )
    return in_context


def _seal(
    mapper: Mapper[Any], connection: Connection, target: Any, changed: list[EncryptedAttribute]
) -> None:
    state = attributes.instance_state(target)
    d = state.dict
    plain = [a for a in changed if d.get(a.key) is not None and type(d[a.key]) is not Ciphertext]
    for attr in changed:
        if attr.index_key is not None and d.get(attr.key) is None:
            setattr(target, attr.index_key, None)
    if not plain:
        return
    tenant_id = _firm(state, "sealing values of")
    if any(a.type.row_bound for a in plain) and d.get("id") is None:
        target.id = new_id()  # the row id is part of what row-bound values are sealed to
    row_id = d.get("id")
    runtime.keyring(tenant_id, connection)  # loads the keys through this flush's connection
    key = runtime.active_key(tenant_id, "encryption", connection)
    for attr in plain:
        value = d[attr.key]
        if attr.index_key is not None:
            setattr(target, attr.index_key, attr.type.index(value, tenant_id=tenant_id))
        envelope = attr.type.seal(
            value, tenant_id=tenant_id, row_id=row_id if attr.type.row_bound else None, key=key
        )
        d[attr.key] = _Sealed(envelope, value)
    session = state.session
    if session is not None:
        session.info.setdefault(_PENDING, []).append(state)


def _before_insert(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    spec = spec_of(mapper)
    if spec is not None:
        d = attributes.instance_dict(target)
        _seal(mapper, connection, target, [a for a in spec.attributes if a.key in d])


def _before_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    spec = spec_of(mapper)
    if spec is None:
        return
    state = attributes.instance_state(target)
    committed = state.committed_state
    changed = [
        a
        for a in spec.attributes
        if a.key in committed
        and state.manager[a.key].impl.is_equal(state.dict.get(a.key), committed[a.key]) is not True
    ]
    if changed:
        _seal(mapper, connection, target, changed)


def _restore_state(state: InstanceState[Any]) -> None:
    d = state.dict
    for key, value in list(d.items()):
        if type(value) is _Sealed:
            d[key] = value.plain


def _restore(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    _restore_state(attributes.instance_state(target))


@event.listens_for(Session, "after_flush_postexec")
def _flushed(session: Session, flush_context: Any) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: Any) -> None:
    # A failed flush skips after_insert/after_update: give the objects their values back.
    for state in session.info.pop(_PENDING, ()):
        _restore_state(state)


# -- reading ---------------------------------------------------------------------------------


def _arm(state: InstanceState[Any], spec: _Spec) -> None:
    """After a load or refresh: check the row's envelopes can be opened here, and give the
    instance the loaders that open them on first access. Runs for every loaded instance."""
    d = state.dict
    ring = tenant_id = None
    armed = False
    for key, sealed, type_ in spec.lazy:
        value = d.get(key)
        if type(value) is Ciphertext:
            # A row-bound column loaded as a column (undefer, refresh of that attribute):
            # the type could not know the row; open it now.
            tenant_id = tenant_id or _reading_firm(state, d)
            row_id = _identity(state, d, "id")
            attributes.set_committed_value(
                state.obj(), key, type_.open(value.envelope, tenant_id=tenant_id, row_id=row_id)
            )
            continue
        if sealed not in d:
            continue
        armed = True
        envelope = d[sealed]
        if envelope is None or key in d:
            continue
        if ring is None:
            tenant_id = tenant_id or _reading_firm(state, d)
            ring = runtime.ring_of(tenant_id.int) or runtime.keyring(tenant_id)
        if type(envelope) is not bytes:
            envelope = d[sealed] = bytes(envelope)
        if ring.cipher_for(envelope[2:18]) is None:
            # An unknown, retired or destroyed key, or no envelope at all: the checked path
            # raises the precise error now rather than at some later attribute access.
            row_id = d.get("id") if type_.row_bound else None
            attributes.set_committed_value(
                state.obj(), key, type_.open(envelope, tenant_id=tenant_id, row_id=row_id)
            )
    if not armed:
        return
    if "callables" not in state.__dict__:
        state.callables = dict(spec.loaders)
    else:
        state.callables.update(spec.loaders)


def _loader(
    key: str, sealed: str, type_: EncryptedType[Any]
) -> Callable[[InstanceState[Any], PassiveFlag], Any]:
    row_bound, open_ = type_.row_bound, type_.opener()

    def load(state: InstanceState[Any], passive: PassiveFlag) -> Any:
        d = state.dict
        try:
            envelope, tenant_id = d[sealed], d["tenant_id"]
            row_id = d["id"] if row_bound else None
        except KeyError:
            # The envelope was not loaded with the row (load_only, expired): SQL, and the
            # column type opens the value for the firm in context.
            return state.manager[key].impl.callable_(state, passive)
        # Stored straight into the instance (what SQLAlchemy's own deferred loader does,
        # answering ATTR_WAS_SET): the value is the committed one, nothing to record.
        d[key] = None if envelope is None else open_(envelope, tenant_id, row_id)
        return LoaderCallableStatus.ATTR_WAS_SET

    return load


def _reading_firm(state: InstanceState[Any], d: dict[str, Any]) -> uuid.UUID:
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing(f"reading {state.class_.__name__} needs a tenant context")
    tenant_id = _identity(state, d, "tenant_id")
    if tenant_id is None or ctx.tenant_id.int != tenant_id.int:
        raise TenantMismatch(
            f"{state.class_.__name__} of tenant {tenant_id} is read in the context of tenant "
            f"{ctx.tenant_id}: values are opened only for the firm in context"
        )
    return tenant_id


def _identity(state: InstanceState[Any], d: dict[str, Any], name: str) -> Any:
    """``tenant_id`` or ``id`` of the row: from the instance, or from its identity key
    when only some attributes were (re)loaded."""
    value = d.get(name)
    if value is None and state.key is not None:
        names = [c.key for c in state.mapper.primary_key]
        if name in names:
            value = state.key[1][names.index(name)]
    return value
