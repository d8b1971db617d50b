"""個人番号 (My Number): the check digit of the 12-digit individual number.

The number itself is stored encrypted (``parties.my_number``); this module only knows
its shape, for sample data and for validating input before it is sealed. Normalization
for search is the blind index's identifier normalizer.
"""

from __future__ import annotations

import re
import unicodedata

_BASE11 = re.compile(r"[0-9]{11}")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]")


def my_number_check_digit(base11: str) -> int:
    """Check digit of the 11 leading digits (施行令第8条): with P_n the n-th digit from
    the right and Q_n = n + 1 for n <= 6, n - 5 otherwise, 11 - (sum P_n Q_n mod 11),
    or 0 when the remainder is 0 or 1."""
    if not _BASE11.fullmatch(base11):
        raise ValueError("a 個人番号 has 11 digits before its check digit")
    total = sum(
        int(digit) * (n + 1 if n <= 6 else n - 5)
        for n, digit in enumerate(reversed(base11), start=1)
    )
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(value: str) -> bool:
    """Whether ``value`` (full-width digits and separators allowed) is 12 digits with a
    valid check digit. The message of any error would echo nothing: this returns a bool."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
    return (
        len(digits) == 12
        and digits.isascii()
        and digits.isdigit()
        and my_number_check_digit(digits[:11]) == int(digits[11])
    )


def sample_my_number(n: int) -> str:
    """A well-formed 個人番号 derived from ``n`` (check digit computed; for test data)."""
    base = f"{n % 10**11:011d}"
    return f"{base}{my_number_check_digit(base)}"
