"""Japanese full-text search and conflict-check name keys, database-independent core.

This package owns everything about *what* is indexed and *what* is asked, so the
index side and the query side can never drift apart:

- :mod:`.normalize` — the one versioned text normalizer (``NORMALIZER_VERSION``),
  character bigrams, tsvector lexemes, the safe tsquery literal and chunking of
  long documents;
- :mod:`.query` — the user query syntax (AND of terms, ``"phrases"``, ``-exclusions``)
  parsed into bigrams to require and ``LIKE`` patterns to recheck;
- :mod:`.snippet` — result snippets highlighted in the *original* text;
- :mod:`.names` — person/company/kana keys and a fuzzy similarity for conflict checks.

The PostgreSQL side (bigram ``tsvector`` columns with GIN, RLS-safe search
functions, conflict queries) builds on these functions and is added later; the
contract it must follow is written down in each module's docstring
(search_ja.md explains why bigrams + ``LIKE`` recheck and not pg_trgm).
"""

from __future__ import annotations

from legal_data.search.names import (
    SIMILARITY_POTENTIAL,
    company_key,
    kana_key,
    name_keys,
    person_key,
    similarity,
)
from legal_data.search.normalize import (
    NORMALIZER_VERSION,
    bigrams,
    chunks,
    index_lexemes,
    normalize_text,
    search_document,
    tsquery_literal,
    tsquery_terms,
    tsvector_text,
)
from legal_data.search.query import ParsedQuery, parse_query
from legal_data.search.snippet import highlight

__all__ = [
    "NORMALIZER_VERSION",
    "SIMILARITY_POTENTIAL",
    "ParsedQuery",
    "bigrams",
    "chunks",
    "company_key",
    "highlight",
    "index_lexemes",
    "kana_key",
    "name_keys",
    "normalize_text",
    "parse_query",
    "person_key",
    "search_document",
    "similarity",
    "tsquery_literal",
    "tsquery_terms",
    "tsvector_text",
]
