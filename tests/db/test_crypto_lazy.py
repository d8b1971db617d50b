"""Lazy opening of encrypted attributes on ORM instances: an entity load carries each
envelope and opens it on first access; every other way of loading still yields the
plaintext (or the precise error)."""

from __future__ import annotations

import datetime as dt

import pytest
from crypto_support import acting, as_operator, db_fixture, firms_fixture, person  # noqa: F401
from sqlalchemy import Column, MetaData, Table, Uuid, inspect, select, text
from sqlalchemy.orm import joinedload, load_only, registry, selectinload, undefer

from legal_data.crypto.types import EncryptedText
from legal_data.errors import AuthenticationFailed, ConfigurationError, TenantContextMissing
from legal_data.models import Client, Party
from legal_data.testing.factories import ClientFactory

ENCRYPTED = ("my_number", "address", "phone", "email", "date_of_birth")


def test_an_entity_load_opens_nothing_until_an_attribute_is_read(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        person(s, date_of_birth=dt.date(1980, 1, 2))
    with acting(db, firm) as s:
        party = s.scalars(select(Party)).one()
        state = inspect(party)
        assert not set(ENCRYPTED) & set(state.dict)  # nothing opened yet
        assert all(isinstance(state.dict[f"_sealed_{k}"], bytes) for k in ENCRYPTED)
        assert party.my_number == "123456789018" and party.email == "taro@example.jp"
        assert {"my_number", "email"} <= set(state.dict)
        assert "address" not in state.dict  # only what was read
        assert "taro" not in repr(party)


def test_a_tampered_value_loads_but_is_refused_when_read(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        victim = person(s)
    with as_operator(db, firm) as conn:
        conn.execute(
            text("UPDATE parties SET address = set_byte(address, 40, 0) WHERE id = :i"),
            {"i": victim.id},
        )
    with acting(db, firm) as s:
        party = s.scalars(select(Party)).one()
        assert party.email == "taro@example.jp"
        with pytest.raises(AuthenticationFailed) as failed:
            _ = party.address
        assert "parties.address" in str(failed.value)


def test_every_other_way_of_loading_still_opens_the_values(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        client = ClientFactory(party=person(s), bank_account={"number": "7654321"})
    with acting(db, firm) as s:
        # Only some columns loaded: the envelope is fetched with SQL on first access.
        slim = s.scalars(select(Party).options(load_only(Party.name))).one()
        assert slim.address is not None and slim.my_number == "123456789018"
    with acting(db, firm) as s:
        # Undeferred: the row-bound column arrives as a column and is opened at load.
        eager = s.scalars(select(Party).options(undefer(Party.my_number))).one()
        assert inspect(eager).dict["my_number"] == "123456789018"
    with acting(db, firm) as s:
        joined = s.scalars(select(Client).options(joinedload(Client.party))).unique().one()
        assert joined.party.email == "taro@example.jp"
        assert joined.bank_account == {"number": "7654321"}
    with acting(db, firm) as s:
        selected = s.scalars(select(Client).options(selectinload(Client.party))).one()
        assert selected.party.phone == "090-1234-5678"
    with acting(db, firm) as s:
        got = s.get(Client, (firm.id, client.id))
        s.expire(got)
        assert got.bank_account == {"number": "7654321"}  # reloaded after expiry
        s.refresh(got)
        assert got.bank_account == {"number": "7654321"}


def test_changing_an_unread_value_reseals_it(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        person(s)
    with acting(db, firm) as s:
        party = s.scalars(select(Party)).one()
        party.address = "大阪府大阪市北区1-1"  # never read before
    with acting(db, firm) as s:
        party = s.scalars(select(Party)).one()
        assert party.address == "大阪府大阪市北区1-1"
        assert party.my_number == "123456789018"  # the untouched values are intact


def test_loading_needs_the_firm_in_context(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    with pytest.raises(TenantContextMissing), as_operator(db) as conn:
        from sqlalchemy.orm import Session

        with Session(conn) as s:
            s.get(Party, (firm.id, party.id))


def test_an_encrypted_column_must_be_mapped_deferred():
    table = Table(
        "lazy_probe",
        MetaData(),
        Column("tenant_id", Uuid, primary_key=True),
        Column("id", Uuid, primary_key=True),
        Column("secret", EncryptedText()),
    )

    class Probe:
        pass

    with pytest.raises(ConfigurationError, match="deferred=True"):
        registry().map_imperatively(Probe, table)
