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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ablens._validation import check_choice
from ablens.errors import InputError

# The reference vocabulary ("normal", "t") is shared with the ratio test, which this module
# imports, so it lives in _inference; it is re-exported here for the adjusted tests' users.
from ablens.stats._inference import (
    NORMAL,
    REFERENCE_DISTRIBUTIONS,
    Reference,
    ReferenceDistribution,
)
from ablens.stats.means import mean_test
from ablens.stats.result import TestResult, difference_test

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from numpy.typing import ArrayLike

    from ablens.stats.moments import Moments
    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = [
    "IMBALANCE_ALPHA",
    "REFERENCE_DISTRIBUTIONS",
    "REGRESSION_ADJUSTMENTS",
    "VCOV_TYPES",
    "ArmSandwich",
    "HCShares",
    "ReferenceDistribution",
    "RegressionAdjustment",
    "SandwichDesign",
    "VcovType",
    "adjusted_test_name",
    "arm_level_note",
    "common_slope_test",
    "cuped_ratio_test",
    "cuped_test",
    "regression_adjusted_test",
    "sandwich_design",
    "sandwich_terms",
]

#: p-value of the covariate balance check below which a comparison carries a warning note.
IMBALANCE_ALPHA = 0.001

VcovType = Literal["classical", "HC0", "HC1", "HC2", "HC3"]
#: The variance of a regression-adjusted effect, named as ``sandwich::vcovHC(type = ...)`` names
#: them: "classical" is ``lm``'s own (homoskedastic) variance, "HC0" to "HC3" the
#: heteroskedasticity-consistent ones: exact with the rows' sandwich sums (``hc_shares``, which
#: `ablens.analyze` computes from a table), else an arm-level approximation from moments (see
#: docs/methodology/adjustment.md).
VCOV_TYPES: tuple[VcovType, ...] = ("classical", "HC0", "HC1", "HC2", "HC3")
_HC_TYPES: tuple[VcovType, ...] = ("HC0", "HC1", "HC2", "HC3")

RegressionAdjustment = Literal["regression", "common-slope"]
#: The regression adjustments with a ``vcov`` (the metric option ``adjustment`` minus "cuped").
REGRESSION_ADJUSTMENTS: tuple[RegressionAdjustment, ...] = ("regression", "common-slope")


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
    reference: Reference = NORMAL,
    unit_variance_reduction: float | None = None,
    cuped_theta: float | None = None,
) -> TestResult:
    from dataclasses import replace  # noqa: PLC0415 - tiny helper

    result = difference_test(
        test=test,
        control=estimates[0],
        treatment=estimates[1],
        var_control=variances[0],
        var_treatment=variances[1],
        reference=reference,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )
    adjusted = variances[0] + variances[1]
    reduction = 1.0 - adjusted / raw_variance if raw_variance > 0 else math.nan
    return replace(
        result,
        variance_reduction=reduction,
        notes=notes,
        unit_variance_reduction=unit_variance_reduction,
        cuped_theta=cuped_theta,
    )


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


def _check_variance_options(vcov: str, reference: str) -> None:
    check_choice("vcov", vcov, VCOV_TYPES)
    check_choice("reference", reference, REFERENCE_DISTRIBUTIONS)


def adjusted_test_name(
    base: str, vcov: str = "classical", reference: str = "normal", *, arm_level: bool = False
) -> str:
    """The `TestResult.test` of an adjusted comparison: the estimator, then the options.

    ``base`` is "cuped", "ancova" (Lin) or "common-slope"; a ``vcov`` other than "classical"
    (followed by "-arm-level" when it is the approximation from moments) and a "t" reference
    are appended, so a report can name what was computed.

    Examples:
        >>> adjusted_test_name("ancova"), adjusted_test_name("common-slope", "HC2", "t")
        ('ancova', 'common-slope-HC2-t')
        >>> adjusted_test_name("ancova", "HC3", arm_level=True)
        'ancova-HC3-arm-level'
    """
    name = base if vcov == "classical" else f"{base}-{vcov}"
    if arm_level and vcov != "classical":
        name += "-arm-level"
    return f"{name}-t" if reference == "t" else name


def arm_level_note(vcov: str) -> str:
    """The note on a result whose HC variance is the arm-level approximation from moments.

    Examples:
        >>> arm_level_note("HC2")[:57]
        "vcov='HC2' is the arm-level approximation of sandwich::vc"
    """
    return (
        f"vcov={vcov!r} is the arm-level approximation of sandwich::vcovHC (each unit's squared "
        "residual and leverage replaced by its arm's mean, all that moments allow); it can "
        "differ from R's value by a few percent at a hundred units per arm and by half at a "
        "dozen: for the exact value pass the table (one row per unit) to analyze(), or "
        "hc_shares from sandwich_design(...).shares(rows)"
    )


def _hc_variances(
    vcov: str, hc_shares: HCShares | None, arm_level: Sequence[float]
) -> tuple[list[float], tuple[str, ...]]:
    """The arms' variance shares: exact from ``hc_shares``, else arm-level with its note."""
    if hc_shares is None:
        notes = (arm_level_note(vcov),) if vcov in _HC_TYPES else ()
        return list(arm_level), notes
    if vcov not in _HC_TYPES:
        raise InputError(
            f"hc_shares is given with vcov={vcov!r}; they apply to vcov 'HC0' to 'HC3': drop "
            "hc_shares or choose an HC type"
        )
    if not isinstance(hc_shares, HCShares):
        raise InputError(
            f"hc_shares is a {type(hc_shares).__name__}, must be an HCShares (from "
            "sandwich_design(...).shares or ablens.data.compute_sandwich_shares)"
        )
    if hc_shares.vcov != vcov:
        raise InputError(
            f"hc_shares were computed for vcov={hc_shares.vcov!r}, must be for vcov={vcov!r}: "
            "compute them for the same type"
        )
    shares = [hc_shares.control, hc_shares.treatment]
    if not all(math.isfinite(v) and v >= 0 for v in shares):
        raise InputError(f"hc_shares holds {shares}, must be finite and >= 0")
    return shares, ()


def _satterthwaite(variances: Sequence[float], dfs: Sequence[float]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates."""
    denominator = sum(v * v / df for v, df in zip(variances, dfs, strict=True))
    if denominator <= 0:
        raise InputError(
            "the adjusted values do not vary in either arm, so a t reference has no degrees "
            "of freedom; use reference='normal'"
        )
    return float(sum(variances) ** 2 / denominator)


def _t_reference(reference: str, df: float) -> Reference:
    """Student t with ``df`` degrees of freedom when asked for, the standard normal otherwise."""
    if reference != "t":
        return NORMAL
    if not df >= 1:
        raise InputError(
            f"a t reference here has {df:g} degrees of freedom, must have >= 1: add units or "
            "drop covariates, or use reference='normal'"
        )
    return Reference(float(df))


def _unit_variance_reduction(
    counts: Sequence[int],
    raw: Sequence[tuple[float, float]],
    adjusted: Sequence[tuple[float, float]],
) -> float:
    """``1 - var(Y_adj) / var(Y)`` over the units of both arms, from each arm's (mean, C).

    The two arms' centred sums of squares merge exactly (Chan et al.): the pooled one is
    ``C_c + C_t + (m_t - m_c)^2 n_c n_t / n``.
    """
    n_c, n_t = counts

    def pooled(parts: Sequence[tuple[float, float]]) -> float:
        (mean_c, ss_c), (mean_t, ss_t) = parts
        return ss_c + ss_t + (mean_t - mean_c) ** 2 * n_c * n_t / (n_c + n_t)

    raw_ss = pooled(raw)
    return 1.0 - pooled(adjusted) / raw_ss if raw_ss > 0 else math.nan


def _arm_share(
    vcov: str,
    *,
    residual_ss: float,
    classical_sigma2: float,
    count: int,
    influence: float,
    leverage: float,
    hc1_factor: float,
) -> float:
    """One arm's share of the variance of a regression-adjusted effect.

    ``influence`` is ``sum_i a_i^2`` over the arm's units, where ``a_i`` is unit i's weight in
    the effect estimate (``effect = sum_i a_i y_i``); ``leverage`` is the arm's mean hat value.
    The classical share is ``sigma^2 sum_i a_i^2``. The HC shares replace each unit's squared
    residual ``e_i^2`` by the arm's mean ``RSS_a / n_a`` and its hat value ``h_ii`` by the arm's
    mean: ``sum_i a_i^2 e_i^2 / (1 - h_ii)^m`` becomes ``(RSS_a / n_a) sum_i a_i^2 / (1 - h)^m``.
    """
    if vcov == "classical":
        return classical_sigma2 * influence
    mean_square = residual_ss / count * influence
    if vcov == "HC0":
        return mean_square
    if vcov == "HC1":
        return mean_square * hc1_factor
    if not leverage < 1:
        raise InputError(
            f"an arm's mean leverage is {leverage:.3g}, must be < 1 for vcov={vcov!r}: add units "
            "or drop covariates"
        )
    power = 1 if vcov == "HC2" else 2
    return mean_square / (1.0 - leverage) ** power


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
    reference: ReferenceDistribution = "normal",
) -> TestResult:
    """CUPED: adjust a mean or a ratio by one pre-period covariate with the pooled slope.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio.

    Args:
        control: The control arm's moments (outcome columns and the covariate, with their
            cross-moment).
        treatment: The treatment arm's moments, likewise.
        covariate: The pre-period column.
        column: The outcome of a mean or proportion metric.
        numerator: The numerator of a ratio metric.
        denominator: The denominator of a ratio metric.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" or "fieller".
        reference: "normal" (default), or "t": Welch's t test on the adjusted values
            ``Y - theta (X - mean(X))`` with ``theta`` held fixed, with the Welch-Satterthwaite
            degrees of freedom (R: ``t.test(y_adj_t, y_adj_c)``).

    Returns:
        The comparison (test "cuped", "cuped-t" with a t reference), with ``cuped_theta``,
        ``variance_reduction`` (of the effect), ``unit_variance_reduction`` (of the per-unit
        values) and imbalance ``notes``.

    Raises:
        InputError: If an arm has fewer than 3 units, the covariate does not vary, or an option
            is unknown.

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
    check_choice("reference", reference, REFERENCE_DISTRIBUTIONS)
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
    estimates, variances, raw, adjusted = [], [], [], []
    for arm, weights in ((control, wc), (treatment, wt)):
        adjusted_weights = {**weights, covariate: -theta}
        mean, sum_squares = _combination(arm, adjusted_weights)
        estimates.append(offset + mean + theta * centre)
        variances.append(sum_squares / (arm.count - 1) / arm.count)
        raw.append(_combination(arm, weights))
        adjusted.append((mean, sum_squares))
    counts = (control.count, treatment.count)
    df = _satterthwaite(variances, [n - 1 for n in counts]) if reference == "t" else math.nan
    return _finish(
        test=adjusted_test_name("cuped", "classical", reference),
        estimates=(estimates[0], estimates[1]),
        variances=(variances[0], variances[1]),
        raw_variance=_raw_variance(control, treatment, wc, wt),
        notes=_imbalance_notes(control, treatment, [covariate]),
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
        reference=_t_reference(reference, df),
        unit_variance_reduction=_unit_variance_reduction(counts, raw, adjusted),
        cuped_theta=theta,
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
    vcov: VcovType = "classical",
    reference: ReferenceDistribution = "normal",
    hc_shares: HCShares | None = None,
) -> TestResult:
    """Lin's (2013) regression adjustment with arm-specific slopes on ``covariates``.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio.

    Args:
        control: The control arm's moments (outcome columns, covariates, cross-moments).
        treatment: The treatment arm's moments, likewise.
        covariates: The pre-period columns.
        column: The outcome of a mean or proportion metric.
        numerator: The numerator of a ratio metric.
        denominator: The denominator of a ratio metric.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" or "fieller".
        vcov: "classical" (default): each arm's ``lm`` intercept variance; or "HC0" to "HC3",
            the ``sandwich::vcovHC`` types of the interacted model
            ``lm(y ~ treated * I(x - c))``: exact with ``hc_shares``; without them the
            arm-level approximation from moments (test name "...-arm-level", with a note; see
            docs/methodology/adjustment.md), where "HC2" equals "classical".
        reference: "normal" (default), or "t" with the Welch-Satterthwaite degrees of freedom
            of the two arms' variances, each with ``n_a - 1 - k`` degrees of freedom.
        hc_shares: The rows' sandwich sums for ``vcov`` (`SandwichDesign.shares` of
            ``sandwich_design(..., adjustment="regression")``, or
            `ablens.data.compute_sandwich_shares`), making the HC variance exact.

    Returns:
        The comparison (test "ancova", with "-HC2" etc. and "-t" appended for a non-default
        ``vcov`` and reference), with ``variance_reduction``, ``unit_variance_reduction`` and
        imbalance ``notes``.

    Raises:
        InputError: If ``covariates`` is empty, an arm has fewer than ``k + 2`` units, the
            covariates are constant or collinear in an arm, an option is unknown, or
            ``hc_shares`` are not for ``vcov``.

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
    _check_variance_options(vcov, reference)
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
    total = control.count + treatment.count
    estimates, variances, raw, adjusted = [], [], [], []
    for arm, weights in ((control, wc), (treatment, wt)):
        cxx = _known(arm.select(covariates)).comoment
        inverse = _inverse(cxx, covariates)
        cxy = _cross(arm, weights, covariates)
        slope = inverse @ cxy
        mean_y, cyy = _combination(arm, weights)
        d = arm.select(covariates).mean - centre
        estimates.append(offset + mean_y - float(slope @ d))
        residual_ss = max(cyy - float(slope @ cxy), 0.0)
        # The arm's intercept is sum_i a_i y_i with a_i = 1/n_a - d' C_xx^-1 u_i (u_i the
        # covariates centred in the arm); sum_i a_i^2 = 1/n_a + d' C_xx^-1 d. Hat values
        # 1/n_a + u_i' C_xx^-1 u_i average (1 + k) / n_a.
        variances.append(
            _arm_share(
                vcov,
                residual_ss=residual_ss,
                classical_sigma2=residual_ss / (arm.count - 1 - k),
                count=arm.count,
                influence=1.0 / arm.count + float(d @ inverse @ d),
                leverage=(1 + k) / arm.count,
                hc1_factor=total / (total - 2 - 2 * k),
            )
        )
        raw.append((mean_y, cyy))
        adjusted.append((mean_y - float(slope @ d), residual_ss))
    variances, hc_notes = _hc_variances(vcov, hc_shares, variances)
    counts = (control.count, treatment.count)
    df = _satterthwaite(variances, [n - 1 - k for n in counts]) if reference == "t" else math.nan
    return _finish(
        test=adjusted_test_name("ancova", vcov, reference, arm_level=hc_shares is None),
        estimates=(estimates[0], estimates[1]),
        variances=(variances[0], variances[1]),
        raw_variance=_raw_variance(control, treatment, wc, wt),
        notes=(*_imbalance_notes(control, treatment, covariates), *hc_notes),
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
        reference=_t_reference(reference, df),
        unit_variance_reduction=_unit_variance_reduction(counts, raw, adjusted),
    )


def common_slope_test(
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
    vcov: VcovType = "classical",
    reference: ReferenceDistribution = "normal",
    hc_shares: HCShares | None = None,
) -> TestResult:
    """ANCOVA with one slope for both arms, as R's ``lm(y ~ treated + x1 + ... + xk)`` fits it.

    Give ``column`` for a mean (or proportion), or ``numerator`` and ``denominator`` for a ratio
    (its linearization is the outcome). The effect is the coefficient of ``treated``:

        b      = W_xx^-1 W_xy        (W: within-arm centred cross-products, summed over arms)
        effect = (mean_t(Y) - mean_c(Y)) - b' (mean_t(X) - mean_c(X))

    and the arm estimates are the adjusted means ``mean_a(Y) - b' (mean_a(X) - mean(X))``.

    Args:
        control: The control arm's moments (outcome columns, covariates, cross-moments).
        treatment: The treatment arm's moments, likewise.
        covariates: The pre-period columns.
        column: The outcome of a mean or proportion metric.
        numerator: The numerator of a ratio metric.
        denominator: The denominator of a ratio metric.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" or "fieller".
        vcov: "classical" (default): ``summary(lm)``'s standard error,
            ``sigma^2 (1/n_c + 1/n_t + d' W_xx^-1 d)`` with ``sigma^2 = RSS / (n - 2 - k)``;
            or "HC0" to "HC3", the ``sandwich::vcovHC`` types: exact with ``hc_shares``;
            without them the arm-level approximation from moments (test name
            "...-arm-level", with a note; see docs/methodology/adjustment.md).
        reference: "normal" (default, like the other adjusted tests), or "t" with
            ``n - 2 - k`` degrees of freedom, as ``summary(lm)`` (and ``lmtest::coeftest``
            with an HC variance) use.
        hc_shares: The rows' sandwich sums for ``vcov`` (`SandwichDesign.shares` of
            ``sandwich_design(..., adjustment="common-slope")``, or
            `ablens.data.compute_sandwich_shares`), making the HC variance exact.

    Returns:
        The comparison (test "common-slope", with "-HC2" etc. appended for a non-default
        ``vcov`` and "-t" for the t reference), with ``variance_reduction``,
        ``unit_variance_reduction`` and imbalance ``notes``. ``control_variance`` and
        ``treatment_variance`` are each arm's share of the effect's variance (they add up to it;
        the common slope makes the two adjusted means slightly correlated, which the lift's
        interval ignores).

    Raises:
        InputError: If ``covariates`` is empty, an arm has fewer than 2 units, there are fewer
            than ``k + 3`` units, the covariates are constant or collinear within the arms, an
            option is unknown, or ``hc_shares`` are not for ``vcov``.

    Examples:
        >>> import numpy as np
        >>> from ablens import Moments
        >>> rng = np.random.default_rng(3)
        >>> def arm(effect, n):
        ...     x = rng.normal(0, 1, n)
        ...     y = 2 * x + rng.normal(effect, 1, n)
        ...     return Moments.from_columns({"y": y, "x": x})
        >>> control, treatment = arm(0.0, 40), arm(0.5, 30)
        >>> r = common_slope_test(control, treatment, ["x"], column="y", reference="t")
        >>> r.test, r.df, round(r.effect, 3), round(r.standard_error, 3)
        ('common-slope-t', 67.0, 0.774, 0.26)
        >>> r = common_slope_test(control, treatment, ["x"], column="y", vcov="HC2")
        >>> r.test, r.df, round(r.standard_error, 3)
        ('common-slope-HC2-arm-level', None, 0.263)
    """
    _check_variance_options(vcov, reference)
    covariates = list(dict.fromkeys(covariates))
    if not covariates:
        raise InputError("covariates is empty, must name at least one covariate")
    k = len(covariates)
    total = control.count + treatment.count
    if min(control.count, treatment.count) < 2 or total < k + 3:
        raise InputError(
            f"the arms have {control.count} and {treatment.count} unit(s), must have >= 2 each "
            f"and >= {k + 3} together to fit {k} covariate(s) with a common slope"
        )
    wc, wt, offset = _outcome_weights(control, treatment, column, numerator, denominator)
    arms = ((control, wc), (treatment, wt))
    within_xx = [_known(arm.select(covariates)).comoment for arm, _ in arms]
    within_xy = [_cross(arm, weights, covariates) for arm, weights in arms]
    outcome = [_combination(arm, weights) for arm, weights in arms]
    inverse = _inverse(within_xx[0] + within_xx[1], covariates)
    slope = inverse @ (within_xy[0] + within_xy[1])
    centre = (control.select(covariates) + treatment.select(covariates)).mean
    # Residual sums of squares per arm: sum_i (y_i - mean_a(y) - b' u_i)^2.
    residual_ss = [
        max(cyy - 2.0 * float(slope @ cxy) + float(slope @ cxx @ slope), 0.0)
        for (_, cyy), cxy, cxx in zip(outcome, within_xy, within_xx, strict=True)
    ]
    df_residual = total - 2 - k
    sigma2 = sum(residual_ss) / df_residual
    # effect = sum_i a_i y_i with a_i = +-1/n_a - g' u_i, g = W_xx^-1 (mean_t(X) - mean_c(X)):
    # each arm's sum_i a_i^2 is 1/n_a + g' C_xx(a) g. Hat values are 1/n_a + u_i' W_xx^-1 u_i.
    shift = treatment.select(covariates).mean - control.select(covariates).mean
    g = inverse @ shift
    estimates, variances, adjusted = [], [], []
    for (arm, _), (mean_y, _), cxx, rss in zip(arms, outcome, within_xx, residual_ss, strict=True):
        d = arm.select(covariates).mean - centre
        estimates.append(offset + mean_y - float(slope @ d))
        adjusted.append((mean_y - float(slope @ d), rss))
        variances.append(
            _arm_share(
                vcov,
                residual_ss=rss,
                classical_sigma2=sigma2,
                count=arm.count,
                influence=1.0 / arm.count + float(g @ cxx @ g),
                leverage=(1.0 + float(np.trace(inverse @ cxx))) / arm.count,
                hc1_factor=total / df_residual,
            )
        )
    variances, hc_notes = _hc_variances(vcov, hc_shares, variances)
    return _finish(
        test=adjusted_test_name("common-slope", vcov, reference, arm_level=hc_shares is None),
        estimates=(estimates[0], estimates[1]),
        variances=(variances[0], variances[1]),
        raw_variance=_raw_variance(control, treatment, wc, wt),
        notes=(*_imbalance_notes(control, treatment, covariates), *hc_notes),
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
        reference=_t_reference(reference, df_residual),
        unit_variance_reduction=_unit_variance_reduction(
            (control.count, treatment.count), outcome, adjusted
        ),
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


# ----------------------------------------------------------------- exact HC variances from rows
#: Below this, ``1 - h_ii`` counts as 0: the unit has leverage 1 and HC2/HC3 are undefined.
_MIN_ONE_MINUS_LEVERAGE = 1e-10


@dataclass(frozen=True)
class ArmSandwich:
    """One arm's constants of the exact sandwich: each unit's term is a function of its row.

    With ``u_i = x_i - means[x]`` (the unit's covariates centred at its arm's means),

        e_i = sum_j outcome[j] (row_ij - means[j]) - slope' u_i      residual
        a_i = 1 / count - direction' u_i                             |weight in the effect|
        h_i = 1 / count + u_i' leverage u_i                          hat value

    and the arm's share of the variance is ``sum_i a_i^2 e_i^2 w_i`` (`SandwichDesign.shares`).

    Attributes:
        count: The arm's units.
        outcome: Column -> weight of the analysed outcome (the column itself, or a ratio's
            linearization).
        means: The arm's mean of every outcome column and covariate.
        covariates: The covariate names, in the order of the vectors below.
        slope: The fitted slope(s) ``b`` (common, or the arm's own for Lin's estimator).
        direction: ``g`` of ``a_i`` above.
        leverage: The matrix of the hat values' quadratic form (``k x k``).
    """

    count: int
    outcome: Mapping[str, float]
    means: Mapping[str, float]
    covariates: tuple[str, ...]
    slope: np.ndarray
    direction: np.ndarray
    leverage: np.ndarray


@dataclass(frozen=True)
class HCShares:
    """Each arm's share of an HC variance of the treatment effect, computed from the rows.

    Attributes:
        vcov: "HC0" to "HC3".
        control: ``sum_i a_i^2 omega_i`` over the control's units.
        treatment: The same over the treatment's units; the two add up to ``vcovHC``'s
            variance of the treatment coefficient.
    """

    vcov: VcovType
    control: float
    treatment: float


@dataclass(frozen=True)
class SandwichDesign:
    """What the exact HC variance of an adjusted effect needs from each row, fitted from moments.

    The coefficients, ``(X'X)^-1`` and hence every unit's weight ``a_i`` in the effect, its
    residual ``e_i`` and hat value ``h_ii`` are functions of the unit's own row given the fit:
    one pass over the rows, ``sum_i a_i^2 e_i^2 w_i`` per arm, gives ``sandwich::vcovHC``
    exactly. Build it with `sandwich_design`; sum it in memory with `shares`, or in the data's
    engine with `ablens.data.compute_sandwich_shares`.

    Attributes:
        adjustment: "regression" (Lin) or "common-slope".
        control: The control arm's constants.
        treatment: The treatment arm's constants.
        parameters: Coefficients of the R model (``2 + 2k`` for Lin, ``2 + k`` common slope).
    """

    adjustment: RegressionAdjustment
    control: ArmSandwich
    treatment: ArmSandwich
    parameters: int

    @property
    def units(self) -> int:
        """Units of both arms: the ``n`` of HC1's ``n / (n - p)``."""
        return self.control.count + self.treatment.count

    def columns(self) -> tuple[str, ...]:
        """Every column a row must hold: the outcome's, then the covariates."""
        arm = self.control
        return tuple(dict.fromkeys([*arm.outcome, *arm.covariates]))

    def factor(self, vcov: str) -> float:
        """HC1's ``n / (n - p)``; 1 for the other types."""
        return self.units / (self.units - self.parameters) if vcov == "HC1" else 1.0

    def shares(
        self,
        control: Mapping[str, ArrayLike],
        treatment: Mapping[str, ArrayLike],
        vcov: VcovType,
    ) -> HCShares:
        """The exact HC variance's per-arm shares, from the arms' rows in memory.

        Args:
            control: The control arm's rows: column name -> values (a dict of arrays, a pandas
                or polars DataFrame), the same rows the moments were computed from.
            treatment: The treatment arm's rows, likewise.
            vcov: "HC0", "HC1", "HC2" or "HC3".

        Returns:
            The shares; pass them as ``hc_shares`` to `regression_adjusted_test` or
            `common_slope_test` (with the same ``vcov``).

        Raises:
            InputError: If ``vcov`` is not an HC type, a column is missing, an arm's row count
                is not the design's, or a unit has leverage 1 (HC2, HC3).

        Examples:
            >>> import numpy as np
            >>> from ablens import Moments
            >>> rng = np.random.default_rng(4)
            >>> rows = [
            ...     {"x": x, "y": 2 * x + rng.normal(0, 1 + x**2, 15)}
            ...     for x in (rng.normal(0, 1, 15), rng.normal(0.3, 1, 15))
            ... ]
            >>> control, treatment = (Moments.from_columns(r) for r in rows)
            >>> design = sandwich_design(control, treatment, ["x"], column="y")
            >>> shares = design.shares(rows[0], rows[1], "HC2")
            >>> r = regression_adjusted_test(
            ...     control, treatment, ["x"], column="y", vcov="HC2", hc_shares=shares
            ... )
            >>> r.test, round(r.standard_error, 4)
            ('ancova-HC2', 0.7285)
        """
        check_choice("vcov", vcov, _HC_TYPES)
        sums = []
        arms = (("control", self.control, control), ("treatment", self.treatment, treatment))
        for label, arm, rows in arms:
            values = {}
            for name in self.columns():
                try:
                    column = rows[name]
                except (KeyError, IndexError, TypeError):
                    raise InputError(
                        f"{label} has no column {name!r}; give every column of the design: "
                        f"{list(self.columns())}"
                    ) from None
                values[name] = np.asarray(column, dtype=np.float64).reshape(-1)
            lengths = {v.size for v in values.values()}
            if lengths != {arm.count}:
                raise InputError(
                    f"{label} has {sorted(lengths)} row(s) per column, must have the "
                    f"{arm.count} the moments counted: pass the same rows"
                )
            # A unit of leverage 1 divides by 0 here; checked_share then refuses it by name.
            with np.errstate(divide="ignore", invalid="ignore"):
                term, hat = sandwich_terms(arm, values.__getitem__, vcov)
            total, largest = float(np.sum(term)), float(np.max(hat))
            sums.append(checked_share(total, largest, vcov, label))
        factor = self.factor(vcov)
        return HCShares(vcov, sums[0] * factor, sums[1] * factor)


def sandwich_terms(
    arm: ArmSandwich,
    column: Callable[[str], Any],
    vcov: str,
    constant: Callable[[float], Any] = float,
) -> tuple[Any, Any]:
    """Each unit's term ``a_i^2 e_i^2 / (1 - h_i)^m`` and hat value ``h_i``, as expressions.

    Only arithmetic on ``column(name)`` (a numpy array, or an engine's column expression) and
    ``constant(value)`` (a float, or an engine's float literal), so the data layer builds, on an
    engine's columns, exactly the expression `SandwichDesign.shares` evaluates on arrays.
    ``m`` is 0 (HC0, HC1), 1 (HC2) or 2 (HC3); HC1's factor is applied to the sum.
    """

    def times(value: float, expression: Any) -> Any:  # noqa: ANN401 - array or expression
        return constant(float(value)) * expression

    u = [column(x) - constant(arm.means[x]) for x in arm.covariates]
    residual = None
    for name, w in arm.outcome.items():
        part = times(w, column(name) - constant(arm.means[name]))
        residual = part if residual is None else residual + part
    weight = constant(1.0 / arm.count)
    hat = constant(1.0 / arm.count)
    for j, u_j in enumerate(u):
        residual = residual - times(arm.slope[j], u_j)
        weight = weight - times(arm.direction[j], u_j)
        for m, u_m in enumerate(u):
            hat = hat + times(arm.leverage[j, m], u_j * u_m)
    term = (weight * residual) * (weight * residual)
    if vcov == "HC2":
        term = term / (constant(1.0) - hat)
    elif vcov == "HC3":
        term = term / ((constant(1.0) - hat) * (constant(1.0) - hat))
    return term, hat


def checked_share(total: float, largest_leverage: float, vcov: str, label: str) -> float:
    """An arm's sum of sandwich terms, refused when a unit's leverage makes HC2/HC3 undefined."""
    if vcov in ("HC2", "HC3") and not 1.0 - largest_leverage > _MIN_ONE_MINUS_LEVERAGE:
        raise InputError(
            f"a unit of the {label} arm has leverage {largest_leverage:.12g} (its covariates "
            f"alone determine its fit), must be < 1 for vcov={vcov!r}: add units, drop "
            "covariates, or use vcov='HC0' or 'HC1'"
        )
    if not math.isfinite(total) or total < 0:
        raise InputError(f"the {label} arm's sandwich sum is {total!r}, must be finite and >= 0")
    return total


def _arm_constants(
    arm: Moments, weights: Mapping[str, float], covariates: Sequence[str]
) -> dict[str, float]:
    return {name: arm.mean_of(name) for name in dict.fromkeys([*weights, *covariates])}


def sandwich_design(
    control: Moments,
    treatment: Moments,
    covariates: Sequence[str],
    *,
    adjustment: RegressionAdjustment = "regression",
    column: str | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
) -> SandwichDesign:
    """The constants of the exact HC variance of an adjusted effect, from the arms' moments.

    The fit is `regression_adjusted_test`'s (``adjustment="regression"``, Lin's interacted
    ``lm(y ~ treated * (I(x1 - c1) + ...))``) or `common_slope_test`'s
    (``adjustment="common-slope"``, ``lm(y ~ treated + x1 + ...)``). One pass over the rows
    (`SandwichDesign.shares` in memory, `ablens.data.compute_sandwich_shares` in an engine)
    then gives ``sandwich::vcovHC``'s variance of the treatment coefficient.

    Args:
        control: The control arm's moments (outcome columns, covariates, cross-moments).
        treatment: The treatment arm's moments, likewise.
        covariates: The pre-period columns.
        adjustment: "regression" (default) or "common-slope".
        column: The outcome of a mean or proportion metric.
        numerator: The numerator of a ratio metric (its linearization is the outcome).
        denominator: The denominator of a ratio metric.

    Returns:
        The design.

    Raises:
        InputError: As `regression_adjusted_test` / `common_slope_test` for the same input, or
            an ``adjustment`` other than those two.

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns({"y": [1.0, 2.0, 4.0, 3.0], "x": [0.0, 1.0, 2.0, 3.0]})
        >>> treatment = Moments.from_columns({"y": [2.0, 4.0, 3.0], "x": [0.5, 1.0, 2.5]})
        >>> design = sandwich_design(control, treatment, ["x"], column="y")
        >>> design.parameters, design.units, design.columns()
        (4, 7, ('y', 'x'))
        >>> shares = design.shares(
        ...     {"y": [1.0, 2.0, 4.0, 3.0], "x": [0.0, 1.0, 2.0, 3.0]},
        ...     {"y": [2.0, 4.0, 3.0], "x": [0.5, 1.0, 2.5]},
        ...     "HC0",
        ... )
        >>> round(shares.control + shares.treatment, 6)  # R: vcovHC(lm(y ~ tr * xc), "HC0")
        0.290193
    """
    check_choice("adjustment", adjustment, REGRESSION_ADJUSTMENTS)
    covariates = list(dict.fromkeys(covariates))
    if not covariates:
        raise InputError("covariates is empty, must name at least one covariate")
    k = len(covariates)
    wc, wt, _ = _outcome_weights(control, treatment, column, numerator, denominator)
    arms = ((control, wc), (treatment, wt))
    built = []
    if adjustment == "regression":
        centre = (control.select(covariates) + treatment.select(covariates)).mean
        for arm, weights in arms:
            inverse = _inverse(_known(arm.select(covariates)).comoment, covariates)
            shift = arm.select(covariates).mean - centre
            built.append(
                ArmSandwich(
                    count=arm.count,
                    outcome=dict(weights),
                    means=_arm_constants(arm, weights, covariates),
                    covariates=tuple(covariates),
                    slope=inverse @ _cross(arm, weights, covariates),
                    direction=inverse @ shift,
                    leverage=inverse,
                )
            )
        return SandwichDesign("regression", built[0], built[1], 2 + 2 * k)
    within = [_known(arm.select(covariates)).comoment for arm, _ in arms]
    inverse = _inverse(within[0] + within[1], covariates)
    slope = inverse @ (_cross(control, wc, covariates) + _cross(treatment, wt, covariates))
    g = inverse @ (treatment.select(covariates).mean - control.select(covariates).mean)
    # a_i = -1/n_c - g' u_i in the control and 1/n_t - g' u_i in the treatment: squared, the
    # control's is (1/n_c - (-g)' u_i)^2.
    for (arm, weights), direction in zip(arms, (-g, g), strict=True):
        built.append(
            ArmSandwich(
                count=arm.count,
                outcome=dict(weights),
                means=_arm_constants(arm, weights, covariates),
                covariates=tuple(covariates),
                slope=slope,
                direction=direction,
                leverage=inverse,
            )
        )
    return SandwichDesign("common-slope", built[0], built[1], 2 + k)
