"""Dataset profiles and the firm-size distribution.

``large`` is the issue's dataset: 1,000 firms whose sizes follow a power law (size of the
k-th firm ∝ k^-s, s solved so that the largest firm holds exactly 100,000 of the
1,000,000 cases), and per case on average 2 parties, 1 document, 5 time entries,
0.5 invoices and 10 audit rows (over 24 months). ``small`` is a hundredth of every row
count; it keeps 100 firms (not 10) so that its size distribution is still skewed — with
10 firms and the largest at a tenth of the cases, every firm would be the same size.

Everything else per firm is derived from its case count (users, lawyers, clients …),
see :class:`FirmPlan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    firms: int
    cases: int
    largest: int
    min_cases: int = 5

    # Per case, on average (the ratios; the rest is what the queries need).
    parties_per_case: int = 2
    documents_per_case: float = 1.0
    time_entries_per_case: int = 5
    invoices_per_case: float = 0.5
    audit_rows_per_case: int = 10
    communications_per_case: float = 1.0
    tasks_per_case: float = 1.0
    expenses_per_case: float = 0.5


PROFILES = {
    "large": Profile("large", firms=1000, cases=1_000_000, largest=100_000),
    "small": Profile("small", firms=100, cases=10_000, largest=1_000),
}


def firm_sizes(profile: Profile) -> list[int]:
    """Case counts per firm, largest first, summing exactly to ``profile.cases``."""
    n, total, largest = profile.firms, profile.cases, profile.largest

    def sizes(s: float) -> list[int]:
        return [max(profile.min_cases, round(largest * k**-s)) for k in range(1, n + 1)]

    lo, hi = 0.0, 4.0
    for _ in range(200):  # bisection on the exponent: a larger s gives smaller firms
        mid = (lo + hi) / 2
        if sum(sizes(mid)) > total:
            lo = mid
        else:
            hi = mid
    out = sizes(hi)
    # Rounding leaves a few cases over or under: take them from / give them to the
    # mid-sized firms, one each, so the head (the measured firm) stays exact.
    diff = total - sum(out)
    k = 1
    while diff:
        step = 1 if diff > 0 else -1
        if out[k] + step >= profile.min_cases:
            out[k] += step
            diff -= step
        k = k % (n - 1) + 1
    assert sum(out) == total and out[0] == largest
    return out


@dataclass(frozen=True)
class FirmPlan:
    """Row counts of one firm, all derived from its number of cases."""

    firm_no: int  # 1 = the largest
    cases: int

    @property
    def users(self) -> int:
        return max(3, math.ceil(self.cases / 250))

    @property
    def lawyers(self) -> int:
        return max(2, math.ceil(self.users * 0.6))

    @property
    def clients(self) -> int:
        return math.ceil(self.cases / 2)

    @property
    def parties(self) -> int:
        return 2 * self.cases

    @property
    def slug(self) -> str:
        return f"perf-{self.firm_no:04d}"

    @property
    def name(self) -> str:
        return f"性能測定{self.firm_no:04d}法律事務所"

    @property
    def firm_form(self) -> str:
        # Every third firm is a 弁護士法人 (no 源泉徴収 on its invoices).
        return "professional_corporation" if self.firm_no % 3 == 0 else "individual"


def plans(profile: Profile) -> list[FirmPlan]:
    return [FirmPlan(i + 1, c) for i, c in enumerate(firm_sizes(profile))]
