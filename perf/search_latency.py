"""Japanese full-text search latency: p50/p95 through the public API, against LIKE.

    python -m perf.search_latency --docs 10000
    python -m perf.search_latency --docs 1000000          # the largest firm holds 100,000

In a fresh database (the server :func:`legal_data.db.provision.provide_postgres` picks;
set ``LEGAL_DATA_TEST_DATABASE_URL`` for an existing one): firms whose documents add up
to ``--docs`` — the largest with ``--largest`` (default ``min(docs, 100000)``), the rest
10,000 each — filled with synthetic Japanese legal notes (title + ~230 characters of text,
topic words drawn Zipf-like, so a two-character word such as 離婚 hits ~10 % of a firm).

Seeding (bulk, as the operator): documents are COPYed (their triggers queue them and the
audit trail records them); their index rows are computed by the library's own indexer
(``index_chunks``, the function the drain uses) for a pool of 50,000 distinct texts, and
COPYed with each firm's token; the GIN index is built after the load; then VACUUM
ANALYZE. The drain itself is timed on a separate batch (documents per second).

Measured, as the application role under Row Level Security, in the largest firm:
``search.documents(session, q, limit=20)`` (one transaction per call, as a request would
run it), for 2-, 4- and 8-character queries, interleaved round-robin so machine noise
hits every query alike; and the baseline an application without an index would run:
``title || description LIKE '%q%' ORDER BY updated_at DESC LIMIT 20`` on ``documents``
(one LIKE per term). Other query shapes (:data:`SHAPES`) are measured the same way and
reported apart; one of them has a synonym in the firm (:data:`SYNONYMS`), so its search
runs once per spelling and merges the pages.
Prints a table and writes ``perf/results/search_latency_<docs>_<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from legal_data import search
from legal_data.db.provision import libpq_conninfo, provide_postgres
from legal_data.ids import new_id
from legal_data.search.indexer import index_chunks, tenant_token
from legal_data.search.normalize import NORMALIZER_VERSION, normalize_text
from legal_data.tenancy import tenant_scope
from legal_data.tenancy.firms import new_firm
from legal_data.testing.harness import migrated_database

QUERIES = {
    2: ["離婚", "詐欺", "相続", "請求"],
    4: ["損害賠償", "離婚調停", "山田商事", "労働審判"],
    8: ["損害賠償請求事件", "株式会社山田商事", "遺留分侵害額請求"],
}
#: Other shapes, reported apart from the length classes: a word in many texts and no
#: title, one character, several terms, an exclusion, a word found nowhere.
SHAPES = ["協議", "請", "離婚 調停", "請求 -離婚", "打合せ", "見当たらない語句"]
#: The measured firm's synonym pairs: a query for 打合せ is two searches, merged.
SYNONYMS = [("打合せ", "面談")]
POOL = 50_000
OTHER_FIRM = 10_000

# -- the corpus -----------------------------------------------------------------------------

TOPICS = [
    ["離婚調停", "離婚訴訟", "親権", "養育費", "財産分与", "慰謝料", "婚姻費用", "面会交流"],
    ["損害賠償請求事件", "不法行為", "過失割合", "逸失利益", "後遺障害", "交通事故", "慰謝料"],
    ["特殊詐欺", "投資詐欺", "被害弁償", "示談交渉", "被告人", "受け子"],
    ["遺産分割調停", "遺言無効確認", "相続放棄", "遺留分侵害額請求", "特別受益", "寄与分"],
    ["労働審判", "未払残業代", "不当解雇", "地位確認", "退職金", "パワーハラスメント"],
    ["建物明渡請求", "賃料増額", "賃料不払い", "境界確定", "所有権移転登記", "借地権"],
    ["株主総会", "取締役会", "売買契約", "業務委託契約", "秘密保持契約", "株式譲渡"],
    ["自己破産", "免責許可", "民事再生", "任意整理", "債権者集会", "破産管財人"],
    ["窃盗被告事件", "傷害事件", "保釈請求", "接見", "公判期日", "執行猶予"],
    ["特許権侵害", "商標登録", "著作権", "不正競争防止法", "職務発明"],
    ["医療過誤", "説明義務違反", "カルテ開示", "医療法人", "鑑定意見"],
    ["消費者契約法", "クーリングオフ", "特定商取引法", "返金請求", "不当条項"],
    ["取消訴訟", "審査請求", "情報公開請求", "行政処分", "国家賠償"],
    ["成年後見", "任意後見", "保佐開始", "扶養請求", "氏の変更"],
    ["支払督促", "仮差押え", "強制執行", "債権差押命令", "少額訴訟"],
    ["名誉毀損", "発信者情報開示請求", "削除請求", "プライバシー侵害", "投稿記事"],
    ["請負代金請求", "瑕疵担保責任", "契約不適合", "設計監理", "追加工事"],
    ["貸金返還請求", "連帯保証", "過払金返還", "利息制限法", "期限の利益喪失"],
    ["国際仲裁", "準拠法", "外国判決の承認", "英文契約", "送達条約"],
    ["更正処分", "税務調査", "異議申立て", "相続税申告", "源泉徴収"],
]
GENERIC = [
    "打合せの日程を調整した。",
    "依頼者から追加資料の送付を受けた。",
    "次回期日までに主張を補充する。",
    "相手方代理人と電話で協議した。",
    "裁判所から期日呼出状が届いた。",
    "証拠説明書を提出した。",
    "報酬見積もりを送付した。",
    "委任状を受領した。",
    "記録の謄写を申請した。",
    "事実関係を時系列で整理した。",
]
COMPANIES = [
    "山田商事",
    "佐藤工業",
    "鈴木建設",
    "高橋物産",
    "田中電機",
    "伊藤運輸",
    "渡辺食品",
    "中村不動産",
    "小林製薬",
    "加藤精機",
    "吉田興業",
    "山本産業",
    "松本商店",
    "井上技研",
]
FORMS = ["株式会社", "有限会社", "合同会社", "㈱", "（株）"]
PEOPLE = ["山田太郎", "佐藤花子", "鈴木一郎", "高橋次郎", "田中美咲", "伊藤健太", "渡辺直子"]
FILLER = [
    "について協議した",
    "に関する資料を確認した",
    "の方針を検討する",
    "の期日が指定された",
    "について依頼者と面談した",
    "を相手方に通知した",
    "の準備書面を作成した",
    "に関する証拠を整理した",
    "の和解案が提示された",
    "について意見書を提出した",
    "の主張を整理する",
    "について裁判所に上申した",
    "の見通しを説明した",
]


def document(rng: random.Random) -> tuple[str, str]:
    """A synthetic legal note: ``(title, body)``."""
    words = TOPICS[min(int(rng.expovariate(0.12)), len(TOPICS) - 1)]
    company = rng.choice(COMPANIES)
    form = rng.choice(FORMS)
    party = company if rng.random() < 0.5 else rng.choice(PEOPLE)
    title = f"{rng.choice(words)}（{party}）"
    sentences = []
    for _ in range(rng.randint(9, 20)):
        if rng.random() < 0.45:
            sentences.append(rng.choice(GENERIC))
            continue
        r = rng.random()
        if r < 0.35:
            w = rng.choice(words)
        elif r < 0.6:
            w = rng.choice(rng.choice(TOPICS))
        elif r < 0.9:
            w = f"{form}{company}" if rng.random() < 0.5 else f"{company}{form}"
        else:
            w = rng.choice(PEOPLE)
        sentences.append(w + rng.choice(FILLER) + "。")
    if rng.random() < 0.3:
        sentences.append(f"令和{rng.randint(1, 7)}年(ワ)第{rng.randint(1, 9999)}号。")
    return title, "".join(sentences)


def _pool_entry(seed: int) -> tuple[str, str, str, str, list[str], list[int]]:
    title, body = document(random.Random(seed))
    (chunk,) = index_chunks("", [title, body, ""])  # the indexer's own rows, token added later
    return title, body, normalize_text(title), chunk.search_norm, chunk.lexemes, chunk.offsets


# -- seeding --------------------------------------------------------------------------------

CASES = [
    "SET LOCAL app.current_user_role = 'system'",
    "INSERT INTO parties (tenant_id, id, kind, name)"
    " VALUES (:f, gen_random_uuid(), 'company', '性能測定用依頼者')",
    "INSERT INTO clients (tenant_id, id, party_id, client_code)"
    " SELECT tenant_id, gen_random_uuid(), id, 'C-PERF' FROM parties WHERE tenant_id = :f",
    "INSERT INTO cases (tenant_id, id, title, practice_area, client_id)"
    " SELECT c.tenant_id, gen_random_uuid(), '性能測定事件' || g, 'civil', c.id"
    " FROM clients c CROSS JOIN generate_series(1, :n) g WHERE c.tenant_id = :f",
]


def _seed_firm(
    conn: psycopg.Connection, firm: uuid.UUID, n: int, pool: list[Any], rng: random.Random
) -> None:
    token = tenant_token(firm)
    with conn.transaction():
        conn.execute("SET LOCAL app.current_user_role = 'system'")
        cases = [
            r[0]
            for r in conn.execute("SELECT id FROM cases WHERE tenant_id = %s", (firm,)).fetchall()
        ]
        start = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
        rows = []
        for _ in range(n):
            entry = pool[rng.randrange(len(pool))]
            stamp = start + dt.timedelta(seconds=rng.randrange(5 * 365 * 86400))
            rows.append((new_id(), rng.choice(cases), stamp, entry))
        with conn.cursor().copy(
            "COPY documents (tenant_id, id, case_id, title, description, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for doc_id, case_id, stamp, (title, body, *_rest) in rows:
                copy.write_row((firm, doc_id, case_id, title, body, stamp, stamp))
        with conn.cursor().copy(
            "COPY search_documents (tenant_id, id, document_id, chunk_no, n_chunks, sort_at,"
            " title_norm, search_norm, lexemes, offsets, normalizer_version, case_id, deleted)"
            " FROM STDIN"
        ) as copy:
            for doc_id, case_id, stamp, (_t, _b, title_norm, norm, lexemes, offsets) in rows:
                tsv = " ".join(f"'{token}{lexeme}'" for lexeme in lexemes)
                offs = "{" + ",".join(map(str, offsets)) + "}"
                copy.write_row(
                    (
                        firm,
                        new_id(),
                        doc_id,
                        0,
                        1,
                        stamp,
                        title_norm,
                        norm,
                        tsv,
                        offs,
                        NORMALIZER_VERSION,
                        case_id,
                        False,
                    )
                )
        # Index rows exist already: what the triggers queued is done.
        conn.execute("DELETE FROM search_queue WHERE tenant_id = %s", (firm,))


def seed(h: Any, docs: int, largest: int) -> tuple[uuid.UUID, list[uuid.UUID], dict[str, float]]:
    timings: dict[str, float] = {}
    sizes = [largest] + [OTHER_FIRM] * ((docs - largest) // OTHER_FIRM)
    if docs - largest - OTHER_FIRM * (len(sizes) - 1) > 0:
        sizes.append(docs - largest - OTHER_FIRM * (len(sizes) - 1))
    t0 = time.perf_counter()
    with multiprocessing.Pool(max(1, (os.cpu_count() or 1))) as workers:
        pool = workers.map(_pool_entry, range(min(POOL, docs)), chunksize=500)
    timings["pool_s"] = time.perf_counter() - t0
    firms = []
    t0 = time.perf_counter()
    for i, size in enumerate(sizes):
        firm = new_firm(h.admin_sessions, slug=f"perf-search-{i}", name=f"検索性能事務所{i}").id
        with h.admin_engine.begin() as conn:
            for stmt in CASES:
                conn.execute(text(stmt), {"f": firm, "n": max(1, size // 20)})
        firms.append((firm, size))
    rng = random.Random(7)
    with psycopg.connect(libpq_conninfo(h.admin_url)) as conn:
        conn.execute("DROP INDEX ix_search_documents_lexemes")
        conn.commit()
        for firm, size in firms:
            _seed_firm(conn, firm, size, pool, rng)
        timings["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX ix_search_documents_lexemes ON search_documents USING gin (lexemes)"
        )
        conn.commit()
        timings["gin_build_s"] = time.perf_counter() - t0
        conn.autocommit = True
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE documents, search_documents, cases")
        timings["vacuum_analyze_s"] = time.perf_counter() - t0
    return firms[0][0], [f for f, _ in firms], timings


def measure_drain(h: Any, firm: uuid.UUID, n: int = 2000) -> float:
    """Documents per second the drain indexes (queued by a plain SQL bulk insert)."""
    with h.admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL app.current_user_role = 'system'"))
        conn.execute(
            text(
                "INSERT INTO documents (tenant_id, id, case_id, title, description)"
                " SELECT tenant_id, gen_random_uuid(), case_id, '追加の' || title, description"
                " FROM documents WHERE tenant_id = :f LIMIT :n"
            ),
            {"f": firm, "n": n},
        )
    t0 = time.perf_counter()
    done = 0
    while True:
        with tenant_scope(firm, role="system"), h.app_sessions() as s, s.begin():
            k = search.drain(s, batch_size=500)
        if k == 0:
            break
        done += k
    return done / (time.perf_counter() - t0)


# -- measuring ------------------------------------------------------------------------------


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def _like(q: str) -> tuple[str, dict[str, str]]:
    """The baseline's condition for ``q``: a LIKE per term, NOT LIKE per excluded term."""
    parts, params = [], {}
    alternatives = {a: b for pair in SYNONYMS for a, b in (pair, pair[::-1])}
    for i, term in enumerate(q.split()):
        params[f"p{i}"] = f"%{term.lstrip('-')}%"
        part = f"{_TEXT} LIKE :p{i}"
        if term in alternatives:  # what the search finds: the term or its synonym
            params[f"s{i}"] = f"%{alternatives[term]}%"
            part = f"({part} OR {_TEXT} LIKE :s{i})"
        parts.append(f"NOT {part}" if term.startswith("-") else part)
    return " AND ".join(parts), params


_TEXT = "(title || E'\\n' || coalesce(description, ''))"


def measure(h: Any, firm: uuid.UUID, runs: int, baseline_runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {q: [] for qs in QUERIES.values() for q in qs}
    samples.update({q: [] for q in SHAPES})
    hits: dict[str, int] = {}
    like: dict[str, list[float]] = {q: [] for q in samples}

    # A lawyer's request (no wall of theirs: the wall lookup still runs, once per call).
    lawyer = new_id()
    with tenant_scope(firm, user_id=lawyer), h.app_sessions() as s, s.begin():
        for a, b in SYNONYMS:
            search.synonyms.add(s, a, b)

    def api(q: str) -> float:
        t0 = time.perf_counter()
        with tenant_scope(firm, user_id=lawyer), h.app_sessions() as s, s.begin():
            page = search.documents(s, q, limit=20)
        elapsed = (time.perf_counter() - t0) * 1000
        assert len(page) == (0 if q == SHAPES[-1] else 20), (q, len(page))
        return elapsed

    def baseline(q: str) -> float:
        t0 = time.perf_counter()
        where, params = _like(q)
        with tenant_scope(firm, user_id=lawyer), h.app_sessions() as s, s.begin():
            rows = s.execute(
                text(
                    f"SELECT id, title FROM documents WHERE deleted_at IS NULL AND {where}"
                    " ORDER BY updated_at DESC, id DESC LIMIT 20"
                ),
                params,
            ).all()
        elapsed = (time.perf_counter() - t0) * 1000
        assert len(rows) == (0 if q == SHAPES[-1] else 20), (q, len(rows))
        return elapsed

    with tenant_scope(firm, role="system"), h.app_sessions() as s, s.begin():
        for q in samples:
            where, params = _like(q)
            count = text(f"SELECT count(*) FROM documents WHERE {where}")
            hits[q] = int(s.execute(count, params).scalar_one())
    for q in samples:  # warm-up
        api(q)
        api(q)
    for _ in range(runs):
        for q in samples:
            samples[q].append(api(q))
    for _ in range(baseline_runs):
        for q in samples:
            like[q].append(baseline(q))

    def one(q: str) -> dict[str, Any]:
        return {
            "hits_in_firm": hits[q],
            "p50_ms": statistics.median(samples[q]),
            "p95_ms": _pct(samples[q], 95),
            "like_p50_ms": statistics.median(like[q]),
            "like_p95_ms": _pct(like[q], 95),
        }

    out: dict[str, Any] = {"per_query": {}, "per_length": {}, "shapes": {}}
    for length, qs in QUERIES.items():
        pooled = [x for q in qs for x in samples[q]]
        pooled_like = [x for q in qs for x in like[q]]
        out["per_length"][length] = {
            "p50_ms": statistics.median(pooled),
            "p95_ms": _pct(pooled, 95),
            "like_p50_ms": statistics.median(pooled_like),
            "like_p95_ms": _pct(pooled_like, 95),
        }
        for q in qs:
            out["per_query"][q] = {"chars": length, **one(q)}
    out["shapes"] = {q: one(q) for q in SHAPES}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--largest", type=int, default=None)
    ap.add_argument("--runs", type=int, default=40, help="API calls per query")
    ap.add_argument("--baseline-runs", type=int, default=5, help="LIKE calls per query")
    args = ap.parse_args()
    largest = args.largest or min(args.docs, 100_000)
    result: dict[str, Any] = {
        "docs": args.docs,
        "largest_firm_docs": largest,
        "runs": args.runs,
        "baseline_runs": args.baseline_runs,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.platform()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
    }
    with provide_postgres() as server, migrated_database(server, "search_perf") as h:
        with h.admin_engine.connect() as conn:
            result["postgresql"] = conn.execute(text("SHOW server_version")).scalar()
            result["shared_buffers"] = conn.execute(text("SHOW shared_buffers")).scalar()
        firm, firms, timings = seed(h, args.docs, largest)
        result["firms"] = len(firms)
        result["seed"] = timings
        with h.admin_engine.connect() as conn:
            result["sizes"] = dict(
                conn.execute(
                    text(
                        "SELECT 'search_documents', pg_size_pretty(pg_total_relation_size("
                        "'search_documents')) UNION ALL SELECT 'ix_search_documents_lexemes',"
                        " pg_size_pretty(pg_relation_size('ix_search_documents_lexemes'))"
                        " UNION ALL SELECT 'documents',"
                        " pg_size_pretty(pg_total_relation_size('documents'))"
                    )
                ).all()
            )
        result["load_average_before"] = os.getloadavg()
        result.update(measure(h, firm, args.runs, args.baseline_runs))
        result["load_average_after"] = os.getloadavg()
        result["drain_docs_per_s"] = measure_drain(h, firm)
    print(
        f"search.documents, limit 20, largest firm {largest:,} of {args.docs:,} documents"
        f" ({result['postgresql']}); {args.runs} runs per query, LIKE {args.baseline_runs}"
    )
    print(f"{'query':18} {'chars':>5} {'hits':>7} {'p50':>8} {'p95':>8} {'LIKE p50':>9}")
    for q, r in result["per_query"].items():
        print(
            f"{q:18} {r['chars']:>5} {r['hits_in_firm']:>7} {r['p50_ms']:>7.1f}ms"
            f" {r['p95_ms']:>7.1f}ms {r['like_p50_ms']:>8.1f}ms"
        )
    print("other shapes:")
    for q, r in result["shapes"].items():
        print(
            f"{q:18} {'':>5} {r['hits_in_firm']:>7} {r['p50_ms']:>7.1f}ms"
            f" {r['p95_ms']:>7.1f}ms {r['like_p50_ms']:>8.1f}ms"
        )
    for length, r in result["per_length"].items():
        print(
            f"{length}-character queries: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms;"
            f" LIKE p50 {r['like_p50_ms']:.1f} ms, p95 {r['like_p95_ms']:.1f} ms"
        )
    print(f"drain: {result['drain_docs_per_s']:.0f} documents/s; seed: {result['seed']}")
    print(
        "load average (1, 5, 15 min) before/after measuring:"
        f" {result['load_average_before']} / {result['load_average_after']}"
    )
    path = Path(__file__).parent / "results" / f"search_latency_{args.docs}_{result['date']}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
