"""Tests of a difference in proportions from per-arm successes and totals.

* ``"z"`` (default): the two-sample z test; the statistic uses the pooled proportion under the
  null ``p_t == p_c``, the interval the unpooled (Wald) standard error. Same p-value as
  ``prop.test(correct = FALSE)`` in R.
* ``"z-unpooled"``: the Wald z test; the statistic uses the unpooled standard error
  ``sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c)``, the same one as the interval.
* ``"chi2"``: Pearson's chi-square on the 2x2 table; equal to the square of the pooled z, with the
  same p-value. One-sided alternatives use the signed root, as R does.
* ``"chi2-yates"``: chi-square with Yates' continuity correction, and the interval widened by
  the same correction; matches ``prop.test(correct = TRUE)``.
* ``"fisher"``: Fisher's exact test conditional on both margins (``fisher.test``); its p-value is
  exact, the interval shown is the Wald interval of the difference, and the result also carries
  the conditional maximum-likelihood odds ratio with its exact interval, as ``fisher.test``
  returns them.

Every test returns a `ProportionResult`: a `TestResult` that also exposes the pooled and the
unpooled standard errors (and, for Fisher, the odds ratio).

Intervals of the difference are clipped to ``[-1, 1]``, as R clips them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import NDArray

    from ablens.stats.relative import RelativeMethod

__all__ = ["ProportionResult", "ProportionTest", "proportion_test"]

ProportionTest = Literal["z", "chi2", "chi2-yates", "fisher", "z-unpooled"]
PROPORTION_TESTS: tuple[ProportionTest, ...] = ("z", "chi2", "chi2-yates", "fisher", "z-unpooled")


@dataclass(frozen=True)
class ProportionResult(TestResult):
    """A comparison of two proportions: a `TestResult` with the proportions' own numbers.

    Attributes:
        pooled_standard_error: ``sqrt(p (1 - p) (1/n_c + 1/n_t))`` with the pooled proportion
            ``p``: the standard error of the difference under ``p_t == p_c``, used by the "z"
            and chi-square statistics.
        unpooled_standard_error: ``sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c)``: the
            Wald standard error of the interval and of the "z-unpooled" statistic (equal to
            ``standard_error``).
        odds_ratio: Fisher's test only (else None): the conditional maximum-likelihood estimate
            of the odds ratio ``(p_t / (1 - p_t)) / (p_c / (1 - p_c))``, as ``fisher.test``
            returns it (0 or ``inf`` when a cell makes the likelihood monotone).
        odds_ratio_ci_lower: Fisher only: lower bound of the exact conditional interval of the
            odds ratio (0 when one-sided "less" or when treatment successes are at their minimum).
        odds_ratio_ci_upper: Fisher only: upper bound (``inf`` when one-sided "greater" or when
            treatment successes are at their maximum).

    Examples:
        >>> r = proportion_test(100, 1000, 130, 1000)
        >>> round(r.pooled_standard_error, 6), round(r.unpooled_standard_error, 6)
        (0.014267, 0.014251)
        >>> r.odds_ratio is None
        True
    """

    pooled_standard_error: float = math.nan
    unpooled_standard_error: float = math.nan
    odds_ratio: float | None = None
    odds_ratio_ci_lower: float | None = None
    odds_ratio_ci_upper: float | None = None

    @property
    def odds_ratio_ci(self) -> tuple[float, float] | None:
        """The exact interval of the odds ratio (Fisher's test), else None."""
        if self.odds_ratio_ci_lower is None or self.odds_ratio_ci_upper is None:
            return None
        return self.odds_ratio_ci_lower, self.odds_ratio_ci_upper


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
) -> ProportionResult:
    """Compare two proportions from success counts and totals.

    Args:
        control_successes: Units with the outcome in control.
        control_count: Units in control.
        treatment_successes: Units with the outcome in treatment.
        treatment_count: Units in treatment.
        test: "z" (default; pooled standard error in the statistic), "z-unpooled" (Wald:
            unpooled standard error in the statistic), "chi2", "chi2-yates" or "fisher"
            (exact p-value, plus the conditional MLE odds ratio and its exact interval).
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals, in (0, 1).
        margin: Null value of the effect; a non-zero margin is tested with the unpooled
            (Wald) standard error, and only by the "z" and "z-unpooled" tests.
        margin_type: "absolute" (percentage points as a fraction) or "relative".
        relative_method: "delta-log" (default), "delta" or "fieller" interval for the lift.

    Returns:
        The comparison of treatment with control, with both standard errors.

    Raises:
        InputError: On negative or fractional counts, successes above the count, an empty arm,
            a margin with a test that cannot use one, no variation at all (z, chi-square), or
            no variation within either arm ("z-unpooled", or a margin).

    Examples:
        >>> r = proportion_test(100, 1000, 130, 1000)
        >>> round(r.effect, 3), round(r.statistic, 4), round(r.p_value, 6)
        (0.03, 2.1027, 0.035488)
        >>> round(proportion_test(100, 1000, 130, 1000, test="z-unpooled").statistic, 4)
        2.1051
        >>> f = proportion_test(100, 1000, 130, 1000, test="fisher")
        >>> round(f.odds_ratio, 4), [round(b, 4) for b in f.odds_ratio_ci]
        (1.3446, [1.0105, 1.7932])
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
    if margin != 0 and test not in ("z", "z-unpooled"):
        raise InputError(
            f"margin == {margin!r} with test == {test!r}; only the 'z' and 'z-unpooled' tests "
            "take a margin"
        )
    pooled = (x_c + x_t) / (n_c + n_t)
    if test != "fisher" and pooled in (0.0, 1.0):
        raise InputError(
            "every unit has the same outcome in both arms (all successes or none), so the "
            f"{test!r} test is undefined; use test='fisher' or collect more data"
        )
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    unpooled_se = math.sqrt(var_c + var_t)
    uses_unpooled = test == "z-unpooled" or margin != 0
    if uses_unpooled and unpooled_se == 0 and not (margin_type == "relative" and margin != 0):
        raise InputError(
            f"both arms' proportions are 0 or 1 ({x_c}/{n_c}, {x_t}/{n_t}), so the unpooled "
            "standard error is 0 and the Wald statistic is undefined; use test='z' "
            "(pooled, without a margin) or test='fisher'"
        )
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
        test_standard_error=pooled_se if margin == 0 and test != "z-unpooled" else None,
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
    odds_ratio: tuple[float, float, float] | None = None
    if test == "fisher":
        statistic, p_value = math.nan, _fisher(x_c, n_c, x_t, n_t, alternative)
        odds_ratio = _fisher_odds_ratio(x_c, n_c, x_t, n_t, alternative, confidence_level)
    fields = {f: getattr(result, f) for f in result.__dataclass_fields__}
    fields.update(
        effect_ci_lower=lower,
        effect_ci_upper=upper,
        statistic=statistic,
        p_value=p_value,
        df=1.0 if test.startswith("chi2") else None,
        pooled_standard_error=pooled_se,
        unpooled_standard_error=unpooled_se,
    )
    if odds_ratio is not None:
        fields.update(
            odds_ratio=odds_ratio[0],
            odds_ratio_ci_lower=odds_ratio[1],
            odds_ratio_ci_upper=odds_ratio[2],
        )
    return ProportionResult(**fields)


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


class _ConditionalTable:
    """Treatment successes given both margins of the 2x2 table (as in ``fisher.test``).

    Fisher's noncentral hypergeometric distribution, with the odds ratio as its noncentrality.
    Probabilities are computed on the whole support in log space and normalized after adding
    ``log(odds ratio) * support``, so any odds ratio from 1e-300 to 1e300 is safe.
    """

    def __init__(self, x_c: int, n_c: int, x_t: int, n_t: int) -> None:
        import numpy as np  # noqa: PLC0415 - only the exact test needs arrays

        special = special_functions()
        successes, failures = x_t + x_c, (n_t - x_t) + (n_c - x_c)
        self.observed = x_t
        self.low, self.high = max(0, n_t - failures), min(n_t, successes)
        self.support = np.arange(self.low, self.high + 1, dtype=float)
        # log C(successes, s) + log C(failures, n_t - s), up to a constant.
        s = self.support
        self.log_central = (
            -special.gammaln(s + 1)
            - special.gammaln(successes - s + 1)
            - special.gammaln(n_t - s + 1)
            - special.gammaln(failures - n_t + s + 1)
        )
        self._np = np

    def probabilities(self, log_odds_ratio: float) -> NDArray[np.float64]:
        """P(X = s) for every s of the support."""
        np = self._np
        log_p = self.log_central + log_odds_ratio * self.support
        weights = np.exp(log_p - log_p.max())
        return weights / weights.sum()  # type: ignore[no-any-return]

    def mean(self, log_odds_ratio: float) -> float:
        """E[X]."""
        return float(self.probabilities(log_odds_ratio) @ self.support)

    def lower_tail(self, log_odds_ratio: float) -> float:
        """P(X <= observed)."""
        return float(self.probabilities(log_odds_ratio)[: self.observed - self.low + 1].sum())

    def upper_tail(self, log_odds_ratio: float) -> float:
        """P(X >= observed)."""
        return float(self.probabilities(log_odds_ratio)[self.observed - self.low :].sum())


def _log_root(function: Callable[[float], float], target: float) -> float:
    """The log odds ratio where the increasing or decreasing ``function`` equals ``target``.

    The bracket starts at [-1, 1] and doubles until it holds the root (the callers only ask for
    roots that exist), then Brent's method solves to full double precision.
    """
    from scipy.optimize import brentq  # noqa: PLC0415 - scipy.optimize is slow to import

    def gap(u: float) -> float:
        return function(u) - target

    low, high = -1.0, 1.0
    for _ in range(12):  # up to |log odds ratio| = 4096, far beyond any double odds ratio
        if gap(low) * gap(high) <= 0:
            break
        low, high = 2 * low, 2 * high
    else:  # pragma: no cover - the callers only ask for roots inside the support
        raise RuntimeError("no odds ratio solves the equation; please report this table")
    return float(brentq(gap, low, high, xtol=1e-14, rtol=4 * 2.220446049250313e-16, maxiter=500))


def _fisher_odds_ratio(
    x_c: int, n_c: int, x_t: int, n_t: int, alternative: str, confidence_level: float
) -> tuple[float, float, float]:
    """``fisher.test``'s conditional MLE of the odds ratio and its exact interval.

    The MLE solves ``E[X | odds ratio] = x_t``; the interval's bounds solve
    ``P(X >= x_t | lower) = a`` and ``P(X <= x_t | upper) = a`` with ``a = (1 - level) / 2``
    (two-sided) or ``1 - level`` (one-sided), on the log scale. At the edges of the support the
    likelihood is monotone and R's conventions apply: the estimate is 0 at the lowest possible
    count (checked first) and infinite at the highest, the lower bound 0 and the upper infinite.
    """
    table = _ConditionalTable(x_c, n_c, x_t, n_t)
    x, low, high = x_t, table.low, table.high
    if x == low:
        estimate = 0.0
    elif x == high:
        estimate = math.inf
    else:
        estimate = math.exp(_log_root(table.mean, x))
    tail = 1 - confidence_level if alternative != "two-sided" else (1 - confidence_level) / 2
    lower = 0.0 if x == low else math.exp(_log_root(table.upper_tail, tail))
    upper = math.inf if x == high else math.exp(_log_root(table.lower_tail, tail))
    if alternative == "greater":
        upper = math.inf
    elif alternative == "less":
        lower = 0.0
    return estimate, lower, upper
