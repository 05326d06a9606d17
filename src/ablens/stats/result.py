"""The result of one two-arm comparison, as the statistics layer computes it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ablens._validation import check_choice
from ablens.errors import InputError
from ablens.stats._inference import (
    Alternative,
    Reference,
    check_alternative,
    check_confidence_level,
    check_margin,
    critical_value,
    interval,
    p_value,
)
from ablens.stats.relative import (
    RELATIVE_METHODS,
    FiellerShape,
    RelativeMethod,
    fieller_set,
    lift,
    lift_standard_error,
    relative_interval,
    relative_statistic,
)

__all__ = ["MarginType", "TestResult"]

MarginType = Literal["absolute", "relative"]


@dataclass(frozen=True)
class TestResult:
    """A two-arm comparison: effects, intervals and the test of the null hypothesis.

    The null hypothesis is ``effect == margin`` (two-sided), ``effect <= margin`` (``"greater"``)
    or ``effect >= margin`` (``"less"``), where ``effect`` is the absolute difference
    ``treatment - control`` when ``margin_type == "absolute"`` and the lift
    ``(treatment - control) / |control|`` when ``"relative"``. A margin of 0 is the usual test of
    no effect; a negative margin with ``"greater"`` is a non-inferiority test.

    Attributes:
        test: Name of the test ("welch", "student", "z", "chi2", "chi2-yates", "fisher", ...).
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: The null value of the effect tested.
        margin_type: Whether ``margin`` is on the absolute or the relative effect.
        control_estimate: Control mean or proportion.
        treatment_estimate: Treatment mean or proportion.
        effect: Absolute effect ``treatment - control``.
        effect_ci_lower: Lower bound of the absolute effect (``-inf`` when one-sided "less").
        effect_ci_upper: Upper bound of the absolute effect (``inf`` when one-sided "greater").
        standard_error: Standard error of the absolute effect used for its interval.
        relative_effect: Lift ``(treatment - control) / |control|``: the change as a fraction of
            the control's size, of the same sign as ``effect`` (``treatment / control - 1`` for
            a positive control).
        relative_ci_lower: Lower bound of the lift.
        relative_ci_upper: Upper bound of the lift.
        relative_method: "delta-log", "delta" or "fieller".
        statistic: The test statistic (t, z or chi-square; NaN for exact tests).
        df: Degrees of freedom of the statistic's reference (None for normal or exact).
        p_value: p-value of the test.
        variance_reduction: For covariate-adjusted metrics, ``1 - Var(adjusted) / Var(raw)`` of
            the effect estimate; None otherwise.
        notes: Warnings about the comparison (e.g. an imbalanced covariate).
        control_variance: Variance of the control estimate (``s^2 / n`` for a mean), when the
            test is built from the two arms' variances; None otherwise (exact, rank and
            quantile tests).
        treatment_variance: Variance of the treatment estimate, likewise.
        relative_standard_error: Standard error of the lift by the linear delta method
            (``relative_method="delta"`` builds its interval from it); NaN when undefined.
        relative_ci_shape: "bounded" unless Fieller's set is unbounded: "two-rays" (every lift
            outside ``relative_ci_gap``) or "real-line" (every lift); the bounds are then
            infinite.
        relative_ci_gap: For "two-rays", the lifts the data exclude; else None.
        cuped_theta: For CUPED, the slope ``theta = Cov(Y, X) / Var(X)`` (both arms pooled) by
            which the covariate was subtracted; None otherwise.
        unit_variance_reduction: For covariate-adjusted metrics, ``1 - var(Y_adj) / var(Y)`` of
            the per-unit values over the units of both arms (R:
            ``1 - var(c(yadj_c, yadj_t)) / var(c(y_c, y_t))``); unlike ``variance_reduction``
            it describes the units, not the effect estimate. None otherwise.
    """

    __test__ = False  # not a pytest test class, despite its name

    test: str
    alternative: Alternative
    confidence_level: float
    margin: float
    margin_type: MarginType
    control_estimate: float
    treatment_estimate: float
    effect: float
    effect_ci_lower: float
    effect_ci_upper: float
    standard_error: float
    relative_effect: float
    relative_ci_lower: float
    relative_ci_upper: float
    relative_method: RelativeMethod
    statistic: float
    df: float | None
    p_value: float
    variance_reduction: float | None = None
    notes: tuple[str, ...] = ()
    control_variance: float | None = None
    treatment_variance: float | None = None
    relative_standard_error: float = math.nan
    relative_ci_shape: FiellerShape = "bounded"
    relative_ci_gap: tuple[float, float] | None = None
    cuped_theta: float | None = None
    unit_variance_reduction: float | None = None

    @property
    def effect_ci(self) -> tuple[float, float]:
        """The interval of the absolute effect."""
        return self.effect_ci_lower, self.effect_ci_upper

    @property
    def relative_ci(self) -> tuple[float, float]:
        """The interval of the relative effect."""
        return self.relative_ci_lower, self.relative_ci_upper

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return asdict(self)


def difference_test(
    *,
    test: str,
    control: float,
    treatment: float,
    var_control: float,
    var_treatment: float,
    reference: Reference,
    alternative: str,
    confidence_level: float,
    margin: float,
    margin_type: MarginType,
    relative_method: RelativeMethod,
    test_standard_error: float | None = None,
    effect: float | None = None,
) -> TestResult:
    """Build a `TestResult` for ``treatment - control`` from the estimators' variances.

    Args:
        test: Name recorded in the result.
        control: Control estimate.
        treatment: Treatment estimate.
        var_control: Variance of the control estimator (``s^2 / n``).
        var_treatment: Variance of the treatment estimator.
        reference: Null distribution of the standardized statistic.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: Interval method for the lift.
        test_standard_error: Standard error under the null, when it differs from the
            interval's (pooled tests); defaults to the interval's.
        effect: ``treatment - control`` when known more precisely than the subtraction of
            the two rounded estimates (e.g. from two-float means); defaults to the subtraction.
    """
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_margin(margin)
    check_choice("relative_method", relative_method, RELATIVE_METHODS)
    effect = treatment - control if effect is None else effect
    standard_error = math.sqrt(var_control + var_treatment)
    q = critical_value(reference, confidence_level, alternative)
    # A zero lift is a zero difference: a relative margin of 0 is the ordinary test, except for
    # the linear delta method, whose own statistic on the lift is what its users expect.
    relative_test = margin_type == "relative" and (margin != 0 or relative_method == "delta")
    lower, upper = interval(effect, q * standard_error, alternative)
    shape: FiellerShape = "bounded"
    gap = None
    try:
        if relative_method == "fieller":
            found = fieller_set(
                treatment, control, var_treatment, var_control, q=q, alternative=alternative
            )
            rel_lower, rel_upper, shape, gap = found.lower, found.upper, found.shape, found.gap
        else:
            rel_lower, rel_upper = relative_interval(
                treatment,
                control,
                var_treatment,
                var_control,
                q=q,
                alternative=alternative,
                method=relative_method,
            )
    except InputError:
        if relative_test:
            raise
        # A lift is undefined at a zero control (and, for delta-log, at estimates of opposite
        # signs); the absolute comparison still stands, so report the lift's interval as NaN.
        rel_lower = rel_upper = math.nan
    if relative_test:
        statistic = relative_statistic(
            treatment,
            control,
            var_treatment,
            var_control,
            margin=margin,
            method=relative_method,
            effect=effect,
        )
    else:
        se = standard_error if test_standard_error is None else test_standard_error
        # se is 0 only where the caller replaces the statistic (Fisher's exact test on a table
        # with no variation); callers that need it reject zero variance first.
        statistic = (effect - margin) / se if se > 0 else math.nan
    return TestResult(
        test=test,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        control_estimate=control,
        treatment_estimate=treatment,
        effect=effect,
        effect_ci_lower=lower,
        effect_ci_upper=upper,
        standard_error=standard_error,
        relative_effect=lift(treatment, control, effect),
        relative_ci_lower=rel_lower,
        relative_ci_upper=rel_upper,
        relative_method=relative_method,
        statistic=statistic,
        df=reference.df,
        p_value=p_value(statistic, reference, alternative),
        control_variance=var_control,
        treatment_variance=var_treatment,
        relative_standard_error=lift_standard_error(treatment, control, var_treatment, var_control),
        relative_ci_shape=shape,
        relative_ci_gap=gap,
    )
