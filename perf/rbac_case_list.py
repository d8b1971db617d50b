"""The cost of the case list with RBAC and ethical walls, against the same list without.

    python -m perf.rbac_case_list [--cases 3000] [--runs 300]

In a fresh database (the server :func:`legal_data.db.provision.provide_postgres` picks):
one firm with ``--cases`` cases (bulk-loaded, ANALYZEd), a partner (firm scope) and an
associate (assigned to 5 % of the cases), both walled from 50 cases. Times, as the app
role under Row Level Security, the median of ``--runs`` executions of the open-case list
(newest 50, ``status = 'open'``) for:

- ``baseline``: the plain query, with the wall policies dropped (in a rolled-back admin
  transaction that then acts as the app role);
- ``walls``: the plain query with the wall policies in place (a walled user);
- ``walls+rbac(firm)``: plus ``authorized(..., "case:read")`` for the partner;
- ``walls+rbac(assigned)``: plus ``authorized(..., "case:read")`` for the associate.

Variants run in interleaved blocks (load on a shared machine hits all alike).
``unscreened`` is a user without a wall (the wall policy is still evaluated). Prints the
ratios to the baseline (target: at most 1.3) and writes JSON to perf/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from legal_data.models import Case
from legal_data.rbac import admin
from legal_data.rbac.authorize import authorized
from legal_data.rbac.resolve import resolve
from legal_data.rbac.walls import CASE_TABLES, CHILD_TABLES
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.firms import new_firm
from legal_data.testing.harness import migrated_database

CASE_LIST = (
    select(Case)
    .where(Case.status == "open", Case.deleted_at.is_(None))
    .order_by(Case.opened_on.desc())
    .limit(50)
)
LOAD = """
SET LOCAL session_replication_role = replica;
SET LOCAL app.current_user_role = 'system';
INSERT INTO parties (tenant_id, id, kind, name)
    VALUES (:f, gen_random_uuid(), 'company', '性能測定');
INSERT INTO clients (tenant_id, id, party_id, client_code, status)
    SELECT tenant_id, gen_random_uuid(), id, 'C-PERF', 'active' FROM parties WHERE tenant_id = :f;
INSERT INTO cases (tenant_id, id, display_number, title, practice_area, status, client_id,
                   opened_on, closed_on)
    SELECT c.tenant_id, gen_random_uuid(), g, '事件' || g, 'civil',
           (ARRAY['intake', 'open', 'pending', 'closed', 'archived'])[1 + g % 5],
           c.id, DATE '2020-01-01' + g % 2000,
           CASE WHEN g % 5 IN (3, 4) THEN DATE '2020-01-01' + g % 2000 + 30 END
    FROM clients c CROSS JOIN generate_series(1, :n) g WHERE c.tenant_id = :f
"""


def _times(fn: Any, runs: int) -> list[float]:
    for _ in range(10):  # warm up (psycopg prepares a statement after 5 executions)
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def _sql(conn: Any, stmt: Any) -> str:
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn
    return str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    out: dict[str, Any] = {"cases": args.cases, "runs": args.runs}
    with migrated_database(prefix="legal_data_perf") as h:
        firm = new_firm(h.admin_sessions, slug="perf", name="性能測定事務所").id
        with h.admin_engine.begin() as conn:
            for stmt in LOAD.split(";\n"):
                conn.execute(text(stmt), {"f": firm, "n": args.cases})
        with tenant_scope(firm, role="system"), h.app_sessions() as s, s.begin():
            from legal_data.models import CaseAssignment, User

            users = []
            for i, role in enumerate(
                ("パートナー弁護士", "アソシエイト弁護士", "パートナー弁護士")
            ):
                u = User(
                    tenant_id=firm,
                    email=f"perf{i}@example.jp",
                    display_name=f"弁護士{i}",
                    kind="lawyer",
                )
                s.add(u)
                s.flush()
                admin.assign(s, None, u.id, admin.role_by_name(s, role).id)
                users.append(u.id)
            ids = list(s.scalars(select(Case.id).order_by(Case.display_number)))
            for case_id in ids[::20]:
                s.add(
                    CaseAssignment(
                        tenant_id=firm, case_id=case_id, user_id=users[1], role="assistant"
                    )
                )
            from legal_data.models import EthicalWall

            for case_id in ids[5::60][:50]:
                for u in users[:2]:
                    s.add(EthicalWall(tenant_id=firm, case_id=case_id, user_id=u, reason="perf"))
        with h.admin_engine.begin() as conn:
            conn.execute(text("ANALYZE"))

        variants = {
            "walls(unscreened)": (users[2], False),
            "walls+rbac(firm,unscreened)": (users[2], True),
            "walls": (users[0], False),
            "walls+rbac(firm)": (users[0], True),
            "walls+rbac(assigned)": (users[1], True),
        }
        samples: dict[str, list[float]] = {k: [] for k in ("baseline", *variants)}
        block = max(1, args.runs // 10)
        drop = "".join(f"DROP POLICY ethical_wall ON {t};" for t in (*CASE_TABLES, *CHILD_TABLES))
        # Interleaved blocks, so load on a shared machine hits every variant alike.
        for _ in range(10):
            for name, (user_id, with_rbac) in variants.items():
                with tenant_scope(firm, user_id=user_id), h.app_sessions() as s, s.begin():
                    stmt = CASE_LIST
                    if with_rbac:
                        stmt = authorized(CASE_LIST, resolve(s, user_id), "case:read")
                    q = text(_sql(s, stmt))
                    samples[name] += _times(lambda q=q, s=s: s.execute(q).all(), block)
            # The baseline: the same query as the app role with the wall policies dropped,
            # inside an admin transaction that is rolled back.
            with h.admin_engine.connect() as conn, conn.begin() as tx:
                conn.execute(text(drop))
                conn.execute(text("SET LOCAL ROLE legal_app"))
                conn.execute(text(f"SET LOCAL app.current_tenant_id = '{firm}'"))
                conn.execute(text(f"SET LOCAL app.current_user_id = '{users[0]}'"))
                q = text(_sql(conn, CASE_LIST))
                samples["baseline"] += _times(lambda q=q, c=conn: c.execute(q).all(), block)
                tx.rollback()
        for name, xs in samples.items():
            out[name] = statistics.median(xs)
    base = out["baseline"]
    print(f"case list, {args.cases} cases, median of {args.runs} runs (ms):")
    keys = (
        "baseline",
        "walls(unscreened)",
        "walls+rbac(firm,unscreened)",
        "walls",
        "walls+rbac(firm)",
        "walls+rbac(assigned)",
    )
    for k in keys:
        print(f"  {k:22s} {out[k]:7.3f} ms   x{out[k] / base:.2f}")
    out["ratios"] = {
        k: out[k] / base for k in ("walls", "walls+rbac(firm)", "walls+rbac(assigned)")
    }
    out["platform"] = platform.platform()
    path = Path(__file__).parent / "results" / f"rbac_case_list-{dt.date.today()}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
