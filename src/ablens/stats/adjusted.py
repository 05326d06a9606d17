"""Covariate adjustment from moments: CUPED and regression adjustment (Lin, 2013).

A covariate measured *before* assignment (last month's revenue) is independent of the arm, so
removing the part of the metric it predicts leaves the expected effect unchanged and shrinks the
variance by the squared correlation. Everything needed is in the per-arm moments: means,
variances and the metric-covariate cross-moments.

**CUPED** (Deng, Xu, Kohavi and Walker, 2013, WSDM), one covariate ``X``:

    theta    = Cov(Y, X) / Var(X)                      over both arms together
    Y_adj(a) = mean_a(Y) - theta (mean_a(X) - mean(X))
    Var      = Var_a(Y - theta X) / n_a

**Regression adjustment** with ``k`` covariates and arm-specific slopes (Lin, 2013, "Agnostic
notes on regression adjustments to experimental data", Annals of Applied Statistics): in each arm
an OLS fit on covariates centred at the pooled mean ``c``; the adjusted arm mean is its intercept,

    b_a      = C_xx(a)^-1 C_xy(a)
    Y_adj(a) = mean_a(Y) - b_a' (mean_a(X) - c)
    Var      = s_a^2 (1/n_a + d_a' C_xx(a)^-1 d_a),   s_a^2 = (C_yy - b_a' C_xy) / (n_a - 1 - k)

with ``d_a = mean_a(X) - c`` and ``C`` centred cross-product sums. This is exactly the intercept
and its standard error from ``lm(y ~ I(x - c))`` fitted per arm (homoskedastic within an arm,
heteroskedastic across arms, like Welch). Lin's estimator with arm-specific slopes is never less
efficient than the unadjusted difference asymptotically, even when the linear model is wrong.

Both work for means, proportions (a 0/1 metric) and ratio metrics: a ratio is first linearized,
``L = (N - R D) / mean_a(D)`` with the pooled ratio ``R`` (Deng et al., 2018), and ``L`` adjusted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ablens.errors import InputError
from ablens.stats._inference import NORMAL
from ablens.stats.means import mean_test
from ablens.stats.result import TestResult, difference_test

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = ["IMBALANCE_ALPHA", "cuped_ratio_test", "cuped_test", "regression_adjusted_test"]

#: p-value of the covariate balance check below which a comparison carries a warning note.
IMBALANCE_ALPHA = 0.001


def _known(sub: Moments) -> Moments:
    """``sub`` itself, after checking every cross-moment it holds was computed."""
    missing = np.argwhere(np.isnan(sub.comoment))
    if missing.size:
        i, j = missing[0]
        sub.comoment_of(sub.columns[i], sub.columns[j])  # raises the InputError naming the pair
    return sub


def _combination(moments: Moments, weights: Mapping[str, float]) -> tuple[float, float]:
    """Mean and centred sum of squares of ``sum_j w_j x_j`` from the moments."""
    names = list(weights)
    w = np.array([weights[c] for c in names])
    sub = _known(moments.select(names))
    return float(w @ sub.mean), float(w @ sub.comoment @ w)


def _cross(moments: Moments, weights: Mapping[str, float], covariates: Sequence[str]) -> np.ndarray:
    """Centred cross-product sums of ``sum_j w_j x_j`` with each covariate."""
    names = list(weights)
    w = np.array([weights[c] for c in names])
    sub = _known(moments.select([*names, *covariates]))
    k = len(names)
    return np.asarray(w @ sub.comoment[:k, k:], dtype=np.float64)


def _outcome_weights(
    control: Moments,
    treatment: Moments,
    column: str | None,
    numerator: str | None,
    denominator: str | None,
) -> tuple[dict[str, float], dict[str, float], float]:
    """Per-arm weights defining the adjusted outcome, and the offset that restores its level.

    For a mean the outcome is the column itself (offset 0). For a ratio it is the linearization
    ``(N - R D) / mean_a(D)`` with the pooled ratio ``R``; its arm means are ``R_a - R``, so the
    offset ``R`` turns adjusted values back into ratios.
    """
    if column is not None:
        return {column: 1.0}, {column: 1.0}, 0.0
    if numerator is None or denominator is None:
        raise InputError("give either column, or both numerator and denominator")
    pooled = control.select([numerator, denominator]) + treatment.select([numerator, denominator])
    if pooled.mean_of(denominator) == 0:
        raise InputError(f"the mean of denominator column {denominator!r} is 0")
    ratio = pooled.mean_of(numerator) / pooled.mean_of(denominator)

    def weights(arm: Moments) -> dict[str, float]:
        mean_d = arm.mean_of(denominator)
        if mean_d == 0:
            raise InputError(f"the mean of denominator column {denominator!r} is 0 in an arm")
        return {numerator: 1.0 / mean_d, denominator: -ratio / mean_d}

    return weights(control), weights(treatment), ratio


def _imbalance_notes(
    control: Moments, treatment: Moments, covariates: Sequence[str]
) -> tuple[str, ...]:
    notes = []
    for x in covariates:
        if control.variance(x) == 0 and treatment.variance(x) == 0:
            if control.mean_of(x) != treatment.mean_of(x):
                raise InputError(
                    f"covariate {x!r} is constant within each arm but differs between arms: it "
                    "encodes the assignment and would absorb the whole effect; drop it"
                )
            continue
        check = mean_test(
            control.count,
            control.mean_of(x),
            control.variance(x),
            treatment.count,
            treatment.mean_of(x),
            treatment.variance(x),
        )
        if check.p_value < IMBALANCE_ALPHA:
            notes.append(
                f"covariate {x!r} differs between arms (p={check.p_value:.2g}); a pre-period "
                "covariate should not: check it was measured before assignment"
            )
    return tuple(notes)


def _finish(
    *,
    test: str,
    estimates: tuple[float, float],
    variances: tuple[float, float],
    raw_variance: float,
    notes: tuple[str, ...],
    alternative: str,
    confidence_level: float,
    margin: float,
    margin_type: MarginType,
    relative_method: RelativeMethod,
) -> TestResult:
    from dataclasses import replace  # noqa: PLC0415 - tiny helper

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
    adjusted = variances[0] + variances[1]
    reduction = 1.0 - adjusted / raw_variance if raw_variance > 0 else math.nan
    return replace(result, variance_reduction=reduction, notes=notes)


def _raw_variance(
    control: Moments, treatment: Moments, wc: Mapping[str, float], wt: Mapping[str, float]
) -> float:
    total = 0.0
    for arm, weights in ((control, wc), (treatment, wt)):
        _, sum_squares = _combination(arm, weights)
        total += sum_squares / (arm.count - 1) / arm.count
    return total


#: Condition number of the covariates' correlation matrix above which they count as collinear:
#: the fit would then amplify rounding error by more than about 1e8 relative to float precision.
MAX_CONDITION = 1e8


def _inverse(cxx: np.ndarray, covariates: Sequence[str]) -> np.ndarray:
    """Inverse of the covariates' cross-product matrix, refusing (near-)collinear covariates."""
    scale = np.sqrt(np.diag(cxx))
    if np.any(scale == 0):
        constant = [c for c, s in zip(covariates, scale, strict=True) if s == 0]
        raise InputError(f"covariates {constant} are constant in an arm; drop them")
    correlation = cxx / np.outer(scale, scale)
    if np.linalg.cond(correlation) > MAX_CONDITION:
        raise InputError(
            f"covariates {list(covariates)} are collinear (one is a linear function of the "
            "others) in an arm; drop one"
        )
    return np.asarray(np.linalg.inv(cxx), dtype=np.float64)


def cuped_test(
    control: Moments,
    treatment: Moments,
    covariate: str,
    *,
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """CUPED: adjust a mean or a ratio by one pre-period covariate with the pooled slope.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio.

    Returns:
        The comparison (test "cuped"), with ``variance_reduction`` and imbalance ``notes``.

    Examples:
        >>> import numpy as np
        >>> from ablens import Moments
        >>> rng = np.random.default_rng(0)
        >>> def arm(effect):
        ...     x = rng.normal(10, 2, 5_000)
        ...     y = x + rng.normal(effect, 1, 5_000)
        ...     return Moments.from_columns({"y": y, "x": x})
        >>> r = cuped_test(arm(0.0), arm(0.1), "x", column="y")
        >>> round(r.effect, 3), round(r.variance_reduction, 2)
        (0.079, 0.8)
    """
    for arm in (control, treatment):
        if arm.count < 3:
            raise InputError(f"an arm has {arm.count} unit(s), must have >= 3 for CUPED")
    wc, wt, offset = _outcome_weights(control, treatment, column, numerator, denominator)
    names = [*wc, covariate]
    pooled = control.select(names) + treatment.select(names)
    var_x = pooled.comoment_of(covariate, covariate)
    if var_x == 0:
        raise InputError(f"covariate {covariate!r} does not vary; it cannot adjust anything")
    # theta from the pooled data: the outcome defined with pooled weights (control's and
    # treatment's differ only through mean_a(D) for ratios; use their average scale).
    pooled_weights = {c: (wc[c] + wt[c]) / 2 for c in wc}
    theta = float(_cross(pooled, pooled_weights, [covariate])[0]) / var_x
    centre = pooled.mean_of(covariate)
    estimates, variances = [], []
    for arm, weights in ((control, wc), (treatment, wt)):
        adjusted_weights = {**weights, covariate: -theta}
        mean, sum_squares = _combination(arm, adjusted_weights)
        estimates.append(offset + mean + theta * centre)
        variances.append(sum_squares / (arm.count - 1) / arm.count)
    return _finish(
        test="cuped",
        estimates=(estimates[0], estimates[1]),
        variances=(variances[0], variances[1]),
        raw_variance=_raw_variance(control, treatment, wc, wt),
        notes=_imbalance_notes(control, treatment, [covariate]),
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )


def regression_adjusted_test(
    control: Moments,
    treatment: Moments,
    covariates: Sequence[str],
    *,
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """Lin's (2013) regression adjustment with arm-specific slopes on ``covariates``.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio.

    Returns:
        The comparison (test "ancova"), with ``variance_reduction`` and imbalance ``notes``.

    Examples:
        >>> import numpy as np
        >>> from ablens import Moments
        >>> rng = np.random.default_rng(1)
        >>> def arm(effect):
        ...     x1, x2 = rng.normal(0, 1, (2, 4_000))
        ...     y = 2 * x1 - x2 + rng.normal(effect, 1, 4_000)
        ...     return Moments.from_columns({"y": y, "x1": x1, "x2": x2})
        >>> r = regression_adjusted_test(arm(0.0), arm(0.2), ["x1", "x2"], column="y")
        >>> round(r.effect, 3), round(r.variance_reduction, 2)
        (0.215, 0.84)
    """
    covariates = list(dict.fromkeys(covariates))
    if not covariates:
        raise InputError("covariates is empty, must name at least one covariate")
    k = len(covariates)
    for arm in (control, treatment):
        if arm.count < k + 2:
            raise InputError(
                f"an arm has {arm.count} unit(s), must have >= {k + 2} to fit {k} covariate(s)"
            )
    wc, wt, offset = _outcome_weights(control, treatment, column, numerator, denominator)
    pooled = control.select(covariates) + treatment.select(covariates)
    centre = pooled.mean
    estimates, variances = [], []
    for arm, weights in ((control, wc), (treatment, wt)):
        cxx = _known(arm.select(covariates)).comoment
        inverse = _inverse(cxx, covariates)
        cxy = _cross(arm, weights, covariates)
        slope = inverse @ cxy
        mean_y, cyy = _combination(arm, weights)
        d = arm.select(covariates).mean - centre
        estimates.append(offset + mean_y - float(slope @ d))
        residual = max(cyy - float(slope @ cxy), 0.0) / (arm.count - 1 - k)
        variances.append(residual * (1.0 / arm.count + float(d @ inverse @ d)))
    return _finish(
        test="ancova",
        estimates=(estimates[0], estimates[1]),
        variances=(variances[0], variances[1]),
        raw_variance=_raw_variance(control, treatment, wc, wt),
        notes=_imbalance_notes(control, treatment, covariates),
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )


# ----------------------------------------------------------------- ratio metric, ratio covariate
def cuped_ratio_test(
    control: Moments,
    treatment: Moments,
    numerator: str,
    denominator: str,
    covariate_numerator: str,
    covariate_denominator: str,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """CUPED of a ratio metric by a pre-period ratio covariate, both linearized (delta method).

    Revenue per session adjusted by the pre-period's revenue per session: the outcome
    ``R_a = mean_a(N) / mean_a(D)`` is linearized at each arm's own ratio,
    ``L_a = (N - R_a D) / mean_a(D)``, and the covariate ratio at the constants of both arms
    pooled, ``K = (X_N - R_X X_D) / mean(X_D)`` (the same per-unit function in both arms). Then

        theta    = C(L, K) / C(K, K)           over both arms pooled, L at the pooled ratio
        R_adj(a) = R_a - theta (mean_a(K) - mean(K))
        Var_a    = Var_a(L_a - theta K) / n_a

    (Deng, Xu, Kohavi and Walker, 2013; Deng, Knoblich and Lu, 2018). With a plain column as the
    covariate use `cuped_test` with ``numerator`` and ``denominator``.

    Args:
        control: Control moments of the four columns with their cross-moments.
        treatment: Treatment moments.
        numerator: Per-unit numerator column of the metric (e.g. revenue).
        denominator: Per-unit denominator column of the metric (e.g. sessions).
        covariate_numerator: Pre-period numerator column (e.g. pre-period revenue).
        covariate_denominator: Pre-period denominator column (e.g. pre-period sessions).
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" or "fieller" for the lift.

    Returns:
        The comparison (test "cuped"), with ``variance_reduction`` against the plain
        delta-method comparison and the covariate's balance ``notes``.

    Raises:
        InputError: An arm with fewer than 3 units, a column used twice, a denominator with
            mean 0, or a covariate ratio that does not vary.

    Examples:
        >>> import numpy as np
        >>> from ablens import Moments
        >>> rng = np.random.default_rng(3)
        >>> def arm(lift):
        ...     rate = rng.gamma(2.0, 2.0, 4_000)
        ...     pre_sessions, sessions = 1 + rng.poisson(rate), 1 + rng.poisson(rate)
        ...     spend = rng.gamma(2.0, 5.0, 4_000)
        ...     return Moments.from_columns(
        ...         {
        ...             "revenue": sessions * spend * (1 + lift) * rng.gamma(4.0, 0.25, 4_000),
        ...             "sessions": sessions,
        ...             "pre_revenue": pre_sessions * spend * rng.gamma(4.0, 0.25, 4_000),
        ...             "pre_sessions": pre_sessions,
        ...         }
        ...     )
        >>> r = cuped_ratio_test(
        ...     arm(0.0), arm(0.05), "revenue", "sessions", "pre_revenue", "pre_sessions"
        ... )
        >>> r.test, round(r.relative_effect, 3), round(r.variance_reduction, 2)
        ('cuped', 0.063, 0.28)
    """
    from ablens.stats._linearized import linearized_comparison  # noqa: PLC0415 - rarely used

    for arm in (control, treatment):
        if arm.count < 3:
            raise InputError(f"an arm has {arm.count} unit(s), must have >= 3 for CUPED")
    return linearized_comparison(
        {"all": control},
        {"all": treatment},
        (numerator, denominator),
        (covariate_numerator, covariate_denominator),
        test="cuped",
        imbalance_alpha=IMBALANCE_ALPHA,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )
