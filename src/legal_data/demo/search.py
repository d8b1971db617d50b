"""Demo: Japanese full-text search over a firm's documents, cases and communications.

A lawyer files a few documents with extracted text (and one through plain SQL in the
tenant session: indexed at commit all the same); a colleague then searches as the
application role under Row Level Security — ranked hits with highlighted snippets, a
``㈱`` query finding 株式会社, a one-character query, keyset pagination, cases and
communications, a firm synonym (原告 = 申立人) — and, screened from one case by an
ethical wall, no longer finds that case's documents. Returns the lines to print.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from legal_data import search
from legal_data.models import Communication, Document, add_document_version
from legal_data.rbac import walls
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.context import SYSTEM_ROLE

#: Snippet width for the demo's console.
WIDTH = 36
#: (case index, title, extracted text) filed by the demo.
DOCUMENTS = [
    (
        0,
        "訴状（売買代金請求）",
        "原告株式会社青葉商事は、被告みどり建設株式会社に対し、売買代金1,200万円及び"
        "遅延損害金の支払を求める。被告は納品された資材の検収を終えたにもかかわらず、"
        "代金を支払わない。",
    ),
    (
        0,
        "準備書面（1）",
        "被告の主張する相殺の抗弁は理由がない。㈱青葉商事の納品書及び受領書によれば、"
        "資材は契約どおり引き渡されている。",
    ),
    (
        1,
        "夫婦関係調整調停申立書",
        "申立人田中太郎は、相手方田中恵子との離婚を求める。未成年の子の親権者を申立人と"
        "定めること、養育費及び財産分与についても調停を求める。",
    ),
    (
        1,
        "陳述書（田中太郎）",
        "別居に至った経緯と、離婚後の子との面会交流についての希望を述べる。",
    ),
]


def _file_documents(
    app: sessionmaker[Any], firm_id: uuid.UUID, case_ids: list[uuid.UUID], lawyer: uuid.UUID
) -> None:
    with tenant_scope(firm_id, user_id=lawyer, role="lawyer"), app() as s, s.begin():
        for i, (case, title, body) in enumerate(DOCUMENTS):
            doc = Document(tenant_id=firm_id, case_id=case_ids[case], title=title)
            s.add(doc)
            s.flush()
            add_document_version(
                s,
                doc,
                storage_key=f"demo/search/{i}.pdf",
                sha256=hashlib.sha256(body.encode()).hexdigest(),
                size_bytes=len(body.encode()),
                mime_type="application/pdf",
                uploaded_by=lawyer,
                extracted_text=body,
            )
        s.add(
            Communication(
                tenant_id=firm_id,
                case_id=case_ids[1],
                channel="phone",
                direction="outbound",
                occurred_at=s.execute(text("SELECT now()")).scalar_one(),
                subject="第2回調停期日の日程調整（離婚調停）",
                body="相手方代理人と期日の候補を協議した。",
            )
        )
    # Plain SQL through the tenant session: the triggers queue it, the commit indexes it.
    with tenant_scope(firm_id, user_id=lawyer, role="lawyer"), app() as s, s.begin():
        s.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title, description)"
                " VALUES (:t, :i, :c, '上申書（期日変更）', '離婚調停の期日変更を上申する。')"
            ),
            {"t": firm_id, "i": uuid.uuid4(), "c": case_ids[1]},
        )


def _hits(page: search.SearchPage[Any]) -> list[str]:
    lines = []
    for h in page:
        lines += [f"    [rank {h.rank}] {h.title}", f"        {h.snippet}"]
    return lines or ["    (no hits)"]


def run_search_demo(
    app: sessionmaker[Any],
    firm_id: uuid.UUID,
    case_ids: list[uuid.UUID],
    lawyer_id: uuid.UUID,
    colleague_id: uuid.UUID,
) -> list[str]:
    """File documents as ``lawyer_id``, search as ``colleague_id``; return the lines."""
    _file_documents(app, firm_id, case_ids, lawyer_id)
    lines = ["全文検索 (as the app role, through the RLS-safe search functions)"]
    with tenant_scope(firm_id, user_id=colleague_id, role="lawyer"), app() as s, s.begin():
        lines.append('  documents "離婚" (hits in the title first, then the newest):')
        lines += _hits(search.documents(s, "離婚", snippet_width=WIDTH))
        lines.append('  documents "㈱青葉商事" (㈱ = 株式会社, half/full width alike):')
        lines += _hits(search.documents(s, "㈱青葉商事", snippet_width=WIDTH))
        lines.append('  documents "婚 -面会" (one character, excluding a term):')
        lines += _hits(search.documents(s, "婚 -面会", snippet_width=WIDTH))
        first = search.documents(s, "青葉商事", limit=1, snippet_width=WIDTH)
        second = search.documents(
            s, "青葉商事", limit=1, after=first.next_cursor, snippet_width=WIDTH
        )
        lines.append('  documents "青葉商事", one per page (keyset cursor):')
        lines += _hits(first) + _hits(second)
        lines.append('  cases "調停":')
        lines += _hits(search.cases(s, "調停", snippet_width=WIDTH))
        lines.append('  communications "期日" (subjects only: bodies are encrypted):')
        lines += _hits(search.communications(s, "期日", snippet_width=WIDTH))
    # The firm teaches its search a synonym (audited, one step, either direction).
    with tenant_scope(firm_id, user_id=lawyer_id, role="lawyer"), app() as s, s.begin():
        search.synonyms.add(s, "原告", "申立人", note="調停・審判では申立人")
    with tenant_scope(firm_id, user_id=colleague_id, role="lawyer"), app() as s, s.begin():
        literal = search.documents(s, "原告 離婚", synonyms=False)
        lines.append(
            f'  documents "原告 離婚": {len(literal)} hit(s) as written; with the firm\'s'
            " synonym 原告 = 申立人:"
        )
        lines += _hits(search.documents(s, "原告 離婚", snippet_width=WIDTH))
    with tenant_scope(firm_id, role=SYSTEM_ROLE, reason="情報遮断措置"), app() as s, s.begin():
        wall = walls.add_wall(s, None, case_ids[1], user_id=colleague_id, reason="デモ")
    with tenant_scope(firm_id, user_id=colleague_id, role="lawyer"), app() as s, s.begin():
        page = search.documents(s, "離婚")
        lines.append(
            f'  behind an ethical wall on the 調停 case, "離婚" finds {len(page)} document(s)'
        )
    with (
        tenant_scope(firm_id, role=SYSTEM_ROLE, reason="情報遮断措置の解除"),
        app() as s,
        s.begin(),
    ):
        walls.end_wall(s, None, wall.id)
    return lines
