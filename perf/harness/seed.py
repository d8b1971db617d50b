"""``python -m perf seed``: a realistic, deterministic dataset, loaded in bulk.

How (and why this way):

1. A fresh database is migrated to head with the library's migration path; firms are
   created through the library (:func:`legal_data.tenancy.firms.create_firm`, as the
   system actor), so each gets its document categories and default roles exactly as a
   real firm does.
2. Everything else is ``INSERT ... SELECT generate_series`` as the superuser, with
   ``session_replication_role = replica`` (foreign-key and ordinary triggers off) and
   the ``ENABLE ALWAYS`` audit capture triggers of the loaded tables disabled for the
   load and re-enabled (ALWAYS) after it. Values come from deterministic hashes of row
   numbers (``hashint8extended``) and the vocabulary in :mod:`perf.harness.vocab`; ids are
   deterministic UUIDs (version 7 layout) built from (kind, firm, row number). What the
   disabled triggers would have derived is written explicitly: display and invoice
   numbers and their ``tenant_counters``, ``documents.current_version_id``, consistent
   invoice totals with one line and one tax summary each, payments of paid invoices.
   Referential integrity is by construction and verified afterwards (orphan counts).
3. Non-unique indexes of the loaded tables are dropped before the load and rebuilt
   from their saved definitions afterwards (sorting once beats millions of random
   inserts), then everything is ``VACUUM (ANALYZE)``d so index-only scans work.
4. 10,000,000 (large) audit rows are generated directly into ``audit_logs`` over the 24
   months before the current one, in monthly partitions created for those months with
   the same statements as ``audit_ensure_partitions()`` (which only creates months from
   now on; the DDL guard is an event trigger, and event triggers do not fire under
   ``session_replication_role = replica``). They are not sealed and do not verify as a
   hash chain — they exist to be searched.
5. Verification: row counts per table, no orphans on the hot paths, the security
   posture (:func:`legal_data.tenancy.posture.check_posture`) and no schema drift
   (``alembic check``).

What the seed leaves out on purpose (the measured queries do not read it): case status
history, conflict checks and the intake gate, e-mail specifics and participants of
communications, trust money. Encrypted columns stay NULL.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from legal_data.db.engine import create_tenant_engine
from legal_data.db.migrate import check as alembic_check
from legal_data.db.provision import libpq_conninfo
from legal_data.tenancy.context import SYSTEM_ROLE, tenant_scope
from legal_data.tenancy.firms import create_firm
from legal_data.tenancy.posture import AUDIT_EXEMPT, check_posture
from legal_data.tenancy.session import tenant_sessionmaker
from perf.harness import vocab
from perf.harness.db import Target
from perf.harness.profiles import FirmPlan, Profile, plans

#: Wide enough for the result tables when the output goes to a file (no terminal width).
console = Console(width=None if sys.stdout.isatty() else 150)

#: Kinds of deterministic ids (first byte of the UUID).
KIND = {
    "tenant": 1,
    "user": 2,
    "party": 3,
    "client": 4,
    "case": 5,
    "case_party": 6,
    "document": 7,
    "version": 8,
    "assignment": 9,
    "communication": 10,
    "task": 11,
    "time_entry": 12,
    "expense": 13,
    "invoice": 14,
    "invoice_line": 15,
    "tax_summary": 16,
    "payment": 17,
    "user_role": 18,
    "wall": 19,
    "audit": 20,
    "counter": 21,
}

#: Tables the bulk load writes (their audit capture is off during the load).
LOADED = (
    "users",
    "user_roles",
    "parties",
    "clients",
    "cases",
    "case_parties",
    "case_assignments",
    "documents",
    "document_versions",
    "communications",
    "tasks",
    "time_entries",
    "expenses",
    "invoices",
    "invoice_lines",
    "invoice_tax_summaries",
    "payments",
    "ethical_walls",
    "tenant_counters",
)
#: Tables whose non-unique indexes are rebuilt after the load instead of maintained.
REINDEXED = (
    "parties",
    "cases",
    "case_parties",
    "case_assignments",
    "documents",
    "document_versions",
    "communications",
    "tasks",
    "time_entries",
    "expenses",
    "invoices",
    "payments",
    "audit_logs",
    "search_documents",
)
AUDIT_TRIGGERS = ("audit_insert", "audit_update", "audit_delete")
#: Derived conflict-check keys of ``parties`` (revision 0018), ENABLE ALWAYS triggers.
CONFLICT_TRIGGERS = ("conflict_keys_insert", "conflict_keys_update")
#: Which firms' documents the seed puts into the search index (Python normalizer).
SEARCH_INDEX_CHOICES = ("largest", "all", "none")

# -- SQL helpers installed per connection (pg_temp: invisible to everyone else) ------------

#: Weighted digit sum of a 12-digit base (digits from the left: odd positions weigh 2).
CHECK_SUM = " + ".join(
    f"{2 if k % 2 else 1} * mod(base / {10 ** (12 - k)}, 10)" for k in range(1, 13)
)

HELPERS = """
-- Deterministic UUID (version 7 layout): kind (1 byte), firm (2 bytes), row number (6 bytes),
-- assembled as two bigints (text surgery on one hex string costs twice as much).
CREATE FUNCTION pg_temp.pid(kind int, firm int, n bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (lpad(to_hex((kind::bigint << 56) | (firm::bigint << 40) | ((n >> 24) << 16)
                          | 28672 | ((n >> 12) & 4095)), 16, '0')
              || to_hex(((n & 4095) << 48) | (-9223372036854775807 - 1)))::uuid $$;
-- Deterministic pseudo-random non-negative bigint for (kind, firm, row, salt).
CREATE FUNCTION pg_temp.r(kind int, firm int, n bigint, salt int) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT hashint8extended(((kind::bigint * 4096 + firm) << 32) + n, salt)
             & 9223372036854775807 $$;
CREATE FUNCTION pg_temp.pick(words text[], r bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT words[1 + mod(r, cardinality(words))] $$;
-- A valid 法人番号 for a 12-digit base (check digit = 9 - weighted sum mod 9).
CREATE FUNCTION pg_temp.corporate_number(base bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (9 - mod(CHECK_SUM, 9))::text || lpad(base::text, 12, '0') $$;
-- The firm's plan (sizes) and the seed's time anchor.
CREATE TABLE pg_temp.perf_firm (
    firm_no int PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    firm_form text NOT NULL,
    cases int NOT NULL,
    users int NOT NULL,
    lawyers int NOT NULL,
    clients int NOT NULL
);
CREATE TABLE pg_temp.perf_sentence (i int PRIMARY KEY, s text NOT NULL);
""".replace("CHECK_SUM", CHECK_SUM)

#: Functions returning the vocabulary as constant arrays (folded once per statement).
VOCAB_FUNCTIONS = {
    "v_family": [f for f, _k in vocab.FAMILY_NAMES],
    "v_family_kana": [k for _f, k in vocab.FAMILY_NAMES],
    "v_given": [g for g, _k in vocab.GIVEN_NAMES],
    "v_given_kana": [k for _g, k in vocab.GIVEN_NAMES],
    "v_company_stem": list(vocab.COMPANY_STEMS),
    "v_company_kind": list(vocab.COMPANY_KINDS),
    "v_case_title": list(vocab.CASE_TITLES),
    "v_time": list(vocab.TIME_DESCRIPTIONS),
    "v_doc_title": list(vocab.DOCUMENT_TITLES),
    "v_subject": list(vocab.COMMUNICATION_SUBJECTS),
    "v_task": list(vocab.TASK_TITLES),
}


def paragraphs(n: int = 4096, seed: int = 20261123) -> list[str]:
    """Paragraphs of 3 to 6 sentences of legal phrases (deterministic); a document's text
    is two of them (about 300 to 700 characters)."""
    rnd = random.Random(seed)

    def sentence() -> str:
        words = [rnd.choice(vocab.PHRASES) for _ in range(rnd.randint(1, 3))]
        return (
            "と".join(words)
            + rnd.choice(vocab.CONNECTORS)
            + rnd.choice(vocab.PHRASES)
            + rnd.choice(vocab.ENDINGS)
        )

    return ["".join(sentence() for _ in range(rnd.randint(3, 6))) for _ in range(n)]


# -- the load, one statement per step --------------------------------------------------------
# Parameters: %(anchor)s = first day of the current month (date). Business data spans the
# 24 months before it (cases were opened over ten years); tasks fall due around it.

PERSON_NAME = (
    "pg_temp.pick(pg_temp.v_family(), {r1}) || ' ' || pg_temp.pick(pg_temp.v_given(), {r2})"
)
PERSON_KANA = (
    "pg_temp.pick(pg_temp.v_family_kana(), {r1}) || ' ' "
    "|| pg_temp.pick(pg_temp.v_given_kana(), {r2})"
)
COMPANY_NAME = (
    "'株式会社' || pg_temp.pick(pg_temp.v_company_stem(), {r1}) "
    "|| pg_temp.pick(pg_temp.v_company_kind(), {r2})"
)


def _party_name(firm: str, n: str) -> str:
    r1, r2, r0 = (f"pg_temp.r(3, {firm}, {n}, {s})" for s in (1, 2, 0))
    return (
        f"CASE WHEN mod({r0}, 5) < 2 THEN {COMPANY_NAME.format(r1=r1, r2=r2)}"
        f" ELSE {PERSON_NAME.format(r1=r1, r2=r2)} END"
    )


OPENED_ON = "(%(anchor)s::date - 1 - ((f.cases - {i})::bigint * 3650 / f.cases)::int)"  # ten years
#: Days in the 24 months before the anchor (730 or 731).
SPAN_DAYS = "(%(anchor)s::date - (%(anchor)s::date - interval '24 months')::date)"
DAY_IN_24_MONTHS = "(%(anchor)s::date - 1 - mod({r}, " + SPAN_DAYS + ")::int)"
TS_IN_24_MONTHS = (
    "((%(anchor)s::date - interval '24 months')::timestamp AT TIME ZONE 'Asia/Tokyo'"
    " + make_interval(secs => mod({r}, 86400 * ((%(anchor)s::date"
    " - (%(anchor)s::date - interval '24 months')::date)))::double precision))"
)

STEPS: list[tuple[str, str, str]] = [
    # (label, table for the row count, SQL)
    (
        "users",
        "users",
        f"""
INSERT INTO users (tenant_id, id, email, display_name, name_kana, kind,
                   bar_registration_number, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(2, f.firm_no, u),
       'user' || u || '@perf-' || lpad(f.firm_no::text, 4, '0') || '.example.jp',
       {PERSON_NAME.format(r1="pg_temp.r(2, f.firm_no, u, 1)", r2="pg_temp.r(2, f.firm_no, u, 2)")},
       {PERSON_KANA.format(r1="pg_temp.r(2, f.firm_no, u, 1)", r2="pg_temp.r(2, f.firm_no, u, 2)")},
       CASE WHEN u <= f.lawyers THEN 'lawyer' WHEN mod(u, 3) = 0 THEN 'paralegal'
            WHEN mod(u, 3) = 1 THEN 'staff' ELSE 'accounting' END,
       CASE WHEN u <= f.lawyers THEN (20000 + u)::text END,
       %(anchor)s::date - 800, %(anchor)s::date - 800
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, f.users) u
""",
    ),
    (
        "user roles",
        "user_roles",
        """
INSERT INTO user_roles (tenant_id, id, user_id, role_id, created_at, updated_at)
SELECT u.tenant_id, pg_temp.pid(18, f.firm_no, u.n), pg_temp.pid(2, f.firm_no, u.n), r.id,
       %(anchor)s::date - 800, %(anchor)s::date - 800
FROM perf_firm f
CROSS JOIN LATERAL (SELECT f.tenant_id, g AS n FROM generate_series(1, f.users) g) u
JOIN roles r ON r.tenant_id = f.tenant_id
 AND r.name = CASE WHEN u.n = 1 THEN '管理者'
                   WHEN u.n <= greatest(1, f.lawyers / 4) THEN 'パートナー弁護士'
                   WHEN u.n <= f.lawyers THEN 'アソシエイト弁護士'
                   WHEN mod(u.n, 3) = 2 THEN '経理' ELSE 'パラリーガル' END
""",
    ),
    (
        "parties",
        "parties",
        f"""
INSERT INTO parties (tenant_id, id, kind, name, name_kana, corporate_number, created_at,
                     updated_at)
SELECT f.tenant_id, pg_temp.pid(3, f.firm_no, p),
       CASE WHEN mod(pg_temp.r(3, f.firm_no, p, 0), 5) < 2 THEN 'company' ELSE 'person' END,
       {_party_name("f.firm_no", "p")},
       CASE WHEN mod(pg_temp.r(3, f.firm_no, p, 0), 5) >= 2 THEN
            {
            PERSON_KANA.format(
                r1="pg_temp.r(3, f.firm_no, p, 1)", r2="pg_temp.r(3, f.firm_no, p, 2)"
            )
        }
       END,
       CASE WHEN mod(pg_temp.r(3, f.firm_no, p, 0), 5) < 2
            THEN pg_temp.corporate_number(f.firm_no::bigint * 100000000 + p) END,
       %(anchor)s::date - 900, %(anchor)s::date - 900
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, 2 * f.cases) p
""",
    ),
    (
        "clients",
        "clients",
        """
INSERT INTO clients (tenant_id, id, party_id, client_code, status, since, created_at,
                     updated_at)
SELECT f.tenant_id, pg_temp.pid(4, f.firm_no, k), pg_temp.pid(3, f.firm_no, k),
       'C-' || lpad(k::text, 6, '0'), 'active', %(anchor)s::date - 900,
       %(anchor)s::date - 900, %(anchor)s::date - 900
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, f.clients) k
""",
    ),
    (
        "cases",
        "cases",
        f"""
INSERT INTO cases (tenant_id, id, display_number, title, practice_area, status, client_id,
                   opened_on, closed_on, deleted_at, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(5, f.firm_no, i), i,
       pg_temp.pick(pg_temp.v_case_title(), pg_temp.r(5, f.firm_no, i, 1)),
       (ARRAY['civil', 'family', 'criminal', 'corporate', 'labor', 'intellectual_property',
              'bankruptcy', 'real_estate', 'tax', 'other'])
           [1 + mod(pg_temp.r(5, f.firm_no, i, 2), 10)],
       s.status, pg_temp.pid(4, f.firm_no, 1 + mod(i - 1, f.clients)),
       {OPENED_ON.format(i="i")},
       CASE WHEN s.status IN ('closed', 'archived')
            THEN least(%(anchor)s::date - 1,
                       {OPENED_ON.format(i="i")} + 30
                       + mod(pg_temp.r(5, f.firm_no, i, 3), 700)::int)
       END,
       CASE WHEN mod(pg_temp.r(5, f.firm_no, i, 4), 100) = 0 THEN %(anchor)s::timestamptz END,
       {OPENED_ON.format(i="i")}::timestamptz, {OPENED_ON.format(i="i")}::timestamptz
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) i
CROSS JOIN LATERAL (
    SELECT CASE WHEN m = 0 THEN 'intake' WHEN m <= 8 THEN 'open' WHEN m <= 10 THEN 'pending'
                WHEN m <= 17 THEN 'closed' ELSE 'archived' END AS status
    FROM (SELECT mod(pg_temp.r(5, f.firm_no, i, 0), 20) AS m) x
) s
""",
    ),
    (
        "case parties",
        "case_parties",
        """
INSERT INTO case_parties (tenant_id, id, case_id, party_id, role, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(6, f.firm_no, (i - 1) * 3 + k), pg_temp.pid(5, f.firm_no, i),
       pg_temp.pid(3, f.firm_no, CASE k WHEN 1 THEN 1 + mod(i - 1, f.clients)
                                        WHEN 2 THEN f.clients + i
                                        ELSE f.clients + f.cases + i END),
       (ARRAY['client', 'opposing_party', 'related'])[k],
       %(anchor)s::date - 900, %(anchor)s::date - 900
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) i
CROSS JOIN LATERAL generate_series(1, CASE WHEN i <= f.cases - f.clients THEN 3 ELSE 2 END) k
""",
    ),
    (
        "assignments",
        "case_assignments",
        f"""
INSERT INTO case_assignments (tenant_id, id, case_id, user_id, role, assigned_on, created_at,
                              updated_at)
SELECT f.tenant_id, pg_temp.pid(9, f.firm_no, (i - 1) * 2 + k), pg_temp.pid(5, f.firm_no, i),
       pg_temp.pid(2, f.firm_no, CASE k WHEN 1 THEN 1 + mod(i - 1, f.lawyers)
                                        ELSE 1 + mod(pg_temp.r(9, f.firm_no, i, 1), f.users) END),
       CASE k WHEN 1 THEN 'responsible' ELSE 'assistant' END,
       {OPENED_ON.format(i="i")}, %(anchor)s::date - 900, %(anchor)s::date - 900
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) i
CROSS JOIN LATERAL generate_series(1, CASE WHEN mod(i, 2) = 0 THEN 2 ELSE 1 END) k
""",
    ),
    (
        "documents",
        "documents",
        f"""
INSERT INTO documents (tenant_id, id, case_id, category_id, title, is_privileged,
                       current_version_id, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(7, f.firm_no, j),
       pg_temp.pid(5, f.firm_no, 1 + mod(pg_temp.r(7, f.firm_no, j, 1), f.cases)),
       c.id, pg_temp.pick(pg_temp.v_doc_title(), pg_temp.r(7, f.firm_no, j, 2)),
       mod(pg_temp.r(7, f.firm_no, j, 3), 10) = 0, pg_temp.pid(8, f.firm_no, j),
       {TS_IN_24_MONTHS.format(r="pg_temp.r(7, f.firm_no, j, 4)")},
       {TS_IN_24_MONTHS.format(r="pg_temp.r(7, f.firm_no, j, 4)")}
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) j
JOIN perf_category c ON c.firm_no = f.firm_no AND c.k = mod(pg_temp.r(7, f.firm_no, j, 5), 12)
""",
    ),
    (
        "document versions (Japanese text)",
        "document_versions",
        f"""
INSERT INTO document_versions (tenant_id, id, document_id, version_number, storage_key,
                               sha256, size_bytes, mime_type, original_filename,
                               uploaded_by, uploaded_at, extracted_text, created_at,
                               updated_at)
SELECT f.tenant_id, pg_temp.pid(8, f.firm_no, j), pg_temp.pid(7, f.firm_no, j), 1,
       'perf/' || f.firm_no || '/' || j || '.pdf',
       md5(f.firm_no || ':' || j) || md5(j || ':' || f.firm_no),
       20000 + mod(pg_temp.r(8, f.firm_no, j, 1), 3000000), 'application/pdf',
       pg_temp.pick(pg_temp.v_doc_title(), pg_temp.r(7, f.firm_no, j, 2)) || '.pdf',
       pg_temp.pid(2, f.firm_no, 1 + mod(pg_temp.r(8, f.firm_no, j, 2), f.users)),
       {TS_IN_24_MONTHS.format(r="pg_temp.r(7, f.firm_no, j, 4)")},
       p1.s || p2.s,
       {TS_IN_24_MONTHS.format(r="pg_temp.r(7, f.firm_no, j, 4)")},
       {TS_IN_24_MONTHS.format(r="pg_temp.r(7, f.firm_no, j, 4)")}
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, f.cases) j
JOIN perf_sentence p1 ON p1.i = mod(pg_temp.r(8, f.firm_no, j, 11), 4096)
JOIN perf_sentence p2 ON p2.i = mod(pg_temp.r(8, f.firm_no, j, 12), 4096)
""",
    ),
    (
        "communications",
        "communications",
        f"""
-- Half of them go to "busy" cases (every 40th case gets about 20), half anywhere.
INSERT INTO communications (tenant_id, id, case_id, channel, direction, occurred_at, party_id,
                            subject, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(10, f.firm_no, j), pg_temp.pid(5, f.firm_no, x.case_no),
       (ARRAY['email', 'phone', 'meeting', 'letter', 'fax', 'portal'])
           [1 + mod(pg_temp.r(10, f.firm_no, j, 1), 6)],
       (ARRAY['inbound', 'outbound', 'internal'])[1 + mod(pg_temp.r(10, f.firm_no, j, 2), 3)],
       {TS_IN_24_MONTHS.format(r="pg_temp.r(10, f.firm_no, j, 3)")},
       CASE WHEN mod(j, 3) <> 0 THEN pg_temp.pid(3, f.firm_no, f.clients + x.case_no) END,
       pg_temp.pick(pg_temp.v_subject(), pg_temp.r(10, f.firm_no, j, 4)),
       {TS_IN_24_MONTHS.format(r="pg_temp.r(10, f.firm_no, j, 3)")},
       {TS_IN_24_MONTHS.format(r="pg_temp.r(10, f.firm_no, j, 3)")}
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) j
CROSS JOIN LATERAL (
    SELECT CASE WHEN mod(j, 2) = 1
                THEN 1 + mod((j - 1) / 2, greatest(1, (f.cases + 39) / 40)) * 40
                ELSE 1 + mod(pg_temp.r(10, f.firm_no, j, 5), f.cases) END AS case_no
) x
""",
    ),
    (
        "tasks",
        "tasks",
        """
INSERT INTO tasks (tenant_id, id, case_id, assignee_id, kind, title, due_at, status, priority,
                   completed_at, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(11, f.firm_no, j), pg_temp.pid(5, f.firm_no, j),
       pg_temp.pid(2, f.firm_no, 1 + mod(j - 1, f.lawyers)), t.kind,
       pg_temp.pick(pg_temp.v_task(), pg_temp.r(11, f.firm_no, j, 2)),
       CASE WHEN t.kind IN ('期日', '提出期限', '控訴期限')
                 OR mod(pg_temp.r(11, f.firm_no, j, 3), 5) > 0
            THEN (%(anchor)s::timestamp AT TIME ZONE 'Asia/Tokyo')
                 + make_interval(days => mod(pg_temp.r(11, f.firm_no, j, 4), 240)::int - 120,
                                 hours => 9 + mod(pg_temp.r(11, f.firm_no, j, 5), 9)::int)
       END,
       t.status,
       (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])
           [1 + mod(pg_temp.r(11, f.firm_no, j, 6), 5)],
       CASE WHEN t.status = 'done' THEN %(anchor)s::timestamptz - interval '1 day' END,
       %(anchor)s::date - 200, %(anchor)s::date - 200
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, f.cases) j
CROSS JOIN LATERAL (
    SELECT (ARRAY['期日', '提出期限', '控訴期限', '打合せ', '連絡', '調査', '書面作成', 'その他'])
               [1 + mod(pg_temp.r(11, f.firm_no, j, 1), 8)] AS kind,
           CASE WHEN m < 7 THEN 'open' WHEN m < 9 THEN 'in_progress'
                WHEN m < 18 THEN 'done' ELSE 'cancelled' END AS status
    FROM (SELECT mod(pg_temp.r(11, f.firm_no, j, 0), 20) AS m) x
) t
""",
    ),
    (
        "time entries",
        "time_entries",
        f"""
INSERT INTO time_entries (tenant_id, id, case_id, user_id, work_date, minutes, rate_yen,
                          billable, description, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(12, f.firm_no, j),
       pg_temp.pid(5, f.firm_no, 1 + mod(pg_temp.r(12, f.firm_no, j, 1), f.cases)),
       pg_temp.pid(2, f.firm_no, 1 + mod(pg_temp.r(12, f.firm_no, j, 2), f.lawyers)),
       {DAY_IN_24_MONTHS.format(r="pg_temp.r(12, f.firm_no, j, 3)")},
       6 * (1 + mod(pg_temp.r(12, f.firm_no, j, 4), 60))::int,
       10000 + 5000 * mod(pg_temp.r(12, f.firm_no, j, 5), 7),
       mod(pg_temp.r(12, f.firm_no, j, 6), 10) <> 0,
       pg_temp.pick(pg_temp.v_time(), pg_temp.r(12, f.firm_no, j, 7)),
       %(anchor)s::date - 1, %(anchor)s::date - 1
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, 5 * f.cases) j
""",
    ),
    (
        "expenses",
        "expenses",
        f"""
INSERT INTO expenses (tenant_id, id, case_id, user_id, incurred_on, category, amount_yen,
                      tax_category, is_disbursement, description, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(13, f.firm_no, j),
       pg_temp.pid(5, f.firm_no, 1 + mod(pg_temp.r(13, f.firm_no, j, 1), f.cases)),
       pg_temp.pid(2, f.firm_no, 1 + mod(pg_temp.r(13, f.firm_no, j, 2), f.lawyers)),
       {DAY_IN_24_MONTHS.format(r="pg_temp.r(13, f.firm_no, j, 3)")},
       e.category, 100 * (1 + mod(pg_temp.r(13, f.firm_no, j, 4), 500)),
       CASE WHEN e.category IN ('印紙代', '郵券') THEN 'out_of_scope' ELSE 'taxable_10' END,
       e.category IN ('印紙代', '郵券'), e.category, %(anchor)s::date - 1, %(anchor)s::date - 1
FROM perf_firm f
CROSS JOIN LATERAL generate_series(1, (f.cases + 1) / 2) j
CROSS JOIN LATERAL (
    SELECT (ARRAY['印紙代', '郵券', '交通費', '謄写費用', '日当', '宿泊費', '通信費', 'その他'])
               [1 + mod(pg_temp.r(13, f.firm_no, j, 0), 8)] AS category
) e
""",
    ),
    (
        "invoices",
        "invoices",
        f"""
-- Invoice j bills case 2j; issued ones are numbered per firm in issue order.
INSERT INTO invoices (tenant_id, id, client_id, case_id, state, invoice_number, issue_date,
                      due_date, issuer_name, issuer_registration_number, recipient_name,
                      payer_is_employer, subtotal_yen, tax_yen, withholding_yen, total_yen,
                      issued_at, paid_at, voided_at, void_reason, created_at, updated_at)
SELECT v.tenant_id, v.id, v.client_id, v.case_id, v.state,
       CASE WHEN v.state <> 'draft'
            THEN row_number() OVER (PARTITION BY v.tenant_id, v.state = 'draft'
                                    ORDER BY v.issue_date, v.id) END,
       v.issue_date, v.issue_date + 30,
       CASE WHEN v.state <> 'draft' THEN v.firm_name END,
       CASE WHEN v.state <> 'draft' THEN 'T' || lpad(v.firm_no::text, 13, '0') END,
       v.recipient, v.withholding > 0, v.subtotal, v.subtotal / 10, v.withholding,
       v.subtotal + v.subtotal / 10 - v.withholding,
       v.issue_date + time '10:00',
       CASE WHEN v.state = 'paid' THEN v.issue_date + 20 + time '15:00' END,
       CASE WHEN v.state = 'void' THEN v.issue_date + 5 + time '11:00' END,
       CASE WHEN v.state = 'void' THEN '請求内容の誤り' END,
       coalesce(v.issue_date, %(anchor)s::date - 3), coalesce(v.issue_date, %(anchor)s::date - 3)
FROM (
    SELECT f.tenant_id, f.firm_no, f.name AS firm_name, pg_temp.pid(14, f.firm_no, j) AS id,
           pg_temp.pid(4, f.firm_no, 1 + mod(2 * j - 1, f.clients)) AS client_id,
           pg_temp.pid(5, f.firm_no, 2 * j) AS case_id, s.state,
           CASE WHEN s.state <> 'draft'
                THEN {DAY_IN_24_MONTHS.format(r="pg_temp.r(14, f.firm_no, j, 2)")}
           END AS issue_date,
           {_party_name("f.firm_no", "1 + mod(2 * j - 1, f.clients)")} AS recipient,
           a.subtotal,
           CASE WHEN f.firm_form = 'individual'
                     AND mod(pg_temp.r(3, f.firm_no, 1 + mod(2 * j - 1, f.clients), 0), 5) < 2
                THEN CASE WHEN a.subtotal <= 1000000 THEN a.subtotal * 1021 / 10000
                          ELSE 102100 + (a.subtotal - 1000000) * 2042 / 10000 END
                ELSE 0 END AS withholding
    FROM perf_firm f
    CROSS JOIN LATERAL generate_series(1, f.cases / 2) j
    CROSS JOIN LATERAL (
        SELECT 10000::bigint * (5 + mod(pg_temp.r(14, f.firm_no, j, 3), 200)) AS subtotal
    ) a
    CROSS JOIN LATERAL (
        SELECT CASE WHEN m = 0 THEN 'draft' WHEN m = 1 THEN 'void' WHEN m < 6 THEN 'issued'
                    ELSE 'paid' END AS state
        FROM (SELECT mod(pg_temp.r(14, f.firm_no, j, 1), 10) AS m) x
    ) s
) v
""",
    ),
    (
        "invoice lines",
        "invoice_lines",
        """
INSERT INTO invoice_lines (tenant_id, id, invoice_id, line_number, kind, description,
                           amount_yen, tax_category, subject_to_withholding, created_at,
                           updated_at)
SELECT i.tenant_id, ('0f' || substr(i.id::text, 3))::uuid, i.id, 1,
       CASE WHEN mod(i.subtotal_yen / 10000, 3) = 0 THEN 'タイムチャージ' ELSE '着手金' END,
       '弁護士報酬', i.subtotal_yen, 'taxable_10', i.withholding_yen > 0, i.created_at,
       i.created_at
FROM invoices i
""",
    ),
    (
        "tax summaries",
        "invoice_tax_summaries",
        """
INSERT INTO invoice_tax_summaries (tenant_id, id, invoice_id, tax_category, rate_percent,
                                   taxable_yen, tax_yen, created_at, updated_at)
SELECT i.tenant_id, ('10' || substr(i.id::text, 3))::uuid, i.id, 'taxable_10', 10,
       i.subtotal_yen, i.tax_yen,
       i.created_at, i.created_at
FROM invoices i
""",
    ),
    (
        "payments",
        "payments",
        """
INSERT INTO payments (tenant_id, id, invoice_id, amount_yen, paid_on, method, created_at,
                      updated_at)
SELECT i.tenant_id, ('11' || substr(i.id::text, 3))::uuid, i.id, i.total_yen, i.paid_at::date,
       'bank_transfer', i.paid_at, i.paid_at
FROM invoices i WHERE i.state = 'paid'
""",
    ),
    (
        "ethical walls",
        "ethical_walls",
        """
-- Firms with 1,000 cases or more screen ten staff members from one case each.
INSERT INTO ethical_walls (tenant_id, id, case_id, user_id, reason, created_at, updated_at)
SELECT f.tenant_id, pg_temp.pid(19, f.firm_no, w), pg_temp.pid(5, f.firm_no, 1 + w * 97),
       pg_temp.pid(2, f.firm_no, f.lawyers + 1 + mod(w, f.users - f.lawyers)),
       '利益相反のおそれ', %(anchor)s::date - 100, %(anchor)s::date - 100
FROM perf_firm f CROSS JOIN LATERAL generate_series(1, 10) w
WHERE f.cases >= 1000 AND f.users > f.lawyers
""",
    ),
    (
        "counters",
        "tenant_counters",
        """
INSERT INTO tenant_counters AS c (tenant_id, id, name, value)
SELECT tenant_id, pg_temp.pid(21, firm_no, 1), 'case_display_number', cases FROM perf_firm
UNION ALL
SELECT f.tenant_id, pg_temp.pid(21, f.firm_no, 2), 'invoice_number',
       (SELECT count(*) FROM invoices i
        WHERE i.tenant_id = f.tenant_id AND i.invoice_number IS NOT NULL)
FROM perf_firm f
ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value
""",
    ),
]

AUDIT_STEP = f"""
INSERT INTO audit_logs (tenant_id, id, occurred_at, table_name, row_id, action, old_values,
                        changed_values, actor_id, actor_role, request_id, reason)
SELECT f.tenant_id, pg_temp.pid(20, f.firm_no, g),
       -- UTC month boundaries, like the partitions (rows before the first one would land
       -- in the default partition, which must stay empty).
       (%(anchor)s::date - interval '24 months')::timestamp AT TIME ZONE 'UTC'
           + make_interval(secs => ((g - 1) * span.secs / (10 * f.cases)
                                    + mod(pg_temp.r(20, f.firm_no, g, 1), 60))::double precision),
       t.table_name,
       pg_temp.pid(CASE t.table_name WHEN 'cases' THEN 5 WHEN 'documents' THEN 7
                                     WHEN 'time_entries' THEN 12 WHEN 'tasks' THEN 11
                                     ELSE 10 END,
                   f.firm_no, 1 + mod(pg_temp.r(20, f.firm_no, g, 3), f.cases)),
       t.action,
       CASE WHEN t.action = 'UPDATE' THEN jsonb_build_object('status', 'open') END,
       CASE WHEN t.action = 'READ' THEN jsonb_build_object('via', 'orm')
            ELSE jsonb_build_object('status', 'pending', 'title',
                                    pg_temp.pick(pg_temp.v_case_title(), g)) END,
       pg_temp.pid(2, f.firm_no, 1 + mod(pg_temp.r(20, f.firm_no, g, 4), f.users)), 'lawyer',
       'req-' || to_hex(pg_temp.r(20, f.firm_no, g, 5)), NULL
FROM perf_firm f
CROSS JOIN (SELECT extract(epoch FROM {SPAN_DAYS} * interval '1 day')::bigint AS secs) span
CROSS JOIN LATERAL generate_series(1, 10 * f.cases) g
CROSS JOIN LATERAL (
    SELECT (ARRAY['cases', 'documents', 'time_entries', 'tasks', 'communications'])
               [1 + mod(pg_temp.r(20, f.firm_no, g, 2), 5)] AS table_name,
           (ARRAY['UPDATE', 'UPDATE', 'INSERT', 'READ', 'UPDATE', 'DELETE', 'INSERT', 'UPDATE'])
               [1 + mod(pg_temp.r(20, f.firm_no, g, 6), 8)] AS action
) t
WHERE f.firm_no BETWEEN %(first)s AND %(last)s
"""

#: The firm's 12 document categories, numbered 0..11 (documents pick one by hash).
CATEGORIES = """
CREATE TABLE pg_temp.perf_category AS
SELECT f.firm_no,
       (row_number() OVER (PARTITION BY f.firm_no ORDER BY dc.sort_order, dc.name) - 1)::int AS k,
       dc.id
FROM perf_firm f JOIN document_categories dc ON dc.tenant_id = f.tenant_id;
ANALYZE pg_temp.perf_category;
"""

PAST_PARTITION = """
CREATE TABLE public.{part} PARTITION OF public.audit_logs FOR VALUES FROM ({lo}) TO ({hi});
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON public.{part}
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_refuse_change();
ALTER TABLE public.{part} ENABLE ALWAYS TRIGGER append_only_truncate;
ALTER TABLE public.{part} ENABLE ALWAYS TRIGGER append_only_rows;
ALTER TABLE public.{part} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.{part} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON public.{part} AS RESTRICTIVE FOR ALL
    USING (tenant_id = (SELECT public.app_current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT public.app_current_tenant_id()));
REVOKE ALL ON public.{part} FROM PUBLIC;
"""

#: Orphan checks on the measured paths: (child, column, parent). Counted with a LEFT JOIN
#: on the composite key; every count must be 0.
ORPHAN_CHECKS = (
    ("cases", "client_id", "clients"),
    ("clients", "party_id", "parties"),
    ("case_parties", "party_id", "parties"),
    ("case_assignments", "user_id", "users"),
    ("documents", "current_version_id", "document_versions"),
    ("time_entries", "case_id", "cases"),
    ("tasks", "assignee_id", "users"),
    ("invoices", "case_id", "cases"),
)
ORPHANS = {
    "rows in audit_logs_default": "SELECT count(*) FROM audit_logs_default",
    "invalid indexes": "SELECT count(*) FROM pg_index WHERE NOT indisvalid",
    **{
        f"{child} → {parent}": (
            f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p"
            f" ON p.tenant_id = c.tenant_id AND p.id = c.{column} WHERE p.id IS NULL"
        )
        for child, column, parent in ORPHAN_CHECKS
    },
}


@dataclass
class SeedReport:
    profile: str
    database: str
    steps: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)
    posture_findings: list[dict[str, str]] = field(default_factory=list)
    drift: str | None = None
    total_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.posture_findings
            and self.drift is None
            and not any(self.orphans.values())
            and all(self.rows.get(t) == n for t, n in self.expected.items())
        )


def expected_rows(profile: Profile) -> dict[str, int]:
    ps = plans(profile)
    inv = sum(p.cases // 2 for p in ps)
    return {
        "tenants": len(ps),
        "cases": profile.cases,
        "parties": sum(p.parties for p in ps),
        "clients": sum(p.clients for p in ps),
        "documents": sum(p.cases for p in ps),
        "document_versions": sum(p.cases for p in ps),
        "communications": sum(p.cases for p in ps),
        "tasks": sum(p.cases for p in ps),
        "time_entries": 5 * profile.cases,
        "invoices": inv,
        "invoice_lines": inv,
        "audit_logs_seeded": 10 * profile.cases,
    }


@contextmanager
def _superuser(t: Target) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
        conn.execute(
            "SET session_replication_role = replica; SET synchronous_commit = off;"
            " SET maintenance_work_mem = '512MB'; SET work_mem = '256MB';"
            " SET wal_compression = on; SET statement_timeout = 0; SET jit = off;"
            " SET app.current_user_role = 'system'"
        )
        conn.execute(HELPERS)
        for name, words in VOCAB_FUNCTIONS.items():
            body = "SELECT " + sql.Literal(words).as_string(conn) + "::text[]"
            conn.execute(
                sql.SQL(
                    "CREATE FUNCTION pg_temp.{}() RETURNS text[] LANGUAGE sql IMMUTABLE"
                    " PARALLEL SAFE AS {}"
                ).format(sql.Identifier(name), sql.Literal(body))
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO pg_temp.perf_sentence (i, s) VALUES (%s, %s)",
                list(enumerate(paragraphs())),
            )
        yield conn


def _fill_firm_table(conn: psycopg.Connection, firms: list[FirmPlan], ids: dict[int, Any]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO pg_temp.perf_firm VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    p.firm_no,
                    ids[p.firm_no],
                    p.name,
                    p.firm_form,
                    p.cases,
                    p.users,
                    p.lawyers,
                    p.clients,
                )
                for p in firms
            ],
        )
    conn.execute("ANALYZE pg_temp.perf_firm")


def pid(kind: int, firm: int, n: int) -> uuid.UUID:
    """The deterministic id ``pg_temp.pid(kind, firm, n)`` makes in SQL."""
    hi = (kind << 56) | (firm << 40) | ((n >> 24) << 16) | 0x7000 | ((n >> 12) & 0xFFF)
    lo = ((n & 0xFFF) << 48) | (1 << 63)
    return uuid.UUID(int=(hi << 64) | lo)


def firm_id(firm_no: int) -> uuid.UUID:
    return pid(KIND["tenant"], firm_no, 0)


def create_firms(t: Target, firms: list[FirmPlan], progress: Progress) -> None:
    """Firms through the library (categories, default roles), as the system actor."""
    engine = create_tenant_engine(
        t.admin_url, allow_privileged_role=True, application_name="perf seed", pool_size=2
    )
    sessions = tenant_sessionmaker(engine)
    task = progress.add_task("firms (create_firm)", total=len(firms))
    try:
        for p in firms:
            fid = firm_id(p.firm_no)
            with (
                tenant_scope(fid, role=SYSTEM_ROLE, reason="perf seed"),
                sessions() as s,
                s.begin(),
            ):
                create_firm(
                    s,
                    id=fid,
                    slug=p.slug,
                    name=p.name,
                    firm_form=p.firm_form,
                    qualified_invoice_number="T" + f"{p.firm_no:013d}",
                )
            progress.advance(task)
    finally:
        engine.dispose()


# -- the search index (legal_data.search, revision 0017) -----------------------------------------
# Index rows are made by the library's Python normalizer (by design there is no SQL copy of
# it), about 2 ms of CPU per document here: two worker processes, each with its own
# engine, index batches of one firm's documents as the system actor.

_worker_sessions: Any = None


def _index_batch(admin_url: str, firm: uuid.UUID, ids: list[uuid.UUID]) -> int:
    global _worker_sessions
    from legal_data.search.indexer import index_entities

    if _worker_sessions is None:
        engine = create_tenant_engine(
            admin_url, allow_privileged_role=True, application_name="perf seed search", pool_size=1
        )
        _worker_sessions = tenant_sessionmaker(engine)
    with (
        tenant_scope(firm, role=SYSTEM_ROLE, reason="perf seed: search index"),
        _worker_sessions() as s,
        s.begin(),
    ):
        return len(index_entities(s, "document", ids))


def index_documents(
    t: Target, conn: psycopg.Connection, firms: list[FirmPlan], progress: Progress
) -> int:
    """Index the documents of ``firms`` for search; returns how many were indexed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    batches: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    for p in firms:
        fid = firm_id(p.firm_no)
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM documents WHERE tenant_id = %s ORDER BY id", (fid,)
            )
        ]
        batches += [(fid, ids[i : i + 500]) for i in range(0, len(ids), 500)]
    task = progress.add_task("search index (documents)", total=sum(len(b) for _f, b in batches))
    url = t.admin_url.render_as_string(hide_password=False)
    done = 0
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        for n in ex.map(_index_batch, [url] * len(batches), *zip(*batches, strict=True)):
            done += n
            progress.advance(task, n)
    return done


def past_partitions(conn: psycopg.Connection, anchor: dt.date) -> int:
    """Monthly audit partitions for the 24 months before ``anchor`` (owned by legal_owner)."""
    created = 0
    conn.execute("SET ROLE legal_owner")
    try:
        for back in range(24, 0, -1):
            y, m = divmod(anchor.year * 12 + anchor.month - 1 - back, 12)
            first = dt.date(y, m + 1, 1)
            ny, nm = divmod(y * 12 + m + 1, 12)
            nxt = dt.date(ny, nm + 1, 1)
            part = f"audit_logs_p{first:%Y%m}"
            exists = conn.execute("SELECT to_regclass(%s)", (f"public.{part}",)).fetchone()
            if exists and exists[0]:
                continue
            conn.execute(
                PAST_PARTITION.format(
                    part=part,
                    lo=sql.Literal(f"{first} 00:00:00+00").as_string(conn),
                    hi=sql.Literal(f"{nxt} 00:00:00+00").as_string(conn),
                )
            )
            created += 1
    finally:
        conn.execute("RESET ROLE")
    return created


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the non-unique indexes of the tables rebuilt after the load
    (partition children excluded: the parent's definition recreates them)."""
    rows = conn.execute(
        """
        SELECT ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY(%s)
          AND NOT i.indisunique AND NOT i.indisprimary AND NOT ic.relispartition
        ORDER BY t.relname, ic.relname
        """,
        (list(REINDEXED),),
    ).fetchall()
    # A partitioned table's index definition reads "ON ONLY": recreated as such it would
    # be an invalid parent without partition indexes. Without ONLY it builds them all.
    return [(str(n), str(d).replace(" ON ONLY ", " ON ", 1)) for n, d in rows]


def _set_triggers(
    conn: psycopg.Connection, table: str, triggers: tuple[str, ...], *, enabled: bool
) -> None:
    for trig in triggers:
        conn.execute(
            sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                sql.Identifier(table),
                sql.SQL("ENABLE ALWAYS" if enabled else "DISABLE"),
                sql.Identifier(trig),
            )
        )


def _set_audit_capture(conn: psycopg.Connection, enabled: bool) -> None:
    for table in LOADED:
        if table in AUDIT_EXEMPT:
            continue
        for trig in AUDIT_TRIGGERS:
            action = "ENABLE ALWAYS" if enabled else "DISABLE"
            conn.execute(
                sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                    sql.Identifier(table), sql.SQL(action), sql.Identifier(trig)
                )
            )


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def seed(
    t: Target,
    profile: Profile,
    *,
    anchor: dt.date | None = None,
    search_index: str = "largest",
    conflict_keys: bool = False,
) -> SeedReport:
    """Build the dataset of ``profile`` in the (already migrated, empty) target database.

    ``search_index``: whose documents to index for search — ``largest`` (the measured
    firm), ``all`` or ``none``. ``conflict_keys``: derive the conflict-check keys of every
    party (revision 0018's backfill) — off by default, see perf/README.md."""
    anchor = anchor or dt.date.today().replace(day=1)
    firms = plans(profile)
    report = SeedReport(profile.name, str(t.admin_url.database), expected=expected_rows(profile))
    params = {"anchor": anchor}
    started = time.perf_counter()

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        report.steps[label] = round(time.perf_counter() - t0, 2)
        return out

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        timed("firms", lambda: create_firms(t, firms, progress))
        ids = {p.firm_no: firm_id(p.firm_no) for p in firms}
        with _superuser(t) as a, _superuser(t) as b:
            _fill_firm_table(a, firms, ids)
            _fill_firm_table(b, firms, ids)
            a.execute(CATEGORIES)
            timed("audit partitions", lambda: past_partitions(a, anchor))
            indexes = _secondary_indexes(a)
            for name, _definition in indexes:
                a.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            _set_audit_capture(a, enabled=False)
            _set_triggers(a, "parties", CONFLICT_TRIGGERS, enabled=False)

            # Two streams on a 2-core machine: the business tables on one connection, the
            # audit trail (the biggest table, independent of the rest) on the other.
            pool = ThreadPoolExecutor(max_workers=1)
            audit_task = progress.add_task(
                "audit_logs (generated)", total=report.expected["audit_logs_seeded"]
            )

            def load_audit() -> float:
                t0 = time.perf_counter()
                chunk = max(1, len(firms) // 20)
                for first in range(1, len(firms) + 1, chunk):
                    last = min(len(firms), first + chunk - 1)
                    b.execute(AUDIT_STEP, {**params, "first": first, "last": last})
                    progress.advance(audit_task, sum(10 * p.cases for p in firms[first - 1 : last]))
                return time.perf_counter() - t0

            audit_future: Future[float] = pool.submit(load_audit)
            steps_task = progress.add_task("business tables", total=len(STEPS))
            for label, table, statement in STEPS:
                progress.update(steps_task, description=f"business tables: {label}")
                timed(table, lambda s=statement: a.execute(s, params))
                progress.advance(steps_task)
            report.steps["audit_logs"] = round(audit_future.result(), 2)
            pool.shutdown()
            if conflict_keys:
                from legal_data.conflicts.sql import BACKFILL_SQL

                for table in ("party_name_keys", "party_name_grams"):
                    _set_triggers(a, table, AUDIT_TRIGGERS, enabled=False)
                timed("conflict keys", lambda: a.execute(BACKFILL_SQL))
                for table in ("party_name_keys", "party_name_grams"):
                    _set_triggers(a, table, AUDIT_TRIGGERS, enabled=True)
            _set_triggers(a, "parties", CONFLICT_TRIGGERS, enabled=True)
            if search_index != "none":
                chosen = firms[:1] if search_index == "largest" else firms
                report.rows["search_documents_indexed"] = timed(
                    "search index", lambda: index_documents(t, a, chosen, progress)
                )

            idx_task = progress.add_task("rebuild indexes", total=len(indexes))

            def rebuild(conn: psycopg.Connection, todo: list[tuple[str, str]]) -> None:
                for _name, definition in todo:
                    conn.execute(definition)
                    progress.advance(idx_task)

            def in_parallel(
                fn: Callable[[psycopg.Connection, list[Any]], None], items: list[Any]
            ) -> None:
                with ThreadPoolExecutor(max_workers=2) as ex:
                    futures = [ex.submit(fn, a, items[0::2]), ex.submit(fn, b, items[1::2])]
                    for f in futures:
                        f.result()

            timed("rebuild indexes", lambda: in_parallel(rebuild, indexes))
            _set_audit_capture(a, enabled=True)

            vac_task = progress.add_task("vacuum (analyze)", total=len(LOADED) + 2)

            def vacuum(conn: psycopg.Connection, tables: list[str]) -> None:
                for table in tables:
                    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
                    progress.advance(vac_task)

            big_first = [
                "audit_logs",
                "time_entries",
                *[x for x in LOADED if x != "time_entries"],
                "tenants",
            ]
            timed("vacuum analyze", lambda: in_parallel(vacuum, big_first))

        # -- verification ------------------------------------------------------------------
        with psycopg.connect(libpq_conninfo(t.admin_url), autocommit=True) as conn:
            for table in report.expected:
                if table == "audit_logs_seeded":
                    row = conn.execute(
                        "SELECT count(*) FROM audit_logs WHERE id::text LIKE '14%'"
                    ).fetchone()
                    report.rows[table] = int(row[0]) if row else -1
                else:
                    report.rows[table] = _count(conn, table)
            for extra in (
                "users",
                "case_parties",
                "case_assignments",
                "expenses",
                "payments",
                "audit_logs",
            ):
                report.rows[extra] = _count(conn, extra)
            for what, query in ORPHANS.items():
                row = conn.execute(query).fetchone()
                report.orphans[what] = int(row[0]) if row else -1
        engine = create_engine(t.admin_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                report.posture_findings = [f.as_dict() for f in check_posture(conn)]
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        try:
            alembic_check(t.admin_url)
        except Exception as exc:  # AutogenerateDiffsDetected: reported, not raised
            report.drift = str(exc)
    report.total_seconds = round(time.perf_counter() - started, 1)
    return report
