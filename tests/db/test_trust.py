"""Client money (預り金): the running balance, the append-only ledger (also under concurrent
writers), accounts, and the 500,000-yen / 14-business-day bar association rule."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from domain_support import db_fixture, firm_fixture, firms_fixture, run, sql  # noqa: F401
from sqlalchemy import select, text

from legal_data import trust
from legal_data.errors import CheckViolation, LegalDataError
from legal_data.models import Case, TrustAccount, TrustLedgerEntry
from legal_data.tenancy import tenant_session
from legal_data.testing.factories import CaseFactory, TrustAccountFactory
from legal_data.testing.plugin import TEST_ACTOR

APPEND_ONLY = "ck_trust_ledger_append_only"


@pytest.fixture
def money(db, firm):
    """A dedicated account, a general (operating) account and a case of the firm."""

    def work(s):
        dedicated = TrustAccountFactory()
        general = TrustAccountFactory(name="普通預金（運転資金）", kind="general")
        return dedicated, general, CaseFactory(status="open")

    return run(db, firm, work)


def ledger(db, firm, fn: Callable[..., Any], account, case, **kw):
    """Call ``trust.<fn>`` for the account and case in one transaction of the firm."""

    def work(s):
        return fn(
            s,
            account=s.get(TrustAccount, (firm.id, account.id)),
            case=s.get(Case, (firm.id, case.id)),
            **kw,
        )

    return run(db, firm, work)


def test_the_running_balance(db, firm, money):
    dedicated, _, case = money
    first = ledger(db, firm, trust.deposit, dedicated, case, amount_yen=300_000)
    second = ledger(db, firm, trust.withdraw, dedicated, case, amount_yen=120_000)
    assert [(e.seq, e.amount_yen, e.balance_after_yen) for e in (first, second)] == [
        (1, 300_000, 300_000),
        (2, -120_000, 180_000),
    ]
    assert run(db, firm, lambda s: trust.balance(s, account=dedicated, case=case)) == 180_000

    with pytest.raises(CheckViolation) as info:
        ledger(db, firm, trust.withdraw, dedicated, case, amount_yen=180_001)
    assert info.value.rule == "ck_trust_ledger_balance_not_negative"
    assert "never go negative" in str(info.value)
    with pytest.raises(CheckViolation) as info:  # the balance the user saw is stale
        ledger(
            db, firm, trust.deposit, dedicated, case, amount_yen=1_000, expected_balance_yen=301_000
        )
    assert info.value.rule == "ck_trust_ledger_balance_follows"


def insert_sql(db, firm, account, case, **values):
    row = {
        "kind": "deposit",
        "amount": 1_000,
        "seq": None,
        "balance": None,
        "on": dt.date.today(),
    } | values
    sql(
        db,
        firm,
        "INSERT INTO trust_ledger (tenant_id, id, account_id, client_id, case_id, kind,"
        " amount_yen, seq, balance_after_yen, occurred_on)"
        " VALUES (:t, gen_random_uuid(), :a, :cl, :c, :kind, :amount, :seq, :balance, :on)",
        t=firm.id,
        a=account.id,
        cl=case.client_id,
        c=case.id,
        **row,
    )


def test_an_entry_must_follow_the_previous_one_through_plain_sql(db, firm, money):
    dedicated, _, case = money
    insert_sql(db, firm, dedicated, case, amount=50_000)  # seq 1, balance 50,000 (computed)
    for values in (
        {"seq": 2, "balance": 50_001},  # balance does not follow
        {"seq": 3, "balance": 51_000},  # skips an entry
        {"seq": 1, "balance": 1_000},  # rewrites history
    ):
        with pytest.raises(CheckViolation) as info:
            insert_sql(db, firm, dedicated, case, **values)
        assert info.value.rule == "ck_trust_ledger_balance_follows", values
    with pytest.raises(CheckViolation) as info:
        insert_sql(db, firm, dedicated, case, kind="withdrawal", amount=-60_000)
    assert info.value.rule == "ck_trust_ledger_balance_not_negative"
    with pytest.raises(CheckViolation) as info:
        insert_sql(db, firm, dedicated, case, kind="deposit", amount=-1)
    assert info.value.rule == "ck_trust_ledger_amount_sign_matches_kind"
    with pytest.raises(CheckViolation) as info:
        insert_sql(db, firm, dedicated, case, on=dt.date.today() - dt.timedelta(days=1))
    assert info.value.rule == "ck_trust_ledger_chronological"
    insert_sql(db, firm, dedicated, case, seq=2, balance=51_000)


def test_the_ledger_is_append_only(db, firm, money):
    dedicated, _, case = money
    entry = ledger(db, firm, trust.deposit, dedicated, case, amount_yen=100_000)

    def orm_edit(s):
        s.get(TrustLedgerEntry, (firm.id, entry.id)).amount_yen = 1

    def orm_delete(s):
        s.delete(s.get(TrustLedgerEntry, (firm.id, entry.id)))

    for work in (orm_edit, orm_delete):
        with pytest.raises(CheckViolation) as info:
            run(db, firm, work)
        assert info.value.rule == APPEND_ONLY
    for statement in (
        "UPDATE trust_ledger SET description = '訂正' WHERE id = :id",
        "UPDATE trust_ledger SET amount_yen = 2 * amount_yen,"
        " balance_after_yen = 2 * balance_after_yen WHERE id = :id",
        "DELETE FROM trust_ledger WHERE id = :id",
    ):
        with pytest.raises(CheckViolation) as info:
            sql(db, firm, statement, id=entry.id)
        assert info.value.rule == APPEND_ONLY, statement
        assert "reversing entry" in str(info.value)

    # Issuing the 預り証 and notifying the client are stamped once, afterwards.
    def stamp(s):
        row = s.get(TrustLedgerEntry, (firm.id, entry.id))
        trust.mark_receipt_issued(s, row)
        trust.mark_client_notified(s, row)
        return row.receipt_issued_at, row.client_notified_at

    assert all(run(db, firm, stamp))
    with pytest.raises(CheckViolation) as info:
        sql(
            db,
            firm,
            "UPDATE trust_ledger SET receipt_issued_at = now() WHERE id = :id",
            id=entry.id,
        )
    assert info.value.rule == APPEND_ONLY


def test_accounts(db, firm):
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: TrustAccountFactory(name="普通預金口座", kind="dedicated"))
    assert info.value.rule == "ck_trust_accounts_dedicated_name"
    assert "預り金" in str(info.value)
    with pytest.raises(CheckViolation) as info:
        run(db, firm, lambda s: TrustAccountFactory(account_number="12-3456"))
    assert info.value.rule == "ck_trust_accounts_account_number_format"


# -- concurrent writers ---------------------------------------------------------------


class Writer(threading.Thread):
    """Writes one ledger entry in its own transaction, and commits only when told to."""

    def __init__(self, db, firm, account, case, fn, **kw) -> None:
        super().__init__(daemon=True)
        self.args = (db, firm, account, case, fn, kw)
        self.pid: int | None = None
        self.started_tx = threading.Event()
        self.wrote = threading.Event()
        self.may_commit = threading.Event()
        self.error: BaseException | None = None
        self.entry: TrustLedgerEntry | None = None

    def run(self) -> None:
        db, firm, account, case, fn, kw = self.args
        try:
            with tenant_session(db.app_sessions, firm.id, user_id=TEST_ACTOR) as s:
                self.pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
                self.started_tx.set()
                self.entry = fn(
                    s,
                    account=s.get(TrustAccount, (firm.id, account.id)),
                    case=s.get(Case, (firm.id, case.id)),
                    **kw,
                )
                self.wrote.set()
                assert self.may_commit.wait(30)
        except BaseException as exc:  # reported to the test
            self.error = exc
        finally:
            self.started_tx.set()
            self.wrote.set()


def wait_until_blocked(db, pid: int, timeout: float = 15.0) -> None:
    """Poll the catalog until backend ``pid`` waits for a lock (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    with db.admin_engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                {"p": pid},
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.005)
    raise AssertionError(f"backend {pid} never waited for the account lock")


def race(db, firm, account, case, first_kw, second_kw):
    """Writer 1 writes and holds its transaction; writer 2 writes and must wait for the
    account lock; then writer 1 commits and writer 2 finishes. Returns both writers."""
    one = Writer(db, firm, account, case, **first_kw)
    two = Writer(db, firm, account, case, **second_kw)
    one.start()
    assert one.wrote.wait(15)
    assert one.error is None, one.error
    two.start()
    assert two.started_tx.wait(15)
    wait_until_blocked(db, two.pid)
    one.may_commit.set()
    two.may_commit.set()
    one.join(30)
    two.join(30)
    return one, two


def test_concurrent_writers_are_serialized_and_never_lose_an_update(db, firm, money):
    dedicated, _, case = money
    ledger(db, firm, trust.deposit, dedicated, case, amount_yen=100_000)
    deposit = {"fn": trust.deposit, "amount_yen": 10_000}
    one, two = race(db, firm, dedicated, case, deposit, deposit)
    assert one.error is None and two.error is None
    assert [(w.entry.seq, w.entry.balance_after_yen) for w in (one, two)] == [
        (2, 110_000),
        (3, 120_000),
    ]
    assert run(db, firm, lambda s: trust.balance(s, account=dedicated, case=case)) == 120_000


def test_concurrent_withdrawals_cannot_overdraw(db, firm, money):
    dedicated, _, case = money
    ledger(db, firm, trust.deposit, dedicated, case, amount_yen=100_000)
    withdrawal = {"fn": trust.withdraw, "amount_yen": 80_000}
    one, two = race(db, firm, dedicated, case, withdrawal, withdrawal)
    assert one.error is None
    assert isinstance(two.error, CheckViolation)
    assert two.error.rule == "ck_trust_ledger_balance_not_negative"
    assert run(db, firm, lambda s: trust.balance(s, account=dedicated, case=case)) == 20_000


def test_a_balance_computed_before_a_concurrent_write_is_refused(db, firm, money):
    dedicated, _, case = money
    ledger(db, firm, trust.deposit, dedicated, case, amount_yen=100_000)
    # Both writers computed "100,000 - 30,000 = 70,000" from the same state.
    stale = {"fn": trust.withdraw, "amount_yen": 30_000, "expected_balance_yen": 70_000}
    one, two = race(db, firm, dedicated, case, stale, stale)
    assert one.error is None
    assert isinstance(two.error, LegalDataError)
    assert two.error.rule == "ck_trust_ledger_balance_follows"
    assert run(db, firm, lambda s: trust.balance(s, account=dedicated, case=case)) == 70_000


# -- the bar association rule ---------------------------------------------------------


def test_business_days():
    friday = dt.date(2026, 5, 8)
    assert trust.business_days_between(friday, dt.date(2026, 5, 11)) == 1  # Monday
    assert trust.business_days_between(friday, dt.date(2026, 5, 15)) == 5
    assert trust.business_days_between(friday, friday) == 0
    # Dec 31 - Jan 3 are bank holidays; given holidays are skipped too.
    assert trust.business_days_between(dt.date(2026, 12, 30), dt.date(2027, 1, 5)) == 2
    assert trust.business_days_between(friday, dt.date(2026, 5, 15), {dt.date(2026, 5, 11)}) == 4


def test_large_sums_held_outside_the_trust_account_are_listed(db, firm, money):
    dedicated, general, case = money
    other = run(db, firm, lambda s: CaseFactory(status="open"))
    received = dt.date(2026, 3, 2)  # a Monday
    fourteen = dt.date(2026, 3, 20)  # 14 business days later

    ledger(db, firm, trust.deposit, general, case, amount_yen=600_000, occurred_on=received)
    # Under the threshold, and in the dedicated account: never listed.
    ledger(db, firm, trust.deposit, general, other, amount_yen=499_999, occurred_on=received)
    ledger(db, firm, trust.deposit, dedicated, other, amount_yen=5_000_000, occurred_on=received)

    def listed(as_of, **kw):
        return run(db, firm, lambda s: trust.funds_requiring_trust_account(s, as_of=as_of, **kw))

    assert listed(fourteen - dt.timedelta(days=1)) == []
    (held,) = listed(fourteen)
    assert (held.account_id, held.case_id, held.balance_yen) == (general.id, case.id, 600_000)
    assert (held.held_since, held.business_days_held) == (received, 14)
    # A national holiday passed in (春分の日 2026-03-20) pushes the day back.
    assert listed(fourteen, holidays={dt.date(2026, 3, 20)}) == []
    # As of a day before the deposit, nothing was held.
    assert listed(received - dt.timedelta(days=1)) == []

    # Falling below the threshold ends the run; rising again starts a new one.
    ledger(db, firm, trust.withdraw, general, case, amount_yen=200_000, occurred_on=fourteen)
    assert listed(fourteen) == []
    again = dt.date(2026, 3, 23)
    ledger(db, firm, trust.deposit, general, case, amount_yen=200_000, occurred_on=again)
    assert listed(dt.date(2026, 4, 9)) == []  # 13 business days after 3/23
    (held,) = listed(dt.date(2026, 4, 10))
    assert (held.held_since, held.balance_yen) == (again, 600_000)

    # Moving it into the 預り金 account clears it.
    def move(s):
        trust.transfer(
            s,
            from_account=s.get(TrustAccount, (firm.id, general.id)),
            to_account=s.get(TrustAccount, (firm.id, dedicated.id)),
            case=s.get(Case, (firm.id, case.id)),
            amount_yen=600_000,
            occurred_on=dt.date(2026, 4, 10),
        )

    run(db, firm, move)
    assert listed(dt.date(2026, 4, 10)) == []
    balances = run(
        db,
        firm,
        lambda s: s.execute(
            select(TrustLedgerEntry.kind, TrustLedgerEntry.balance_after_yen)
            .where(TrustLedgerEntry.case_id == case.id)
            .order_by(TrustLedgerEntry.id)
        ).all(),
    )
    assert balances[-2:] == [("transfer_out", 0), ("transfer_in", 600_000)]
