"""What auditing costs writers, and how fast a firm searches its trail.

    python -m perf.audit_overhead [--single 2000] [--bulk 100000] [--search-rows 5000000]

Against the server :func:`legal_data.db.provision.provide_postgres` picks (set
``LEGAL_DATA_TEST_DATABASE_URL`` to measure a real PostgreSQL 15), in a fresh database:

1. single-row transactions through the ORM as the app role (one party per transaction);
2. one bulk ``INSERT ... SELECT`` of N rows as the app role;

each with auditing off (triggers disabled on ``parties`` in this throwaway database),
with the shipped statement-level triggers, and with a row-level variant of the same
capture, so the choice between them rests on numbers; then

3. the audit search of one firm (one day and one month, newest 100) as the app role
   under Row Level Security, with ``--search-rows`` audit rows spread over 200 firms and
   the four monthly partitions.

Prints a table and writes JSON to ``perf/results/``. No assertion: this measures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from legal_data.db.provision import libpq_conninfo
from legal_data.models import Party
from legal_data.tenancy import tenant_session
from legal_data.tenancy.firms import new_firm
from legal_data.testing.harness import Harness, migrated_database

ACTOR = uuid.UUID("01890000-0000-7000-8000-0000000000ff")

ROW_LEVEL_CAPTURE = """
CREATE FUNCTION perf_audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    actor uuid := NULLIF(current_setting('app.current_user_id', true), '')::uuid;
    actor_role text := NULLIF(current_setting('app.current_user_role', true), '');
BEGIN
    IF actor IS NULL AND actor_role IS DISTINCT FROM 'system' THEN
        RAISE EXCEPTION 'no actor';
    END IF;
    INSERT INTO audit_logs (tenant_id, table_name, row_id, action, changed_values,
                            actor_id, actor_role, client_ip, user_agent, request_id, reason)
    VALUES (NEW.tenant_id, TG_TABLE_NAME, NEW.id, 'INSERT', to_jsonb(NEW), actor, actor_role,
            NULLIF(current_setting('app.client_ip', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), ''),
            NULLIF(current_setting('app.reason', true), ''));
    RETURN NULL;
END
$$;
ALTER FUNCTION perf_audit_row() OWNER TO legal_audit;
CREATE TRIGGER perf_audit_row AFTER INSERT ON parties
    FOR EACH ROW EXECUTE FUNCTION perf_audit_row();
"""

MODES = ("off", "statement", "row")


def set_mode(h: Harness, mode: str) -> None:
    with psycopg.connect(libpq_conninfo(h.admin_url), autocommit=True) as conn:
        has_row = conn.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'perf_audit_row'"
        ).fetchone()
        if not has_row:
            conn.execute(ROW_LEVEL_CAPTURE)
        for trig in ("audit_insert", "perf_audit_row"):
            conn.execute(f"ALTER TABLE parties DISABLE TRIGGER {trig}")
        if mode == "statement":
            conn.execute("ALTER TABLE parties ENABLE ALWAYS TRIGGER audit_insert")
        elif mode == "row":
            conn.execute("ALTER TABLE parties ENABLE ALWAYS TRIGGER perf_audit_row")


def single_row_tps(h: Harness, firm: uuid.UUID, n: int) -> dict[str, float]:
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        with tenant_session(h.app_sessions, firm, user_id=ACTOR, role="lawyer") as s:
            s.add(Party(tenant_id=firm, kind="person", name=f"単一行{i}"))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "tps": n / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


def bulk_insert_seconds(h: Harness, firm: uuid.UUID, n: int) -> float:
    with tenant_session(h.app_sessions, firm, user_id=ACTOR, role="lawyer") as s:
        t0 = time.perf_counter()
        s.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name)"
                " SELECT :t, app_uuid_v7(), 'company', '一括株式会社' || g"
                " FROM generate_series(1, :n) g"
            ),
            {"t": firm, "n": n},
        )
        s.flush()
        took = time.perf_counter() - t0
    return took


def load_search_rows(h: Harness, rows: int, firms: int = 200) -> tuple[uuid.UUID, dt.datetime]:
    """Spread ``rows`` audit rows over ``firms`` firms and the four monthly partitions;
    the searched firm gets 1/50 of them (a big firm)."""
    big = uuid.uuid4()
    month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(libpq_conninfo(h.admin_url), autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO audit_logs (tenant_id, occurred_at, table_name, row_id, action,
                                    changed_values, actor_id, actor_role)
            SELECT CASE WHEN mod(g, 50) = 0 THEN %(big)s::uuid
                        ELSE ('00000000-0000-4000-8000-'
                              || lpad(mod(g, %(firms)s)::text, 12, '0'))::uuid
                   END,
                   %(month)s::timestamptz + (mod(g, 118) || ' days')::interval
                       + (mod(g, 86400) || ' seconds')::interval,
                   'cases', gen_random_uuid(), 'UPDATE',
                   jsonb_build_object('status', 'open'), %(actor)s, 'lawyer'
            FROM generate_series(1, %(rows)s) g
            """,
            {"big": big, "firms": firms, "month": month, "actor": ACTOR, "rows": rows},
        )
        conn.execute("ANALYZE audit_logs")
    return big, month


def search_latency(
    h: Harness, firm: uuid.UUID, start: dt.datetime, span: dt.timedelta, n: int = 200
) -> dict[str, float]:
    sql = text(
        "SELECT id, occurred_at, table_name, action, actor_id FROM audit_logs"
        " WHERE tenant_id = :t AND occurred_at >= :lo AND occurred_at < :hi"
        " ORDER BY occurred_at DESC LIMIT 100"
    )
    times = []
    with tenant_session(h.app_sessions, firm, user_id=ACTOR) as s:
        for i in range(n + 20):
            # Even days only: the generated big firm writes on even day offsets.
            lo = start + dt.timedelta(days=2 * (i % 25)) if span.days == 1 else start
            t0 = time.perf_counter()
            got = s.execute(sql, {"t": firm, "lo": lo, "hi": lo + span}).all()
            if i >= 20:  # warm-up
                times.append(time.perf_counter() - t0)
        plan = s.execute(
            text("EXPLAIN (FORMAT JSON) " + str(sql.compile(compile_kwargs={}))),
            {"t": firm, "lo": start, "hi": start + span},
        ).scalar()
    times.sort()
    nodes = json.dumps(plan)
    return {
        "rows_returned": len(got),
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95)] * 1000,
        "partitions_scanned": nodes.count('"Relation Name": "audit_logs_p'),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--search-rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {platform.node()}, python {platform.python_version()}",
    }
    with migrated_database(prefix="legal_data_perf") as h:
        with h.admin_engine.connect() as c:
            result["postgres"] = c.execute(text("SHOW server_version")).scalar()
        firm = new_firm(h.admin_sessions, slug="perf-audit", name="性能測定事務所").id
        # Interleaved rounds, medians: a shared 2-core machine drifts; rotating the modes
        # spreads that drift over all of them instead of charging it to one.
        singles: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
        bulks: dict[str, list[float]] = {m: [] for m in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                set_mode(h, mode)
                single_row_tps(h, firm, 50)  # warm-up
                singles[mode].append(single_row_tps(h, firm, args.single))
                bulks[mode].append(bulk_insert_seconds(h, firm, args.bulk))
        for mode in MODES:
            result[f"single_{mode}"] = {
                k: statistics.median(r[k] for r in singles[mode]) for k in singles[mode][0]
            }
            result[f"bulk_{mode}_s"] = statistics.median(bulks[mode])
        set_mode(h, "statement")
        t0 = time.perf_counter()
        big, month = load_search_rows(h, args.search_rows)
        result["search_load_s"] = time.perf_counter() - t0
        result["search_rows"] = args.search_rows
        result["search_day"] = search_latency(h, big, month, dt.timedelta(days=1))
        result["search_month"] = search_latency(h, big, month, dt.timedelta(days=30))
    base_tps = result["single_off"]["tps"]
    print(f"{result['date']}  {result['machine']}  PostgreSQL {result['postgres']}")
    print("| measurement | off | statement-level (shipped) | row-level |")
    print("|---|---|---|---|")
    print(
        "| single-row transactions, TPS | "
        + " | ".join(f"{result[f'single_{m}']['tps']:.0f}" for m in MODES)
        + " |"
    )
    print(
        "| single-row p95 latency | "
        + " | ".join(f"{result[f'single_{m}']['p95_ms']:.2f} ms" for m in MODES)
        + " |"
    )
    print(
        f"| bulk INSERT of {args.bulk:,} rows | "
        + " | ".join(f"{result[f'bulk_{m}_s']:.2f} s" for m in MODES)
        + " |"
    )
    print(
        "| ratio to off (single TPS / bulk time) | 1 | "
        + " | ".join(
            f"{base_tps / result[f'single_{m}']['tps']:.2f}x / "
            f"{result[f'bulk_{m}_s'] / result['bulk_off_s']:.2f}x"
            for m in MODES[1:]
        )
        + " |"
    )
    for span in ("day", "month"):
        r = result[f"search_{span}"]
        print(
            f"audit search, one firm, one {span}, newest 100 at {args.search_rows:,} rows: "
            f"p50 {r['p50_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms "
            f"({r['rows_returned']} rows, {r['partitions_scanned']} partition(s) in the plan)"
        )
    out = Path(__file__).parent / "results" / f"audit_overhead_{result['date']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
