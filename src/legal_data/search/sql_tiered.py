"""The search functions of revision 0020: rank tiers, and a newest-first walk for frequent terms.

Installed by ``alembic/versions/0020_search_tiers.py`` and, like :mod:`legal_data.search.sql`
(whose role, grants and security rules they keep), append-only: a change is a new
constant and a new revision.

**What 0017 left slow.** Results are ordered by rank (every term in the title 2, some 1,
none 0), then recency, then id. 0017 computed that order over *every* hit of the GIN
index — about 2 µs per hit — so a two-character word found in a third of a firm of
100,000 documents (請求) cost 80–110 ms, whatever the page size.

**Tiers.** The order is a concatenation: all rank-2 hits newest first, then rank 1, then
rank 0. ``search_*_find`` (PL/pgSQL now) fills the page tier by tier, and reads each
tier one of two ways:

1. **the walk** — the firm's index rows newest first on ``(tenant_id, sort_at, entity)``,
   each tested on its narrow row (the normalized title, which is kept inline, for ranks
   2 and 1; the chunk's normalized text for rank 0), for at most :data:`WALK_ROWS` rows.
   For a frequent term the page is full after a few dozen rows: this is the path that
   makes 請求 fast;
2. **the index** — if the walk ran out of rows before the page was full, the rest of the
   tier (rows older than the last walked one) comes from a GIN index, as in 0017:
   ``ix_*_title_keys`` (the title's characters and bigrams, firm-prefixed) for ranks 2
   and 1, ``ix_*_lexemes`` for rank 0. A term the walk did not find often enough is one
   whose tier is small, which is what a GIN lookup does well.

Both ways return a tier in the same order, and the walked rows all come before the
indexed ones, so the concatenation is exact; the cost is bounded by about
:data:`WALK_ROWS` narrow-row tests per tier plus the GIN lookup of a *sparse* tier.

**Each candidate** goes through ``search_*_hit`` (SQL, inlined into the page query):
the source row re-checked (firm, deletion, walls, filters), the exact ``LIKE`` recheck
over all chunks (every term in some chunk, no excluded term in any), and the snippet
window — the same rules and SQL as 0017's page step, now one function per kind.

Security is unchanged: the functions are SECURITY DEFINER owned by ``legal_search``
with a pinned ``search_path``; the firm is ``app_current_tenant_id()`` (none: no rows),
the walls ``app_walled_case_ids()``; callers pass bound values only and nothing is
executed dynamically. The helpers (``search_*_hit``) are executable by ``legal_search``
only. ``search_title_keys`` / ``search_term_keys`` are pure functions of their
arguments (executable by everyone: an index expression is evaluated with the writer's
rights).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Final

from legal_data.search.sql import _RECHECK, _WINDOW, OFFSET_STEP

#: Index rows a tier's walk reads before the rest of the tier comes from a GIN index. A
#: tier denser than ``limit / WALK_ROWS`` fills a page within the walk; a sparser one
#: has at most about ``firm rows × limit / WALK_ROWS`` hits for the index to return.
WALK_ROWS: Final = 1000
#: The same for rank 0, whose test reads the chunk's text (out of line, a TOAST fetch:
#: 5–40 µs a row against well under 1 µs for the inline title).
WALK_ROWS_TEXT: Final = 250

# -- title keys: the characters and bigrams of a normalized title ---------------------------

#: Firm prefix of a title key: 8 hex digits of md5(tenant id), so posting lists are per
#: firm (like the lexemes' token; a collision only adds candidates that the firm filter
#: drops). Written in SQL because an index expression must be.
KEY_FUNCTIONS: Final = """
CREATE FUNCTION search_title_keys(tenant uuid, title text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(
    SELECT DISTINCT left(md5(CAST(tenant AS text)), 8) || substr(title, i, n)
    FROM generate_series(1, 2) AS n,
         generate_series(1, length(title) - n + 1) AS i
);
CREATE FUNCTION search_term_keys(tenant uuid, term text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- What a title containing ``term`` must have among its keys: its bigrams, or the
-- character itself for a one-character term.
RETURN ARRAY(
    SELECT DISTINCT left(md5(CAST(tenant AS text)), 8)
                    || substr(term, i, least(length(term), 2))
    FROM generate_series(1, greatest(length(term) - 1, 1)) AS i
);
"""

DROP_KEY_FUNCTIONS: Final = (
    "DROP FUNCTION IF EXISTS search_title_keys(uuid, text);"
    "DROP FUNCTION IF EXISTS search_term_keys(uuid, text);"
)


@dataclass(frozen=True)
class Kind:
    """What differs between documents, cases and communications."""

    name: str  # documents, cases, communications
    table: str  # the index table
    entity: str  # its entity column
    returns: str  # the RETURNS TABLE columns of find and hit
    params: str  # the kind's filter parameters (name type, ...)
    param_names: str  # the same, names only, as passed on
    row_filters: str  # on the index row (alias s), with v_walled the walls
    source: str  # the hit's source row (alias k) and its output columns
    signature: str  # find's argument types

    @property
    def find(self) -> str:
        return f"search_{self.name}_find"

    @property
    def hit(self) -> str:
        return f"search_{self.name}_hit"

    @property
    def hit_signature(self) -> str:
        return (
            f"{self.hit}(uuid, uuid[], uuid, integer, timestamptz, text[], text[], text[],"
            f" {self.signature})"
        )

    @property
    def sort_index(self) -> str:
        return f"ix_{self.table}_tenant_id_sort_at"

    @property
    def title_index(self) -> str:
        return f"ix_{self.table}_title_keys"


# -- one candidate: source row, exact recheck, snippet window -------------------------------

# 0017's recheck (every term in some chunk, no excluded term in any) and snippet window,
# reused as they are: they read the firm as ``ctx.tenant_id`` and the entity as ``o.<e>``,
# which the hit function provides as one-row relations of its arguments.
_CANDIDATE: Final = """
CROSS JOIN (SELECT p_tenant AS tenant_id) ctx
CROSS JOIN (SELECT p_id AS {e}) o"""


def hit_function(kind: Kind) -> str:
    """``search_<kind>_hit``: the result row of one candidate, or no row."""
    fmt = {"t": kind.table, "e": kind.entity, "step": OFFSET_STEP}
    return f"""
CREATE FUNCTION {kind.hit}(
    p_tenant uuid, p_walled uuid[], p_id uuid, p_rank integer, p_sort_at timestamptz,
    p_terms text[], p_like text[], p_not_like text[], {kind.params}
) RETURNS TABLE ({kind.returns})
    LANGUAGE sql STABLE
AS $$
{kind.source}
{_CANDIDATE.format(**fmt)}
{_RECHECK.format(**fmt)}
{_WINDOW.format(**fmt)}
WHERE m.matches
$$;
REVOKE ALL ON FUNCTION {kind.hit_signature} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {kind.hit_signature} TO legal_search;
"""


# -- the page: tiers, each walked and then, if need be, looked up ---------------------------

# The tier tests on one index row (alias s). Rank 2 and 1 look at chunk 0 only (every
# chunk carries the title); rank 0 at every chunk: a one-chunk entity's text is tested
# exactly, a longer one's chunks by lexemes (the recheck in the hit decides).
_TIER_TEST: Final = """CASE v_tier
            WHEN 2 THEN s.chunk_no = 0 AND s.title_norm LIKE ALL (p_like)
            WHEN 1 THEN s.chunk_no = 0 AND s.title_norm LIKE ANY (p_like)
                        AND NOT s.title_norm LIKE ALL (p_like)
                        AND (s.n_chunks > 1 OR s.search_norm LIKE ALL (p_like))
            ELSE NOT s.title_norm LIKE ANY (p_like)
                 AND CASE WHEN s.n_chunks = 1 THEN s.search_norm LIKE ALL (p_like)
                          ELSE s.lexemes @@ CAST(p_split AS tsquery) END
        END"""

_PAGE: Final = """
        RETURN QUERY
        SELECT h.*
        FROM ({candidates}) c
        CROSS JOIN LATERAL public.{hit}(v_tenant, v_walled, c.{e}, v_tier, c.sort_at,
                                        p_terms, p_like, p_not_like, {params}) h
        ORDER BY c.sort_at DESC, c.{e} DESC
        LIMIT v_left;
        GET DIAGNOSTICS v_found = ROW_COUNT;
        v_left := v_left - v_found;
        EXIT WHEN v_left = 0;"""

# The tier's range: from the start (the cursor, or the firm's newest row) down to the
# edge. The walk and the edge read it as a range of (tenant_id, sort_at, entity), newest
# first. The lookups test the same bounds wrapped in IS TRUE, which no index can serve,
# so their only way in is their GIN index (never the firm's whole key range).
_FIRM: Final = "(s.tenant_id = v_tenant) IS TRUE AND s.{e} IS DISTINCT FROM v_skip"
_FROM_START: Final = "s.tenant_id = v_tenant AND (s.sort_at, s.{e}) <= (v_at, v_id)"
_TO_EDGE: Final = "(s.sort_at, s.{e}) >= (v_edge_at, v_edge_id)"
_BELOW_EDGE: Final = "((s.sort_at, s.{e}) < (v_edge_at, v_edge_id)) IS TRUE"

_WALK: Final = """
            SELECT DISTINCT ON (s.sort_at, s.{e}) s.{e}, s.sort_at
            FROM public.{t} s
            WHERE {from_start} AND {to_edge}
              AND {firm}
              AND {filters}
              AND {tier_test}
            ORDER BY s.sort_at DESC, s.{e} DESC
            LIMIT {walk_rows}"""

# Below the edge, by index. Rank 2: titles with every key of every term; rank 1: titles
# with any of them; rank 0: the lexemes, as in 0017 (one-chunk rows by every lexeme,
# longer entities by the marker and any one term).
_TITLE_LOOKUP: Final = """
            SELECT s.{e}, s.sort_at
            FROM public.{t} s
            WHERE public.search_title_keys(s.tenant_id, s.title_norm) {op} v_keys
              AND s.chunk_no = 0
              AND ((s.sort_at, s.{e}) <= (v_at, v_id)) IS TRUE AND {below_edge}
              AND {firm}
              AND {filters}
              AND {tier_test}"""

_LEXEME_LOOKUP: Final = """
            SELECT s.{e}, s.sort_at
            FROM public.{t} s
            WHERE s.lexemes @@ CAST(p_all AS tsquery) AND s.n_chunks = 1
              AND ((s.sort_at, s.{e}) <= (v_at, v_id)) IS TRUE AND {below_edge}
              AND {firm}
              AND {filters}
              AND NOT s.title_norm LIKE ANY (p_like)
            UNION ALL
            SELECT DISTINCT ON (s.{e}) s.{e}, s.sort_at
            FROM public.{t} s
            WHERE s.lexemes @@ CAST(p_split AS tsquery) AND s.n_chunks > 1
              AND ((s.sort_at, s.{e}) <= (v_at, v_id)) IS TRUE AND {below_edge}
              AND {firm}
              AND {filters}
              AND NOT s.title_norm LIKE ANY (p_like)"""


def _sorted(e: str, lookup: str) -> str:
    # Sorted before the page joins the hit function, which then runs for the page's rows
    # only; OFFSET 0 keeps the planner from moving the sort above the join (it would, on
    # its estimate of one candidate, and run the hit for every candidate).
    return f"""
            SELECT l.* FROM ({lookup}
            ) l
            ORDER BY l.sort_at DESC, l.{e} DESC
            OFFSET 0"""


def find_function(kind: Kind) -> str:
    """``search_<kind>_find`` (same arguments and result as 0017's)."""
    t, e = kind.table, kind.entity
    common = {
        "t": t,
        "e": e,
        "firm": _FIRM.format(e=e),
        "from_start": _FROM_START.format(e=e),
        "to_edge": _TO_EDGE.format(e=e),
        "below_edge": _BELOW_EDGE.format(e=e),
        "filters": kind.row_filters,
        "walk_rows": WALK_ROWS,
    }
    walk = _WALK.format(**common, tier_test=_TIER_TEST)
    title_all = _sorted(
        e, _TITLE_LOOKUP.format(**common, op="@>", tier_test="s.title_norm LIKE ALL (p_like)")
    )
    title_any = _sorted(e, _TITLE_LOOKUP.format(**common, op="&&", tier_test=_TIER_TEST))
    lexemes = _sorted(e, _LEXEME_LOOKUP.format(**common))

    def page(candidates: str, indent: str = "") -> str:
        sql = _PAGE.format(candidates=candidates, hit=kind.hit, e=e, params=kind.param_names)
        return textwrap.indent(sql, indent, lambda line: bool(line.strip()))

    return f"""
CREATE OR REPLACE FUNCTION {kind.find}(
    p_all text,           -- tsquery: every lexeme of every term (rows of one chunk)
    p_split text,         -- tsquery: the long-entity marker & (term | term ...)
    p_terms text[],       -- the normalized terms (the first one places the snippet)
    p_like text[],        -- one LIKE pattern per term, escaped with \\ (exact recheck)
    p_not_like text[],    -- one LIKE pattern per excluded term
    {kind.params},
    p_after_rank integer,  -- keyset cursor: the last row of the previous page
    p_after_at timestamptz,
    p_after_id uuid,
    p_limit integer
) RETURNS TABLE ({kind.returns})
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
    -- Unset or empty tenant setting: NULL, and the function returns nothing.
    v_tenant uuid := public.app_current_tenant_id();
    v_walled uuid[];
    v_keys text[];
    v_left integer := p_limit;
    v_found integer;
    v_tier integer;
    -- This tier's range starts at (v_at, v_id), v_skip excluded (the cursor's row) ...
    v_at timestamptz;
    v_id uuid;
    v_skip uuid;
    -- ... is walked down to (v_edge_at, v_edge_id), and looked up below it.
    v_edge_at timestamptz;
    v_edge_id uuid;
BEGIN
    IF v_tenant IS NULL OR p_limit IS NULL OR p_limit < 1 OR cardinality(p_like) IS NULL THEN
        RETURN;
    END IF;
    v_walled := public.app_walled_case_ids();
    v_keys := ARRAY(SELECT DISTINCT k FROM unnest(p_terms) AS t (term),
                    unnest(public.search_term_keys(v_tenant, t.term)) AS k);
    FOREACH v_tier IN ARRAY ARRAY[2, 1, 0] LOOP
        -- Rank 1 (some terms in the title, not all) needs two terms.
        CONTINUE WHEN v_tier = 1 AND cardinality(p_like) < 2;
        CONTINUE WHEN p_after_id IS NOT NULL AND v_tier > p_after_rank;
        IF p_after_id IS NOT NULL AND v_tier = p_after_rank THEN
            v_at := p_after_at;
            v_id := p_after_id;
            v_skip := p_after_id;
        ELSE
            v_at := 'infinity';
            v_id := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
            v_skip := NULL;
        END IF;
        -- The edge: the {WALK_ROWS}th row of the range ({WALK_ROWS_TEXT}th for rank 0).
        -- None (the walk reaches the firm's oldest row): the lowest possible key, so the
        -- walk covers the whole range. (Set first: it is the edge query's lower bound.)
        v_edge_at := '-infinity';
        v_edge_id := '00000000-0000-0000-0000-000000000000';
        SELECT s.sort_at, s.{e} INTO v_edge_at, v_edge_id
        FROM public.{t} s
        WHERE {common["from_start"]} AND {common["to_edge"]}
          AND {common["firm"]}
        ORDER BY s.sort_at DESC, s.{e} DESC
        OFFSET CASE v_tier WHEN 0 THEN {WALK_ROWS_TEXT - 1} ELSE {WALK_ROWS - 1} END LIMIT 1;
        IF NOT FOUND THEN
            v_edge_at := '-infinity';
            v_edge_id := '00000000-0000-0000-0000-000000000000';
        END IF;
{page(walk)}
        CONTINUE WHEN v_edge_at = '-infinity';
        IF v_tier = 2 THEN{page(title_all, "    ")}
        ELSIF v_tier = 1 THEN{page(title_any, "    ")}
        ELSE{page(lexemes, "    ")}
        END IF;
    END LOOP;
END
$$;
"""


# -- the three kinds ------------------------------------------------------------------------

DOCUMENTS: Final = Kind(
    name="documents",
    table="search_documents",
    entity="document_id",
    returns=(
        "document_id uuid, case_id uuid, category_id uuid, title text, is_privileged boolean,"
        " rank integer, sort_at timestamptz,"
        " snippet_source text, snippet_from_start boolean, snippet_to_end boolean"
    ),
    params="p_case_id uuid, p_category_id uuid",
    param_names="p_case_id, p_category_id",
    row_filters=(
        "NOT s.deleted AND s.case_id <> ALL (v_walled)"
        " AND (p_case_id IS NULL OR s.case_id = p_case_id)"
        " AND (p_category_id IS NULL OR s.category_id = p_category_id)"
    ),
    source="""
SELECT k.id, k.case_id, k.category_id, k.title, k.is_privileged, p_rank, p_sort_at,
       public.search_snippet_source(k.head, k.body, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
-- The source row decides, whatever the index row says: same firm, not deleted, not walled.
FROM (
    SELECT d.id, d.case_id, d.category_id, d.title, d.is_privileged,
           d.title || E'\\n' || coalesce(d.description, '') AS head,
           coalesce(v.extracted_text, '') AS body
    FROM public.documents d
    LEFT JOIN public.document_versions v
           ON v.tenant_id = d.tenant_id AND v.id = d.current_version_id
    WHERE d.tenant_id = p_tenant AND d.id = p_id AND d.deleted_at IS NULL
      AND d.case_id <> ALL (p_walled)
      AND (p_case_id IS NULL OR d.case_id = p_case_id)
      AND (p_category_id IS NULL OR d.category_id = p_category_id)
) k""",
    signature="uuid, uuid",
)

CASES: Final = Kind(
    name="cases",
    table="search_cases",
    entity="case_id",
    returns=(
        "case_id uuid, display_number integer, title text, status text, practice_area text,"
        " rank integer, sort_at timestamptz,"
        " snippet_source text, snippet_from_start boolean, snippet_to_end boolean"
    ),
    params="p_status text",
    param_names="p_status",
    row_filters=(
        "NOT s.deleted AND s.case_id <> ALL (v_walled)"
        " AND (p_status IS NULL OR s.case_status = p_status)"
    ),
    source="""
SELECT k.id, k.display_number, k.title, k.status, k.practice_area, p_rank, p_sort_at,
       public.search_snippet_source(k.head, NULL, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
FROM (
    SELECT c.id, c.display_number, c.title, c.status, c.practice_area,
           c.title || E'\\n' || coalesce(c.description, '') AS head
    FROM public.cases c
    WHERE c.tenant_id = p_tenant AND c.id = p_id AND c.deleted_at IS NULL
      AND c.id <> ALL (p_walled)
      AND (p_status IS NULL OR c.status = p_status)
) k""",
    signature="text",
)

COMMUNICATIONS: Final = Kind(
    name="communications",
    table="search_communications",
    entity="communication_id",
    returns=(
        "communication_id uuid, case_id uuid, subject text, channel text, direction text,"
        " occurred_at timestamptz, is_privileged boolean, rank integer, sort_at timestamptz,"
        " snippet_source text, snippet_from_start boolean, snippet_to_end boolean"
    ),
    params="p_case_id uuid, p_channel text",
    param_names="p_case_id, p_channel",
    row_filters=(
        "(s.case_id IS NULL OR s.case_id <> ALL (v_walled))"
        " AND (p_case_id IS NULL OR s.case_id = p_case_id)"
        " AND (p_channel IS NULL OR s.channel = p_channel)"
    ),
    source="""
SELECT k.id, k.case_id, k.subject, k.channel, k.direction, k.occurred_at, k.is_privileged,
       p_rank, p_sort_at,
       public.search_snippet_source(k.head, NULL, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
FROM (
    SELECT m.id, m.case_id, m.subject, m.channel, m.direction, m.occurred_at, m.is_privileged,
           coalesce(m.subject, '') AS head
    FROM public.communications m
    WHERE m.tenant_id = p_tenant AND m.id = p_id
      AND (m.case_id IS NULL OR m.case_id <> ALL (p_walled))
      AND (p_case_id IS NULL OR m.case_id = p_case_id)
      AND (p_channel IS NULL OR m.channel = p_channel)
) k""",
    signature="uuid, text",
)

KINDS: Final = (DOCUMENTS, CASES, COMMUNICATIONS)

#: The walk's order and the title keys' GIN, per index table (built CONCURRENTLY by 0020).
INDEXES: Final = {
    k.table: (
        (k.sort_index, f"tenant_id, sort_at, {k.entity}", "btree", ""),
        (
            k.title_index,
            "(search_title_keys(tenant_id, title_norm))",
            "gin",
            " WHERE chunk_no = 0",
        ),
    )
    for k in KINDS
}

HIT_FUNCTIONS: Final = "".join(hit_function(k) for k in KINDS)
FIND_FUNCTIONS: Final = "".join(find_function(k) for k in KINDS)

DROP_HIT_FUNCTIONS: Final = "".join(f"DROP FUNCTION IF EXISTS {k.hit_signature};" for k in KINDS)
