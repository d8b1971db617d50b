"""Unit-of-work hooks: seal ORM attribute values at flush, open row-bound ones at load.

Why at this level: a row-bound value is bound to its row id, which a column type never
sees, and a blind index must change together with its value. So for every mapper with
encrypted columns:

- ``before_insert``/``before_update`` seal each new or changed plaintext with the row's
  firm (and id: assigned here if still unset) and set its blind index; the attribute
  briefly holds a sealed value, which ``after_insert``/``after_update`` replace with the
  plaintext again (as does a rollback of a failed flush), so the application only ever
  sees its own values;
- ``load``/``refresh`` replace the opaque :class:`~legal_data.crypto.types.Ciphertext`
  of row-bound columns with the plaintext, using the loaded row's firm and id.

Sealing and opening need the firm of the row to be the firm in context: keys are
loaded per firm, and a tenant session acts for one firm only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Mapper, Session, attributes
from sqlalchemy.orm.state import InstanceState

from legal_data.crypto import runtime
from legal_data.crypto.types import (  # defined before it imports us
    Ciphertext,
    EncryptedType,
    _Sealed,
)
from legal_data.errors import TenantContextMissing, TenantMismatch
from legal_data.ids import new_id
from legal_data.tenancy.context import current_context

_PENDING = "legal_data.crypto.sealed_states"


@dataclass(frozen=True, slots=True)
class EncryptedAttribute:
    key: str
    type: EncryptedType[Any]
    index_key: str | None


@dataclass(frozen=True, slots=True)
class _Spec:
    attributes: tuple[EncryptedAttribute, ...]
    #: (attribute key, opener) of the row-bound columns, opened at load.
    openers: tuple[tuple[str, Callable[[bytes, uuid.UUID, uuid.UUID], Any]], ...]


_specs: dict[Mapper[Any], _Spec] = {}


def spec_of(mapper: Mapper[Any]) -> _Spec | None:
    for m in mapper.iterate_to_root():
        found = _specs.get(m)
        if found is not None:
            return found
    return None


@event.listens_for(Mapper, "mapper_configured")
def _register(mapper: Mapper[Any], cls: type) -> None:
    found = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if isinstance(column.type, EncryptedType) and mapper.local_table is column.table:
            index = column.type.blind_index_column
            index_key = None
            if index is not None:
                index_key = mapper.get_property_by_column(column.table.c[index]).key
            found.append(EncryptedAttribute(prop.key, column.type, index_key))
    if not found:
        return
    spec = _Spec(
        tuple(found), tuple((a.key, a.type.row_opener()) for a in found if a.type.row_bound)
    )
    _specs[mapper] = spec
    event.listen(mapper, "before_insert", _before_insert)
    event.listen(mapper, "before_update", _before_update)
    event.listen(mapper, "after_insert", _restore)
    event.listen(mapper, "after_update", _restore)
    if spec.openers:

        def on_load(state: InstanceState[Any], context: Any) -> None:
            _open(state, None, spec)

        def on_refresh(state: InstanceState[Any], context: Any, keys: Any) -> None:
            _open(state, keys, spec)

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


def _open(state: InstanceState[Any], keys: Any, spec: _Spec) -> None:
    # Runs for every loaded instance: everything a closure can look up once, it did.
    d = state.dict
    tenant_id = row_id = None
    for key, opener in spec.openers:
        value = d.get(key)
        if type(value) is not Ciphertext or (keys is not None and key not in keys):
            continue
        if tenant_id is None:
            tenant_id, row_id = _reading_firm(state, d), d.get("id")
        d[key] = opener(value.envelope, tenant_id, row_id)


def _reading_firm(state: InstanceState[Any], d: dict[str, Any]) -> uuid.UUID:
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None:
        raise TenantContextMissing(f"reading {state.class_.__name__} needs a tenant context")
    tenant_id = d.get("tenant_id")
    if tenant_id is None or ctx.tenant_id.int != tenant_id.int:
        raise TenantMismatch(
            f"{state.class_.__name__} of tenant {tenant_id} is read in the context of tenant "
            f"{ctx.tenant_id}: values are opened only for the firm in context"
        )
    return tenant_id
