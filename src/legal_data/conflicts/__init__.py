"""Conflict-of-interest checks (利益相反チェック, 弁護士法25条, 職務基本規程27・28・57条).

This package owns the search of a firm's parties for a new matter's names and 法人番号,
the ranked hits it returns, and the record of each check and the lawyer's decision:

- :func:`check` — every party of the firm (clients, opposing parties, related persons,
  consultation parties; closed cases and consultations that never became a case
  included) by name key (legal forms such as 株式会社/(株)/㈱ removed, 髙/高 and 﨑/崎
  folded), reading, former names and exact 法人番号, plus similar names; hits ranked
  exact 法人番号 > exact name key > former name or reading > similar name, each with the
  party's matters and roles and the reason it matched;
- :func:`record` (or ``check(..., record=True)``) — the check in ``conflict_checks``, the
  record the intake gate requires before a case leaves intake;
- :func:`decide` — the lawyer's decision on it (accept, decline, waived with consent).

The keys live in the database (``party_name_keys``/``party_name_grams``, kept by
triggers on ``parties``; SQL in :mod:`legal_data.conflicts.sql`), so parties written by
raw SQL are found too. An ethical wall does not hide a conflict: a screened user learns
that a party appears, and in which role, in a matter they are screened from, and nothing
else about that matter.

>>> from legal_data import conflicts
>>> report = conflicts.check(session, names=["株式会社山田商事"])  # doctest: +SKIP
"""

from __future__ import annotations

from legal_data.conflicts.checks import (
    DEFAULT_FUZZY_LIMIT,
    MAX_NAME_CHARS,
    MAX_NAMES,
    check,
    decide,
    record_check,
)
from legal_data.conflicts.results import (
    IDENTIFYING,
    RANKS,
    SCREENED,
    Appearance,
    ConflictHit,
    ConflictReport,
    Match,
    MatchKind,
    Result,
)

record = record_check

__all__ = [
    "DEFAULT_FUZZY_LIMIT",
    "IDENTIFYING",
    "MAX_NAMES",
    "MAX_NAME_CHARS",
    "RANKS",
    "SCREENED",
    "Appearance",
    "ConflictHit",
    "ConflictReport",
    "Match",
    "MatchKind",
    "Result",
    "check",
    "decide",
    "record",
    "record_check",
]
