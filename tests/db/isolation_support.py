"""Shared machinery of the tenant-isolation suites (imported explicitly, not a conftest).

- which tables are tenant-scoped, generated from ``legal_data.models.Base.metadata``;
- the canary registry: for every tenant-scoped table a builder that creates one valid
  row for the tenant in context (factory-boy factories where they exist, explicit
  builders below otherwise). A table without a builder fails
  ``test_every_tenant_table_has_a_canary_builder``, so new tables cannot silently
  escape the isolation matrix;
- ``mirror_row``: copy another tenant's row (and, first, the rows its tenant foreign
  keys point at) into the current tenant with the same ids and values, through the
  app role. Used to prove that unique values and ids never collide across firms;
- small helpers to run one transaction for one firm.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Table, and_, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

import legal_data.testing.factories as factories_pkg
from legal_data.models import (
    AccessToken,
    Base,
    CaseStatus,
    GlobalTable,
    TenantCounter,
    User,
    UserSession,
)
from legal_data.tenancy import tenant_scope
from legal_data.testing.factories import CaseFactory, UserFactory, bind_session
from legal_data.testing.factories.base import FactoryBase, context_tenant
from legal_data.testing.plugin import TEST_ACTOR

TENANTS = "tenants"
TENANT_COLUMN = "tenant_id"

# -- the schema, from the metadata --------------------------------------------------


def model_for(table: Table | str) -> type | None:
    name = table if isinstance(table, str) else table.name
    for mapper in Base.registry.mappers:
        if mapper.local_table.name == name:
            return mapper.class_
    return None


#: The audit trail: tenant-scoped, but written only by database triggers and functions
#: (the app role has SELECT and nothing else), so the write checks of the matrix do not
#: apply; tests/db/test_audit_isolation.py covers these tables' reads and refused writes.
APPEND_ONLY = frozenset({"audit_logs", "audit_seals", "security_events"}) | frozenset(
    # Conflict-check name keys: derived from parties by triggers, SELECT only for the app;
    # tests/db/test_conflicts_isolation.py covers their reads and refused writes.
    {"party_name_keys", "party_name_grams"}
)
#: Wrapped data keys: the app role may only read its firm's keys and create its first ones
#: (SELECT, INSERT), so the write checks do not apply either;
#: tests/db/test_crypto_keys_isolation.py covers this table.
KEYS_ONLY_READ_AND_CREATE = frozenset({"tenant_keys"})


def tenant_tables() -> list[Table]:
    """Every table with a ``tenant_id`` column the app writes, in dependency order."""
    return [
        t
        for t in Base.metadata.sorted_tables
        if TENANT_COLUMN in t.c and t.name not in APPEND_ONLY | KEYS_ONLY_READ_AND_CREATE
    ]


def isolation_tables() -> list[Table]:
    """``tenants`` (keyed by ``id``) plus every tenant-scoped table."""
    return [Base.metadata.tables[TENANTS], *tenant_tables()]


def unclassified_tables() -> list[str]:
    """Tables that are neither tenant-scoped, ``tenants``, nor a declared global table."""
    out = []
    for t in Base.metadata.sorted_tables:
        model = model_for(t)
        if t.name == TENANTS or TENANT_COLUMN in t.c or t.name in APPEND_ONLY:
            continue
        if model is None or not issubclass(model, GlobalTable):
            out.append(t.name)
    return out


def tenant_key_column(table: Table) -> Column:
    """The column RLS compares with the current tenant."""
    return table.c.id if table.name == TENANTS else table.c[TENANT_COLUMN]


def tenant_fks(table: Table) -> list[ForeignKeyConstraint]:
    """Foreign keys from ``table`` to other tenant-scoped tables (not ``tenant_id -> tenants``)."""
    out = []
    for fk in sorted(table.foreign_key_constraints, key=lambda f: f.name or ""):
        target = fk.referred_table
        if target.name == TENANTS and fk.column_keys == [TENANT_COLUMN]:
            continue
        if target.name == TENANTS or TENANT_COLUMN in target.c:
            out.append(fk)
    return out


def pk_of(table: Table, row: Any) -> dict[str, Any]:
    """The primary key of ``row`` (ORM instance or mapping) as ``{column name: value}``."""
    if isinstance(row, dict):
        return {c.name: row[c.name] for c in table.primary_key.columns}
    return {c.name: getattr(row, c.key) for c in table.primary_key.columns}


def match(table: Table, key: dict[str, Any]) -> Any:
    return and_(*(table.c[name] == value for name, value in key.items()))


def insertable(column: Column) -> bool:
    return column.computed is None and column.identity is None


def quoted(conn: Connection | Session, table: Table) -> str:
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    return dialect.identifier_preparer.format_table(table)


# -- canary builders ----------------------------------------------------------------

Builder = Callable[[Session], Any]
"""Creates one valid row of a table for the tenant in context and returns it (flushed).

Called inside ``tenant_scope(...)`` with the factories bound to the session."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tenant_counter(session: Session) -> TenantCounter:
    row = TenantCounter(tenant_id=context_tenant(), name=f"canary-{uuid.uuid4().hex[:12]}", value=7)
    session.add(row)
    session.flush()
    return row


def _user_session(session: Session) -> UserSession:
    user: User = UserFactory()
    row = UserSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        token_hash=os.urandom(32),
        expires_at=_now() + dt.timedelta(days=1),
        client_ip="192.0.2.10",
        user_agent="canary",
    )
    session.add(row)
    session.flush()
    return row


def _access_token(session: Session) -> AccessToken:
    user: User = UserFactory()
    row = AccessToken(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name="canary token",
        token_hash=os.urandom(32),
        scopes=["cases:read"],
        expires_at=_now() + dt.timedelta(days=30),
    )
    session.add(row)
    session.flush()
    return row


def _case_status(session: Session) -> CaseStatus:
    # Status rows are written by a trigger on cases: the canary is the one a new case gets.
    case = CaseFactory()
    session.flush()
    return session.scalars(select(CaseStatus).where(CaseStatus.case_id == case.id)).one()


def _search_row(kind: str) -> Builder:
    # Index rows are written by the search indexer from a source row (it runs again at
    # commit and keeps the row's id: an upsert on the entity and chunk number).
    def build(session: Session) -> Any:
        from legal_data.search.indexer import index_entities, kind_spec
        from legal_data.testing.factories import CommunicationFactory, DocumentFactory

        if kind == "document":
            source = DocumentFactory(title="検索の見本")
        elif kind == "case":
            source = CaseFactory(title="検索の見本")
        else:
            source = CommunicationFactory(subject="検索の見本")
        session.flush()
        index_entities(session, kind, [source.id])
        table, entity = kind_spec(kind)
        model = model_for(table)
        return session.scalars(
            select(model).where(getattr(model, entity) == source.id)  # type: ignore[arg-type]
        ).one()

    build.__name__ = f"search_row({kind})"
    return build


def _search_queue_entry(session: Session) -> Any:
    # A queue entry for an entity that is not there: nothing drains it at this commit.
    from legal_data.models import SearchQueueEntry

    row = SearchQueueEntry(tenant_id=context_tenant(), kind="case", entity_id=uuid.uuid4())
    session.add(row)
    session.flush()
    return row


#: Tables without a factory of their own. Add an entry here (or a factory in
#: ``legal_data.testing.factories``) when a new tenant-scoped table is created.
EXPLICIT_BUILDERS: dict[str, Builder] = {
    "tenant_counters": _tenant_counter,
    "user_sessions": _user_session,
    "access_tokens": _access_token,
    "case_statuses": _case_status,
    "search_documents": _search_row("document"),
    "search_cases": _search_row("case"),
    "search_communications": _search_row("communication"),
    "search_queue": _search_queue_entry,
}


def _all_factories() -> list[type]:
    for info in pkgutil.walk_packages(factories_pkg.__path__, factories_pkg.__name__ + "."):
        importlib.import_module(info.name)
    found: list[type] = []
    todo = list(FactoryBase.__subclasses__())
    while todo:
        cls = todo.pop(0)
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [f for f in found if not f._meta.abstract and f._meta.model is not None]


def factory_for(model: type) -> type | None:
    """The factory of ``model``: ``<Model>Factory`` if it exists, else the first declared."""
    candidates = [f for f in _all_factories() if f._meta.model is model]
    for f in candidates:
        if f.__name__ == f"{model.__name__}Factory":
            return f
    return candidates[0] if candidates else None


def canary_builder(table: Table | str) -> Builder | None:
    """The model's factory if there is one, else an entry of :data:`EXPLICIT_BUILDERS`."""
    name = table if isinstance(table, str) else table.name
    model = model_for(name)
    factory = factory_for(model) if model is not None else None
    if factory is None:
        return EXPLICIT_BUILDERS.get(name)

    def build(session: Session) -> Any:
        obj = factory()
        session.flush()
        return obj

    build.__name__ = f"{factory.__name__}()"
    return build


def build_canary(sessions: sessionmaker, table: Table, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Create and commit one canary row of ``table`` for ``tenant_id`` through the app role.

    Returns its primary key."""
    builder = canary_builder(table)
    if builder is None:
        raise LookupError(
            f"no canary builder for tenant table {table.name!r}: add a factory to "
            "legal_data.testing.factories or an entry to EXPLICIT_BUILDERS in "
            "tests/db/isolation_support.py"
        )
    with tenant_tx(sessions, tenant_id, commit=True) as s:
        obj = builder(s)
        if getattr(obj, "__table__", None) is not table:
            raise TypeError(f"builder for {table.name} returned {obj!r}")
        return pk_of(table, obj)


# -- transactions and rows ------------------------------------------------------------


@contextmanager
def tenant_tx(
    sessions: sessionmaker, tenant_id: uuid.UUID, *, commit: bool = False, **context: Any
) -> Iterator[Session]:
    """One transaction of a tenant session for ``tenant_id``, factories bound to it.

    Rolled back at the end unless ``commit``; always rolled back on an exception. Writes
    are the test actor's unless ``context`` names another (the audit trail needs one)."""
    context.setdefault("user_id", TEST_ACTOR)
    with tenant_scope(tenant_id, **context), sessions() as s:
        s.begin()
        try:
            with bind_session(s):
                yield s
            if commit:
                s.commit()
        finally:
            if s.in_transaction():
                s.rollback()


def read_row(conn: Connection | Session, table: Table, key: dict[str, Any]) -> dict[str, Any]:
    return dict(conn.execute(select(table).where(match(table, key))).mappings().one())


def count_rows(conn: Connection | Session, table: Table, *where: Any) -> int:
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def has_privilege(session: Session, table: Table, privilege: str) -> bool:
    return session.execute(
        text("SELECT has_table_privilege(current_user, :t, :p)"),
        {"t": table.name, "p": privilege},
    ).scalar_one()


def mirror_parents(
    session: Session,
    admin: Connection,
    table: Table,
    row: dict[str, Any],
    tenant_id: uuid.UUID,
    *,
    skip_fk: ForeignKeyConstraint | None = None,
    memo: set[Any] | None = None,
) -> None:
    """Mirror into ``tenant_id`` the rows that ``row``'s tenant foreign keys point at."""
    memo = set() if memo is None else memo
    for fk in tenant_fks(table):
        if fk is skip_fk:
            continue
        parent_key = {el.column.name: row[el.parent.name] for el in fk.elements}
        if any(v is None for v in parent_key.values()):
            continue
        marker = (fk.referred_table.name, tuple(sorted((k, str(v)) for k, v in parent_key.items())))
        if marker in memo:
            continue
        memo.add(marker)
        mirror_row(session, admin, fk.referred_table, parent_key, tenant_id, memo=memo)


def mirror_row(
    session: Session,
    admin: Connection,
    table: Table,
    key: dict[str, Any],
    tenant_id: uuid.UUID,
    *,
    skip_fk: ForeignKeyConstraint | None = None,
    memo: set[Any] | None = None,
) -> dict[str, Any]:
    """Insert, through ``session`` (the app role in ``tenant_id``'s context), a copy of
    another firm's row ``key`` of ``table`` with the same ids and values.

    The rows its tenant foreign keys point at are mirrored first (same ids), except
    for ``skip_fk``, which is left pointing at the other firm's row. Returns the
    values inserted."""
    row = read_row(admin, table, key)
    mirror_parents(session, admin, table, row, tenant_id, skip_fk=skip_fk, memo=memo)
    values = copy_values(table, row, tenant_id)
    session.execute(insert(table).values(values))
    return values


def copy_values(table: Table, row: dict[str, Any], tenant_id: uuid.UUID) -> dict[str, Any]:
    """The insertable values of ``row`` with the tenant column set to ``tenant_id``."""
    values = {c.name: row[c.name] for c in table.columns if insertable(c)}
    values[tenant_key_column(table).name] = tenant_id
    return values


def fresh_pk(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every uuid primary-key column except the tenant column renewed."""
    out = dict(values)
    tenant_col = tenant_key_column(table).name
    for c in table.primary_key.columns:
        if c.name != tenant_col and isinstance(out.get(c.name), uuid.UUID):
            out[c.name] = uuid.uuid4()
    return out
