"""Partitions ahead of time, and archiving a finished month.

``ensure_partitions`` creates the monthly partitions from this month up to N months
ahead (the migration makes three; run ``legal-data audit partitions`` monthly from
cron). ``archive_month`` exports a month to a JSON-lines file with the seals that cover
it, checks the file, then detaches and drops the partition through
``audit_drop_partition()`` — which refuses months with unsealed rows. Months holding
audit rows of documents under legal hold are refused too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from legal_data.audit.merkle import leaf_hash
from legal_data.audit.seal import ROW_COLUMNS, canonical_row
from legal_data.errors import AuditError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def ensure_partitions(conn: Connection, months_ahead: int = 3) -> int:
    """Create missing monthly partitions; returns how many were created."""
    return conn.execute(
        text("SELECT audit_ensure_partitions(:n)"), {"n": months_ahead}
    ).scalar_one()


def partitions(conn: Connection) -> list[tuple[str, int]]:
    """(partition, rows) of the audit log, oldest first, the default partition last."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'audit_logs'::regclass ORDER BY c.relname = 'audit_logs_default',"
            " c.relname"
        )
    ).scalars()
    return [(n, conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names]


@dataclass(frozen=True)
class ArchiveResult:
    partition: str
    rows: int
    path: Path
    sha256: str


def _partition_for(month: str) -> tuple[str, dt.date]:
    m = _MONTH.match(month)
    if not m:
        raise AuditError(f"month must be YYYY-MM, got {month!r}")
    first = dt.date(int(m[1]), int(m[2]), 1)
    return f"audit_logs_p{first:%Y%m}", first


def archive_month(conn: Connection, month: str, directory: Path) -> ArchiveResult:
    """Export, verify and drop one finished month (needs a role that sees every firm)."""
    part, first = _partition_for(month)
    today = dt.datetime.now(dt.UTC).date().replace(day=1)
    if first >= today:
        raise AuditError(f"{month} is not finished yet")
    if conn.execute(text("SELECT to_regclass(:p)"), {"p": part}).scalar() is None:
        raise AuditError(f"no partition {part} (already archived?)")
    held = conn.execute(
        text(
            f'SELECT count(*) FROM "{part}" l JOIN documents d'
            " ON d.tenant_id = l.tenant_id AND d.id = l.row_id"
            " WHERE l.table_name = 'documents' AND d.legal_hold"
        )
    ).scalar_one()
    if held:
        raise AuditError(f"{month} holds {held} audit rows of documents under legal hold")
    unsealed = conn.execute(
        text(
            f'SELECT count(*) FROM "{part}" l WHERE NOT EXISTS ('
            " SELECT 1 FROM audit_seals s WHERE s.tenant_id = l.tenant_id"
            " AND l.txid >= s.txid_from AND l.txid < s.txid_to)"
        )
    ).scalar_one()
    if unsealed:
        raise AuditError(f"{month} has {unsealed} unsealed rows; run legal-data audit seal first")
    ym = f"{first:%Y%m}"
    spanning = conn.execute(
        text(
            "SELECT count(*) FROM audit_seals WHERE"
            " (to_char(occurred_from AT TIME ZONE 'UTC', 'YYYYMM') = :m)"
            " <> (to_char(occurred_to AT TIME ZONE 'UTC', 'YYYYMM') = :m)"
        ),
        {"m": ym},
    ).scalar_one()
    if spanning:
        raise AuditError(
            f"{spanning} sealed batches span {month} and a neighbouring month; archive the "
            "neighbouring month in the same run"
        )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"audit-{first:%Y-%m}.jsonl"
    digest = hashlib.sha256()
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        for seal in conn.execute(
            text(
                "SELECT tenant_id::text, batch_no, txid_from::text, txid_to::text, row_count,"
                " encode(merkle_root, 'hex'), encode(prev_seal_hash, 'hex'),"
                " encode(seal_hash, 'hex') FROM audit_seals"
                " WHERE to_char(occurred_from AT TIME ZONE 'UTC', 'YYYYMM') = :m"
                " ORDER BY tenant_id, batch_no"
            ),
            {"m": ym},
        ):
            line = json.dumps({"seal": list(seal)}, ensure_ascii=False) + "\n"
            out.write(line)
            digest.update(line.encode())
        # Per-statement streaming: Connection.execution_options() would turn every later
        # statement into a server-side cursor too (and hide it from the DDL guard).
        for row in conn.execute(
            text(f'SELECT {ROW_COLUMNS} FROM "{part}" ORDER BY tenant_id, txid, id'),
            execution_options={"stream_results": True},
        ):
            canon = canonical_row(tuple(row))
            line = (
                json.dumps(
                    {"row": canon.decode(), "leaf": leaf_hash(canon).hex()}, ensure_ascii=False
                )
                + "\n"
            )
            out.write(line)
            digest.update(line.encode())
            rows += 1
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest.hexdigest():
        raise AuditError(f"archive file {path} does not read back as written")
    dropped = conn.execute(
        text("SELECT audit_drop_partition(:p, :h)"), {"p": part, "h": digest.hexdigest()}
    ).scalar_one()
    if dropped != rows:
        raise AuditError(f"exported {rows} rows but the partition held {dropped}")
    return ArchiveResult(part, rows, path, digest.hexdigest())
