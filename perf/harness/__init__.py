"""The performance harness behind ``python -m perf``: seed, run, load (see perf/README.md).

- :mod:`.profiles` — dataset sizes and the skewed firm-size distribution;
- :mod:`.db` — which database, migrated how, and the application login;
- :mod:`.seed` — the deterministic bulk load and its verification;
- :mod:`.queries` — the measured query classes: the public API call and its raw SQL;
- :mod:`.run` — latency per query class (API under RLS, RLS alone, raw floor);
- :mod:`.load` — the mixed multi-firm workload through one pool (and through PgBouncer);
- :mod:`.pgbouncer` — a throwaway PgBouncer in transaction-pooling mode.
"""
