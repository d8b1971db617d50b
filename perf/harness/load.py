"""``python -m perf load``: many firms at once through one engine, then through PgBouncer.

``--clients`` threads share one :func:`~legal_data.db.engine.create_tenant_engine`
engine (``--pool-size`` connections plus overflow up to one per client) for
``--seconds``. Each transaction acts for a firm drawn with probability proportional to
its size, as one of its lawyers, and runs one operation of a fixed mix:

| share | operation |
|---|---|
| 30 % | open-case list (first page) |
| 15 % | case detail of a random case |
| 15 % | my open tasks |
| 5 % | audit search, one day |
| 15 % | new time entry (ORM insert) |
| 10 % | new task (ORM insert) |
| 10 % | complete one of the tasks this client created (ORM update, optimistic lock) |

Every transaction also runs a probe that relies on Row Level Security alone — ``SELECT
tenant_id FROM cases LIMIT 10`` without any filter, plus the transaction's
``app.current_tenant_id`` — and counts rows of another firm and context mismatches.
Writes are read back (the new row's ``tenant_id``). Both counts must be 0, and so must
the errors; with PgBouncer in transaction mode this proves the transaction-local
context never leaks between the firms sharing a server connection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import URL

from legal_data import queries
from legal_data.db.engine import create_tenant_engine
from legal_data.db.provision import libpq_conninfo
from legal_data.models import Task, TimeEntry
from legal_data.tenancy import tenant_scope, tenant_sessionmaker
from perf.harness import db
from perf.harness.commands import load_average
from perf.harness.pgbouncer import pgbouncer
from perf.harness.seed import KIND, console, pid

JST = dt.timezone(dt.timedelta(hours=9))

MIX = (
    ("open_cases", 30),
    ("case_detail", 15),
    ("my_open_tasks", 15),
    ("audit_day", 5),
    ("add_time_entry", 15),
    ("add_task", 10),
    ("complete_task", 10),
)
PROBE = text(
    "SELECT count(*) FILTER (WHERE tenant_id <> CAST(:firm AS uuid)), count(*),"
    " current_setting('app.current_tenant_id')"
    " FROM (SELECT tenant_id FROM cases LIMIT 10) x"
)


@dataclass(frozen=True)
class Firm:
    no: int
    id: uuid.UUID
    cases: int
    lawyers: int


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    cross_tenant_rows: int = 0
    context_mismatches: int = 0
    probed_rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def firms(t: db.Target) -> list[Firm]:
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT t.id, (SELECT count(*) FROM cases c WHERE c.tenant_id = t.id),
                   (SELECT count(*) FROM users u WHERE u.tenant_id = t.id AND u.kind = 'lawyer')
            FROM tenants t WHERE t.slug LIKE 'perf-%%' ORDER BY t.slug
            """
        ).fetchall()
    return [Firm(i + 1, r[0], int(r[1]), int(r[2])) for i, r in enumerate(rows)]


def _worker(
    n: int,
    sessions: Any,
    all_firms: list[Firm],
    weights: list[int],
    deadline: float,
    tally: Tally,
    day: dt.datetime,
) -> None:
    rnd = random.Random(1000 + n)
    ops = [op for op, _w in MIX]
    op_weights = [w for _op, w in MIX]
    mine: list[tuple[Firm, uuid.UUID, uuid.UUID]] = []  # tasks this client created
    while time.monotonic() < deadline:
        op = rnd.choices(ops, op_weights)[0]
        if op == "complete_task" and not mine:
            op = "add_task"
        firm = rnd.choices(all_firms, weights)[0]
        lawyer = pid(KIND["user"], firm.no, 1 + rnd.randrange(firm.lawyers))
        if op == "complete_task":
            firm, lawyer, task_id = mine.pop(rnd.randrange(len(mine)))
        case_id = pid(KIND["case"], firm.no, 1 + rnd.randrange(firm.cases))
        t0 = time.perf_counter()
        try:
            with (
                tenant_scope(firm.id, user_id=lawyer, role="lawyer", reason="perf load"),
                sessions() as s,
                s.begin(),
            ):
                written: uuid.UUID | None = None
                if op == "open_cases":
                    queries.open_cases(s)
                elif op == "case_detail":
                    queries.case_detail(s, case_id)
                elif op == "my_open_tasks":
                    queries.my_open_tasks(s, lawyer)
                elif op == "audit_day":
                    since = day - dt.timedelta(days=rnd.randrange(28))
                    queries.audit_trail(s, since=since, until=since + dt.timedelta(days=1))
                elif op == "add_time_entry":
                    entry = TimeEntry(
                        tenant_id=firm.id,
                        case_id=case_id,
                        user_id=lawyer,
                        work_date=dt.date.today(),
                        minutes=6 * (1 + rnd.randrange(20)),
                        rate_yen=20000,
                        description="負荷試験",
                    )
                    s.add(entry)
                    s.flush()
                    written = entry.id
                    table = "time_entries"
                elif op == "add_task":
                    task = Task(
                        tenant_id=firm.id,
                        case_id=case_id,
                        assignee_id=lawyer,
                        kind="調査",
                        title="負荷試験の調査",
                        due_at=dt.datetime.now(JST) + dt.timedelta(days=rnd.randrange(30)),
                    )
                    s.add(task)
                    s.flush()
                    written = task.id
                    table = "tasks"
                else:  # complete_task
                    task = s.get(Task, (firm.id, task_id))
                    assert task is not None, "a task this client created is gone"
                    task.status = "done"
                    task.completed_at = dt.datetime.now(JST)
                    s.flush()
                    written = task.id
                    table = "tasks"
                other, seen, setting = s.execute(PROBE, {"firm": firm.id}).one()
                if written is not None:
                    owner = s.execute(
                        text(f"SELECT tenant_id FROM {table} WHERE id = :i"), {"i": written}
                    ).scalar_one()
                    other += int(owner != firm.id)
            if op == "add_task":
                mine.append((firm, lawyer, written))  # type: ignore[arg-type]
            elapsed = time.perf_counter() - t0
            with tally.lock:
                tally.latencies[op].append(elapsed)
                tally.cross_tenant_rows += int(other)
                tally.probed_rows += int(seen)
                tally.context_mismatches += int(setting != str(firm.id))
        except Exception as exc:
            with tally.lock:
                tally.errors[type(exc).__name__] += 1
                if len(tally.error_samples) < 5:
                    tally.error_samples.append("".join(traceback.format_exception_only(exc)))


def _pct(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    if len(ms) < 2:
        return {"n": len(ms), "p50": ms[0] if ms else 0.0, "p95": ms[0] if ms else 0.0}
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 2),
        "p95": round(q[94], 2),
        "p99": round(q[98], 2),
    }


def one_run(
    name: str,
    url: URL,
    all_firms: list[Firm],
    args: argparse.Namespace,
    *,
    pooled: bool,
) -> dict[str, Any]:
    connect_args: dict[str, Any] = {}
    if pooled:
        # Transaction pooling: no server-side prepared statements, no startup options.
        connect_args = {"prepare_threshold": None, "options": ""}
    engine = create_tenant_engine(
        url,
        application_name=f"perf load {name}",
        pool_size=args.pool_size,
        max_overflow=max(0, args.clients - args.pool_size),
        connect_args=connect_args,
    )
    sessions = tenant_sessionmaker(engine)
    tally = Tally()
    weights = [f.cases for f in all_firms]
    today = dt.datetime.now(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today.replace(day=1) - dt.timedelta(days=1)
    deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(
            target=_worker, args=(n, sessions, all_firms, weights, deadline, tally, day)
        )
        for n in range(args.clients)
    ]
    started = time.perf_counter()
    with console.status(f"load '{name}': {args.clients} clients for {args.seconds:g} s"):
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    elapsed = time.perf_counter() - started
    pool_status = engine.pool.status()
    engine.dispose()
    everything = [x for v in tally.latencies.values() for x in v]
    return {
        "name": name,
        "clients": args.clients,
        "pool_size": args.pool_size,
        "seconds": round(elapsed, 1),
        "transactions": len(everything),
        "throughput_tps": round(len(everything) / elapsed, 1),
        "latency": _pct(everything) if everything else {},
        "per_operation": {op: _pct(v) for op, v in sorted(tally.latencies.items())},
        "errors": sum(tally.errors.values()),
        "errors_by_type": dict(tally.errors),
        "error_samples": tally.error_samples,
        "cross_tenant_rows": tally.cross_tenant_rows,
        "context_mismatches": tally.context_mismatches,
        "probed_rows": tally.probed_rows,
        "firms": len(all_firms),
        "pool": pool_status,
    }


def load(t: db.Target, args: argparse.Namespace) -> dict[str, Any]:
    all_firms = firms(t)
    app_url = db.app_login(t)
    runs = []
    before = load_average()
    if not args.pgbouncer_only:
        runs.append(one_run("direct", app_url, all_firms, args, pooled=False))
    if args.pgbouncer or args.pgbouncer_only:
        with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
            # PgBouncer cannot pass the engine's startup options: set them on the role.
            conn.execute(
                f"ALTER ROLE {db.APP_LOGIN} SET statement_timeout = '30s';"
                f" ALTER ROLE {db.APP_LOGIN} SET idle_in_transaction_session_timeout = '60s'"
            )
        with pgbouncer(app_url, pool_size=20, max_clients=args.clients + 20) as url:
            runs.append(one_run("pgbouncer", url, all_firms, args, pooled=True))
    payload = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "profile": args.profile,
        "postgres": db.server_version(t),
        "load_average_before": before,
        "load_average_after": load_average(),
        "runs": runs,
    }
    table = Table(title=f"load, {args.profile} profile", title_justify="left")
    for col in (
        "run",
        "clients/pool",
        "tx/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "cross-tenant rows",
        "context mismatches",
    ):
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in runs:
        lat = r["latency"]
        table.add_row(
            r["name"],
            f"{r['clients']}/{r['pool_size'] if r['name'] == 'direct' else 20}",
            f"{r['throughput_tps']:.0f}",
            f"{lat.get('p50', 0):.1f}",
            f"{lat.get('p95', 0):.1f}",
            f"{lat.get('p99', 0):.1f}",
            str(r["errors"]),
            str(r["cross_tenant_rows"]),
            str(r["context_mismatches"]),
        )
    console.print(table)
    for r in runs:
        for sample in r["error_samples"]:
            console.print(f"[red]{r['name']} error:[/red] {sample.strip()}")
    return payload
