"""What a conflict check returns: ranked hits, why each matched and where the party appears.

Plain frozen dataclasses; :meth:`ConflictHit.as_record` is the JSON stored in
``conflict_checks.hits``. A hit about a matter hidden by an ethical wall carries only
the party's role there (:data:`SCREENED`), never the matter's id, number, title or status.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

MatchKind = Literal["corporate_number", "name", "former_name", "kana", "similar_name"]
Result = Literal["clear", "potential", "conflict"]

#: Lower is stronger: exact 法人番号 > exact name key > former name or reading > similar.
RANKS: Final[dict[str, int]] = {
    "corporate_number": 0,
    "name": 1,
    "former_name": 2,
    "kana": 2,
    "similar_name": 3,
}
#: Matches that identify the party itself (a conflict unless the lawyer finds otherwise);
#: a shared reading or a similar name is only a potential conflict.
IDENTIFYING: Final = frozenset({"corporate_number", "name", "former_name"})

#: Appearance source of a matter the user is screened from by an ethical wall.
SCREENED: Final = "screened"

_ROLE_LABELS: Final = {
    "client": "client",
    "opposing_party": "opposing party",
    "opposing_counsel": "opposing counsel",
    "related": "related party",
    "consulter": "consulter",
}
_RELATION_LABELS: Final = {
    "representative": "representative",
    "officer": "officer",
    "employee": "employee",
    "parent_company": "parent company",
    "subsidiary": "subsidiary",
    "spouse": "spouse",
    "relative": "relative",
    "agent": "agent",
    "other": "related person",
}
_CONSULTATION_STATUS: Final = {
    "open": "open",
    "declined": "declined, never became a case",
    "became_case": "became a case",
    "closed": "closed, never became a case",
}
_FIELD_LABELS: Final = {
    "corporate_number": "法人番号",
    "name": "name",
    "name_kana": "reading",
    "former_names": "former name",
}


@dataclass(frozen=True, slots=True)
class Match:
    """One reason a party was found.

    ``term`` is the searched name or 法人番号 as given, ``key`` its key; ``field`` is the
    party's field that matched (``name``, ``name_kana``, ``former_names``,
    ``corporate_number``), ``matched_text`` that field's text and ``matched_key`` its key.
    """

    kind: MatchKind
    term: str
    key: str
    field: str
    matched_text: str
    matched_key: str
    score: float

    @property
    def rank(self) -> int:
        return RANKS[self.kind]

    def reason(self) -> str:
        where = _FIELD_LABELS.get(self.field, self.field)
        if self.kind == "corporate_number":
            return f"法人番号 {self.term} is the party's 法人番号"
        if self.kind == "similar_name":
            return (
                f"「{self.term}」 is similar to the party's {where} 「{self.matched_text}」 "
                f"(similarity {self.score:.2f}, keys {self.key} / {self.matched_key})"
            )
        return (
            f"「{self.term}」 and the party's {where} 「{self.matched_text}」 have the same "
            f"{'reading' if self.kind == 'kana' else 'name'} key {self.key}"
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "term": self.term,
            "key": self.key,
            "field": self.field,
            "matched_text": self.matched_text,
            "matched_key": self.matched_key,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Appearance:
    """Where a found party appears in the firm.

    ``source`` is ``client`` (the firm's client register), ``case``, ``consultation``,
    ``relation`` (a related person of ``other_party_*``) or :data:`SCREENED` (a matter
    an ethical wall hides from the user: only ``role`` is given). ``matter_id`` is the
    case or consultation, ``number`` the case's display number, ``title`` its title (the
    consultation's subject, the client code), ``on_date`` the case's closing date or the
    consultation's date.
    """

    source: str
    role: str
    matter_id: uuid.UUID | None = None
    number: int | None = None
    title: str | None = None
    status: str | None = None
    on_date: dt.date | None = None
    other_party_id: uuid.UUID | None = None
    other_party_name: str | None = None
    direction: str | None = None  # relation: "of" (party is <role> of other), "has"
    other_party_roles: tuple[str, ...] = ()
    screened_in: str | None = None  # screened: "case" or "consultation"

    @property
    def closed(self) -> bool:
        return self.status in ("closed", "archived", "declined")

    def describe(self) -> str:
        role = _ROLE_LABELS.get(self.role, self.role)
        if self.source == "client":
            return f"client of the firm ({self.title}, {self.status or self.role})"
        if self.source == "case":
            state = self.status if self.status != "closed" else f"closed {self.on_date or ''}"
            return f"{role} in case #{self.number} 「{self.title}」 ({state.strip()})"
        if self.source == "consultation":
            state = _CONSULTATION_STATUS.get(self.status or "", self.status or "")
            return f"{role} in consultation 「{self.title}」 of {self.on_date} ({state})"
        if self.source == "relation":
            kind = _RELATION_LABELS.get(self.role, self.role)
            roles = f" — {'; '.join(self.other_party_roles)}" if self.other_party_roles else ""
            if self.direction == "of":
                return f"{kind} of {self.other_party_name}{roles}"
            return f"has {kind} {self.other_party_name}{roles}"
        if self.source == SCREENED:
            what = "matter" if self.screened_in == "case" else "consultation"
            return f"{role} in a {what} you are screened from (ethical wall)"
        return f"{role} ({self.source})"

    def as_record(self) -> dict[str, Any]:
        if self.source == SCREENED:
            return {"source": SCREENED, "in": self.screened_in, "role": self.role}
        record: dict[str, Any] = {"source": self.source, "role": self.role}
        for name in ("matter_id", "number", "title", "status", "on_date", "other_party_id"):
            value = getattr(self, name)
            if value is not None:
                record[name] = str(value) if isinstance(value, uuid.UUID | dt.date) else value
        if self.other_party_name is not None:
            record["other_party_name"] = self.other_party_name
            record["direction"] = self.direction
            record["other_party_roles"] = list(self.other_party_roles)
        record["description"] = self.describe()
        return record


@dataclass(frozen=True, slots=True)
class ConflictHit:
    """A party of the firm that matched, with every reason (best first) and appearance."""

    party_id: uuid.UUID
    party_name: str
    party_kind: str
    corporate_number: str | None
    matches: tuple[Match, ...]
    appearances: tuple[Appearance, ...]

    @property
    def best(self) -> Match:
        return self.matches[0]

    @property
    def rank(self) -> int:
        return self.best.rank

    @property
    def score(self) -> float:
        return self.best.score

    @property
    def reason(self) -> str:
        return self.best.reason()

    @property
    def screened(self) -> bool:
        """The party appears in a matter hidden from the user by an ethical wall."""
        return any(a.source == SCREENED for a in self.appearances)

    def as_record(self) -> dict[str, Any]:
        return {
            "party_id": str(self.party_id),
            "party_name": self.party_name,
            "party_kind": self.party_kind,
            "corporate_number": self.corporate_number,
            "rank": self.rank,
            "score": round(self.score, 4),
            "reason": self.reason,
            "matches": [m.as_record() for m in self.matches],
            "appearances": [a.as_record() for a in self.appearances],
        }


@dataclass(frozen=True, slots=True)
class ConflictReport:
    """The outcome of :func:`legal_data.conflicts.check`.

    ``result`` is the library's suggestion: ``conflict`` when a hit identifies a party
    (法人番号, name key or former name), ``potential`` when hits only share a reading or
    are similar, ``clear`` when nothing was found. ``truncated`` says that some similar
    names were left out (more than the check's ``fuzzy_limit`` per name).
    ``check_id`` is set when the check was recorded.
    """

    names: tuple[str, ...]
    corporate_numbers: tuple[str, ...]
    hits: tuple[ConflictHit, ...]
    result: Result
    truncated: bool = False
    checked_by: uuid.UUID | None = None
    check_id: uuid.UUID | None = None

    @property
    def query_terms(self) -> list[str]:
        return [*self.names, *self.corporate_numbers]


def suggested_result(hits: tuple[ConflictHit, ...] | list[ConflictHit]) -> Result:
    if not hits:
        return "clear"
    if any(m.kind in IDENTIFYING for hit in hits for m in hit.matches):
        return "conflict"
    return "potential"
