"""``python -m perf run``: latency of every query class, and what it costs over raw SQL.

For each class, four variants of the same unit of work (one transaction) run after a
warm-up, interleaved iteration by iteration, cycling through the class's parameter sets:

``api``
    the library's public query function in a tenant session on a
    :func:`~legal_data.db.engine.create_tenant_engine` engine (library defaults: pool,
    pre-ping, the ``SET LOCAL`` context batch) logged in as the application role, under
    Row Level Security and the ethical-wall policies;
``rls``
    the statements the API sent (recorded from the engine, parameters included),
    replayed through raw psycopg as the application role: context batch, statements,
    commit — the API minus SQLAlchemy and the pool;
``floor+ctx``
    the same replay as a superuser (Row Level Security does not apply);
``floor``
    the same statements as a superuser without the context batch: the raw-SQL floor.

Reported per class: p50/p95/p99 of each variant, the target, ``api / floor`` (target
<= 1.5) and ``rls / floor+ctx`` — Row Level Security alone, same SQL, only the role
differs (target <= 1.1). Ratios are of medians (p95 ratios are in the JSON too).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, event

from legal_data.db.engine import create_tenant_engine
from legal_data.db.provision import libpq_conninfo
from legal_data.tenancy import tenant_scope, tenant_sessionmaker
from perf.harness import db
from perf.harness.commands import load_average
from perf.harness.queries import Call, QueryClass, dataset, query_classes, rows_returned
from perf.harness.seed import console

VARIANTS = ("api", "rls", "floor+ctx", "floor")
Statement = tuple[str, Any]


class Recorder:
    """Records what an engine sends to the driver while ``on``."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[Statement] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    @contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        self.statements = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 3),
        "p95": round(q[94], 3),
        "p99": round(q[98], 3),
        "max": round(ms[-1], 3),
    }


def _replay(conn: psycopg.Connection, statements: list[Statement], with_context: bool) -> float:
    return _replay_rows(conn, statements, with_context)[0]


def _replay_rows(
    conn: psycopg.Connection, statements: list[Statement], with_context: bool
) -> tuple[float, int]:
    rows = 0
    t0 = time.perf_counter()
    with conn.transaction():
        for sql_text, params in statements:
            if sql_text.startswith("SET LOCAL"):
                if with_context:
                    conn.execute(sql_text)
                continue
            cur = conn.execute(sql_text, params)
            if cur.description is not None:
                rows += len(cur.fetchall())
    return time.perf_counter() - t0, rows


def _floor_needs_context(admin: psycopg.Connection, statements: list[Statement]) -> bool:
    """Whether the statements read the firm from the context themselves (the search
    functions, READ audit events): then even the floor must send it."""
    try:
        bare = _replay_rows(admin, statements, with_context=False)[1]
    except psycopg.Error:
        return True
    return bare != _replay_rows(admin, statements, with_context=True)[1]


def _walk(node: dict[str, Any], scans: list[dict[str, Any]]) -> None:
    if "Relation Name" in node or "Index Name" in node:
        keys = ("Node Type", "Relation Name", "Index Name", "Index Cond")
        scans.append({k: node[k] for k in keys if k in node})
    for child in node.get("Plans", []):
        _walk(child, scans)


def _explain(conn: psycopg.Connection, statements: list[Statement]) -> list[list[dict[str, Any]]]:
    """Scan nodes (relation, index, node type) of each statement, as the app role."""
    out = []
    with conn.transaction():
        for sql_text, params in statements:
            if sql_text.startswith("SET LOCAL"):
                conn.execute(sql_text)
                continue
            row = conn.execute("EXPLAIN (FORMAT JSON) " + sql_text, params).fetchone()
            assert row is not None
            scans: list[dict[str, Any]] = []
            _walk(row[0][0]["Plan"], scans)
            out.append(scans)
    return out


def measure_class(
    qc: QueryClass,
    firm: Any,
    sessions: Any,
    recorder: Recorder,
    app: psycopg.Connection,
    admin: psycopg.Connection,
    *,
    iterations: int,
    warmup: int,
    progress: Progress,
) -> dict[str, Any]:
    def api(call: Call) -> tuple[float, Any]:
        t0 = time.perf_counter()
        with (
            tenant_scope(firm, user_id=call.user_id, role="lawyer", reason="perf run"),
            sessions() as s,
            s.begin(),
        ):
            result = qc.run(s, call.args)
        return time.perf_counter() - t0, result

    # Warm-up through the API (plans, caches, the firm's key cache), then record each
    # parameter set's statements once more (warm) for the raw replays.
    for i in range(warmup):
        api(qc.calls[i % len(qc.calls)])
    recorded: list[list[Statement]] = []
    rows: list[int] = []
    for call in qc.calls:
        with recorder.recording() as statements:
            _elapsed, result = api(call)
        recorded.append(list(statements))
        rows.append(rows_returned(result))
    for stmts in recorded:
        for conn in (app, admin):
            for _ in range(max(1, warmup // len(recorded))):
                _replay(conn, stmts, with_context=True)

    floor_ctx = _floor_needs_context(admin, recorded[0])
    runners: dict[str, Callable[[int], float]] = {
        "api": lambda i: api(qc.calls[i % len(qc.calls)])[0],
        "rls": lambda i: _replay(app, recorded[i % len(recorded)], with_context=True),
        "floor+ctx": lambda i: _replay(admin, recorded[i % len(recorded)], with_context=True),
        "floor": lambda i: _replay(admin, recorded[i % len(recorded)], with_context=floor_ctx),
    }
    # Interleaved per iteration: the four variants of one parameter set run back to back,
    # so the load of a shared machine (which drifts by the second) hits all of them alike;
    # the starting variant rotates so none always runs first after another class's work.
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    task = progress.add_task(qc.name, total=iterations * len(VARIANTS))
    for i in range(iterations):
        for k in range(len(VARIANTS)):
            variant = VARIANTS[(i + k) % len(VARIANTS)]
            samples[variant].append(runners[variant](i))
            progress.advance(task)
    stats = {v: _percentiles(samples[v]) for v in VARIANTS}
    return {
        "label": qc.label,
        "target_p95_ms": qc.target_p95_ms,
        "parameter_sets": len(qc.calls),
        "rows_per_call": {"min": min(rows), "max": max(rows)},
        "statements_per_call": max(
            len([s for s in r if not s[0].startswith("SET")]) for r in recorded
        ),
        **stats,
        "ratio_to_floor_p50": round(stats["api"]["p50"] / stats["floor"]["p50"], 2),
        "ratio_to_floor_p95": round(stats["api"]["p95"] / stats["floor"]["p95"], 2),
        "rls_ratio_p50": round(stats["rls"]["p50"] / stats["floor+ctx"]["p50"], 2),
        "rls_ratio_p95": round(stats["rls"]["p95"] / stats["floor+ctx"]["p95"], 2),
        "meets_target": stats["api"]["p95"] <= qc.target_p95_ms,
        "floor_sends_context": floor_ctx,
        "plan": _explain(app, recorded[0]),
        "sql": [s for s, _p in recorded[0] if not s.startswith("SET LOCAL")],
    }


def run(t: db.Target, args: argparse.Namespace) -> dict[str, Any]:
    d = dataset(t)
    classes = query_classes(t, d)
    if args.only:
        classes = [c for c in classes if c.name in args.only]
    iterations = args.iterations or 300
    app_url = db.app_login(t)
    engine = create_tenant_engine(app_url, application_name="perf run")
    sessions = tenant_sessionmaker(engine)
    recorder = Recorder(engine)
    results: dict[str, Any] = {}
    payload: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "profile": args.profile,
        "postgres": db.server_version(t),
        "database": t.admin_url.database,
        "firm_cases": d.cases,
        "iterations_per_variant": iterations,
        "load_average_before": load_average(),
        "results": results,
    }
    try:
        with (
            psycopg.connect(libpq_conninfo(app_url)) as app,
            psycopg.connect(libpq_conninfo(t.admin_url)) as admin,
            Progress(console=console, transient=True) as progress,
        ):
            for qc in classes:
                if qc.unavailable:
                    results[qc.name] = {"label": qc.label, "unavailable": qc.unavailable}
                    continue
                results[qc.name] = measure_class(
                    qc,
                    d.firm,
                    sessions,
                    recorder,
                    app,
                    admin,
                    iterations=iterations,
                    warmup=args.warmup,
                    progress=progress,
                )
    finally:
        engine.dispose()
    payload["load_average_after"] = load_average()
    print_table(payload)
    return payload


def print_table(payload: dict[str, Any]) -> None:
    table = Table(
        title=(
            f"{payload['profile']} profile, largest firm ({payload['firm_cases']:,} cases),"
            f" PostgreSQL {payload['postgres']}, {payload['iterations_per_variant']} runs per"
            f" variant, load {payload['load_average_before']}"
        ),
        title_justify="left",
    )
    for col in ("query", "p50 ms", "p95 ms", "p99 ms", "target p95", "floor p50", "ratio", "RLS"):
        table.add_column(col, justify="left" if col == "query" else "right")
    for name, r in payload["results"].items():
        if "unavailable" in r:
            table.add_row(name, "—", "—", "—", "", "", "", r["unavailable"])
            continue
        ok = "[green]" if r["meets_target"] else "[red]"
        table.add_row(
            name,
            f"{r['api']['p50']:.2f}",
            f"{ok}{r['api']['p95']:.2f}",
            f"{r['api']['p99']:.2f}",
            f"<= {r['target_p95_ms']:g}",
            f"{r['floor']['p50']:.2f}",
            f"{'[red]' if r['ratio_to_floor_p50'] > 1.5 else ''}{r['ratio_to_floor_p50']:.2f}",
            f"{'[red]' if r['rls_ratio_p50'] > 1.1 else ''}{r['rls_ratio_p50']:.2f}",
        )
    console.print(table)
