"""Encrypted columns through PostgreSQL: round trips of every type, what is refused, what
cannot be moved, errors, and the key cache's round trips."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid

import pytest
from crypto_support import ACTOR, acting, as_operator, db_fixture, firms_fixture, person, raw  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert, select, text, update

from legal_data.crypto import runtime
from legal_data.crypto.types import Ciphertext, Plaintext, PlaintextRefused
from legal_data.db.engine import create_async_tenant_engine
from legal_data.errors import (
    AuthenticationFailed,
    CheckViolation,
    ConfigurationError,
    TenantMismatch,
    UniqueViolation,
    UnknownKey,
)
from legal_data.models import Case, Client, Communication, Party, UserSession
from legal_data.tenancy import async_tenant_session, async_tenant_sessionmaker
from legal_data.tenancy.login import open_session
from legal_data.testing.factories import (
    CaseFactory,
    ClientFactory,
    CommunicationFactory,
    PersonPartyFactory,
    UserFactory,
)

SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
text_values = st.text(max_size=300) | st.sampled_from(["", "😀👨‍👩‍👧‍👦", "東京都千代田区 " * 200])


# -- round trips through PostgreSQL -----------------------------------------------------------


@pytest.fixture(scope="module")
def one_firm(firms):
    return firms.new()


@SLOW
@given(address=text_values, born=st.dates(), notes=text_values)
def test_every_type_round_trips_through_postgresql(db, one_firm, address, born, notes):
    bank = {"bank": "みずほ銀行", "number": "1234567", "note": notes, "n": [1, None, True]}
    with acting(db, one_firm) as s:
        party = person(s, address=address, date_of_birth=born, my_number=None)
        client = ClientFactory(party=party, bank_account=bank)
        case = CaseFactory(client=client, notes=notes)
        call = CommunicationFactory(case_id=case.id, body=notes)
        ids = party.id, client.id, case.id, call.id
    with acting(db, one_firm) as s:  # a new session: everything comes from the database
        party = s.get(Party, (one_firm.id, ids[0]))
        assert (party.address, party.date_of_birth) == (address, born)
        assert s.get(Client, (one_firm.id, ids[1])).bank_account == bank
        assert s.get(Case, (one_firm.id, ids[2])).notes == notes
        assert s.get(Communication, (one_firm.id, ids[3])).body == notes
        # Core reads of non-row-bound columns decrypt too.
        core = s.execute(select(Party.address, Party.date_of_birth).where(Party.id == ids[0]))
        assert core.one() == (address, born)


def test_megabyte_values_round_trip(db, firms):
    firm, big = firms.new(), "秘" * (1 << 20)
    with acting(db, firm) as s:
        case = CaseFactory(notes=big)
    with acting(db, firm) as s:
        assert s.get(Case, (firm.id, case.id)).notes == big


def test_encrypted_columns_are_bytea_with_envelope_checks(db):
    rows = raw(
        db,
        """
        SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
        WHERE (c.table_name, c.column_name) IN (
            ('parties', 'my_number'), ('parties', 'address'), ('parties', 'phone'),
            ('parties', 'email'), ('parties', 'date_of_birth'), ('clients', 'bank_account'),
            ('cases', 'notes'), ('communications', 'body'), ('user_sessions', 'client_ip'),
            ('user_sessions', 'user_agent'))
        """,
    )
    assert len(rows) == 10 and {r.data_type for r in rows} == {"bytea"}
    checks = {
        r.conname
        for r in raw(db, "SELECT conname FROM pg_constraint WHERE conname LIKE '%_envelope'")
    }
    assert {f"ck_{r.table_name}_{r.column_name}_envelope" for r in rows} <= checks


# -- refused writes ---------------------------------------------------------------------------


def test_core_writes_of_plain_strings_are_refused(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    with pytest.raises(PlaintextRefused) as refused, acting(db, firm) as s:
        s.execute(update(Party).where(Party.id == party.id).values(email="spy@example.jp"))
    assert "parties.email" in str(refused.value) and "spy" not in str(refused.value)
    with pytest.raises(PlaintextRefused), acting(db, firm) as s:
        s.execute(
            insert(Party.__table__).values(
                tenant_id=firm.id, id=uuid.uuid4(), kind="person", name="甲", address="住所"
            )
        )
    with pytest.raises(PlaintextRefused) as refused, acting(db, firm) as s:
        s.execute(update(Case).where(Case.tenant_id == firm.id).values(notes="平文メモ"))
    assert "cases.notes" in str(refused.value)


@pytest.mark.parametrize(
    "value",
    ["taro@example.jp", "x" * 200, "\\x" + b"taro@example.jp".hex()],
    ids=["short", "long", "hex"],
)
def test_plain_strings_written_by_raw_sql_are_refused_by_postgresql(db, firms, value):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    with pytest.raises(CheckViolation) as refused, acting(db, firm) as s:
        s.execute(
            text("UPDATE parties SET address = CAST(:v AS bytea) WHERE id = :id"),
            {"v": value, "id": party.id},
        )
    assert refused.value.rule == "ck_parties_address_envelope"


def test_a_forged_envelope_passes_the_check_but_never_reads_as_a_value(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
        s.execute(
            text("UPDATE parties SET address = CAST(:v AS bytea) WHERE id = :id"),
            {"v": "\\x0101" + "00" * 60, "id": party.id},
        )
    with pytest.raises(UnknownKey), acting(db, firm) as s:
        s.execute(select(Party.address).where(Party.id == party.id)).scalar_one()


def test_explicit_plaintext_and_ciphertext_copies_work_in_core(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
        row_id = uuid.uuid4()
        s.execute(
            insert(Party.__table__).values(
                tenant_id=firm.id,
                id=row_id,
                kind="person",
                name="乙",
                address=Plaintext("大阪府大阪市北区"),
                my_number=Plaintext("123456789018", row_id=row_id),
                my_number_bidx=Party.my_number.type.index("123456789018", tenant_id=firm.id),
            )
        )
        opaque = s.execute(select(Party.my_number).where(Party.id == party.id)).scalar_one()
        assert isinstance(opaque, Ciphertext) and "1234" not in repr(opaque)
    with acting(db, firm) as s:
        other = s.get(Party, (firm.id, row_id))
        assert (other.address, other.my_number) == ("大阪府大阪市北区", "123456789018")


# -- values cannot move -----------------------------------------------------------------------


def test_values_moved_between_columns_rows_or_firms_do_not_decrypt(db, firms):
    firm, other_firm = firms.new(), firms.new()
    with acting(db, firm) as s:
        a, b = person(s), person(s, my_number="987654321000", name="乙")
        c = person(s, name="丙")
    with acting(db, other_firm) as s:
        theirs = person(s)
    # A DBA, an injection or a bad migration copies bytes around (RLS does not stop the
    # operator; the audit trail records it).
    with as_operator(db, firm) as conn:
        conn.execute(text("UPDATE parties SET address = phone WHERE id = :a"), {"a": a.id})
        conn.execute(
            text(
                "UPDATE parties SET my_number = (SELECT my_number FROM parties WHERE id = :b)"
                " WHERE id = :a"
            ),
            {"a": c.id, "b": b.id},
        )
    with as_operator(db, other_firm) as conn:
        conn.execute(
            text(
                "UPDATE parties SET email = (SELECT email FROM parties WHERE id = :a) WHERE id = :t"
            ),
            {"a": a.id, "t": theirs.id},
        )
    with pytest.raises(AuthenticationFailed) as failed, acting(db, firm) as s:
        s.execute(select(Party.address).where(Party.id == a.id)).scalar_one()
    assert "parties.address" in str(failed.value)
    with pytest.raises(AuthenticationFailed) as failed, acting(db, firm) as s:
        moved = s.get(Party, (firm.id, c.id))  # loads: the key is the firm's own
        assert moved.address is not None  # untouched values still open
        _ = moved.my_number  # opening the moved value is what fails
    assert "parties.my_number" in str(failed.value) and str(c.id) in str(failed.value)
    assert "987654321000" not in str(failed.value)
    with pytest.raises(TenantMismatch) as failed, acting(db, other_firm) as s:
        s.get(Party, (other_firm.id, theirs.id))  # another firm's key: refused at load
    assert "parties.email" in str(failed.value) and "taro" not in str(failed.value)


# -- the unit of work -------------------------------------------------------------------------


def test_updates_reseal_and_move_the_blind_index(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    stored = raw(db, "SELECT email, email_bidx, address FROM parties WHERE id = :i", i=party.id)[0]
    with acting(db, firm) as s:
        s.get(Party, (firm.id, party.id)).email = "hanako@example.jp"
    after = raw(db, "SELECT email, email_bidx, address FROM parties WHERE id = :i", i=party.id)[0]
    assert after.email != stored.email and after.email_bidx != stored.email_bidx
    assert after.address == stored.address  # untouched columns are not re-sealed
    with acting(db, firm) as s:
        assert s.scalars(select(Party.id).where(Party.email.matches("taro@example.jp"))).all() == []
        found = s.scalars(select(Party.id).where(Party.email.matches("HANAKO@example.jp")))
        assert found.all() == [party.id]
        s.get(Party, (firm.id, party.id)).email = None
    cleared = raw(db, "SELECT email, email_bidx FROM parties WHERE id = :i", i=party.id)[0]
    assert cleared == (None, None)


def test_a_failed_flush_gives_the_objects_their_values_back(db, firms):
    firm = firms.new()
    with pytest.raises(CheckViolation), acting(db, firm) as s:
        party = Party(
            tenant_id=firm.id,
            kind="company",
            name="株式会社甲",
            my_number="123456789018",
            email="info@example.jp",
        )
        s.add(party)
        s.flush()
    assert (party.my_number, party.email) == ("123456789018", "info@example.jp")


def test_objects_keep_their_plaintext_after_flush_and_commit(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
        s.flush()
        assert party.my_number == "123456789018" and party.email == "taro@example.jp"
    assert party.my_number == "123456789018"


def test_row_bound_values_open_on_load_refresh_and_expiry(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    with acting(db, firm) as s:
        loaded = s.get(Party, (firm.id, party.id))
        assert loaded.my_number == "123456789018"
        s.expire(loaded)
        assert loaded.my_number == "123456789018"
        s.refresh(loaded, ["my_number"])
        assert loaded.my_number == "123456789018"
        assert "1234" not in repr(loaded) and "taro" not in repr(loaded)


def test_my_number_is_for_people_only(db, firms):
    with pytest.raises(CheckViolation) as refused, acting(db, firms.new()) as s:
        person(s, kind="company", name="株式会社乙")
    assert refused.value.rule == "ck_parties_my_number_person_only"


def test_login_sessions_store_ip_and_user_agent_encrypted(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        user = UserFactory()
        _token, row = open_session(
            s,
            tenant_id=firm.id,
            user_id=user.id,
            client_ip="203.0.113.7",
            user_agent="Mozilla/5.0 (Macintosh)",
        )
    stored = raw(db, "SELECT client_ip, user_agent FROM user_sessions WHERE id = :i", i=row.id)
    assert b"203.0.113.7" not in bytes(stored[0].client_ip)
    with acting(db, firm) as s:
        got = s.get(UserSession, (firm.id, row.id))
        assert (got.client_ip, got.user_agent) == ("203.0.113.7", "Mozilla/5.0 (Macintosh)")


def test_factories_fill_encrypted_fields_on_request(db, firms):
    with acting(db, firms.new()) as s:
        someone = PersonPartyFactory(sensitive=True)
        client = ClientFactory(with_bank_account=True)
        s.flush()
        assert someone.my_number and someone.email_bidx and client.bank_account["number"]


# -- errors and logs hide plaintext -----------------------------------------------------------


def test_errors_and_logged_sql_never_show_plaintext(db, firms, caplog):
    firm = firms.new()
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with acting(db, firm) as s:
        first = ClientFactory(client_code="C-DUP", with_bank_account=True)
        party = person(s, address="秘密の住所")
    with pytest.raises(UniqueViolation) as dup, acting(db, firm) as s:
        ClientFactory(client_code="C-DUP", party_id=party.id, bank_account={"number": "9999999"})
        s.flush()
    message = str(dup.value) + repr(dup.value.__cause__)
    for secret in ("9999999", "秘密の住所", "C-DUP"):
        assert secret not in message
    assert "秘密の住所" not in caplog.text and "1234567" not in caplog.text
    assert first.bank_account["number"] == "1234567"


# -- keys: cache, creation, reload ------------------------------------------------------------


class Statements:
    def __init__(self, engine) -> None:
        self.seen: list[str] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self.record)

    def record(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.record)


def test_keys_load_once_and_a_cache_hit_costs_no_query(db, firms):
    firm = firms.new()
    with acting(db, firm) as s:
        person(s)
    runtime.evict(firm.id)
    recorder = Statements(db.app_engine)
    try:
        with acting(db, firm) as s:
            s.scalars(select(Party)).all()
        first = [q for q in recorder.seen if "tenant_keys" in q]
        recorder.seen.clear()
        with acting(db, firm) as s:
            s.scalars(select(Party)).all()
        assert len(first) == 1
        assert [q for q in recorder.seen if "tenant_keys" in q] == []
        assert len(recorder.seen) == 2  # the SET LOCAL batch and the query
    finally:
        recorder.close()


def test_a_firms_first_keys_are_created_once_under_concurrency(db, firms):
    firm = firms.new()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        try:
            barrier.wait()
            with acting(db, firm) as s:
                person(s, name=f"同時{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    keys = raw(db, "SELECT purpose, state FROM tenant_keys WHERE tenant_id = :t", t=firm.id)
    assert sorted(keys) == [("blind_index", "active"), ("encryption", "active")]
    with acting(db, firm) as s:
        assert len(s.scalars(select(Party)).all()) == 8


def test_a_stale_cache_meets_a_new_key_and_reloads(db, firms):
    from legal_data.crypto import admin

    firm = firms.new()
    with acting(db, firm) as s:
        party = person(s)
    stale = runtime.cached(firm.id)
    admin.rotate(db.admin_engine, firm.id)  # as another process would, while we hold the cache
    runtime._cache.put(stale)
    with acting(db, firm) as s:
        assert s.get(Party, (firm.id, party.id)).address == "東京都千代田区霞が関1-1-1"


def test_without_a_master_key_touching_an_encrypted_column_is_a_clear_error(db, firms, monkeypatch):
    firm = firms.new()
    with acting(db, firm) as s:
        person(s)
    monkeypatch.delenv("LEGAL_DATA_MASTER_KEY", raising=False)
    monkeypatch.delenv("LEGAL_DATA_MASTER_KEY_FILE", raising=False)
    with runtime.configured(None):
        with acting(db, firm) as s:  # transactions that touch no encrypted column work
            assert s.scalars(select(Party.name)).all() == ["山田 太郎"]
        with pytest.raises(ConfigurationError) as err, acting(db, firm) as s:
            s.scalars(select(Party)).all()
    assert "master key" in str(err.value)


async def test_async_sessions_seal_and_open(db, firms):
    firm = firms.new()
    engine = create_async_tenant_engine(db.app_url, pool_size=2)
    factory = async_tenant_sessionmaker(engine)
    try:
        async with async_tenant_session(factory, firm.id, user_id=ACTOR) as s:
            party = Party(
                tenant_id=firm.id,
                kind="person",
                name="非同期",
                my_number="123456789018",
                email="async@example.jp",
                date_of_birth=dt.date(1990, 1, 1),
            )
            s.add(party)
        async with async_tenant_session(factory, firm.id, user_id=ACTOR) as s:
            got = await s.execute(select(Party).where(Party.email.matches("ASYNC@example.jp")))
            loaded = got.scalars().one()
            assert (loaded.my_number, loaded.date_of_birth) == ("123456789018", dt.date(1990, 1, 1))
    finally:
        await engine.dispose()


def test_threads_of_different_firms_seal_with_their_own_keys_only(db, firms):
    trio = [firms.new() for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def work(n: int) -> None:
        firm = trio[n % 3]
        try:
            barrier.wait()
            for i in range(8):
                with acting(db, firm) as s:
                    party = person(s, name=f"並行{n}-{i}", email=f"t{n}-{i}@example.jp")
                with acting(db, firm) as s:
                    assert s.get(Party, (firm.id, party.id)).email == f"t{n}-{i}@example.jp"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for firm in trio:  # every stored value carries a key id of its own firm
        foreign = raw(
            db,
            "SELECT count(*) AS n FROM parties p WHERE p.tenant_id = :t AND NOT EXISTS ("
            " SELECT 1 FROM tenant_keys k WHERE k.tenant_id = p.tenant_id"
            " AND k.id = CAST(encode(substring(p.email from 3 for 16), 'hex') AS uuid))",
            t=firm.id,
        )
        assert foreign[0].n == 0
        assert (
            raw(db, "SELECT count(*) AS n FROM parties WHERE tenant_id = :t", t=firm.id)[0].n == 32
        )
