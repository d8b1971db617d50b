"""EXPLAIN as the app role: the conflict queries stay on their indexes under RLS.

The exact lookup reads ``ix_party_name_keys_tenant_id_key`` with ``tenant_id`` and
``key`` in the Index Cond; the fuzzy candidates read ``ix_party_name_grams_tenant_id_gram_
key_id_gram_count`` with ``tenant_id`` and ``gram`` in the Index Cond; neither key table is ever
read by a sequential scan or filtered row by row. The queries are exactly the module's
(``legal_data.conflicts.sql``), bound as the check binds them. Several thousand parties
over several firms are bulk-loaded (their keys made by the triggers) and ANALYZEd, so
the planner has real statistics to choose from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from isolation_support import tenant_tx
from sqlalchemy import text

from legal_data.conflicts import sql
from legal_data.search.normalize import bigrams
from legal_data.testing.plugin import make_tenant

FIRMS = 6
PARTIES_PER_FIRM = 1_500

SURNAMES = (
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林"
)
GIVEN = "太郎 花子 一郎 恵子 健 直子 大輔 美咲 翔 陽子 誠 裕子 浩 真由美 隆 優子"
STEMS = "青葉 みどり さくら ひかり 東西 北斗 大和 富士 日本 中央 昭和 平和 太平洋 朝日 旭 共栄"
TRADES = "商事 建設 不動産 工業 物流 製作所 電機 食品 運輸 興産 開発 産業"

LOAD = """
INSERT INTO parties (tenant_id, id, kind, name, name_kana)
SELECT t, gen_random_uuid(),
       CASE WHEN g % 2 = 0 THEN 'person' ELSE 'company' END,
       CASE WHEN g % 2 = 0
            THEN s[1 + g % cardinality(s)] || ' ' || n[1 + (g / 7) % cardinality(n)] || (g / 97)
            ELSE (ARRAY['株式会社', '有限会社', ''])[1 + g % 3] || c[1 + (g / 2) % cardinality(c)]
                 || d[1 + (g / 32) % cardinality(d)] || (g / 89)
       END,
       CASE WHEN g % 4 = 0 THEN 'ヤマダ' || g END
FROM unnest(CAST(:firms AS uuid[])) AS t,
     generate_series(1, :per_firm) AS g,
     string_to_array(:s, ' ') AS s, string_to_array(:n, ' ') AS n,
     string_to_array(:c, ' ') AS c, string_to_array(:d, ' ') AS d
"""


@pytest.fixture(scope="module")
def loaded(legal_data_harness) -> Iterator[list[Any]]:
    firms = [
        make_tenant(legal_data_harness, f"cx-{i:02d}", f"EXPLAIN利益相反事務所{i}").id
        for i in range(FIRMS)
    ]
    with legal_data_harness.admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(
            text(LOAD),
            {
                "firms": firms,
                "per_firm": PARTIES_PER_FIRM,
                "s": SURNAMES,
                "n": GIVEN,
                "c": STEMS,
                "d": TRADES,
            },
        )
    with legal_data_harness.admin_engine.begin() as conn:
        conn.execute(text("ANALYZE parties, party_name_keys, party_name_grams"))
    yield firms
    legal_data_harness.truncate_all()


def _plan(session: Any, statement: str, params: dict[str, Any]) -> dict[str, Any]:
    return session.execute(text(f"EXPLAIN (FORMAT JSON) {statement}"), params).scalar()[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _scans(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    return [n for n in _nodes(plan) if n.get("Relation Name") == relation]


def _index_scan(plan: dict[str, Any], relation: str, index: str) -> dict[str, Any]:
    scans = _scans(plan, relation)
    assert scans, f"{relation} is not read: {plan}"
    for node in scans:
        assert node["Node Type"] != "Seq Scan", node
        assert "Filter" not in node, node  # nothing left for a row-by-row filter
    found = [n for n in _nodes(plan) if n.get("Index Name") == index]
    assert found, f"{index} is not used: {[n['Node Type'] for n in _nodes(plan)]}"
    return found[0]


def test_the_exact_lookup_reads_the_key_index(legal_data_harness, loaded):
    keys = ["山田商事", "やまだしようじ", "佐藤花子3", "7000012050002"]
    with tenant_tx(legal_data_harness.app_sessions, loaded[2]) as s:
        node = _index_scan(
            _plan(s, sql.EXACT_SQL, {"keys": keys}),
            "party_name_keys",
            "ix_party_name_keys_tenant_id_key",
        )
    assert "tenant_id" in node["Index Cond"] and "key" in node["Index Cond"], node


def test_the_fuzzy_candidates_read_the_gram_index(legal_data_harness, loaded):
    names = ["青葉商事", "佐藤花子"]
    gram_i, grams, gram_n = [], [], []
    for i, key in enumerate(names, start=1):
        own = bigrams(key)
        gram_i += [i] * len(own)
        grams += own
        gram_n.append(len(own))
    params = {"gram_i": gram_i, "grams": grams, "gram_n": gram_n}
    with tenant_tx(legal_data_harness.app_sessions, loaded[3]) as s:
        plan = _plan(s, sql.CANDIDATES_SQL, params)
        node = _index_scan(
            plan, "party_name_grams", "ix_party_name_grams_tenant_id_gram_key_id_gram_count"
        )
        assert "tenant_id" in node["Index Cond"] and "gram" in node["Index Cond"], node
        for keys in _scans(plan, "party_name_keys"):
            assert keys["Node Type"] in ("Index Scan", "Index Only Scan"), keys
            assert "tenant_id" in keys["Index Cond"], keys
        # The plan is not just a plan: the query finds the firm's similar names.
        rows = s.execute(text(sql.CANDIDATES_SQL), params).all()
        assert any("青葉" in r.key for r in rows)


def test_the_found_parties_are_read_by_primary_key(legal_data_harness, loaded):
    with tenant_tx(legal_data_harness.app_sessions, loaded[1]) as s:
        ids = s.execute(text("SELECT id FROM parties LIMIT 5")).scalars().all()
        plan = _plan(s, sql.PARTIES_SQL, {"ids": ids})
    assert all(n["Node Type"] != "Seq Scan" for n in _scans(plan, "parties")), plan
    (index,) = [n for n in _nodes(plan) if n.get("Index Name") == "pk_parties"]
    assert "tenant_id" in index["Index Cond"] and "id" in index["Index Cond"], index
