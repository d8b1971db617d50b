"""The cross-tenant isolation matrix, generated from the metadata.

For EVERY tenant-scoped table (a ``tenant_id`` column) and for ``tenants`` itself
(keyed by ``id``), with canary rows of firms A and B, acting as A through the app role:

- ORM queries, ``Session.get``, relationships (lazy, ``selectinload``, joins), Core
  ``select`` and ``text()`` SQL show A's rows and none of B's;
- bulk ``update()``/``delete()`` aimed at B's rows affect 0 rows; an unfiltered
  ``update()`` touches exactly A's rows;
- writing a row with B's ``tenant_id`` (INSERT, UPDATE, ORM flush) is refused
  (:class:`RowLevelSecurityViolation`);
- pointing a tenant foreign key at B's row is refused (:class:`ForeignKeyViolation`);
- B's unique values and ids (copied row for row, parents included) do not collide for A;
- ``INSERT ... ON CONFLICT`` never touches or reveals B's row;
- ``TRUNCATE`` is refused (:class:`PermissionDenied`).

Guards keep the matrix complete: every tenant table needs a canary builder (a factory
or an entry in ``isolation_support.EXPLICIT_BUILDERS``), every mapped table is either
tenant-scoped or a declared global table, and no relation with a ``tenant_id`` that the
app role can reach exists outside the metadata (SQL-only tables, partitions, views).

Each table gets its own pair of firms and three canaries (A1, B1 and a spare B2 used by
the write tests), built lazily once per module through the app role and the factories
(``tenant_a``/``tenant_b`` are per test; ~30 tables x 10 checks would pay a truncate per
check). Every check runs in a transaction that is rolled back, so checks cannot disturb
each other; the module truncates everything at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from isolation_support import (
    APPEND_ONLY,
    KEYS_ONLY_READ_AND_CREATE,
    TENANTS,
    build_canary,
    canary_builder,
    copy_values,
    count_rows,
    fresh_pk,
    has_privilege,
    isolation_tables,
    match,
    mirror_parents,
    mirror_row,
    model_for,
    pk_of,
    quoted,
    read_row,
    tenant_fks,
    tenant_key_column,
    tenant_tables,
    tenant_tx,
    unclassified_tables,
)
from sqlalchemy import Table, delete, inspect, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import RelationshipDirection, selectinload

from legal_data.errors import (
    ForeignKeyViolation,
    LegalDataError,
    PermissionDenied,
    RowLevelSecurityViolation,
)
from legal_data.models import Base
from legal_data.testing.harness import Harness
from legal_data.testing.plugin import make_tenant

# -- parametrization from the metadata ----------------------------------------------


def _relationship_cases() -> list[tuple[type, str]]:
    out = []
    for mapper in sorted(Base.registry.mappers, key=lambda m: m.class_.__name__):
        if not (mapper.local_table.name == TENANTS or "tenant_id" in mapper.local_table.c):
            continue
        for rel in mapper.relationships:
            out.append((mapper.class_, rel.key))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "table_name" in metafunc.fixturenames:
        names = [t.name for t in isolation_tables()]
        metafunc.parametrize("table_name", names, ids=names)
    if "tenant_table_name" in metafunc.fixturenames:
        names = [t.name for t in tenant_tables()]
        metafunc.parametrize("tenant_table_name", names, ids=names)
    if "fk_case" in metafunc.fixturenames:
        cases = [(t.name, fk.name) for t in tenant_tables() for fk in tenant_fks(t)]
        metafunc.parametrize("fk_case", cases, ids=[f"{t}:{fk}" for t, fk in cases])
    if "relationship_case" in metafunc.fixturenames:
        cases = _relationship_cases()
        metafunc.parametrize(
            "relationship_case", cases, ids=[f"{m.__name__}.{k}" for m, k in cases]
        )


# -- the worlds: per table, firms A and B with canaries -------------------------------


@dataclass
class World:
    table: Table
    a: uuid.UUID
    b: uuid.UUID
    a1: dict[str, Any]  # primary key of A's canary
    b1: dict[str, Any]  # B's canary, read by the checks
    b2: dict[str, Any] | None  # B's spare canary, copied by the write checks
    model: type = field(init=False)

    def __post_init__(self) -> None:
        self.model = model_for(self.table)


class Worlds:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self._built: dict[str, World | BaseException] = {}

    def get(self, table_name: str) -> World:
        if table_name not in self._built:
            try:
                self._built[table_name] = self._build(Base.metadata.tables[table_name])
            except Exception as exc:  # reported by every test of the table
                self._built[table_name] = exc
        got = self._built[table_name]
        if isinstance(got, BaseException):
            pytest.fail(f"could not build canaries for {table_name}: {got!r}", pytrace=False)
        return got

    def _build(self, table: Table) -> World:
        n = len(self._built)
        a = make_tenant(self.harness, f"mx{n:03d}-a", f"隔離テスト事務所A{n}").id
        b = make_tenant(self.harness, f"mx{n:03d}-b", f"隔離テスト事務所B{n}").id
        if table.name == TENANTS:
            return World(table, a, b, a1={"id": a}, b1={"id": b}, b2=None)
        sessions = self.harness.app_sessions
        return World(
            table,
            a,
            b,
            a1=build_canary(sessions, table, a),
            b1=build_canary(sessions, table, b),
            b2=build_canary(sessions, table, b),
        )


@pytest.fixture(scope="module")
def worlds(legal_data_harness: Harness):
    yield Worlds(legal_data_harness)
    legal_data_harness.truncate_all()


@pytest.fixture
def app(legal_data_harness: Harness):
    return legal_data_harness.app_sessions


@pytest.fixture
def admin(legal_data_harness: Harness):
    with legal_data_harness.admin_engine.connect() as conn:
        yield conn


def _keys(table: Table, rows: list[Any]) -> set[tuple]:
    return {tuple(sorted((k, str(v)) for k, v in pk_of(table, r).items())) for r in rows}


def _key(key: dict[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in key.items()))


# -- coverage guards ------------------------------------------------------------------


def test_matrix_is_generated_from_the_metadata():
    names = {t.name for t in isolation_tables()}
    # A sanity floor: the generator must not silently produce an empty matrix.
    assert {"tenants", "users", "parties", "clients", "cases", "case_parties"} <= names
    for t in tenant_tables():
        assert "tenant_id" in t.c
    assert unclassified_tables() == [], (
        "tables that are neither tenant-scoped (tenant_id) nor declared GlobalTable escape "
        "the isolation matrix"
    )


def test_no_database_relation_with_tenant_data_escapes_the_matrix(admin):
    """Partitions, views or tables created by SQL only (not in the metadata) that the app
    role can touch are not covered by the generated matrix: they must not exist."""
    rows = admin.execute(
        text(
            """
            SELECT c.relname, c.relkind
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'tenant_id' AND NOT a.attisdropped)
              AND (has_table_privilege('legal_app', c.oid, 'SELECT')
                   OR has_table_privilege('legal_app', c.oid, 'INSERT')
                   OR has_table_privilege('legal_app', c.oid, 'UPDATE')
                   OR has_table_privilege('legal_app', c.oid, 'DELETE'))
            """
        )
    ).all()
    covered = {t.name for t in isolation_tables()} | APPEND_ONLY | KEYS_ONLY_READ_AND_CREATE
    escaped = sorted(f"{name} ({kind})" for name, kind in rows if name not in covered)
    assert escaped == [], (
        f"relations with tenant data reachable by legal_app but not in the matrix: {escaped}. "
        "Map them in the metadata, or revoke legal_app's privileges on them (partitions)."
    )


def test_every_tenant_table_has_a_canary_builder():
    missing = [t.name for t in tenant_tables() if canary_builder(t) is None]
    assert missing == [], (
        f"tenant tables without a canary builder: {missing}. Add a factory to "
        "legal_data.testing.factories or an entry to EXPLICIT_BUILDERS in "
        "tests/db/isolation_support.py"
    )


def test_canaries_are_stored_for_the_right_firm(worlds, admin, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    for key, owner in ((w.a1, w.a), (w.b1, w.b)) + (((w.b2, w.b),) if w.b2 else ()):
        assert read_row(admin, w.table, key)[tcol.name] == owner


# -- reads -----------------------------------------------------------------------------


def test_orm_query_sees_only_own_rows(worlds, app, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    with tenant_tx(app, w.a) as s:
        rows = s.scalars(select(w.model)).unique().all()
        assert {getattr(r, tcol.key) for r in rows} == {w.a}
        keys = _keys(w.table, rows)
        assert _key(w.a1) in keys
        assert _key(w.b1) not in keys
        assert s.get(w.model, w.b1) is None
        assert s.get(w.model, w.a1) is not None
        asked_for_b = select(w.model).where(getattr(w.model, tcol.key) == w.b)
        assert s.scalars(asked_for_b).unique().all() == []


def test_core_select_sees_only_own_rows(worlds, app, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    with tenant_tx(app, w.a) as s:
        rows = s.execute(select(w.table)).mappings().all()
        assert {r[tcol.name] for r in rows} == {w.a}
        assert _key(w.a1) in _keys(w.table, rows)
        assert count_rows(s, w.table, match(w.table, w.b1)) == 0
        assert count_rows(s, w.table, tcol != w.a) == 0


def test_text_sql_sees_only_own_rows(worlds, app, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table).name
    with tenant_tx(app, w.a) as s:
        name = quoted(s, w.table)
        seen = s.execute(text(f"SELECT DISTINCT {tcol} FROM {name}")).scalars().all()
        assert seen == [w.a]
        where = " AND ".join(f"{col} = :{col}" for col in w.b1)
        assert s.execute(text(f"SELECT count(*) FROM {name} WHERE {where}"), w.b1).scalar() == 0
        other = text(f"SELECT count(*) FROM {name} WHERE {tcol} <> :me")
        assert s.execute(other, {"me": w.a}).scalar() == 0


def test_relationships_and_selectinload_stay_in_the_firm(worlds, app, relationship_case):
    model, key = relationship_case
    rel = inspect(model).relationships[key]
    # The world of the table holding the foreign key: its canary has a parent/child pair.
    holder = model if rel.direction is RelationshipDirection.MANYTOONE else rel.mapper.class_
    w = worlds.get(holder.__table__.name)
    attr = getattr(model, key)

    def related(obj: Any) -> list[Any]:
        value = getattr(obj, key)
        if value is None:
            return []
        return list(value) if isinstance(value, list | set | tuple) else [value]

    def check(objs: list[Any]) -> int:
        found = [r for o in objs for r in related(o)]
        assert {o.tenant_id for o in objs} <= {w.a}
        assert {r.tenant_id for r in found} <= {w.a}
        return len(found)

    with tenant_tx(app, w.a) as s:  # lazy loading
        assert check(s.scalars(select(model)).unique().all()) > 0, "positive control"
    with tenant_tx(app, w.a) as s:  # selectinload
        objs = s.scalars(select(model).options(selectinload(attr))).unique().all()
        assert check(objs) > 0
    with tenant_tx(app, w.a) as s:  # explicit join along the relationship
        target = rel.mapper.class_
        pairs = s.execute(select(model.tenant_id, target.tenant_id).join(attr)).all()
        assert pairs and set(pairs) == {(w.a, w.a)}


# -- bulk statements -----------------------------------------------------------------


def test_bulk_update_and_delete_of_other_firm_affect_nothing(worlds, app, admin, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    own_rows = count_rows(admin, w.table, tcol == w.a)
    with tenant_tx(app, w.a) as s:
        can_update = has_privilege(s, w.table, "UPDATE")
        can_delete = has_privilege(s, w.table, "DELETE")
    assert can_update, f"legal_app cannot UPDATE {w.table.name}"

    with tenant_tx(app, w.a) as s:
        aimed = update(w.table).where(match(w.table, w.b1)).values({tcol: tcol})
        assert s.execute(aimed).rowcount == 0
        by_tenant = update(w.table).where(tcol == w.b).values({tcol: tcol})
        assert s.execute(by_tenant).rowcount == 0
        orm = (
            update(w.model)
            .where(getattr(w.model, tcol.key) == w.b)
            .values({tcol.key: getattr(w.model, tcol.key)})
            .execution_options(synchronize_session=False)
        )
        assert s.execute(orm).rowcount == 0
    with tenant_tx(app, w.a) as s:
        # The forgotten filter: an unfiltered UPDATE touches exactly the firm's own rows.
        forgotten = update(w.table).values({tcol: tcol})
        try:
            with s.begin_nested():
                assert s.execute(forgotten).rowcount == own_rows
        except LegalDataError as exc:  # a table that refuses updates (e.g. append-only)
            assert not isinstance(exc, RowLevelSecurityViolation), exc

    with tenant_tx(app, w.a) as s:
        if not can_delete:
            with pytest.raises(PermissionDenied):
                s.execute(delete(w.table).where(match(w.table, w.b1)))
            return
        assert s.execute(delete(w.table).where(match(w.table, w.b1))).rowcount == 0
        assert s.execute(delete(w.table).where(tcol == w.b)).rowcount == 0
        orm = (
            delete(w.model)
            .where(getattr(w.model, tcol.key) == w.b)
            .execution_options(synchronize_session=False)
        )
        assert s.execute(orm).rowcount == 0
    assert count_rows(admin, w.table, tcol == w.b) >= 1


# -- writes across the boundary ------------------------------------------------------------


def test_writing_a_row_with_other_firms_tenant_id_is_refused(worlds, app, admin, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    b_row = read_row(admin, w.table, w.b1)
    candidate = fresh_pk(w.table, b_row)  # a row B could own, written from A's context

    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        s.execute(pg_insert(w.table).values(candidate))
    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        s.add(w.model(**{w.table.c[k].key: v for k, v in candidate.items()}))
        s.flush()
    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        # Moving A's own row to B (WITH CHECK on UPDATE).
        s.execute(update(w.table).where(match(w.table, w.a1)).values({tcol: w.b}))
    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        obj = s.get(w.model, w.a1)
        setattr(obj, tcol.key, w.b)
        s.flush()
    assert read_row(admin, w.table, w.b1) == b_row


def test_foreign_key_to_other_firms_row_is_refused(worlds, app, admin, fk_case):
    table_name, fk_name = fk_case
    w = worlds.get(table_name)
    fk = next(f for f in tenant_fks(w.table) if f.name == fk_name)
    b2 = read_row(admin, w.table, w.b2)
    if any(b2[el.parent.name] is None for el in fk.elements):
        pytest.fail(f"the canary of {table_name} leaves {fk_name} empty: nothing to point at")

    # A new row of A, everything mirrored from B's spare canary except this reference,
    # which still points at B's row.
    with tenant_tx(app, w.a) as s, pytest.raises(ForeignKeyViolation) as refused:
        mirror_row(s, admin, w.table, w.b2, w.a, skip_fk=fk)
    assert refused.value.rule == fk_name

    # Re-pointing A's own canary at B's row.
    pointer = {
        el.parent.name: b2[el.parent.name] for el in fk.elements if el.parent.name != "tenant_id"
    }
    with tenant_tx(app, w.a) as s, pytest.raises(ForeignKeyViolation) as refused:
        s.execute(update(w.table).where(match(w.table, w.a1)).values(pointer))
    assert refused.value.rule == fk_name


def test_other_firms_unique_values_do_not_collide(worlds, app, admin, tenant_table_name):
    w = worlds.get(tenant_table_name)
    b2 = read_row(admin, w.table, w.b2)
    with tenant_tx(app, w.a) as s:
        # Same ids, same unique values, same parents (mirrored too): all accepted for A.
        values = mirror_row(s, admin, w.table, w.b2, w.a)
        copy = {**w.b2, "tenant_id": w.a}
        got = s.execute(select(w.table).where(match(w.table, copy))).mappings().one()
        assert {k: v for k, v in got.items() if k in values and k != "tenant_id"} == {
            k: v for k, v in b2.items() if k in values and k != "tenant_id"
        }
    assert read_row(admin, w.table, w.b2) == b2


def test_insert_on_conflict_never_touches_other_firm(worlds, app, admin, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    pk = [c.name for c in w.table.primary_key.columns]
    b_row = read_row(admin, w.table, w.b1)
    values = {k: v for k, v in b_row.items() if w.table.c[k].computed is None}

    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        # DO NOTHING on B's exact row: refused, not a silent "0 rows" existence oracle.
        s.execute(pg_insert(w.table).values(values).on_conflict_do_nothing())
    with tenant_tx(app, w.a) as s, pytest.raises(RowLevelSecurityViolation):
        stmt = pg_insert(w.table).values(values)
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=pk, set_={tcol.name: stmt.excluded[tcol.name]}
            )
        )
    assert read_row(admin, w.table, w.b1) == b_row

    if w.b2 is None:  # tenants: a firm cannot create another firm's row at all
        return
    with tenant_tx(app, w.a) as s:
        b2 = read_row(admin, w.table, w.b2)
        mirror_parents(s, admin, w.table, b2, w.a)  # A's copies of the rows B2 points at
        mine = copy_values(w.table, b2, w.a)
        # No conflict target: ANY unique index shared with B would turn this into 0 rows.
        first = s.execute(
            pg_insert(w.table).values(mine).on_conflict_do_nothing(),
            execution_options={"preserve_rowcount": True},
        )
        assert first.rowcount == 1
        stmt = pg_insert(w.table).values(mine)
        upsert = stmt.on_conflict_do_update(
            index_elements=pk, set_={tcol.name: stmt.excluded[tcol.name]}
        )
        try:
            with s.begin_nested():
                again = s.execute(upsert, execution_options={"preserve_rowcount": True})
                assert again.rowcount == 1  # updated A's own copy
        except LegalDataError as exc:
            # BEFORE INSERT triggers run before the conflict is found: an append-only table
            # may refuse the attempt itself. That is a domain rule, not a firm boundary.
            assert not isinstance(exc, RowLevelSecurityViolation), exc
        assert count_rows(s, w.table, match(w.table, {**w.b2, "tenant_id": w.a})) == 1
    assert read_row(admin, w.table, w.b2) == b2


def test_truncate_is_refused_for_the_app_role(worlds, app, admin, table_name):
    w = worlds.get(table_name)
    tcol = tenant_key_column(w.table)
    with tenant_tx(app, w.a) as s, pytest.raises(PermissionDenied):
        s.execute(text(f"TRUNCATE {quoted(s, w.table)}"))
    with tenant_tx(app, w.a) as s, pytest.raises(PermissionDenied):
        s.execute(text(f"TRUNCATE {quoted(s, w.table)} CASCADE"))
    assert count_rows(admin, w.table, tcol == w.b) >= 1
