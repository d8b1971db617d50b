"""Client money (預り金): deposits, withdrawals and transfers on the append-only ledger,
balances, and the bar association's 500,000-yen / 14-business-day rule.

The database keeps the ledger honest on its own (see :mod:`legal_data.models.trust`):
these functions write entries and leave ``seq`` and ``balance_after_yen`` to it, so
concurrent writers are serialized by the account lock and never lose an update; a
withdrawal that would take a balance below zero is refused with
:class:`~legal_data.errors.CheckViolation` (``ck_trust_ledger_balance_not_negative``).
Pass ``expected_balance_yen`` to assert the balance you showed the user: if anyone wrote
in between, the entry is refused (``ck_trust_ledger_balance_follows``).

日弁連「預り金等の取扱いに関する規程」4条2項: 500,000 yen or more held for 14 business
days or longer must be in the dedicated 預り金 account.
:func:`funds_requiring_trust_account` lists the money that breaks it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from legal_data.errors import ValidationError
from legal_data.models import Case, TrustAccount, TrustLedgerEntry

__all__ = [
    "BAR_RULE_BUSINESS_DAYS",
    "BAR_RULE_THRESHOLD_YEN",
    "HeldFunds",
    "balance",
    "business_days_between",
    "deposit",
    "funds_requiring_trust_account",
    "is_business_day",
    "mark_client_notified",
    "mark_receipt_issued",
    "transfer",
    "withdraw",
]

BAR_RULE_THRESHOLD_YEN = 500_000
BAR_RULE_BUSINESS_DAYS = 14


def _entry(
    session: Session,
    *,
    account: TrustAccount,
    case: Case,
    kind: str,
    amount_yen: int,
    occurred_on: dt.date | None,
    description: str | None,
    received_from: str | None = None,
    receipt_issued_at: dt.datetime | None = None,
    client_notified_at: dt.datetime | None = None,
    expected_balance_yen: int | None = None,
) -> TrustLedgerEntry:
    if isinstance(amount_yen, bool) or not isinstance(amount_yen, int):
        raise ValidationError(f"amount must be integer yen, got {amount_yen!r}")
    entry = TrustLedgerEntry(
        tenant_id=case.tenant_id,
        account_id=account.id,
        client_id=case.client_id,
        case_id=case.id,
        kind=kind,
        amount_yen=amount_yen,
        occurred_on=occurred_on or dt.date.today(),
        description=description,
        received_from=received_from,
        receipt_issued_at=receipt_issued_at,
        client_notified_at=client_notified_at,
    )
    if expected_balance_yen is not None:
        entry.balance_after_yen = expected_balance_yen
    session.add(entry)
    session.flush()
    return entry


def deposit(
    session: Session,
    *,
    account: TrustAccount,
    case: Case,
    amount_yen: int,
    occurred_on: dt.date | None = None,
    received_from: str = "client",
    description: str | None = None,
    receipt_issued_at: dt.datetime | None = None,
    client_notified_at: dt.datetime | None = None,
    expected_balance_yen: int | None = None,
) -> TrustLedgerEntry:
    """Money received for ``case``'s client. ``received_from='third_party'`` (e.g. 和解金
    from the opponent) obliges the firm to notify the client (規程5条)."""
    if amount_yen <= 0:
        raise ValidationError("a deposit is a positive amount")
    return _entry(
        session,
        account=account,
        case=case,
        kind="deposit",
        amount_yen=amount_yen,
        occurred_on=occurred_on,
        description=description,
        received_from=received_from,
        receipt_issued_at=receipt_issued_at,
        client_notified_at=client_notified_at,
        expected_balance_yen=expected_balance_yen,
    )


def withdraw(
    session: Session,
    *,
    account: TrustAccount,
    case: Case,
    amount_yen: int,
    kind: str = "withdrawal",
    occurred_on: dt.date | None = None,
    description: str | None = None,
    expected_balance_yen: int | None = None,
) -> TrustLedgerEntry:
    """Money paid out (``withdrawal``, ``refund`` to the client, ``fee_applied`` to the
    firm's fees). ``amount_yen`` is positive; it is stored negative."""
    if amount_yen <= 0:
        raise ValidationError("give the amount to withdraw as a positive number")
    return _entry(
        session,
        account=account,
        case=case,
        kind=kind,
        amount_yen=-amount_yen,
        occurred_on=occurred_on,
        description=description,
        expected_balance_yen=expected_balance_yen,
    )


def transfer(
    session: Session,
    *,
    from_account: TrustAccount,
    to_account: TrustAccount,
    case: Case,
    amount_yen: int,
    occurred_on: dt.date | None = None,
    description: str | None = None,
) -> tuple[TrustLedgerEntry, TrustLedgerEntry]:
    """Move a client's money between accounts (e.g. into the 預り金 account), as a
    ``transfer_out`` / ``transfer_in`` pair in one transaction."""
    if amount_yen <= 0:
        raise ValidationError("give the amount to transfer as a positive number")
    if from_account.id == to_account.id:
        raise ValidationError("a transfer needs two different accounts")
    out = _entry(
        session,
        account=from_account,
        case=case,
        kind="transfer_out",
        amount_yen=-amount_yen,
        occurred_on=occurred_on,
        description=description,
    )
    into = _entry(
        session,
        account=to_account,
        case=case,
        kind="transfer_in",
        amount_yen=amount_yen,
        occurred_on=occurred_on,
        description=description,
    )
    return out, into


def balance(session: Session, *, account: TrustAccount, case: Case) -> int:
    """The current balance of ``case``'s client money in ``account`` (0 if none)."""
    value = session.scalar(
        select(TrustLedgerEntry.balance_after_yen)
        .where(
            TrustLedgerEntry.tenant_id == case.tenant_id,
            TrustLedgerEntry.account_id == account.id,
            TrustLedgerEntry.client_id == case.client_id,
            TrustLedgerEntry.case_id == case.id,
        )
        .order_by(TrustLedgerEntry.seq.desc())
        .limit(1)
    )
    return int(value or 0)


def mark_receipt_issued(
    session: Session, entry: TrustLedgerEntry, at: dt.datetime | None = None
) -> None:
    """Record that the 預り証 for ``entry`` was issued (once; 規程6条)."""
    entry.receipt_issued_at = at or func.now()
    session.flush()
    session.refresh(entry)


def mark_client_notified(
    session: Session, entry: TrustLedgerEntry, at: dt.datetime | None = None
) -> None:
    """Record that the client was notified of ``entry`` (once; 規程5条)."""
    entry.client_notified_at = at or func.now()
    session.flush()
    session.refresh(entry)


# -- business days and the bar association rule ------------------------------------


def is_business_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """Monday to Friday, except Dec 31 - Jan 3 (bank holidays by law) and ``holidays``.

    Japanese national holidays are not built in (no reliable offline list ships with the
    library): pass them as ``holidays``. Counting a holiday as a business day only makes
    the 14-business-day check stricter, never laxer.
    """
    if day.weekday() >= 5 or day in holidays:
        return False
    return not ((day.month == 12 and day.day == 31) or (day.month == 1 and day.day <= 3))


def business_days_between(start: dt.date, end: dt.date, holidays: Collection[dt.date] = ()) -> int:
    """Business days after ``start`` up to and including ``end`` (0 when ``end <= start``).

    Money received on ``start`` has been held one business day at the end of the next
    business day.
    """
    days = 0
    day = start + dt.timedelta(days=1)
    while day <= end:
        if is_business_day(day, holidays):
            days += 1
        day += dt.timedelta(days=1)
    return days


@dataclass(frozen=True)
class HeldFunds:
    """Client money of one case held outside the 預り金 account."""

    account_id: uuid.UUID
    account_name: str
    client_id: uuid.UUID
    case_id: uuid.UUID
    balance_yen: int
    #: The day the balance last reached the threshold (and has stayed at or above it).
    held_since: dt.date
    business_days_held: int


_HELD_OUTSIDE_SQL = text(
    """
    WITH latest AS (
        SELECT DISTINCT ON (l.account_id, l.client_id, l.case_id)
               l.tenant_id, l.account_id, a.name AS account_name, l.client_id, l.case_id,
               l.seq, l.balance_after_yen
        FROM trust_ledger l
        JOIN trust_accounts a ON a.tenant_id = l.tenant_id AND a.id = l.account_id
        WHERE a.kind <> 'dedicated' AND l.occurred_on <= :as_of
        ORDER BY l.account_id, l.client_id, l.case_id, l.seq DESC
    )
    SELECT latest.account_id, latest.account_name, latest.client_id, latest.case_id,
           latest.balance_after_yen,
           -- the current run at or above the threshold starts after the last entry below it
           (SELECT min(e.occurred_on) FROM trust_ledger e
            WHERE e.tenant_id = latest.tenant_id AND e.account_id = latest.account_id
              AND e.client_id = latest.client_id AND e.case_id = latest.case_id
              AND e.seq <= latest.seq
              AND e.seq > coalesce((
                  SELECT max(b.seq) FROM trust_ledger b
                  WHERE b.tenant_id = latest.tenant_id AND b.account_id = latest.account_id
                    AND b.client_id = latest.client_id AND b.case_id = latest.case_id
                    AND b.seq <= latest.seq AND b.balance_after_yen < :threshold), 0)
           ) AS held_since
    FROM latest
    WHERE latest.balance_after_yen >= :threshold
    ORDER BY held_since, latest.case_id
    """
)


def funds_requiring_trust_account(
    session: Session,
    *,
    as_of: dt.date | None = None,
    holidays: Collection[dt.date] = (),
    threshold_yen: int = BAR_RULE_THRESHOLD_YEN,
    min_business_days: int = BAR_RULE_BUSINESS_DAYS,
) -> list[HeldFunds]:
    """Client money of ``threshold_yen`` or more held ``min_business_days`` business days
    or longer outside a dedicated 預り金 account, as of ``as_of`` (today by default).

    Held per (account, client, case) stream: the balance must have stayed at or above the
    threshold since ``held_since``. Runs in the session's tenant (Row Level Security).
    """
    as_of = as_of or dt.date.today()
    found = []
    for row in session.execute(_HELD_OUTSIDE_SQL, {"as_of": as_of, "threshold": threshold_yen}):
        days = business_days_between(row.held_since, as_of, holidays)
        if days >= min_business_days:
            found.append(
                HeldFunds(
                    account_id=row.account_id,
                    account_name=row.account_name,
                    client_id=row.client_id,
                    case_id=row.case_id,
                    balance_yen=int(row.balance_after_yen),
                    held_since=row.held_since,
                    business_days_held=days,
                )
            )
    return found
