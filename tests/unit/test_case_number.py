"""事件番号 parsing, formatting, era arithmetic and their error messages."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.domain.case_number import (
    ERA_LAST_YEAR,
    ERAS,
    CaseNumber,
    format_case_number,
    gregorian_year,
    parse_case_number,
)
from legal_data.errors import InvalidCaseNumber, ValidationError

_FULL_WIDTH = str.maketrans("0123456789()", "０１２３４５６７８９（）")


def test_eras() -> None:
    assert ERAS == ("令和", "平成", "昭和")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和5年(ワ)第1234号", CaseNumber("令和", 5, "ワ", 1234)),
        ("令和５年（ワ）第１２３４号", CaseNumber("令和", 5, "ワ", 1234)),
        (" 令和 5 年 ( ワ ) 第 1234 号 ", CaseNumber("令和", 5, "ワ", 1234)),
        ("令和\u30005年(ワ)第1234号", CaseNumber("令和", 5, "ワ", 1234)),
        ("令和元年(家イ)第1号", CaseNumber("令和", 1, "家イ", 1)),
        ("令和1年(家イ)第1号", CaseNumber("令和", 1, "家イ", 1)),
        ("㋿2年(ネ受)第3号", CaseNumber("令和", 2, "ネ受", 3)),
        ("平成31年(わ)第10号", CaseNumber("平成", 31, "わ", 10)),
        ("昭和64年(行ウ)第007号", CaseNumber("昭和", 64, "行ウ", 7)),
        ("令和6年(労)第12号", CaseNumber("令和", 6, "労", 12)),
        ("令和6年(ﾖ)第12号", CaseNumber("令和", 6, "ヨ", 12)),
    ],
)
def test_parse(text: str, expected: CaseNumber) -> None:
    assert parse_case_number(text) == expected


@pytest.mark.parametrize(
    ("cn", "text"),
    [
        (CaseNumber("令和", 5, "ワ", 1234), "令和5年(ワ)第1234号"),
        (CaseNumber("令和", 1, "ハ", 1), "令和元年(ハ)第1号"),
        (CaseNumber("平成", 1, "ラ", 99), "平成元年(ラ)第99号"),
        (CaseNumber("平成", 31, "家イ", 5), "平成31年(家イ)第5号"),
    ],
)
def test_format_and_str(cn: CaseNumber, text: str) -> None:
    assert format_case_number(cn) == text
    assert str(cn) == text


def test_full_width_input_formats_canonically() -> None:
    assert str(parse_case_number("令和５年（ワ）第０１２３４号")) == "令和5年(ワ)第1234号"


@pytest.mark.parametrize(
    ("era", "era_year", "year"),
    [
        ("令和", 1, 2019),
        ("令和", 5, 2023),
        ("平成", 1, 1989),
        ("平成", 31, 2019),
        ("昭和", 1, 1926),
        ("昭和", 64, 1989),
    ],
)
def test_gregorian_year(era: str, era_year: int, year: int) -> None:
    assert gregorian_year(era, era_year) == year
    assert CaseNumber(era, era_year, "ワ", 1).gregorian_year == year


def test_heisei_31_and_reiwa_1_are_both_2019_but_stay_distinct() -> None:
    heisei = parse_case_number("平成31年(ワ)第1号")
    reiwa = parse_case_number("令和元年(ワ)第1号")
    assert heisei.gregorian_year == reiwa.gregorian_year == 2019
    assert heisei != reiwa


@pytest.mark.parametrize(
    ("era", "era_year", "message"),
    [
        ("平成", 32, "平成 ended in its year 31"),
        ("昭和", 65, "昭和 ended in its year 64"),
        ("令和", 0, "integer >= 1"),
        ("大正", 5, "unknown era"),
    ],
)
def test_era_year_bounds(era: str, era_year: int, message: str) -> None:
    with pytest.raises(InvalidCaseNumber, match=message):
        gregorian_year(era, era_year)
    with pytest.raises(InvalidCaseNumber, match=message):
        CaseNumber(era, era_year, "ワ", 1)


def test_era_last_years() -> None:
    assert dict(ERA_LAST_YEAR) == {"令和": None, "平成": 31, "昭和": 64}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("大正5年(ワ)第1号", "must start with an era"),
        ("5年(ワ)第1号", "must start with an era"),
        ("令和(ワ)第1号", "needs a year"),
        ("令和五年(ワ)第1号", "needs a year"),
        ("令和5年ワ第1号", "in brackets"),
        ("令和5年(ワ第1号", "in brackets"),
        ("令和5年(ワ)1号", "第<digits>号"),
        ("令和5年(ワ)第1", "第<digits>号"),
        ("令和5年(ワ)第号", "第<digits>号"),
        ("令和5年(ワ)第1号です", "unexpected text after 号"),
        ("令和5年()第1号", "事件記録符号 must be 1-4"),
        ("令和5年(ABC)第1号", "事件記録符号 must be 1-4"),
        ("令和5年(ワワワワワ)第1号", "事件記録符号 must be 1-4"),
        ("令和5年(ワ)第0号", "case number must be an integer >= 1"),
        ("平成32年(ワ)第1号", "平成 ended"),
        ("令和0年(ワ)第1号", "era year must be"),
    ],
)
def test_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidCaseNumber, match=message):
        parse_case_number(text)


def test_parse_error_is_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse_case_number("nonsense")


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidCaseNumber, match="must be a string"):
        parse_case_number(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"number": True}, {"number": 1.0}, {"era_year": True}, {"code": "W"}, {"code": "ワ1"}],
)
def test_constructor_rejects_bad_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"era": "令和", "era_year": 5, "code": "ワ", "number": 1}
    fields.update(kwargs)
    with pytest.raises(InvalidCaseNumber):
        CaseNumber(**fields)  # type: ignore[arg-type]


def test_case_number_is_frozen() -> None:
    cn = CaseNumber("令和", 5, "ワ", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cn.number = 2  # type: ignore[misc]


_code_chars = st.sampled_from(list("ワハヨネラオモクレイウケヌ受わあしに家行労審"))


@st.composite
def case_numbers(draw: st.DrawFn) -> CaseNumber:
    era = draw(st.sampled_from(ERAS))
    last = ERA_LAST_YEAR[era] or 99
    return CaseNumber(
        era=era,
        era_year=draw(st.integers(1, last)),
        code="".join(draw(st.lists(_code_chars, min_size=1, max_size=4))),
        number=draw(st.integers(1, 10**7)),
    )


@given(case_numbers())
def test_round_trip(cn: CaseNumber) -> None:
    text = format_case_number(cn)
    assert parse_case_number(text) == cn
    assert parse_case_number(text.translate(_FULL_WIDTH)) == cn
    assert format_case_number(parse_case_number(text)) == text
