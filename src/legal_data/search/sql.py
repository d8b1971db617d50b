"""The PostgreSQL side of search: index triggers and the RLS-safe search functions.

Installed by ``alembic/versions/0017_search.py``. This module is imported by that
revision, so it is append-only like the revisions: a changed trigger or function is a
new constant and a new revision, never an edit of what 0017 installs.

Revision 0020 replaces the three ``search_*_find`` functions described below with the
tiered ones of :mod:`legal_data.search.sql_tiered` (same names, arguments, results, owner
and rules); 0020's downgrade reinstalls these.

**Why SECURITY DEFINER functions.** ``@@`` and ``LIKE`` are not leakproof, so under Row
Level Security PostgreSQL must not evaluate them before the policies, and a search as
the application role cannot use the GIN index: it reads every row of the firm (rls.md
§5; ``tests/db/test_search_explain.py`` shows both plans). The search therefore runs in
one function per kind, ``search_documents_find``, ``search_cases_find`` and
``search_communications_find``:

- owned by ``legal_search`` (NOLOGIN, BYPASSRLS, no members; SELECT on the searched
  columns only), ``search_path`` pinned to ``pg_catalog, pg_temp`` with every object
  schema-qualified, EXECUTE revoked from PUBLIC and granted to ``legal_app`` only;
- the caller passes only bound values (tsquery text built and quoted by the library,
  ``LIKE`` patterns, filters, a keyset cursor, a limit); no SQL text, identifiers or
  operators, and nothing dynamic is executed;
- the function applies **every** rule the policies would have applied, itself: the firm
  is ``app_current_tenant_id()`` (unset or empty: no rows at all), the ethical walls are
  ``app_walled_case_ids()`` for the transaction's user (the same function the
  ``ethical_wall`` policies use), soft-deleted rows are skipped, and the returned rows
  are re-checked against the source tables (``documents``, ``cases``,
  ``communications``) so a stale index row can never show more than the source would.

**Query plan, in three steps** (CTEs; the last two behind an ``OFFSET 0`` fence). The
functions are SQL functions planned without the argument values (a generic plan), so
settings pin the plan: ``enable_seqscan = off`` (the firm-token lexemes make the GIN
index the right access path at any size — a sequential scan would read and detoast the
lexemes of every firm's rows), ``jit = off`` (compiling costs more than a search) and
``max_parallel_workers_per_gather = 0`` (starting workers costs more than the scan).

1. ``hits`` — the GIN index alone finds the chunks whose lexemes match; lexemes carry the
   firm's token (``legal_data.search.indexer.tenant_token``), so the posting lists are
   the firm's own. On those rows: the firm (compared with ``IS TRUE`` so that it cannot
   become a second bitmap over the firm's whole key range), the walls, soft deletion and
   the filters, all on the narrow index row; and the rank (every term in the title 2,
   some 1, none 0);
2. ``ordered`` — rank, then recency (``sort_at``), then id, after the keyset cursor;
3. the page — rows in that order through ``LATERAL`` joins (so the order is kept and the
   ``LIMIT`` stops early): the source row re-checked, the exact ``LIKE`` recheck over all
   chunks of the entity (a term in any chunk, an excluded term in none), and a window of
   the original text around the first match for the snippet.

A document longer than one chunk is found through the ``<token>#`` lexeme that marks
every chunk of such documents: ``p_split`` is ``marker & (term1 | term2 | …)`` and the
exact recheck decides. Single-chunk rows are found by ``p_all`` (every lexeme of every
term) and never need a second look at other chunks.
"""

from __future__ import annotations

from typing import Final

SEARCH_ROLE: Final = "legal_search"

#: Normalized characters per entry of an index row's ``offsets`` (the snippet map).
OFFSET_STEP: Final = 64

GRANTS: Final = """
GRANT USAGE ON SCHEMA public TO legal_search;
GRANT SELECT (tenant_id, id, case_id, category_id, title, description, is_privileged,
              deleted_at, current_version_id) ON documents TO legal_search;
GRANT SELECT (tenant_id, id, extracted_text) ON document_versions TO legal_search;
GRANT SELECT (tenant_id, id, display_number, title, description, status, practice_area,
              deleted_at) ON cases TO legal_search;
GRANT SELECT (tenant_id, id, case_id, channel, direction, occurred_at, subject,
              is_privileged) ON communications TO legal_search;
GRANT SELECT (tenant_id, case_id, user_id, role_id, ended_at) ON ethical_walls TO legal_search;
GRANT SELECT (tenant_id, user_id, role_id) ON user_roles TO legal_search;
GRANT SELECT ON search_documents, search_cases, search_communications TO legal_search;
GRANT EXECUTE ON FUNCTION app_walled_case_ids() TO legal_search;
"""

REVOKES: Final = """
REVOKE ALL ON documents, document_versions, cases, communications, ethical_walls, user_roles,
    search_documents, search_cases, search_communications FROM legal_search;
REVOKE ALL ON FUNCTION app_walled_case_ids() FROM legal_search;
REVOKE ALL ON SCHEMA public FROM legal_search;
"""

# -- triggers: queue text changes, copy filter columns ------------------------------------

# Statement-level with transition tables (like the audit capture): one INSERT into the
# queue per statement whatever the number of rows, so bulk loads stay cheap. Invoker's
# rights: the writer already passed the source table's policies, and the queue and index
# rows it touches belong to the same firm (their own RLS checks that again).
_ENQUEUE: Final = """
        INSERT INTO public.search_queue AS q (tenant_id, id, kind, entity_id)
        SELECT DISTINCT ON (c.tenant_id, c.entity_id)
               c.tenant_id, public.app_uuid_v7(), '{kind}', c.entity_id
        FROM ({changed}) AS c (tenant_id, entity_id)
        ON CONFLICT (tenant_id, kind, entity_id)
            DO UPDATE SET txid = EXCLUDED.txid, enqueued_at = EXCLUDED.enqueued_at;"""


def _enqueue(kind: str, changed: str) -> str:
    return _ENQUEUE.format(kind=kind, changed=changed)


TRIGGERS: Final = f"""
-- documents: new rows and changed title, description or current version are queued; the
-- filter columns of existing index rows follow in the same statement.
CREATE FUNCTION search_documents_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN{_enqueue("document", "SELECT n.tenant_id, n.id FROM new_rows n")}
        RETURN NULL;
    END IF;
    UPDATE public.search_documents s
    SET case_id = n.case_id, category_id = n.category_id,
        deleted = n.deleted_at IS NOT NULL, sort_at = n.updated_at
    FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
    WHERE s.tenant_id = n.tenant_id AND s.document_id = n.id
      AND (o.case_id, o.category_id, o.deleted_at, o.updated_at)
          IS DISTINCT FROM (n.case_id, n.category_id, n.deleted_at, n.updated_at);
{
    _enqueue(
        "document",
        "SELECT n.tenant_id, n.id FROM new_rows n"
        " JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id"
        " WHERE (o.title, o.description, o.current_version_id)"
        " IS DISTINCT FROM (n.title, n.description, n.current_version_id)",
    )
}
    RETURN NULL;
END
$$;
CREATE TRIGGER search_queue_insert AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_changed();
CREATE TRIGGER search_queue_update AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_changed();

-- document_versions: a new version (the document's pointer moves too) or extracted text
-- filled in later by the OCR job re-queues the document.
CREATE FUNCTION search_document_versions_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN{
    _enqueue("document", "SELECT n.tenant_id, n.document_id FROM new_rows n")
}
        RETURN NULL;
    END IF;{
    _enqueue(
        "document",
        "SELECT n.tenant_id, n.document_id FROM new_rows n"
        " JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id"
        " WHERE o.extracted_text IS DISTINCT FROM n.extracted_text",
    )
}
    RETURN NULL;
END
$$;
CREATE TRIGGER search_queue_insert AFTER INSERT ON document_versions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_document_versions_changed();
CREATE TRIGGER search_queue_update AFTER UPDATE ON document_versions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_document_versions_changed();

-- cases: title and description are indexed; status, deletion and recency follow at once.
CREATE FUNCTION search_cases_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN{_enqueue("case", "SELECT n.tenant_id, n.id FROM new_rows n")}
        RETURN NULL;
    END IF;
    UPDATE public.search_cases s
    SET case_status = n.status, deleted = n.deleted_at IS NOT NULL, sort_at = n.updated_at
    FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
    WHERE s.tenant_id = n.tenant_id AND s.case_id = n.id
      AND (o.status, o.deleted_at, o.updated_at)
          IS DISTINCT FROM (n.status, n.deleted_at, n.updated_at);
{
    _enqueue(
        "case",
        "SELECT n.tenant_id, n.id FROM new_rows n"
        " JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id"
        " WHERE (o.title, o.description) IS DISTINCT FROM (n.title, n.description)",
    )
}
    RETURN NULL;
END
$$;
CREATE TRIGGER search_queue_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_cases_changed();
CREATE TRIGGER search_queue_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_cases_changed();

-- communications: the subject is indexed (bodies are encrypted and never are); case,
-- channel and time follow at once.
CREATE FUNCTION search_communications_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN{_enqueue("communication", "SELECT n.tenant_id, n.id FROM new_rows n")}
        RETURN NULL;
    END IF;
    UPDATE public.search_communications s
    SET case_id = n.case_id, channel = n.channel, sort_at = n.occurred_at
    FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
    WHERE s.tenant_id = n.tenant_id AND s.communication_id = n.id
      AND (o.case_id, o.channel, o.occurred_at)
          IS DISTINCT FROM (n.case_id, n.channel, n.occurred_at);
{
    _enqueue(
        "communication",
        "SELECT n.tenant_id, n.id FROM new_rows n"
        " JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id"
        " WHERE o.subject IS DISTINCT FROM n.subject",
    )
}
    RETURN NULL;
END
$$;
CREATE TRIGGER search_queue_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_communications_changed();
CREATE TRIGGER search_queue_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_communications_changed();
"""

SOURCE_TABLES: Final = ("documents", "document_versions", "cases", "communications")

# ALWAYS, like the audit triggers: a bulk load under session_replication_role = replica
# (which skips ordinary triggers) must not leave rows silently unindexed.
TRIGGERS_ALWAYS: Final = "".join(
    f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER search_queue_insert;"
    f"ALTER TABLE {t} ENABLE ALWAYS TRIGGER search_queue_update;"
    for t in SOURCE_TABLES
)

DROP_TRIGGERS: Final = "".join(
    f"DROP TRIGGER IF EXISTS search_queue_insert ON {t};"
    f"DROP TRIGGER IF EXISTS search_queue_update ON {t};"
    for t in SOURCE_TABLES
) + (
    "DROP FUNCTION IF EXISTS search_documents_changed();"
    "DROP FUNCTION IF EXISTS search_document_versions_changed();"
    "DROP FUNCTION IF EXISTS search_cases_changed();"
    "DROP FUNCTION IF EXISTS search_communications_changed();"
)

# -- the search functions -------------------------------------------------------------------

#: The window of original text around a match: ``head`` (title and description joined by
#: a newline) then, after one more newline, ``body`` (a document's extracted text, NULL
#: for other kinds), cut to original characters ``[ws, we)``. Only the window of a long
#: body is read (``substr`` of a TOASTed value), never the whole text.
SNIPPET_FUNCTION: Final = """
CREATE FUNCTION search_snippet_source(head text, body text, ws integer, we integer)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN ws < length(head)
            THEN substr(head, ws + 1, least(we, length(head)) - ws) ELSE '' END
    || CASE WHEN body IS NOT NULL AND ws <= length(head) AND we > length(head)
            THEN E'\\n' ELSE '' END
    || CASE WHEN body IS NOT NULL AND we > length(head) + 1
            THEN substr(body, greatest(ws - length(head) - 1, 0) + 1,
                        we - greatest(ws, length(head) + 1))
            ELSE '' END;
REVOKE ALL ON FUNCTION search_snippet_source(text, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION search_snippet_source(text, text, integer, integer) TO legal_search;
"""

# Shared pieces of the three functions, spelled out once. ``{t}`` is the index table,
# ``{e}`` its entity column.
_CTX: Final = """
WITH ctx AS MATERIALIZED (
    -- The firm and the walls of this transaction, once per call. Unset or empty tenant
    -- setting: NULL, and NULL = tenant_id matches nothing.
    SELECT public.app_current_tenant_id() AS tenant_id,
           public.app_walled_case_ids() AS walled
)"""

_HITS: Final = """
hits AS (
    -- The GIN index is the only way in (see the module docstring). The firm is compared
    -- with IS TRUE, which no index can serve: it is checked on the rows the firm's
    -- lexemes found, instead of becoming a second bitmap over the firm's whole key range.
    -- ctx is read through scalar subqueries (InitPlans: once per call, not per row). The
    -- rank (every term in the title 2, some 1, none 0) is computed here, once per row.
    SELECT s.{e}, s.sort_at,
           {rank} AS rank
    FROM public.{t} s
    WHERE s.lexemes @@ CAST(p_all AS tsquery) AND s.n_chunks = 1
      AND (s.tenant_id = (SELECT tenant_id FROM ctx)) IS TRUE
      AND {filters}
    UNION ALL
    (SELECT DISTINCT ON (s.{e}) s.{e}, s.sort_at,
           {rank}
     FROM public.{t} s
     WHERE s.lexemes @@ CAST(p_split AS tsquery) AND s.n_chunks > 1
       AND (s.tenant_id = (SELECT tenant_id FROM ctx)) IS TRUE
       AND {filters}
     ORDER BY s.{e})
)"""

_WALLED: Final = "CAST((SELECT walled FROM ctx) AS uuid[])"

_ORDERED: Final = """
ordered AS (
    SELECT r.* FROM hits r
    WHERE p_after_id IS NULL
       OR (r.rank, r.sort_at, r.{e}) < (p_after_rank, p_after_at, p_after_id)
    ORDER BY r.rank DESC, r.sort_at DESC, r.{e} DESC
    OFFSET 0  -- an optimization fence: the page below reads this order as it comes
)"""

_RANK: Final = """CASE WHEN s.title_norm LIKE ANY (p_like)
                THEN CASE WHEN s.title_norm LIKE ALL (p_like) THEN 2 ELSE 1 END
                ELSE 0 END"""

# Every term in some chunk of the entity, no excluded term in any: the exact answer.
# OFFSET 0 keeps each EXISTS a per-row probe of the entity's chunks: without it the
# planner may turn it into a hashed subplan, i.e. one pass over the whole index table
# (PostgreSQL 18 does so for the exclusions when it plans with the argument values).
_RECHECK: Final = """
CROSS JOIN LATERAL (
    SELECT NOT EXISTS (
               SELECT 1 FROM unnest(p_like) AS p (pattern)
               WHERE NOT EXISTS (
                   SELECT 1 FROM public.{t} x
                   WHERE x.tenant_id = ctx.tenant_id AND x.{e} = o.{e}
                     AND x.search_norm LIKE p.pattern
                   OFFSET 0)
               OFFSET 0)
       AND NOT EXISTS (
               SELECT 1 FROM public.{t} x
               WHERE x.tenant_id = ctx.tenant_id AND x.{e} = o.{e}
                 AND x.search_norm LIKE ANY (p_not_like)
               OFFSET 0) AS matches
) m"""

# The first chunk holding the first term, its position preferring the body over the
# title (a snippet that repeats the title says little), and the original-text window
# [ws, we) around it from the chunk's offsets map.
_WINDOW: Final = """
LEFT JOIN LATERAL (
    SELECT f.offsets[b.b0 + 1] AS ws, f.offsets[b.b1 + 1] AS we,
           b.b0 = 0 AND f.chunk_no = 0 AS from_start,
           b.b1 = cardinality(f.offsets) - 1 AND f.chunk_no = f.n_chunks - 1 AS to_end
    FROM (
        SELECT x.offsets, x.chunk_no, x.n_chunks,
               CASE WHEN x.chunk_no = 0 AND x.title_norm <> ''
                         AND strpos(substr(x.search_norm, length(x.title_norm) + 2),
                                    p_terms[1]) > 0
                    THEN length(x.title_norm) + 1
                         + strpos(substr(x.search_norm, length(x.title_norm) + 2), p_terms[1])
                    ELSE strpos(x.search_norm, p_terms[1]) END AS pos
        FROM public.{t} x
        WHERE x.tenant_id = ctx.tenant_id AND x.{e} = o.{e}
          AND x.search_norm LIKE p_like[1]
        ORDER BY x.chunk_no
        LIMIT 1
    ) f
    CROSS JOIN LATERAL (
        SELECT greatest((f.pos - 1) / {step} - 1, 0) AS b0,
               least((f.pos - 1 + length(p_terms[1])) / {step} + 1,
                     cardinality(f.offsets) - 1) AS b1
    ) b
) w ON true"""

_PARAMS: Final = """
    p_all text,           -- tsquery: every lexeme of every term (rows of one chunk)
    p_split text,         -- tsquery: the long-document marker & (term | term ...)
    p_terms text[],       -- the normalized terms (the first one places the snippet)
    p_like text[],        -- one LIKE pattern per term, escaped with \\ (exact recheck)
    p_not_like text[],    -- one LIKE pattern per excluded term"""

_CURSOR: Final = """
    p_after_rank integer,  -- keyset cursor: the last row of the previous page
    p_after_at timestamptz,
    p_after_id uuid,
    p_limit integer"""


def _fmt(template: str, table: str, entity: str, *filters: str) -> str:
    return template.format(
        t=table,
        e=entity,
        filters="\n      AND ".join(filters),
        step=OFFSET_STEP,
        rank=_RANK,
    )


FIND_DOCUMENTS: Final = f"""
CREATE FUNCTION search_documents_find(
{_PARAMS}
    p_case_id uuid,
    p_category_id uuid,
{_CURSOR}
) RETURNS TABLE (
    document_id uuid, case_id uuid, category_id uuid, title text, is_privileged boolean,
    rank integer, sort_at timestamptz,
    snippet_source text, snippet_from_start boolean, snippet_to_end boolean
)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
{_CTX},
{
    _fmt(
        _HITS,
        "search_documents",
        "document_id",
        "NOT s.deleted",
        f"s.case_id <> ALL ({_WALLED})",
        "(p_case_id IS NULL OR s.case_id = p_case_id)",
        "(p_category_id IS NULL OR s.category_id = p_category_id)",
    )
},
{_fmt(_ORDERED, "search_documents", "document_id")}
SELECT o.document_id, d.case_id, d.category_id, d.title, d.is_privileged, o.rank, o.sort_at,
       public.search_snippet_source(d.head, d.body, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
FROM ordered o
CROSS JOIN ctx
-- The source row decides, whatever the index row says: same firm, not deleted, not walled.
CROSS JOIN LATERAL (
    SELECT d.case_id, d.category_id, d.title, d.is_privileged,
           d.title || E'\\n' || coalesce(d.description, '') AS head,
           coalesce(v.extracted_text, '') AS body
    FROM public.documents d
    LEFT JOIN public.document_versions v
           ON v.tenant_id = d.tenant_id AND v.id = d.current_version_id
    WHERE d.tenant_id = ctx.tenant_id AND d.id = o.document_id AND d.deleted_at IS NULL
      AND d.case_id <> ALL (ctx.walled)
      AND (p_case_id IS NULL OR d.case_id = p_case_id)
      AND (p_category_id IS NULL OR d.category_id = p_category_id)
) d
{_fmt(_RECHECK, "search_documents", "document_id")}
{_fmt(_WINDOW, "search_documents", "document_id")}
WHERE m.matches
ORDER BY o.rank DESC, o.sort_at DESC, o.document_id DESC
LIMIT p_limit
$$;
"""

FIND_CASES: Final = f"""
CREATE FUNCTION search_cases_find(
{_PARAMS}
    p_status text,
{_CURSOR}
) RETURNS TABLE (
    case_id uuid, display_number integer, title text, status text, practice_area text,
    rank integer, sort_at timestamptz,
    snippet_source text, snippet_from_start boolean, snippet_to_end boolean
)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
{_CTX},
{
    _fmt(
        _HITS,
        "search_cases",
        "case_id",
        "NOT s.deleted",
        f"s.case_id <> ALL ({_WALLED})",
        "(p_status IS NULL OR s.case_status = p_status)",
    )
},
{_fmt(_ORDERED, "search_cases", "case_id")}
SELECT o.case_id, k.display_number, k.title, k.status, k.practice_area, o.rank, o.sort_at,
       public.search_snippet_source(k.head, NULL, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
FROM ordered o
CROSS JOIN ctx
CROSS JOIN LATERAL (
    SELECT k.display_number, k.title, k.status, k.practice_area,
           k.title || E'\\n' || coalesce(k.description, '') AS head
    FROM public.cases k
    WHERE k.tenant_id = ctx.tenant_id AND k.id = o.case_id AND k.deleted_at IS NULL
      AND k.id <> ALL (ctx.walled)
      AND (p_status IS NULL OR k.status = p_status)
) k
{_fmt(_RECHECK, "search_cases", "case_id")}
{_fmt(_WINDOW, "search_cases", "case_id")}
WHERE m.matches
ORDER BY o.rank DESC, o.sort_at DESC, o.case_id DESC
LIMIT p_limit
$$;
"""

FIND_COMMUNICATIONS: Final = f"""
CREATE FUNCTION search_communications_find(
{_PARAMS}
    p_case_id uuid,
    p_channel text,
{_CURSOR}
) RETURNS TABLE (
    communication_id uuid, case_id uuid, subject text, channel text, direction text,
    occurred_at timestamptz, is_privileged boolean, rank integer, sort_at timestamptz,
    snippet_source text, snippet_from_start boolean, snippet_to_end boolean
)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    SET jit = off
    SET max_parallel_workers_per_gather = 0
AS $$
{_CTX},
{
    _fmt(
        _HITS,
        "search_communications",
        "communication_id",
        f"(s.case_id IS NULL OR s.case_id <> ALL ({_WALLED}))",
        "(p_case_id IS NULL OR s.case_id = p_case_id)",
        "(p_channel IS NULL OR s.channel = p_channel)",
    )
},
{_fmt(_ORDERED, "search_communications", "communication_id")}
SELECT o.communication_id, k.case_id, k.subject, k.channel, k.direction, k.occurred_at,
       k.is_privileged, o.rank, o.sort_at,
       public.search_snippet_source(k.head, NULL, coalesce(w.ws, 0), coalesce(w.we, 400)),
       coalesce(w.from_start, true), coalesce(w.to_end, false)
FROM ordered o
CROSS JOIN ctx
CROSS JOIN LATERAL (
    SELECT k.case_id, k.subject, k.channel, k.direction, k.occurred_at, k.is_privileged,
           coalesce(k.subject, '') AS head
    FROM public.communications k
    WHERE k.tenant_id = ctx.tenant_id AND k.id = o.communication_id
      AND (k.case_id IS NULL OR k.case_id <> ALL (ctx.walled))
      AND (p_case_id IS NULL OR k.case_id = p_case_id)
      AND (p_channel IS NULL OR k.channel = p_channel)
) k
{_fmt(_RECHECK, "search_communications", "communication_id")}
{_fmt(_WINDOW, "search_communications", "communication_id")}
WHERE m.matches
ORDER BY o.rank DESC, o.sort_at DESC, o.communication_id DESC
LIMIT p_limit
$$;
"""

_SEARCH_PARAMS: Final = "text, text, text[], text[], text[]"
_CURSOR_PARAMS: Final = "integer, timestamptz, uuid, integer"

#: The SECURITY DEFINER functions and their argument lists (posture.DEFINER_OWNERS).
FIND_SIGNATURES: Final = (
    f"search_documents_find({_SEARCH_PARAMS}, uuid, uuid, {_CURSOR_PARAMS})",
    f"search_cases_find({_SEARCH_PARAMS}, text, {_CURSOR_PARAMS})",
    f"search_communications_find({_SEARCH_PARAMS}, uuid, text, {_CURSOR_PARAMS})",
)

FUNCTIONS: Final = SNIPPET_FUNCTION + FIND_DOCUMENTS + FIND_CASES + FIND_COMMUNICATIONS

DROP_FUNCTIONS: Final = "".join(f"DROP FUNCTION IF EXISTS {sig};" for sig in FIND_SIGNATURES) + (
    "DROP FUNCTION IF EXISTS search_snippet_source(text, text, integer, integer);"
)
