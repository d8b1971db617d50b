"""ORM cost of field encryption: 1,000 parties with 5 encrypted columns vs the same rows
in plaintext, loaded (and written) through tenant sessions on a real PostgreSQL.

    python -m perf.crypto_orm_load            # embedded (or $LEGAL_DATA_TEST_DATABASE_URL)
    python -m perf.crypto_orm_load --json out.json

The encrypted side is ``parties`` (my_number row-bound; three blind indexes). An entity
load carries the envelopes and opens each value on first access, so the script reports
both the load and the load plus reading every encrypted attribute of every row. The
plaintext side is a mirror table created here with the same columns as plain
``text``/``date`` and no blind indexes, under the same Row Level Security and audit
triggers. Each load is a fresh session and transaction (``SET LOCAL`` included;
keys cached), timed as the median of several interleaved runs. Target: encrypted load
at most 1.6x plaintext. Keys are TEST KEYS under a throwaway master key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
import uuid
from typing import Any

import cryptography
import sqlalchemy
from sqlalchemy import Column, Date, DefaultClause, MetaData, Table, Text, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import registry

from legal_data.audit.sql import audit_triggers_sql
from legal_data.crypto.types import EncryptedType, Plaintext
from legal_data.models import Party
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.firms import new_firm
from legal_data.tenancy.policies import tenant_isolation_sql
from legal_data.testing.harness import migrated_database

ROWS = 1_000
RUNS = 15
ENCRYPTED = ("my_number", "address", "phone", "email", "date_of_birth")
ACTOR = uuid.UUID("01890000-0000-7000-8000-0000000be7c4")


class PlainParty:
    """The plaintext mirror of :class:`Party` (perf only)."""


def _mirror() -> Table:
    columns = []
    for c in Party.__table__.columns:
        if c.name.endswith("_bidx"):
            continue
        type_ = c.type
        if isinstance(type_, EncryptedType):
            type_ = Date() if c.name == "date_of_birth" else Text()
        default = c.server_default
        columns.append(
            Column(
                c.name,
                type_,
                primary_key=c.primary_key,
                # Same defaults, so both tables hold the same timestamps, actors and arrays.
                server_default=DefaultClause(default.arg)
                if isinstance(default, DefaultClause)
                else None,
            )
        )
    table = Table("perf_plain_parties", MetaData(), *columns)
    registry().map_imperatively(PlainParty, table)
    return table


def _values(n: int, tenant: uuid.UUID) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "kind": "person",
        "name": f"性能 太郎{n}",
        "name_kana": "セイノウ タロウ",
        "my_number": f"{n:011d}8",
        "address": f"東京都千代田区霞が関{n % 9 + 1}-1-1 ビル{n}階",
        "phone": f"090-{n // 10000:04d}-{n % 10000:04d}",
        "email": f"perf{n}@example.jp",
        "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=n),
    }


def _timed_load(sessions: Any, tenant: uuid.UUID, model: type, *, read: bool = False) -> float:
    """One entity load of every row; with ``read``, also every encrypted attribute of
    every row (the encrypted side opens each value on first access)."""
    with tenant_scope(tenant, user_id=ACTOR), sessions() as s, s.begin():
        t0 = time.perf_counter()
        rows = s.scalars(select(model)).all()
        if read:
            for row in rows:
                for name in ENCRYPTED:
                    getattr(row, name)
        elapsed = time.perf_counter() - t0
    assert len(rows) == ROWS
    return elapsed


def _timed_write(sessions: Any, tenant: uuid.UUID, model: type, offset: int) -> float:
    with tenant_scope(tenant, user_id=ACTOR), sessions() as s, s.begin():
        objects = []
        for n in range(offset, offset + ROWS):
            obj = model()
            obj.id = uuid.uuid4()
            for k, v in _values(n, tenant).items():
                setattr(obj, k, v)
            objects.append(obj)
        s.add_all(objects)
        t0 = time.perf_counter()
        s.flush()
        elapsed = time.perf_counter() - t0
        s.rollback()
    return elapsed


def _type_rates(tenant: uuid.UUID) -> dict[str, float]:
    """Values per second through the column type alone (no database)."""
    column = Party.__table__.c.address
    type_, dialect = column.type, sqlalchemy.dialects.postgresql.dialect()
    value = "東京都千代田区霞が関1-1-1 中央合同庁舎第6号館"  # ~60 bytes of UTF-8
    with tenant_scope(tenant):
        n, t0 = 0, time.perf_counter()
        envelope = b""
        while time.perf_counter() - t0 < 0.5:
            envelope = type_.process_bind_param(Plaintext(value), dialect)
            n += 1
        seal = n / (time.perf_counter() - t0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.5:
            type_.process_result_value(envelope, dialect)
            n += 1
        open_ = n / (time.perf_counter() - t0)
    return {"seal_per_s": seal, "open_per_s": open_}


def measure() -> dict[str, Any]:
    with migrated_database(prefix="legal_data_perf") as h:
        plain = _mirror()
        with h.admin_engine.begin() as conn:
            plain.metadata.create_all(conn)
            conn.exec_driver_sql(tenant_isolation_sql(plain.name))
            # Audited like parties, so the write comparison pays for the same triggers.
            conn.exec_driver_sql(audit_triggers_sql(plain.name))
        firm = new_firm(h.admin_sessions, slug="perf-crypto", name="性能測定法律事務所").id
        with tenant_scope(firm, user_id=ACTOR), h.app_sessions() as s, s.begin():
            s.add_all(Party(**_values(n, firm)) for n in range(ROWS))
        with tenant_scope(firm, user_id=ACTOR), h.app_sessions() as s, s.begin():
            s.execute(
                pg_insert(plain), [{"id": uuid.uuid4(), **_values(n, firm)} for n in range(ROWS)]
            )
            s.execute(text("ANALYZE perf_plain_parties"))
        for _ in range(2):  # warm caches, pools and the key cache
            _timed_load(h.app_sessions, firm, Party)
            _timed_load(h.app_sessions, firm, PlainParty)
        loads: dict[str, list[float]] = {"encrypted": [], "plaintext": []}
        reads: dict[str, list[float]] = {"encrypted": [], "plaintext": []}
        writes: dict[str, list[float]] = {"encrypted": [], "plaintext": []}
        for i in range(RUNS):  # interleaved, so drift on a shared host hits both
            loads["encrypted"].append(_timed_load(h.app_sessions, firm, Party))
            loads["plaintext"].append(_timed_load(h.app_sessions, firm, PlainParty))
            reads["encrypted"].append(_timed_load(h.app_sessions, firm, Party, read=True))
            reads["plaintext"].append(_timed_load(h.app_sessions, firm, PlainParty, read=True))
            if i < 3:
                writes["encrypted"].append(_timed_write(h.app_sessions, firm, Party, ROWS))
                writes["plaintext"].append(_timed_write(h.app_sessions, firm, PlainParty, ROWS))
        rates = _type_rates(firm)
        with h.admin_engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar()
    load = {k: statistics.median(v) * 1000 for k, v in loads.items()}
    read = {k: statistics.median(v) * 1000 for k, v in reads.items()}
    write = {k: statistics.median(v) * 1000 for k, v in writes.items()}
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "postgresql": server,
        "rows": ROWS,
        "encrypted_columns": list(ENCRYPTED),
        "load_ms": load,
        "load_ratio": load["encrypted"] / load["plaintext"],
        "load_runs_ms": {k: [round(x * 1000, 1) for x in v] for k, v in loads.items()},
        "load_and_read_all_ms": read,
        "load_and_read_all_ratio": read["encrypted"] / read["plaintext"],
        "flush_ms": write,
        "flush_ratio": write["encrypted"] / write["plaintext"],
        "type_values_per_s": rates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    result = measure()
    print(
        f"{result['date']}  {result['machine']}\nPython {result['python']}, cryptography "
        f"{result['cryptography']}, SQLAlchemy {result['sqlalchemy']}, "
        f"PostgreSQL {result['postgresql']}"
    )
    load, write = result["load_ms"], result["flush_ms"]
    print(f"ORM load of {ROWS} rows, 5 encrypted columns (median of {RUNS}):")
    print(
        f"  plaintext {load['plaintext']:.1f} ms, encrypted {load['encrypted']:.1f} ms, "
        f"ratio {result['load_ratio']:.2f} (target <= 1.6)"
    )
    read = result["load_and_read_all_ms"]
    print(
        f"  ... and reading all 5 encrypted attributes of every row: plaintext "
        f"{read['plaintext']:.1f} ms, encrypted {read['encrypted']:.1f} ms, "
        f"ratio {result['load_and_read_all_ratio']:.2f}"
    )
    print(
        f"ORM flush of {ROWS} new rows (median of 3): plaintext {write['plaintext']:.1f} ms, "
        f"encrypted {write['encrypted']:.1f} ms, ratio {result['flush_ratio']:.2f}"
    )
    rates = result["type_values_per_s"]
    print(
        f"column type alone, ~60-byte text: seal {rates['seal_per_s']:,.0f}/s "
        f"({1e6 / rates['seal_per_s']:.1f} µs), open {rates['open_per_s']:,.0f}/s "
        f"({1e6 / rates['open_per_s']:.1f} µs)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
