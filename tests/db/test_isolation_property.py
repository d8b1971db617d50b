"""Property: whatever sequence of operations three firms run, interleaved, each firm sees
exactly what a model of its own writes predicts, and never a row of another firm.

Hypothesis generates sequences of inserts, upserts, updates and deletes (by id, by name
with the tenant filter "forgotten", and aimed at another firm's row) and selects, each
in its own transaction through the pooled app engine, switching firm every time. The
model is a dict per firm: name -> (id, value). After every operation the acting firm's
view must equal its model; after the sequence the stored rows (admin) must equal the
union of the models.

``LEGAL_DATA_PROPERTY_EXAMPLES`` raises the number of examples for longer runs.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isolation_support import tenant_tx
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from legal_data.errors import RowLevelSecurityViolation, UniqueViolation
from legal_data.models import TenantCounter
from legal_data.testing.plugin import make_tenant

EXAMPLES = int(os.environ.get("LEGAL_DATA_PROPERTY_EXAMPLES", "60"))
NAMES = ("alpha", "beta", "gamma", "delta")  # shared by all firms: collisions are the point
FIRMS = 3
TABLE = TenantCounter.__table__

firm_index = st.integers(0, FIRMS - 1)
value = st.integers(0, 10_000)
name = st.sampled_from(NAMES)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), firm_index, name, value),
        st.tuples(st.just("upsert"), firm_index, name, value),
        st.tuples(st.just("update_by_id"), firm_index, firm_index, name, value),
        st.tuples(st.just("update_by_name"), firm_index, name, value),
        st.tuples(st.just("delete_by_id"), firm_index, firm_index, name),
        st.tuples(st.just("delete_by_name"), firm_index, name),
        st.tuples(st.just("write_for_other"), firm_index, firm_index, name, value),
        st.tuples(st.just("select"), firm_index),
    ),
    min_size=1,
    max_size=30,
)


@dataclass
class Row:
    id: uuid.UUID
    value: int


@pytest.fixture
def three_firms(legal_db, tenant_a, tenant_b) -> list[uuid.UUID]:
    return [tenant_a.id, tenant_b.id, make_tenant(legal_db, "firm-c", "みどり法律事務所").id]


def _view(s) -> dict[str, Row]:
    rows = s.execute(
        select(TenantCounter.tenant_id, TenantCounter.name, TenantCounter.id, TenantCounter.value)
    ).all()
    tenants = {r.tenant_id for r in rows}
    current = uuid.UUID(s.execute(text("SELECT current_setting('app.current_tenant_id')")).scalar())
    assert tenants <= {current}, f"firm {current} saw rows of {tenants - {current}}"
    raw = s.execute(
        text("SELECT count(*) FROM tenant_counters WHERE tenant_id <> :me"), {"me": current}
    ).scalar()
    assert raw == 0
    return {r.name: Row(r.id, r.value) for r in rows}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_each_firm_sees_exactly_its_own_writes(legal_db, three_firms, ops):
    firms = three_firms
    sessions = legal_db.app_sessions
    with legal_db.admin_engine.begin() as conn:  # a fresh start for every example
        conn.execute(delete(TenantCounter).where(TenantCounter.tenant_id.in_(firms)))
    model: list[dict[str, Row]] = [{} for _ in firms]

    def row_id(owner: int, key: str) -> uuid.UUID:
        found = model[owner].get(key)
        return found.id if found else uuid.uuid4()

    for op in ops:
        kind, actor = op[0], op[1]
        me = firms[actor]
        mine = model[actor]
        with tenant_tx(sessions, me, commit=True) as s:
            if kind == "insert":
                _, _, key, v = op
                new = uuid.uuid4()
                if key in mine:
                    with pytest.raises(UniqueViolation), s.begin_nested():
                        s.add(TenantCounter(tenant_id=me, id=new, name=key, value=v))
                        s.flush()
                else:
                    s.add(TenantCounter(tenant_id=me, id=new, name=key, value=v))
                    s.flush()
                    mine[key] = Row(new, v)
            elif kind == "upsert":
                _, _, key, v = op
                new = uuid.uuid4()
                stmt = pg_insert(TABLE).values(tenant_id=me, id=new, name=key, value=v)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "name"], set_={"value": stmt.excluded.value}
                ).execution_options(preserve_rowcount=True)
                assert s.execute(stmt).rowcount == 1
                mine[key] = Row(mine[key].id if key in mine else new, v)
            elif kind == "update_by_id":
                _, _, owner, key, v = op
                target = row_id(owner, key)
                stmt = update(TenantCounter).where(TenantCounter.id == target).values(value=v)
                hit = owner == actor and key in mine
                assert s.execute(stmt).rowcount == (1 if hit else 0)
                if hit:
                    mine[key].value = v
            elif kind == "update_by_name":  # no tenant filter at all
                _, _, key, v = op
                stmt = update(TenantCounter).where(TenantCounter.name == key).values(value=v)
                assert s.execute(stmt).rowcount == (1 if key in mine else 0)
                if key in mine:
                    mine[key].value = v
            elif kind == "delete_by_id":
                _, _, owner, key = op
                target = row_id(owner, key)
                hit = owner == actor and key in mine
                stmt = delete(TenantCounter).where(TenantCounter.id == target)
                assert s.execute(stmt).rowcount == (1 if hit else 0)
                if hit:
                    del mine[key]
            elif kind == "delete_by_name":
                _, _, key = op
                stmt = delete(TenantCounter).where(TenantCounter.name == key)
                assert s.execute(stmt).rowcount == (1 if key in mine else 0)
                mine.pop(key, None)
            elif kind == "write_for_other":
                _, _, other, key, v = op
                if other != actor:
                    with pytest.raises(RowLevelSecurityViolation), s.begin_nested():
                        s.execute(
                            pg_insert(TABLE).values(
                                tenant_id=firms[other], id=uuid.uuid4(), name=key, value=v
                            )
                        )
            seen = _view(s)
            assert {k: (r.id, r.value) for k, r in seen.items()} == {
                k: (r.id, r.value) for k, r in mine.items()
            }, f"{kind} by firm {actor}"

    with legal_db.admin_engine.connect() as conn:
        stored = {
            (t, n): (i, v)
            for t, n, i, v in conn.execute(
                select(
                    TenantCounter.tenant_id,
                    TenantCounter.name,
                    TenantCounter.id,
                    TenantCounter.value,
                ).where(TenantCounter.tenant_id.in_(firms))
            )
        }
    expected = {
        (firms[i], k): (r.id, r.value) for i, rows in enumerate(model) for k, r in rows.items()
    }
    assert stored == expected
