"""The relative effect (lift) ``(treatment - control) / |control|``: its value, SE and interval.

The lift is the change as a fraction of the control's size. Dividing by ``|control|`` rather than
``control`` keeps its sign equal to the sign of the absolute effect: a control mean of -10 and a
treatment mean of -5 is a lift of +50% (the metric went up), where ``t / c - 1`` would say -50%.
For a positive control the two definitions coincide.

Three interval methods, all from the estimators' variances (and covariance):

* ``"delta-log"``: the delta method on the log ratio. With ``r = t / c``,
  ``Var(log r) ~ Var(t)/t^2 + Var(c)/c^2 - 2 Cov(t, c)/(t c)``; the interval
  ``exp(log r +/- q se) - 1`` respects the sign of a ratio and is not symmetric. Needs ``t`` and
  ``c`` of the same sign (both positive, or both negative).
* ``"delta"``: the linear delta method on the lift itself, symmetric ``lift +/- q se``; the
  definition GrowthBook and most dashboards use, offered so their numbers can be reproduced.
* ``"fieller"``: Fieller's theorem (Fieller, 1954). The set of ratios ``rho`` with
  ``(t - rho c)^2 <= q^2 Var(t - rho c)`` is an interval when the control estimate is
  significantly away from zero (``c^2 > q^2 Var(c)``); otherwise it is two half-lines or the
  whole line, and `fieller_set` says which.

Dividing the absolute interval by the control mean is *not* offered: it ignores the control
mean's own uncertainty and under-covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ablens._validation import check_choice
from ablens.errors import InputError

if TYPE_CHECKING:
    from ablens.stats._inference import Alternative

__all__ = [
    "FiellerSet",
    "FiellerShape",
    "RelativeMethod",
    "fieller_interval",
    "fieller_set",
    "lift",
    "lift_standard_error",
    "linear_lift_interval",
    "log_ratio_interval",
    "relative_interval",
    "relative_statistic",
]

RelativeMethod = Literal["delta-log", "delta", "fieller"]
RELATIVE_METHODS: tuple[RelativeMethod, ...] = ("delta-log", "delta", "fieller")

#: The shape of Fieller's confidence set for the lift.
FiellerShape = Literal["bounded", "two-rays", "real-line"]


def lift(treatment: float, control: float, effect: float | None = None) -> float:
    """The lift ``(treatment - control) / |control|``; NaN when the control is 0.

    Args:
        treatment: Treatment estimate.
        control: Control estimate.
        effect: ``treatment - control`` when known more precisely than the subtraction.

    Examples:
        >>> lift(11.0, 10.0)
        0.1
        >>> lift(-5.0, -10.0)  # the metric went up by half the control's size
        0.5
    """
    if control == 0:
        return math.nan
    return (treatment - control if effect is None else effect) / abs(control)


def _check_control(control: float, fix: str = "report the absolute effect instead") -> None:
    """Refuse a lift at a zero control estimate, where it is undefined."""
    if control == 0:
        raise InputError(f"the control estimate is 0, so a relative effect is undefined; {fix}")


def _flipped(alternative: Alternative) -> Alternative:
    return (
        "less" if alternative == "greater" else "greater" if alternative == "less" else alternative
    )


def _on_lift_scale(lower: float, upper: float, control: float) -> tuple[float, float]:
    """Bounds of ``t / c - 1`` as bounds of ``(t - c) / |c|`` (negated and swapped if ``c < 0``)."""
    return (lower, upper) if control > 0 else (-upper, -lower)


def log_ratio_standard_error(
    treatment: float, control: float, var_treatment: float, var_control: float, cov: float = 0.0
) -> float:
    """Standard error of ``log(treatment / control)`` by the delta method.

    The ratio must be positive: both estimates positive, or both negative.
    """
    if treatment == 0 or control == 0 or (treatment > 0) != (control > 0):
        raise InputError(
            f"the delta-log relative interval needs estimates of the same sign, got treatment "
            f"== {treatment!r} and control == {control!r}; use relative_method='fieller' or "
            "'delta'"
        )
    # Divide twice rather than by a square, which underflows for tiny estimates.
    variance = (
        var_treatment / treatment / treatment
        + var_control / control / control
        - 2 * cov / treatment / control
    )
    return math.sqrt(max(variance, 0.0))


def lift_standard_error(
    treatment: float, control: float, var_treatment: float, var_control: float, cov: float = 0.0
) -> float:
    """Standard error of the lift ``(t - c) / |c|`` by the (linear) delta method.

    ``Var = V_t / c^2 + t^2 V_c / c^4 - 2 t C_tc / c^3``, the same for either sign of ``c``.
    NaN when the control estimate is 0.

    Examples:
        >>> round(lift_standard_error(11.0, 10.0, 0.25, 0.25), 6)
        0.074330
    """
    if control == 0:
        return math.nan
    ratio = treatment / control
    variance = (var_treatment + ratio * ratio * var_control - 2.0 * ratio * cov) / control / control
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
    """Interval for the lift ``(t - c) / |c|`` from the delta method on the log ratio.

    Args:
        treatment: Treatment estimate ``t``.
        control: Control estimate ``c``, of the same sign as ``t``.
        var_treatment: Variance of the treatment estimator (``s^2 / n`` for a mean).
        var_control: Variance of the control estimator.
        cov: Covariance of the two estimators (0 for independent arms).
        q: Critical value (e.g. 1.96 for a two-sided 95% interval).
        alternative: Which sides are bounded.

    Returns:
        ``(lower, upper)`` of the lift; an unbounded side is infinite, or the bound a ratio's
        positivity implies (-1 for a positive control, +1 for a negative one).

    Examples:
        >>> lo, hi = log_ratio_interval(1.1, 1.0, 0.0025, 0.0025, q=1.959963984540054)
        >>> round(lo, 6), round(hi, 6)
        (-0.03645, 0.255772)
        >>> lo, hi = log_ratio_interval(-1.1, -1.0, 0.0025, 0.0025, q=1.959963984540054)
        >>> round(lo, 6), round(hi, 6)  # the metric fell by 10% of the control's size
        (-0.255772, 0.03645)
    """
    se = log_ratio_standard_error(treatment, control, var_treatment, var_control, cov)
    log_ratio = math.log(treatment / control)
    ratio_alternative = alternative if control > 0 else _flipped(alternative)
    lower = _expm1(log_ratio - q * se) if ratio_alternative != "less" else -1.0
    upper = _expm1(log_ratio + q * se) if ratio_alternative != "greater" else math.inf
    return _on_lift_scale(lower, upper, control)


def linear_lift_interval(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    cov: float = 0.0,
    *,
    q: float,
    alternative: Alternative = "two-sided",
    effect: float | None = None,
) -> tuple[float, float]:
    """Interval ``lift +/- q se`` for the lift ``(t - c) / |c|`` by the linear delta method.

    Symmetric around the lift, as GrowthBook reports it; see `lift_standard_error`.

    Examples:
        >>> lo, hi = linear_lift_interval(1.1, 1.0, 0.0025, 0.0025, q=1.959963984540054)
        >>> round(lo, 6), round(hi, 6)
        (-0.045685, 0.245685)
    """
    _check_control(control)
    estimate = lift(treatment, control, effect)
    half_width = q * lift_standard_error(treatment, control, var_treatment, var_control, cov)
    lower = estimate - half_width if alternative != "less" else -math.inf
    upper = estimate + half_width if alternative != "greater" else math.inf
    return lower, upper


@dataclass(frozen=True)
class FiellerSet:
    """Fieller's confidence set for the lift, and its shape.

    Attributes:
        shape: ``"bounded"`` (an interval: the control is significantly away from 0),
            ``"two-rays"`` (every lift except an open gap) or ``"real-line"`` (every lift).
        lower: Lower bound of the lift when bounded (or the unused side's ``-inf``), else
            ``-inf``.
        upper: Upper bound of the lift when bounded (or the unused side's ``inf``), else ``inf``.
        gap: For ``"two-rays"``, the excluded lifts ``(gap_lower, gap_upper)``; else None.
    """

    shape: FiellerShape
    lower: float
    upper: float
    gap: tuple[float, float] | None = None


def fieller_set(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    cov: float = 0.0,
    *,
    q: float,
    alternative: Alternative = "two-sided",
) -> FiellerSet:
    """Fieller's confidence set for the lift ``(t - c) / |c|``, with its shape.

    Solves ``(c^2 - q^2 Vc) rho^2 - 2 (t c - q^2 Ctc) rho + (t^2 - q^2 Vt) <= 0`` for the ratio
    ``rho = t / c`` and reports the set on the lift scale (``rho - 1``, negated for a negative
    control). When ``c^2 > q^2 Vc`` the set is an interval. Otherwise the control estimate is
    not distinguishable from zero and the set is unbounded: all lifts outside a gap
    (``"two-rays"``, when the quadratic has real roots) or every lift (``"real-line"``); the
    bounds are then ``(-inf, inf)`` and `FiellerSet.gap` holds the excluded lifts.

    Examples:
        >>> fieller_set(1.1, 1.0, 0.0025, 0.0025, q=1.959963984540054).shape
        'bounded'
        >>> s = fieller_set(0.3, 0.05, 0.0025, 0.0025, q=1.959963984540054)
        >>> s.shape, [round(b, 4) for b in s.gap]
        ('two-rays', [-7.0835, 0.8604])
        >>> fieller_set(0.05, 0.05, 0.0025, 0.0025, q=1.959963984540054).shape
        'real-line'

        In the middle case the data exclude lifts between -708% and +86%: the treatment is
        distinguishable from zero, the control is not.
    """
    _check_control(control)
    q2 = q * q
    a = control**2 - q2 * var_control
    # The textbook discriminant b^2 - a k (b = t c - q^2 Ctc, k = t^2 - q^2 Vt) subtracts two
    # numbers of size t^2 c^2 and loses every digit when the means are large and precise (1e9
    # plus noise). Expanded, the t^2 c^2 terms cancel exactly, leaving
    #   b^2 - a k = q^2 (c^2 Vt - 2 t c Ctc + t^2 Vc - q^2 (Vt Vc - Ctc^2)),
    # a variance-sized sum. Likewise rho - 1 = (b - a -+ root) / a with
    #   b - a = c (t - c) + q^2 (Vc - Ctc),
    # so the lift never goes through a ratio near 1.
    spread = (
        control**2 * var_treatment
        - 2.0 * treatment * control * cov
        + treatment**2 * var_control
        - q2 * (var_treatment * var_control - cov * cov)
    )
    centre = control * (treatment - control) + q2 * (var_control - cov)
    if a <= 0:
        if a == 0 or spread <= 0:
            return FiellerSet("real-line", -math.inf, math.inf)
        root = q * math.sqrt(spread)
        # a < 0: the quadratic is <= 0 outside its roots; lifts between them are excluded.
        first, second = sorted(((centre - root) / a, (centre + root) / a))
        ends = _on_lift_scale(first, second, control)
        return FiellerSet("two-rays", -math.inf, math.inf, (ends[0], ends[1]))
    # a > 0 implies the discriminant is >= 0 in exact arithmetic; clamp rounding.
    root = q * math.sqrt(max(spread, 0.0))
    lower, upper = _on_lift_scale((centre - root) / a, (centre + root) / a, control)
    if alternative == "less":
        lower = -math.inf
    if alternative == "greater":
        upper = math.inf
    return FiellerSet("bounded", lower, upper)


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
    """Interval for the lift ``(t - c) / |c|`` by Fieller's theorem; see `fieller_set`.

    When the control estimate is not distinguishable from zero the set is unbounded and the
    interval returned is ``(-inf, inf)``; `fieller_set` tells its shape.

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
    found = fieller_set(
        treatment, control, var_treatment, var_control, cov, q=q, alternative=alternative
    )
    return found.lower, found.upper


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
    """Interval for the lift by the chosen ``method`` ("delta-log", "delta" or "fieller")."""
    check_choice("relative_method", method, RELATIVE_METHODS)
    _check_control(control)
    function = {
        "delta-log": log_ratio_interval,
        "delta": linear_lift_interval,
        "fieller": fieller_interval,
    }[method]
    return function(
        treatment, control, var_treatment, var_control, cov, q=q, alternative=alternative
    )


def relative_statistic(
    treatment: float,
    control: float,
    var_treatment: float,
    var_control: float,
    *,
    margin: float,
    method: RelativeMethod,
    effect: float | None = None,
) -> float:
    """The standardized statistic of ``H0: lift == margin`` by ``method``; large when above.

    * ``"delta-log"``: ``sign(c) (log(t / c) - log(1 + sign(c) m)) / se_log``;
    * ``"delta"``: ``(lift - m) / se_lift``;
    * ``"fieller"``: ``(t - c - m |c|) / sqrt(V_t + rho0^2 V_c)`` with ``rho0 = 1 + sign(c) m``,
      the test whose inversion is Fieller's interval (at ``m = 0`` the ordinary unpooled test).
    """
    check_choice("relative_method", method, RELATIVE_METHODS)
    _check_control(control, fix="test an absolute margin instead")
    sign = 1.0 if control > 0 else -1.0
    if method == "delta-log":
        null_ratio = 1.0 + sign * margin
        if null_ratio <= 0:
            raise InputError(
                f"margin == {margin!r} puts the null ratio t / c at {null_ratio!r}; the "
                "delta-log test needs a positive ratio: use a margin above -1 for a positive "
                "control (below 1 for a negative one), or relative_method='delta'"
            )
        se_log = log_ratio_standard_error(treatment, control, var_treatment, var_control)
        return sign * (math.log(treatment / control) - math.log(null_ratio)) / se_log
    if method == "delta":
        se = lift_standard_error(treatment, control, var_treatment, var_control)
        return (lift(treatment, control, effect) - margin) / se
    null_ratio = 1.0 + sign * margin
    difference = treatment - control if effect is None else effect
    se = math.sqrt(var_treatment + null_ratio * null_ratio * var_control)
    return (difference - margin * abs(control)) / se
