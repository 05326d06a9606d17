"""Fieller's interval keeps its digits when the means are large and precise (issue 14, defect 1).

The reference is the textbook quadratic solved in 80-digit decimal arithmetic on the exact values
of the float inputs (`decimal`, no rounding until the end), so it cannot share a cancellation
with the code under test.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest

from ablens.stats.relative import fieller_interval

Q = 1.959963984540054


def _reference(
    t: float, c: float, vt: float, vc: float, cov: float, q: float
) -> tuple[float, float]:
    with localcontext() as context:
        context.prec = 80
        t_, c_, vt_, vc_, cov_, q2 = (Decimal(x) for x in (t, c, vt, vc, cov, q))
        q2 = q2 * q2
        a = c_ * c_ - q2 * vc_
        b = t_ * c_ - q2 * cov_
        cc = t_ * t_ - q2 * vt_
        root = (b * b - a * cc).sqrt()
        return float((b - root) / a - 1), float((b + root) / a - 1)


CASES = [
    # (control mean, relative lift, variance of each mean, correlation of the two means)
    (offset, lift, variance, rho)
    for offset in (1.0, 1e3, 1e6, 1e9, 1e12)
    for lift in (2e-10, 1e-4, 0.05)
    for variance in (1e-6 * offset**2 * 1e-8, 9e-4)
    for rho in (0.0, 0.6)
]


@pytest.mark.parametrize(("offset", "lift", "variance", "rho"), CASES)
def test_fieller_matches_a_high_precision_reference(offset, lift, variance, rho) -> None:
    control = offset
    treatment = offset * (1 + lift)
    cov = rho * variance
    expected = _reference(treatment, control, variance, variance, cov, Q)
    if not all(math.isfinite(x) for x in expected):
        pytest.fail(f"reference not finite: {expected}")
    lower, upper = fieller_interval(treatment, control, variance, variance, cov, q=Q)
    width = expected[1] - expected[0]
    # Each bound to 1e-9 of the interval's width (the relative error of a bound near 0 is moot).
    assert lower == pytest.approx(expected[0], abs=1e-9 * width, rel=1e-9)
    assert upper == pytest.approx(expected[1], abs=1e-9 * width, rel=1e-9)


def test_the_reported_case_has_its_width_back() -> None:
    lower, upper = fieller_interval(1e9 + 0.2, 1e9, 9e-4, 9e-4, q=Q)
    expected = _reference(1e9 + 0.2, 1e9, 9e-4, 9e-4, 0.0, Q)
    assert (lower, upper) == pytest.approx(expected, rel=1e-9)
    assert upper - lower == pytest.approx(1.663e-10, rel=1e-3)


def test_a_small_lift_with_precise_means_is_not_six_percent_off() -> None:
    # Means 10.5 vs 10 with standard errors of 1e-7.
    lower, upper = fieller_interval(10.5, 10.0, 1e-14, 1e-14, q=Q)
    expected = _reference(10.5, 10.0, 1e-14, 1e-14, 0.0, Q)
    assert upper - lower == pytest.approx(expected[1] - expected[0], rel=1e-9)
