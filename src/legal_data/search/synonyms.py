"""A firm's search synonyms: pairs of terms its searches treat as one (原告 ↔ 申立人).

::

    from legal_data.search import synonyms

    synonyms.add(session, "原告", "申立人", note="調停では申立人")
    search.documents(session, "原告 離婚")            # also finds 申立人 … 離婚
    search.documents(session, "原告", synonyms=False)  # the literal term only
    synonyms.remove(session, "申立人", "原告")           # either order

Pairs are normalized like queries (:func:`~legal_data.search.normalize.normalize_text`:
full-width, ㈱, dashes …) and stored once per unordered pair in ``search_synonyms``,
firm data under Row Level Security with an audit trail. They are **one step**: with
原告 ↔ 申立人 and 申立人 ↔ 申請人, a search for 原告 finds 申立人 but not 申請人 (add
that pair too if it is meant). Exclusions (``-原告``) are never expanded.

**How a query is expanded.** Every required term is replaced by each of its
alternatives (itself and its synonyms), and every combination is searched — ``原告 離婚``
with 原告 ↔ 申立人 is ``原告 離婚`` or ``申立人 離婚``. :func:`expansions` refuses a query
with more than :data:`MAX_EXPANSIONS` combinations. The search calls merge the
combinations' pages exactly: a hit's rank is that of its best combination (every term
has an alternative in the title: 2; some term does: 1; none: 0), the order and keyset
cursors stay as without synonyms (``legal_data.search.api``).
"""

from __future__ import annotations

import itertools
from typing import Final

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from legal_data.errors import InvalidSearchQuery, InvalidSynonym, TenantContextMissing

# The submodule, not the package: legal_data.models loads this package (search.hooks).
from legal_data.models.search import SYNONYM_MAX_CHARS, SearchSynonym
from legal_data.search.normalize import normalize_text
from legal_data.search.query import ParsedQuery, with_terms
from legal_data.tenancy.context import current_context

#: Most combinations one query may expand to (each is one search-function call).
MAX_EXPANSIONS: Final = 8


def _pair(term: str, synonym: str) -> tuple[str, str]:
    if not isinstance(term, str) or not isinstance(synonym, str):
        raise InvalidSynonym("a synonym pair is two strings")
    a, b = normalize_text(term), normalize_text(synonym)
    if not a or not b:
        raise InvalidSynonym("a synonym term normalizes to nothing (blank or punctuation)")
    if max(len(a), len(b)) > SYNONYM_MAX_CHARS:
        raise InvalidSynonym(f"a synonym term is longer than {SYNONYM_MAX_CHARS} characters")
    if a == b:
        raise InvalidSynonym(f"{term!r} and {synonym!r} are the same term once normalized")
    return (a, b) if a < b else (b, a)


def add(session: Session, term: str, synonym: str, *, note: str | None = None) -> SearchSynonym:
    """Make ``term`` and ``synonym`` interchangeable in the firm's searches.

    Idempotent: an existing pair (in either order) is returned unchanged."""
    a, b = _pair(term, synonym)
    existing = session.scalars(
        select(SearchSynonym).where(SearchSynonym.term == a, SearchSynonym.synonym == b)
    ).one_or_none()
    if existing is not None:
        return existing
    context = current_context()
    if context is None or context.tenant_id is None:
        raise TenantContextMissing("search synonyms belong to a firm: use tenant_scope(...)")
    row = SearchSynonym(tenant_id=context.tenant_id, term=a, synonym=b, note=note)
    session.add(row)
    session.flush()
    return row


def remove(session: Session, term: str, synonym: str) -> bool:
    """Forget the pair (either order); ``True`` if it existed."""
    a, b = _pair(term, synonym)
    removed = session.execute(
        delete(SearchSynonym)
        .where(SearchSynonym.term == a, SearchSynonym.synonym == b)
        .returning(SearchSynonym.id)
    ).all()
    return bool(removed)


def pairs(session: Session) -> list[tuple[str, str]]:
    """Every pair of the firm, sorted."""
    rows = session.execute(
        select(SearchSynonym.term, SearchSynonym.synonym).order_by(
            SearchSynonym.term, SearchSynonym.synonym
        )
    )
    return [(t, s) for t, s in rows]


def alternatives(session: Session, terms: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Per normalized term: the term itself, then its synonyms (sorted)."""
    if not terms:
        return []
    found: dict[str, set[str]] = {t: set() for t in terms}
    rows = session.execute(
        select(SearchSynonym.term, SearchSynonym.synonym).where(
            or_(SearchSynonym.term.in_(terms), SearchSynonym.synonym.in_(terms))
        )
    )
    for a, b in rows:
        if a in found:
            found[a].add(b)
        if b in found:
            found[b].add(a)
    return [(t, *sorted(found[t] - {t})) for t in terms]


def expansions(
    session: Session, parsed: ParsedQuery
) -> tuple[list[tuple[str, ...]], list[ParsedQuery]]:
    """``(groups, queries)``: each required term's alternatives, and every combination
    as a query (the first is ``parsed`` itself). Raises :class:`InvalidSearchQuery` when
    there would be more than :data:`MAX_EXPANSIONS`."""
    groups = alternatives(session, parsed.terms)
    total = 1
    for group in groups:
        total *= len(group)
    if total > MAX_EXPANSIONS:
        raise InvalidSearchQuery(
            f"the query's synonyms make {total} combinations (at most {MAX_EXPANSIONS}):"
            " search with fewer terms, or with synonyms=False"
        )
    combos = [parsed] + [
        with_terms(parsed, combo) for combo in itertools.product(*groups) if combo != parsed.terms
    ]
    return groups, combos


def rank(title_norm: str, groups: list[tuple[str, ...]]) -> int:
    """A hit's rank under ``groups``: 2 if every group has an alternative in the
    normalized title, 1 if some group has, else 0 — the SQL rank, per group."""
    in_title = [any(alt in title_norm for alt in group) for group in groups]
    return 2 if all(in_title) else 1 if any(in_title) else 0


__all__ = ["MAX_EXPANSIONS", "add", "alternatives", "expansions", "pairs", "rank", "remove"]
