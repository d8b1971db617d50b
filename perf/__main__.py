"""``python -m perf seed|run|load``: the benchmark harness (see perf/README.md).

    python -m perf seed --profile small|large [--database-url ADMIN_URL]
    python -m perf run  --profile small|large [--iterations N] [--database-url ADMIN_URL]
    python -m perf load --profile small|large --clients 64 --seconds 60 [--pgbouncer]

The database is ``--database-url`` / ``LEGAL_DATA_ADMIN_URL`` (a superuser URL: the seed
loads in bulk as the owner), else ``legal_perf_<profile>`` on the server of
``LEGAL_DATA_TEST_DATABASE_URL``, else an embedded throwaway server (then ``run`` and
``load`` seed first, since the server dies with the command).
"""

from __future__ import annotations

import argparse
import sys

from perf.harness.profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", choices=sorted(PROFILES), default="small")
        p.add_argument("--database-url", default=None, help="admin (superuser) URL")

    p_seed = sub.add_parser("seed", help="build the deterministic dataset")
    common(p_seed)
    p_seed.add_argument(
        "--search-index",
        choices=("largest", "all", "none"),
        default="largest",
        help="whose documents to index for search (Python normalizer, ~2 ms per document)",
    )
    p_seed.add_argument(
        "--conflict-keys",
        action="store_true",
        help="also derive conflict-check name keys of every party (revision 0018 backfill)",
    )

    p_run = sub.add_parser("run", help="measure every query class")
    common(p_run)
    p_run.add_argument("--iterations", type=int, default=None, help="measured runs per variant")
    p_run.add_argument("--warmup", type=int, default=20)
    p_run.add_argument("--only", nargs="*", default=None, help="query classes to run")

    p_load = sub.add_parser("load", help="mixed read/write load of many firms")
    common(p_load)
    p_load.add_argument("--clients", type=int, default=64)
    p_load.add_argument("--seconds", type=float, default=60.0)
    p_load.add_argument("--pool-size", type=int, default=50)
    p_load.add_argument(
        "--pgbouncer", action="store_true", help="also run the load through PgBouncer"
    )
    p_load.add_argument(
        "--pgbouncer-only", action="store_true", help="only the run through PgBouncer"
    )

    args = parser.parse_args(argv)
    if args.command == "seed":
        from perf.harness.commands import seed_command

        return seed_command(args)
    if args.command == "run":
        from perf.harness.commands import run_command

        return run_command(args)
    from perf.harness.commands import load_command

    return load_command(args)


if __name__ == "__main__":
    sys.exit(main())
