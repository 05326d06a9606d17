"""Ratio metrics by the delta method: ``sum(numerator) / sum(denominator)`` per arm.

Orders per session, revenue per order, clicks per impression: the analysis unit (session,
order, impression) is finer than the randomization unit (user), so those units are correlated
and a per-session t test would be overconfident. Aggregating to one row per randomized unit
(numerator and denominator sums per user) and applying the delta method to the ratio of means
gives a valid variance (Deng, Knoblich and Lu, 2018, "Applying the Delta Method in Metric
Analytics", KDD):

    R = mean(N) / mean(D)
    Var(R) ~ (s_N^2 - 2 R s_ND + R^2 s_D^2) / (n mean(D)^2)

with ``s`` the sample (co)variances of the per-unit sums over the ``n`` units of an arm. Arms are
independent, so the difference of ratios has the sum of the two variances. The reference is the
standard normal by default (``reference="normal"``, test name "delta"); ``reference="t"`` (test
name "delta-t") refers the same statistic to Student's t with the Welch-Satterthwaite degrees of
freedom of the linearized per-unit values ``L_i = R + (N_i - R D_i) / mean(D)``, whose sample
variance over ``n`` is exactly ``Var(R)``:

    df = (V_c + V_t)^2 / (V_c^2 / (n_c - 1) + V_t^2 / (n_t - 1))

with ``V`` each arm's ``Var(R)``, which is R's ``t.test(L_t, L_c)`` on those values. With a few
units per arm the normal reference is far too confident: below
`ablens.stats.small_samples.MIN_UNITS_PER_ARM` units in an arm, the normal-reference result
carries a note saying so. The same formula covers cluster-randomized designs (users
randomized, sessions analyzed): aggregate sessions per user first
(`ablens.data.aggregate_events`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablens._validation import check_choice
from ablens.errors import InputError
from ablens.stats._inference import (
    NORMAL,
    Reference,
    ReferenceDistribution,
    check_reference,
    welch_satterthwaite_df,
)
from ablens.stats.result import TestResult, difference_test
from ablens.stats.small_samples import with_small_sample_note

if TYPE_CHECKING:
    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = ["ratio_estimate", "ratio_test"]


def ratio_estimate(moments: Moments, numerator: str, denominator: str) -> tuple[float, float]:
    """The ratio of means of one arm and the delta-method variance of that ratio.

    Args:
        moments: One arm's moments, with the numerator-denominator cross-moment.
        numerator: Per-unit numerator column (e.g. orders per user).
        denominator: Per-unit denominator column (e.g. sessions per user).

    Returns:
        ``(ratio, variance of the ratio estimate)``.

    Raises:
        InputError: If the arm has fewer than 2 units or the denominator's mean is 0.

    Examples:
        >>> from ablens import Moments
        >>> m = Moments.from_columns(
        ...     {"orders": [1.0, 0.0, 2.0, 1.0], "sessions": [2.0, 1.0, 4.0, 3.0]}
        ... )
        >>> ratio, variance = ratio_estimate(m, "orders", "sessions")
        >>> round(ratio, 4), round(variance, 6)
        (0.4, 0.005333)
    """
    n = moments.count
    if n < 2:
        raise InputError(f"an arm has {n} unit(s), must have >= 2 to estimate a ratio's variance")
    mean_n = moments.mean_of(numerator)
    mean_d = moments.mean_of(denominator)
    if mean_d == 0:
        raise InputError(
            f"the mean of denominator column {denominator!r} is 0 in an arm; a ratio is undefined"
        )
    ratio = mean_n / mean_d
    var_n = moments.variance(numerator)
    var_d = moments.variance(denominator)
    cov = moments.covariance(numerator, denominator)
    variance = (var_n - 2 * ratio * cov + ratio * ratio * var_d) / (n * mean_d * mean_d)
    return ratio, max(variance, 0.0)


def ratio_test(
    control: Moments,
    treatment: Moments,
    numerator: str,
    denominator: str,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
    reference: ReferenceDistribution = "normal",
) -> TestResult:
    """Compare ``sum(numerator) / sum(denominator)`` between two arms by the delta method.

    Args:
        control: Control arm moments (numerator, denominator and their cross-moment).
        treatment: Treatment arm moments.
        numerator: Per-unit numerator column.
        denominator: Per-unit denominator column.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log", "delta" or "fieller" for the lift.
        reference: "normal" (default): the statistic is referred to the standard normal (test
            name "delta", ``df`` None). "t": to Student's t with the Welch-Satterthwaite
            degrees of freedom of the linearized per-unit values (test name "delta-t", the
            degrees of freedom in ``df``); prefer it when an arm has few units.

    Returns:
        The comparison. A normal-reference result of an arm with fewer than
        `ablens.stats.small_samples.MIN_UNITS_PER_ARM` units carries a note in ``notes``
        recommending ``reference="t"``.

    Raises:
        InputError: On an arm with fewer than 2 units, a zero denominator mean, a ratio that
            varies in neither arm, or an unknown option.

    Examples:
        >>> from ablens import Moments
        >>> c = Moments.from_summary(
        ...     10_000,
        ...     mean={"orders": 0.30, "sessions": 3.0},
        ...     variance={"orders": 0.40, "sessions": 4.0},
        ...     covariance={("orders", "sessions"): 0.6},
        ... )
        >>> t = Moments.from_summary(
        ...     10_000,
        ...     mean={"orders": 0.32, "sessions": 3.0},
        ...     variance={"orders": 0.42, "sessions": 4.0},
        ...     covariance={("orders", "sessions"): 0.62},
        ... )
        >>> r = ratio_test(c, t, "orders", "sessions")
        >>> round(r.effect, 6), round(r.p_value, 4)
        (0.006667, 0.0133)

        With 5 units against 4, the t reference is the honest one:

        >>> small_c = Moments.from_columns(
        ...     {"orders": [1.0, 3, 2, 1, 0], "sessions": [4.0, 7, 6, 6, 3]}
        ... )
        >>> small_t = Moments.from_columns({"orders": [1.0, 2, 3, 2], "sessions": [1.0, 3, 3, 2]})
        >>> z = ratio_test(small_c, small_t, "orders", "sessions")
        >>> f"{z.p_value:.2g}", z.df, len(z.notes)
        ('3.1e-07', None, 1)
        >>> t = ratio_test(small_c, small_t, "orders", "sessions", reference="t")
        >>> t.test, round(t.df, 3), round(t.p_value, 4), t.notes
        ('delta-t', 5.441, 0.0029, ())
    """
    check_choice("margin_type", margin_type, ("absolute", "relative"))
    reference = check_reference(reference)
    ratio_c, var_c = ratio_estimate(control, numerator, denominator)
    ratio_t, var_t = ratio_estimate(treatment, numerator, denominator)
    if var_c == 0 and var_t == 0:
        raise InputError(
            f"the ratio {numerator!r} / {denominator!r} does not vary in either arm; no test "
            "is possible"
        )
    n_c, n_t = control.count, treatment.count
    if reference == "t":
        null = Reference(df=welch_satterthwaite_df(var_c, n_c, var_t, n_t))
    else:
        null = NORMAL
    result = difference_test(
        test="delta-t" if reference == "t" else "delta",
        control=ratio_c,
        treatment=ratio_t,
        var_control=var_c,
        var_treatment=var_t,
        reference=null,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )
    return with_small_sample_note(result, n_c, n_t)
