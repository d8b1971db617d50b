"""Index rows from source rows, the firm's lexeme token, and the queue drain.

The database decides *what* must be (re)indexed — triggers on ``documents``,
``document_versions``, ``cases`` and ``communications`` put every changed entity on
``search_queue``, whoever wrote it and however — and this module decides *how*: it reads
the entity, runs the one Python normalizer (:mod:`legal_data.search.normalize`) and
writes the index rows. Queries are normalized by the same code, so index and queries
cannot drift apart; no SQL re-implementation of the normalizer exists to disagree.

When indexing happens:

- **at commit of a tenant session** (:mod:`legal_data.search.hooks`): entities queued by
  the session's own transaction — ORM flushes, Core statements and ``text()`` SQL run
  through the session — are indexed just before COMMIT, in the same transaction, so a
  committed write is searchable at once (up to :data:`MAX_INLINE` entities per commit;
  the rest wait for the drain);
- **by** :func:`drain` (``legal-data search drain``, or an application job): whatever is
  still queued — writes made outside the library (psql, another service, a bulk load),
  entities a screened user's transaction could not see, overflow from big commits.
  :func:`pending` counts the backlog;
- **by** :func:`reindex`: a whole firm, e.g. after :data:`NORMALIZER_VERSION` changes.

Index rows hold text-derived data only; filters (case, category, status, deletion,
sort time) are copied into them by the triggers synchronously, and the search functions
re-check the source rows anyway, so a queued (not yet re-indexed) entity can be stale in
*text* for a while but never in who may see it.

**The firm's token.** Every lexeme is prefixed with :func:`tenant_token` (5 characters
of a keyed hash of the firm id), so GIN posting lists are per firm: a two-character
query in a firm of 100,000 documents reads that firm's postings, not those of every
firm on the server (measured in ``perf/search_latency.py``; the alternative, a
``btree_gin`` index on ``(tenant_id, lexemes)``, intersects the firm's 100,000-entry
posting list with the bigram's on every query). The token is a performance device, not
a boundary: the search functions always filter ``tenant_id`` too, so a collision only
adds candidates that are then discarded.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from legal_data.ids import new_id
from legal_data.search.hooks import NO_COMMIT_INDEXING
from legal_data.search.normalize import (
    CHUNK_CHARS,
    CHUNK_OVERLAP,
    FIELD_SEPARATOR,
    NORMALIZER_VERSION,
    chunks,
    index_lexemes,
    normalize_text,
    normalize_with_map,
)
from legal_data.search.sql import OFFSET_STEP
from legal_data.tenancy.context import current_context

TOKEN_CHARS: Final = 5
#: Marks every chunk of an entity indexed in more than one chunk (never a normalized
#: character, so no bigram can collide with it).
SPLIT_MARK: Final = "#"
#: Entities indexed inline at commit; more stay queued for :func:`drain`.
MAX_INLINE: Final = 1000
KINDS: Final = ("document", "case", "communication")


def tenant_token(tenant_id: uuid.UUID) -> str:
    """The lexeme prefix of firm ``tenant_id``: 5 base32 characters of a BLAKE2b hash."""
    digest = hashlib.blake2b(tenant_id.bytes, digest_size=8, person=b"ld-search-v1").digest()
    return base64.b32encode(digest).decode("ascii")[:TOKEN_CHARS].lower()


# -- from fields to chunks ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """One index row's text-derived columns."""

    chunk_no: int
    search_norm: str
    lexemes: list[str]
    offsets: list[int]


def _combined(fields: Sequence[str]) -> tuple[str, list[int], list[int]]:
    """``search_document(*fields)`` plus, per character, its span in ``"\\n".join(fields)``.

    The separator between two non-empty normalized fields maps to the newline that
    precedes the second field in the original join (empty fields keep their newline
    there too, so the original offsets match the SQL ``head || E'\\n' || body``)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    base = 0
    for field in fields:
        mapped = normalize_with_map(field)
        if mapped.text:
            if out:
                out.append(FIELD_SEPARATOR)
                starts.append(base - 1)
                ends.append(base)
            out.append(mapped.text)
            starts.extend(base + s for s in mapped.starts)
            ends.extend(base + e for e in mapped.ends)
        base += len(field) + 1
    return "".join(out), starts, ends


def index_chunks(token: str, fields: Sequence[str]) -> list[Chunk]:
    """The chunks of an entity whose indexed text is ``"\\n".join(fields)``.

    Empty when the fields normalize to nothing (such an entity cannot match a query).
    """
    norm, starts, ends = _combined(fields)
    if not norm:
        return []
    total = sum(len(f) for f in fields) + len(fields) - 1  # len("\n".join(fields))
    pieces = chunks(norm)
    step = CHUNK_CHARS - CHUNK_OVERLAP
    split = [token + SPLIT_MARK] if len(pieces) > 1 else []
    out = []
    for no, piece in enumerate(pieces):
        first = no * step
        offsets = [starts[first + k] for k in range(0, len(piece), OFFSET_STEP)]
        # The end of the chunk; the last one runs to the end of the text (trailing
        # punctuation, which normalizes to nothing, still belongs in a snippet).
        offsets.append(total if no == len(pieces) - 1 else ends[first + len(piece) - 1])
        lexemes = [token + lexeme for lexeme in index_lexemes(piece)] + split
        out.append(Chunk(no, piece, lexemes, offsets))
    return out


# -- the three kinds ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    name: str
    table: str
    entity: str  # the index table's entity column
    # Source rows by id, locked against concurrent change while indexing. SKIP LOCKED: a
    # row a writer holds is left queued (its writer queues it again anyway) rather than
    # waited for — waiting while holding queue rows could deadlock with that writer,
    # whose trigger wants the same queue row.
    load: str
    meta: tuple[str, ...]  # filter columns copied from the source row
    source: str  # the source table


_KINDS: Final = {
    "document": _Kind(
        "document",
        "search_documents",
        "document_id",
        """
        SELECT d.id, d.title, ARRAY[d.title, coalesce(d.description, ''),
                                    coalesce(v.extracted_text, '')] AS fields,
               d.updated_at AS sort_at, d.case_id, d.category_id,
               d.deleted_at IS NOT NULL AS deleted
        FROM documents d
        LEFT JOIN document_versions v ON v.tenant_id = d.tenant_id AND v.id = d.current_version_id
        WHERE d.tenant_id = :tenant AND d.id = ANY(:ids)
        FOR SHARE OF d SKIP LOCKED
        """,
        ("case_id", "category_id", "deleted"),
        "documents",
    ),
    "case": _Kind(
        "case",
        "search_cases",
        "case_id",
        """
        SELECT k.id, k.title, ARRAY[k.title, coalesce(k.description, '')] AS fields,
               k.updated_at AS sort_at, k.status AS case_status,
               k.deleted_at IS NOT NULL AS deleted
        FROM cases k
        WHERE k.tenant_id = :tenant AND k.id = ANY(:ids)
        FOR SHARE SKIP LOCKED
        """,
        ("case_status", "deleted"),
        "cases",
    ),
    "communication": _Kind(
        "communication",
        "search_communications",
        "communication_id",
        # The subject only: bodies are encrypted, and bigrams of them would be plaintext.
        """
        SELECT m.id, coalesce(m.subject, '') AS title, ARRAY[coalesce(m.subject, '')] AS fields,
               m.occurred_at AS sort_at, m.case_id, m.channel
        FROM communications m
        WHERE m.tenant_id = :tenant AND m.id = ANY(:ids)
        FOR SHARE SKIP LOCKED
        """,
        ("case_id", "channel"),
        "communications",
    ),
}


#: SQL types of the copied filter columns (the upsert unnests one array per column).
_META_TYPES: Final = {
    "case_id": "uuid",
    "category_id": "uuid",
    "deleted": "boolean",
    "case_status": "text",
    "channel": "text",
}


def _upsert_sql(kind: _Kind) -> Any:
    """One statement for a whole batch: parallel arrays, unnested. Lexemes and offsets
    travel as one string each (lexemes never contain a space, offsets are integers)."""
    cols = ", ".join(kind.meta)
    arrays = ", ".join(f"CAST(:{c} AS {_META_TYPES[c]}[])" for c in kind.meta)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in kind.meta)
    return text(
        f"""
        INSERT INTO {kind.table} (tenant_id, id, {kind.entity}, chunk_no, n_chunks, sort_at,
                                  title_norm, search_norm, lexemes, offsets,
                                  normalizer_version, {cols})
        SELECT :tenant, u.id, u.entity, u.chunk_no, u.n_chunks, u.sort_at, u.title_norm,
               u.search_norm, array_to_tsvector(string_to_array(u.lexemes, ' ')),
               CAST(string_to_array(u.offsets, ',') AS integer[]), :version, {
            ", ".join(f"u.{c}" for c in kind.meta)
        }
        FROM unnest(CAST(:ids AS uuid[]), CAST(:entities AS uuid[]),
                    CAST(:chunk_nos AS smallint[]), CAST(:n_chunks AS smallint[]),
                    CAST(:sort_ats AS timestamptz[]), CAST(:title_norms AS text[]),
                    CAST(:search_norms AS text[]), CAST(:lexemes AS text[]),
                    CAST(:offsets AS text[]), {arrays})
             AS u (id, entity, chunk_no, n_chunks, sort_at, title_norm, search_norm, lexemes,
                   offsets, {cols})
        ON CONFLICT (tenant_id, {kind.entity}, chunk_no) DO UPDATE SET
            n_chunks = EXCLUDED.n_chunks, sort_at = EXCLUDED.sort_at,
            title_norm = EXCLUDED.title_norm, search_norm = EXCLUDED.search_norm,
            lexemes = EXCLUDED.lexemes, offsets = EXCLUDED.offsets,
            normalizer_version = EXCLUDED.normalizer_version, indexed_at = now(), {updates}
        """
    )


_UPSERT: Final = {name: _upsert_sql(kind) for name, kind in _KINDS.items()}
_LOAD: Final = {name: text(kind.load) for name, kind in _KINDS.items()}
_DELETE_FROM: Final = {
    # Chunks beyond an entity's new chunk count (all of them when it indexes to nothing).
    name: text(
        f"DELETE FROM {kind.table} t USING unnest(CAST(:entities AS uuid[]),"
        " CAST(:keep AS integer[])) AS k (entity, keep)"
        f" WHERE t.tenant_id = :tenant AND t.{kind.entity} = k.entity AND t.chunk_no >= k.keep"
    )
    for name, kind in _KINDS.items()
}


def _current_tenant() -> uuid.UUID:
    context = current_context()
    if context is None or context.tenant_id is None:
        from legal_data.errors import TenantContextMissing

        raise TenantContextMissing("search indexing needs a tenant_scope(...) for one firm")
    return context.tenant_id


def index_entities(session: Session, kind: str, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """(Re)write the index rows of entities ``ids`` of ``kind`` in the firm in context.

    Returns the ids that were found (and indexed); the others are not visible in this
    transaction (deleted, or behind an ethical wall of the acting user)."""
    spec = _KINDS[kind]
    tenant = _current_tenant()
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    token = tenant_token(tenant)
    found: set[uuid.UUID] = set()
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "ids",
            "entities",
            "chunk_nos",
            "n_chunks",
            "sort_ats",
            "title_norms",
            "search_norms",
            "lexemes",
            "offsets",
            *spec.meta,
        )
    }
    keep: dict[uuid.UUID, int] = {}
    for src in session.execute(_LOAD[kind], {"tenant": tenant, "ids": wanted}).mappings():
        found.add(src["id"])
        pieces = index_chunks(token, list(src["fields"]))
        title_norm = normalize_text(src["title"] or "")
        keep[src["id"]] = len(pieces)
        for piece in pieces:
            rows["ids"].append(new_id())
            rows["entities"].append(src["id"])
            rows["chunk_nos"].append(piece.chunk_no)
            rows["n_chunks"].append(len(pieces))
            rows["sort_ats"].append(src["sort_at"])
            rows["title_norms"].append(title_norm)
            rows["search_norms"].append(piece.search_norm)
            rows["lexemes"].append(" ".join(piece.lexemes))
            rows["offsets"].append(",".join(map(str, piece.offsets)))
            for c in spec.meta:
                rows[c].append(src[c])
    if keep:
        session.execute(
            _DELETE_FROM[kind],
            {"tenant": tenant, "entities": list(keep), "keep": list(keep.values())},
        )
    if rows["ids"]:
        session.execute(_UPSERT[kind], {"tenant": tenant, "version": NORMALIZER_VERSION, **rows})
    return found


# -- the queue ----------------------------------------------------------------------------

_OWN_QUEUE: Final = text(
    """
    SELECT kind, entity_id FROM search_queue
    WHERE tenant_id = :tenant AND txid = pg_current_xact_id_if_assigned()
    ORDER BY enqueued_at
    LIMIT :limit
    """
)
_BACKLOG: Final = text(
    """
    SELECT kind, entity_id FROM search_queue
    WHERE tenant_id = :tenant
    ORDER BY enqueued_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_DEQUEUE: Final = text(
    "DELETE FROM search_queue WHERE tenant_id = :tenant AND kind = :kind AND entity_id = ANY(:ids)"
)
_HAS_WALLS: Final = text("SELECT cardinality(app_walled_case_ids()) > 0")
_EXISTING: Final = {
    name: text(f"SELECT id FROM {kind.source} WHERE tenant_id = :tenant AND id = ANY(:ids)")
    for name, kind in _KINDS.items()
}


def _process(session: Session, entries: Sequence[tuple[str, uuid.UUID]]) -> int:
    """Index queued entries and take them off the queue, except those that may still need
    it: a row a writer holds right now (busy), and, for a user screened by an ethical
    wall, rows that may only be invisible to that user (left for the system drain)."""
    tenant = _current_tenant()
    by_kind: dict[str, list[uuid.UUID]] = {}
    for kind, entity in entries:
        by_kind.setdefault(kind, []).append(entity)
    walled: bool | None = None
    done = 0
    for kind, ids in by_kind.items():
        found = index_entities(session, kind, ids)
        settled = list(found)
        missing = [i for i in ids if i not in found]
        if missing:
            busy = set(
                session.execute(_EXISTING[kind], {"tenant": tenant, "ids": missing}).scalars()
            )
            gone = [i for i in missing if i not in busy]
            if gone and walled is None:
                walled = bool(session.execute(_HAS_WALLS).scalar_one())
            if gone and not walled:
                settled += gone  # deleted: its index rows went with it (cascade)
        if settled:
            session.execute(_DEQUEUE, {"tenant": tenant, "kind": kind, "ids": settled})
        done += len(settled)
    return done


def drain_own(session: Session, *, limit: int = MAX_INLINE) -> int:
    """Index what this transaction queued (the commit hook calls this). Returns the count."""
    tenant = _current_tenant()
    entries = [
        (r.kind, r.entity_id)
        for r in session.execute(_OWN_QUEUE, {"tenant": tenant, "limit": limit})
    ]
    return _process(session, entries) if entries else 0


def drain(session: Session, *, batch_size: int = 500) -> int:
    """Index one batch of the firm's queued entities, oldest first; returns how many left
    the queue. Call it until it returns 0 (each call in its own transaction keeps locks
    short). Run it as the system actor (``tenant_scope(firm, role="system")``): a user
    behind an ethical wall cannot see everything queued. ``SKIP LOCKED`` lets several
    workers drain one firm side by side; a row a writer holds at that moment stays on the
    queue for a later call."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    tenant = _current_tenant()
    entries = [
        (r.kind, r.entity_id)
        for r in session.execute(_BACKLOG, {"tenant": tenant, "limit": batch_size})
    ]
    return _process(session, entries) if entries else 0


def pending(session: Session) -> int:
    """How many entities of the firm in context wait to be indexed."""
    return int(
        session.execute(
            text("SELECT count(*) FROM search_queue WHERE tenant_id = :tenant"),
            {"tenant": _current_tenant()},
        ).scalar_one()
    )


_ENQUEUE_ALL: Final = {
    "document": "SELECT tenant_id, id FROM documents WHERE tenant_id = :tenant",
    "case": "SELECT tenant_id, id FROM cases WHERE tenant_id = :tenant",
    "communication": "SELECT tenant_id, id FROM communications WHERE tenant_id = :tenant",
}


def enqueue_all(session: Session, kinds: Sequence[str] = KINDS) -> int:
    """Queue every entity of the firm in context (then :func:`drain`): a full reindex,
    e.g. after the normalizer version changed. Returns how many were queued."""
    tenant = _current_tenant()
    total = 0
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(f"unknown search kind {kind!r}")
        result = session.execute(
            text(
                f"""
                INSERT INTO search_queue (tenant_id, id, kind, entity_id)
                SELECT s.tenant_id, app_uuid_v7(), :kind, s.id FROM ({_ENQUEUE_ALL[kind]}) s
                ON CONFLICT (tenant_id, kind, entity_id)
                    DO UPDATE SET txid = EXCLUDED.txid, enqueued_at = EXCLUDED.enqueued_at
                """
            ),
            {"tenant": tenant, "kind": kind},
            execution_options={NO_COMMIT_INDEXING: True},
        )
        total += int(result.rowcount or 0)
    return total


def stale_count(session: Session) -> int:
    """Index rows of the firm written by another normalizer version than this code's."""
    tenant = _current_tenant()
    return int(
        session.execute(
            text(
                " + ".join(
                    f"(SELECT count(*) FROM {k.table} WHERE tenant_id = :tenant"
                    " AND normalizer_version <> :v)"
                    for k in _KINDS.values()
                ).join(("SELECT ", ""))
            ),
            {"tenant": tenant, "v": NORMALIZER_VERSION},
        ).scalar_one()
    )


def kind_spec(kind: str) -> tuple[str, str]:
    """``(index table, entity column)`` of ``kind``."""
    spec = _KINDS[kind]
    return spec.table, spec.entity
