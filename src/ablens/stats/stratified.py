"""Post-stratification: combine per-stratum differences with the strata's pooled shares.

When a categorical pre-assignment attribute (platform, country, new vs returning) explains part
of a metric's variance, estimating the effect within each stratum and averaging with the
strata's shares removes that part (Miratrix, Sekhon and Yu, 2013, "Adjusting treatment effect
estimates by post-stratification in randomized experiments", JRSS B):

    w_s      = (n_ts + n_cs) / N                       pooled share of stratum s
    Y_adj(a) = sum_s w_s mean_as(Y)
    Var      = sum_s w_s^2 s_as^2 / n_as               per arm, conditional on the strata sizes

The difference ``Y_adj(t) - Y_adj(c)`` is tested against the standard normal; the lift uses the
two arms' adjusted means and variances. Every stratum needs at least 2 units in each arm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablens.errors import InputError
from ablens.stats._inference import NORMAL
from ablens.stats.result import TestResult, difference_test

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = ["post_stratified_test"]


def post_stratified_test(
    control: Mapping[Hashable, Moments],
    treatment: Mapping[Hashable, Moments],
    column: str,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """Post-stratified comparison of a mean, from per-stratum moments of each arm.

    Args:
        control: Stratum -> control moments of ``column`` in that stratum.
        treatment: Stratum -> treatment moments.
        column: The metric column.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log", "delta" or "fieller" for the lift.

    Returns:
        The comparison (test "post-stratified"); ``variance_reduction`` compares with the
        unstratified difference of means.

    Raises:
        InputError: If the arms' strata differ or a stratum has fewer than 2 units in an arm.

    Examples:
        >>> from ablens import Moments
        >>> def m(values):
        ...     return Moments.from_columns({"y": values})
        >>> control = {"ios": m([10.0, 12.0, 11.0]), "web": m([1.0, 2.0, 3.0, 2.0])}
        >>> treatment = {"ios": m([12.0, 13.0, 14.0]), "web": m([2.0, 3.0, 3.0, 4.0])}
        >>> r = post_stratified_test(control, treatment, "y")
        >>> round(r.effect, 4), round(r.standard_error, 4)
        (1.4286, 0.4809)
    """
    from dataclasses import replace  # noqa: PLC0415 - tiny helper

    if set(control) != set(treatment):
        raise InputError(
            f"control has strata {sorted(map(str, control))} but treatment has "
            f"{sorted(map(str, treatment))}; every stratum needs both arms"
        )
    if not control:
        raise InputError("control is empty, must hold at least one stratum")
    total = sum(control[s].count + treatment[s].count for s in control)
    estimates = [0.0, 0.0]
    variances = [0.0, 0.0]
    for stratum in control:
        share = (control[stratum].count + treatment[stratum].count) / total
        for i, moments in enumerate((control[stratum], treatment[stratum])):
            if moments.count < 2:
                raise InputError(
                    f"stratum {stratum!r} has {moments.count} unit(s) in an arm, must have >= 2; "
                    "merge small strata"
                )
            estimates[i] += share * moments.mean_of(column)
            variances[i] += share**2 * moments.variance(column) / moments.count
    result = difference_test(
        test="post-stratified",
        control=estimates[0],
        treatment=estimates[1],
        var_control=variances[0],
        var_treatment=variances[1],
        reference=NORMAL,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )
    pooled = [_merge([arm[s] for s in control]) for arm in (control, treatment)]
    raw = sum(m.variance(column) / m.count for m in pooled)
    reduction = 1.0 - (variances[0] + variances[1]) / raw if raw > 0 else None
    return replace(result, variance_reduction=reduction)


def _merge(parts: list[Moments]) -> Moments:
    from ablens.stats.moments import Moments  # noqa: PLC0415 - type-only import above

    return Moments.merge_all(parts)
