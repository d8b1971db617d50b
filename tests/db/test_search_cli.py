"""``legal-data search status|drain|reindex`` (the click group, run with the admin URL)."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data import search
from legal_data.cli.search import search as search_cli
from legal_data.testing.factories import CaseFactory


def _run(legal_db, *args: str) -> tuple[int, str]:
    url = legal_db.admin_url.render_as_string(hide_password=False)
    result = CliRunner().invoke(search_cli, [*args, "--database-url", url])
    return result.exit_code, result.output


def test_status_drain_and_reindex(legal_db, tenant_a, tenant_b) -> None:
    with tenant_tx(legal_db.app_sessions, tenant_a.id, commit=True):
        case = CaseFactory(title="運送契約紛争")
    code, out = _run(legal_db, "status", "--json")
    assert code == 0 and json.loads(out) == []
    doc = uuid.uuid4()
    with legal_db.admin_engine.begin() as conn:  # a write outside the library
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title)"
                " VALUES (:t, :d, :c, '運送契約書')"
            ),
            {"t": tenant_a.id, "d": doc, "c": case.id},
        )
    code, out = _run(legal_db, "status", "--json")
    assert code == 1
    assert json.loads(out) == [{"tenant_id": str(tenant_a.id), "queued": 1, "stale_rows": 0}]
    code, out = _run(legal_db, "drain", "--json")
    assert code == 0 and json.loads(out) == [{"tenant_id": str(tenant_a.id), "indexed": 1}]
    assert _run(legal_db, "status")[0] == 0
    with tenant_tx(legal_db.app_sessions, tenant_a.id) as s:
        assert [h.id for h in search.documents(s, "運送契約")] == [doc]
    code, out = _run(legal_db, "reindex", "--tenant", str(tenant_a.id), "--kind", "case")
    assert code == 0 and "queued 1, indexed 1" in out
    code, out = _run(legal_db, "status", "--tenant", "not-a-uuid")
    assert code == 2 and "UUID" in out
