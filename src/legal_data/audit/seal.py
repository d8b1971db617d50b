"""Sealing and verifying a firm's audit rows, without touching the write path.

Writers never hash, lock or wait. The sealer (``legal-data audit seal``) takes, per
firm, the rows whose transaction ids lie below the snapshot's xmin horizon — every such
transaction has finished, so the set is final without updating any audit row — orders
them by ``(txid, id)``, hashes each row's canonical serialization into an RFC 6962
Merkle tree, and appends a seal that chains to the firm's previous seal.

The canonical serialization (``hash_version`` 1) is a compact JSON array with sorted
object keys, UTF-8, and ``occurred_at`` as integer microseconds since the epoch, so it
does not depend on the session's TimeZone or DateStyle.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from legal_data.audit.merkle import inclusion_path, leaf_hash, root_from_leaves, verify_inclusion
from legal_data.errors import AuditError
from legal_data.tenancy.context import SYSTEM_ROLE, TenantContext
from legal_data.tenancy.session import render_context_sql

HASH_VERSION = 1
DEFAULT_BATCH_ROWS = 50_000

# Text casts get their own names so ORDER BY txid, id still means the columns.
ROW_COLUMNS = """
    hash_version, tenant_id::text AS tenant_text, id::text AS id_text,
    (extract(epoch FROM occurred_at) * 1000000)::bigint AS occurred_us,
    txid::text AS txid_text, table_name, row_id::text AS row_text, action, old_values,
    changed_values, actor_id::text AS actor_text, actor_role, host(client_ip) AS ip_text,
    user_agent, request_id, reason
"""


def canonical_row(row: tuple[Any, ...]) -> bytes:
    """The bytes a row's leaf hash is computed over (see the module docstring)."""
    values = list(row)
    if values[0] != HASH_VERSION:
        raise AuditError(f"unsupported audit hash_version {values[0]}")
    values[4] = int(values[4])  # txid
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )


def seal_hash(
    *,
    tenant_id: uuid.UUID,
    batch_no: int,
    txid_from: int,
    txid_to: int,
    row_count: int,
    merkle_root: bytes,
    prev_seal_hash: bytes | None,
) -> bytes:
    payload = [
        HASH_VERSION,
        str(tenant_id),
        batch_no,
        txid_from,
        txid_to,
        row_count,
        merkle_root.hex(),
        prev_seal_hash.hex() if prev_seal_hash else None,
    ]
    return hashlib.sha256(
        b"legal_data/audit-seal\x00" + json.dumps(payload, separators=(",", ":")).encode()
    ).digest()


def _set_tenant(conn: Connection, tenant_id: uuid.UUID) -> None:
    # Operators may run as the owner, which Row Level Security filters too (FORCE). The
    # tenant session's emitter renders the settings: the one place literals enter SQL.
    context = TenantContext(tenant_id=tenant_id, role=SYSTEM_ROLE, reason="audit sealing")
    conn.exec_driver_sql(render_context_sql(context), execution_options={"no_parameters": True})


def tenants_with_audit_rows(conn: Connection) -> list[uuid.UUID]:
    """Firms that have audit rows (needs a role that sees every firm: the operator's)."""
    return list(
        conn.execute(
            text(
                "SELECT id FROM tenants UNION SELECT DISTINCT tenant_id FROM audit_seals ORDER BY 1"
            )
        ).scalars()
    )


@dataclass(frozen=True)
class SealResult:
    tenant_id: uuid.UUID
    batch_no: int
    row_count: int
    merkle_root: bytes


def _batches(
    conn: Connection, tenant_id: uuid.UUID, txid_from: int, horizon: int, max_rows: int
) -> Iterator[tuple[int, list[bytes], Any, Any]]:
    """Yield (txid_to, leaf hashes, first occurred, last occurred) per batch; batches
    end on a transaction boundary so a transaction's rows are never split."""
    # Per-statement options: Connection.execution_options() would switch the whole
    # connection to server-side cursors, including the INSERTs that follow.
    result = conn.execute(
        text(
            f"SELECT {ROW_COLUMNS}, occurred_at FROM audit_logs"
            " WHERE tenant_id = :t AND txid >= CAST(:lo AS text)::xid8"
            " AND txid < CAST(:hi AS text)::xid8 ORDER BY txid, id"
        ),
        {"t": tenant_id, "lo": str(txid_from), "hi": str(horizon)},
        execution_options={"stream_results": True, "max_row_buffer": 5000},
    )
    leaves: list[bytes] = []
    first = last = None
    last_txid: int | None = None
    for row in result:
        txid = int(row[4])
        if len(leaves) >= max_rows and txid != last_txid:
            yield txid, leaves, first, last
            leaves, first = [], None
        leaves.append(leaf_hash(canonical_row(tuple(row[:16]))))
        first = first or row[16]
        last = row[16]
        last_txid = txid
    yield horizon, leaves, first, last


def seal_tenant(
    conn: Connection, tenant_id: uuid.UUID, *, max_rows: int = DEFAULT_BATCH_ROWS
) -> list[SealResult]:
    """Seal everything of one firm that is final. Runs in the caller's transaction;
    concurrent sealers of the same firm wait for each other (advisory lock), writers
    never do."""
    _set_tenant(conn, tenant_id)
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('legal_data.audit_seal:' || :t, 0))"),
        {"t": str(tenant_id)},
    )
    last = conn.execute(
        text(
            "SELECT batch_no, txid_to::text, seal_hash FROM audit_seals WHERE tenant_id = :t"
            " ORDER BY batch_no DESC LIMIT 1"
        ),
        {"t": tenant_id},
    ).first()
    batch_no, txid_from, prev = (last[0], int(last[1]), last[2]) if last else (0, 0, None)
    horizon = int(
        conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one()
    )
    if horizon <= txid_from:
        return []
    sealed = []
    for txid_to, leaves, first, last_at in _batches(conn, tenant_id, txid_from, horizon, max_rows):
        if not leaves:
            break  # nothing new: an idle firm gets no empty seals
        batch_no += 1
        root = root_from_leaves(leaves)
        digest = seal_hash(
            tenant_id=tenant_id,
            batch_no=batch_no,
            txid_from=txid_from,
            txid_to=txid_to,
            row_count=len(leaves),
            merkle_root=root,
            prev_seal_hash=prev,
        )
        conn.execute(
            text(
                "INSERT INTO audit_seals (tenant_id, batch_no, txid_from, txid_to, row_count,"
                " occurred_from, occurred_to, merkle_root, prev_seal_hash, seal_hash)"
                " VALUES (:t, :b, CAST(:f AS text)::xid8, CAST(:to AS text)::xid8, :n,"
                " :of, :ot, :root, :prev, :digest)"
            ),
            {
                "t": tenant_id,
                "b": batch_no,
                "f": str(txid_from),
                "to": str(txid_to),
                "n": len(leaves),
                "of": first,
                "ot": last_at,
                "root": root,
                "prev": prev,
                "digest": digest,
            },
        )
        sealed.append(SealResult(tenant_id, batch_no, len(leaves), root))
        txid_from, prev = txid_to, digest
    return sealed


@dataclass
class Finding:
    batch_no: int | None
    problem: str

    def __str__(self) -> str:
        where = f"batch {self.batch_no}" if self.batch_no is not None else "trail"
        return f"{where}: {self.problem}"


@dataclass
class VerifyReport:
    tenant_id: uuid.UUID
    seals: int = 0
    rows_verified: int = 0
    unsealed_rows: int = 0
    archived_batches: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_batch(self) -> int | None:
        batches = [f.batch_no for f in self.findings if f.batch_no is not None]
        return min(batches) if batches else None


def _archived_months(conn: Connection) -> set[str]:
    return {
        name.removeprefix("audit_logs_p")
        for name in conn.execute(text("SELECT partition_name FROM audit_archives")).scalars()
    }


def verify_tenant(conn: Connection, tenant_id: uuid.UUID) -> VerifyReport:
    """Recompute every seal of one firm from its rows and name what does not match."""
    _set_tenant(conn, tenant_id)
    report = VerifyReport(tenant_id)
    archived = _archived_months(conn)
    seals = conn.execute(
        text(
            "SELECT batch_no, txid_from::text, txid_to::text, row_count, merkle_root,"
            " prev_seal_hash, seal_hash, hash_version,"
            " to_char(occurred_from AT TIME ZONE 'UTC', 'YYYYMM'),"
            " to_char(occurred_to AT TIME ZONE 'UTC', 'YYYYMM')"
            " FROM audit_seals WHERE tenant_id = :t ORDER BY batch_no"
        ),
        {"t": tenant_id},
    ).all()
    report.seals = len(seals)
    expected_no, expected_from, prev = 1, 0, None
    for no, lo, hi, count, root, prev_hash, digest, version, month_from, month_to in seals:
        lo, hi = int(lo), int(hi)
        if version != HASH_VERSION:
            report.findings.append(Finding(no, f"unknown hash_version {version}"))
            continue
        if no != expected_no:
            report.findings.append(Finding(no, f"seal {expected_no} is missing"))
        if lo != expected_from:
            report.findings.append(Finding(no, "does not start where the previous seal ended"))
        if prev_hash != prev:
            report.findings.append(Finding(no, "does not chain to the previous seal"))
        recomputed = seal_hash(
            tenant_id=tenant_id,
            batch_no=no,
            txid_from=lo,
            txid_to=hi,
            row_count=count,
            merkle_root=root,
            prev_seal_hash=prev_hash,
        )
        if recomputed != digest:
            report.findings.append(Finding(no, "the seal itself was altered"))
        in_archive = count > 0 and month_from in archived and month_to in archived
        leaves = [
            leaf_hash(canonical_row(tuple(r)))
            for r in conn.execute(
                text(
                    f"SELECT {ROW_COLUMNS} FROM audit_logs WHERE tenant_id = :t"
                    " AND txid >= CAST(:lo AS text)::xid8 AND txid < CAST(:hi AS text)::xid8"
                    " ORDER BY txid, id"
                ),
                {"t": tenant_id, "lo": str(lo), "hi": str(hi)},
            )
        ]
        if in_archive and not leaves:
            report.archived_batches += 1
        elif len(leaves) != count:
            report.findings.append(
                Finding(no, f"holds {len(leaves)} rows, sealed {count} (rows deleted or inserted)")
            )
        elif root_from_leaves(leaves) != root:
            report.findings.append(Finding(no, "rows were edited or reordered (root mismatch)"))
        else:
            report.rows_verified += count
        expected_no, expected_from, prev = no + 1, hi, digest
    report.unsealed_rows = conn.execute(
        text(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = :t"
            " AND txid >= CAST(:lo AS text)::xid8"
        ),
        {"t": tenant_id, "lo": str(expected_from)},
    ).scalar_one()
    return report


@dataclass(frozen=True)
class InclusionProof:
    """Everything needed to check, without the database, that one audit row belongs to a
    sealed batch: hand it to a court together with the seal chain."""

    audit_id: uuid.UUID
    tenant_id: uuid.UUID
    batch_no: int
    leaf_index: int
    tree_size: int
    row: bytes  # canonical serialization of the row
    path: tuple[bytes, ...]
    merkle_root: bytes
    seal_hash: bytes

    def verify(self) -> bool:
        return verify_inclusion(
            leaf_hash(self.row), self.leaf_index, self.tree_size, self.path, self.merkle_root
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "audit_id": str(self.audit_id),
            "tenant_id": str(self.tenant_id),
            "batch_no": self.batch_no,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "row": self.row.decode("utf-8"),
            "path": [p.hex() for p in self.path],
            "merkle_root": self.merkle_root.hex(),
            "seal_hash": self.seal_hash.hex(),
            "hash_version": HASH_VERSION,
        }


def inclusion_proof(conn: Connection, tenant_id: uuid.UUID, audit_id: uuid.UUID) -> InclusionProof:
    """The proof that audit row ``audit_id`` is included in its firm's sealed batch."""
    _set_tenant(conn, tenant_id)
    txid = conn.execute(
        text("SELECT txid::text FROM audit_logs WHERE tenant_id = :t AND id = :i"),
        {"t": tenant_id, "i": audit_id},
    ).scalar()
    if txid is None:
        raise AuditError(f"no audit row {audit_id} for this firm")
    seal = conn.execute(
        text(
            "SELECT batch_no, txid_from::text, txid_to::text, merkle_root, seal_hash"
            " FROM audit_seals WHERE tenant_id = :t AND txid_from <= CAST(:x AS text)::xid8"
            " AND txid_to > CAST(:x AS text)::xid8"
        ),
        {"t": tenant_id, "x": txid},
    ).first()
    if seal is None:
        raise AuditError(f"audit row {audit_id} is not sealed yet; run legal-data audit seal")
    rows = conn.execute(
        text(
            f"SELECT id, {ROW_COLUMNS} FROM audit_logs WHERE tenant_id = :t"
            " AND txid >= CAST(:lo AS text)::xid8 AND txid < CAST(:hi AS text)::xid8"
            " ORDER BY txid, id"
        ),
        {"t": tenant_id, "lo": seal[1], "hi": seal[2]},
    ).all()
    canon = [canonical_row(tuple(r[1:])) for r in rows]
    leaves = [leaf_hash(c) for c in canon]
    index = next(i for i, r in enumerate(rows) if r[0] == audit_id)
    return InclusionProof(
        audit_id=audit_id,
        tenant_id=tenant_id,
        batch_no=seal[0],
        leaf_index=index,
        tree_size=len(leaves),
        row=canon[index],
        path=tuple(inclusion_path(leaves, index)),
        merkle_root=seal[3],
        seal_hash=seal[4],
    )
