"""The sample firms of the demo: lawyers, clients, cases with 事件番号 and parties."""

from __future__ import annotations

from dataclasses import dataclass, field

from legal_data.domain.corporate_number import corporate_number_check_digit


def sample_corporate_number(base12: str) -> str:
    """A well-formed 法人番号 for sample companies (check digit computed, not a real firm)."""
    return f"{corporate_number_check_digit(base12)}{base12}"


@dataclass(frozen=True)
class SampleCase:
    title: str
    practice_area: str
    client: str
    opposing: str
    court_code: str
    case_number: str  # 事件番号 as written on court papers
    status: str = "open"


@dataclass(frozen=True)
class SampleFirm:
    slug: str
    name: str
    name_kana: str
    firm_form: str
    qualified_invoice_number: str
    lawyers: list[tuple[str, str, str, str]]  # (name, kana, email, 登録番号)
    companies: dict[str, str] = field(default_factory=dict)  # name -> 法人番号
    people: dict[str, str] = field(default_factory=dict)  # name -> kana
    cases: list[SampleCase] = field(default_factory=list)


SAKURA = SampleFirm(
    slug="sakura-law",
    name="弁護士法人さくら綜合法律事務所",
    name_kana="ベンゴシホウジンサクラソウゴウホウリツジムショ",
    firm_form="professional_corporation",
    qualified_invoice_number="T" + sample_corporate_number("011101012345"),
    lawyers=[
        ("佐藤 一郎", "サトウ イチロウ", "sato@sakura-law.example.jp", "31234"),
        ("鈴木 花子", "スズキ ハナコ", "suzuki@sakura-law.example.jp", "45678"),
    ],
    companies={
        "株式会社青葉商事": sample_corporate_number("010401023456"),
        "みどり建設株式会社": sample_corporate_number("010001034567"),
    },
    people={"田中 太郎": "タナカ タロウ", "田中 恵子": "タナカ ケイコ"},
    cases=[
        SampleCase(
            "売買代金請求事件",
            "civil",
            "株式会社青葉商事",
            "みどり建設株式会社",
            "tokyo-district",
            "令和6年(ワ)第1234号",
        ),
        SampleCase(
            "夫婦関係調整調停事件",
            "family",
            "田中 太郎",
            "田中 恵子",
            "tokyo-family",
            "令和7年(家イ)第567号",
        ),
    ],
)

AOBA = SampleFirm(
    slug="aoba-law",
    name="あおば法律事務所",
    name_kana="アオバホウリツジムショ",
    firm_form="individual",
    qualified_invoice_number="T" + sample_corporate_number("012301045678"),
    lawyers=[("高橋 健", "タカハシ ケン", "takahashi@aoba-law.example.jp", "52345")],
    companies={
        "有限会社ひかり工業": sample_corporate_number("012402056789"),
        "株式会社さくら不動産": sample_corporate_number("012001067890"),
    },
    cases=[
        SampleCase(
            "建物明渡請求事件",
            "real_estate",
            "株式会社さくら不動産",
            "有限会社ひかり工業",
            "osaka-district",
            "令和7年(ワ)第2468号",
        ),
    ],
)

SAMPLE_FIRMS = (SAKURA, AOBA)
