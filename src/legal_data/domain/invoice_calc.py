"""Invoice arithmetic for a Japanese law firm: consumption tax and 源泉徴収.

Owns the qualified-invoice rule (tax is rounded once per rate per invoice, never per
line) and the withholding on fees paid to an individual lawyer (所得税法204条1項2号).
Amounts are integer yen; rates are :class:`~decimal.Decimal`; floats never appear.
The result satisfies the database's invoice CHECKs: ``total = subtotal + tax - withholding``
and ``0 <= withholding <= subtotal``.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from legal_data.errors import ConfigurationError, InvalidInvoice

__all__ = [
    "MAX_YEN",
    "TAX_CATEGORIES",
    "TAX_RATES",
    "WITHHOLDING_HIGH_RATE",
    "WITHHOLDING_LOW_RATE",
    "WITHHOLDING_THRESHOLD",
    "InvoiceLine",
    "InvoiceTotals",
    "calculate_invoice",
    "consumption_tax",
    "withholding_tax",
]

#: 不課税 (``out_of_scope``) covers pass-through 立替 such as 印紙 and 郵券.
TAX_CATEGORIES: tuple[str, ...] = ("taxable_10", "taxable_8", "exempt", "out_of_scope")

#: Consumption-tax rate of each taxable category; the other categories bear no tax.
TAX_RATES: Mapping[str, Decimal] = MappingProxyType(
    {"taxable_10": Decimal("0.10"), "taxable_8": Decimal("0.08")}
)

WITHHOLDING_THRESHOLD = 1_000_000
WITHHOLDING_LOW_RATE = Decimal("0.1021")
WITHHOLDING_HIGH_RATE = Decimal("0.2042")

#: Largest amount a PostgreSQL ``bigint`` yen column can hold.
MAX_YEN = 2**63 - 1

_ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_FLOOR,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_UP,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
    }
)


@dataclass(frozen=True)
class InvoiceLine:
    """One line: tax-exclusive ``amount`` in yen, its tax category, and whether the
    payer must withhold on it (fees yes; 立替 paid on to third parties usually not)."""

    amount: int
    tax_category: str
    subject_to_withholding: bool

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidInvoice(f"line amount must be integer yen, got {self.amount!r}")
        if self.amount < 0:
            raise InvalidInvoice(f"line amount must be >= 0 yen, got {self.amount}")
        if self.tax_category not in TAX_CATEGORIES:
            raise InvalidInvoice(
                f"unknown tax category {self.tax_category!r}; "
                f"expected one of {', '.join(TAX_CATEGORIES)}"
            )


@dataclass(frozen=True)
class InvoiceTotals:
    """Totals of one invoice, in yen. ``total`` is what the client actually pays."""

    subtotal: int
    #: Tax-exclusive sum per taxable category present on the invoice.
    taxable_by_rate: Mapping[str, int]
    #: Tax per taxable category, each rounded once over its summed base.
    tax_by_rate: Mapping[str, int]
    tax: int
    withholding_base: int
    withholding: int
    total: int


def _apply_rate(amount: int, rate: Decimal, rounding: str) -> int:
    # Enough precision that the product is exact before the single rounding step.
    with decimal.localcontext(prec=len(str(amount)) + 10):
        return int((Decimal(amount) * rate).to_integral_value(rounding=rounding))


def consumption_tax(base: int, tax_category: str, rounding: str = decimal.ROUND_FLOOR) -> int:
    """Tax on the summed tax-exclusive ``base`` of one category, rounded once.

    ``rounding`` is a :mod:`decimal` rounding mode. Floor (切り捨て) is the default because
    it is the usual practice; the invoice rules only require one rounding per rate.
    """
    if rounding not in _ROUNDING_MODES:
        raise ConfigurationError(f"unknown rounding mode {rounding!r}")
    if tax_category not in TAX_CATEGORIES:
        raise InvalidInvoice(f"unknown tax category {tax_category!r}")
    rate = TAX_RATES.get(tax_category)
    return 0 if rate is None else _apply_rate(base, rate, rounding)


def withholding_tax(base: int) -> int:
    """源泉徴収 on ``base`` yen: 10.21% up to 1,000,000, 20.42% on the excess, floored."""
    if base < 0:
        raise InvalidInvoice(f"withholding base must be >= 0 yen, got {base}")
    # The statute gives the upper bracket as (x - 1,000,000) * 20.42% + 102,100, which is
    # what flooring each bracket separately yields because the first bracket is exact.
    low = min(base, WITHHOLDING_THRESHOLD)
    high = base - low
    return _apply_rate(low, WITHHOLDING_LOW_RATE, decimal.ROUND_FLOOR) + _apply_rate(
        high, WITHHOLDING_HIGH_RATE, decimal.ROUND_FLOOR
    )


def calculate_invoice(
    lines: Iterable[InvoiceLine],
    *,
    payer_is_corporation: bool,
    payee_is_individual: bool,
    payer_is_employer: bool = False,
    rounding: str = decimal.ROUND_FLOOR,
) -> InvoiceTotals:
    """Compute subtotal, per-rate tax, withholding and the amount the client pays.

    Withholding applies only when the payee is an individual lawyer (not a 弁護士法人)
    and the payer is a corporation, or an individual who is an employer
    (``payer_is_employer``, i.e. pays salaries and so is a withholding agent). Its base
    is the tax-exclusive sum of lines subject to withholding: the tax is always shown
    separately on a qualified invoice, so it is never part of the base. ``rounding``
    applies to consumption tax only; withholding is always floored to the yen.
    """
    items = list(lines)
    for item in items:
        if not isinstance(item, InvoiceLine):
            raise InvalidInvoice(f"invoice lines must be InvoiceLine, got {type(item).__name__}")

    subtotal = sum(item.amount for item in items)
    if subtotal > MAX_YEN:
        raise InvalidInvoice(f"invoice subtotal {subtotal} exceeds the largest storable amount")

    taxable_by_rate: dict[str, int] = {}
    for item in items:
        if item.tax_category in TAX_RATES:
            taxable_by_rate[item.tax_category] = (
                taxable_by_rate.get(item.tax_category, 0) + item.amount
            )
    tax_by_rate = {
        category: consumption_tax(base, category, rounding)
        for category, base in taxable_by_rate.items()
    }
    tax = sum(tax_by_rate.values())

    withholds = payee_is_individual and (payer_is_corporation or payer_is_employer)
    withholding_base = sum(item.amount for item in items if item.subject_to_withholding)
    withholding = withholding_tax(withholding_base) if withholds else 0

    return InvoiceTotals(
        subtotal=subtotal,
        taxable_by_rate=MappingProxyType(taxable_by_rate),
        tax_by_rate=MappingProxyType(tax_by_rate),
        tax=tax,
        withholding_base=withholding_base,
        withholding=withholding,
        total=subtotal + tax - withholding,
    )
