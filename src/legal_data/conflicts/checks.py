"""Running a conflict check, recording it and the lawyer's decision.

:func:`check` searches every party of the firm in context — clients, opposing parties,
related persons, consultation parties; open and closed cases, consultations that never
became a case — through the keys the database keeps in ``party_name_keys``:

1. the names' keys are computed by PostgreSQL with the same functions that made the
   stored keys (``conflict_name_key_v1``, ``conflict_reading_key_v1``), so the two sides
   cannot drift apart;
2. exact matches: one lookup on ``(tenant_id, key)`` for name keys, reading keys,
   former-name keys and 法人番号;
3. similar names: keys that share enough character bigrams with a name's key
   (``party_name_grams``, looked up on ``(tenant_id, gram)``), scored with
   :func:`legal_data.search.names.similarity` and kept at ``≥ SIMILARITY_POTENTIAL``;
4. where each party appears, read under the user's Row Level Security and ethical
   walls, plus — through ``conflict_screened_appearances`` — the bare role of the
   party in matters a wall hides from the user.

Every query is a plain equality on leakproof operators (``texteq``, ``uuid_eq``), so the
indexes are used under RLS (``tests/db/test_conflicts_explain.py``), and every query
carries the firm filter itself as well, so a privileged session cannot see other firms
either.

:func:`record` stores the check in ``conflict_checks`` (the record the intake gate
reads), :func:`decide` the lawyer's decision on it; both in the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from legal_data.conflicts import sql
from legal_data.conflicts.results import (
    SCREENED,
    Appearance,
    ConflictHit,
    ConflictReport,
    Match,
    suggested_result,
)
from legal_data.domain.corporate_number import validate_corporate_number
from legal_data.errors import (
    ConflictCheckNotFound,
    InvalidConflictCheck,
    InvalidConflictDecision,
    TenantContextMissing,
)
from legal_data.models.intake import CONFLICT_DECISIONS, ConflictCheck
from legal_data.search.names import SIMILARITY_POTENTIAL, similarity
from legal_data.search.normalize import bigrams

MAX_NAMES: Final = 100
"""Names (and, separately, 法人番号) one check may search for."""
MAX_NAME_CHARS: Final = 500
MAX_NOTE_CHARS: Final = 10_000
DEFAULT_FUZZY_LIMIT: Final = 50
"""Similar-name hits kept per searched name (best first); exact hits are never cut."""

_FIELD_OF_KIND: Final = {
    "name": "name",
    "kana": "name_kana",
    "former": "former_names",
    "corporate_number": "corporate_number",
}


def _clean_names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise InvalidConflictCheck("names must be a list of names, not one string")
    out: dict[str, None] = {}
    for position, name in enumerate(names, start=1):
        if not isinstance(name, str):
            raise InvalidConflictCheck(f"name {position} is not a string")
        cleaned = name.strip()
        if not cleaned:
            raise InvalidConflictCheck(f"name {position} is blank")
        if len(cleaned) > MAX_NAME_CHARS:
            raise InvalidConflictCheck(
                f"name {position} is longer than {MAX_NAME_CHARS} characters"
            )
        if "\x00" in cleaned:
            raise InvalidConflictCheck(f"name {position} contains a NUL character")
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidConflictCheck(f"name {position} is not valid Unicode text") from None
        out[cleaned] = None
    if len(out) > MAX_NAMES:
        raise InvalidConflictCheck(f"at most {MAX_NAMES} names per check")
    return tuple(out)


def _clean_numbers(numbers: Iterable[str]) -> tuple[str, ...]:
    if isinstance(numbers, str):
        raise InvalidConflictCheck("corporate_numbers must be a list, not one string")
    out: dict[str, None] = {}
    for position, number in enumerate(numbers, start=1):
        if not isinstance(number, str):
            raise InvalidConflictCheck(f"法人番号 {position} is not a string")
        out[validate_corporate_number(number)] = None  # InvalidCorporateNumber
    if len(out) > MAX_NAMES:
        raise InvalidConflictCheck(f"at most {MAX_NAMES} 法人番号 per check")
    return tuple(out)


def _rows(session: Session, statement: str, **params: Any) -> list[Any]:
    return list(session.execute(text(statement), params).all())


def check(
    session: Session,
    *,
    names: Iterable[str] = (),
    corporate_numbers: Iterable[str] = (),
    record: bool = False,
    case_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    fuzzy_limit: int = DEFAULT_FUZZY_LIMIT,
) -> ConflictReport:
    """Search the firm in context for ``names`` and ``corporate_numbers``.

    Returns a :class:`ConflictReport` with hits ranked exact 法人番号 > exact name key >
    former name or reading > similar name (then by score and name). With ``record=True``
    the check is stored for ``case_id`` or ``consultation_id`` (:func:`record`) in the
    session's transaction. Raises :class:`InvalidConflictCheck` (nothing to search, a
    blank, overlong or unsearchable name), :class:`InvalidCorporateNumber` (bad check
    digit) or :class:`TenantContextMissing` (no firm in context: a check that could see
    nothing must not come back "clear").
    """
    clean_names = _clean_names(names)
    numbers = _clean_numbers(corporate_numbers)
    if not clean_names and not numbers:
        raise InvalidConflictCheck("a conflict check needs at least one name or 法人番号")
    if not isinstance(fuzzy_limit, int) or isinstance(fuzzy_limit, bool) or fuzzy_limit < 0:
        raise InvalidConflictCheck("fuzzy_limit must be a non-negative integer")
    if record and case_id is None and consultation_id is None:
        raise InvalidConflictCheck("a recorded check belongs to a case or a consultation")

    ctx = session.execute(text(sql.QUERY_KEYS_SQL), {"names": list(clean_names)}).one()
    if ctx.tenant_id is None:
        raise TenantContextMissing("a conflict check needs a firm in the tenant context")
    name_keys: list[str] = list(ctx.name_keys)
    reading_keys: list[str] = list(ctx.reading_keys)
    for position, (nk, rk) in enumerate(zip(name_keys, reading_keys, strict=True), start=1):
        if not nk and not rk:
            raise InvalidConflictCheck(f"name {position} has nothing searchable in it")

    matches: dict[uuid.UUID, list[Match]] = defaultdict(list)
    _exact(session, clean_names, name_keys, reading_keys, numbers, matches)
    truncated = _similar(session, clean_names, name_keys, matches, fuzzy_limit)

    party_ids = list(matches)
    # A party deleted meanwhile simply drops out.
    parties = {r.id: r for r in _rows(session, sql.PARTIES_SQL, ids=party_ids)} if party_ids else {}
    appearances = _appearances(session, party_ids)
    hits = [
        ConflictHit(
            party_id=pid,
            party_name=parties[pid].name,
            party_kind=parties[pid].kind,
            corporate_number=parties[pid].corporate_number,
            matches=tuple(sorted(found, key=lambda m: (m.rank, -m.score, m.term))),
            appearances=tuple(appearances.get(pid, ())),
        )
        for pid, found in matches.items()
        if pid in parties
    ]
    hits.sort(key=lambda h: (h.rank, -h.score, h.party_name, str(h.party_id)))
    report = ConflictReport(
        names=clean_names,
        corporate_numbers=numbers,
        hits=tuple(hits),
        result=suggested_result(hits),
        truncated=truncated,
        checked_by=ctx.user_id,
    )
    if record:
        stored = record_check(session, report, case_id=case_id, consultation_id=consultation_id)
        report = dataclasses.replace(report, check_id=stored.id)
    return report


def _exact(
    session: Session,
    names: tuple[str, ...],
    name_keys: list[str],
    reading_keys: list[str],
    numbers: tuple[str, ...],
    matches: dict[uuid.UUID, list[Match]],
) -> None:
    wanted = {k for k in (*name_keys, *reading_keys, *numbers) if k}
    if not wanted:
        return
    for row in _rows(session, sql.EXACT_SQL, keys=sorted(wanted)):
        field = _FIELD_OF_KIND[row.key_kind]
        if row.key_kind == "corporate_number":
            found = [("corporate_number", n, n) for n in numbers if n == row.key]
        elif row.key_kind == "kana":
            found = [
                ("kana", n, k) for n, k in zip(names, reading_keys, strict=True) if k == row.key
            ]
        else:
            kind = "name" if row.key_kind == "name" else "former_name"
            found = [(kind, n, k) for n, k in zip(names, name_keys, strict=True) if k == row.key]
        for kind, term, key in found:
            matches[row.party_id].append(
                Match(kind, term, key, field, row.source, row.key, 1.0)  # type: ignore[arg-type]
            )


def _similar(
    session: Session,
    names: tuple[str, ...],
    name_keys: list[str],
    matches: dict[uuid.UUID, list[Match]],
    limit: int,
) -> bool:
    gram_i: list[int] = []
    grams: list[str] = []
    gram_n: list[int] = []
    for i, key in enumerate(name_keys, start=1):
        own = bigrams(key) if key else []
        gram_n.append(len(own))
        gram_i.extend([i] * len(own))
        grams.extend(own)
    if not grams or limit == 0:
        return False
    scored: dict[int, dict[tuple[uuid.UUID, str], Match]] = defaultdict(dict)
    for row in _rows(session, sql.CANDIDATES_SQL, gram_i=gram_i, grams=grams, gram_n=gram_n):
        query_key = name_keys[row.i - 1]
        score = similarity(query_key, row.key)
        if score < SIMILARITY_POTENTIAL or score >= 1.0:
            continue  # not similar enough, or an exact match already reported
        match = Match(
            "similar_name",
            names[row.i - 1],
            query_key,
            _FIELD_OF_KIND[row.key_kind],
            row.source,
            row.key,
            score,
        )
        slot = (row.party_id, match.field + "\x00" + row.key)
        if slot not in scored[row.i] or scored[row.i][slot].score < score:
            scored[row.i][slot] = match
    truncated = False
    for per_name in scored.values():
        best = sorted(per_name.items(), key=lambda kv: (-kv[1].score, kv[1].matched_key))
        truncated = truncated or len(best) > limit
        for (party_id, _slot), match in best[:limit]:
            matches[party_id].append(match)
    return truncated


def _appearances(session: Session, party_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Appearance]]:
    if not party_ids:
        return {}
    rows = _rows(session, sql.APPEARANCES_SQL, ids=party_ids)
    others = sorted({r.other_party_id for r in rows if r.other_party_id is not None}, key=str)
    other_names: dict[uuid.UUID, str] = {}
    other_roles: dict[uuid.UUID, list[str]] = defaultdict(list)
    if others:
        other_names = {r.id: r.name for r in _rows(session, sql.PARTIES_SQL, ids=others)}
        for appearance in _build(_rows(session, sql.APPEARANCES_SQL, ids=others), {}, {}):
            if appearance[1].source != "relation":
                other_roles[appearance[0]].append(appearance[1].describe())
    screened = _rows(session, sql.SCREENED_QUERY_SQL, ids=party_ids)
    out: dict[uuid.UUID, list[Appearance]] = defaultdict(list)
    seen: set[tuple[Any, ...]] = set()
    for party_id, appearance in _build(rows, other_names, other_roles):
        marker = (party_id, appearance.source, appearance.role, appearance.matter_id,
                  appearance.other_party_id)  # fmt: skip
        if marker not in seen:
            seen.add(marker)
            out[party_id].append(appearance)
    for row in screened:
        appearance = Appearance(source=SCREENED, role=row.role, screened_in=row.source)
        marker = (row.party_id, SCREENED, row.role, row.source, None)
        if marker not in seen:
            seen.add(marker)
            out[row.party_id].append(appearance)
    order = {"case": 0, "consultation": 1, SCREENED: 2, "client": 3, "relation": 4}
    for found in out.values():
        found.sort(key=lambda a: (order.get(a.source, 9), -(a.number or 0), a.title or ""))
    return out


def _build(
    rows: list[Any],
    other_names: dict[uuid.UUID, str],
    other_roles: dict[uuid.UUID, list[str]],
) -> list[tuple[uuid.UUID, Appearance]]:
    out = []
    for r in rows:
        if r.source == "relation":
            appearance = Appearance(
                source="relation",
                role=r.role,
                other_party_id=r.other_party_id,
                other_party_name=other_names.get(r.other_party_id, "?"),
                direction=r.status,
                other_party_roles=tuple(other_roles.get(r.other_party_id, ())),
            )
        else:
            appearance = Appearance(
                source=r.source,
                role=r.role,
                matter_id=r.matter_id,
                number=r.number,
                title=r.title,
                status=r.status,
                on_date=r.on_date,
            )
        out.append((r.party_id, appearance))
    return out


def record_check(
    session: Session,
    report: ConflictReport,
    *,
    case_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
) -> ConflictCheck:
    """Store ``report`` in ``conflict_checks`` for a case or a consultation (flushed).

    ``query_terms`` are the names and 法人番号 as searched, ``hits`` the ranked hits as
    JSON (:meth:`ConflictHit.as_record`), ``checked_by`` the user who ran the check.
    An unknown case or consultation is refused by its foreign key
    (:class:`~legal_data.errors.ForeignKeyViolation`).
    """
    if case_id is None and consultation_id is None:
        raise InvalidConflictCheck("a recorded check belongs to a case or a consultation")
    tenant_id = session.execute(text("SELECT app_current_tenant_id()")).scalar()
    if tenant_id is None:
        raise TenantContextMissing("recording a conflict check needs a firm in context")
    row = ConflictCheck(
        tenant_id=tenant_id,
        case_id=case_id,
        consultation_id=consultation_id,
        query_terms=report.query_terms,
        hits=[hit.as_record() for hit in report.hits],
        result=report.result,
        checked_by=report.checked_by,
    )
    session.add(row)
    session.flush()
    return row


def decide(
    session: Session,
    check_id: uuid.UUID,
    decision: str,
    *,
    note: str | None = None,
    consent_obtained_on: dt.date | None = None,
) -> ConflictCheck:
    """Store the lawyer's decision on a recorded check (flushed, in the caller's transaction).

    ``decision`` is ``accept``, ``decline`` or ``waived_with_consent``; a waiver needs the
    date the client consented and a check that found something. The deciding lawyer is
    the user in context. A decision once taken stays taken (also enforced by the
    database). Raises :class:`InvalidConflictDecision` or :class:`ConflictCheckNotFound`.

    The intake gate lets a case leave intake after a ``clear`` check that was not
    declined, or after ``waived_with_consent``; accepting a check that found something
    does not open the case by itself.
    """
    if decision not in CONFLICT_DECISIONS:
        raise InvalidConflictDecision(
            f"decision must be one of {', '.join(CONFLICT_DECISIONS)}, got {decision!r}"
        )
    if consent_obtained_on is not None and (
        not isinstance(consent_obtained_on, dt.date) or isinstance(consent_obtained_on, dt.datetime)
    ):
        raise InvalidConflictDecision("consent_obtained_on must be a date")
    if decision == "waived_with_consent" and consent_obtained_on is None:
        raise InvalidConflictDecision("a waiver needs the date the client consented")
    if decision != "waived_with_consent" and consent_obtained_on is not None:
        raise InvalidConflictDecision("a consent date goes with a waiver only")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
        raise InvalidConflictDecision(f"note must be text of at most {MAX_NOTE_CHARS} characters")
    if not isinstance(check_id, uuid.UUID):
        raise InvalidConflictDecision("check_id must be a UUID")
    user_id = session.execute(text("SELECT app_current_user_id()")).scalar()
    if user_id is None:
        raise InvalidConflictDecision("a decision is a lawyer's: no user in the tenant context")
    row = session.scalars(
        select(ConflictCheck)
        .where(
            ConflictCheck.tenant_id == func.app_current_tenant_id(),
            ConflictCheck.id == check_id,
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise ConflictCheckNotFound(f"no conflict check {check_id} in this firm")
    if row.decision is not None:
        raise InvalidConflictDecision(f"conflict check {check_id} was already decided")
    if decision == "waived_with_consent" and row.result == "clear":
        raise InvalidConflictDecision("a clear check has no conflict to waive")
    row.decision = decision
    row.decided_by = user_id
    row.decided_at = func.now()
    row.consent_obtained_on = consent_obtained_on
    row.decision_note = note
    session.flush()
    return row
