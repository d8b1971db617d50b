"""Bad input reaches callers as typed exceptions naming the entity and the rule, and the
transaction that raised it leaves nothing behind. Each rule is tried through the ORM and
through plain SQL as the application role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from legal_data.errors import (
    CheckViolation,
    ConcurrentUpdate,
    ForeignKeyViolation,
    NotNullViolation,
    UniqueViolation,
)
from legal_data.models import Case, CaseParty, Party
from legal_data.tenancy import tenant_scope, tenant_session
from legal_data.testing.factories import (
    CaseFactory,
    ConflictCheckFactory,
    CourtCaseFactory,
    PartyFactory,
    bind_session,
    corporate_number,
)
from legal_data.testing.plugin import TEST_ACTOR


def run(harness, tenant, work):
    """Run ``work(session)`` in one tenant transaction with factories bound."""
    with (
        tenant_session(harness.app_sessions, tenant.id, role="test", user_id=TEST_ACTOR) as s,
        bind_session(s),
    ):
        return work(s)


def count(harness, tenant, model) -> int:
    return run(harness, tenant, lambda s: s.scalar(select(func.count()).select_from(model)))


def test_invalid_corporate_number_is_a_typed_error_and_nothing_is_written(legal_db, tenant_a):
    def work(s):
        PartyFactory(name="有効株式会社")  # valid, in the same transaction
        PartyFactory(corporate_number="1234567890123")  # wrong check digit

    with pytest.raises(CheckViolation) as info:
        run(legal_db, tenant_a, work)
    assert info.value.entity == "parties"
    assert info.value.rule == "ck_parties_corporate_number_valid"
    assert "法人番号" in str(info.value)
    assert count(legal_db, tenant_a, Party) == 0


def test_invalid_corporate_number_through_plain_sql(legal_db, tenant_a):
    with pytest.raises(CheckViolation, match="法人番号"):
        run(
            legal_db,
            tenant_a,
            lambda s: s.execute(
                text(
                    "INSERT INTO parties (tenant_id, id, kind, name, corporate_number)"
                    " VALUES (:t, gen_random_uuid(), 'company', '株式会社X', '12345')"
                ),
                {"t": tenant_a.id},
            ),
        )


def test_valid_corporate_number_is_accepted(legal_db, tenant_a):
    number = corporate_number(4_242_424)
    party = run(legal_db, tenant_a, lambda s: PartyFactory(corporate_number=number))
    assert party.corporate_number == number


def test_closed_before_opened_is_refused(legal_db, tenant_a):
    def work(s):
        CaseFactory(status="closed", opened_on=dt.date(2026, 5, 1), closed_on=dt.date(2026, 4, 30))

    with pytest.raises(CheckViolation) as info:
        run(legal_db, tenant_a, work)
    assert info.value.entity == "cases" and info.value.rule == "ck_cases_closed_after_opened"
    assert count(legal_db, tenant_a, Case) == 0


def test_duplicate_case_number_in_one_firm_is_refused_but_not_across_firms(
    legal_db, tenant_a, tenant_b
):
    run(legal_db, tenant_a, lambda s: CaseFactory(display_number=7))
    with pytest.raises(UniqueViolation) as info:
        run(legal_db, tenant_a, lambda s: CaseFactory(display_number=7))
    assert info.value.rule == "uq_cases_tenant_id_display_number"
    assert "already used" in str(info.value)
    other = run(legal_db, tenant_b, lambda s: CaseFactory(display_number=7))
    assert other.display_number == 7


def test_display_numbers_are_per_firm_and_continue_after_an_explicit_number(
    legal_db, tenant_a, tenant_b
):
    a1 = run(legal_db, tenant_a, lambda s: CaseFactory())
    a_explicit = run(legal_db, tenant_a, lambda s: CaseFactory(display_number=100))
    a_next = run(legal_db, tenant_a, lambda s: CaseFactory())
    b1 = run(legal_db, tenant_b, lambda s: CaseFactory())
    assert (a1.display_number, a_explicit.display_number, a_next.display_number) == (1, 100, 101)
    assert b1.display_number == 1


def test_duplicate_court_case_number_in_one_firm_is_refused(legal_db, tenant_a):
    run(legal_db, tenant_a, lambda s: CourtCaseFactory(number=1234))
    with pytest.raises(UniqueViolation, match="事件番号"):
        run(legal_db, tenant_a, lambda s: CourtCaseFactory(number=1234))


def test_unknown_court_or_case_type_code_is_a_foreign_key_error(legal_db, tenant_a):
    with pytest.raises(ForeignKeyViolation) as info:
        run(legal_db, tenant_a, lambda s: CourtCaseFactory(type_code="ZZ"))
    assert info.value.entity == "court_cases"


def test_party_cannot_be_client_and_opposing_party_of_one_case(legal_db, tenant_a):
    def setup(s):
        case = CaseFactory()
        party = PartyFactory()
        s.add(CaseParty(tenant_id=tenant_a.id, case_id=case.id, party_id=party.id, role="client"))
        return case.id, party.id

    case_id, party_id = run(legal_db, tenant_a, setup)
    with pytest.raises(CheckViolation) as info:
        run(
            legal_db,
            tenant_a,
            lambda s: s.add(
                CaseParty(
                    tenant_id=tenant_a.id, case_id=case_id, party_id=party_id, role="opposing_party"
                )
            ),
        )
    assert info.value.rule == "ck_case_parties_client_not_opposing"
    assert "both client and opposing" in str(info.value)
    with pytest.raises(CheckViolation):
        run(
            legal_db,
            tenant_a,
            lambda s: s.execute(
                text(
                    "INSERT INTO case_parties (tenant_id, id, case_id, party_id, role)"
                    " VALUES (:t, gen_random_uuid(), :c, :p, 'opposing_party')"
                ),
                {"t": tenant_a.id, "c": case_id, "p": party_id},
            ),
        )
    # Related and opposing counsel roles stay allowed for the same party.
    run(
        legal_db,
        tenant_a,
        lambda s: s.add(
            CaseParty(tenant_id=tenant_a.id, case_id=case_id, party_id=party_id, role="related")
        ),
    )


def test_missing_required_value_names_the_column(legal_db, tenant_a):
    with pytest.raises(NotNullViolation, match="title"):
        run(
            legal_db,
            tenant_a,
            lambda s: s.execute(
                text(
                    "INSERT INTO cases (tenant_id, id, practice_area, client_id)"
                    " VALUES (:t, gen_random_uuid(), 'civil', gen_random_uuid())"
                ),
                {"t": tenant_a.id},
            ),
        )


def test_status_history_records_who_and_why(legal_db, tenant_a):
    import uuid

    actor = uuid.uuid4()
    with (
        tenant_scope(tenant_a.id, user_id=actor, reason="受任契約締結"),
        tenant_session(legal_db.app_sessions) as s,
        bind_session(s),
    ):
        case = CaseFactory(status="intake")
    with (
        tenant_scope(tenant_a.id, user_id=actor, reason="受任"),
        tenant_session(legal_db.app_sessions) as s,
        bind_session(s),
    ):
        # A case leaves intake only after a clear conflict check.
        ConflictCheckFactory(case_id=case.id, consultation_id=None)
        s.get(Case, (tenant_a.id, case.id)).status = "open"
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=TEST_ACTOR) as s:
        history = s.get(Case, (tenant_a.id, case.id)).status_history
        rows = [(h.from_status, h.to_status, h.changed_by, h.reason) for h in history]
    assert rows == [
        (None, "intake", actor, "受任契約締結"),
        ("intake", "open", actor, "受任"),
    ]


def test_created_by_and_updated_by_come_from_the_actor(legal_db, tenant_a):
    import uuid

    author, editor = uuid.uuid4(), uuid.uuid4()
    with (
        tenant_scope(tenant_a.id, user_id=author),
        tenant_session(legal_db.app_sessions) as s,
        bind_session(s),
    ):
        case = CaseFactory()
    with tenant_scope(tenant_a.id, user_id=editor), tenant_session(legal_db.app_sessions) as s:
        s.get(Case, (tenant_a.id, case.id)).title = "改題"
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=TEST_ACTOR) as s:
        row = s.get(Case, (tenant_a.id, case.id))
        assert (row.created_by, row.updated_by, row.version) == (author, editor, 2)


def test_concurrent_edit_is_a_typed_error_not_a_lost_update(legal_db, tenant_a):
    case = run(legal_db, tenant_a, lambda s: CaseFactory(title="原題"))
    with (
        pytest.raises(ConcurrentUpdate),
        tenant_session(legal_db.app_sessions, tenant_a.id, user_id=TEST_ACTOR) as s1,
    ):
        stale = s1.get(Case, (tenant_a.id, case.id))
        with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=TEST_ACTOR) as s2:
            s2.get(Case, (tenant_a.id, case.id)).title = "先に保存"
        stale.title = "後から保存"
    with tenant_session(legal_db.app_sessions, tenant_a.id, user_id=TEST_ACTOR) as s:
        assert s.get(Case, (tenant_a.id, case.id)).title == "先に保存"
