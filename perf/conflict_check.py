"""A conflict check (5 names) in a firm with 100,000 parties, as the app role under RLS.

    python -m perf.conflict_check [--parties 100000] [--runs 200]

In a fresh database (the server :func:`legal_data.db.provision.provide_postgres` picks:
``LEGAL_DATA_TEST_DATABASE_URL`` or an embedded one): a firm with ``--parties`` parties
(half people from 100 surnames x 100 given names, each full name 2-3 times (同姓同名),
some with readings; half companies from 48 regions x 60 stems x 30 trades, each written
three ways in the seven legal-form spellings, 1 in 50 with a former name), 20 % of them
clients, 30,000 cases (a fifth of them closed) with a
client and an opposing party each, 5,000 consultations with a party each, 2,000 related
persons; a second firm with 20,000 parties. Everything is bulk-loaded by the operator;
the keys are made by the triggers (timed: that is the cost of keeping keys in the
database). ANALYZE, then ``conflicts.check(session, names=[5 names])`` ``--runs`` times,
cycling through 10 sets of 5 names (exact company in another spelling, a common person
name, a reading, a similar name, an unknown name), each in its own transaction, as a
lawyer of the big firm. Prints p50/p95 of the whole check and the median of each of
its queries, the hit counts, and writes JSON to perf/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from legal_data import conflicts
from legal_data.conflicts import checks as check_module
from legal_data.conflicts import sql
from legal_data.models import User
from legal_data.search.normalize import bigrams
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.firms import new_firm
from legal_data.testing.harness import migrated_database


def _words(*lines: str) -> list[str]:
    return " ".join(lines).split()


SURNAMES = _words(
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木",
    "山口 松本 井上 木村 林 斎藤 清水 山崎 森 池田 橋本 阿部 石川 山下",
    "中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本",
    "斉藤 福田 太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田",
    "竹内 小野 田村 中山 和田 石田 森田 上田 原 柴田 酒井 工藤 横山 宮崎",
    "宮本 内田 高木 安藤 島田 谷口 大野 丸山 今井 高田 藤本 武田 村田",
    "上野 杉山 増田 小山 大塚 平野 菅原 久保 松井 千葉 岩崎 桜井 木下",
    "野口 松尾 菊地 野村 新井 渡部 髙橋",
)
SURNAME_KANA = _words(
    "サトウ スズキ タカハシ タナカ イトウ ワタナベ ヤマモト ナカムラ コバヤシ",
    "カトウ",
)
GIVEN = _words(
    "太郎 一郎 健 誠 浩 隆 翔 大輔 拓也 直樹 和也 達也 健太 亮 聡 剛",
    "学 修 勝 実 花子 恵子 陽子 直子 裕子 美咲 真由美 優子 久美子 由美",
    "恵 愛 彩 舞 香織 智子 京子 幸子 明美 典子 一 二郎 三郎 正 清 博",
    "豊 茂 稔 進 勇 武 昭 弘 宏 明 光 秀樹 雅人 大樹 悠 蓮 陽翔 湊",
    "結衣 陽菜 葵 凛 芽依 さくら ひなた あおい ゆい みお 七海 美羽 心春",
    "結菜 莉子 美月 楓 杏 琴音 千尋 遥 瞳 亜美 綾 涼子 麻衣 奈々 沙織",
    "理恵 朋美 裕美 静香 智美 奈美 紀子 和子",
)
STEMS = _words(
    "青葉 みどり さくら ひかり 東西 北斗 大和 富士 日本 中央 昭和 平和",
    "太平洋 朝日 旭 共栄 山田 田中 鈴木 高橋 東京 大阪 名古屋 横浜 神戸",
    "京都 札幌 福岡 仙台 広島 丸の内 銀座 新宿 渋谷 池袋 品川 上野 浅草",
    "日本橋 八重洲 サクラ ミドリ アオバ ヒカリ ホクト ヤマト フジ トーヨー",
    "ニッポン グローバル ユニバーサル パシフィック アジア オリエント スター",
    "サン ムーン ヤマダ コスモス ミナト",
)
TRADES = _words(
    "商事 建設 不動産 工業 物流 製作所 電機 食品 運輸 興産 開発 産業 商店",
    "工務店 設計 化学 精機 薬品 印刷 出版 通信 システム ホールディングス",
    "リース 保険 証券 銀行 観光 ホテル 病院",
)
FORMS = ("株式会社%s", "%s株式会社", "㈱%s", "%s（株）", "有限会社%s", "合同会社%s", "%s")
# The first "region" is none: those companies have the plain name.
REGIONS = [
    "",
    *_words(
        "北海道 青森 岩手 宮城 秋田 山形 福島 茨城 栃木 群馬 埼玉 千葉 神奈川",
        "新潟 富山 石川 福井 山梨 長野 岐阜 静岡 愛知 三重 滋賀 兵庫 奈良",
        "和歌山 鳥取 島根 岡山 山口 徳島 香川 愛媛 高知 佐賀 長崎 熊本 大分",
        "宮崎 鹿児島 沖縄",
    ),
]

LOAD = """
SET LOCAL app.current_user_role = 'system';
SET LOCAL session_replication_role = replica;
INSERT INTO parties (tenant_id, id, kind, name, name_kana, former_names)
SELECT :f, gen_random_uuid(),
       CASE WHEN g % 2 = 0 THEN 'person' ELSE 'company' END,
       -- people: surname (g/2) and given name (g/200) cycle apart, so each full name
       -- occurs 2-3 times; companies: base b = (g/2)/3 is region + stem + trade, each
       -- written in three of the seven legal-form spellings.
       CASE WHEN g % 2 = 0
            THEN s[1 + (g / 2) % cardinality(s)] || ' ' || n[1 + (g / 200) % cardinality(n)]
            ELSE format(fm[1 + (g / 2) % cardinality(fm)],
                        r[1 + (g / 6 / 1800) % cardinality(r)] || c[1 + (g / 6) % 60]
                        || d[1 + (g / 6 / 60) % 30])
       END,
       CASE WHEN g % 2 = 0 AND (g / 2) % cardinality(s) < cardinality(k)
                 AND (g / 200) % cardinality(n) = 0
            THEN k[1 + (g / 2) % cardinality(s)] || ' タロウ' END,
       CASE WHEN g % 50 = 1 THEN ARRAY['旧' || c[1 + (g / 6) % 60] || '産業'] ELSE '{}' END
FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS g,
     CAST(:s AS text[]) AS s, CAST(:k AS text[]) AS k, CAST(:gv AS text[]) AS n,
     CAST(:c AS text[]) AS c, CAST(:d AS text[]) AS d, CAST(:fm AS text[]) AS fm,
     CAST(:r AS text[]) AS r;
ANALYZE parties;
INSERT INTO clients (tenant_id, id, party_id, client_code, status)
SELECT p.tenant_id, gen_random_uuid(), p.id, 'C-' || row_number() OVER (), 'active'
FROM parties p WHERE p.tenant_id = :f AND abs(hashtext(p.id::text)) % 5 = 0;
INSERT INTO cases (tenant_id, id, display_number, title, practice_area, status, client_id,
                   opened_on, closed_on)
SELECT c.tenant_id, gen_random_uuid(), row_number() OVER (), '損害賠償請求事件', 'civil',
       CASE WHEN row_number() OVER () % 5 = 0 THEN 'closed' ELSE 'open' END, c.id,
       DATE '2020-01-01', CASE WHEN row_number() OVER () % 5 = 0 THEN DATE '2021-01-01' END
FROM (SELECT * FROM clients WHERE tenant_id = :f LIMIT :cases) AS c
CROSS JOIN generate_series(1, 2) AS twice;
INSERT INTO case_parties (tenant_id, id, case_id, party_id, role)
SELECT k.tenant_id, gen_random_uuid(), k.id, cl.party_id, 'client'
FROM cases k JOIN clients cl ON cl.tenant_id = k.tenant_id AND cl.id = k.client_id
WHERE k.tenant_id = :f;
INSERT INTO case_parties (tenant_id, id, case_id, party_id, role)
SELECT k.tenant_id, gen_random_uuid(), k.id, p.id, 'opposing_party'
FROM (SELECT id, tenant_id, row_number() OVER (ORDER BY id) AS r FROM cases WHERE tenant_id = :f) k
JOIN (SELECT id, row_number() OVER (ORDER BY id DESC) AS r FROM parties
      WHERE tenant_id = :f AND abs(hashtext(id::text)) % 5 <> 0) p ON p.r = k.r;
INSERT INTO consultations (tenant_id, id, subject, status)
SELECT :f, gen_random_uuid(), '相談' || g, 'declined' FROM generate_series(1, :consultations) g;
ANALYZE clients, cases, consultations;
INSERT INTO consultation_parties (tenant_id, id, consultation_id, party_id, role)
SELECT c.tenant_id, gen_random_uuid(), c.id, p.id, 'opposing_party'
FROM (SELECT id, tenant_id, row_number() OVER (ORDER BY id) AS r FROM consultations
      WHERE tenant_id = :f) c
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS r FROM parties WHERE tenant_id = :f) p
  ON p.r = c.r * 7;
INSERT INTO party_relations (tenant_id, id, from_party_id, to_party_id, kind)
SELECT a.tenant_id, gen_random_uuid(), a.id, b.id, 'representative'
FROM (SELECT id, tenant_id, row_number() OVER (ORDER BY id) AS r FROM parties
      WHERE tenant_id = :f AND kind = 'person') a
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS r FROM parties
      WHERE tenant_id = :f AND kind = 'company') b ON b.r = a.r
WHERE a.r <= :relations
"""

NAME_SETS = [
    ["山田商事株式会社", "佐藤 太郎", "サトウ タロウ", "山田商店", "存在しない名前株式会社"],
    ["㈱青葉建設", "髙橋 花子", "スズキ タロウ", "青葉建築", "架空商会"],
    ["東京不動産（株）", "鈴木 一郎", "タナカ タロウ", "東京不動産開発", "無名の会社"],
    ["有限会社さくら工業", "田中 恵子", "イトウ タロウ", "サクラ工業所", "どこにもない"],
    ["合同会社ひかり物流", "伊藤 健", "ワタナベ タロウ", "ひかり運送", "見つからない商事"],
    ["大和製作所株式会社", "渡辺 陽子", "ヤマモト タロウ", "大和製作", "ないない工房"],
    ["富士電機㈱", "山本 誠", "ナカムラ タロウ", "富士電気", "未登録株式会社"],
    ["株式会社日本食品", "中村 直子", "コバヤシ タロウ", "日本食品工業", "架空ホールディングス"],
    ["中央運輸（株）", "小林 浩", "カトウ タロウ", "中央運送", "ゼロ商事"],
    ["昭和興産株式会社", "加藤 隆", "サトウ ハナコ", "昭和興業", "無関係の会社"],
]


def _pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1000


def _load(h: Any, firm: Any, parties: int, cases: int) -> float:
    params = {
        "f": firm,
        "n": parties,
        "s": SURNAMES,
        "k": SURNAME_KANA,
        "gv": GIVEN,
        "c": STEMS,
        "d": TRADES,
        "fm": list(FORMS),
        "r": list(REGIONS),
        "cases": cases // 2,
        "consultations": 5_000 * parties // 100_000,
        "relations": 2_000 * parties // 100_000,
    }
    t0 = time.perf_counter()
    statements = LOAD.split(";\n")
    head, parties_sql, rest = statements[:2], statements[2], statements[3:]
    # Parties in batches of 10,000 (each statement stays under the statement timeout).
    for lo in range(1, parties + 1, 10_000):
        with h.admin_engine.begin() as conn:
            for statement in head:
                conn.execute(text(statement))
            conn.execute(text(parties_sql), {**params, "lo": lo, "hi": min(parties, lo + 9_999)})
    with h.admin_engine.begin() as conn:
        for statement in (*head, *rest):
            conn.execute(text(statement), params)
    return time.perf_counter() - t0


def _key_cost(h: Any, firm: Any, n: int) -> dict[str, float]:
    """Bulk insert of ``n`` parties with and without the key triggers (rolled back)."""
    out = {}
    for label, disable in (("with_keys", False), ("without_keys", True)):
        with h.admin_engine.connect() as conn, conn.begin() as tx:
            conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
            if disable:
                conn.execute(text("ALTER TABLE parties DISABLE TRIGGER conflict_keys_insert"))
            t0 = time.perf_counter()
            conn.execute(
                text(
                    "INSERT INTO parties (tenant_id, id, kind, name, name_kana)"
                    " SELECT :f, gen_random_uuid(), 'company', '株式会社測定商事' || g,"
                    " 'ソクテイショウジ' FROM generate_series(1, :n) g"
                ),
                {"f": firm, "n": n},
            )
            out[label] = time.perf_counter() - t0
            tx.rollback()
    return out


def _single_insert_cost(h: Any, firm: Any, n: int) -> dict[str, float]:
    """Median of ``n`` one-party INSERT statements, with and without the key triggers."""
    out = {}
    for label, disable in (("with_keys", False), ("without_keys", True)):
        with h.admin_engine.connect() as conn, conn.begin() as tx:
            conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
            if disable:
                conn.execute(text("ALTER TABLE parties DISABLE TRIGGER conflict_keys_insert"))
            samples = []
            for i in range(n):
                _, ms = _timed(
                    lambda i=i: conn.execute(
                        text(
                            "INSERT INTO parties (tenant_id, id, kind, name, name_kana)"
                            " VALUES (:f, gen_random_uuid(), 'person', :n, 'ソクテイ タロウ')"
                        ),
                        {"f": firm, "n": f"測定 太郎{i}"},
                    )
                )
                samples.append(ms)
            out[label] = statistics.median(samples[10:])
            tx.rollback()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parties", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    out: dict[str, Any] = {"parties": args.parties, "runs": args.runs, "names_per_check": 5}
    with migrated_database(prefix="legal_data_perf") as h:
        firm = new_firm(h.admin_sessions, slug="perf-conflicts", name="利益相反測定事務所").id
        other = new_firm(h.admin_sessions, slug="perf-other", name="別の事務所").id
        out["load_seconds"] = _load(h, firm, args.parties, 30_000)
        out["load_other_seconds"] = _load(h, other, args.parties // 5, 6_000)
        with h.admin_engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM parties WHERE tenant_id = :f),"
                    " (SELECT count(*) FROM party_name_keys WHERE tenant_id = :f),"
                    " (SELECT count(*) FROM party_name_grams WHERE tenant_id = :f),"
                    " (SELECT count(*) FROM cases WHERE tenant_id = :f),"
                    " (SELECT count(*) FROM clients WHERE tenant_id = :f),"
                    " pg_size_pretty(pg_total_relation_size('party_name_keys')),"
                    " pg_size_pretty(pg_total_relation_size('party_name_grams')),"
                    " version()"
                ),
                {"f": firm},
            ).one()
        out.update(
            zip(
                (
                    "firm_parties",
                    "firm_keys",
                    "firm_grams",
                    "firm_cases",
                    "firm_clients",
                    "keys_size_all_firms",
                    "grams_size_all_firms",
                    "server",
                ),
                counts,
                strict=True,
            )
        )
        out["bulk_insert_10000_parties_s"] = _key_cost(h, firm, 10_000)
        out["single_party_insert_median_ms"] = _single_insert_cost(h, firm, 210)
        with tenant_scope(firm, role="system"), h.app_sessions() as s, s.begin():
            user = User(
                tenant_id=firm, email="perf@example.jp", display_name="弁護士", kind="lawyer"
            )
            s.add(user)
            s.flush()
            lawyer = user.id

        whole: list[float] = []
        labels = {
            sql.EXACT_SQL: "exact",
            sql.CANDIDATES_SQL: "candidates",
            sql.PARTIES_SQL: "parties",
            sql.APPEARANCES_SQL: "appearances",
            sql.SCREENED_QUERY_SQL: "screened",
        }
        parts: dict[str, list[float]] = {k: [] for k in ("keys", *labels.values(), "python")}
        spent: dict[str, float] = {}
        original_rows = check_module._rows

        def timed_rows(session: Any, statement: str, **params: Any) -> list[Any]:
            rows, ms = _timed(lambda: original_rows(session, statement, **params))
            label = labels[statement]
            spent[label] = spent.get(label, 0.0) + ms
            return rows

        check_module._rows = timed_rows  # every query of the check but the first
        hits: list[int] = []
        for run in range(10 + args.runs):  # the first 10 warm up
            names = NAME_SETS[run % len(NAME_SETS)]
            with tenant_scope(firm, user_id=lawyer), h.app_sessions() as s, s.begin():
                spent.clear()
                report, ms = _timed(lambda s=s, names=names: conflicts.check(s, names=names))
                if run < 10:
                    continue
                whole.append(ms)
                hits.append(len(report.hits))
                for label in labels.values():
                    parts[label].append(spent.get(label, 0.0))
                # The first query (firm, user, keys of the names), once more on its own.
                _, keys_ms = _timed(
                    lambda s=s, names=names: s.execute(
                        text(sql.QUERY_KEYS_SQL), {"names": names}
                    ).one()
                )
                parts["keys"].append(keys_ms)
                parts["python"].append(ms - keys_ms - sum(spent.values()))
        check_module._rows = original_rows
        out["check_ms"] = {
            "p50": statistics.median(whole),
            "p95": _pct(whole, 0.95),
            "max": max(whole),
            "mean": statistics.fmean(whole),
        }
        out["query_median_ms"] = {k: statistics.median(v) for k, v in parts.items()}
        out["hits_per_check"] = {
            "min": min(hits),
            "median": statistics.median(hits),
            "max": max(hits),
        }
        with tenant_scope(firm, user_id=lawyer), h.app_sessions() as s, s.begin():
            names = NAME_SETS[0]
            ctx = s.execute(text(sql.QUERY_KEYS_SQL), {"names": names}).one()
            gi, gs, gn = [], [], []
            for i, key in enumerate(ctx.name_keys, start=1):
                own = bigrams(key)
                gi += [i] * len(own)
                gs += own
                gn.append(len(own))
            plan = s.execute(
                text(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql.CANDIDATES_SQL}"),
                {"gram_i": gi, "grams": gs, "gram_n": gn},
            ).scalars()
            out["candidates_plan"] = list(plan)
    out["date"] = str(dt.date.today())
    out["load_average_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    out["platform"] = platform.platform()
    out["python"] = platform.python_version()
    print(
        f"conflict check, 5 names, firm of {out['firm_parties']:,} parties "
        f"({out['firm_keys']:,} keys, {out['firm_grams']:,} bigrams), {args.runs} runs:"
    )
    print(
        f"  whole check  p50 {out['check_ms']['p50']:.2f} ms  p95 {out['check_ms']['p95']:.2f} ms"
    )
    for k, v in out["query_median_ms"].items():
        print(f"  {k:12s} median {v:.2f} ms")
    print(f"  hits per check {out['hits_per_check']}")
    print(f"  load of the firm (keys by trigger): {out['load_seconds']:.1f} s")
    print(f"  bulk insert of 10,000 parties (s): {out['bulk_insert_10000_parties_s']}")
    print(f"  one-party INSERT, median (ms): {out['single_party_insert_median_ms']}")
    print(f"  server: {out['server']}")
    path = Path(__file__).parent / "results" / f"conflict_check_{dt.date.today()}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
