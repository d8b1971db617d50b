"""Operational statistics of a live database, read from the catalog and statistics views.

Used by ``legal-data stats``. Each report is a list of small dataclasses; a
:class:`StatsReport` collects them and says which are *findings* (something an operator
should act on):

- **top statements** by total execution time, from ``pg_stat_statements`` when the
  extension is installed in the database and loaded by the server
  (``shared_preload_libraries``); otherwise a clear message, never a failure;
- **unused indexes**: ``idx_scan = 0`` since the statistics were last reset. Unique and
  primary-key indexes (they enforce rules) and indexes backing a foreign key (the
  referencing side needs them for ``ON DELETE`` checks) are never proposed. They count
  as findings only when the statistics cover at least ``min_stats_age`` (a fresh
  database has used nothing yet);
- **duplicate indexes**: same table, access method, columns, operator classes,
  expressions and predicate — one is enough; and **redundant** ones, whose columns are a
  leading prefix of another non-partial index of the same table (same predicate);
- **table bloat**: the classic estimate from ``pg_class``/``pg_stats`` (row width,
  header, fill factor) of how much larger a table is than its live rows need, plus
  dead tuples from ``pg_stat_user_tables``; findings above a ratio and a size;
- **missing partitions**: every monthly ``RANGE`` partition of a partitioned table
  (today ``audit_logs``) from the current month to ``months_ahead`` months later, judged
  from the partitions' bounds, not their names; and rows in a default partition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

# -- top statements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopStatement:
    queryid: int | None
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    query: str


@dataclass(frozen=True)
class StatementsReport:
    available: bool
    message: str | None
    statements: list[TopStatement] = field(default_factory=list)


PGSS_MISSING = (
    "pg_stat_statements is not installed in this database: add pg_stat_statements to"
    " shared_preload_libraries (server restart), then CREATE EXTENSION pg_stat_statements"
)
PGSS_NOT_LOADED = (
    "pg_stat_statements is installed but the server did not load it: add it to"
    " shared_preload_libraries and restart the server"
)


def top_statements(conn: Connection, limit: int = 10) -> StatementsReport:
    """The ``limit`` statements of this database with the most total execution time."""
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_stat_statements'"
        )
    ).scalar()
    if schema is None:
        return StatementsReport(False, PGSS_MISSING)
    quoted = '"' + str(schema).replace('"', '""') + '"'
    query = text(
        f"SELECT queryid, calls, total_exec_time, mean_exec_time, rows, query"
        f" FROM {quoted}.pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY total_exec_time DESC LIMIT :n"
    )
    try:
        with conn.begin_nested():
            rows = conn.execute(query, {"n": limit}).all()
    except DBAPIError as exc:
        if "shared_preload_libraries" in str(exc.orig):
            return StatementsReport(False, PGSS_NOT_LOADED)
        raise
    return StatementsReport(
        True,
        None,
        [
            TopStatement(
                int(r[0]) if r[0] is not None else None,
                int(r[1]),
                round(float(r[2]), 3),
                round(float(r[3]), 3),
                int(r[4]),
                " ".join(str(r[5]).split()),
            )
            for r in rows
        ],
    )


# -- indexes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnusedIndex:
    table: str
    index: str
    size_bytes: int
    scans: int


@dataclass(frozen=True)
class DuplicateIndex:
    table: str
    index: str
    same_as: str
    kind: str  # "duplicate" or "redundant" (a leading prefix of same_as)
    size_bytes: int


def stats_since(conn: Connection) -> dt.datetime:
    """When this database's statistics started counting (last reset, else server start)."""
    return conn.execute(
        text(
            "SELECT coalesce(stats_reset, pg_postmaster_start_time()) FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
    ).scalar_one()


UNUSED_SQL = """
SELECT s.relname, s.indexrelname, pg_relation_size(s.indexrelid), s.idx_scan
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.schemaname = 'public'
  AND s.idx_scan = 0
  AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = s.indexrelid)
  -- An index whose leading columns are a foreign key's columns backs that key.
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint c
      WHERE c.contype = 'f' AND c.conrelid = i.indrelid
        AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
        AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
ORDER BY pg_relation_size(s.indexrelid) DESC, s.relname, s.indexrelname
"""


def unused_indexes(conn: Connection) -> list[UnusedIndex]:
    """Indexes never scanned since the statistics started (see the module docstring)."""
    return [UnusedIndex(r[0], r[1], int(r[2]), int(r[3])) for r in conn.execute(text(UNUSED_SQL))]


DUPLICATES_SQL = """
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, c.relam,
           -- int2vector/oidvector as 1-based arrays (array equality compares bounds too)
           string_to_array(i.indkey::text, ' ')::int2[] AS cols,
           string_to_array(i.indclass::text, ' ')::oid[] AS opclasses,
           string_to_array(i.indcollation::text, ' ')::oid[] AS collations,
           coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
           coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred,
           i.indisunique OR i.indisprimary AS enforces
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace = 'public'::regnamespace AND i.indisvalid
      AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
)
SELECT a.indrelid::regclass::text, a.indexrelid::regclass::text, b.indexrelid::regclass::text,
       CASE WHEN a.cols = b.cols THEN 'duplicate' ELSE 'redundant' END,
       pg_relation_size(a.indexrelid)
FROM idx a JOIN idx b
  ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid AND a.relam = b.relam
 AND a.exprs = b.exprs AND a.pred = b.pred AND NOT a.enforces
 AND cardinality(a.cols) <= cardinality(b.cols)
 AND a.cols = b.cols[1:cardinality(a.cols)]
 AND a.opclasses = b.opclasses[1:cardinality(a.opclasses)]
 AND a.collations = b.collations[1:cardinality(a.collations)]
 -- Of two identical indexes report one: the one with the larger oid (created later).
WHERE a.cols <> b.cols OR b.enforces OR a.indexrelid > b.indexrelid
ORDER BY 1, 2
"""


def duplicate_indexes(conn: Connection) -> list[DuplicateIndex]:
    """Indexes another index of the same table makes unnecessary."""
    return [
        DuplicateIndex(r[0], r[1], r[2], r[3], int(r[4]))
        for r in conn.execute(text(DUPLICATES_SQL))
    ]


# -- bloat ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableBloat:
    table: str
    size_bytes: int
    estimated_bloat_bytes: int
    bloat_ratio: float
    dead_tuples: int
    live_tuples: int


#: Expected size from the planner's statistics: rows x (tuple header + null bitmap + the
#: columns' average widths, aligned) / usable page space, honouring the fill factor. The
#: well-known estimate (it ignores TOAST, which is measured separately and not counted).
BLOAT_SQL = """
WITH cols AS (
    SELECT s.tablename, sum((1 - s.null_frac) * s.avg_width) AS data_width,
           bool_or(s.null_frac > 0) AS has_nulls, count(*) AS ncols
    FROM pg_stats s WHERE s.schemaname = 'public' GROUP BY s.tablename
),
t AS (
    SELECT c.oid, c.relname, c.reltuples, c.relpages,
           current_setting('block_size')::int AS bs,
           coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int
                     FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS ff,
           cols.data_width, cols.has_nulls, cols.ncols
    FROM pg_class c JOIN cols ON cols.tablename = c.relname
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
),
est AS (
    SELECT t.*,
           -- 23-byte header (+ null bitmap), MAXALIGN 8, + 4-byte line pointer.
           (ceil((23 + CASE WHEN has_nulls THEN ceil(ncols / 8.0) ELSE 0 END) / 8.0) * 8
            + ceil(data_width / 8.0) * 8 + 4) AS tuple_bytes
    FROM t
)
SELECT e.relname, e.relpages::bigint * e.bs,
       greatest(0, e.relpages - ceil(e.reltuples * e.tuple_bytes
                                    / ((e.bs - 24) * e.ff / 100.0)))::bigint * e.bs,
       coalesce(st.n_dead_tup, 0), coalesce(st.n_live_tup, 0)
FROM est e LEFT JOIN pg_stat_user_tables st ON st.relid = e.oid
WHERE e.reltuples >= 0 AND e.relpages > 0
ORDER BY 3 DESC, 1
"""


def table_bloat(conn: Connection) -> list[TableBloat]:
    """Estimated bloat of every analyzed table, largest first."""
    out = []
    for name, size, bloat, dead, live in conn.execute(text(BLOAT_SQL)):
        size, bloat = int(size), int(bloat)
        out.append(
            TableBloat(
                name, size, bloat, round(bloat / size, 3) if size else 0.0, int(dead), int(live)
            )
        )
    return out


# -- partitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingPartition:
    table: str
    month: str  # YYYY-MM


@dataclass(frozen=True)
class DefaultPartitionRows:
    table: str
    partition: str
    rows: int


#: Monthly bounds of every RANGE partition of the partitioned tables in ``public``.
BOUNDS_SQL = """
SELECT p.relname, c.relname, b[1]::timestamptz, b[2]::timestamptz
FROM pg_partitioned_table pt
JOIN pg_class p ON p.oid = pt.partrelid
JOIN pg_inherits i ON i.inhparent = p.oid
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(
    pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') b
WHERE p.relnamespace = 'public'::regnamespace AND pt.partstrat = 'r' AND b IS NOT NULL
"""
DEFAULTS_SQL = """
SELECT p.relname, c.relname
FROM pg_partitioned_table pt
JOIN pg_class p ON p.oid = pt.partrelid
JOIN pg_class c ON c.oid = pt.partdefid
WHERE p.relnamespace = 'public'::regnamespace
"""


def _month_starts(now: dt.datetime, months_ahead: int) -> list[dt.datetime]:
    out = []
    for i in range(months_ahead + 1):
        y, m = divmod(now.year * 12 + now.month - 1 + i, 12)
        out.append(dt.datetime(y, m + 1, 1, tzinfo=dt.UTC))
    return out


def missing_partitions(
    conn: Connection, months_ahead: int = 3, *, now: dt.datetime | None = None
) -> list[MissingPartition]:
    """Months from this one to ``months_ahead`` later not fully covered by a partition
    (of every partitioned table that has monthly RANGE partitions)."""
    now = now or conn.execute(text("SELECT statement_timestamp()")).scalar_one()
    now = now.astimezone(dt.UTC)
    by_table: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for parent, _part, lo, hi in conn.execute(text(BOUNDS_SQL)):
        by_table.setdefault(parent, []).append((lo, hi))
    missing = []
    for table, bounds in sorted(by_table.items()):
        for start in _month_starts(now, months_ahead):
            y, m = divmod(start.year * 12 + start.month, 12)
            end = dt.datetime(y, m + 1, 1, tzinfo=dt.UTC)
            if not any(lo <= start and end <= hi for lo, hi in bounds):
                missing.append(MissingPartition(table, f"{start:%Y-%m}"))
    return missing


def default_partition_rows(conn: Connection) -> list[DefaultPartitionRows]:
    """Default partitions that hold rows (they must stay empty: rows there mean a month
    was missing when they were written)."""
    out = []
    for parent, part in conn.execute(text(DEFAULTS_SQL)).all():
        quoted = '"' + part.replace('"', '""') + '"'
        rows = conn.execute(
            text(f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT 1000) x")
        ).scalar_one()
        if rows:
            out.append(DefaultPartitionRows(parent, part, int(rows)))
    return out


# -- everything ---------------------------------------------------------------------------------


@dataclass
class StatsReport:
    statements: StatementsReport
    stats_since: dt.datetime
    unused: list[UnusedIndex]
    unused_are_findings: bool
    duplicates: list[DuplicateIndex]
    bloat: list[TableBloat]
    bloated: list[TableBloat]
    missing_partitions: list[MissingPartition]
    default_partition_rows: list[DefaultPartitionRows]

    @property
    def findings(self) -> list[str]:
        out = [f"duplicate index: {d.index} ({d.kind} of {d.same_as})" for d in self.duplicates]
        if self.unused_are_findings:
            out += [f"unused index: {u.index} on {u.table}" for u in self.unused]
        out += [f"bloated table: {b.table} ({b.bloat_ratio:.0%})" for b in self.bloated]
        out += [f"missing partition: {m.table} {m.month}" for m in self.missing_partitions]
        out += [
            f"rows in default partition: {d.partition} ({d.rows})"
            for d in self.default_partition_rows
        ]
        return out

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = self.findings
        return data


def collect(
    conn: Connection,
    *,
    top: int = 10,
    months_ahead: int = 3,
    min_stats_age: dt.timedelta = dt.timedelta(days=7),
    bloat_ratio: float = 0.5,
    bloat_min_bytes: int = 64 * 1024 * 1024,
) -> StatsReport:
    """Every report; ``bloated`` are tables above ``bloat_ratio`` and ``bloat_min_bytes``."""
    since = stats_since(conn)
    now = conn.execute(text("SELECT statement_timestamp()")).scalar_one()
    bloat = table_bloat(conn)
    return StatsReport(
        statements=top_statements(conn, top),
        stats_since=since,
        unused=unused_indexes(conn),
        unused_are_findings=now - since >= min_stats_age,
        duplicates=duplicate_indexes(conn),
        bloat=bloat,
        bloated=[
            b
            for b in bloat
            if b.bloat_ratio >= bloat_ratio and b.estimated_bloat_bytes >= bloat_min_bytes
        ],
        missing_partitions=missing_partitions(conn, months_ahead, now=now),
        default_partition_rows=default_partition_rows(conn),
    )
