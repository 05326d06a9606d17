"""Stratified, linearized and CUPED-adjusted comparisons from per-stratum moments.

One estimator covers post-stratification of a mean or a ratio, CUPED within strata, and CUPED of
a ratio by a ratio covariate (a single stratum). It is the internal engine of
`ablens.stats.post_stratified_test` and `ablens.stats.cuped_ratio_test`; their docstrings and
``docs/methodology/stratification.md`` / ``adjustment.md`` state the formulas.

With strata ``s`` of shares ``w_s = n_s / N`` (both arms together), the arm ``a``'s stratified
means of the columns are ``M_a = sum_s w_s mean_as``. The outcome is ``M_a(Y)`` for a mean or
``M_a(N) / M_a(D)`` for a ratio, linearized at the arm's own estimate (the delta method):
``L_a = Y`` or ``L_a = (N - R_a D) / M_a(D)``. A covariate is a column ``X`` or a ratio
``X_N / X_D`` entering through its linearization at the constants of both arms pooled,
``K = (X_N - R_X X_D) / mean(X_D)``, the same function of a unit in both arms. With a
covariate, each stratum has its own slope ``theta_s``, estimated over both arms of the stratum:

    estimate_a = outcome_a - sum_s w_s theta_s (mean_as(K) - mean_s(K))
    variance_a = sum_s w_s^2 Var_as(L_a - theta_s K) / n_as
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ablens.errors import InputError
from ablens.stats._inference import NORMAL
from ablens.stats.result import TestResult, difference_test

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping, Sequence

    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = ["linearized_comparison"]

#: A covariate whose variance within a stratum is below this share of its variance over all
#: units is constant there (new users without a pre-period): the stratum gets no slope. An
#: engine's shifted sums leave such a constant column a variance of about 1e-16 relative to its
#: squared level, not exactly 0.
CONSTANT_TOLERANCE = 1e-10


def _checked(moments: Moments, columns: Sequence[str]) -> Moments:
    """The moments of ``columns``, after checking each of their cross-moments was computed."""
    sub = moments.select(columns)
    missing = np.argwhere(np.isnan(sub.comoment))
    if missing.size:
        i, j = missing[0]
        sub.comoment_of(sub.columns[i], sub.columns[j])  # raises the InputError naming the pair
    return sub


def _label(columns: Sequence[str]) -> str:
    return " / ".join(columns)


def _outcome_gradient(means: np.ndarray, outcome: Sequence[str]) -> tuple[float, np.ndarray]:
    """The outcome's value from stratified means, and its gradient (the linearization weights)."""
    if len(outcome) == 1:
        return float(means[0]), np.array([1.0])
    if means[1] == 0:
        raise InputError(
            f"the mean of denominator column {outcome[1]!r} is 0 in an arm; a ratio is undefined"
        )
    ratio = float(means[0] / means[1])
    return ratio, np.array([1.0, -ratio]) / means[1]


def _covariate_weights(pooled: np.ndarray, covariate: Sequence[str]) -> np.ndarray:
    """Weights of the covariate's per-unit value ``K``: the column, or the ratio linearized."""
    if len(covariate) == 1:
        return np.array([1.0])
    if pooled[1] == 0:
        raise InputError(
            f"the mean of covariate_denominator column {covariate[1]!r} is 0; a ratio "
            "covariate is undefined"
        )
    mean_n, mean_d = float(pooled[0]), float(pooled[1])
    return np.array([1.0 / mean_d, -mean_n / mean_d / mean_d])


def linearized_comparison(
    control: Mapping[Hashable, Moments],
    treatment: Mapping[Hashable, Moments],
    outcome: Sequence[str],
    covariate: Sequence[str],
    *,
    test: str,
    imbalance_alpha: float,
    alternative: str,
    confidence_level: float,
    margin: float,
    margin_type: MarginType,
    relative_method: RelativeMethod,
) -> TestResult:
    """Compare a stratified (and, with a covariate, CUPED-adjusted) mean or ratio.

    Args:
        control: Stratum -> control moments.
        treatment: Stratum -> treatment moments.
        outcome: ``(column,)`` for a mean, ``(numerator, denominator)`` for a ratio.
        covariate: ``()`` for none, ``(column,)`` or ``(numerator, denominator)`` for a ratio.
        test: The test name recorded in the result.
        imbalance_alpha: p-value of the covariate balance check below which a note is added.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" or "fieller" for the lift.

    Returns:
        The comparison; ``variance_reduction`` compares with the plain (unstratified,
        unadjusted) comparison of the outcome.
    """
    from dataclasses import replace  # noqa: PLC0415 - tiny helper

    strata, arms = _by_stratum(control, treatment, [*outcome, *covariate])
    pooled = [c + t for c, t in zip(*arms, strict=True)]
    total = sum(p.count for p in pooled)
    shares = np.array([p.count / total for p in pooled])
    o, k = slice(0, len(outcome)), slice(len(outcome), None)

    # The outcome of each arm: its stratified estimate and the gradient that linearizes it there.
    estimates, gradients = [], []
    for parts in arms:
        value, gradient = _outcome_gradient(shares @ np.array([m.mean[o] for m in parts]), outcome)
        estimates.append(value)
        gradients.append(gradient)

    thetas = np.zeros(len(strata))
    weights = np.zeros(0)
    notes: list[str] = []
    if covariate:
        pooled_means = shares @ np.array([p.mean for p in pooled])
        weights = _covariate_weights(pooled_means[k], covariate)
        # The slope's outcome is linearized at the pooled estimate, the same for both arms.
        _, pooled_gradient = _outcome_gradient(pooled_means[o], outcome)
        thetas, constant = _slopes(pooled, pooled_gradient, weights, o, k)
        name = _label(covariate)
        if len(constant) == len(strata):
            raise InputError(
                f"covariate {name!r} does not vary within any stratum; it cannot adjust anything"
            )
        if constant and len(strata) > 1:
            labels = ", ".join(str(strata[i]) for i in constant)
            notes.append(f"covariate {name!r} is constant in stratum(s) {labels}, not adjusted")
        notes += _imbalance(arms, shares, k, weights, name, imbalance_alpha)
        for a, parts in enumerate(arms):
            shift = np.array(
                [(m.mean[k] - p.mean[k]) @ weights for m, p in zip(parts, pooled, strict=True)]
            )
            estimates[a] -= float(shares @ (thetas * shift))

    variances = []
    for parts, gradient in zip(arms, gradients, strict=True):
        variance = 0.0
        for share, theta, m in zip(shares, thetas, parts, strict=True):
            combination = np.concatenate([gradient, -theta * weights]) if covariate else gradient
            sub = m.comoment if covariate else m.comoment[o, o]
            variance += share**2 * float(combination @ sub @ combination) / (m.count - 1) / m.count
        variances.append(max(variance, 0.0))
    if variances[0] == 0 and variances[1] == 0:
        raise InputError(
            f"the metric {_label(outcome)!r} does not vary within the strata of either arm; no "
            "test is possible"
        )
    result = difference_test(
        test=test,
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
    raw = sum(_plain_variance(parts, outcome, o) for parts in arms)
    reduction = 1.0 - float(variances[0] + variances[1]) / raw if raw > 0 else None
    return replace(result, variance_reduction=reduction, notes=tuple(notes))


def _by_stratum(
    control: Mapping[Hashable, Moments], treatment: Mapping[Hashable, Moments], columns: list[str]
) -> tuple[list[Hashable], list[list[Moments]]]:
    """The strata, and each arm's moments of ``columns`` per stratum, checked."""
    if set(control) != set(treatment):
        raise InputError(
            f"control has strata {sorted(map(str, control))} but treatment has "
            f"{sorted(map(str, treatment))}; every stratum needs both arms"
        )
    if not control:
        raise InputError("control is empty, must hold at least one stratum")
    if len(set(columns)) != len(columns):
        raise InputError(f"columns {columns}: the covariate repeats a column of the metric")
    strata = list(control)
    for stratum in strata:
        for moments in (control[stratum], treatment[stratum]):
            if moments.count < 2:
                raise InputError(
                    f"stratum {stratum!r} has {moments.count} unit(s) in an arm, must have "
                    ">= 2; merge small strata"
                )
    return strata, [[_checked(arm[s], columns) for s in strata] for arm in (control, treatment)]


def _slopes(
    pooled: list[Moments], gradient: np.ndarray, weights: np.ndarray, o: slice, k: slice
) -> tuple[np.ndarray, list[int]]:
    """Each stratum's CUPED slope over both arms, and the strata where the covariate is constant.

    A stratum where the covariate does not vary (new users without history) gets slope 0.
    """
    from ablens.stats.moments import Moments  # noqa: PLC0415 - type-only import above

    overall = Moments.merge_all(pooled)
    reference = float(weights @ overall.comoment[k, k] @ weights) / (overall.count - 1)
    thetas = np.zeros(len(pooled))
    constant = []
    for i, p in enumerate(pooled):
        sum_squares = float(weights @ p.comoment[k, k] @ weights)
        if sum_squares / (p.count - 1) <= CONSTANT_TOLERANCE * reference:
            constant.append(i)
        else:
            thetas[i] = float(gradient @ p.comoment[o, k] @ weights) / sum_squares
    return thetas, constant


def _plain_variance(parts: list[Moments], outcome: Sequence[str], o: slice) -> float:
    """Variance of the arm's unstratified, unadjusted estimate (the delta method for a ratio)."""
    from ablens.stats.moments import Moments  # noqa: PLC0415 - type-only import above

    merged = Moments.merge_all(parts)
    _, gradient = _outcome_gradient(merged.mean[o], outcome)
    return float(gradient @ merged.comoment[o, o] @ gradient) / (merged.count - 1) / merged.count


def _imbalance(
    arms: list[list[Moments]],
    shares: np.ndarray,
    k: slice,
    weights: np.ndarray,
    name: str,
    alpha: float,
) -> list[str]:
    """A note when the covariate's stratified means differ between arms more than by chance."""
    means, variances = [], []
    for parts in arms:
        means.append(float(shares @ np.array([m.mean[k] @ weights for m in parts])))
        per_stratum = [float(weights @ m.comoment[k, k] @ weights) / (m.count - 1) for m in parts]
        counts = np.array([m.count for m in parts])
        variances.append(float(shares**2 @ (np.array(per_stratum) / counts)))
    spread = variances[0] + variances[1]
    if spread <= 0:
        if means[0] != means[1]:
            raise InputError(
                f"covariate {name!r} is constant within each arm but differs between arms: it "
                "encodes the assignment and would absorb the whole effect; drop it"
            )
        return []
    p_value = 2 * NORMAL.sf(abs(means[1] - means[0]) / math.sqrt(spread))
    if p_value < alpha:
        return [
            (
                f"covariate {name!r} differs between arms (p={p_value:.2g}); a pre-period "
                "covariate should not: check it was measured before assignment"
            )
        ]
    return []
