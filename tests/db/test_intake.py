"""Intake and conflicts: the conflict gate on cases, conflict checks as records,
consultations. Each rule is tried through the ORM and through plain SQL as the app role."""

from __future__ import annotations

import datetime as dt

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture, run, sql  # noqa: F401
from sqlalchemy import func, select

from legal_data.errors import CheckViolation, UniqueViolation
from legal_data.models import Case, CaseStatus, ConflictCheck, Consultation
from legal_data.testing.factories import (
    CaseFactory,
    ConflictCheckFactory,
    ConsultationFactory,
    ConsultationPartyFactory,
    UserFactory,
)

GATE = "ck_cases_conflict_check_cleared"


def set_status(harness, tenant, case_id, status):
    def work(s):
        s.get(Case, (tenant.id, case_id)).status = status

    run(harness, tenant, work)


def check(case_id, **kw):
    """A conflict check of the case alone (no consultation, no decision unless given)."""
    return ConflictCheckFactory(
        case_id=case_id,
        consultation_id=None,
        decision=kw.pop("decision", None),
        decided_by=kw.pop("decided_by", None),
        decided_at=kw.pop("decided_at", None),
        **kw,
    )


@pytest.fixture
def intake_case(db, firm):
    return run(db, firm, lambda s: CaseFactory())


def test_a_case_cannot_be_created_outside_intake(db, firm):
    def orm(s):
        client_id = CaseFactory().client_id
        s.add(
            Case(
                tenant_id=firm.id,
                client_id=client_id,
                title="不当利得返還請求事件",
                practice_area="civil",
                status="open",
            )
        )
        s.flush()

    with pytest.raises(CheckViolation) as info:
        run(db, firm, orm)
    assert (info.value.entity, info.value.rule) == ("cases", GATE)
    assert "conflict check" in str(info.value)

    client_id = run(db, firm, lambda s: CaseFactory().client_id)
    with pytest.raises(CheckViolation, match="conflict check") as info:
        sql(
            db,
            firm,
            "INSERT INTO cases (tenant_id, id, title, practice_area, status, client_id)"
            " VALUES (:t, gen_random_uuid(), '貸金返還請求事件', 'civil', 'open', :c)",
            t=firm.id,
            c=client_id,
        )
    assert info.value.rule == GATE


def test_leaving_intake_needs_a_conflict_check(db, firm, intake_case):
    with pytest.raises(CheckViolation) as info:
        set_status(db, firm, intake_case.id, "open")
    assert info.value.rule == GATE
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE cases SET status = 'pending' WHERE id = :id",
            id=intake_case.id,
        )
    assert info.value.rule == GATE

    run(db, firm, lambda s: check(intake_case.id, result="clear"))
    set_status(db, firm, intake_case.id, "open")
    history = run(
        db,
        firm,
        lambda s: s.scalars(
            select(CaseStatus.to_status)
            .where(CaseStatus.case_id == intake_case.id)
            .order_by(CaseStatus.changed_at)
        ).all(),
    )
    assert history == ["intake", "open"]


@pytest.mark.parametrize(
    ("result", "decision", "consent", "opens"),
    [
        ("clear", None, None, True),
        ("clear", "accept", None, True),
        ("clear", "decline", None, False),
        ("potential", None, None, False),
        ("potential", "accept", None, False),
        ("conflict", "accept", None, False),
        ("potential", "waived_with_consent", dt.date(2026, 4, 20), True),
        ("conflict", "waived_with_consent", dt.date(2026, 4, 20), True),
    ],
)
def test_only_a_clear_or_consented_check_opens_the_case(
    db, firm, intake_case, result, decision, consent, opens
):
    def add(s):
        decided = {}
        if decision:
            decided = {
                "decision": decision,
                "decided_by": UserFactory().id,
                "decided_at": dt.datetime(2026, 4, 21, tzinfo=dt.UTC),
            }
        check(intake_case.id, result=result, consent_obtained_on=consent, **decided)

    run(db, firm, add)
    if opens:
        sql(db, firm, "UPDATE cases SET status = 'open' WHERE id = :id", id=intake_case.id)
    else:
        with pytest.raises(CheckViolation) as info:
            sql(
                db,
                firm,
                "UPDATE cases SET status = 'open' WHERE id = :id",
                id=intake_case.id,
            )
        assert info.value.rule == GATE


def test_the_latest_check_decides(db, firm, intake_case):
    def work(s):
        check(intake_case.id, result="clear", checked_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
        check(intake_case.id, result="conflict", checked_at=dt.datetime(2026, 4, 2, tzinfo=dt.UTC))

    run(db, firm, work)
    with pytest.raises(CheckViolation) as info:
        set_status(db, firm, intake_case.id, "open")
    assert info.value.rule == GATE


def test_factory_opens_cases_through_the_gate(db, firm):
    case = run(db, firm, lambda s: CaseFactory(status="open"))
    checks = run(
        db,
        firm,
        lambda s: s.scalars(
            select(ConflictCheck.result).where(ConflictCheck.case_id == case.id)
        ).all(),
    )
    assert (case.status, checks) == ("open", ["clear"])


def test_a_clear_result_cannot_be_waived_and_a_waiver_needs_consent(db, firm):
    def waive(result, consent):
        def work(s):
            check(
                CaseFactory().id,
                result=result,
                decision="waived_with_consent",
                decided_by=UserFactory().id,
                decided_at=dt.datetime(2026, 4, 21, tzinfo=dt.UTC),
                consent_obtained_on=consent,
            )

        return work

    for result, consent in (("clear", dt.date(2026, 4, 20)), ("conflict", None)):
        with pytest.raises(CheckViolation) as info:
            run(db, firm, waive(result, consent))
        assert info.value.rule == "ck_conflict_checks_waiver_needs_consent"


def test_a_decision_names_who_and_when(db, firm, intake_case):
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "INSERT INTO conflict_checks (tenant_id, id, case_id, query_terms, result, decision)"
            " VALUES (:t, gen_random_uuid(), :c, ARRAY['ヤマダ'], 'clear', 'accept')",
            t=firm.id,
            c=intake_case.id,
        )
    assert info.value.rule == "ck_conflict_checks_decision_complete"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "INSERT INTO conflict_checks (tenant_id, id, query_terms, result)"
            " VALUES (:t, gen_random_uuid(), ARRAY['ヤマダ'], 'clear')",
            t=firm.id,
        )
    assert info.value.rule == "ck_conflict_checks_has_subject"


def test_a_conflict_check_is_a_record(db, firm, intake_case):
    found = run(db, firm, lambda s: check(intake_case.id, result="conflict"))

    def orm_flip(s):
        s.get(ConflictCheck, (firm.id, found.id)).result = "clear"

    with pytest.raises(CheckViolation) as info:
        run(db, firm, orm_flip)
    assert info.value.rule == "ck_conflict_checks_record_immutable"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            'UPDATE conflict_checks SET hits = \'[{"party": "x"}]\' WHERE id = :id',
            id=found.id,
        )
    assert info.value.rule == "ck_conflict_checks_record_immutable"
    # Deleting the newer, worse check would revive an older clear one: refused.
    with pytest.raises(CheckViolation) as info:
        sql(db, firm, "DELETE FROM conflict_checks WHERE id = :id", id=found.id)
    assert info.value.rule == "ck_conflict_checks_record_immutable"

    # The decision is taken once...
    def decide(decision):
        def work(s):
            decider = UserFactory().id
            row = s.get(ConflictCheck, (firm.id, found.id))
            row.decision = decision
            row.decided_by = decider
            row.decided_at = dt.datetime(2026, 4, 22, tzinfo=dt.UTC)
            row.consent_obtained_on = dt.date(2026, 4, 21)

        return work

    run(db, firm, decide("waived_with_consent"))
    # ... and stays taken.
    with pytest.raises(CheckViolation) as info:
        run(db, firm, decide("decline"))
    assert info.value.rule == "ck_conflict_checks_record_immutable"
    set_status(db, firm, intake_case.id, "open")

    # Deleting the case takes its checks with it.
    sql(db, firm, "DELETE FROM cases WHERE id = :id", id=intake_case.id)
    assert run(db, firm, lambda s: s.scalar(select(func.count(ConflictCheck.id)))) == 0


def test_consultations(db, firm):
    # A consultation that never became a case, with its parties: they count in conflicts.
    consultation = run(db, firm, lambda s: ConsultationFactory(status="open", case_id=None))
    party = run(db, firm, lambda s: ConsultationPartyFactory(consultation_id=consultation.id))
    with pytest.raises(UniqueViolation) as info:
        run(
            db,
            firm,
            lambda s: ConsultationPartyFactory(
                consultation_id=consultation.id, party_id=party.party_id, role=party.role
            ),
        )
    assert info.value.rule == "uq_consultation_parties_tenant_id_consultation_id_party_id_role"

    def became_case_without_case(s):
        s.get(Consultation, (firm.id, consultation.id)).status = "became_case"

    with pytest.raises(CheckViolation) as info:
        run(db, firm, became_case_without_case)
    assert info.value.rule == "ck_consultations_case_iff_became_case"
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE consultations SET fee_yen = -1 WHERE id = :id",
            id=consultation.id,
        )
    assert info.value.rule == "ck_consultations_fee_not_negative"
