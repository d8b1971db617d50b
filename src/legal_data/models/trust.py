"""Client money (預り金): the accounts it is held in, and an append-only ledger.

日弁連「預り金等の取扱いに関する規程」: a dedicated account whose name contains 預り金
(3条); 500,000 yen or more held 14 business days or longer must be in it (4条2項); the
client is notified of receipts from third parties (5条); a 預り証 is issued (6条).

The ledger is append-only and its running balance is checked by the database:

- every entry belongs to one stream, (account, client, case), and carries ``seq`` and
  ``balance_after_yen``; the trigger ``trust_ledger_check_balance`` locks the account
  row, so concurrent writers to one account are serialized, and refuses an entry whose
  ``seq`` is not the previous one + 1 or whose balance is not the previous balance +
  ``amount_yen`` (both are computed when left out); a balance never goes negative;
- UPDATE and DELETE are refused (trigger ``trust_ledger_append_only``). The one
  exception is stamping ``receipt_issued_at`` / ``client_notified_at`` once, from NULL:
  issuing the 預り証 or notifying the client often happens after the money arrived, and
  recording that fact changes no money. Corrections are reversing entries.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, FetchedValue, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from legal_data.models.base import Base, BusinessRow, Yen, tenant_fk, tenant_join
from legal_data.models.system import in_list

#: ``dedicated``: the registered 預り金口座; ``general``: the firm's operating account;
#: ``cash``: cash on hand. Only ``dedicated`` counts as "in a trust account".
TRUST_ACCOUNT_KINDS = ("dedicated", "general", "cash")
BANK_ACCOUNT_TYPES = ("普通", "当座")
#: Kinds of ledger entries; the first group adds money, the second takes it out.
INFLOW_KINDS = ("deposit", "transfer_in", "interest")
OUTFLOW_KINDS = ("withdrawal", "transfer_out", "fee_applied", "refund")
LEDGER_KINDS = (*INFLOW_KINDS, *OUTFLOW_KINDS, "adjustment")
RECEIVED_FROM = ("client", "third_party")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class TrustAccount(BusinessRow, Base):
    """An account (or cash box) in which client money is held."""

    __tablename__ = "trust_accounts"
    __table_args__ = (
        CheckConstraint(in_list("kind", TRUST_ACCOUNT_KINDS), name="kind"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        # 規程3条: the dedicated account's name contains 預り金.
        CheckConstraint("kind <> 'dedicated' OR strpos(name, '預り金') > 0", name="dedicated_name"),
        CheckConstraint(
            "account_type IS NULL OR " + in_list("account_type", BANK_ACCOUNT_TYPES),
            name="account_type",
        ),
        CheckConstraint(
            "account_number IS NULL OR account_number ~ '^[0-9]{7}$'", name="account_number_format"
        ),
        CheckConstraint(
            "kind = 'cash' OR (bank_name IS NOT NULL AND account_number IS NOT NULL)",
            name="bank_details",
        ),
        Index("uq_trust_accounts_tenant_id_name", "tenant_id", "name", unique=True),
    )

    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    bank_name: Mapped[str | None] = mapped_column(Text)
    branch_name: Mapped[str | None] = mapped_column(Text)
    account_type: Mapped[str | None] = mapped_column(Text)
    account_number: Mapped[str | None] = mapped_column(Text)
    # Date the dedicated account was reported to the bar association (弁護士会への届出).
    registered_with_bar_on: Mapped[dt.date | None]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class TrustLedgerEntry(BusinessRow, Base):
    """One movement of client money in one account, for one client and case."""

    __tablename__ = "trust_ledger"
    __table_args__ = (
        tenant_fk("account_id", "trust_accounts"),
        tenant_fk("client_id", "clients"),
        tenant_fk("case_id", "cases"),
        CheckConstraint(in_list("kind", LEDGER_KINDS), name="kind"),
        CheckConstraint(
            "received_from IS NULL OR " + in_list("received_from", RECEIVED_FROM),
            name="received_from",
        ),
        CheckConstraint("amount_yen <> 0", name="amount_not_zero"),
        CheckConstraint(
            f"(kind NOT IN ({_quoted(INFLOW_KINDS)}) OR amount_yen > 0)"
            f" AND (kind NOT IN ({_quoted(OUTFLOW_KINDS)}) OR amount_yen < 0)",
            name="amount_sign_matches_kind",
        ),
        CheckConstraint("balance_after_yen >= 0", name="balance_not_negative"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index(
            "uq_trust_ledger_tenant_id_account_id_client_id_case_id_seq",
            "tenant_id",
            "account_id",
            "client_id",
            "case_id",
            "seq",
            unique=True,
        ),
        Index("ix_trust_ledger_tenant_id_case_id", "tenant_id", "case_id", "occurred_on"),
        Index("ix_trust_ledger_tenant_id_client_id", "tenant_id", "client_id", "occurred_on"),
    )

    account_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    case_id: Mapped[uuid.UUID]
    # Position in the (account, client, case) stream; assigned when left out.
    seq: Mapped[int] = mapped_column(server_default=FetchedValue())
    kind: Mapped[str] = mapped_column(Text)
    # Signed: positive money in, negative money out.
    amount_yen: Mapped[int] = mapped_column(Yen)
    # Balance of the stream after this entry; computed when left out, checked when given.
    balance_after_yen: Mapped[int] = mapped_column(Yen, server_default=FetchedValue())
    occurred_on: Mapped[dt.date] = mapped_column(server_default=text("CURRENT_DATE"))
    received_from: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # 預り証 issued (規程6条) / client notified of a third-party receipt (規程5条).
    receipt_issued_at: Mapped[dt.datetime | None]
    client_notified_at: Mapped[dt.datetime | None]

    account: Mapped[TrustAccount] = relationship(
        primaryjoin=tenant_join("TrustLedgerEntry", "account_id", "TrustAccount"), viewonly=True
    )
