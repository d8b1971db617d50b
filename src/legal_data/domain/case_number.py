"""事件番号 (court case numbers): parsing, validation and the canonical text form.

Owns the era calendar (令和/平成/昭和) and the shape ``令和5年(ワ)第1234号``. The court
(and 支部) is not part of the number; it is stored separately. The era is kept as given,
so 平成31年 and 令和元年 stay distinct even though both are 2019.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from legal_data.errors import InvalidCaseNumber

__all__ = [
    "ERAS",
    "ERA_FIRST_GREGORIAN_YEAR",
    "ERA_LAST_YEAR",
    "CaseNumber",
    "format_case_number",
    "gregorian_year",
    "parse_case_number",
]

ERAS: tuple[str, ...] = ("令和", "平成", "昭和")

ERA_FIRST_GREGORIAN_YEAR: Mapping[str, int] = MappingProxyType(
    {"令和": 2019, "平成": 1989, "昭和": 1926}
)

#: Last era year that exists; ``None`` for the current era.
ERA_LAST_YEAR: Mapping[str, int | None] = MappingProxyType({"令和": None, "平成": 31, "昭和": 64})

# Hiragana, katakana and kanji: civil codes are katakana, criminal hiragana,
# family/administrative a kanji prefix (家イ, 行ウ), newer procedures kanji (労).
_CODE = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff\u3005]{1,4}")
_ERA = re.compile("|".join(ERAS))
_YEAR = re.compile(r"([0-9]+|元)年")
_CODE_PART = re.compile(r"\(([^()]*)\)")
_NUMBER_PART = re.compile(r"第([0-9]+)号")


def _check_era_year(era: str, era_year: int) -> None:
    if era not in ERA_FIRST_GREGORIAN_YEAR:
        raise InvalidCaseNumber(f"unknown era {era!r}; expected one of {', '.join(ERAS)}")
    if isinstance(era_year, bool) or not isinstance(era_year, int) or era_year < 1:
        raise InvalidCaseNumber(f"era year must be an integer >= 1, got {era_year!r}")
    last = ERA_LAST_YEAR[era]
    if last is not None and era_year > last:
        raise InvalidCaseNumber(f"{era} ended in its year {last}; {era}{era_year}年 does not exist")


def gregorian_year(era: str, era_year: int) -> int:
    """Gregorian year of ``era_year`` of ``era`` (令和1 = 2019, 平成1 = 1989, 昭和1 = 1926)."""
    _check_era_year(era, era_year)
    return ERA_FIRST_GREGORIAN_YEAR[era] + era_year - 1


@dataclass(frozen=True)
class CaseNumber:
    """One 事件番号 without its court; invalid parts raise :class:`InvalidCaseNumber`."""

    era: str
    era_year: int
    code: str
    number: int

    def __post_init__(self) -> None:
        _check_era_year(self.era, self.era_year)
        if not isinstance(self.code, str) or not _CODE.fullmatch(self.code):
            raise InvalidCaseNumber(
                f"事件記録符号 must be 1-4 kana/kanji characters, got {self.code!r}"
            )
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise InvalidCaseNumber(f"case number must be an integer >= 1, got {self.number!r}")

    @property
    def gregorian_year(self) -> int:
        return gregorian_year(self.era, self.era_year)

    def __str__(self) -> str:
        return format_case_number(self)


def format_case_number(cn: CaseNumber) -> str:
    """Canonical text, e.g. ``令和5年(ワ)第1234号``; year 1 is written 元年."""
    year = "元" if cn.era_year == 1 else str(cn.era_year)
    return f"{cn.era}{year}年({cn.code})第{cn.number}号"


def parse_case_number(text: str) -> CaseNumber:
    """Parse ``令和5年(ワ)第1234号``; full-width digits, brackets and spaces are accepted."""
    if not isinstance(text, str):
        raise InvalidCaseNumber(f"事件番号 must be a string, got {type(text).__name__}")
    # NFKC folds full-width digits and brackets and ㋿ to 令和; spaces carry no meaning here.
    s = "".join(unicodedata.normalize("NFKC", text).split())
    if not s:
        raise InvalidCaseNumber("事件番号 is empty")

    era = _ERA.match(s)
    if era is None:
        raise InvalidCaseNumber(f"事件番号 must start with an era ({', '.join(ERAS)}): {text!r}")
    pos = era.end()
    year = _YEAR.match(s, pos)
    if year is None:
        raise InvalidCaseNumber(
            f"事件番号 needs a year such as 5年 or 元年 after the era: {text!r}"
        )
    pos = year.end()
    code = _CODE_PART.match(s, pos)
    if code is None:
        raise InvalidCaseNumber(f"事件番号 needs the 事件記録符号 in brackets, e.g. (ワ): {text!r}")
    pos = code.end()
    number = _NUMBER_PART.match(s, pos)
    if number is None:
        raise InvalidCaseNumber(f"事件番号 needs 第<digits>号 after the code: {text!r}")
    if number.end() != len(s):
        raise InvalidCaseNumber(f"unexpected text after 号 in 事件番号: {text!r}")

    era_year = 1 if year.group(1) == "元" else int(year.group(1))
    return CaseNumber(era.group(), era_year, code.group(1), int(number.group(1)))
