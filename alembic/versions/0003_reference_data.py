"""Reference data: Japanese courts (裁判所・支部) and 事件記録符号.

A data migration with real values. It only inserts rows it owns (by primary key),
so re-running it after a partial failure or on a database that already has extra
courts is safe; the downgrade removes exactly these rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (code, seat name, prefecture, high court code)
_SEATS = [
    ("sapporo", "札幌", "北海道", "sapporo"),
    ("hakodate", "函館", "北海道", "sapporo"),
    ("asahikawa", "旭川", "北海道", "sapporo"),
    ("kushiro", "釧路", "北海道", "sapporo"),
    ("aomori", "青森", "青森県", "sendai"),
    ("morioka", "盛岡", "岩手県", "sendai"),
    ("sendai", "仙台", "宮城県", "sendai"),
    ("akita", "秋田", "秋田県", "sendai"),
    ("yamagata", "山形", "山形県", "sendai"),
    ("fukushima", "福島", "福島県", "sendai"),
    ("mito", "水戸", "茨城県", "tokyo"),
    ("utsunomiya", "宇都宮", "栃木県", "tokyo"),
    ("maebashi", "前橋", "群馬県", "tokyo"),
    ("saitama", "さいたま", "埼玉県", "tokyo"),
    ("chiba", "千葉", "千葉県", "tokyo"),
    ("tokyo", "東京", "東京都", "tokyo"),
    ("yokohama", "横浜", "神奈川県", "tokyo"),
    ("niigata", "新潟", "新潟県", "tokyo"),
    ("kofu", "甲府", "山梨県", "tokyo"),
    ("nagano", "長野", "長野県", "tokyo"),
    ("shizuoka", "静岡", "静岡県", "tokyo"),
    ("toyama", "富山", "富山県", "nagoya"),
    ("kanazawa", "金沢", "石川県", "nagoya"),
    ("fukui", "福井", "福井県", "nagoya"),
    ("gifu", "岐阜", "岐阜県", "nagoya"),
    ("nagoya", "名古屋", "愛知県", "nagoya"),
    ("tsu", "津", "三重県", "nagoya"),
    ("otsu", "大津", "滋賀県", "osaka"),
    ("kyoto", "京都", "京都府", "osaka"),
    ("osaka", "大阪", "大阪府", "osaka"),
    ("kobe", "神戸", "兵庫県", "osaka"),
    ("nara", "奈良", "奈良県", "osaka"),
    ("wakayama", "和歌山", "和歌山県", "osaka"),
    ("tottori", "鳥取", "鳥取県", "hiroshima"),
    ("matsue", "松江", "島根県", "hiroshima"),
    ("okayama", "岡山", "岡山県", "hiroshima"),
    ("hiroshima", "広島", "広島県", "hiroshima"),
    ("yamaguchi", "山口", "山口県", "hiroshima"),
    ("tokushima", "徳島", "徳島県", "takamatsu"),
    ("takamatsu", "高松", "香川県", "takamatsu"),
    ("matsuyama", "松山", "愛媛県", "takamatsu"),
    ("kochi", "高知", "高知県", "takamatsu"),
    ("fukuoka", "福岡", "福岡県", "fukuoka"),
    ("saga", "佐賀", "佐賀県", "fukuoka"),
    ("nagasaki", "長崎", "長崎県", "fukuoka"),
    ("kumamoto", "熊本", "熊本県", "fukuoka"),
    ("oita", "大分", "大分県", "fukuoka"),
    ("miyazaki", "宮崎", "宮崎県", "fukuoka"),
    ("kagoshima", "鹿児島", "鹿児島県", "fukuoka"),
    ("naha", "那覇", "沖縄県", "fukuoka"),
]
_HIGH = {
    "sapporo": ("札幌", "北海道"),
    "sendai": ("仙台", "宮城県"),
    "tokyo": ("東京", "東京都"),
    "nagoya": ("名古屋", "愛知県"),
    "osaka": ("大阪", "大阪府"),
    "hiroshima": ("広島", "広島県"),
    "takamatsu": ("高松", "香川県"),
    "fukuoka": ("福岡", "福岡県"),
}
# (code, court name, branch, kind, prefecture, parent)
_BRANCHES = [
    ("ip-high", "知的財産高等裁判所", None, "high", "東京都", "tokyo-high"),
    ("sendai-high-akita", "仙台高等裁判所", "秋田支部", "high", "秋田県", "sendai-high"),
    ("nagoya-high-kanazawa", "名古屋高等裁判所", "金沢支部", "high", "石川県", "nagoya-high"),
    ("hiroshima-high-okayama", "広島高等裁判所", "岡山支部", "high", "岡山県", "hiroshima-high"),
    ("hiroshima-high-matsue", "広島高等裁判所", "松江支部", "high", "島根県", "hiroshima-high"),
    ("fukuoka-high-miyazaki", "福岡高等裁判所", "宮崎支部", "high", "宮崎県", "fukuoka-high"),
    ("fukuoka-high-naha", "福岡高等裁判所", "那覇支部", "high", "沖縄県", "fukuoka-high"),
    (
        "tokyo-district-tachikawa",
        "東京地方裁判所",
        "立川支部",
        "district",
        "東京都",
        "tokyo-district",
    ),
    (
        "yokohama-district-kawasaki",
        "横浜地方裁判所",
        "川崎支部",
        "district",
        "神奈川県",
        "yokohama-district",
    ),
    ("osaka-district-sakai", "大阪地方裁判所", "堺支部", "district", "大阪府", "osaka-district"),
    ("tokyo-family-tachikawa", "東京家庭裁判所", "立川支部", "family", "東京都", "tokyo-family"),
    ("tokyo-summary", "東京簡易裁判所", None, "summary", "東京都", None),
    ("osaka-summary", "大阪簡易裁判所", None, "summary", "大阪府", None),
    ("yokohama-summary", "横浜簡易裁判所", None, "summary", "神奈川県", None),
    ("nagoya-summary", "名古屋簡易裁判所", None, "summary", "愛知県", None),
]
# (code, court kind, description, field)
_CASE_TYPE_CODES = [
    ("ワ", "district", "通常訴訟（地方裁判所第一審）", "民事"),
    ("レ", "district", "控訴（簡易裁判所判決に対する地方裁判所への控訴）", "民事"),
    ("ヨ", "district", "民事保全命令", "民事"),
    ("メ", "district", "民事調停（地方裁判所）", "民事"),
    ("モ", "district", "民事雑事件", "民事"),
    ("ヌ", "district", "不動産強制執行（強制競売）", "民事"),
    ("ケ", "district", "担保不動産競売", "民事"),
    ("ル", "district", "債権執行", "民事"),
    ("ヲ", "district", "執行雑事件", "民事"),
    ("フ", "district", "破産", "民事"),
    ("再", "district", "民事再生", "民事"),
    ("ミ", "district", "会社更生", "民事"),
    ("労", "district", "労働審判", "民事"),
    ("行ウ", "district", "行政訴訟（第一審）", "行政"),
    ("わ", "district", "刑事公判（地方裁判所）", "刑事"),
    ("む", "district", "刑事雑事件（令状等）", "刑事"),
    ("ハ", "summary", "通常訴訟（簡易裁判所）", "民事"),
    ("ノ", "summary", "民事調停（簡易裁判所）", "民事"),
    ("ろ", "summary", "刑事公判（簡易裁判所）", "刑事"),
    ("ネ", "high", "控訴（高等裁判所）", "民事"),
    ("ラ", "high", "抗告（高等裁判所）", "民事"),
    ("行コ", "high", "行政控訴", "行政"),
    ("う", "high", "刑事控訴", "刑事"),
    ("オ", "supreme", "上告", "民事"),
    ("受", "supreme", "上告受理申立て", "民事"),
    ("ク", "supreme", "特別抗告", "民事"),
    ("あ", "supreme", "刑事上告", "刑事"),
    ("家イ", "family", "家事調停", "家事"),
    ("家", "family", "家事審判", "家事"),
    ("家ホ", "family", "人事訴訟", "家事"),
]

courts = sa.table(
    "courts",
    sa.column("code", sa.Text),
    sa.column("name", sa.Text),
    sa.column("branch", sa.Text),
    sa.column("kind", sa.Text),
    sa.column("prefecture", sa.Text),
    sa.column("parent_code", sa.Text),
)
case_type_codes = sa.table(
    "case_type_codes",
    sa.column("code", sa.Text),
    sa.column("court_kind", sa.Text),
    sa.column("description", sa.Text),
    sa.column("field", sa.Text),
)


def _court_rows() -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = [
        {
            "code": "supreme",
            "name": "最高裁判所",
            "branch": None,
            "kind": "supreme",
            "prefecture": "東京都",
            "parent_code": None,
        }
    ]
    for code, (seat, pref) in _HIGH.items():
        rows.append(
            {
                "code": f"{code}-high",
                "name": f"{seat}高等裁判所",
                "branch": None,
                "kind": "high",
                "prefecture": pref,
                "parent_code": "supreme",
            }
        )
    for code, seat, pref, high in _SEATS:
        for kind, suffix in (("district", "地方裁判所"), ("family", "家庭裁判所")):
            rows.append(
                {
                    "code": f"{code}-{kind}",
                    "name": f"{seat}{suffix}",
                    "branch": None,
                    "kind": kind,
                    "prefecture": pref,
                    "parent_code": f"{high}-high",
                }
            )
    for code, name, branch, kind, pref, parent in _BRANCHES:
        rows.append(
            {
                "code": code,
                "name": name,
                "branch": branch,
                "kind": kind,
                "prefecture": pref,
                "parent_code": parent,
            }
        )
    return rows


def upgrade() -> None:
    op.bulk_insert(courts, _court_rows())
    op.bulk_insert(
        case_type_codes,
        [
            {"code": c, "court_kind": k, "description": d, "field": f}
            for c, k, d, f in _CASE_TYPE_CODES
        ],
    )


def downgrade() -> None:
    op.execute(
        case_type_codes.delete().where(
            case_type_codes.c.code.in_([c for c, *_ in _CASE_TYPE_CODES])
        )
    )
    codes = [row["code"] for row in _court_rows()]
    # Children first: branches point at their parent court.
    op.execute(courts.delete().where(courts.c.code.in_(codes), courts.c.parent_code.is_not(None)))
    op.execute(courts.delete().where(courts.c.code.in_(codes)))
