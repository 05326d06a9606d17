"""Post-stratification: combine per-stratum estimates with the strata's pooled shares.

When a categorical pre-assignment attribute (platform, country, new vs returning) explains part
of a metric's variance, estimating within each stratum and averaging with the strata's shares
removes that part (Miratrix, Sekhon and Yu, 2013, "Adjusting treatment effect estimates by
post-stratification in randomized experiments", JRSS B). For a mean:

    w_s      = (n_ts + n_cs) / N                       pooled share of stratum s
    Y_adj(a) = sum_s w_s mean_as(Y)
    Var      = sum_s w_s^2 s_as^2 / n_as               per arm, conditional on the strata sizes

A ratio ``sum(N) / sum(D)`` is post-stratified as the ratio of the post-stratified means of its
numerator and denominator (the *combined* ratio estimator of Cochran, 1977, section 6.11), with
the delta-method variance of ``L = (N - R_a D) / M_a(D)`` in place of ``s_as^2``:

    M_a(x)   = sum_s w_s mean_as(x),   R_a = M_a(N) / M_a(D)
    Var      = sum_s w_s^2 Var_as(N - R_a D) / (n_as M_a(D)^2)

With a pre-period covariate ``X`` (or a ratio covariate, linearized), CUPED runs within each
stratum with its own slope, estimated over both arms of the stratum, before the combination:

    theta_s  = C_s(L, K) / C_s(K, K)                   both arms of stratum s pooled
    est(a)   = Y_adj(a) - sum_s w_s theta_s (mean_as(K) - mean_s(K))
    Var      = sum_s w_s^2 Var_as(L - theta_s K) / n_as

The difference ``est(t) - est(c)`` is tested against the standard normal; the lift uses the two
arms' estimates and variances. Every stratum needs at least 2 units in each arm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ablens.errors import InputError
from ablens.stats._linearized import linearized_comparison
from ablens.stats.adjusted import IMBALANCE_ALPHA

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType, TestResult

__all__ = ["post_stratified_test"]


def post_stratified_test(
    control: Mapping[Hashable, Moments],
    treatment: Mapping[Hashable, Moments],
    column: str | None = None,
    *,
    numerator: str | None = None,
    denominator: str | None = None,
    covariate: str | None = None,
    covariate_numerator: str | None = None,
    covariate_denominator: str | None = None,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """Post-stratified comparison of a mean or a ratio, CUPED-adjusted within strata if asked.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio
    of sums. Optionally give a pre-period ``covariate`` column, or for a ratio a ratio covariate
    (``covariate_numerator`` and ``covariate_denominator``): CUPED then adjusts each stratum with
    its own slope before the strata are combined.

    Args:
        control: Stratum -> control moments of the metric's columns in that stratum (with the
            cross-moments of a ratio's and a covariate's columns).
        treatment: Stratum -> treatment moments.
        column: The metric column of a mean.
        numerator: The numerator column of a ratio.
        denominator: The denominator column of a ratio.
        covariate: A pre-period column for CUPED within strata.
        covariate_numerator: Numerator column of a pre-period ratio covariate (ratio only).
        covariate_denominator: Its denominator column.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log", "delta" or "fieller" for the lift.

    Returns:
        The comparison (test "post-stratified", or "post-stratified-cuped" with a covariate);
        ``variance_reduction`` compares with the plain (unstratified, unadjusted) comparison.
        With a covariate, ``notes`` holds the balance check and any stratum where the covariate
        is constant (left unadjusted).

    Raises:
        InputError: If the metric or covariate is not given exactly one way, the arms' strata
            differ, a stratum has fewer than 2 units in an arm, a denominator's mean is 0, or
            the covariate varies within no stratum.

    Examples:
        >>> from ablens import Moments
        >>> def m(values):
        ...     return Moments.from_columns({"y": values})
        >>> control = {"ios": m([10.0, 12.0, 11.0]), "web": m([1.0, 2.0, 3.0, 2.0])}
        >>> treatment = {"ios": m([12.0, 13.0, 14.0]), "web": m([2.0, 3.0, 3.0, 4.0])}
        >>> r = post_stratified_test(control, treatment, "y")
        >>> round(r.effect, 4), round(r.standard_error, 4)
        (1.4286, 0.4809)

        A ratio, orders per session, within two strata:

        >>> def r_(orders, sessions):
        ...     return Moments.from_columns({"orders": orders, "sessions": sessions})
        >>> control = {"ios": r_([1, 0, 2], [2, 1, 3]), "web": r_([0, 1, 0, 1], [1, 2, 1, 1])}
        >>> treatment = {"ios": r_([2, 1, 2], [2, 2, 3]), "web": r_([1, 1, 0, 1], [1, 2, 2, 1])}
        >>> r = post_stratified_test(control, treatment, numerator="orders", denominator="sessions")
        >>> r.test, round(r.control_estimate, 4), round(r.treatment_estimate, 4)
        ('post-stratified', 0.4545, 0.6154)
    """
    outcome = _outcome(column, numerator, denominator)
    covariates = _covariate(covariate, covariate_numerator, covariate_denominator, len(outcome))
    return linearized_comparison(
        control,
        treatment,
        outcome,
        covariates,
        test="post-stratified-cuped" if covariates else "post-stratified",
        imbalance_alpha=IMBALANCE_ALPHA,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )


def _outcome(column: str | None, numerator: str | None, denominator: str | None) -> tuple[str, ...]:
    """``(column,)`` or ``(numerator, denominator)``, given exactly one of the two ways."""
    if column is not None and numerator is None and denominator is None:
        return (column,)
    if column is None and numerator is not None and denominator is not None:
        return (numerator, denominator)
    given = {"column": column, "numerator": numerator, "denominator": denominator}
    named = ", ".join(k for k, v in given.items() if v is not None) or "none of them"
    raise InputError(f"give either column, or both numerator and denominator (got {named})")


def _covariate(
    covariate: str | None, numerator: str | None, denominator: str | None, outcome_size: int
) -> tuple[str, ...]:
    if covariate is None and numerator is None and denominator is None:
        return ()
    if covariate is not None and (numerator is not None or denominator is not None):
        raise InputError(
            "give covariate (a column) or covariate_numerator and covariate_denominator (a "
            "ratio covariate), not both"
        )
    if covariate is not None:
        return (covariate,)
    if numerator is None or denominator is None:
        missing = "covariate_denominator" if denominator is None else "covariate_numerator"
        raise InputError(f"{missing} is missing; a ratio covariate needs both of its columns")
    if outcome_size == 1:
        raise InputError(
            "a ratio covariate (covariate_numerator / covariate_denominator) adjusts a ratio "
            "metric; for a mean give covariate= a column"
        )
    return (numerator, denominator)
