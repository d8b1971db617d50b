"""法人番号 (corporate number): normalization and check-digit validation.

Owns the National Tax Agency check-digit rule, in Python and as a PostgreSQL CHECK
expression, so that the application and the database agree on what a valid number is.
The 13 digits are the check digit followed by a 12-digit base.
"""

from __future__ import annotations

import re
import unicodedata

from legal_data.errors import InvalidCorporateNumber

__all__ = [
    "CORPORATE_NUMBER_SQL_CHECK",
    "corporate_number_check_digit",
    "is_valid_corporate_number",
    "normalize_corporate_number",
    "validate_corporate_number",
]

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]")
_BASE12 = re.compile(r"[0-9]{12}")
_DIGITS13 = re.compile(r"[0-9]{13}")


def _weight(position_from_right: int) -> int:
    return 1 if position_from_right % 2 == 1 else 2


def normalize_corporate_number(value: str) -> str:
    """Return ``value`` in NFKC with spaces and hyphens removed (not validated)."""
    # NFKC maps full-width digits to ASCII; hyphen look-alikes survive NFKC, hence the class.
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value))


def corporate_number_check_digit(base12: str) -> int:
    """Check digit for a 12-digit base: ``9 - (sum(P_n * Q_n) mod 9)``, n counted from the right."""
    if not _BASE12.fullmatch(base12):
        raise InvalidCorporateNumber("法人番号 base must be exactly 12 ASCII digits")
    total = sum(_weight(n) * int(d) for n, d in enumerate(reversed(base12), start=1))
    return 9 - total % 9


def validate_corporate_number(value: str) -> str:
    """Return the normalized 13 digits, or raise :class:`InvalidCorporateNumber`."""
    number = normalize_corporate_number(value)
    if not number:
        raise InvalidCorporateNumber("法人番号 is empty")
    if not number.isascii() or not number.isdigit():
        raise InvalidCorporateNumber("法人番号 must contain only digits")
    if not _DIGITS13.fullmatch(number):
        raise InvalidCorporateNumber(f"法人番号 must be 13 digits, got {len(number)}")
    expected = corporate_number_check_digit(number[1:])
    if int(number[0]) != expected:
        raise InvalidCorporateNumber(
            f"法人番号 check digit (first digit) is {number[0]}, expected {expected}"
        )
    return number


def is_valid_corporate_number(value: str) -> bool:
    """True when ``value`` normalizes to a 13-digit 法人番号 with a correct check digit."""
    try:
        validate_corporate_number(value)
    except InvalidCorporateNumber:
        return False
    return True


def _sql_check() -> str:
    # Character k of the 13-char string is base position n = 14 - k from the right.
    terms = " + ".join(f"{_weight(14 - k)} * substr({{col}}, {k}, 1)::int" for k in range(2, 14))
    # mod() rather than %: a literal % in DDL gets doubled by SQLAlchemy's DDL rendering.
    # CASE, unlike AND, guarantees the casts never see non-digits (which would raise, not
    # fail the check). A NULL column yields NULL, so nullable columns keep SQL semantics.
    return (
        "(CASE WHEN {col} IS NULL THEN NULL"
        " WHEN length({col}) = 13 AND {col} ~ '^[0-9]+$'"
        f" THEN substr({{col}}, 1, 1)::int = 9 - mod({terms}, 9)"
        " ELSE false END)"
    )


#: PostgreSQL boolean expression for a CHECK constraint; fill in with ``.format(col=...)``.
#: Uses only immutable built-ins (length, substr, text-to-int casts, ``~``, mod, arithmetic).
CORPORATE_NUMBER_SQL_CHECK: str = _sql_check()
