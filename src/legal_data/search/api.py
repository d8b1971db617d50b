"""Searching documents, cases and communications of the firm in context.

::

    from legal_data import search

    page = search.documents(session, "離婚 調停", case_id=case.id, limit=20)
    for hit in page:
        print(hit.title, hit.snippet)  # snippet: 「…【離婚】調停を申し立てた…」
    more = search.documents(session, "離婚 調停", case_id=case.id, after=page.next_cursor)

The query syntax is :func:`~legal_data.search.query.parse_query`'s (AND of terms,
``"phrases"``, ``-exclusions``); a query that cannot be searched raises
:class:`~legal_data.errors.InvalidSearchQuery` before any SQL. Everything reaches
PostgreSQL as bound parameters of ``search_*_find`` (:mod:`legal_data.search.sql`):
the tsquery text is built here from normalized lexemes, each one quoted.

Results are ranked by *where* the terms are (all in the title, some, none), then by
recency, then by id — a total order, so pages are keyset-paginated (``after=cursor``)
and stable while rows are added or removed. A cursor is opaque, bound to the query and
filters it came from, and rejected with :class:`~legal_data.errors.InvalidSearchQuery`
when reused with other ones or tampered with.

Reading a privileged document's snippet is a read of that document: like an ORM load of
it, it writes a READ audit event (``via: search``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from legal_data.errors import InvalidSearchQuery
from legal_data.search import synonyms as _synonyms
from legal_data.search.hooks import NO_COMMIT_INDEXING
from legal_data.search.indexer import SPLIT_MARK, tenant_token
from legal_data.search.normalize import _quote_lexeme, normalize_text, term_lexemes
from legal_data.search.query import ParsedQuery, parse_query
from legal_data.search.snippet import ELLIPSIS, highlight
from legal_data.tenancy.context import current_context

MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 20
_CURSOR_VERSION: Final = 1
#: Lexeme prefix when no firm is in context (the functions return nothing then anyway).
_NO_FIRM_PREFIX: Final = "-" * 5


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result. ``snippet`` is a window of the original text with the first match
    marked (``【…】``, or ``<mark>`` with ``html=True`` and the text HTML-escaped)."""

    id: uuid.UUID
    case_id: uuid.UUID | None
    title: str
    snippet: str
    rank: int
    sort_at: dt.datetime
    cursor: str


@dataclass(frozen=True, slots=True)
class DocumentHit(SearchHit):
    category_id: uuid.UUID | None = None
    is_privileged: bool = False


@dataclass(frozen=True, slots=True)
class CaseHit(SearchHit):
    display_number: int = 0
    status: str = ""
    practice_area: str = ""


@dataclass(frozen=True, slots=True)
class CommunicationHit(SearchHit):
    channel: str = ""
    direction: str = ""
    occurred_at: dt.datetime | None = None
    is_privileged: bool = False


H = TypeVar("H", bound=SearchHit)


@dataclass(frozen=True)
class SearchPage(Generic[H]):
    """One page of hits in rank order; ``next_cursor`` is ``None`` on the last page."""

    hits: list[H]
    next_cursor: str | None
    query: ParsedQuery = field(repr=False)

    def __iter__(self) -> Iterator[H]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i: int) -> H:
        return self.hits[i]


# -- query text -----------------------------------------------------------------------------


def _and(token: str, grams: Sequence[str]) -> str:
    # Quoted verbatim; a 1-character lexeme is a prefix match (bigrams + sentinel, normalize.py).
    return " & ".join(_quote_lexeme(token + g) + (":*" if len(g) == 1 else "") for g in grams)


def tsqueries(parsed: ParsedQuery, token: str) -> tuple[str, str]:
    """``(p_all, p_split)``: every lexeme of every term (one-chunk rows), and the
    long-document marker AND any one term (rows of entities split into chunks)."""
    p_all = _and(token, parsed.required_bigrams)
    terms = " | ".join(f"( {_and(token, term_lexemes(t))} )" for t in parsed.terms)
    p_split = f"{_quote_lexeme(token + SPLIT_MARK)} & ( {terms} )"
    return p_all, p_split


# -- cursors --------------------------------------------------------------------------------


def _fingerprint(kind: str, parsed: ParsedQuery, filters: dict[str, Any]) -> str:
    material = json.dumps(
        [
            kind,
            parsed.terms,
            parsed.excluded_terms,
            sorted((k, str(v)) for k, v in filters.items()),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _encode_cursor(fingerprint: str, rank: int, sort_at: dt.datetime, row_id: uuid.UUID) -> str:
    if sort_at.tzinfo is None:
        raise ValueError("sort_at must be timezone-aware")
    micros = (sort_at - _EPOCH) // dt.timedelta(microseconds=1)  # exact, no float
    raw = json.dumps(
        [_CURSOR_VERSION, fingerprint, rank, micros, row_id.hex], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[int, dt.datetime, uuid.UUID]:
    bad = InvalidSearchQuery("invalid search cursor: pass the next_cursor of the same search")
    if not isinstance(cursor, str) or len(cursor) > 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, fp, rank, micros, row_hex = json.loads(raw)
        if version != _CURSOR_VERSION or fp != fingerprint:
            raise bad
        if type(rank) is not int or type(micros) is not int or not 0 <= rank <= 2:
            raise bad
        return rank, _EPOCH + dt.timedelta(microseconds=micros), uuid.UUID(hex=row_hex)
    except (ValueError, TypeError, AttributeError, binascii.Error, OverflowError):
        raise bad from None


# -- the calls ------------------------------------------------------------------------------


def _uuid_or_none(name: str, value: object) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidSearchQuery(f"{name} must be a UUID")


def _text_or_none(name: str, value: object, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise InvalidSearchQuery(f"{name} must be one of {', '.join(allowed)}")
    return value


def _limit(limit: object) -> int:
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise InvalidSearchQuery(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def _snippet(
    row: Any,
    title: str,
    parsed: ParsedQuery,
    width: int,
    html: bool,
    markers: tuple[str, str] | None,
) -> str:
    start, end = markers if markers else (None, None)
    source = row.snippet_source
    # Like the SQL side, prefer a match after the title: the title is shown anyway.
    after_title = 0
    if row.snippet_from_start and title and source.startswith(title + "\n"):
        after_title = len(title) + 1
        while source.startswith("\n", after_title):
            after_title += 1
    marked = highlight(
        source,
        parsed,
        width=width,
        html=html,
        start_marker=start,
        end_marker=end,
        prefer_from=after_title,
    ).strip()
    if not row.snippet_from_start and not marked.startswith(ELLIPSIS):
        marked = ELLIPSIS + marked
    if not row.snippet_to_end and not marked.endswith(ELLIPSIS):
        marked += ELLIPSIS
    return marked


@dataclass(frozen=True, slots=True)
class _Found:
    """A result row, the query (synonym combination) that found it, and its rank."""

    row: Any
    parsed: ParsedQuery
    rank: int


_Cursor = tuple[int, dt.datetime, uuid.UUID]


def _call(
    session: Session,
    function: str,
    parsed: ParsedQuery,
    token: str,
    filters: dict[str, Any],
    after: _Cursor | None,
    limit: int,
) -> list[Any]:
    p_all, p_split = tsqueries(parsed, token)
    after_rank, after_at, after_id = after if after is not None else (None, None, None)
    names = ", ".join(f":{k}" for k in filters)
    stmt = text(
        f"SELECT * FROM {function}(:p_all, :p_split, :p_terms, :p_like, :p_not_like, "
        f"{names}, :after_rank, :after_at, :after_id, :limit)"
    ).bindparams(
        bindparam("p_terms", type_=ARRAY(Text)),
        bindparam("p_like", type_=ARRAY(Text)),
        bindparam("p_not_like", type_=ARRAY(Text)),
    )
    return list(
        session.execute(
            stmt.execution_options(**{NO_COMMIT_INDEXING: True}),
            {
                "p_all": p_all,
                "p_split": p_split,
                "p_terms": list(parsed.terms),
                "p_like": list(parsed.like_patterns),
                "p_not_like": list(parsed.excluded_like_patterns),
                **filters,
                "after_rank": after_rank,
                "after_at": after_at,
                "after_id": after_id,
                "limit": limit,
            },
        ).all()
    )


def _title_norm(row: Any, title: str) -> str:
    return normalize_text(getattr(row, title) or "")


def _merged(
    call: Any,
    combos: list[ParsedQuery],
    groups: list[tuple[str, ...]],
    title: str,
    cursor: _Cursor | None,
    n: int,
) -> list[_Found]:
    """The first ``n`` hits after ``cursor`` of the union of ``combos``, each ranked by
    its title under ``groups`` (its best combination's rank).

    Exact because each combination's own order never puts a hit above its final key:
    every hit of the true page is among the first ``n`` (after ``cursor``) of the
    combination it ranks best in, so each combination is read until it has given ``n``
    hits after the cursor or has none left; hits whose final key is not after the
    cursor (a better combination showed them on an earlier page) are skipped."""
    best: dict[uuid.UUID, tuple[_Cursor, _Found]] = {}
    for combo in combos:
        after, taken = cursor, 0
        while True:
            rows = call(combo, after)
            for row in rows:
                found = _Found(row, combo, _synonyms.rank(_title_norm(row, title), groups))
                key = (found.rank, row.sort_at, row[0])
                if cursor is not None and key >= cursor:
                    continue
                taken += 1
                if row[0] not in best or key > best[row[0]][0]:
                    best[row[0]] = (key, found)
            if len(rows) < n or taken >= n:
                break
            after = (rows[-1].rank, rows[-1].sort_at, rows[-1][0])
    ordered = sorted(best.values(), key=lambda kf: kf[0], reverse=True)
    return [found for _key, found in ordered[:n]]


def _run(
    session: Session,
    function: str,
    kind: str,
    query: str | ParsedQuery,
    filters: dict[str, Any],
    limit: object,
    after: str | None,
    use_synonyms: object,
    title: str,
) -> tuple[ParsedQuery, str, list[_Found]]:
    parsed = parse_query(query) if isinstance(query, str) else query
    if not isinstance(parsed, ParsedQuery):
        raise InvalidSearchQuery("query must be a string")
    if not isinstance(use_synonyms, bool):
        raise InvalidSearchQuery("synonyms must be True or False")
    n = _limit(limit)
    context = current_context()
    tenant = context.tenant_id if context is not None else None
    token = tenant_token(tenant) if tenant is not None else _NO_FIRM_PREFIX
    # The flag is in the fingerprint only when off, so cursors of searches with synonyms
    # on (the default) stay what they were before synonyms existed.
    fingerprint = _fingerprint(
        kind, parsed, filters if use_synonyms else {**filters, "synonyms": False}
    )
    cursor = _decode_cursor(after, fingerprint) if after is not None else None
    groups, combos = (
        _synonyms.expansions(session, parsed)
        if use_synonyms and tenant is not None
        else ([], [parsed])
    )
    if len(combos) == 1:
        rows = _call(session, function, parsed, token, filters, cursor, n)
        return parsed, fingerprint, [_Found(r, parsed, r.rank) for r in rows]

    def call(combo: ParsedQuery, after: _Cursor | None) -> list[Any]:
        return _call(session, function, combo, token, filters, after, n)

    return parsed, fingerprint, _merged(call, combos, groups, title, cursor, n)


def _page(hits: list[H], limit: int, parsed: ParsedQuery) -> SearchPage[H]:
    return SearchPage(hits, hits[-1].cursor if len(hits) == limit else None, parsed)


def documents(
    session: Session,
    query: str | ParsedQuery,
    *,
    case_id: uuid.UUID | str | None = None,
    category_id: uuid.UUID | str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
    snippet_width: int = 80,
    html: bool = False,
    markers: tuple[str, str] | None = None,
    synonyms: bool = True,
) -> SearchPage[DocumentHit]:
    """Documents whose title, description or current version's extracted text match
    (query terms expanded with the firm's synonyms unless ``synonyms=False``)."""
    filters = {
        "case_id": _uuid_or_none("case_id", case_id),
        "category_id": _uuid_or_none("category_id", category_id),
    }
    parsed, fp, found = _run(
        session,
        "search_documents_find",
        "document",
        query,
        filters,
        limit,
        after,
        synonyms,
        "title",
    )
    hits = [
        DocumentHit(
            id=r.document_id,
            case_id=r.case_id,
            title=r.title,
            snippet=_snippet(r, r.title, f.parsed, snippet_width, html, markers),
            rank=f.rank,
            sort_at=r.sort_at,
            cursor=_encode_cursor(fp, f.rank, r.sort_at, r.document_id),
            category_id=r.category_id,
            is_privileged=r.is_privileged,
        )
        for f in found
        for r in (f.row,)
    ]
    _audit_privileged_reads(session, "documents", [h.id for h in hits if h.is_privileged])
    return _page(hits, _limit(limit), parsed)


def cases(
    session: Session,
    query: str | ParsedQuery,
    *,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
    snippet_width: int = 80,
    html: bool = False,
    markers: tuple[str, str] | None = None,
    synonyms: bool = True,
) -> SearchPage[CaseHit]:
    """Cases (not soft-deleted) whose title or description match (with synonyms)."""
    from legal_data.models.cases import CASE_STATUSES

    filters = {"status": _text_or_none("status", status, CASE_STATUSES)}
    parsed, fp, found = _run(
        session, "search_cases_find", "case", query, filters, limit, after, synonyms, "title"
    )
    hits = [
        CaseHit(
            id=r.case_id,
            case_id=r.case_id,
            title=r.title,
            snippet=_snippet(r, r.title, f.parsed, snippet_width, html, markers),
            rank=f.rank,
            sort_at=r.sort_at,
            cursor=_encode_cursor(fp, f.rank, r.sort_at, r.case_id),
            display_number=r.display_number,
            status=r.status,
            practice_area=r.practice_area,
        )
        for f in found
        for r in (f.row,)
    ]
    return _page(hits, _limit(limit), parsed)


def communications(
    session: Session,
    query: str | ParsedQuery,
    *,
    case_id: uuid.UUID | str | None = None,
    channel: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
    snippet_width: int = 80,
    html: bool = False,
    markers: tuple[str, str] | None = None,
    synonyms: bool = True,
) -> SearchPage[CommunicationHit]:
    """Communications whose subject matches (bodies are encrypted and not indexed; with
    synonyms)."""
    from legal_data.models.work import COMMUNICATION_CHANNELS

    filters = {
        "case_id": _uuid_or_none("case_id", case_id),
        "channel": _text_or_none("channel", channel, COMMUNICATION_CHANNELS),
    }
    parsed, fp, found = _run(
        session,
        "search_communications_find",
        "communication",
        query,
        filters,
        limit,
        after,
        synonyms,
        "subject",
    )
    hits = [
        CommunicationHit(
            id=r.communication_id,
            case_id=r.case_id,
            title=r.subject or "",
            snippet=_snippet(r, "", f.parsed, snippet_width, html, markers),
            rank=f.rank,
            sort_at=r.sort_at,
            cursor=_encode_cursor(fp, f.rank, r.sort_at, r.communication_id),
            channel=r.channel,
            direction=r.direction,
            occurred_at=r.occurred_at,
            is_privileged=r.is_privileged,
        )
        for f in found
        for r in (f.row,)
    ]
    return _page(hits, _limit(limit), parsed)


def _audit_privileged_reads(session: Session, table: str, ids: list[uuid.UUID]) -> None:
    if not ids:
        return
    from legal_data.audit.access import record_access

    for row_id in ids:
        record_access(session, table, row_id, details={"via": "search"})
