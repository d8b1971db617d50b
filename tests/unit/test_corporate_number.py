"""法人番号 normalization, check digit, and the SQL CHECK expression's arithmetic."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.domain.corporate_number import (
    CORPORATE_NUMBER_SQL_CHECK,
    corporate_number_check_digit,
    is_valid_corporate_number,
    normalize_corporate_number,
    validate_corporate_number,
)
from legal_data.errors import InvalidCorporateNumber, ValidationError

NTA = "7000012050002"  # 国税庁
TOYOTA = "1180301018771"  # トヨタ自動車株式会社

base12 = st.text(alphabet="0123456789", min_size=12, max_size=12)
digits13 = st.text(alphabet="0123456789", min_size=13, max_size=13)


def reference_check_digit(base: str) -> int:
    """Independent reading of the NTA rule: P_n is the n-th digit from the right."""
    total = 0
    for n in range(1, 13):
        p = int(base[-n])
        q = 1 if n % 2 == 1 else 2
        total += p * q
    return 9 - (total % 9)


@pytest.mark.parametrize("number", [NTA, TOYOTA])
def test_published_numbers_validate(number: str) -> None:
    assert validate_corporate_number(number) == number
    assert is_valid_corporate_number(number)
    assert corporate_number_check_digit(number[1:]) == int(number[0])


@pytest.mark.parametrize(
    "raw",
    [
        "１１８０３０１０１８７７１",
        "1-1803-0101-8771",
        " 1180 3010 18771 ",
        "1‐180301‐018771",
        "1ー180301018771",
    ],
)
def test_normalization_accepts_full_width_spaces_and_hyphens(raw: str) -> None:
    assert normalize_corporate_number(raw) == TOYOTA
    assert validate_corporate_number(raw) == TOYOTA


def test_wrong_check_digit_names_the_rule() -> None:
    with pytest.raises(
        InvalidCorporateNumber, match=r"check digit \(first digit\) is 2, expected 1"
    ):
        validate_corporate_number("2180301018771")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("118030101877", "13 digits, got 12"),
        ("11803010187710", "13 digits, got 14"),
        ("T1180301018771", "only digits"),
        ("118030101877a", "only digits"),
        ("", "empty"),
    ],
)
def test_malformed_numbers_are_rejected(raw: str, message: str) -> None:
    with pytest.raises(InvalidCorporateNumber, match=message):
        validate_corporate_number(raw)
    assert not is_valid_corporate_number(raw)


def test_error_is_a_validation_error_and_value_error() -> None:
    with pytest.raises(ValidationError):
        validate_corporate_number("0000000000000")
    with pytest.raises(ValueError):
        validate_corporate_number("0000000000000")


@pytest.mark.parametrize(
    "bad", ["12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２"]
)
def test_check_digit_requires_twelve_ascii_digits(bad: str) -> None:
    with pytest.raises(InvalidCorporateNumber):
        corporate_number_check_digit(bad)


@given(base12)
def test_check_digit_matches_reference_and_is_never_zero(base: str) -> None:
    digit = corporate_number_check_digit(base)
    assert digit == reference_check_digit(base)
    assert 1 <= digit <= 9


@given(base12)
def test_exactly_one_leading_digit_validates(base: str) -> None:
    valid = [d for d in "0123456789" if is_valid_corporate_number(d + base)]
    assert valid == [str(reference_check_digit(base))]


def _eval(node: ast.AST, number: str) -> int | bool:
    """Evaluate the translated arithmetic, allowing only what the SQL may contain."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Subscript):  # s[k]: one digit of the number
        assert isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)
        return int(number[node.slice.value])
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, number), _eval(node.right, number)
        ops = {
            ast.Add: int.__add__,
            ast.Sub: int.__sub__,
            ast.Mult: int.__mul__,
            ast.Mod: int.__mod__,
        }
        return ops[type(node.op)](left, right)
    if isinstance(node, ast.Compare) and [type(op) for op in node.ops] == [ast.Eq]:
        return _eval(node.left, number) == _eval(node.comparators[0], number)
    raise AssertionError(f"unexpected SQL construct {ast.dump(node)}")


def _sql_as_python(number: str) -> bool:
    """Evaluate CORPORATE_NUMBER_SQL_CHECK's text for one value, translated to Python."""
    sql = CORPORATE_NUMBER_SQL_CHECK
    guard = "WHEN length({col}) = 13 AND {col} ~ '^[0-9]+$' THEN "
    assert sql.startswith("(CASE WHEN {col} IS NULL THEN NULL ")
    assert guard in sql and sql.endswith(" ELSE false END)")
    if not (len(number) == 13 and re.fullmatch("[0-9]+", number)):
        return False
    arithmetic = sql.split(guard, 1)[1].removesuffix(" ELSE false END)")
    # SQL substr is 1-based; SQL and Python agree on the precedence of %, *, +, - and =.
    translated = re.sub(
        r"substr\(\{col\}, (\d+), 1\)::int", lambda m: f"s[{int(m[1]) - 1}]", arithmetic
    )
    translated = re.sub(r"mod\((.+), 9\)", r"(\1) % 9", translated)
    translated = translated.replace(" = ", " == ")
    assert "{col}" not in translated and "substr" not in translated
    result = _eval(ast.parse(translated, mode="eval").body, number)
    assert isinstance(result, bool)
    return result


@given(digits13)
def test_sql_check_arithmetic_agrees_with_python(number: str) -> None:
    assert _sql_as_python(number) == is_valid_corporate_number(number)


@given(base12)
def test_sql_check_accepts_every_valid_number(base: str) -> None:
    number = str(reference_check_digit(base)) + base
    assert _sql_as_python(number) is True


@pytest.mark.parametrize("number", [NTA, TOYOTA, "2180301018771", "118030101877", "11803010187a1"])
def test_sql_check_on_known_values(number: str) -> None:
    assert _sql_as_python(number) == is_valid_corporate_number(number)


def test_sql_check_uses_only_immutable_builtins_and_formats_cleanly() -> None:
    functions = set(re.findall(r"([a-z_]+)\s*\(", CORPORATE_NUMBER_SQL_CHECK.lower()))
    assert functions <= {"substr", "length", "mod"}
    rendered = CORPORATE_NUMBER_SQL_CHECK.format(col="corporate_number")
    assert "{" not in rendered and "}" not in rendered
    assert rendered.count("substr(corporate_number, ") == 13
