"""Tests of a difference in proportions from per-arm successes and totals.

* ``"z"`` (default): the two-sample z test; the statistic uses the pooled proportion under the
  null ``p_t == p_c``, the interval the unpooled (Wald) standard error. Same p-value as
  ``prop.test(correct = FALSE)`` in R.
* ``"chi2"``: Pearson's chi-square on the 2x2 table; equal to the square of the pooled z, with the
  same p-value. One-sided alternatives use the signed root, as R does.
* ``"chi2-yates"``: chi-square with Yates' continuity correction, and the interval widened by
  the same correction; matches ``prop.test(correct = TRUE)``.
* ``"fisher"``: Fisher's exact test conditional on both margins (``fisher.test``); its p-value is
  exact, the interval shown is the Wald interval of the difference.

Intervals of the difference are clipped to ``[-1, 1]``, as R clips them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from ablens._validation import check_choice, check_count
from ablens.errors import InputError
from ablens.stats._inference import (
    NORMAL,
    check_alternative,
    check_confidence_level,
    check_margin,
    critical_value,
    special_functions,
)
from ablens.stats.result import MarginType, TestResult, difference_test

if TYPE_CHECKING:
    from ablens.stats.relative import RelativeMethod

__all__ = ["ProportionTest", "proportion_test"]

ProportionTest = Literal["z", "chi2", "chi2-yates", "fisher"]
PROPORTION_TESTS: tuple[ProportionTest, ...] = ("z", "chi2", "chi2-yates", "fisher")


def _check_arm(prefix: str, successes: object, count: object) -> tuple[int, int]:
    x = check_count(f"{prefix}_successes", successes)
    n = check_count(f"{prefix}_count", count)
    if n < 1:
        raise InputError(f"{prefix}_count == 0, must be >= 1; the arm has no units")
    if x > n:
        raise InputError(f"{prefix}_successes == {x}, must be <= {prefix}_count == {n}")
    return x, n


def proportion_test(
    control_successes: int,
    control_count: int,
    treatment_successes: int,
    treatment_count: int,
    *,
    test: ProportionTest = "z",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """Compare two proportions from success counts and totals.

    Args:
        control_successes: Units with the outcome in control.
        control_count: Units in control.
        treatment_successes: Units with the outcome in treatment.
        treatment_count: Units in treatment.
        test: "z" (default), "chi2", "chi2-yates" or "fisher".
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals, in (0, 1).
        margin: Null value of the effect; a non-zero margin is tested with the unpooled
            (Wald) standard error, and only by the "z" test.
        margin_type: "absolute" (percentage points as a fraction) or "relative".
        relative_method: "delta-log" (default), "delta" or "fieller" interval for the lift.

    Returns:
        The comparison of treatment with control.

    Raises:
        InputError: On negative or fractional counts, successes above the count, an empty arm,
            a margin with a test that cannot use one, or no variation at all (z, chi-square).

    Examples:
        >>> r = proportion_test(100, 1000, 130, 1000)
        >>> round(r.effect, 3), round(r.statistic, 4), round(r.p_value, 6)
        (0.03, 2.1027, 0.035488)
    """
    check_choice("test", test, PROPORTION_TESTS)
    check_choice("margin_type", margin_type, ("absolute", "relative"))
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_margin(margin)
    x_c, n_c = _check_arm("control", control_successes, control_count)
    x_t, n_t = _check_arm("treatment", treatment_successes, treatment_count)
    p_c, p_t = x_c / n_c, x_t / n_t
    var_c, var_t = p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t
    if margin != 0 and test != "z":
        raise InputError(
            f"margin == {margin!r} with test == {test!r}; only the 'z' test takes a margin"
        )
    pooled = (x_c + x_t) / (n_c + n_t)
    if test != "fisher" and pooled in (0.0, 1.0):
        raise InputError(
            "every unit has the same outcome in both arms (all successes or none), so the "
            f"{test!r} test is undefined; use test='fisher' or collect more data"
        )
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    result = difference_test(
        test=test,
        control=p_c,
        treatment=p_t,
        var_control=var_c,
        var_treatment=var_t,
        reference=NORMAL,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
        test_standard_error=pooled_se if margin == 0 else None,
    )
    lower = max(result.effect_ci_lower, -1.0)
    upper = min(result.effect_ci_upper, 1.0)
    statistic, p_value = result.statistic, result.p_value
    if test == "chi2":
        statistic = statistic**2
    elif test == "chi2-yates":
        statistic, p_value, lower, upper = _yates(
            x_c, n_c, x_t, n_t, alternative, confidence_level, result.effect
        )
    elif test == "fisher":
        statistic, p_value = math.nan, _fisher(x_c, n_c, x_t, n_t, alternative)
    return _replace(result, lower, upper, statistic, p_value)


def _replace(
    result: TestResult, lower: float, upper: float, statistic: float, p_value: float
) -> TestResult:
    from dataclasses import replace  # noqa: PLC0415 - tiny helper, keep module namespace clean

    return replace(
        result,
        effect_ci_lower=lower,
        effect_ci_upper=upper,
        statistic=statistic,
        p_value=p_value,
        df=1.0 if result.test.startswith("chi2") else None,
    )


def _yates(
    x_c: int,
    n_c: int,
    x_t: int,
    n_t: int,
    alternative: str,
    confidence_level: float,
    delta: float,
) -> tuple[float, float, float, float]:
    """Continuity-corrected chi-square, its p-value and interval, as ``prop.test`` defines them."""
    special = special_functions()
    inverse_sum = 1 / n_c + 1 / n_t
    correction = min(0.5, abs(delta) / inverse_sum)
    pooled = (x_c + x_t) / (n_c + n_t)
    statistic = 0.0
    for x, n in ((x_t, n_t), (x_c, n_c)):
        for observed, expected in ((x, n * pooled), (n - x, n * (1 - pooled))):
            statistic += (abs(observed - expected) - correction) ** 2 / expected
    p_t, p_c = x_t / n_t, x_c / n_c
    q = critical_value(NORMAL, confidence_level, alternative)  # type: ignore[arg-type]
    width = q * math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    width += correction * inverse_sum
    if alternative == "two-sided":
        p_value = float(special.chdtrc(1, statistic))
        return statistic, p_value, max(delta - width, -1.0), min(delta + width, 1.0)
    signed = math.copysign(math.sqrt(statistic), delta)
    if alternative == "greater":
        return statistic, float(special.ndtr(-signed)), max(delta - width, -1.0), 1.0
    return statistic, float(special.ndtr(signed)), -1.0, min(delta + width, 1.0)


def _fisher(x_c: int, n_c: int, x_t: int, n_t: int, alternative: str) -> float:
    from scipy import stats  # noqa: PLC0415 - scipy.stats is slow to import; only here

    table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
    return float(stats.fisher_exact(table, alternative=alternative).pvalue)  # type: ignore[arg-type]
