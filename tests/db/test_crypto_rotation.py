"""Key rotation: a new key, every value re-encrypted onto it in resumable, idempotent,
compare-and-swap batches; the status report; retirement gated on zero; re-wrapping
under a new master key touches only ``tenant_keys``."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from click.testing import CliRunner
from crypto_support import acting, as_operator, db_fixture, firms_fixture, person, raw  # noqa: F401
from sqlalchemy import select, text

from legal_data.cli import cli
from legal_data.crypto import admin, runtime
from legal_data.crypto.keys import LocalMasterKey
from legal_data.errors import ConfigurationError
from legal_data.models import Case, Client, Communication, Party
from legal_data.testing.factories import CaseFactory, ClientFactory, CommunicationFactory


class Stop(Exception):
    pass


def fill(db, firm, n: int = 12) -> list[Any]:
    """``n`` people, each with a client (bank account), a case (notes) and a call (body)."""
    ids = []
    with acting(db, firm) as s:
        for i in range(n):
            party = person(s, name=f"依頼者{i}", email=f"client{i}@example.jp")
            client = ClientFactory(party=party, with_bank_account=True)
            case = CaseFactory(client=client, notes=f"メモ{i}")
            CommunicationFactory(case_id=case.id, body=f"本文{i}")
            ids.append(party.id)
    return ids


def everything_reads(db, firm, n: int) -> None:
    with acting(db, firm) as s:
        parties = s.scalars(select(Party).where(Party.name.like("依頼者%"))).all()
        assert sorted(p.email for p in parties) == sorted(f"client{i}@example.jp" for i in range(n))
        assert all(c.bank_account["number"] == "1234567" for c in s.scalars(select(Client)))
        assert {c.notes for c in s.scalars(select(Case))} >= {f"メモ{i}" for i in range(n)}
        assert {c.body for c in s.scalars(select(Communication))} >= {f"本文{i}" for i in range(n)}


def keys_of(db, firm) -> list[tuple[str, int, str]]:
    return sorted(
        (r.purpose, r.version, r.state)
        for r in raw(
            db, "SELECT purpose, version, state FROM tenant_keys WHERE tenant_id = :t", t=firm.id
        )
    )


def test_rotation_moves_every_value_to_the_new_key(db, firms):
    firm = firms.new()
    fill(db, firm)
    before = admin.key_status(db.admin_engine, firm.id)
    assert before.remaining == 0 and before.active.version == 1
    report = admin.rotate(db.admin_engine, firm.id, batch_size=5)
    after = admin.key_status(db.admin_engine, firm.id)
    assert report.new_key is not None and report.new_key.version == 2
    assert after.remaining == 0 and after.active.version == 2
    assert sum(report.reencrypted.values()) == sum(c.total for c in after.columns) > 0
    assert keys_of(db, firm) == [
        ("blind_index", 1, "active"),
        ("encryption", 1, "decrypt_only"),
        ("encryption", 2, "active"),
    ]
    everything_reads(db, firm, 12)
    # Idempotent: nothing is left to move, so resuming touches nothing.
    again = admin.rotate(db.admin_engine, firm.id, new_key=False)
    assert again.reencrypted == {} and again.new_key is None


def test_a_stopped_rotation_resumes_and_finishes_on_the_same_key(db, firms):
    firm = firms.new()
    fill(db, firm)

    def stop_after_two(batches: int) -> None:
        if batches == 2:
            raise Stop

    with pytest.raises(Stop):
        admin.rotate(db.admin_engine, firm.id, batch_size=3, after_batch=stop_after_two)
    midway = admin.key_status(db.admin_engine, firm.id)
    assert 0 < midway.remaining < sum(c.total for c in midway.columns)
    everything_reads(db, firm, 12)  # half-rotated data is fully readable

    report = admin.rotate(db.admin_engine, firm.id, batch_size=3)  # resumes: no new key
    assert report.new_key is None
    assert admin.key_status(db.admin_engine, firm.id).remaining == 0
    assert [k for k in keys_of(db, firm) if k[0] == "encryption"] == [
        ("encryption", 1, "decrypt_only"),
        ("encryption", 2, "active"),
    ]
    everything_reads(db, firm, 12)


def test_a_killed_rotation_process_resumes(db, firms, tmp_path):
    """The real thing: the command runs in a process of its own and is SIGKILLed."""
    material = os.urandom(32)
    key_file = tmp_path / "master.key"
    key_file.write_text(base64.b64encode(material).decode())
    with runtime.configured(LocalMasterKey(material)):
        firm = firms.new()
        fill(db, firm, n=15)
        env = {
            **os.environ,
            "LEGAL_DATA_ADMIN_URL": db.admin_url.render_as_string(hide_password=False),
            "LEGAL_DATA_MASTER_KEY_FILE": str(key_file),
        }
        env.pop("LEGAL_DATA_MASTER_KEY", None)
        command = [sys.executable, "-m", "legal_data", "keys", "rotate", "--tenant", str(firm.id)]
        proc = subprocess.Popen(  # noqa: S603 - our own command
            [*command, "--batch-size", "2", "--pause-ms", "300"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        total = None
        while time.monotonic() < deadline:
            status = admin.key_status(db.admin_engine, firm.id)
            total = sum(c.total for c in status.columns)
            if status.active.version == 2 and 0 < status.remaining < total - 4:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        midway = admin.key_status(db.admin_engine, firm.id)
        assert proc.returncode == -signal.SIGKILL
        assert midway.remaining > 0, "the kill came too late to test anything"

        done = subprocess.run(  # noqa: S603
            [*command, "--json"], env=env, capture_output=True, check=False, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()
        report = json.loads(done.stdout)
        assert report["new_key_id"] is None and report["remaining"] == 0
        assert admin.key_status(db.admin_engine, firm.id).remaining == 0
        runtime.evict(firm.id)
        everything_reads(db, firm, 15)


def test_a_concurrent_edit_during_rotation_survives(db, firms, monkeypatch):
    firm = firms.new()
    ids = fill(db, firm, n=4)
    real = admin._reencrypt
    edited = []

    def user_edits_first(conn, tenant_id, table, cols, rows, ring, key, report):
        if table == "parties" and not edited:
            # A user saves a new e-mail between the rotation's read and its write.
            with acting(db, firm) as s:
                s.get(Party, (firm.id, rows[0]["id"])).email = "edited@example.jp"
            edited.append(rows[0]["id"])
        return real(conn, tenant_id, table, cols, rows, ring, key, report)

    monkeypatch.setattr(admin, "_reencrypt", user_edits_first)
    report = admin.rotate(db.admin_engine, firm.id, batch_size=10)
    assert report.conflicts >= 1
    assert admin.key_status(db.admin_engine, firm.id).remaining == 0
    with acting(db, firm) as s:
        assert s.get(Party, (firm.id, edited[0])).email == "edited@example.jp"
        others = [s.get(Party, (firm.id, i)).email for i in ids if i != edited[0]]
        assert all(e.startswith("client") for e in others)


def test_status_reports_per_column_and_retire_waits_for_zero(db, firms):
    firm = firms.new()
    fill(db, firm, n=6)
    runner = CliRunner()
    url = db.admin_url.render_as_string(hide_password=False)

    def stop_early(batches: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        admin.rotate(db.admin_engine, firm.id, batch_size=2, after_batch=stop_early)
    status = runner.invoke(
        cli, ["keys", "status", "--database-url", url, "--tenant", str(firm.id), "--json"]
    )
    assert status.exit_code == 1, status.output  # values still on the old key: a finding
    report = json.loads(status.output)
    emails = next(c for c in report["columns"] if c["column"] == "parties.email")
    assert emails["values"] == 6
    assert report["remaining"] > 0
    assert {o["version"] for c in report["columns"] for o in c["on_old_keys"]} == {1}

    refused = runner.invoke(
        cli, ["keys", "retire", "--database-url", url, "--tenant", firm.slug, "1"]
    )
    assert refused.exit_code == 1 and "still encrypts" in refused.output
    assert ("encryption", 1, "decrypt_only") in keys_of(db, firm)

    finished = runner.invoke(
        cli, ["keys", "rotate", "--database-url", url, "--tenant", str(firm.id)]
    )
    assert finished.exit_code == 0, finished.output
    assert "resumed" in finished.output
    status = runner.invoke(cli, ["keys", "status", "--database-url", url, "--tenant", firm.slug])
    assert status.exit_code == 0 and "parties.email" in status.output

    retired = runner.invoke(
        cli, ["keys", "retire", "--database-url", url, "--tenant", str(firm.id), "1"]
    )
    assert retired.exit_code == 0, retired.output
    assert ("encryption", 1, "retired") in keys_of(db, firm)
    everything_reads(db, firm, 6)


def test_rewrap_under_a_new_master_key_touches_only_tenant_keys(db, firms, tmp_path):
    firm = firms.new()
    fill(db, firm, n=3)
    old = runtime.master_key_provider()
    before = {
        t: raw(db, f"SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) AS h FROM {t} x")[0].h
        for t in ("parties", "clients", "cases", "communications")
    }
    audit_rows = raw(db, "SELECT count(*) AS n FROM audit_logs")[0].n
    new = LocalMasterKey.generate()
    with runtime.configured(new, previous=[old]):
        assert admin.rewrap_keys(db.admin_engine, firm.id, old=[old]) == 2
    stored = raw(
        db, "SELECT DISTINCT master_key_id FROM tenant_keys WHERE tenant_id = :t", t=firm.id
    )
    assert [r.master_key_id for r in stored] == [new.key_id]
    after = {
        t: raw(db, f"SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) AS h FROM {t} x")[0].h
        for t in before
    }
    assert after == before
    assert raw(db, "SELECT count(*) AS n FROM audit_logs")[0].n == audit_rows
    with runtime.configured(new):  # the old master key is gone; the data reads
        everything_reads(db, firm, 3)
    with (
        runtime.configured(old),
        pytest.raises(ConfigurationError) as failed,
        acting(db, firm) as s,
    ):
        s.scalars(select(Party)).all()
    assert "master key" in str(failed.value)


def test_rotation_is_recorded_as_a_security_event(db, firms):
    firm = firms.new()
    fill(db, firm, n=1)
    admin.rotate(db.admin_engine, firm.id)
    with as_operator(db, firm) as conn:
        kinds = conn.execute(
            text("SELECT kind FROM security_events WHERE tenant_id = :t"), {"t": firm.id}
        ).scalars()
        assert {"encryption_keys_created", "encryption_key_rotated"} <= set(kinds)


def test_init_and_rewrap_through_the_command_line(db, firms, tmp_path):
    firm = firms.new()  # no encrypted write yet: no keys
    url = db.admin_url.render_as_string(hide_password=False)
    runner = CliRunner()
    assert keys_of(db, firm) == []
    made = runner.invoke(cli, ["keys", "init", "--database-url", url, "--tenant", firm.slug])
    assert made.exit_code == 0, made.output
    assert keys_of(db, firm) == [("blind_index", 1, "active"), ("encryption", 1, "active")]
    again = runner.invoke(cli, ["keys", "init", "--database-url", url, "--tenant", firm.slug])
    assert again.exit_code == 0 and len(keys_of(db, firm)) == 2
    fill(db, firm, n=2)

    old_material, new_material = os.urandom(32), os.urandom(32)
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old_file.write_text(base64.b64encode(old_material).decode())
    new_file.write_text(base64.b64encode(new_material).decode())
    with runtime.configured(LocalMasterKey(old_material)):
        other = firms.new()
        fill(db, other, n=2)
    with runtime.configured(LocalMasterKey(new_material)):
        moved = runner.invoke(
            cli,
            [
                "keys",
                "rewrap",
                "--database-url",
                url,
                "--tenant",
                str(other.id),
                "--master-key-file",
                str(new_file),
                "--old-master-key-file",
                str(old_file),
            ],
        )
        assert moved.exit_code == 0, moved.output
        assert "re-wrapped 2 key(s)" in moved.output
        everything_reads(db, other, 2)
