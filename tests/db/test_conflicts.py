"""Conflict checks (利益相反チェック) against PostgreSQL, as the app role under RLS.

Every source of a conflict is found — a client, an opposing party in a closed case, a
related person, a party of a consultation that never became a case — by name key (the
same company written three ways, 髙/高, 﨑/崎), former name, reading and 法人番号, with
similar names ranked below exact hits; another firm's parties never; nothing without a
firm; parties written by raw SQL (also a bulk load that skips ordinary triggers) and
renamed parties are found by their current names; a walled user learns only the role;
checks and decisions are stored; bad input is refused with typed errors.

Each test gets a fresh firm (``firm``): a check searches the whole firm, so tests must
not see each other's parties.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture  # noqa: F401
from sqlalchemy import select, text, update

from legal_data import conflicts
from legal_data.errors import (
    CheckViolation,
    ConflictCheckNotFound,
    ForeignKeyViolation,
    InvalidConflictCheck,
    InvalidConflictDecision,
    InvalidCorporateNumber,
    TenantContextMissing,
)
from legal_data.models import (
    Case,
    CaseParty,
    Client,
    ConflictCheck,
    Consultation,
    ConsultationParty,
    Party,
    PartyNameGram,
    PartyNameKey,
    PartyRelation,
)
from legal_data.models.intake import open_case
from legal_data.rbac import walls
from legal_data.tenancy import system_scope, tenant_scope, tenant_session
from legal_data.tenancy.context import SYSTEM_ROLE
from legal_data.testing.factories import UserFactory, bind_session
from legal_data.testing.factories.base import corporate_number

NUMBER = corporate_number(4_242_424)


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def lawyer(db, firm) -> uuid.UUID:
    with tenant_session(db.app_sessions, firm.id, role=SYSTEM_ROLE) as s, bind_session(s):
        return UserFactory(display_name="弁護士 佐藤一郎").id


def as_user(db, firm, user_id: uuid.UUID | None, work) -> Any:
    """``work(session)`` in one committed app-role transaction of ``firm``."""
    ctx: dict[str, Any] = {"user_id": user_id} if user_id else {"role": SYSTEM_ROLE}
    with tenant_session(db.app_sessions, firm.id, **ctx) as s, bind_session(s):
        return work(s)


def party(s, name: str, *, kind: str = "company", **fields: Any) -> Party:
    row = Party(tenant_id=fields.pop("tenant_id", None) or _tenant(s), kind=kind, name=name)
    for key, value in fields.items():
        setattr(row, key, value)
    s.add(row)
    s.flush()
    return row


def _tenant(s) -> uuid.UUID:
    return s.execute(text("SELECT app_current_tenant_id()")).scalar_one()


def client(s, p: Party, code: str) -> Client:
    row = Client(tenant_id=p.tenant_id, party_id=p.id, client_code=code)
    s.add(row)
    s.flush()
    return row


def case(s, cl: Client, title: str, *, status: str = "open", **fields: Any) -> Case:
    row = Case(
        tenant_id=cl.tenant_id,
        client_id=cl.id,
        title=title,
        practice_area="civil",
        opened_on=dt.date(2024, 4, 1),
    )
    s.add(row)
    s.flush()
    open_case(s, row, status=status, **fields)
    return row


def role(s, c: Case, p: Party, r: str) -> None:
    s.add(CaseParty(tenant_id=c.tenant_id, case_id=c.id, party_id=p.id, role=r))
    s.flush()


def consultation(s, subject: str, *, status: str = "declined") -> Consultation:
    row = Consultation(
        tenant_id=_tenant(s),
        subject=subject,
        status=status,
        consulted_at=dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC),
    )
    s.add(row)
    s.flush()
    return row


def sql_as(db, firm, user_id: uuid.UUID | None, statement: str, **params: Any) -> Any:
    return as_user(db, firm, user_id, lambda s: s.execute(text(statement), params))


def decide_as(db, firm, user_id: uuid.UUID | None, check_id: uuid.UUID, *args: Any, **kw: Any):
    return as_user(db, firm, user_id, lambda s: conflicts.decide(s, check_id, *args, **kw))


def hit_for(report: conflicts.ConflictReport, name: str) -> conflicts.ConflictHit:
    found = [h for h in report.hits if h.party_name == name]
    assert len(found) == 1, [h.party_name for h in report.hits]
    return found[0]


def run_check(db, firm, user_id, **kw: Any) -> conflicts.ConflictReport:
    return as_user(db, firm, user_id, lambda s: conflicts.check(s, **kw))


# -- every source -------------------------------------------------------------------------


def test_a_client_is_found_with_its_matters(db, firm, lawyer):
    def seed(s):
        p = party(s, "株式会社青葉商事", corporate_number=NUMBER)
        cl = client(s, p, "C-0001")
        role(s, case(s, cl, "売買代金請求事件"), p, "client")

    as_user(db, firm, lawyer, seed)
    report = run_check(db, firm, lawyer, names=["青葉商事株式会社"])
    hit = hit_for(report, "株式会社青葉商事")
    assert (hit.best.kind, hit.best.key, hit.rank) == ("name", "青葉商事", 1)
    sources = [(a.source, a.role) for a in hit.appearances]
    assert ("case", "client") in sources and ("client", "active") in sources
    described = [a.describe() for a in hit.appearances]
    assert any("client in case #1 「売買代金請求事件」 (open)" in d for d in described)
    assert report.result == "conflict"


def test_the_same_company_written_three_ways(db, firm, lawyer):
    """株式会社山田商事 (our client), ㈱山田商事 (opposing party in a closed case) and
    山田商事（株） (a consultation that never became a case) are one company."""

    def seed(s):
        ours = party(s, "株式会社山田商事")
        role(s, case(s, client(s, ours, "C-0001"), "業務委託料請求事件"), ours, "client")
        theirs = party(s, "㈱山田商事")
        other = client(s, party(s, "佐藤 花子", kind="person"), "C-0002")
        closed = case(s, other, "損害賠償請求事件", status="closed", closed_on=dt.date(2025, 3, 31))
        role(s, closed, theirs, "opposing_party")
        asked = party(s, "山田商事（株）")
        c = consultation(s, "取引先との紛争の相談", status="declined")
        s.add(
            ConsultationParty(
                tenant_id=c.tenant_id, consultation_id=c.id, party_id=asked.id, role="consulter"
            )
        )
        s.flush()

    as_user(db, firm, lawyer, seed)
    report = run_check(db, firm, lawyer, names=["山田商事株式会社"])
    names = {h.party_name for h in report.hits}
    assert names == {"株式会社山田商事", "㈱山田商事", "山田商事（株）"}
    assert {(h.best.kind, h.best.key) for h in report.hits} == {("name", "山田商事")}
    closed = hit_for(report, "㈱山田商事").appearances[0]
    assert (closed.source, closed.role, closed.status, closed.closed) == (
        "case",
        "opposing_party",
        "closed",
        True,
    )
    assert "opposing party in case #2" in closed.describe()
    asked = hit_for(report, "山田商事（株）").appearances[0]
    assert (asked.source, asked.role, asked.status) == ("consultation", "consulter", "declined")
    assert "never became a case" in asked.describe()


def test_a_related_person_is_found_with_whom_they_are_related_to(db, firm, lawyer):
    def seed(s):
        company = party(s, "みどり建設株式会社")
        cl = client(s, company, "C-0001")
        role(s, case(s, cl, "請負代金請求事件"), company, "client")
        rep = party(s, "鈴木 一郎", kind="person", name_kana="スズキ イチロウ")
        s.add(
            PartyRelation(
                tenant_id=cl.tenant_id,
                from_party_id=rep.id,
                to_party_id=company.id,
                kind="representative",
            )
        )
        s.flush()

    as_user(db, firm, lawyer, seed)
    report = run_check(db, firm, lawyer, names=["鈴木一郎"])
    hit = hit_for(report, "鈴木 一郎")
    (relation,) = hit.appearances
    assert (relation.source, relation.role, relation.other_party_name) == (
        "relation",
        "representative",
        "みどり建設株式会社",
    )
    assert relation.describe().startswith("representative of みどり建設株式会社")
    assert any("client in case #1" in r for r in relation.other_party_roles)


def test_former_names_readings_and_corporate_numbers(db, firm, lawyer):
    def seed(s):
        party(s, "株式会社あおば", former_names=["旧青葉産業株式会社"], corporate_number=NUMBER)
        party(s, "斎藤 恵子", kind="person", name_kana="サイトウ ケイコ")

    as_user(db, firm, lawyer, seed)
    former = run_check(db, firm, lawyer, names=["青葉産業（株）"])
    hit = hit_for(former, "株式会社あおば")
    # 青葉産業 is inside the former name's key 旧青葉産業: similar, not equal.
    assert (hit.best.kind, hit.best.field, hit.best.matched_text) == (
        "similar_name",
        "former_names",
        "旧青葉産業株式会社",
    )
    exact_former = run_check(db, firm, lawyer, names=["旧青葉産業"])
    assert hit_for(exact_former, "株式会社あおば").best.kind == "former_name"
    assert exact_former.result == "conflict"

    reading = run_check(db, firm, lawyer, names=["さいとう けいこ"])
    hit = hit_for(reading, "斎藤 恵子")
    assert (hit.best.kind, hit.best.key, hit.rank) == ("kana", "さいとうけいこ", 2)
    assert reading.result == "potential"  # a shared reading is not the same person

    spaced = f"{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}"
    by_number = run_check(db, firm, lawyer, corporate_numbers=[spaced])
    hit = hit_for(by_number, "株式会社あおば")
    assert (hit.best.kind, hit.rank, hit.best.term) == ("corporate_number", 0, NUMBER)
    assert by_number.result == "conflict"


@pytest.mark.parametrize(
    ("stored", "searched"),
    [
        ("髙橋 一郎", "高橋一郎"),
        ("高橋一郎", "髙橋　一郎"),
        ("山﨑 花子", "山崎花子"),
        ("山崎花子", "山﨑花子"),
    ],
)
def test_old_and_new_kanji_are_one_name(db, firm, lawyer, stored, searched):
    as_user(db, firm, lawyer, lambda s: party(s, stored, kind="person"))
    hit = hit_for(run_check(db, firm, lawyer, names=[searched]), stored)
    assert hit.best.kind == "name"


def test_similar_names_are_ranked_below_exact_hits(db, firm, lawyer):
    def seed(s):
        party(s, "山田商店株式会社", corporate_number=NUMBER)
        party(s, "株式会社山田商事")
        party(s, "ヤマダ ショウジ", kind="person", name_kana="ヤマダ ショウジ")
        party(s, "田中建設")  # shares nothing

    as_user(db, firm, lawyer, seed)
    report = run_check(db, firm, lawyer, names=["㈱山田商事"], corporate_numbers=[NUMBER])
    ranked = [(h.party_name, h.best.kind) for h in report.hits]
    assert ranked == [
        ("山田商店株式会社", "corporate_number"),
        ("株式会社山田商事", "name"),
    ]
    fuzzy = run_check(db, firm, lawyer, names=["山田商事"])
    assert [(h.party_name, h.best.kind) for h in fuzzy.hits] == [
        ("株式会社山田商事", "name"),
        ("山田商店株式会社", "similar_name"),
    ]
    similar = fuzzy.hits[1].best
    assert 0.6 <= similar.score < 1.0
    assert similar.matched_key == "山田商店"
    assert "similar" in similar.reason()
    only_similar = run_check(db, firm, lawyer, names=["山田商会"])
    assert {h.best.kind for h in only_similar.hits} == {"similar_name"}
    assert only_similar.result == "potential"


def test_fuzzy_hits_are_capped_per_name_and_say_so(db, firm, lawyer):
    def seed(s):
        for i in range(6):
            party(s, f"山田商事{'東西南北上下'[i]}店")

    as_user(db, firm, lawyer, seed)
    capped = run_check(db, firm, lawyer, names=["山田商事"], fuzzy_limit=4)
    assert len(capped.hits) == 4 and capped.truncated
    full = run_check(db, firm, lawyer, names=["山田商事"])
    assert len(full.hits) == 6 and not full.truncated


# -- boundaries -------------------------------------------------------------------------


def test_another_firms_parties_are_never_found(db, firms, firm, lawyer):
    other = firms.new()
    as_user(db, other, None, lambda s: party(s, "株式会社山田商事", corporate_number=NUMBER))
    report = run_check(db, firm, lawyer, names=["株式会社山田商事"], corporate_numbers=[NUMBER])
    assert report.hits == () and report.result == "clear"
    mine = run_check(db, other, None, names=["山田商事"], corporate_numbers=[NUMBER])
    assert [h.party_name for h in mine.hits] == ["株式会社山田商事"]


def test_without_a_firm_the_check_is_refused_and_the_keys_show_nothing(db, firm, lawyer):
    as_user(db, firm, lawyer, lambda s: party(s, "株式会社山田商事"))
    with system_scope(reason="test"), db.app_sessions() as s, s.begin():
        with pytest.raises(TenantContextMissing):
            conflicts.check(s, names=["山田商事"])
        assert s.execute(text("SELECT count(*) FROM party_name_keys")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM party_name_grams")).scalar() == 0
        with db.admin_engine.connect() as admin:
            ids = (
                admin.execute(text("SELECT id FROM parties WHERE tenant_id = :t"), {"t": firm.id})
                .scalars()
                .all()
            )
        assert ids
        screened = text("SELECT count(*) FROM conflict_screened_appearances(CAST(:i AS uuid[]))")
        assert s.execute(screened, {"i": ids}).scalar() == 0
    with db.app_sessions() as s, pytest.raises(TenantContextMissing):
        conflicts.check(s, names=["山田商事"])  # a tenant session outside any scope


def test_parties_written_by_raw_sql_are_found(db, firm, lawyer):
    sql_as(
        db,
        firm,
        lawyer,
        "INSERT INTO parties (tenant_id, id, kind, name, name_kana, former_names)"
        " VALUES (:t, gen_random_uuid(), 'company', '有限会社ひかり工業',"
        " 'ヒカリコウギョウ', ARRAY['ひかり製作所'])",
        t=firm.id,
    )
    # An operator's bulk load that skips ordinary triggers still gets keys (ENABLE ALWAYS).
    with db.admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(
            text(
                "INSERT INTO parties (tenant_id, id, kind, name)"
                " VALUES (:t, gen_random_uuid(), 'company', '合同会社みなと物流')"
            ),
            {"t": firm.id},
        )
    report = run_check(db, firm, lawyer, names=["ひかり工業㈲", "ﾐﾅﾄ物流"])
    assert {(h.party_name, h.best.kind) for h in report.hits} == {
        ("有限会社ひかり工業", "name"),
        ("合同会社みなと物流", "name"),
    }
    former = run_check(db, firm, lawyer, names=["ひかり製作所"])
    assert hit_for(former, "有限会社ひかり工業").best.kind == "former_name"


def test_renamed_parties_are_found_by_their_current_name_only(db, firm, lawyer):
    pid = as_user(
        db, firm, lawyer, lambda s: party(s, "株式会社旧名商事", name_kana="キュウメイ").id
    )

    def keys() -> dict[str, set[str]]:
        def read(s):
            rows = s.execute(select(PartyNameKey.key_kind, PartyNameKey.key)).all()
            out: dict[str, set[str]] = {}
            for kind, key in rows:
                out.setdefault(kind, set()).add(key)
            return out

        return as_user(db, firm, lawyer, read)

    assert keys() == {"name": {"旧名商事"}, "kana": {"きゆうめい"}}
    ids_before = as_user(db, firm, lawyer, lambda s: set(s.scalars(select(PartyNameKey.id))))

    # An update that does not touch names leaves the keys alone.
    touch = update(Party).where(Party.id == pid).values(updated_at=dt.datetime(2030, 1, 1))
    as_user(db, firm, lawyer, lambda s: s.execute(touch))
    assert as_user(db, firm, lawyer, lambda s: set(s.scalars(select(PartyNameKey.id)))) == (
        ids_before
    )

    def rename(s):
        row = s.get(Party, (firm.id, pid))
        row.former_names = ["株式会社旧名商事"]
        row.name = "新名ホールディングス株式会社"
        row.name_kana = "シンメイホールディングス"

    as_user(db, firm, lawyer, rename)
    assert keys() == {
        "name": {"新名ホールディングス"},
        "kana": {"しんめいほるでいんぐす"},
        "former": {"旧名商事"},
    }
    now = run_check(db, firm, lawyer, names=["新名ホールディングス"])
    assert hit_for(now, "新名ホールディングス株式会社").best.kind == "name"
    before = run_check(db, firm, lawyer, names=["旧名商事"])
    assert hit_for(before, "新名ホールディングス株式会社").best.kind == "former_name"
    grams = as_user(db, firm, lawyer, lambda s: s.scalars(select(PartyNameGram.gram)).all())
    assert "旧名" in grams and "新名" in grams

    # Raw SQL rename, then deletion: keys follow.
    rename_sql = "UPDATE parties SET name = '別名株式会社', former_names = '{}' WHERE id = :p"
    sql_as(db, firm, lawyer, rename_sql, p=pid)
    assert keys()["name"] == {"別名"} and "former" not in keys()
    sql_as(db, firm, lawyer, "DELETE FROM parties WHERE id = :p", p=pid)
    assert keys() == {}
    assert as_user(db, firm, lawyer, lambda s: s.scalars(select(PartyNameGram.id)).all()) == []


# -- ethical walls --------------------------------------------------------------------------


def test_a_walled_user_learns_the_role_and_nothing_else(db, firm, lawyer):
    def seed(s):
        ours = client(s, party(s, "株式会社さくら不動産"), "C-0001")
        secret = case(s, ours, "極秘の建物明渡請求事件")
        role(s, secret, party(s, "有限会社ひかり工業"), "opposing_party")
        screened = UserFactory(display_name="弁護士 移籍者").id
        walls.add_wall(s, None, secret.id, user_id=screened, reason="相手方から移籍")
        return screened, secret.id

    screened, secret_id = as_user(db, firm, None, seed)
    seen = run_check(db, firm, screened, names=["ひかり工業"], record=False)
    hit = hit_for(seen, "有限会社ひかり工業")
    (appearance,) = hit.appearances
    assert (appearance.source, appearance.role, appearance.screened_in) == (
        conflicts.SCREENED,
        "opposing_party",
        "case",
    )
    assert appearance.matter_id is None and appearance.title is None and hit.screened
    stored = str(hit.as_record())
    assert str(secret_id) not in stored and "極秘" not in stored
    assert "screened from" in appearance.describe()
    assert seen.result == "conflict"  # a conflict is a conflict

    colleague = run_check(db, firm, lawyer, names=["ひかり工業"])
    (full,) = hit_for(colleague, "有限会社ひかり工業").appearances
    assert (full.source, full.matter_id, full.title) == (
        "case",
        secret_id,
        "極秘の建物明渡請求事件",
    )


# -- records and decisions ----------------------------------------------------------------


def test_a_check_and_the_decision_are_stored(db, firm, lawyer):
    def seed(s):
        ours = client(s, party(s, "株式会社青葉商事", corporate_number=NUMBER), "C-0001")
        row = Case(tenant_id=ours.tenant_id, client_id=ours.id, title="新件", practice_area="civil")
        s.add(row)
        s.flush()
        return row.id

    case_id = as_user(db, firm, lawyer, seed)

    def run(s):
        report = conflicts.check(
            s, names=["青葉商事"], corporate_numbers=[NUMBER], record=True, case_id=case_id
        )
        stored = s.get(ConflictCheck, (firm.id, report.check_id))
        assert stored.query_terms == ["青葉商事", NUMBER]
        assert stored.result == report.result == "conflict"
        assert stored.checked_by == lawyer
        assert stored.hits[0]["party_name"] == "株式会社青葉商事"
        assert stored.hits[0]["matches"][0]["kind"] == "corporate_number"
        assert stored.hits[0]["reason"].startswith("法人番号")
        return report.check_id

    check_id = as_user(db, firm, lawyer, run)

    # The gate: a found conflict needs a waiver with consent before the case opens.
    def try_open(s):
        s.get(Case, (firm.id, case_id)).status = "open"
        s.flush()

    with pytest.raises(CheckViolation):
        as_user(db, firm, lawyer, try_open)
    with pytest.raises(InvalidConflictDecision, match="consent"):
        as_user(db, firm, lawyer, lambda s: conflicts.decide(s, check_id, "waived_with_consent"))
    with pytest.raises(InvalidConflictDecision, match="no user"):
        as_user(db, firm, None, lambda s: conflicts.decide(s, check_id, "accept"))

    def waive(s):
        row = conflicts.decide(
            s,
            check_id,
            "waived_with_consent",
            note="双方から書面で同意を得た",
            consent_obtained_on=dt.date(2026, 5, 1),
        )
        assert (row.decision, row.decided_by, row.consent_obtained_on) == (
            "waived_with_consent",
            lawyer,
            dt.date(2026, 5, 1),
        )
        assert row.decided_at is not None
        try_open(s)

    as_user(db, firm, lawyer, waive)
    assert as_user(db, firm, lawyer, lambda s: s.get(Case, (firm.id, case_id)).status) == "open"
    with pytest.raises(InvalidConflictDecision, match="already decided"):
        as_user(db, firm, lawyer, lambda s: conflicts.decide(s, check_id, "decline"))
    # The database keeps the record too: raw SQL cannot rewrite the decision or the hits.
    with pytest.raises(CheckViolation):
        rewrite = "UPDATE conflict_checks SET decision = 'decline' WHERE id = :i"
        sql_as(db, firm, lawyer, rewrite, i=check_id)


def test_a_clear_check_of_a_consultation_and_its_decision(db, firm, lawyer):
    def run(s):
        c = consultation(s, "離婚についての相談", status="open")
        report = conflicts.check(s, names=["山本 太郎"], record=True, consultation_id=c.id)
        assert report.result == "clear" and report.hits == ()
        with pytest.raises(InvalidConflictDecision, match="clear check"):
            conflicts.decide(
                s, report.check_id, "waived_with_consent", consent_obtained_on=dt.date(2026, 5, 1)
            )
        row = conflicts.decide(s, report.check_id, "accept", note="該当なし")
        assert (row.decision, row.decision_note, row.consultation_id) == (
            "accept",
            "該当なし",
            c.id,
        )
        with pytest.raises(InvalidConflictDecision, match="already decided"):
            conflicts.decide(s, report.check_id, "accept")

    as_user(db, firm, lawyer, run)
    with pytest.raises(ConflictCheckNotFound):
        as_user(db, firm, lawyer, lambda s: conflicts.decide(s, uuid.uuid4(), "accept"))


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, InvalidConflictCheck, "at least one"),
        ({"names": "山田商事"}, InvalidConflictCheck, "list"),
        ({"names": ["  "]}, InvalidConflictCheck, "blank"),
        ({"names": ["山" * 501]}, InvalidConflictCheck, "longer"),
        ({"names": ["山田\x00商事"]}, InvalidConflictCheck, "NUL"),
        ({"names": ["山田\ud800"]}, InvalidConflictCheck, "Unicode"),
        ({"names": [42]}, InvalidConflictCheck, "not a string"),
        ({"names": [f"名{i}" for i in range(101)]}, InvalidConflictCheck, "at most"),
        (
            {"corporate_numbers": [f"{int(NUMBER[0]) % 9 + 1}{NUMBER[1:]}"]},
            InvalidCorporateNumber,
            "check digit",
        ),
        ({"corporate_numbers": ["12345"]}, InvalidCorporateNumber, "13 digits"),
        ({"names": ["山田"], "fuzzy_limit": -1}, InvalidConflictCheck, "fuzzy_limit"),
        ({"names": ["山田"], "record": True}, InvalidConflictCheck, "case or a consultation"),
    ],
)
def test_bad_input_is_refused_before_any_sql(db, firm, lawyer, kwargs, error, message):
    with pytest.raises(error, match=message):
        run_check(db, firm, lawyer, **kwargs)


def test_names_with_nothing_searchable_and_unknown_subjects_are_typed_errors(db, firm, lawyer):
    with pytest.raises(InvalidConflictCheck, match="nothing searchable"):
        run_check(db, firm, lawyer, names=["山田商事", "・・・ ──"])
    with pytest.raises(ForeignKeyViolation):
        run_check(db, firm, lawyer, names=["山田商事"], record=True, case_id=uuid.uuid4())
    with pytest.raises(InvalidConflictDecision, match="one of"):
        as_user(db, firm, lawyer, lambda s: conflicts.decide(s, uuid.uuid4(), "maybe"))
    instant = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidConflictDecision, match="date"):
        decide_as(
            db, firm, lawyer, uuid.uuid4(), "waived_with_consent", consent_obtained_on=instant
        )
    with pytest.raises(InvalidConflictDecision, match="waiver only"):
        decide_as(db, firm, lawyer, uuid.uuid4(), "accept", consent_obtained_on=instant.date())


def test_names_are_bound_never_interpolated(db, firm, lawyer):
    as_user(db, firm, lawyer, lambda s: party(s, "O'Brien & Co., Ltd."))
    hostile = ["'); DROP TABLE parties; --", "O'Brien", "100%_\\", ":name"]
    report = run_check(db, firm, lawyer, names=hostile)
    assert [h.party_name for h in report.hits] == ["O'Brien & Co., Ltd."]
    assert sql_as(db, firm, lawyer, "SELECT count(*) FROM parties").scalar() == 1


def test_context_of_the_tenant_scope_is_the_one_searched(db, firms, firm, lawyer):
    """Explicit firm filters besides RLS: an admin session set to firm A sees only A."""
    other = firms.new()
    as_user(db, other, None, lambda s: party(s, "株式会社山田商事"))
    as_user(db, firm, lawyer, lambda s: party(s, "山田商事株式会社"))
    with tenant_scope(firm.id, user_id=lawyer), db.admin_sessions() as s, s.begin():
        report = conflicts.check(s, names=["山田商事"])
    assert [h.party_name for h in report.hits] == ["山田商事株式会社"]


def test_the_demo_finds_the_company_written_three_ways(db, firm, lawyer):
    from legal_data.demo.conflicts import demo_conflicts

    lines = demo_conflicts(db.app_sessions, firm.id, lawyer)
    text_ = "\n".join(lines)
    assert "4 hits, result: conflict" in lines[0]
    ranked = [line.split("」")[0].split("「")[1] for line in lines if line[:1].isdigit()]
    assert ranked == ["株式会社山田商事", "㈱山田商事", "山田商事（株）", "山田商店株式会社"]
    assert "opposing party in case #" in text_ and "(closed 2025-03-31)" in text_
    assert "declined, never became a case" in text_
    assert "client of the firm (C-Y001, active)" in text_
    assert lines[-1].endswith("decision: decline; the new case stays in intake")
