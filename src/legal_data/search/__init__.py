"""Japanese full-text search and conflict-check name keys, database-independent core.

This package owns everything about *what* is indexed and *what* is asked, so the
index side and the query side can never drift apart:

- :mod:`.normalize` — the one versioned text normalizer (``NORMALIZER_VERSION``),
  character bigrams, tsvector lexemes, the safe tsquery literal and chunking of
  long documents;
- :mod:`.query` — the user query syntax (AND of terms, ``"phrases"``, ``-exclusions``)
  parsed into bigrams to require and ``LIKE`` patterns to recheck;
- :mod:`.snippet` — result snippets highlighted in the *original* text;
- :mod:`.names` — person/company/kana keys and a fuzzy similarity for conflict checks;
- :mod:`.api` — ``documents``/``cases``/``communications``: ranked, keyset-paginated
  search with highlighted snippets, through the RLS-safe functions of :mod:`.sql` (as
  replaced by :mod:`.sql_tiered`, revision 0020);
- :mod:`.synonyms` — the firm's synonym pairs (原告 ↔ 申立人) and query expansion;
- :mod:`.indexer` — index rows from source rows, the queue drain and reindexing;
  :mod:`.hooks` indexes at commit what a tenant session's transaction queued.

search_ja.md explains why bigrams + ``LIKE`` recheck and not pg_trgm; :mod:`.sql`
why searching goes through SECURITY DEFINER functions.
"""

from __future__ import annotations

from legal_data.search import synonyms
from legal_data.search.api import (
    CaseHit,
    CommunicationHit,
    DocumentHit,
    SearchHit,
    SearchPage,
    cases,
    communications,
    documents,
)
from legal_data.search.indexer import drain, enqueue_all, pending
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
    "CaseHit",
    "CommunicationHit",
    "DocumentHit",
    "ParsedQuery",
    "SearchHit",
    "SearchPage",
    "bigrams",
    "cases",
    "chunks",
    "communications",
    "company_key",
    "documents",
    "drain",
    "enqueue_all",
    "highlight",
    "index_lexemes",
    "kana_key",
    "name_keys",
    "normalize_text",
    "parse_query",
    "pending",
    "person_key",
    "search_document",
    "similarity",
    "synonyms",
    "tsquery_literal",
    "tsquery_terms",
    "tsvector_text",
]
