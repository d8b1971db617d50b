"""The firms' wrapped data keys (``tenant_keys``): key material for field encryption.

Not a business table: it is not audited (key operations are recorded as security
events instead) and carries no actor columns. Only wrapped keys are stored; the master
key that unwraps them lives outside the database (KMS, or a local key for development).
Lifecycle rules are enforced by the database as well (revision 0015): identity columns
never change, ``destroyed`` is final and has no material, one active key per purpose.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from legal_data.models.base import Base, TenantScoped
from legal_data.models.system import in_list

KEY_PURPOSES = ("encryption", "blind_index")
KEY_STATES = ("active", "decrypt_only", "retired", "destroyed")


class TenantKey(TenantScoped, Base):
    """One data key of a firm: ``id`` is the key id written into every envelope header."""

    __tablename__ = "tenant_keys"
    __table_args__ = (
        CheckConstraint(in_list("purpose", KEY_PURPOSES), name="purpose"),
        CheckConstraint(in_list("state", KEY_STATES), name="state"),
        CheckConstraint("version >= 1", name="version_positive"),
        # Crypto-shredding erases the material; nothing else may lack it.
        CheckConstraint("(state = 'destroyed') = (wrapped IS NULL)", name="destroyed_iff_erased"),
        Index(
            "uq_tenant_keys_tenant_id_purpose_version",
            "tenant_id",
            "purpose",
            "version",
            unique=True,
        ),
        # New values are sealed with exactly one key per firm and purpose.
        Index(
            "uq_tenant_keys_tenant_id_purpose_active",
            "tenant_id",
            "purpose",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-99)
    purpose: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Which master key wrapped it (``MasterKeyProvider.key_id``): unwrapping picks the
    #: provider by this id, never by trying providers in turn.
    master_key_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    state_changed_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
