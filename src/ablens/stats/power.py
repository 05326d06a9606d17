"""Power and sample size: solve for any one of n, effect, power, alpha (or sd) given the others.

Two families of power functions live here, all vectorized over numpy arrays:

**ablens designs** (kinds ``"mean"`` and ``"proportion"``): the normal approximation of the test
ablens actually runs on the experiment. The estimate of the effect is normal with standard error
``s1`` under the alternative; the test divides by ``s0``, its standard error under the null
(``s0 == s1`` except for the pooled proportion test). With ``z`` the normal quantile at the
per-comparison level and ``D`` the distance of the true effect from the null value,

    greater:   power = Phi((D - z_{1-a} s0) / s1)
    less:      power = Phi((-D - z_{1-a} s0) / s1)
    two-sided: power = Phi((D - z_{1-a/2} s0) / s1) + Phi((-D - z_{1-a/2} s0) / s1)

The two-sided power counts both rejection regions (the exact rejection probability of the test;
R's ``strict = TRUE``). Means (Welch, Student or z; ratio metrics through their linearization;
CUPED or regression adjustment through ``variance_reduction``) use the arms' per-unit variances;
proportions use ``p (1 - p)`` and, for the default test of no difference, the pooled proportion
under the null, as `ablens.proportion_test` does. A **relative** effect (a lift ``L``: the
treatment mean is ``mu (1 + L)``) is tested on the log of the ratio of means, whose delta-method
variance includes the variance of the control mean:

    Var(log R) = Var(R) / R^2 = sd_t^2 / (n_t mu_t^2) + sd_c^2 / (n_c mu_c^2),
    D = log(1 + L) - log(1 + margin)

With ``k`` treatment arms each compared with the control, the per-comparison level is
``alpha / k`` (Bonferroni) or ``1 - (1 - alpha)^(1/k)`` (Šidák). ``n`` is the total number of
units over all arms, shared out by ``split`` (control first); the smallest treatment arm sets the
power of the design.

**R-compatible functions** reproduce R's calculators to the last digits: ``"t-test"`` is
``power.t.test`` (noncentral t; ``n_treatment`` for unequal groups gives ``pwr::pwr.t2n.test``),
``"prop-test"`` is ``power.prop.test`` and ``"cohen-h"`` is ``pwr::pwr.2p.test`` /
``pwr::pwr.2p2n.test`` (Cohen's arcsine effect size ``h``). There ``n`` is the size of each group
(or of the first group when ``n_treatment`` is given), as in R.

Solvers are exact inverses of the power functions: sample sizes and effects come from closed forms
where they exist and otherwise from `scipy.optimize.brentq` at (near) machine precision, so the
power at a solved quantity equals the target to about 1e-12. `power_curve` and `mde_curve`
evaluate whole grids of sample sizes at once (no loop over the grid).

References: Cohen (1988), *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.;
Chow, Shao and Wang (2008), *Sample Size Calculations in Clinical Research*, 2nd ed.; Deng, Xu,
Kohavi and Walker (2013), "Improving the sensitivity of online controlled experiments by
utilizing pre-experiment data", WSDM; Kohavi, Tang and Xu (2020), *Trustworthy Online Controlled
Experiments*.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, cast

import numpy as np

from ablens._validation import (
    check_choice,
    check_count,
    check_open_unit_interval,
    check_positive,
    check_real,
)
from ablens.errors import InputError
from ablens.stats._inference import Alternative, check_alternative, special_functions

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike, NDArray

    FloatArray = NDArray[np.float64]

__all__ = [
    "DesignOptions",
    "EffectType",
    "PowerCorrection",
    "PowerKind",
    "PowerSolution",
    "cohen_h",
    "cohen_h_power",
    "comparison_alpha",
    "detectable_effect",
    "mde_curve",
    "power_curve",
    "power_z",
    "prop_test_power",
    "ratio_sd",
    "solve_power",
    "t_test_power",
]

PowerKind = Literal["mean", "proportion", "t-test", "prop-test", "cohen-h"]
POWER_KINDS: tuple[PowerKind, ...] = ("mean", "proportion", "t-test", "prop-test", "cohen-h")
EffectType = Literal["absolute", "relative"]
EFFECT_TYPES: tuple[EffectType, ...] = ("absolute", "relative")
PowerCorrection = Literal["bonferroni", "sidak"]
POWER_CORRECTIONS: tuple[PowerCorrection, ...] = ("bonferroni", "sidak")
Sample = Literal["two-sample", "one-sample", "paired"]
SAMPLES: tuple[Sample, ...] = ("two-sample", "one-sample", "paired")
Unknown = Literal["n", "effect", "power", "alpha", "sd"]

#: brentq's relative tolerance: the smallest it accepts, i.e. machine precision.
_RTOL = 4.0 * float(np.finfo(np.float64).eps)
_XTOL = 1e-300
#: Bracket of the significance level when solving for it.
_ALPHA_BRACKET = (1e-15, 1.0 - 1e-15)
#: R's pnt switches to the normal approximation of Abramowitz and Stegun 26.7.10 beyond these.
_R_PNT_MAX_DF = 4e5
_R_PNT_MAX_NCP2 = 2.0 * math.log(2.0) * 1021.0

#: The design options each kind takes (any other raises an InputError).
_OPTIONS: dict[PowerKind, frozenset[str]] = {
    "mean": frozenset(
        {
            "sd",
            "sd_treatment",
            "baseline",
            "effect_type",
            "alternative",
            "margin",
            "arms",
            "split",
            "correction",
            "variance_reduction",
            "inflation",
        }
    ),
    "proportion": frozenset(
        {
            "baseline",
            "effect_type",
            "alternative",
            "margin",
            "arms",
            "split",
            "correction",
            "variance_reduction",
            "inflation",
            "pooled",
        }
    ),
    "t-test": frozenset({"sd", "n_treatment", "alternative", "strict", "sample"}),
    "prop-test": frozenset({"baseline", "alternative", "strict"}),
    "cohen-h": frozenset({"n_treatment", "alternative"}),
}


class DesignOptions(TypedDict, total=False):
    """What describes a design besides n, effect, power and alpha (each kind takes a subset).

    Attributes:
        sd: Per-unit standard deviation of the control arm ("mean"; for a ratio metric, of its
            linearization, see `ratio_sd`) or of both groups ("t-test", default 1). ``None``
            makes it the unknown to solve for.
        sd_treatment: Per-unit standard deviation of the treatment arms ("mean"). Defaults to
            ``sd`` for an absolute effect, and to ``sd * (1 + effect)`` (the same coefficient
            of variation) for a relative one.
        baseline: Control mean ("mean"; needed for relative effects) or rate ("proportion",
            and ``p1`` of "prop-test").
        n_treatment: Size of the second group ("t-test", "cohen-h"): unequal groups as in
            ``pwr.t2n.test`` and ``pwr.2p2n.test``. Defaults to ``n``.
        effect_type: "absolute" (a difference) or "relative" (a lift ``L``, treatment mean
            ``baseline * (1 + L)``, tested on the log ratio); the margin is on the same scale.
        alternative: "two-sided" (default), "greater" or "less".
        margin: Null value of the effect: ``greater`` with a negative margin is a
            non-inferiority test ("mean", "proportion").
        arms: Number of arms including the control (default 2, or the length of ``split``).
        split: Share of the units in each arm, control first; defaults to equal shares.
        correction: "bonferroni" or "sidak" to split alpha over the ``arms - 1`` comparisons
            with the control; None (default) for none.
        variance_reduction: Expected share of the variance removed by covariate adjustment,
            ``rho^2`` for CUPED (``R^2`` for regression adjustment); default 0.
        inflation: ("mean", "proportion") Sample-size inflation of a sequential design,
            ``n_max / n_fixed`` (`ablens.sample_size_inflation` for a group-sequential design,
            `ablens.always_valid_inflation` for an mSPRT or a confidence sequence); power at a
            maximum size ``n`` is the fixed design's at ``n / inflation`` (exact at the power
            the factor was computed for). Default 1 (fixed horizon).
        pooled: Proportions: pooled standard error under the null. Defaults to True for the
            test of no absolute difference (as `ablens.proportion_test` does), else False.
        strict: "t-test" and "prop-test": count the rejection region on the other side too in
            a two-sided test (R's ``strict = TRUE``); default False, as in R.
        sample: "t-test": "two-sample" (default), "one-sample" or "paired".
    """

    sd: float | None
    sd_treatment: float | None
    baseline: float | None
    n_treatment: float | None
    effect_type: EffectType
    alternative: Alternative
    margin: float
    arms: int
    split: Sequence[float] | None
    correction: PowerCorrection | None
    variance_reduction: float
    inflation: float
    pooled: bool | None
    strict: bool
    sample: Sample


# ---------------------------------------------------------------------------- small helpers
def comparison_alpha(alpha: float, comparisons: int, correction: PowerCorrection | None) -> float:
    """The significance level of each comparison after a family-wise correction.

    Args:
        alpha: Family-wise level.
        comparisons: Number of comparisons (treatment arms compared with the control).
        correction: "bonferroni" (``alpha / k``), "sidak" (``1 - (1 - alpha)^(1/k)``) or None.

    Examples:
        >>> comparison_alpha(0.05, 2, "bonferroni"), round(comparison_alpha(0.05, 2, "sidak"), 6)
        (0.025, 0.025321)
    """
    alpha = check_open_unit_interval("alpha", alpha)
    k = check_count("comparisons", comparisons, minimum=1)
    if correction is None or k == 1:
        return alpha
    check_choice("correction", correction, POWER_CORRECTIONS)
    if correction == "bonferroni":
        return alpha / k
    return -math.expm1(math.log1p(-alpha) / k)


def cohen_h(p1: ArrayLike, p2: ArrayLike) -> float | FloatArray:
    """Cohen's effect size for two proportions, ``2 asin(sqrt(p1)) - 2 asin(sqrt(p2))``.

    The same as ``pwr::ES.h``.

    Examples:
        >>> round(cohen_h(0.65, 0.45), 6)
        0.40486
    """
    a = np.asarray(p1, dtype=np.float64)
    b = np.asarray(p2, dtype=np.float64)
    if np.any((a < 0) | (a > 1)) or np.any((b < 0) | (b > 1)):
        raise InputError("p1 and p2 must be proportions in [0, 1]")
    return _scalar(2.0 * np.arcsin(np.sqrt(a)) - 2.0 * np.arcsin(np.sqrt(b)))


def ratio_sd(
    mean_numerator: float,
    mean_denominator: float,
    var_numerator: float,
    var_denominator: float,
    covariance: float,
) -> tuple[float, float]:
    """A ratio metric's value and the per-unit standard deviation of its linearization.

    The delta method (Deng, Knoblich and Lu, 2018) gives ``Var(R_hat) = sd^2 / n`` with
    ``sd^2 = (var_N - 2 R cov_ND + R^2 var_D) / mean_D^2``: plan a ratio as a mean with this sd.

    Args:
        mean_numerator: Mean of the per-unit numerator.
        mean_denominator: Mean of the per-unit denominator (non-zero).
        var_numerator: Variance of the numerator.
        var_denominator: Variance of the denominator.
        covariance: Covariance of numerator and denominator.

    Returns:
        ``(ratio, sd)``.

    Examples:
        >>> ratio, sd = ratio_sd(0.3, 3.0, 0.4, 4.0, 0.6)
        >>> round(ratio, 4), round(sd, 6)
        (0.1, 0.188562)
    """
    mean_n = check_real("mean_numerator", mean_numerator)
    mean_d = check_real("mean_denominator", mean_denominator)
    if mean_d == 0:
        raise InputError("mean_denominator == 0.0, must be non-zero for a ratio")
    var_n = check_real("var_numerator", var_numerator)
    var_d = check_real("var_denominator", var_denominator)
    if var_n < 0:
        raise InputError(f"var_numerator == {var_n!r}, must be >= 0")
    if var_d < 0:
        raise InputError(f"var_denominator == {var_d!r}, must be >= 0")
    cov = check_real("covariance", covariance)
    ratio = mean_n / mean_d
    variance = (var_n - 2.0 * ratio * cov + ratio * ratio * var_d) / (mean_d * mean_d)
    return ratio, math.sqrt(max(variance, 0.0))


def _scalar(values: FloatArray) -> float | FloatArray:
    """A Python float for a 0-d result, the array otherwise."""
    array = np.asarray(values, dtype=np.float64)
    return float(array) if array.ndim == 0 else array


def _array(name: str, values: ArrayLike, *, positive: bool = False) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} == {values!r}, must be a number or an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} == {values!r}, must be finite (not NaN or infinite)")
    if positive and np.any(array <= 0):
        raise InputError(f"{name} == {values!r}, must be > 0")
    return array


def _normal_tails(
    shift: FloatArray,
    null_scale: FloatArray | float,
    alt_scale: FloatArray | float,
    alpha: FloatArray | float,
    alternative: Alternative,
    *,
    strict: bool = True,
) -> FloatArray:
    """Rejection probability of ``(estimate - null) / null_scale`` against normal quantiles.

    The estimate minus its null value is normal with mean ``shift`` and sd ``alt_scale``.
    """
    special = special_functions()
    with np.errstate(divide="ignore", invalid="ignore"):
        if alternative == "two-sided":
            z = -special.ndtri(np.asarray(alpha) / 2.0)
            if not strict:
                return np.asarray(special.ndtr((np.abs(shift) - z * null_scale) / alt_scale))
            upper = special.ndtr((shift - z * null_scale) / alt_scale)
            lower = special.ndtr((-shift - z * null_scale) / alt_scale)
            return np.asarray(upper + lower, dtype=np.float64)
        z = -special.ndtri(np.asarray(alpha))
        sign = 1.0 if alternative == "greater" else -1.0
        return np.asarray(special.ndtr((sign * shift - z * null_scale) / alt_scale))


def _brentq(function: Callable[[float], float], lower: float, upper: float) -> float:
    from scipy.optimize import brentq  # noqa: PLC0415 - scipy.optimize is slow to import

    root = brentq(function, lower, upper, xtol=_XTOL, rtol=_RTOL, maxiter=1000)
    return float(root)


def _standardized_shift(power: float, alpha: float, alternative: Alternative) -> float:
    """The shift ``u`` (in standard errors) at which a normal test has the given power.

    One-sided: ``z_{1-alpha} + z_power``; two-sided: the root of
    ``Phi(u - z) + Phi(-u - z) = power`` with ``z = z_{1-alpha/2}``.
    """
    special = special_functions()
    if alternative != "two-sided":
        return float(-special.ndtri(alpha) + special.ndtri(power))
    z = float(-special.ndtri(alpha / 2.0))

    def excess(u: float) -> float:
        return float(special.ndtr(u - z) + special.ndtr(-u - z)) - power

    upper = max(z + float(special.ndtri(power)), 0.0) + 1.0
    return _brentq(excess, 0.0, upper)


# ---------------------------------------------------------------------------- R's pnt
def _pnt(t: FloatArray, df: FloatArray, ncp: FloatArray, *, lower: bool) -> FloatArray:
    """R's ``pt(t, df, ncp, lower.tail)``, branches included.

    Exact (Boost's noncentral t, as accurate as R's series) where R computes it exactly; R's
    normal approximation (Abramowitz and Stegun 26.7.10) where R switches to it, for
    ``df > 4e5`` or ``ncp^2 > 2 log(2) 1021`` (``|ncp| > 37.62``); 0 (or 1) for ``t < 0`` and
    ``ncp > 40``, and the central t at ``ncp == 0``, as R does. The upper tail is computed as
    the lower tail of the mirrored distribution, ``P(T > t) = P(T' < -t)`` with
    ``T' ~ t(df, -ncp)``, so small upper tails keep their digits.
    """
    special = special_functions()
    t, df, ncp = np.broadcast_arrays(
        np.asarray(t, np.float64), np.asarray(df, np.float64), np.asarray(ncp, np.float64)
    )
    result = np.empty(t.shape, dtype=np.float64)
    negdel = t < 0
    tt = np.where(negdel, -t, t)
    delta = np.where(negdel, -ncp, ncp)
    central = ncp == 0
    extreme = ~central & negdel & (ncp > 40)
    approximate = ~central & ~extreme & ((df > _R_PNT_MAX_DF) | (delta * delta > _R_PNT_MAX_NCP2))
    exact = ~central & ~extreme & ~approximate
    if np.any(exact):
        if lower:
            values = special.nctdtr(df[exact], ncp[exact], t[exact])
        else:
            values = special.nctdtr(df[exact], -ncp[exact], -t[exact])
        result[exact] = values
        # Boost underflows to NaN deep in a tail (|t| small, |ncp| near 37), where R's series
        # returns a number below 1e-170: the approximation below is as good there.
        failed = np.zeros_like(exact)
        failed[exact] = np.isnan(values)
        approximate |= failed
    if np.any(central):
        x = t[central] if lower else -t[central]
        result[central] = special.stdtr(df[central], x)
    result[extreme] = 0.0 if lower else 1.0
    if np.any(approximate):
        s = 1.0 / (4.0 * df[approximate])
        tt_a = tt[approximate]
        x = (tt_a * (1.0 - s) - delta[approximate]) / np.sqrt(1.0 + tt_a * tt_a * 2.0 * s)
        lower_tail = lower != negdel[approximate]
        result[approximate] = np.where(lower_tail, special.ndtr(x), special.ndtr(-x))
    return result


# ---------------------------------------------------------------------------- the design
@dataclass(frozen=True)
class _Design:
    """A validated design: everything but the unknowns."""

    kind: PowerKind
    alternative: Alternative = "two-sided"
    sd: float | None = None
    sd_treatment: float | None = None
    baseline: float | None = None
    n_treatment: float | None = None
    effect_type: EffectType = "absolute"
    margin: float = 0.0
    split: tuple[float, ...] = (0.5, 0.5)
    correction: PowerCorrection | None = None
    variance_reduction: float = 0.0
    inflation: float = 1.0
    pooled: bool = False
    strict: bool = False
    sample: Sample = "two-sample"

    # -------------------------------------------------------------- derived quantities
    @property
    def comparisons(self) -> int:
        """Number of treatment arms, each compared with the control."""
        return len(self.split) - 1 if self.kind in ("mean", "proportion") else 1

    def comparison_alpha(self, alpha: float) -> float:
        """The per-comparison level."""
        return comparison_alpha(alpha, self.comparisons, self.correction)

    def arm_sizes(self, n: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Control size and the smallest treatment arm's size."""
        if self.kind in ("mean", "proportion"):
            return self.split[0] * n, min(self.split[1:]) * n
        second = n if self.n_treatment is None else np.full_like(n, self.n_treatment)
        return n, second

    def n_per_arm(self, n: float) -> tuple[float, ...]:
        """Every arm's size for ``n`` as this kind defines it."""
        if self.kind in ("mean", "proportion"):
            return tuple(share * n for share in self.split)
        if self.kind == "t-test" and self.sample != "two-sample":
            return (n,)
        return (n, n if self.n_treatment is None else self.n_treatment)

    @property
    def direction(self) -> float:
        """+1 when the alternative looks for larger effects (two-sided: report those), else -1."""
        return -1.0 if self.alternative == "less" else 1.0

    # -------------------------------------------------------------- power
    def power(
        self, n: FloatArray, effect: FloatArray, alpha: float, sd: float | None = None
    ) -> FloatArray:
        """Power at sizes ``n`` and effects ``effect`` (broadcast); NaN where undefined."""
        a = self.comparison_alpha(alpha)
        sd = self.sd if sd is None else sd
        n, effect = np.broadcast_arrays(np.asarray(n, np.float64), np.asarray(effect, np.float64))
        if self.kind == "t-test":
            return self._t_power(n, effect, a, cast("float", sd))
        if self.kind == "cohen-h":
            n1, n2 = self.arm_sizes(n)
            shift = effect * np.sqrt(n1 * n2 / (n1 + n2))
            return _normal_tails(shift, 1.0, 1.0, a, self.alternative)
        if self.kind == "prop-test":
            return self._prop_test_power(n, effect, a)
        shift, null_scale, alt_scale = self.moments(n, effect, sd)
        return _normal_tails(shift, null_scale, alt_scale, a, self.alternative)

    def moments(
        self, n: FloatArray, effect: FloatArray, sd: float | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(D, s0, s1)`` of an ablens design: shift from the null and the two standard errors."""
        # A sequential design reaches at its maximum size n the power of a fixed one at
        # n / inflation (the definition of the inflation factor).
        n_c, n_t = self.arm_sizes(np.asarray(n, np.float64) / self.inflation)
        keep = 1.0 - self.variance_reduction
        margin = self.margin
        relative = self.effect_type == "relative"
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "mean":
                mean = cast("float", self.baseline) if relative else 0.0
                sd_c = cast("float", sd)
                if self.sd_treatment is not None:
                    sd_t: FloatArray | float = self.sd_treatment
                else:
                    sd_t = sd_c * np.abs(1.0 + effect) if relative else sd_c
                var_c = keep * sd_c * sd_c * np.ones_like(effect)
                var_t = keep * np.square(sd_t) * np.ones_like(effect)
                mean_c = np.full_like(effect, mean)
                mean_t = mean * (1.0 + effect)
            else:
                p = cast("float", self.baseline)
                mean_c = np.full_like(effect, p)
                mean_t = p * (1.0 + effect) if relative else p + effect
                invalid = (mean_t <= 0) | (mean_t >= 1)
                mean_t = np.where(invalid, np.nan, mean_t)
                var_c = keep * mean_c * (1.0 - mean_c)
                var_t = keep * mean_t * (1.0 - mean_t)
            if relative:
                valid = (1.0 + effect > 0) & (mean_c != 0)
                shift = np.where(valid, np.log1p(np.where(valid, effect, 0.0)), np.nan)
                shift = shift - math.log1p(margin)
                scale = np.sqrt(var_c / (n_c * mean_c**2) + var_t / (n_t * mean_t**2))
                return shift, scale, scale
            shift = effect - margin
            scale = np.sqrt(var_c / n_c + var_t / n_t)
            if self.kind == "proportion" and self.pooled:
                pooled = (n_c * mean_c + n_t * mean_t) / (n_c + n_t)
                null_scale = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_t))
                return shift, null_scale, scale
            return shift, scale, scale

    def _t_power(self, n: FloatArray, delta: FloatArray, alpha: float, sd: float) -> FloatArray:
        """``power.t.test`` (equal groups) or ``pwr.t2n.test`` (``n_treatment`` given)."""
        special = special_functions()
        if self.n_treatment is None:
            groups = 2.0 if self.sample == "two-sample" else 1.0
            df = np.maximum(1e-7, n - 1.0) * groups
            ncp = np.sqrt(n / groups) * delta / sd
        else:
            df = n + self.n_treatment - 2.0
            ncp = (delta / sd) / np.sqrt(1.0 / n + 1.0 / self.n_treatment)
        if self.alternative == "two-sided":
            ncp = np.abs(ncp)
            q = -special.stdtrit(df, alpha / 2.0)
            upper = _pnt(q, df, ncp, lower=False)
            if not self.strict:
                return upper
            return upper + _pnt(-q, df, ncp, lower=True)
        q = -special.stdtrit(df, alpha)
        if self.alternative == "greater":
            return _pnt(q, df, ncp, lower=False)
        return _pnt(-q, df, ncp, lower=True)

    def _prop_test_power(self, n: FloatArray, difference: FloatArray, alpha: float) -> FloatArray:
        """``power.prop.test`` with ``p1 = baseline`` and ``p2 = baseline + difference``."""
        p1 = cast("float", self.baseline)
        p2 = p1 + difference
        p2 = np.where((p2 <= 0) | (p2 >= 1), np.nan, p2)
        pbar = (p1 + p2) / 2.0
        null_scale = np.sqrt(2.0 * pbar * (1.0 - pbar))
        alt_scale = np.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2))
        shift = np.sqrt(n) * (p2 - p1)
        if self.alternative == "two-sided":
            shift = np.abs(shift)
        return _normal_tails(
            shift, null_scale, alt_scale, alpha, self.alternative, strict=self.strict
        )

    # -------------------------------------------------------------- effects
    def effect_domain(self) -> tuple[float, float]:
        """``(null value, edge)``: effects on the alternative's side lie between the two."""
        sign = self.direction
        if self.kind in ("t-test", "cohen-h"):
            return 0.0, sign * math.inf
        if self.kind == "prop-test":
            p1 = cast("float", self.baseline)
            return 0.0, (1.0 - p1) if sign > 0 else -p1
        start = self.margin
        if self.effect_type == "relative":
            if sign < 0:
                return start, -1.0
            if self.kind == "proportion":
                return start, 1.0 / cast("float", self.baseline) - 1.0
            return start, math.inf
        if self.kind == "proportion":
            p = cast("float", self.baseline)
            return start, (1.0 - p) if sign > 0 else -p
        return start, sign * math.inf

    def closed_form_effect(self) -> bool:
        """Whether the effect at a given power has a closed form (variance free of the effect)."""
        if self.kind == "cohen-h":
            return True
        return self.kind == "mean" and (self.effect_type == "absolute" or self.sd_treatment is None)

    def mde(self, n: FloatArray, power: float, alpha: float) -> FloatArray:
        """The effect detected with ``power`` at each size in ``n``; NaN where none is."""
        a = self.comparison_alpha(alpha)
        if self.closed_form_effect():
            u = _standardized_shift(power, a, self.alternative) * self.direction
            if self.kind == "cohen-h":
                n1, n2 = self.arm_sizes(n)
                return np.asarray(u / np.sqrt(n1 * n2 / (n1 + n2)), dtype=np.float64)
            zero = np.zeros_like(n)
            # The standard error does not depend on the effect here: take it at the null.
            null_effect = zero + (self.margin if self.effect_type == "absolute" else 0.0)
            _, _, scale = self.moments(n, null_effect, self.sd)
            if self.effect_type == "absolute":
                return np.asarray(self.margin + u * scale, dtype=np.float64)
            return np.asarray(np.expm1(math.log1p(self.margin) + u * scale), dtype=np.float64)
        return self._search_effect(n, power, alpha)

    def _search_effect(self, n: FloatArray, power: float, alpha: float) -> FloatArray:
        """First effect, moving away from the null value, whose power reaches ``power``.

        Candidates step geometrically towards the domain's edge (or out to 1e18 when it has
        none); then bisection, vectorized over ``n``, to the last bit between the candidate
        below and the first at or above the target.
        """
        lower, upper = self.bracket_effect(n, power, alpha)
        found = np.isfinite(upper)
        lo = np.where(found, lower, 0.0)
        hi = np.where(found, upper, 0.0)
        for _ in range(2200):  # bisection of doubles always ends well within this
            mid = 0.5 * (lo + hi)
            width = np.abs(hi - lo)
            active = found & (width > 2.0 * _RTOL * np.maximum(np.abs(lo), np.abs(hi)))
            active &= (mid != lo) & (mid != hi)
            if not np.any(active):
                break
            reached = self.power(n, mid, alpha) >= power
            hi = np.where(active & reached, mid, hi)
            lo = np.where(active & ~reached, mid, lo)
        # hi reaches the target; lo does not; they are adjacent (or within rtol).
        return np.where(found, hi, np.nan)

    def effect_guess(self, n: FloatArray, power: float, alpha: float) -> FloatArray:
        """A rough size of the detectable effect at each ``n``: the scale of the search."""
        u = abs(_standardized_shift(power, self.comparison_alpha(alpha), self.alternative))
        if self.kind == "t-test":
            sd = cast("float", self.sd)
            if self.n_treatment is not None:
                return np.asarray(u * sd * np.sqrt(1.0 / n + 1.0 / self.n_treatment))
            groups = 2.0 if self.sample == "two-sample" else 1.0
            return np.asarray(u * sd * np.sqrt(groups / n))
        if self.kind == "prop-test":
            p = cast("float", self.baseline)
            return np.asarray(u * np.sqrt(2.0 * p * (1.0 - p) / n))
        start, _ = self.effect_domain()
        _, _, scale = self.moments(n, np.full(n.shape, start), self.sd)
        return np.asarray(u * scale)

    def bracket_effect(
        self, n: FloatArray, power: float, alpha: float
    ) -> tuple[FloatArray, FloatArray]:
        """Per ``n``, an effect below the target power and one at or above it (``inf`` if none).

        Candidates move away from the null value by ``x = guess * 2^j`` (j from -6), mapped
        into a bounded domain by ``edge - (edge - start) exp(-x / |edge - start|)``, so they
        approach the edge without reaching it; the first to reach the target closes the
        bracket (the first crossing, should power fall again near the edge).
        """
        start, edge = self.effect_domain()
        sign = self.direction
        n = np.asarray(n, np.float64)
        guess = self.effect_guess(n, power, alpha)
        guess = np.where(np.isfinite(guess) & (guess > 0), guess, 1.0)
        lower = np.full(n.shape, start)
        upper = np.full(n.shape, np.inf)
        pending = np.ones(n.shape, dtype=bool)
        distance = abs(edge - start)
        for j in range(-6, 70):
            x = guess * 2.0**j
            if math.isinf(distance):
                candidate = start + sign * x
            else:
                candidate = start + (edge - start) * -np.expm1(-x / distance)
            reached = self.power(n, candidate, alpha) >= power
            upper = np.where(pending & reached, candidate, upper)
            lower = np.where(pending & ~reached, candidate, lower)
            pending &= ~reached
            if not np.any(pending):
                break
        return lower, upper


# ---------------------------------------------------------------------------- validation
_MISSING = object()


def _split(arms: object, split: object) -> tuple[float, ...]:
    if split is None:
        k = check_count("arms", 2 if arms is None else arms, minimum=2)
        return tuple(1.0 / k for _ in range(k))
    try:
        shares = tuple(check_real("split", s) for s in cast("Sequence[float]", split))
    except TypeError:
        raise InputError(f"split == {split!r}, must be a sequence of shares") from None
    if len(shares) < 2:
        raise InputError(f"split == {split!r}, must give at least 2 arms (control first)")
    if arms is not None and check_count("arms", arms, minimum=2) != len(shares):
        raise InputError(f"split == {split!r} has {len(shares)} shares, must match arms == {arms}")
    if any(s <= 0 for s in shares):
        raise InputError(f"split == {split!r}, every share must be > 0")
    if not math.isclose(sum(shares), 1.0, rel_tol=0.0, abs_tol=1e-9):
        raise InputError(f"split == {split!r}, must sum to 1 (it sums to {sum(shares):.6g})")
    return shares


def _design(kind: str, options: DesignOptions) -> _Design:
    """Validate the kind and its options into a `_Design`."""
    kind = check_choice("kind", kind, POWER_KINDS)
    allowed = _OPTIONS[cast("PowerKind", kind)]
    for key in options:
        if key not in allowed:
            raise InputError(
                f"{key} does not apply to kind {kind!r}; it takes {', '.join(sorted(allowed))}"
            )
    get = cast("dict[str, Any]", options).get
    effect_type = check_choice("effect_type", get("effect_type", "absolute"), EFFECT_TYPES)
    margin = check_real("margin", get("margin", 0.0))
    if effect_type == "relative" and margin <= -1:
        raise InputError(f"margin == {margin!r}, must be > -1 for a relative margin")
    correction = get("correction")
    if correction is not None:
        check_choice("correction", correction, POWER_CORRECTIONS)
    reduction = check_real("variance_reduction", get("variance_reduction", 0.0))
    if not 0.0 <= reduction < 1.0:
        raise InputError(f"variance_reduction == {reduction!r}, must be in [0, 1)")
    inflation = check_real("inflation", get("inflation", 1.0))
    if inflation < 1.0:
        raise InputError(f"inflation == {inflation!r}, must be >= 1 (n_max / n_fixed)")
    sample = check_choice("sample", get("sample", "two-sample"), SAMPLES)
    n_treatment = _optional_positive("n_treatment", get("n_treatment"))
    if sample != "two-sample" and n_treatment is not None:
        raise InputError(f"n_treatment applies to two samples, not sample == {sample!r}")
    return _Design(
        kind=cast("PowerKind", kind),
        alternative=check_alternative(get("alternative", "two-sided")),
        sd=_design_sd(cast("PowerKind", kind), get),
        sd_treatment=_optional_positive("sd_treatment", get("sd_treatment")),
        baseline=_design_baseline(cast("PowerKind", kind), effect_type, get("baseline")),
        n_treatment=n_treatment,
        effect_type=cast("EffectType", effect_type),
        margin=margin,
        split=_split(get("arms"), get("split")),
        correction=correction,
        variance_reduction=reduction,
        inflation=inflation,
        pooled=_design_pooled(kind, get("pooled"), effect_type, margin, reduction),
        strict=bool(get("strict", False)),
        sample=cast("Sample", sample),
    )


def _optional_positive(name: str, value: object) -> float | None:
    return None if value is None else check_positive(name, value)


def _design_sd(kind: PowerKind, get: Callable[..., Any]) -> float | None:
    if "sd" not in _OPTIONS[kind]:
        return None
    raw_sd = get("sd", 1.0 if kind == "t-test" else _MISSING)
    if raw_sd is _MISSING:
        raise InputError(f"sd is required for kind {kind!r} (None to solve for it)")
    return _optional_positive("sd", raw_sd)


def _design_baseline(kind: PowerKind, effect_type: str, baseline: object) -> float | None:
    if kind in ("proportion", "prop-test"):
        if baseline is None:
            raise InputError(f"baseline is required for kind {kind!r}: the control's rate")
        return check_open_unit_interval("baseline", baseline)
    value = None if baseline is None else check_real("baseline", baseline)
    if kind == "mean" and effect_type == "relative":
        if value is None:
            raise InputError("baseline is required for a relative effect: the control mean")
        if value <= 0:
            # The lift is tested on the log ratio, defined for a positive control mean only.
            raise InputError(
                f"baseline == {value!r}, must be > 0 for a relative effect (tested on the log "
                "ratio); give the effect as a difference with effect_type='absolute'"
            )
    return value


def _design_pooled(
    kind: str, pooled: object, effect_type: str, margin: float, reduction: float
) -> bool:
    if kind != "proportion":
        return False
    default_pooled = effect_type == "absolute" and margin == 0 and reduction == 0
    if pooled is None:
        return default_pooled
    if pooled and not default_pooled:
        raise InputError(
            "pooled == True needs the test of no absolute difference without covariate "
            "adjustment (effect_type='absolute', margin=0, variance_reduction=0), as "
            "ablens.proportion_test pools only then"
        )
    return bool(pooled)


# ---------------------------------------------------------------------------- the solution
@dataclass(frozen=True)
class PowerSolution:
    """A solved design: every quantity, the solved one included.

    Attributes:
        kind: "mean", "proportion", "t-test", "prop-test" or "cohen-h".
        solved: Which quantity was solved: "n", "effect", "power", "alpha" or "sd".
        n: Total units over all arms ("mean", "proportion") or units per group (R kinds; the
            first group when ``n_treatment`` was given). Not rounded.
        effect: The effect (difference, lift, delta, ``p2 - p1`` or Cohen's h).
        power: Probability of rejecting the null at this effect.
        alpha: Family-wise significance level.
        comparison_alpha: Level of each comparison with the control after the correction.
        sd: The standard deviation used (None where the kind has none).
        n_per_arm: Units in each arm (control first), not rounded.
        alternative: "two-sided", "greater" or "less".
        effect_type: "absolute" or "relative".
    """

    kind: PowerKind
    solved: Unknown
    n: float
    effect: float
    power: float
    alpha: float
    comparison_alpha: float
    sd: float | None
    n_per_arm: tuple[float, ...]
    alternative: Alternative
    effect_type: EffectType

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return asdict(self)

    def __str__(self) -> str:
        arms = ", ".join(f"{size:,.1f}" for size in self.n_per_arm)
        parts = [
            f"{self.kind} ({self.alternative}; solved for {self.solved})",
            f"n = {self.n:,.2f} (per arm: {arms})",
            f"effect = {self.effect:.6g} ({self.effect_type})",
            f"power = {self.power:.4f}",
            f"alpha = {self.alpha:.4g} (each comparison {self.comparison_alpha:.4g})",
        ]
        if self.sd is not None:
            parts.append(f"sd = {self.sd:.6g}")
        return "\n".join(parts)


# ---------------------------------------------------------------------------- solvers
def solve_power(
    kind: PowerKind,
    *,
    n: float | None = None,
    effect: float | None = None,
    power: float | None = None,
    alpha: float | None = 0.05,
    **design: Unpack[DesignOptions],
) -> PowerSolution:
    """Solve for the one unknown among ``n``, ``effect``, ``power``, ``alpha`` (or ``sd``).

    Exactly one of them must be None (``sd=None`` makes the standard deviation the unknown);
    ``alpha`` defaults to 0.05, so pass ``alpha=None`` to solve for it, as in R.

    Args:
        kind: "mean" (means, ratio metrics through `ratio_sd`, covariate-adjusted metrics
            through ``variance_reduction``), "proportion", or the R-compatible "t-test"
            (``power.t.test``, ``pwr.t2n.test``), "prop-test" (``power.prop.test``) and
            "cohen-h" (``pwr.2p.test``, ``pwr.2p2n.test``).
        n: Total units over all arms ("mean", "proportion"), or per group (R kinds).
        effect: True effect: a difference (``effect_type="absolute"``), a lift (relative),
            R's ``delta`` ("t-test"), ``p2 - p1`` ("prop-test") or ``h`` ("cohen-h").
        power: Probability of rejecting the null at ``effect``.
        alpha: Family-wise significance level.
        **design: The design (see `DesignOptions`): ``sd``, ``sd_treatment``, ``baseline``,
            ``n_treatment``, ``effect_type``, ``alternative``, ``margin``, ``arms``,
            ``split``, ``correction``, ``variance_reduction``, ``pooled``, ``strict``,
            ``sample``.

    Returns:
        Every quantity of the design, the solved one included. A solved effect lies on the
        alternative's side of the null (the larger side for two-sided tests).

    Raises:
        InputError: On invalid values, options that do not apply to ``kind``, not exactly one
            unknown, or a target no value of the unknown reaches.

    Examples:
        Users per arm to detect a lift of conversion from 10% to 11% (two-sided, 5%, 80%):

        >>> s = solve_power("proportion", n=None, effect=0.01, power=0.8, baseline=0.10)
        >>> round(s.n / 2, 1)  # power.prop.test(p1 = 0.1, p2 = 0.11, power = 0.8, strict = TRUE)
        14750.8

        The detectable lift of a metric with 20,000 users in total, tested on the log ratio:

        >>> s = solve_power(
        ...     "mean", n=20_000, power=0.8, sd=30.0, baseline=25.0, effect_type="relative"
        ... )
        >>> round(s.effect, 5)
        0.04869

        R's ``power.t.test(delta = 1, sd = 2, power = 0.9)$n``:

        >>> round(solve_power("t-test", n=None, effect=1.0, power=0.9, sd=2.0).n, 6)
        85.031313
    """
    spec = _design(kind, design)
    unknowns: list[Unknown] = []
    for name, value in (("n", n), ("effect", effect), ("power", power), ("alpha", alpha)):
        if value is None:
            unknowns.append(cast("Unknown", name))
    if "sd" in _OPTIONS[spec.kind] and spec.sd is None:
        unknowns.append("sd")
    if len(unknowns) != 1:
        listed = ", ".join(unknowns) if unknowns else "none"
        raise InputError(
            f"exactly one of n, effect, power, alpha (or sd) must be None, the unknown to "
            f"solve for; got {listed}"
        )
    values = {
        "n": None if n is None else check_positive("n", n),
        "effect": None if effect is None else check_real("effect", effect),
        "power": None if power is None else check_open_unit_interval("power", power),
        "alpha": None if alpha is None else check_open_unit_interval("alpha", alpha),
        "sd": spec.sd,
    }
    unknown = unknowns[0]
    values[unknown] = _solve(spec, unknown, values)
    n_value, effect_value, alpha_value = (
        cast("float", values[name]) for name in ("n", "effect", "alpha")
    )
    return PowerSolution(
        kind=spec.kind,
        solved=unknown,
        n=n_value,
        effect=effect_value,
        power=cast("float", values["power"]),
        alpha=alpha_value,
        comparison_alpha=spec.comparison_alpha(alpha_value),
        sd=values["sd"],
        n_per_arm=spec.n_per_arm(n_value),
        alternative=spec.alternative,
        effect_type=spec.effect_type,
    )


def _solve(spec: _Design, unknown: Unknown, values: dict[str, float | None]) -> float:
    """The value of ``unknown`` given the others (all checked already)."""
    n, effect, power, alpha = (values[k] for k in ("n", "effect", "power", "alpha"))
    if unknown == "power":
        return _evaluate(spec, cast("float", n), cast("float", effect), cast("float", alpha))
    power = cast("float", power)
    if unknown == "alpha":
        return _solve_alpha(spec, cast("float", n), cast("float", effect), power)
    alpha = cast("float", alpha)
    level = spec.comparison_alpha(alpha)
    if power <= level:
        raise InputError(
            f"power == {power!r}, must exceed the comparison's significance level "
            f"{level:.6g}: any design reaches that"
        )
    if unknown == "n":
        return _solve_n(spec, cast("float", effect), power, alpha)
    if unknown == "effect":
        return _solve_effect(spec, cast("float", n), power, alpha)
    return _solve_sd(spec, cast("float", n), cast("float", effect), power, alpha)


def _evaluate(
    spec: _Design, n: float, effect: float, alpha: float, sd: float | None = None
) -> float:
    value = float(spec.power(np.asarray(n), np.asarray(effect), alpha, sd))
    if math.isnan(value):
        raise InputError(_undefined(spec, effect))
    return value


def _undefined(spec: _Design, effect: float) -> str:
    if spec.kind in ("proportion", "prop-test"):
        return (
            f"effect == {effect!r} puts the treatment rate outside (0, 1) with baseline == "
            f"{spec.baseline!r}"
        )
    return f"effect == {effect!r} is not a valid effect here (a lift must be > -1)"


def _unreachable(what: str, power: float) -> InputError:
    return InputError(f"no {what} reaches power == {power!r} with the other values given")


def _solve_n(spec: _Design, effect: float, power: float, alpha: float) -> float:
    """The size at which the power reaches the target (power increases with n)."""
    a = spec.comparison_alpha(alpha)
    if math.isnan(float(spec.power(np.asarray(1.0), np.asarray(effect), alpha))):
        raise InputError(_undefined(spec, effect))
    direction_ok = _towards_alternative(spec, effect)
    if not direction_ok:
        raise InputError(
            f"effect == {effect!r} is not beyond the null value in the direction of "
            f"alternative == {spec.alternative!r}; no sample size reaches power == {power!r}"
        )
    if spec.kind in ("mean", "proportion") and not (spec.kind == "proportion" and spec.pooled):
        # The standard error is K / sqrt(n): n = (u K / D)^2, exactly.
        shift, _, scale = spec.moments(np.asarray(1.0), np.asarray(effect), spec.sd)
        u = _standardized_shift(power, a, spec.alternative)
        return float((u * scale / abs(shift)) ** 2)
    if spec.kind == "cohen-h":
        u = _standardized_shift(power, a, spec.alternative)
        harmonic = (u / abs(effect)) ** 2  # n1 n2 / (n1 + n2)
        if spec.n_treatment is None:
            return 2.0 * harmonic
        if spec.n_treatment <= harmonic:
            raise _unreachable("first-group size n", power)
        return harmonic * spec.n_treatment / (spec.n_treatment - harmonic)
    if spec.kind == "prop-test" and not (spec.strict and spec.alternative == "two-sided"):
        distance, null_sd, alt_sd = _prop_test_scales(spec, effect)
        special = special_functions()
        z = -special.ndtri(a / 2.0 if spec.alternative == "two-sided" else a)
        root = (z * null_sd + special.ndtri(power) * alt_sd) / distance
        return float(root * root)

    def excess(x: float) -> float:
        return _evaluate(spec, x, effect, alpha) - power

    # No closed form (pooled proportions two-sided, the noncentral t, strict prop-test): from
    # the smallest size R starts from (near zero for ablens' designs), double to a bracket.
    lowest = {"t-test": 2.0, "prop-test": 1.0}.get(spec.kind, 1e-9)
    if excess(lowest) >= 0:
        raise InputError(
            f"effect == {effect!r} is so large that n == {lowest:g} already reaches power == "
            f"{power!r}"
        )
    upper = lowest * 2.0
    for _ in range(200):
        if excess(upper) >= 0:
            return _brentq(excess, upper / 2.0 if upper > lowest * 2 else lowest, upper)
        upper *= 2.0
    raise _unreachable("sample size", power)


def _prop_test_scales(spec: _Design, difference: float) -> tuple[float, float, float]:
    p1 = cast("float", spec.baseline)
    p2 = p1 + difference
    pbar = (p1 + p2) / 2.0
    shift = abs(difference) if spec.alternative == "two-sided" else spec.direction * difference
    return (
        shift,
        math.sqrt(2.0 * pbar * (1.0 - pbar)),
        math.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2)),
    )


def _towards_alternative(spec: _Design, effect: float) -> bool:
    start, _ = spec.effect_domain()
    if spec.alternative == "two-sided":
        return effect != start
    return (effect - start) * spec.direction > 0


def _solve_effect(spec: _Design, n: float, power: float, alpha: float) -> float:
    grid = np.asarray([n], dtype=np.float64)
    if spec.closed_form_effect():
        value = float(spec.mde(grid, power, alpha)[0])
    else:
        lower, upper = spec.bracket_effect(grid, power, alpha)
        if not np.isfinite(upper[0]):
            raise _unreachable("effect", power)

        def excess(x: float) -> float:
            return _evaluate(spec, n, x, alpha) - power

        low, high = float(lower[0]), float(upper[0])
        value = high if excess(high) == 0 else _brentq(excess, low, high)
    if not math.isfinite(value):
        raise _unreachable("effect", power)
    return value


def _solve_alpha(spec: _Design, n: float, effect: float, power: float) -> float:
    def excess(x: float) -> float:
        return _evaluate(spec, n, effect, x) - power

    low, high = _ALPHA_BRACKET
    if excess(high) < 0:
        raise _unreachable("significance level", power)
    if excess(low) > 0:
        raise InputError(
            f"power == {power!r} is below the power at alpha == {low:g}; the design already "
            "exceeds it at any sensible level"
        )
    return _brentq(excess, low, high)


def _solve_sd(spec: _Design, n: float, effect: float, power: float, alpha: float) -> float:
    """The standard deviation at which the power equals the target (power falls as sd grows)."""

    def excess(x: float) -> float:
        return _evaluate(spec, n, effect, alpha, sd=x) - power

    scale = abs(effect) if effect != 0 else 1.0
    previous = None
    for j in range(-60, 61):
        candidate = scale * 2.0**j
        if excess(candidate) <= 0:
            if previous is None:
                raise InputError(
                    f"power == {power!r} is above the power at any sd; the effect cannot be "
                    "detected that well"
                )
            return _brentq(excess, previous, candidate)
        previous = candidate
    raise _unreachable("standard deviation", power)


# ---------------------------------------------------------------------------- vectorized
def power_curve(
    kind: PowerKind,
    n: ArrayLike,
    *,
    effect: ArrayLike,
    alpha: float = 0.05,
    **design: Unpack[DesignOptions],
) -> FloatArray:
    """Power over a grid of sample sizes (and/or effects), in one vectorized evaluation.

    Args:
        kind: As in `solve_power`.
        n: Sample sizes, as `solve_power` defines them for ``kind``; any shape.
        effect: Effect(s), broadcast against ``n``.
        alpha: Family-wise significance level.
        **design: The design (see `DesignOptions`).

    Returns:
        The power at each point; NaN where the effect is undefined (a rate outside (0, 1)).

    Examples:
        >>> curve = power_curve("proportion", [10_000, 30_000, 60_000], effect=0.01, baseline=0.1)
        >>> [round(float(p), 4) for p in curve]
        [0.3713, 0.8065, 0.9791]
    """
    spec = _design(kind, design)
    if spec.sd is None and "sd" in _OPTIONS[spec.kind]:
        raise InputError("sd == None, must be a number for a power curve")
    sizes = _array("n", n, positive=True)
    effects = _array("effect", effect)
    alpha = check_open_unit_interval("alpha", alpha)
    return np.asarray(spec.power(sizes, effects, alpha), dtype=np.float64)


def mde_curve(
    kind: PowerKind,
    n: ArrayLike,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    **design: Unpack[DesignOptions],
) -> FloatArray:
    """The minimum detectable effect at each sample size of a grid, without a loop over it.

    Closed forms where the variance does not depend on the effect (means with an absolute
    effect or a constant coefficient of variation, Cohen's h); otherwise a bisection run on
    the whole grid at once, to the last bit.

    Args:
        kind: As in `solve_power`.
        n: Sample sizes, as `solve_power` defines them for ``kind``; any shape.
        power: Target power.
        alpha: Family-wise significance level.
        **design: The design (see `DesignOptions`).

    Returns:
        The effect detected with ``power`` at each size, on the alternative's side of the
        null (the larger side for two-sided tests); NaN where no effect is (a rate would
        leave (0, 1)).

    Examples:
        >>> mde = mde_curve("proportion", [10_000, 40_000], baseline=0.1, effect_type="relative")
        >>> [round(float(m), 4) for m in mde]
        [0.1747, 0.0857]
    """
    spec = _design(kind, design)
    if spec.sd is None and "sd" in _OPTIONS[spec.kind]:
        raise InputError("sd == None, must be a number for an MDE curve")
    sizes = _array("n", n, positive=True)
    power = check_open_unit_interval("power", power)
    alpha = check_open_unit_interval("alpha", alpha)
    if power <= spec.comparison_alpha(alpha):
        raise InputError(
            f"power == {power!r}, must exceed the comparison's significance level "
            f"{spec.comparison_alpha(alpha):.6g}"
        )
    return np.asarray(spec.mde(sizes, power, alpha), dtype=np.float64)


# ---------------------------------------------------------------------------- R-compatible
def t_test_power(
    n: ArrayLike,
    delta: ArrayLike,
    sd: float = 1.0,
    alpha: float = 0.05,
    *,
    n_treatment: float | None = None,
    alternative: Alternative = "two-sided",
    strict: bool = False,
    sample: Sample = "two-sample",
) -> float | FloatArray:
    """Power of the t test exactly as R computes it (noncentral t).

    ``power.t.test(n, delta, sd, sig.level = alpha, type, alternative, strict)``; R's
    "one.sided" is ``alternative="greater"`` (and "less" mirrors it). With ``n_treatment`` it is
    ``pwr::pwr.t2n.test(n1 = n, n2 = n_treatment, d = delta / sd)``, which always counts both
    tails of a two-sided test: pass ``strict=True`` to match it.

    Args:
        n: Units per group (first group with ``n_treatment``).
        delta: True difference in means.
        sd: Standard deviation of the units.
        alpha: Significance level.
        n_treatment: Size of the second group for unequal groups.
        alternative: "two-sided", "greater" or "less".
        strict: Count the other rejection region of a two-sided test.
        sample: "two-sample", "one-sample" or "paired".

    Examples:
        >>> round(t_test_power(20, 1.0), 7)  # power.t.test(n = 20, delta = 1)
        0.8689528
    """
    options: DesignOptions = {
        "sd": sd,
        "alternative": alternative,
        "strict": strict,
        "sample": sample,
    }
    if n_treatment is not None:
        options["n_treatment"] = n_treatment
    spec = _design("t-test", options)
    alpha = check_open_unit_interval("alpha", alpha)
    return _scalar(spec.power(_array("n", n, positive=True), _array("delta", delta), alpha))


def prop_test_power(
    n: ArrayLike,
    p1: float,
    p2: ArrayLike,
    alpha: float = 0.05,
    *,
    alternative: Alternative = "two-sided",
    strict: bool = False,
) -> float | FloatArray:
    """Power of the two-proportion test exactly as R's ``power.prop.test`` computes it.

    R's "one.sided" is ``alternative="greater"`` for ``p2 > p1``.

    Args:
        n: Units per group.
        p1: Rate of the first group.
        p2: Rate of the second group.
        alpha: Significance level.
        alternative: "two-sided", "greater" or "less".
        strict: Count the other rejection region of a two-sided test.

    Examples:
        >>> round(prop_test_power(50, 0.5, 0.75), 7)  # power.prop.test(n = 50, 0.5, 0.75)
        0.7401659
    """
    spec = _design("prop-test", {"baseline": p1, "alternative": alternative, "strict": strict})
    alpha = check_open_unit_interval("alpha", alpha)
    p2_values = _array("p2", p2)
    if np.any((p2_values <= 0) | (p2_values >= 1)):
        raise InputError(f"p2 == {p2!r}, must be in (0, 1)")
    return _scalar(spec.power(_array("n", n, positive=True), p2_values - p1, alpha))


def cohen_h_power(
    h: ArrayLike,
    n: ArrayLike,
    alpha: float = 0.05,
    *,
    n_treatment: float | None = None,
    alternative: Alternative = "two-sided",
) -> float | FloatArray:
    """Power of the arcsine test of two proportions, as ``pwr.2p.test`` / ``pwr.2p2n.test``.

    Args:
        h: Cohen's effect size (`cohen_h`).
        n: Units per group (first group with ``n_treatment``).
        alpha: Significance level.
        n_treatment: Size of the second group (``pwr.2p2n.test``).
        alternative: "two-sided", "greater" or "less".

    Examples:
        >>> round(cohen_h_power(0.3, 80), 7)  # pwr.2p.test(h = 0.3, n = 80)
        0.4751009
    """
    options: DesignOptions = {"alternative": alternative}
    if n_treatment is not None:
        options["n_treatment"] = n_treatment
    spec = _design("cohen-h", options)
    alpha = check_open_unit_interval("alpha", alpha)
    return _scalar(spec.power(_array("n", n, positive=True), _array("h", h), alpha))


def power_z(
    effect: ArrayLike,
    sd_control: float,
    sd_treatment: float,
    n_control: ArrayLike,
    n_treatment: ArrayLike,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    margin: float = 0.0,
) -> float | FloatArray:
    """Power of the large-sample (Welch / z) test of a difference in means.

    ``D = effect - margin``, ``s = sqrt(sd_c^2 / n_c + sd_t^2 / n_t)`` and the normal tails of
    the module docstring with ``s0 = s1 = s``.

    Args:
        effect: True difference ``treatment - control``.
        sd_control: Per-unit standard deviation in control.
        sd_treatment: Per-unit standard deviation in treatment.
        n_control: Units in control.
        n_treatment: Units in treatment.
        alpha: Significance level of the comparison.
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the difference.

    Examples:
        >>> round(power_z(1.0, 4.0, 5.0, 300, 300), 6)
        0.771879
    """
    alternative = check_alternative(alternative)
    alpha = check_open_unit_interval("alpha", alpha)
    sd_c = check_positive("sd_control", sd_control)
    sd_t = check_positive("sd_treatment", sd_treatment)
    margin = check_real("margin", margin)
    n_c = _array("n_control", n_control, positive=True)
    n_t = _array("n_treatment", n_treatment, positive=True)
    shift = _array("effect", effect) - margin
    scale = np.sqrt(sd_c * sd_c / n_c + sd_t * sd_t / n_t)
    return _scalar(_normal_tails(shift, scale, scale, alpha, alternative))


def detectable_effect(
    standard_error: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> float:
    """The smallest true effect a normal test with this standard error detects with ``power``.

    ``u * standard_error`` with ``u`` the standardized shift of the module docstring: for one
    side ``z_{1-alpha} + z_power``, for two sides the root of
    ``Phi(u - z) + Phi(-u - z) = power`` with ``z = z_{1-alpha/2}`` (both tails counted).
    The verdict states it for a flat result: "with this much data only a change of about ...
    would be detected".

    Args:
        standard_error: Standard error of the effect estimate, > 0.
        alpha: Significance level of the comparison.
        power: Probability of detecting the effect.
        alternative: "two-sided", "greater" or "less".

    Examples:
        >>> round(detectable_effect(1.0), 6)  # z_0.975 + z_0.8 = 2.801585 counts one tail only
        2.801582
        >>> round(detectable_effect(1.0, alternative="greater"), 6)
        2.486475
    """
    standard_error = check_positive("standard_error", standard_error)
    alpha = check_open_unit_interval("alpha", alpha)
    power = check_open_unit_interval("power", power)
    alternative = check_alternative(alternative)
    return standard_error * _standardized_shift(power, alpha, alternative)
