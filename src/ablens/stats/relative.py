"""Intervals for the relative effect (lift) ``treatment / control - 1``.

Two methods, both using the variances (and covariance) of the two estimators:

* ``"delta-log"``: the delta method on the log ratio. With ``r = t / c``,
  ``Var(log r) ~ Var(t)/t^2 + Var(c)/c^2 - 2 Cov(t, c)/(t c)``; the interval
  ``exp(log r +/- q se) - 1`` respects the sign of a ratio and is not symmetric. Needs ``t, c > 0``.
* ``"fieller"``: Fieller's theorem (Fieller, 1954). The set of ratios ``rho`` with
  ``(t - rho c)^2 <= q^2 Var(t - rho c)`` is an interval when the control estimate is
  significantly away from zero (``c^2 > q^2 Var(c)``), and unbounded otherwise.

Dividing the absolute interval by the control mean is *not* offered: it ignores the control
mean's own uncertainty and under-covers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from ablens._validation import check_choice
from ablens.errors import InputError

if TYPE_CHECKING:
    from ablens.stats._inference import Alternative

__all__ = ["RelativeMethod", "fieller_interval", "log_ratio_interval", "relative_interval"]

RelativeMethod = Literal["delta-log", "fieller"]
RELATIVE_METHODS: tuple[RelativeMethod, ...] = ("delta-log", "fieller")


def log_ratio_standard_error(
    treatment: float, control: float, var_treatment: float, var_control: float, cov: float = 0.0
) -> float:
    """Standard error of ``log(treatment / control)`` by the delta method."""
    if treatment <= 0 or control <= 0:
        raise InputError(
            f"the delta-log relative interval needs positive estimates, got treatment == "
            f"{treatment!r} and control == {control!r}; use relative_method='fieller'"
        )
    # Divide twice rather than by a square, which underflows for tiny estimates.
    variance = (
        var_treatment / treatment / treatment
        + var_control / control / control
        - 2 * cov / treatment / control
    )
    return math.sqrt(max(variance, 0.0))


def _expm1(x: float) -> float:
    """``exp(x) - 1``, infinite instead of overflowing (tiny samples give huge log bounds)."""
    return math.expm1(x) if x < 709.0 else math.inf


def log_ratio_interval(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    cov: float = 0.0,
    *,
    q: float,
    alternative: Alternative = "two-sided",
) -> tuple[float, float]:
    """Interval for ``treatment / control - 1`` from the delta method on the log ratio.

    Args:
        treatment: Treatment estimate ``t`` (> 0).
        control: Control estimate ``c`` (> 0).
        var_treatment: Variance of the treatment estimator (``s^2 / n`` for a mean).
        var_control: Variance of the control estimator.
        cov: Covariance of the two estimators (0 for independent arms).
        q: Critical value (e.g. 1.96 for a two-sided 95% interval).
        alternative: Which sides are bounded.

    Returns:
        ``(lower, upper)`` of the relative effect; an unbounded side is infinite (or -1).

    Examples:
        >>> lo, hi = log_ratio_interval(1.1, 1.0, 0.0025, 0.0025, q=1.959963984540054)
        >>> round(lo, 6), round(hi, 6)
        (-0.03645, 0.255772)
    """
    se = log_ratio_standard_error(treatment, control, var_treatment, var_control, cov)
    log_ratio = math.log(treatment / control)
    lower = _expm1(log_ratio - q * se) if alternative != "less" else -1.0
    upper = _expm1(log_ratio + q * se) if alternative != "greater" else math.inf
    return lower, upper


def fieller_interval(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    cov: float = 0.0,
    *,
    q: float,
    alternative: Alternative = "two-sided",
) -> tuple[float, float]:
    """Interval for ``treatment / control - 1`` by Fieller's theorem.

    Solves ``(c^2 - q^2 Vc) rho^2 - 2 (t c - q^2 Ctc) rho + (t^2 - q^2 Vt) = 0`` for the ratio
    ``rho``. When ``c^2 <= q^2 Vc`` the control estimate is not distinguishable from zero and the
    confidence set is unbounded: the interval returned is ``(-inf, inf)``.

    Examples:
        >>> lo, hi = fieller_interval(1.1, 1.0, 0.0025, 0.0025, q=1.959963984540054)
        >>> round(lo, 6), round(hi, 6)
        (-0.036111, 0.257444)

        Means of 1e9 with tiny variances keep their digits (the textbook form returns a
        zero-width interval here):

        >>> lo, hi = fieller_interval(1e9 + 0.2, 1e9, 9e-4, 9e-4, q=1.959963984540054)
        >>> f"{lo:.4e}", f"{hi:.4e}"
        ('1.1685e-10', '2.8315e-10')
    """
    q2 = q * q
    a = control**2 - q2 * var_control
    if a <= 0:
        return -math.inf, math.inf
    # The textbook discriminant b^2 - a c (b = t c - q^2 Ctc, c' = t^2 - q^2 Vt) subtracts two
    # numbers of size t^2 c^2 and loses every digit when the means are large and precise (1e9
    # plus noise). Expanded, the t^2 c^2 terms cancel exactly, leaving
    #   b^2 - a c' = q^2 (c^2 Vt - 2 t c Ctc + t^2 Vc - q^2 (Vt Vc - Ctc^2)),
    # a variance-sized sum. Likewise rho - 1 = (b - a -+ root) / a with
    #   b - a = c (t - c) + q^2 (Vc - Ctc),
    # so the lift never goes through a ratio near 1.
    spread = (
        control**2 * var_treatment
        - 2.0 * treatment * control * cov
        + treatment**2 * var_control
        - q2 * (var_treatment * var_control - cov * cov)
    )
    # a > 0 implies the discriminant is >= 0 in exact arithmetic; clamp rounding.
    root = q * math.sqrt(max(spread, 0.0))
    centre = control * (treatment - control) + q2 * (var_control - cov)
    lower = (centre - root) / a if alternative != "less" else -math.inf
    upper = (centre + root) / a if alternative != "greater" else math.inf
    return lower, upper


def relative_interval(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    cov: float = 0.0,
    *,
    q: float,
    alternative: Alternative = "two-sided",
    method: RelativeMethod = "delta-log",
) -> tuple[float, float]:
    """Interval for the relative effect by the chosen ``method`` ("delta-log" or "fieller")."""
    check_choice("relative_method", method, RELATIVE_METHODS)
    if control == 0:
        raise InputError(
            "the control estimate is 0, so a relative effect is undefined; report the "
            "absolute effect instead"
        )
    function = log_ratio_interval if method == "delta-log" else fieller_interval
    return function(
        treatment, control, var_treatment, var_control, cov, q=q, alternative=alternative
    )
