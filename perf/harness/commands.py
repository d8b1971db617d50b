"""The three subcommands: resolve the database, do the work, print a table, write JSON."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import time
from pathlib import Path
from typing import Any

import psycopg

from legal_data.db import migrate
from legal_data.db.provision import libpq_conninfo
from perf.harness import db
from perf.harness.profiles import PROFILES
from perf.harness.seed import console, seed

RESULTS = Path(__file__).resolve().parents[1] / "results"


def machine() -> str:
    cpus = _cpu_count()
    mem = _mem_gib()
    return (
        f"{platform.machine()}, {cpus} CPU(s), {mem} GiB RAM, {platform.system()}"
        f" {platform.release()}, Python {platform.python_version()}"
    )


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _mem_gib() -> int:
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        return round(kb / 1024 / 1024)
    except OSError:
        return 0


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def write_result(kind: str, profile: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d")
    path = RESULTS / f"harness_{kind}_{profile}_{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def _has_firms(t: db.Target) -> bool:
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('public.tenants') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return False
        count = conn.execute("SELECT count(*) FROM tenants").fetchone()
        return bool(count and count[0])


def prepare_seeded(t: db.Target, profile: str) -> None:
    """Make sure ``t`` holds the profile's dataset (seeding it when it cannot persist)."""
    if t.ephemeral or not db.database_exists(t) or not _has_firms(t):
        console.print(
            f"[yellow]no seeded database at {t.admin_url.database}: seeding profile"
            f" {profile} first[/yellow]"
            + (" (embedded server: it lives only as long as this command)" if t.ephemeral else "")
        )
        _seed(t, profile)


def _seed(
    t: db.Target, profile_name: str, *, search_index: str = "largest", conflict_keys: bool = False
) -> dict[str, Any]:
    profile = PROFILES[profile_name]
    t0 = time.perf_counter()
    if t.owned:
        db.recreate(t)
    else:
        if _has_firms(t):
            raise SystemExit(
                f"{t.admin_url.database} already holds firms: seed an empty database"
                " (or omit --database-url to use the harness's own legal_perf_<profile>)"
            )
        migrate.upgrade(t.admin_url)
    migrated = time.perf_counter() - t0
    report = seed(t, profile, search_index=search_index, conflict_keys=conflict_keys)
    payload = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_after": load_average(),
        "postgres": db.server_version(t),
        "migrate_seconds": round(migrated, 1),
        "search_index": search_index,
        "conflict_keys": conflict_keys,
        **dataclasses.asdict(report),
        "ok": report.ok,
    }
    from rich.table import Table

    table = Table(title=f"seed {profile_name}: {report.total_seconds:.0f} s", title_justify="left")
    for col in ("table", "rows", "expected"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, rows in report.rows.items():
        exp = report.expected.get(name)
        table.add_row(name, f"{rows:,}", f"{exp:,}" if exp is not None else "")
    console.print(table)
    console.print("steps (s): " + ", ".join(f"{k} {v}" for k, v in report.steps.items()))
    if any(report.orphans.values()):
        console.print(f"[red]orphans[/red]: {report.orphans}")
    if report.posture_findings:
        console.print(f"[red]posture findings[/red]: {report.posture_findings}")
    if report.drift:
        console.print(f"[red]schema drift[/red]: {report.drift}")
    console.print(
        "[green]verified[/green]: row counts, no orphans, posture clean, no drift"
        if report.ok
        else "[red]verification failed[/red]"
    )
    return payload


def seed_command(args: argparse.Namespace) -> int:
    with db.target(args.database_url, args.profile) as t:
        if t.ephemeral:
            console.print(
                "[yellow]no LEGAL_DATA_TEST_DATABASE_URL / --database-url: seeding an embedded"
                " server that is removed when this command ends[/yellow]"
            )
        payload = _seed(
            t, args.profile, search_index=args.search_index, conflict_keys=args.conflict_keys
        )
    path = write_result("seed", args.profile, payload)
    console.print(f"wrote {path}")
    return 0 if payload["ok"] else 1


def run_command(args: argparse.Namespace) -> int:
    from perf.harness.run import run

    with db.target(args.database_url, args.profile) as t:
        prepare_seeded(t, args.profile)
        payload = run(t, args)
    payload["machine"] = machine()
    path = write_result("run", args.profile, payload)
    console.print(f"wrote {path}")
    return 0


def load_command(args: argparse.Namespace) -> int:
    from perf.harness.load import load

    with db.target(args.database_url, args.profile) as t:
        prepare_seeded(t, args.profile)
        payload = load(t, args)
    payload["machine"] = machine()
    path = write_result("load", args.profile, payload)
    console.print(f"wrote {path}")
    ok = all(
        r.get("errors", 1) == 0 and r.get("cross_tenant_rows", 1) == 0 for r in payload["runs"]
    )
    return 0 if ok else 1
