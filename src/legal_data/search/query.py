"""User query syntax for document search.

- Whitespace (ASCII or ideographic ``U+3000``) separates terms; all terms are ANDed.
- ``"quoted phrase"`` is one term (``＂`` and ``“ ”`` count as quotes too). Since the
  normalizer drops spaces, ``"損害 賠償"`` finds ``損害賠償`` and ``損害　賠償``.
- A leading ``-`` (also ``－`` or ``−``) excludes a term: ``離婚 -調停``.

Every term is normalized with :func:`~legal_data.search.normalize.normalize_text`;
terms that normalize to nothing (``-``, ``!!!``, ``""``) are ignored. The database
evaluates a :class:`ParsedQuery` as::

    tsv @@ CAST(:tsquery AS tsquery)                      -- GIN prefilter
    AND search_norm LIKE :p1 ESCAPE '\\' AND ...          -- exact recheck, one per term
    AND NOT (search_norm LIKE :x1 ESCAPE '\\') AND ...    -- exclusions: LIKE only,
                                                          -- bigrams would over-exclude

Limits keep a query cheap and within the chunk overlap: at most
:data:`MAX_QUERY_CHARS` raw characters, :data:`MAX_TERMS` terms and
``MAX_TERM_CHARS`` normalized characters per term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from legal_data.errors import InvalidSearchQuery
from legal_data.search.normalize import (
    MAX_TERM_CHARS,
    normalize_text,
    term_lexemes,
    tsquery_literal,
)

MAX_QUERY_CHARS: Final = 1000
MAX_TERMS: Final = 16

_QUOTES: Final = '"＂“”'
_MINUS: Final = "-－−"
# An optional minus, then either a quoted phrase or a run of non-space, non-quote characters.
_TOKEN: Final = re.compile(
    rf"([{_MINUS}]?)(?:[{_QUOTES}]([^{_QUOTES}]*)[{_QUOTES}]|([^\s{_QUOTES}]+))"
)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A validated query. All strings are normalized; order is first-seen, no duplicates.

    ``required_bigrams`` are the lexemes the ``tsvector`` must contain (entries of
    one character are prefix matches, as :attr:`tsquery` spells out);
    ``like_patterns`` / ``excluded_like_patterns`` are ``%term%`` with ``% _ \\``
    escaped for ``LIKE … ESCAPE '\\'``.
    """

    raw: str
    terms: tuple[str, ...]
    excluded_terms: tuple[str, ...]
    required_bigrams: tuple[str, ...]
    like_patterns: tuple[str, ...]
    excluded_like_patterns: tuple[str, ...]

    @property
    def tsquery(self) -> str:
        """Text to bind for ``CAST(:tsquery AS tsquery)`` (every lexeme quoted)."""
        return tsquery_literal(self.required_bigrams)


def like_escape(term: str) -> str:
    """Escape ``\\``, ``%`` and ``_`` for ``LIKE … ESCAPE '\\'``."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(term: str) -> str:
    """``%term%`` with ``term`` escaped: a substring test on ``search_norm``."""
    return f"%{like_escape(term)}%"


def _dedupe(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def with_terms(parsed: ParsedQuery, terms: tuple[str, ...]) -> ParsedQuery:
    """``parsed`` with other required terms (normalized, e.g. a synonym expansion);
    exclusions and the raw text are kept."""
    terms = _dedupe(list(terms))
    return ParsedQuery(
        raw=parsed.raw,
        terms=terms,
        excluded_terms=parsed.excluded_terms,
        required_bigrams=_dedupe([g for t in terms for g in term_lexemes(t)]),
        like_patterns=tuple(like_pattern(t) for t in terms),
        excluded_like_patterns=parsed.excluded_like_patterns,
    )


def parse_query(q: str) -> ParsedQuery:
    """Parse and normalize a user query; raise :class:`InvalidSearchQuery` if unusable."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidSearchQuery(f"search query is longer than {MAX_QUERY_CHARS} characters")
    if not q.strip():
        raise InvalidSearchQuery("search query is empty")
    if sum(q.count(c) for c in _QUOTES) % 2:
        raise InvalidSearchQuery("search query has an unbalanced quote")

    required: list[str] = []
    excluded: list[str] = []
    for match in _TOKEN.finditer(q):
        minus, phrase, word = match.groups()
        term = normalize_text(phrase if phrase is not None else word)
        if not term:
            continue  # punctuation-only words like "-" or "!!!" carry nothing to search
        if len(term) > MAX_TERM_CHARS:
            raise InvalidSearchQuery(f"a search term is longer than {MAX_TERM_CHARS} characters")
        (excluded if minus else required).append(term)

    if len(required) + len(excluded) > MAX_TERMS:
        raise InvalidSearchQuery(f"search query has more than {MAX_TERMS} terms")
    if not required:
        # Exclusions alone would scan every document; refuse rather than be slow.
        raise InvalidSearchQuery("search query has no searchable characters")

    excluded_terms = _dedupe(excluded)
    exclusions = ParsedQuery(
        raw=q,
        terms=(),
        excluded_terms=excluded_terms,
        required_bigrams=(),
        like_patterns=(),
        excluded_like_patterns=tuple(like_pattern(t) for t in excluded_terms),
    )
    return with_terms(exclusions, tuple(required))
