"""Parties (people and companies), relations between them, and the firm's clients."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from legal_data.crypto.types import EncryptedDate, EncryptedJSON, EncryptedString, EncryptedText
from legal_data.domain.corporate_number import CORPORATE_NUMBER_SQL_CHECK
from legal_data.models.base import Base, BusinessRow, SoftDeleted, Versioned, tenant_fk, tenant_join
from legal_data.models.system import in_list

PARTY_KINDS = ("person", "company")
RELATION_KINDS = (
    "representative",
    "officer",
    "employee",
    "parent_company",
    "subsidiary",
    "spouse",
    "relative",
    "agent",
    "other",
)
CLIENT_STATUSES = ("prospective", "active", "inactive")


class Party(BusinessRow, Base):
    """A person or company that appears in a matter. Names stay plaintext: conflict checks
    must search them."""

    __tablename__ = "parties"
    __table_args__ = (
        CheckConstraint(in_list("kind", PARTY_KINDS), name="kind"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint(
            "corporate_number IS NULL OR ("
            + CORPORATE_NUMBER_SQL_CHECK.format(col="corporate_number")
            + ")",
            name="corporate_number_valid",
        ),
        CheckConstraint(
            "corporate_number IS NULL OR kind = 'company'", name="corporate_number_company_only"
        ),
        Index(
            "uq_parties_tenant_id_corporate_number",
            "tenant_id",
            "corporate_number",
            unique=True,
            postgresql_where=text("corporate_number IS NOT NULL"),
        ),
        Index("ix_parties_tenant_id_name", "tenant_id", "name"),
        # 個人番号 exists for individuals only (companies have a 法人番号).
        CheckConstraint("my_number IS NULL OR kind = 'person'", name="my_number_person_only"),
        Index("ix_parties_tenant_id_my_number_bidx", "tenant_id", "my_number_bidx"),
        Index("ix_parties_tenant_id_phone_bidx", "tenant_id", "phone_bidx"),
        Index("ix_parties_tenant_id_email_bidx", "tenant_id", "email_bidx"),
    )

    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str | None] = mapped_column(Text)
    # 法人番号: 13 digits with a check digit, validated by the database as well.
    corporate_number: Mapped[str | None] = mapped_column(Text)
    former_names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    # Encrypted (docs/encryption.md). Exact-match search through blind indexes, e.g.
    # ``select(Party).where(Party.email.matches("taro@example.jp"))``; the index columns
    # are only queried, never read, hence deferred. 個人番号 is bound to its row: copied
    # into another row it no longer decrypts. Encrypted columns are deferred too: entity
    # loads carry their envelopes and open each on first access (legal_data.crypto.orm).
    my_number: Mapped[str | None] = mapped_column(
        EncryptedString(row_bound=True, blind_index="identifier"), deferred=True
    )
    my_number_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    address: Mapped[str | None] = mapped_column(EncryptedText(), deferred=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString(blind_index="phone"), deferred=True)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    email: Mapped[str | None] = mapped_column(EncryptedString(blind_index="email"), deferred=True)
    email_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    date_of_birth: Mapped[dt.date | None] = mapped_column(EncryptedDate(), deferred=True)


class PartyRelation(BusinessRow, Base):
    __tablename__ = "party_relations"
    __table_args__ = (
        tenant_fk("from_party_id", "parties", ondelete="CASCADE"),
        tenant_fk("to_party_id", "parties", ondelete="CASCADE"),
        CheckConstraint(in_list("kind", RELATION_KINDS), name="kind"),
        CheckConstraint("from_party_id <> to_party_id", name="not_self"),
        Index(
            "uq_party_relations_tenant_id_from_party_id_to_party_id_kind",
            "tenant_id",
            "from_party_id",
            "to_party_id",
            "kind",
            unique=True,
        ),
        Index("ix_party_relations_tenant_id_to_party_id", "tenant_id", "to_party_id"),
    )

    from_party_id: Mapped[uuid.UUID]
    to_party_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class Client(BusinessRow, Versioned, SoftDeleted, Base):
    """A party the firm represents (依頼者)."""

    __tablename__ = "clients"
    __table_args__ = (
        tenant_fk("party_id", "parties"),
        CheckConstraint(in_list("status", CLIENT_STATUSES), name="status"),
        Index(
            "uq_clients_tenant_id_party_id",
            "tenant_id",
            "party_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "uq_clients_tenant_id_client_code",
            "tenant_id",
            "client_code",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    party_id: Mapped[uuid.UUID]
    client_code: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'active'"))
    since: Mapped[dt.date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # 振込先口座 (bank, branch, type, number, holder): encrypted and bound to this client.
    bank_account: Mapped[dict[str, str] | None] = mapped_column(
        EncryptedJSON(row_bound=True), deferred=True
    )

    party: Mapped[Party] = relationship(
        primaryjoin=tenant_join("Client", "party_id", "Party"), lazy="joined", viewonly=False
    )
