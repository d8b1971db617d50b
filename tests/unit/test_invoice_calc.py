"""Invoice arithmetic: per-rate tax rounded once, 源泉徴収, and the totals identity."""

from __future__ import annotations

import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legal_data.domain.invoice_calc import (
    TAX_CATEGORIES,
    TAX_RATES,
    InvoiceLine,
    InvoiceTotals,
    calculate_invoice,
    consumption_tax,
    withholding_tax,
)
from legal_data.errors import ConfigurationError, InvalidInvoice, ValidationError


def corp_to_lawyer(lines: list[InvoiceLine], rounding: str = decimal.ROUND_FLOOR) -> InvoiceTotals:
    """A corporate client paying an individual lawyer: the case where withholding applies."""
    return calculate_invoice(
        lines, payer_is_corporation=True, payee_is_individual=True, rounding=rounding
    )


def fee(amount: int, category: str = "taxable_10") -> InvoiceLine:
    return InvoiceLine(amount, category, subject_to_withholding=True)


def disbursement(amount: int) -> InvoiceLine:
    return InvoiceLine(amount, "out_of_scope", subject_to_withholding=False)


def test_categories_and_rates() -> None:
    assert TAX_CATEGORIES == ("taxable_10", "taxable_8", "exempt", "out_of_scope")
    assert dict(TAX_RATES) == {
        "taxable_10": decimal.Decimal("0.10"),
        "taxable_8": decimal.Decimal("0.08"),
    }


def test_worked_example_100000_fee() -> None:
    totals = corp_to_lawyer([fee(100_000)])
    assert totals == InvoiceTotals(
        subtotal=100_000,
        taxable_by_rate={"taxable_10": 100_000},
        tax_by_rate={"taxable_10": 10_000},
        tax=10_000,
        withholding_base=100_000,
        withholding=10_210,
        total=99_790,
    )


def test_worked_example_1500000_fee() -> None:
    totals = corp_to_lawyer([fee(1_500_000)])
    assert totals.withholding == 204_200
    assert totals.tax == 150_000
    assert totals.total == 1_500_000 + 150_000 - 204_200


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (0, 0),
        (1, 0),
        (10, 1),
        (99_999, 10_209),
        (1_000_000, 102_100),
        (1_000_001, 102_100),
        (1_000_005, 102_101),
        (1_500_000, 204_200),
        (10_000_000, 1_939_900),
    ],
)
def test_withholding_brackets(base: int, expected: int) -> None:
    assert withholding_tax(base) == expected


def test_withholding_rejects_negative_base() -> None:
    with pytest.raises(InvalidInvoice):
        withholding_tax(-1)


@pytest.mark.parametrize(
    ("payer_is_corporation", "payee_is_individual", "payer_is_employer", "withheld"),
    [
        (True, True, False, True),
        (True, False, False, False),  # 弁護士法人 receives the fee
        (False, True, False, False),  # private individual client
        (False, True, True, True),  # individual employer is a withholding agent
        (False, False, True, False),
    ],
)
def test_who_withholds(
    payer_is_corporation: bool, payee_is_individual: bool, payer_is_employer: bool, withheld: bool
) -> None:
    totals = calculate_invoice(
        [fee(100_000)],
        payer_is_corporation=payer_is_corporation,
        payee_is_individual=payee_is_individual,
        payer_is_employer=payer_is_employer,
    )
    assert totals.withholding == (10_210 if withheld else 0)
    assert totals.total == 110_000 - totals.withholding


def test_disbursements_bear_no_tax_and_no_withholding() -> None:
    totals = corp_to_lawyer([fee(100_000), disbursement(3_000)])
    assert totals.subtotal == 103_000
    assert dict(totals.tax_by_rate) == {"taxable_10": 10_000}
    assert totals.withholding_base == 100_000
    assert totals.withholding == 10_210
    assert totals.total == 103_000 + 10_000 - 10_210


def test_tax_rounded_once_per_rate_not_per_line() -> None:
    # Per line: floor(8.4) * 3 = 24. Per invoice: floor(315 * 0.08) = floor(25.2) = 25.
    totals = corp_to_lawyer([fee(105, "taxable_8")] * 3)
    assert dict(totals.tax_by_rate) == {"taxable_8": 25}


def test_mixed_rates_are_summed_separately() -> None:
    lines = [fee(1_005), fee(999, "taxable_8"), fee(5, "taxable_10"), fee(700, "exempt")]
    totals = calculate_invoice(lines, payer_is_corporation=False, payee_is_individual=True)
    assert dict(totals.taxable_by_rate) == {"taxable_10": 1_010, "taxable_8": 999}
    assert dict(totals.tax_by_rate) == {"taxable_10": 101, "taxable_8": 79}
    assert totals.tax == 180
    assert totals.subtotal == 2_709
    assert totals.total == 2_889


def test_rounding_mode_is_a_parameter_defaulting_to_floor() -> None:
    lines = [fee(1_005)]  # 100.5 yen of tax
    assert corp_to_lawyer(lines).tax == 100
    half_up = corp_to_lawyer(lines, rounding=decimal.ROUND_HALF_UP)
    assert half_up.tax == 101
    assert consumption_tax(1_005, "taxable_10", decimal.ROUND_CEILING) == 101


def test_rounding_mode_does_not_touch_withholding() -> None:
    lines = [fee(99_999)]  # 10,209.8979 yen withheld
    up = corp_to_lawyer(lines, rounding=decimal.ROUND_CEILING)
    assert up.withholding == 10_209


def test_unknown_rounding_mode() -> None:
    with pytest.raises(ConfigurationError):
        corp_to_lawyer([fee(1)], rounding="ROUND_SIDEWAYS")


def test_empty_invoice_is_all_zero() -> None:
    totals = corp_to_lawyer([])
    assert (totals.subtotal, totals.tax, totals.withholding, totals.total) == (0, 0, 0, 0)
    assert dict(totals.tax_by_rate) == {}


def test_result_mappings_are_read_only() -> None:
    totals = corp_to_lawyer([fee(100)])
    with pytest.raises(TypeError):
        totals.tax_by_rate["taxable_10"] = 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("amount", "category", "message"),
    [
        (-1, "taxable_10", ">= 0"),
        (1.5, "taxable_10", "integer yen"),
        (True, "taxable_10", "integer yen"),
        (100, "taxable_5", "unknown tax category"),
        (100, "TAXABLE_10", "unknown tax category"),
    ],
)
def test_invalid_lines(amount: object, category: str, message: str) -> None:
    with pytest.raises(InvalidInvoice, match=message) as info:
        InvoiceLine(amount, category, subject_to_withholding=True)  # type: ignore[arg-type]
    assert isinstance(info.value, ValidationError)


def test_non_line_items_are_rejected() -> None:
    with pytest.raises(InvalidInvoice):
        corp_to_lawyer([(100, "taxable_10")])  # type: ignore[list-item]


def test_unstorable_subtotal_is_rejected() -> None:
    with pytest.raises(InvalidInvoice, match="exceeds"):
        corp_to_lawyer([fee(2**62), fee(2**62)])


lines_st = st.lists(
    st.builds(
        InvoiceLine,
        amount=st.integers(0, 50_000_000),
        tax_category=st.sampled_from(TAX_CATEGORIES),
        subject_to_withholding=st.booleans(),
    ),
    max_size=12,
)


@given(lines_st, st.booleans(), st.booleans(), st.booleans())
def test_invariants(
    lines: list[InvoiceLine], corporation: bool, individual: bool, employer: bool
) -> None:
    totals = calculate_invoice(
        lines,
        payer_is_corporation=corporation,
        payee_is_individual=individual,
        payer_is_employer=employer,
    )
    assert totals.subtotal == sum(line.amount for line in lines)
    if not (individual and (corporation or employer)):
        assert totals.withholding == 0
    assert 0 <= totals.withholding <= totals.withholding_base <= totals.subtotal
    assert totals.total == totals.subtotal + totals.tax - totals.withholding
    assert totals.tax == sum(totals.tax_by_rate.values())
    assert totals.total >= 0


@given(lines_st)
def test_tax_is_floor_of_summed_base_per_rate(lines: list[InvoiceLine]) -> None:
    totals = corp_to_lawyer(lines)
    percent = {"taxable_10": 10, "taxable_8": 8}
    for category, pct in percent.items():
        base = sum(line.amount for line in lines if line.tax_category == category)
        present = any(line.tax_category == category for line in lines)
        assert totals.taxable_by_rate.get(category, 0) == base
        assert (category in totals.tax_by_rate) == present
        assert totals.tax_by_rate.get(category, 0) == base * pct // 100


@given(lines_st, st.data())
def test_monotonic_in_amounts(lines: list[InvoiceLine], data: st.DataObject) -> None:
    if not lines:
        return
    i = data.draw(st.integers(0, len(lines) - 1))
    extra = data.draw(st.integers(0, 5_000_000))
    bumped = list(lines)
    bumped[i] = InvoiceLine(
        lines[i].amount + extra, lines[i].tax_category, lines[i].subject_to_withholding
    )
    before = corp_to_lawyer(lines)
    after = corp_to_lawyer(bumped)
    assert after.subtotal == before.subtotal + extra
    assert after.tax >= before.tax
    assert after.withholding >= before.withholding
    assert after.total >= before.total


@given(st.integers(0, 10**12), st.integers(0, 10**6))
def test_withholding_monotonic_and_bounded(base: int, extra: int) -> None:
    assert withholding_tax(base) <= withholding_tax(base + extra)
    assert withholding_tax(base) * 10_000 <= base * 2_042
