"""Time every Alembic revision on an empty database (upgrade and downgrade).

    python -m perf.migration_timings   # embedded (or $LEGAL_DATA_TEST_DATABASE_URL)
    python -m perf.migration_timings --json out.json

Each revision runs in its own transaction, as in production. The numbers go into the
README's migration table together with the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from legal_data.db import migrate
from legal_data.db.provision import provide_postgres
from legal_data.testing.harness import empty_database


def measure(repeat: int = 3) -> dict[str, object]:
    scripts = migrate.script_directory(migrate.alembic_config())
    order = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    up: dict[str, list[float]] = {r: [] for r in order}
    down: dict[str, list[float]] = {r: [] for r in order}
    with provide_postgres() as server:
        for _ in range(repeat):
            with empty_database(server, prefix="legal_data_perf") as url:
                for rev in order:
                    t0 = time.perf_counter()
                    migrate.upgrade(url, rev)
                    up[rev].append(time.perf_counter() - t0)
                for rev in reversed(order):
                    t0 = time.perf_counter()
                    migrate.downgrade(url, "-1")
                    down[rev].append(time.perf_counter() - t0)
        backend = server.backend
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.node()}, python {platform.python_version()}",
        "backend": backend,
        "repeat": repeat,
        "revisions": [
            {
                "revision": rev,
                "title": (scripts.get_revision(rev).doc or "").splitlines()[0],
                "upgrade_s_median": sorted(up[rev])[len(up[rev]) // 2],
                "downgrade_s_median": sorted(down[rev])[len(down[rev]) // 2],
            }
            for rev in order
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    result = measure(args.repeat)
    print(f"{result['date']} {result['machine']} backend={result['backend']}")
    print("| revision | what | upgrade (median) | downgrade (median) |")
    print("|---|---|---|---|")
    for r in result["revisions"]:  # type: ignore[union-attr]
        print(
            f"| {r['revision']} | {r['title']} | {r['upgrade_s_median'] * 1000:.0f} ms"
            f" | {r['downgrade_s_median'] * 1000:.0f} ms |"
        )
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main()
