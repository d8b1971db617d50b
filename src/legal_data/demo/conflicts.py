"""Demo: a conflict check (利益相反チェック) finds one company written three ways.

As the application role under Row Level Security, the lawyer's firm gets 株式会社山田商事
as a client (with its 法人番号), ㈱山田商事 as the opposing party of a closed case and
山田商事（株） as a party of a consultation that was declined and never became a case,
plus a similarly named 山田商店株式会社. A new matter against 山田商事株式会社 is checked:
the ranked hits (法人番号, then the name key 山田商事, then the similar name) are printed
with where each party appears, the check is recorded for the new case, and the lawyer
declines the matter — which stays in intake. Returns the lines to print.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from legal_data import conflicts
from legal_data.demo.firms import sample_corporate_number
from legal_data.models import (
    Case,
    CaseParty,
    Client,
    Consultation,
    ConsultationParty,
    Party,
)
from legal_data.models.intake import open_case
from legal_data.tenancy import tenant_scope

YAMADA_NUMBER = sample_corporate_number("010401099887")


def _party(s: Session, firm_id: uuid.UUID, name: str, **fields: Any) -> Party:
    row = Party(tenant_id=firm_id, kind=fields.pop("kind", "company"), name=name, **fields)
    s.add(row)
    s.flush()
    return row


def _client(s: Session, party: Party, code: str) -> Client:
    row = Client(tenant_id=party.tenant_id, party_id=party.id, client_code=code)
    s.add(row)
    s.flush()
    return row


def _seed(s: Session, firm_id: uuid.UUID) -> uuid.UUID:
    yamada = _party(s, firm_id, "株式会社山田商事", corporate_number=YAMADA_NUMBER)
    _client(s, yamada, "C-Y001")

    # ㈱山田商事 was the opposing party of a case that closed in 2025.
    tanaka = _client(s, _party(s, firm_id, "田中 一郎", kind="person"), "C-Y002")
    closed = Case(
        tenant_id=firm_id,
        client_id=tanaka.id,
        title="売掛金請求事件",
        practice_area="civil",
        opened_on=dt.date(2024, 6, 1),
    )
    s.add(closed)
    s.flush()
    open_case(s, closed, status="closed", closed_on=dt.date(2025, 3, 31))
    s.add_all(
        [
            CaseParty(
                tenant_id=firm_id, case_id=closed.id, party_id=tanaka.party_id, role="client"
            ),
            CaseParty(
                tenant_id=firm_id,
                case_id=closed.id,
                party_id=_party(s, firm_id, "㈱山田商事").id,
                role="opposing_party",
            ),
        ]
    )

    # 山田商事（株） consulted the firm once; the matter was declined.
    consultation = Consultation(
        tenant_id=firm_id,
        subject="取引先との契約解除についての相談",
        status="declined",
        consulted_at=dt.datetime(2025, 9, 16, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
    )
    s.add(consultation)
    s.flush()
    s.add(
        ConsultationParty(
            tenant_id=firm_id,
            consultation_id=consultation.id,
            party_id=_party(s, firm_id, "山田商事（株）").id,
            role="consulter",
        )
    )
    _party(s, firm_id, "山田商店株式会社")

    # The new matter: a prospective client against 山田商事株式会社, still in intake.
    newcomer = _client(s, _party(s, firm_id, "合同会社みなと物流"), "C-Y003")
    new_case = Case(
        tenant_id=firm_id,
        client_id=newcomer.id,
        title="山田商事に対する損害賠償請求事件",
        practice_area="civil",
    )
    s.add(new_case)
    s.flush()
    return new_case.id


def demo_conflicts(
    app_sessions: sessionmaker[Any], firm_id: uuid.UUID, lawyer_id: uuid.UUID
) -> list[str]:
    """Seed the three spellings, run and record the check, decline the matter."""
    lines = []
    with (
        tenant_scope(firm_id, user_id=lawyer_id, role="lawyer", reason="利益相反チェック"),
        app_sessions() as s,
        s.begin(),
    ):
        case_id = _seed(s, firm_id)
        report = conflicts.check(
            s,
            names=["山田商事株式会社"],
            corporate_numbers=[YAMADA_NUMBER],
            record=True,
            case_id=case_id,
        )
        lines.append(
            f"searched: 山田商事株式会社, 法人番号 {YAMADA_NUMBER} -> {len(report.hits)} hits, "
            f"result: {report.result}"
        )
        for n, hit in enumerate(report.hits, start=1):
            lines.append(f"{n}. 「{hit.party_name}」 rank {hit.rank}: {hit.reason}")
            for also in hit.matches[1:]:
                lines.append(f"     also: {also.reason()}")
            for appearance in hit.appearances:
                lines.append(f"     - {appearance.describe()}")
            if not hit.appearances:
                lines.append("     - known party, in no matter")
        check_id = report.check_id or uuid.UUID(int=0)  # recorded above: always set
        decided = conflicts.decide(
            s, check_id, "decline", note="相手方（㈱山田商事）と過去に対立: 受任しない"
        )
        status = s.scalar(select(Case.status).where(Case.id == case_id))
        lines.append(
            f"recorded as conflict check {str(check_id)[:8]}, decision: "
            f"{decided.decision}; the new case stays in {status}"
        )
    return lines
