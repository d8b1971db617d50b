"""Crypto-shredding: ``legal-data keys destroy`` erases a firm's keys after explicit
confirmation; its encrypted values then raise ``KeyDestroyed``, its blind-index lookups
find nothing, other firms are untouched, and its audit trail still verifies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from crypto_support import acting, as_operator, db_fixture, firms_fixture, person, raw  # noqa: F401
from sqlalchemy import select, text

from legal_data.cli import cli
from legal_data.crypto import runtime
from legal_data.errors import KeyDestroyed
from legal_data.models import Client, Party
from legal_data.testing.factories import CaseFactory, ClientFactory


@pytest.fixture
def two_firms(db, firms):
    doomed, other = firms.new(), firms.new()
    for firm in (doomed, other):
        with acting(db, firm) as s:
            party = person(s)
            ClientFactory(party=party, with_bank_account=True)
            CaseFactory(notes="秘匿メモ")
    return doomed, other


def audit(db, command: str, firm, *args: str):
    url = db.admin_url.render_as_string(hide_password=False)
    return CliRunner().invoke(
        cli, ["audit", command, "--database-url", url, "--tenant", str(firm.id), *args]
    )


def destroy(db, tenant: str, *args: str, input: str | None = None):
    url = db.admin_url.render_as_string(hide_password=False)
    return CliRunner().invoke(
        cli, ["keys", "destroy", "--database-url", url, "--tenant", tenant, *args], input=input
    )


def test_destroy_needs_the_firms_id_as_confirmation(db, two_firms):
    doomed, _ = two_firms
    refused = destroy(db, str(doomed.id), input="yes\n")
    assert refused.exit_code == 2 and "does not match" in refused.output
    refused = destroy(db, doomed.slug, "--confirm", doomed.slug)
    assert refused.exit_code == 2
    states = raw(db, "SELECT state FROM tenant_keys WHERE tenant_id = :t", t=doomed.id)
    assert {r.state for r in states} == {"active"}


def test_after_destruction_every_read_raises_and_lookups_find_nothing(db, two_firms):
    doomed, other = two_firms
    assert audit(db, "seal", doomed).exit_code == 0
    done = destroy(db, doomed.slug, input=f"{doomed.id}\n")
    assert done.exit_code == 0, done.output
    assert "destroyed 2 key(s)" in done.output

    stored = raw(db, "SELECT state, wrapped FROM tenant_keys WHERE tenant_id = :t", t=doomed.id)
    assert {(r.state, r.wrapped) for r in stored} == {("destroyed", None)}

    with pytest.raises(KeyDestroyed), acting(db, doomed) as s:
        s.scalars(select(Party)).all()
    with pytest.raises(KeyDestroyed), acting(db, doomed) as s:
        s.execute(select(Party.email)).all()
    with pytest.raises(KeyDestroyed), acting(db, doomed) as s:
        s.scalars(select(Client)).all()
    with acting(db, doomed) as s:
        # Names stay readable (plaintext); blind-index lookups find nothing.
        assert "山田 太郎" in s.scalars(select(Party.name)).all()
        assert s.scalars(select(Party.id).where(Party.email.matches("taro@example.jp"))).all() == []
    with pytest.raises(KeyDestroyed), acting(db, doomed) as s:
        person(s, name="新規")  # nothing new can be sealed either, and no key is recreated
    assert len(raw(db, "SELECT 1 FROM tenant_keys WHERE tenant_id = :t", t=doomed.id)) == 2

    with acting(db, other) as s:  # the other firm is untouched
        party = s.scalars(select(Party).where(Party.email.matches("TARO@example.jp"))).one()
        assert party.my_number == "123456789018"
        client = s.scalars(select(Client).where(Client.party_id == party.id)).one()
        assert client.bank_account["number"] == "1234567"

    # The trail holds ciphertexts, never plaintext: shredding leaves it verifiable.
    assert audit(db, "seal", doomed).exit_code == 0
    verified = audit(db, "verify", doomed, "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)[0]["ok"] is True
    with as_operator(db, doomed) as conn:
        events = conn.execute(
            text("SELECT kind, severity FROM security_events WHERE tenant_id = :t"),
            {"t": doomed.id},
        ).all()
    assert ("encryption_keys_destroyed", "critical") in events


def test_another_process_sees_the_destruction_when_its_cache_expires(db, two_firms, monkeypatch):
    doomed, _ = two_firms
    with acting(db, doomed) as s:
        s.scalars(select(Party)).all()  # this "process" has the keys cached
    stale = runtime.cached(doomed.id)
    assert destroy(db, str(doomed.id), "--confirm", str(doomed.id)).exit_code == 0
    runtime._cache.put(stale)  # as if the destroy had run elsewhere
    monkeypatch.setattr(runtime, "KEYRING_TTL_SECONDS", 0.0)
    with pytest.raises(KeyDestroyed), acting(db, doomed) as s:
        s.scalars(select(Party)).all()
