"""Many firms at once through one pool: nobody sees anybody else's rows, no write is lost.

100 concurrent workers (threads, and separately asyncio tasks) for 20 firms share one
pool of 50 connections. Every worker loops until the deadline; each round picks the next
firm, writes a canary row in one transaction, then in a new transaction reads the firm's
rows and checks that (a) every row belongs to the firm, (b) exactly the canaries this
worker committed for this firm are there, (c) the transaction's tenant setting is the
firm's. At the end the admin engine checks that every committed canary is stored, for
the right firm, and nothing else.

Sizes come from the environment, for longer runs::

    LEGAL_DATA_CONCURRENCY_SECONDS=60 LEGAL_DATA_CONCURRENCY_WORKERS=200 pytest ...

The deadline only bounds the run; nothing is asserted about time.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

from legal_data.db.engine import create_async_tenant_engine, create_tenant_engine
from legal_data.models import Party
from legal_data.tenancy import (
    async_tenant_session,
    async_tenant_sessionmaker,
    tenant_session,
    tenant_sessionmaker,
)
from legal_data.testing.plugin import TEST_ACTOR, make_tenant

SECONDS = float(os.environ.get("LEGAL_DATA_CONCURRENCY_SECONDS", "1.5"))
WORKERS = int(os.environ.get("LEGAL_DATA_CONCURRENCY_WORKERS", "100"))
FIRMS = int(os.environ.get("LEGAL_DATA_CONCURRENCY_FIRMS", "20"))
POOL = int(os.environ.get("LEGAL_DATA_CONCURRENCY_POOL", "50"))

pytestmark = pytest.mark.slow

READ = text(
    "SELECT current_setting('app.current_tenant_id') AS setting, pg_backend_pid() AS pid, "
    "count(*) FILTER (WHERE tenant_id <> :firm) AS foreign_rows, "
    "count(*) FILTER (WHERE name LIKE :mine) AS mine "
    "FROM parties"
)


@dataclass
class Tally:
    """What one worker did and saw."""

    committed: Counter = field(default_factory=Counter)  # firm -> canaries committed
    rounds: int = 0
    problems: list[str] = field(default_factory=list)
    backends: set[int] = field(default_factory=set)

    def check(self, firm: uuid.UUID, row, mine: int) -> None:
        self.backends.add(row.pid)
        if row.setting != str(firm):
            self.problems.append(f"tenant setting {row.setting} while working for {firm}")
        if row.foreign_rows:
            self.problems.append(f"{row.foreign_rows} foreign rows seen by {firm}")
        if row.mine != mine:
            self.problems.append(f"{firm}: saw {row.mine} of my canaries, committed {mine}")


@pytest.fixture
def firms(legal_db) -> list[uuid.UUID]:
    return [make_tenant(legal_db, f"conc-{i:03d}", f"並行テスト事務所{i}").id for i in range(FIRMS)]


def _party(worker: int, firm: uuid.UUID, n: int) -> Party:
    return Party(tenant_id=firm, kind="person", name=f"w{worker:04d}-{n:06d}")


def _verify_store(legal_db, tallies: list[Tally], firms: list[uuid.UUID]) -> None:
    problems = [p for t in tallies for p in t.problems]
    assert problems == [], problems[:20]
    assert all(t.rounds > 0 for t in tallies), "every worker must have run"
    backends = set().union(*(t.backends for t in tallies))
    assert len(backends) > 1, "the workers did not share a pool of several connections"
    assert len(backends) <= POOL
    with legal_db.admin_engine.connect() as conn:
        rows = conn.execute(select(Party.tenant_id, Party.name).where(Party.tenant_id.in_(firms)))
        stored = Counter((firm, name.split("-")[0]) for firm, name in rows)
    expected = Counter(
        {
            (firm, f"w{worker:04d}"): n
            for worker, t in enumerate(tallies)
            for firm, n in t.committed.items()
        }
    )
    assert stored == expected, "lost or misplaced writes"
    assert sum(expected.values()) >= len(tallies)


def test_threads_share_one_pool_without_crossing_firms(legal_db, firms):
    engine = create_tenant_engine(
        legal_db.app_url, pool_size=POOL, max_overflow=0, pool_timeout=120
    )
    sessions = tenant_sessionmaker(engine)
    start = threading.Barrier(WORKERS)
    tallies = [Tally() for _ in range(WORKERS)]

    def work(worker: int) -> None:
        tally = tallies[worker]
        start.wait()
        deadline = time.monotonic() + SECONDS
        while tally.rounds == 0 or time.monotonic() < deadline:
            firm = firms[(worker + tally.rounds) % len(firms)]
            n = tally.rounds
            with tenant_session(sessions, firm, role="concurrency", user_id=TEST_ACTOR) as s:
                s.add(_party(worker, firm, n))
            tally.committed[firm] += 1
            with tenant_session(sessions, firm, user_id=TEST_ACTOR) as s:
                row = s.execute(READ, {"firm": firm, "mine": f"w{worker:04d}-%"}).one()
            tally.check(firm, row, tally.committed[firm])
            tally.rounds += 1

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for f in [pool.submit(work, i) for i in range(WORKERS)]:
                f.result()
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()
    _verify_store(legal_db, tallies, firms)


async def test_asyncio_tasks_share_one_pool_without_crossing_firms(legal_db, firms):
    engine = create_async_tenant_engine(
        legal_db.app_url, pool_size=POOL, max_overflow=0, pool_timeout=120
    )
    factory = async_tenant_sessionmaker(engine)
    tallies = [Tally() for _ in range(WORKERS)]
    go = asyncio.Event()

    async def work(worker: int) -> None:
        tally = tallies[worker]
        await go.wait()
        deadline = time.monotonic() + SECONDS
        while tally.rounds == 0 or time.monotonic() < deadline:
            firm = firms[(worker + tally.rounds) % len(firms)]
            async with async_tenant_session(
                factory, firm, role="concurrency", user_id=TEST_ACTOR
            ) as s:
                s.add(_party(worker, firm, tally.rounds))
            tally.committed[firm] += 1
            async with async_tenant_session(factory, firm, user_id=TEST_ACTOR) as s:
                result = await s.execute(READ, {"firm": firm, "mine": f"w{worker:04d}-%"})
                row = result.one()
            tally.check(firm, row, tally.committed[firm])
            tally.rounds += 1

    try:
        tasks = [asyncio.create_task(work(i)) for i in range(WORKERS)]
        go.set()
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()
    _verify_store(legal_db, tallies, firms)
