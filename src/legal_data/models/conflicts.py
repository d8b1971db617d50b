"""Conflict-check name keys (revision 0018): derived from ``parties`` by the database.

The application role only reads these tables; triggers on ``parties`` write them (see
``legal_data.conflicts.sql``), so a key always matches its party, also after raw SQL.

- :class:`PartyNameKey` — one searchable key of a party: its name key, reading key,
  each former name's key, its 法人番号; ``source`` is the text the key was made from.
- :class:`PartyNameGram` — the character bigrams of name and former-name keys, for the
  fuzzy search (equality lookups on ``(tenant_id, gram)``, index-friendly under RLS).
"""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Index, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.models.base import Base, TenantScoped, tenant_fk
from legal_data.models.system import in_list

KEY_KINDS = ("name", "kana", "former", "corporate_number")


class PartyNameKey(TenantScoped, Base):
    """A key a conflict check finds a party by (read-only for the application)."""

    __tablename__ = "party_name_keys"
    __table_args__ = (
        tenant_fk("party_id", "parties", ondelete="CASCADE"),
        CheckConstraint(in_list("key_kind", KEY_KINDS), name="key_kind"),
        CheckConstraint("key <> ''", name="key_not_empty"),
        CheckConstraint("gram_count >= 0", name="gram_count_not_negative"),
        Index("ix_party_name_keys_tenant_id_key", "tenant_id", "key"),
        Index("ix_party_name_keys_tenant_id_party_id", "tenant_id", "party_id"),
    )

    party_id: Mapped[uuid.UUID]
    key_kind: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    # Number of distinct bigrams of ``key`` (name and former-name keys; 0 otherwise).
    gram_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class PartyNameGram(TenantScoped, Base):
    """One character bigram of a name or former-name key (read-only for the application)."""

    __tablename__ = "party_name_grams"
    __table_args__ = (
        tenant_fk("key_id", "party_name_keys", ondelete="CASCADE"),
        # Covers the fuzzy search: shared bigrams are counted per key from the index alone,
        # and keys that cannot reach the threshold are dropped before any key row is read.
        Index(
            "ix_party_name_grams_tenant_id_gram_key_id_gram_count",
            "tenant_id",
            "gram",
            "key_id",
            "gram_count",
        ),
        CheckConstraint("gram_count > 0", name="gram_count_positive"),
        Index("ix_party_name_grams_tenant_id_key_id", "tenant_id", "key_id"),
    )

    key_id: Mapped[uuid.UUID]
    gram: Mapped[str] = mapped_column(Text)
    # The key's number of distinct bigrams (a copy of party_name_keys.gram_count).
    gram_count: Mapped[int] = mapped_column(Integer)
