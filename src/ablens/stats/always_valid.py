"""Always-valid inference: p-values and intervals that may be read at every look.

A fixed-horizon test promises its error rate only when it is read once, at the planned end.
Read daily and stopped at the first ``p < 0.05``, a z test rejects a true null hypothesis far more
often than 5% of the time (30 daily looks: 28% of A/A experiments in ablens' simulation). The
methods here keep their promise however often, and whenever, the results are read: under the
null hypothesis, the probability that the p-value *ever* drops to ``alpha`` is at most
``alpha``, and the intervals hold the true effect at *every* look at once with probability at
least ``1 - alpha`` (asymptotically: the variances are estimated).

* `msprt`: the mixture sequential probability ratio test with a normal mixing distribution
  ``N(0, tau^2)`` (Robbins, 1970; Johari, Koomen, Pekelis and Walsh, 2017, 2022), for a
  difference of means or proportions. `default_tau` chooses ``tau`` from the planned sample.
* `asymptotic_confidence_sequence`: the asymptotic confidence sequence of Waudby-Smith, Arbour,
  Sinha, Kennedy and Ramdas (2024), tuned to be tightest at a planned sample size; two-sided, or
  one-sided (``alternative="greater"`` / ``"less"``) with the one-sided normal-mixture boundary.
* `sequential_srm_test`: a sample-ratio check valid under repeated looks, by the
  Dirichlet-multinomial Bayes factor of Lindon and Malek (2020).

Every look is cumulative: the estimate and its variance use all the data up to that look. The
p-value reported at a look is the running minimum over the looks so far, and the interval is the
running intersection of the looks' intervals, so a decision once reached is never withdrawn.

Both tests of the effect rest on one statistic. With ``theta_hat`` the estimate at a look, ``V``
its variance and ``r = tau^2 / V``, the normal-mixture likelihood ratio against
``effect == null`` is

    ``Lambda = (1 + r)^(-1/2) exp( r z^2 / (2 (1 + r)) )``,  ``z^2 = (theta_hat - null)^2 / V``,

and the level-``alpha`` interval is ``theta_hat +/- sqrt( V (1 + r) / r (log(1 + r) - 2 log
alpha) )``. The mSPRT keeps ``tau`` fixed; the asymptotic confidence sequence lets ``r`` grow
with the number of units, ``r = t rho^2``.

One-sided, the mixture runs over effects on the alternative's side only (a half-normal mixing
distribution); its likelihood ratio ``2 (1 + r)^(-1/2) exp(x^2 / 2) Phi(x)``, ``x = sign z
sqrt(r / (1 + r)) |z|``, reaches ``1 / alpha`` before ``x`` reaches ``sqrt(2 log(1 + sqrt(1 + r) /
(2 alpha)))`` (Howard, Ramdas, McAuliffe and Sekhon, 2021, the one-sided normal mixture), the
closed-form bound the one-sided sequence uses; its p-value is ``min(1, sqrt(1 + r) / (2 (exp(x^2
/ 2) - 1)))`` for ``x > 0``, else 1. See docs/methodology/always-valid.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ablens._validation import (
    check_choice,
    check_count,
    check_name,
    check_open_unit_interval,
    check_positive,
    check_real,
)
from ablens.errors import InputError
from ablens.stats._inference import Alternative, check_alternative, special_functions
from ablens.stats.moments import Moments
from ablens.stats.srm import DEFAULT_SRM_ALPHA

if TYPE_CHECKING:
    from ablens.stats.group_sequential import ExitPath

__all__ = [
    "AlwaysValidDecision",
    "AlwaysValidDesign",
    "AlwaysValidLook",
    "AlwaysValidResult",
    "EffectLook",
    "SequentialSRMLook",
    "SequentialSRMResult",
    "always_valid_design",
    "always_valid_inflation",
    "asymptotic_confidence_sequence",
    "default_tau",
    "msprt",
    "sequential_srm_test",
]

FloatArray = NDArray[np.float64]
AlwaysValidDecision = Literal["continue", "treatment higher", "treatment lower", "inconsistent"]
AlwaysValidMethod = Literal["msprt", "confidence-sequence"]
ALWAYS_VALID_METHODS: tuple[AlwaysValidMethod, ...] = ("msprt", "confidence-sequence")

DEFAULT_CONCENTRATION = 100.0


# --------------------------------------------------------------------------------------- looks
@dataclass(frozen=True)
class EffectLook:
    """One interim analysis: the cumulative effect estimate and its variance.

    Attributes:
        estimate: ``treatment - control`` on all the data up to this look.
        variance: Variance of ``estimate`` (``v_t / n_t + v_c / n_c`` for a difference of means,
            ``p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c`` for proportions); must be > 0.
        count: Units so far in both arms together (``n_c + n_t``). The asymptotic confidence
            sequence needs it (it is the sample-size clock ``t``); the mSPRT does not.

    Examples:
        >>> look = EffectLook.from_proportions(100, 1000, 130, 1000)
        >>> round(look.estimate, 3), round(look.variance, 8), look.count
        (0.03, 0.0002031, 2000)
    """

    estimate: float
    variance: float
    count: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimate", check_real("estimate", self.estimate))
        variance = check_real("variance", self.variance)
        if variance <= 0:
            raise InputError(
                f"variance == {variance!r}, must be > 0; a look whose estimate does not vary "
                "(e.g. no successes yet in either arm) carries no evidence: start at a later look"
            )
        object.__setattr__(self, "variance", variance)
        if self.count is not None:
            object.__setattr__(self, "count", check_count("count", self.count, minimum=2))

    @classmethod
    def from_moments(
        cls, control: Moments, treatment: Moments, column: str | None = None
    ) -> EffectLook:
        """The look at a difference of means from the arms' cumulative moments.

        Args:
            control: Cumulative moments of the control arm.
            treatment: Cumulative moments of the treatment arm.
            column: The metric's column; may be omitted when the moments hold one column.

        Returns:
            The look, with ``variance = v_t / n_t + v_c / n_c`` (sample variances, ddof=1).

        Examples:
            >>> c = Moments.from_summary(400, mean={"x": 10.0}, variance={"x": 4.0})
            >>> t = Moments.from_summary(400, mean={"x": 10.3}, variance={"x": 4.0})
            >>> look = EffectLook.from_moments(c, t)
            >>> round(look.estimate, 6), look.variance, look.count
            (0.3, 0.02, 800)
        """
        if column is None:
            if len(control.columns) != 1:
                raise InputError(
                    f"column is None but the moments hold columns {control.columns}; "
                    "name the metric's column"
                )
            column = control.columns[0]
        column = check_name("column", column)
        for name, arm in (("control", control), ("treatment", treatment)):
            if arm.count < 2:
                raise InputError(
                    f"{name} has {arm.count} unit(s), must have >= 2 to estimate a variance"
                )
        variance = (
            treatment.variance(column) / treatment.count + control.variance(column) / control.count
        )
        return cls(treatment.mean_minus(control, column), variance, control.count + treatment.count)

    @classmethod
    def from_proportions(
        cls,
        control_successes: int,
        control_count: int,
        treatment_successes: int,
        treatment_count: int,
    ) -> EffectLook:
        """The look at a difference of proportions from cumulative successes and totals.

        The variance is the unpooled (Wald) ``p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c``.
        """
        arms = []
        for prefix, successes, count in (
            ("control", control_successes, control_count),
            ("treatment", treatment_successes, treatment_count),
        ):
            x = check_count(f"{prefix}_successes", successes)
            n = check_count(f"{prefix}_count", count, minimum=1)
            if x > n:
                raise InputError(f"{prefix}_successes == {x}, must be <= {prefix}_count == {n}")
            arms.append((x / n, n))
        (p_c, n_c), (p_t, n_t) = arms
        variance = p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c
        return cls(p_t - p_c, variance, n_c + n_t)


def _as_looks(
    looks: Sequence[EffectLook | tuple[Moments, Moments]], column: str | None
) -> list[EffectLook]:
    raw: object = looks  # checked at run time: a single EffectLook is a common slip
    if isinstance(raw, EffectLook | str) or not isinstance(raw, Sequence):
        raise InputError(
            "looks must be a sequence of EffectLook or (control, treatment) Moments pairs"
        )
    if len(looks) == 0:
        raise InputError("looks is empty, must hold at least one look")
    result = []
    for i, item in enumerate(looks):
        if isinstance(item, EffectLook):
            result.append(item)
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and all(isinstance(arm, Moments) for arm in item)
        ):
            result.append(EffectLook.from_moments(item[0], item[1], column))
        else:
            raise InputError(
                f"looks[{i}] == {item!r}, must be an EffectLook or a (control, treatment) pair "
                "of Moments"
            )
    return result


# --------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class AlwaysValidLook:
    """The always-valid analysis at one look.

    Attributes:
        look: Look number, from 1.
        count: Units in both arms at this look (None when not given).
        estimate: The effect estimate ``treatment - control`` at this look.
        standard_error: Standard error of the estimate at this look.
        ci_lower: Lower bound of the always-valid interval: the running intersection of the
            intervals of every look so far (NaN if they no longer overlap).
        ci_upper: Upper bound of the always-valid interval.
        look_ci_lower: Lower bound of this look's own always-valid interval.
        look_ci_upper: Upper bound of this look's own always-valid interval.
        p_value: Always-valid p-value, the running minimum over the looks so far.
        alpha: Level of the test and of the intervals (coverage ``1 - alpha``).
        decision: "continue" while ``p_value > alpha``; once it reaches ``alpha``,
            "treatment higher" or "treatment lower" (the side of the null the interval lies
            on), or "inconsistent" when the looks' intervals no longer overlap.
    """

    look: int
    count: int | None
    estimate: float
    standard_error: float
    ci_lower: float
    ci_upper: float
    look_ci_lower: float
    look_ci_upper: float
    p_value: float
    alpha: float
    decision: AlwaysValidDecision

    @property
    def rejected(self) -> bool:
        """True once the null hypothesis is rejected (``p_value <= alpha``); it stays rejected."""
        return self.decision != "continue"

    @property
    def ci(self) -> tuple[float, float]:
        """The always-valid interval (running intersection)."""
        return self.ci_lower, self.ci_upper

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary of every field, with ``rejected``."""
        return {
            "look": self.look,
            "count": self.count,
            "estimate": self.estimate,
            "standard_error": self.standard_error,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "look_ci_lower": self.look_ci_lower,
            "look_ci_upper": self.look_ci_upper,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "decision": self.decision,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class AlwaysValidResult:
    """An always-valid analysis of a sequence of looks.

    Attributes:
        method: "msprt" or "confidence-sequence".
        alpha: Level of the test; the intervals cover the effect at every look at once with
            probability ``1 - alpha``.
        null: The null value of the effect tested.
        tau: Standard deviation of the mSPRT's normal mixing distribution (None for the
            confidence sequence).
        rho: Tuning parameter of the confidence sequence (None for the mSPRT).
        planned_count: Planned total units the confidence sequence is tuned for (None for the
            mSPRT).
        looks: The analysis at each look, in order.
        alternative: "two-sided", or "greater" / "less" for a one-sided confidence sequence
            (its intervals are then half-lines: ``[lower, inf)`` or ``(-inf, upper]``).
    """

    method: AlwaysValidMethod
    alpha: float
    null: float
    tau: float | None
    rho: float | None
    planned_count: int | None
    looks: tuple[AlwaysValidLook, ...]
    alternative: Alternative = "two-sided"

    @property
    def final(self) -> AlwaysValidLook:
        """The analysis at the last look."""
        return self.looks[-1]

    @property
    def rejected(self) -> bool:
        """True when the null hypothesis was rejected at some look (and so at the last one)."""
        return self.final.rejected

    @property
    def first_rejection(self) -> int | None:
        """The number of the first look that rejected the null hypothesis, or None."""
        return next((look.look for look in self.looks if look.rejected), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, with one dictionary per look."""
        return {
            "method": self.method,
            "alpha": self.alpha,
            "null": self.null,
            "tau": self.tau,
            "rho": self.rho,
            "planned_count": self.planned_count,
            "alternative": self.alternative,
            "first_rejection": self.first_rejection,
            "looks": [look.to_dict() for look in self.looks],
        }

    def __str__(self) -> str:
        final = self.final
        sides = "" if self.alternative == "two-sided" else f" ({self.alternative})"
        return (
            f"{self.method}{sides} after {len(self.looks)} look(s): effect "
            f"{final.estimate:.6g}, {1 - self.alpha:.0%} always-valid interval "
            f"[{final.ci_lower:.6g}, {final.ci_upper:.6g}], p={final.p_value:.4g}, "
            f"{final.decision}"
        )


# --------------------------------------------------------------------------------------- core
def _optimal_ratio(alpha: float) -> float:
    """The ``r = tau^2 / V`` minimizing the half-width ``V (1 + r) / r (log(1 + r) - 2 log a)``.

    Setting the derivative to zero gives ``r = c + log(1 + r)`` with ``c = -2 log(alpha)``, a
    contraction (slope ``1 / (1 + r) < 1``) solved by iteration from ``c + log(1 + c)``, the
    one-step value Waudby-Smith et al. (2024) use. At the optimum the half-width is
    ``sqrt((1 + r) V)``.
    """
    c = -2.0 * math.log(alpha)
    ratio = c + math.log1p(c)
    for _ in range(200):
        updated = c + math.log1p(ratio)
        if abs(updated - ratio) <= 1e-15 * updated:
            return updated
        ratio = updated
    return ratio  # pragma: no cover - the iteration contracts by at least a factor of 2


def _confidence_sequence_ratio(alpha: float) -> float:
    """``t* rho^2`` of the confidence sequence: ``c + log(1 + c)``, ``c = -2 log alpha``.

    The one-step approximation of `_optimal_ratio` that Waudby-Smith et al. (2024) use to tune
    ``rho`` to the planned size ``t*``; at a look of ``t`` units the ratio is ``t rho^2``.
    """
    c = -2.0 * math.log(alpha)
    return c + math.log1p(c)


def _one_sided_ratio(alpha: float) -> float:
    """``t* rho^2`` of the one-sided sequence: the two-sided tuning at level ``2 alpha``.

    For large ``r`` the one-sided boundary ``(1 + r) / r * 2 log(1 + sqrt(1 + r) / (2 alpha))``
    approaches the two-sided one at ``2 alpha``, ``(1 + r) / r * (log(1 + r) - 2 log(2 alpha))``,
    whose minimizer `_confidence_sequence_ratio` approximates. Any ``rho`` fixed before the
    data keeps the guarantee; this one makes the sequence close to its tightest at ``t*``.
    """
    return _confidence_sequence_ratio(2.0 * alpha)


def _one_sided_z_bounds(ratio: FloatArray, alpha: float) -> FloatArray:
    """The ``z`` (towards the alternative) from which a one-sided look rejects.

    ``z^2 = (1 + r) / r * 2 log(1 + sqrt(1 + r) / (2 alpha))``: the closed-form one-sided
    normal-mixture boundary (Howard et al., 2021), at which the half-normal mixture's likelihood
    ratio ``2 (1 + r)^(-1/2) exp(x^2 / 2) Phi(x)`` (``x^2 = r z^2 / (1 + r)``) is already at least
    ``1 / alpha``, since ``1 - Phi(x) <= exp(-x^2 / 2)``.
    """
    return np.asarray(
        np.sqrt((1.0 + ratio) / ratio * 2.0 * np.log1p(np.sqrt(1.0 + ratio) / (2.0 * alpha))),
        dtype=np.float64,
    )


def _z_bounds(ratio: FloatArray, alpha: float) -> FloatArray:
    """The ``|z|`` from which a look with ``r = tau^2 / V`` rejects: ``Lambda(z) = 1 / alpha``.

    ``log Lambda = r z^2 / (2 (1 + r)) - log(1 + r) / 2`` reaches ``-log alpha`` at
    ``z^2 = (1 + r) / r (log(1 + r) - 2 log alpha)``. The look's interval half-width is this
    ``z`` times the standard error, so the interval excludes the null exactly when
    ``|z| >= c``.
    """
    return np.asarray(
        np.sqrt((1.0 + ratio) / ratio * (np.log1p(ratio) - 2.0 * math.log(alpha))),
        dtype=np.float64,
    )


def _analyze(
    method: AlwaysValidMethod,
    looks: list[EffectLook],
    ratio: FloatArray,
    alpha: float,
    null: float,
    *,
    tau: float | None = None,
    rho: float | None = None,
    planned_count: int | None = None,
    alternative: Alternative = "two-sided",
) -> AlwaysValidResult:
    """Running p-values and intervals from each look's ``r = tau^2 / V`` (vectorized)."""
    estimate = np.array([look.estimate for look in looks], dtype=np.float64)
    variance = np.array([look.variance for look in looks], dtype=np.float64)
    if alternative == "two-sided":
        z2 = (estimate - null) ** 2 / variance
        # log Lambda = -log(1 + r) / 2 + r z^2 / (2 (1 + r)); a look's p-value is 1 / Lambda.
        log_lambda = 0.5 * (ratio / (1.0 + ratio) * z2 - np.log1p(ratio))
        p_look = np.exp(-np.maximum(log_lambda, 0.0))
        half_width = np.sqrt(variance) * _z_bounds(ratio, alpha)
        look_lower, look_upper = estimate - half_width, estimate + half_width
    else:
        side = 1.0 if alternative == "greater" else -1.0
        toward = side * (estimate - null) / np.sqrt(variance)  # z towards the alternative
        half_x2 = 0.5 * ratio / (1.0 + ratio) * np.maximum(toward, 0.0) ** 2
        with np.errstate(over="ignore", divide="ignore"):  # exp overflow -> p = 0; x = 0 -> 1
            p_look = np.minimum(1.0, np.sqrt(1.0 + ratio) / (2.0 * np.expm1(half_x2)))
        half_width = np.sqrt(variance) * _one_sided_z_bounds(ratio, alpha)
        infinite = np.full_like(estimate, np.inf)
        if side > 0:
            look_lower, look_upper = estimate - half_width, infinite
        else:
            look_lower, look_upper = -infinite, estimate + half_width
    p_running = np.minimum.accumulate(p_look)
    lower = np.maximum.accumulate(look_lower)
    upper = np.minimum.accumulate(look_upper)
    results = []
    direction = 0.0
    for i, look in enumerate(looks):
        rejected = bool(p_running[i] <= alpha)
        if rejected and direction == 0.0:
            # The first rejecting look's interval excludes the null on its estimate's side (the
            # alternative's, one-sided), and every later running interval lies inside it.
            direction = (
                math.copysign(1.0, float(estimate[i]) - null)
                if alternative == "two-sided"
                else (1.0 if alternative == "greater" else -1.0)
            )
        empty = bool(lower[i] > upper[i])
        decision: AlwaysValidDecision = "continue"
        if empty:
            decision = "inconsistent"
        elif rejected:
            decision = "treatment higher" if direction > 0 else "treatment lower"
        results.append(
            AlwaysValidLook(
                look=i + 1,
                count=look.count,
                estimate=float(estimate[i]),
                standard_error=math.sqrt(float(variance[i])),
                ci_lower=math.nan if empty else float(lower[i]),
                ci_upper=math.nan if empty else float(upper[i]),
                look_ci_lower=float(look_lower[i]),
                look_ci_upper=float(look_upper[i]),
                p_value=float(p_running[i]),
                alpha=alpha,
                decision=decision,
            )
        )
    return AlwaysValidResult(
        method, alpha, null, tau, rho, planned_count, tuple(results), alternative
    )


# --------------------------------------------------------------------------------------- mSPRT
def default_tau(planned_variance: float, mde: float | None = None, *, alpha: float = 0.05) -> float:
    """A default mixing standard deviation ``tau`` for `msprt`, from the plan.

    The mSPRT's boundary at a look of variance ``V`` depends on ``r = tau^2 / V``; its interval
    half-width ``sqrt(V (1 + r) / r (log(1 + r) - 2 log alpha))`` is smallest at the ``r*``
    solving ``r = -2 log(alpha) + log(1 + r)`` (``r* = 8.21`` at ``alpha = 0.05``), where it is
    ``sqrt((1 + r*) V)``. The default tunes the mixture to be sharpest where the decision is
    expected:

    * at the planned end, ``tau^2 = r* planned_variance``;
    * or, if an effect of size ``mde`` would already be detected earlier (when the interval
      half-width ``sqrt((1 + r*) V)`` reaches ``mde``, at ``V = mde^2 / (1 + r*)``), at that
      earlier look: ``tau^2 = r* max(planned_variance, mde^2 / (1 + r*))``.

    The second rule alone gives ``tau^2 = r* / (1 + r*) mde^2 ~ 0.9 mde^2``, the familiar advice
    to set ``tau`` near the effect size one hopes to detect; for a plan powered at 80% for the
    MDE (``mde = 2.8 sqrt(planned_variance)``) the first rule gives ``tau = 2.9
    sqrt(planned_variance) ~ mde`` too. Choose ``tau`` before the data arrive: tuning it on the
    data voids the guarantee.

    Args:
        planned_variance: Variance of the effect estimate at the planned end of the experiment
            (e.g. ``2 sigma^2 / n`` for ``n`` units per arm).
        mde: Minimum detectable effect (absolute, same units as the estimate); optional.
        alpha: Level the test will be run at.

    Returns:
        ``tau``, the standard deviation of the normal mixing distribution.

    Examples:
        >>> round(default_tau(0.01), 4)
        0.2866
        >>> round(default_tau(0.01, mde=0.5), 4)
        0.4721
    """
    planned_variance = check_positive("planned_variance", planned_variance)
    alpha = check_open_unit_interval("alpha", alpha)
    ratio = _optimal_ratio(alpha)
    variance = planned_variance
    if mde is not None:
        mde = check_positive("mde", abs(check_real("mde", mde)))
        variance = max(variance, mde**2 / (1.0 + ratio))
    return math.sqrt(ratio * variance)


def msprt(
    looks: Sequence[EffectLook | tuple[Moments, Moments]],
    *,
    tau: float,
    alpha: float = 0.05,
    null: float = 0.0,
    column: str | None = None,
) -> AlwaysValidResult:
    """Mixture sequential probability ratio test of ``effect == null``, with always-valid output.

    With the normal mixing distribution ``N(null, tau^2)`` over the effect, the mixture
    likelihood ratio at a look with estimate ``theta_hat`` and variance ``V`` is

    ``Lambda = sqrt(V / (V + tau^2)) exp(tau^2 (theta_hat - null)^2 / (2 V (V + tau^2)))``

    (Johari et al., 2017). Under the null hypothesis ``Lambda`` is a nonnegative martingale with
    mean 1, so by Ville's inequality it ever reaches ``1 / alpha`` with probability at most
    ``alpha``: the p-value ``min(1, min over looks of 1 / Lambda)`` is valid at every look. The
    interval is the set of nulls not rejected, ``theta_hat +/- sqrt(V (V + tau^2) / tau^2
    (log((V + tau^2) / V) - 2 log alpha))``, intersected over looks. ``V`` is estimated from the
    data at each look, so the guarantee is asymptotic (large samples per look).

    Args:
        looks: Cumulative looks, in time order: each a `EffectLook` or a ``(control, treatment)``
            pair of cumulative `Moments`.
        tau: Standard deviation of the mixing distribution, chosen before the data; see
            `default_tau`.
        alpha: Level of the test and of the intervals.
        null: The null value of the effect (0: no effect).
        column: The metric's column when looks are Moments holding several columns.

    Returns:
        The analysis at every look.

    Raises:
        InputError: On an empty sequence, a look with zero variance, or invalid options.

    Examples:
        >>> looks = [
        ...     EffectLook(0.30, 0.04, 800),
        ...     EffectLook(0.28, 0.02, 1600),
        ...     EffectLook(0.31, 0.01, 3200),
        ... ]
        >>> result = msprt(looks, tau=default_tau(0.01))
        >>> [round(look.p_value, 4) for look in result.looks]
        [0.82, 0.4672, 0.0419]
        >>> result.final.decision, result.first_rejection
        ('treatment higher', 3)
        >>> [round(b, 4) for b in result.final.ci]
        [0.0065, 0.6135]
    """
    tau = check_positive("tau", tau)
    alpha = check_open_unit_interval("alpha", alpha)
    null = check_real("null", null)
    items = _as_looks(looks, column)
    variance = np.array([look.variance for look in items], dtype=np.float64)
    return _analyze("msprt", items, tau**2 / variance, alpha, null, tau=tau)


# --------------------------------------------------------------------------------------- CS
def asymptotic_confidence_sequence(
    looks: Sequence[EffectLook | tuple[Moments, Moments]],
    *,
    planned_count: int,
    alpha: float = 0.05,
    null: float = 0.0,
    column: str | None = None,
    alternative: Alternative = "two-sided",
) -> AlwaysValidResult:
    """Asymptotic confidence sequence for a difference (Waudby-Smith et al., 2024).

    For the running mean ``theta_hat_t`` of ``t`` i.i.d. terms with estimated standard deviation
    ``sigma_hat_t``, the boundary

    ``theta_hat_t +/- sigma_hat_t sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) log( sqrt(t rho^2 + 1)
    / alpha ) )``

    covers the mean at every ``t`` at once with probability tending to ``1 - alpha``. The
    parameter ``rho = sqrt((-2 log alpha + log(-2 log alpha + 1)) / t*)`` makes the boundary
    tightest near the planned size ``t*``.

    A difference of two arm means is a running mean of the per-unit influence terms
    ``phi_i = A_i (Y_i - mu_t) / pi - (1 - A_i) (Y_i - mu_c) / (1 - pi)`` over all
    ``t = n_c + n_t`` units (``A_i`` the treatment indicator, ``pi`` the share in treatment);
    their variance divided by ``t`` is the variance ``V = v_t / n_t + v_c / n_c`` of the
    difference. So ``sigma_hat_t^2 = t V``: the effective sample size is the total number of
    units, and the boundary becomes the mSPRT's with ``tau^2 / V`` replaced by ``t rho^2``.

    One-sided (``alternative="greater"``: the lower sequence, against ``effect <= null``;
    ``"less"``: the upper one), the bound is the closed-form one-sided normal-mixture boundary
    (Howard et al., 2021; the one-sided asymptotic sequence of Waudby-Smith et al., 2024) at
    ``alpha``, not ``alpha / 2``:

    ``theta_hat_t - sigma_hat_t sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) log( 1 + sqrt(t rho^2 + 1)
    / (2 alpha) ) )``

    (``+`` for the upper one), with ``rho`` tuned as the two-sided sequence at ``2 alpha``. Its
    p-value, ``min(1, sqrt(1 + r) / (2 (exp(r z^2 / (2 (1 + r))) - 1)))`` with ``r = t rho^2``
    for ``z`` on the alternative's side (1 otherwise), is below ``alpha`` exactly when the bound
    excludes ``null``.

    Args:
        looks: Cumulative looks, in time order, each with its ``count`` (an `EffectLook` built
            by `EffectLook.from_moments` or `EffectLook.from_proportions` has it), or
            ``(control, treatment)`` pairs of cumulative `Moments`.
        planned_count: Planned total units (both arms) ``t*``, fixed before the data.
        alpha: Level of the test and of the intervals.
        null: The null value of the effect (0: no effect).
        column: The metric's column when looks are Moments holding several columns.
        alternative: "two-sided" (default), "greater" (a lower bound: is the effect above
            ``null``?) or "less" (an upper bound); one-sided needs ``alpha < 0.5``.

    Returns:
        The analysis at every look; the p-value is the smallest ``alpha`` whose sequence
        excludes ``null`` at some look so far (``rho`` held fixed).

    Raises:
        InputError: On an empty sequence, a look without ``count``, or invalid options.

    Examples:
        >>> looks = [
        ...     EffectLook(0.30, 0.04, 800),
        ...     EffectLook(0.28, 0.02, 1600),
        ...     EffectLook(0.31, 0.01, 3200),
        ... ]
        >>> result = asymptotic_confidence_sequence(looks, planned_count=3200)
        >>> [round(look.p_value, 4) for look in result.looks]
        [0.8176, 0.4658, 0.0419]
        >>> [round(b, 4) for b in result.final.ci]
        [0.0065, 0.6135]
        >>> greater = asymptotic_confidence_sequence(
        ...     looks, planned_count=3200, alternative="greater"
        ... )
        >>> [round(look.p_value, 4) for look in greater.looks], round(greater.final.ci_lower, 4)
        ([0.8096, 0.2971, 0.0217], 0.0321)
    """
    planned = check_count("planned_count", planned_count, minimum=2)
    alpha = check_open_unit_interval("alpha", alpha)
    null = check_real("null", null)
    alternative = check_alternative(alternative)
    if alternative != "two-sided" and alpha >= 0.5:
        raise InputError(
            f"alpha == {alpha!r}, must be < 0.5 for a one-sided confidence sequence (it is "
            "tuned as the two-sided one at 2 alpha)"
        )
    items = _as_looks(looks, column)
    missing = [i for i, look in enumerate(items) if look.count is None]
    if missing:
        raise InputError(
            f"looks {missing} have no count, must give the units in both arms (EffectLook.count); "
            "the confidence sequence runs on the sample-size clock"
        )
    at_plan = (
        _confidence_sequence_ratio(alpha) if alternative == "two-sided" else _one_sided_ratio(alpha)
    )
    rho_squared = at_plan / planned
    counts = np.array([look.count for look in items], dtype=np.float64)
    return _analyze(
        "confidence-sequence",
        items,
        counts * rho_squared,
        alpha,
        null,
        rho=math.sqrt(rho_squared),
        planned_count=planned,
        alternative=alternative,
    )


# --------------------------------------------------------------------------------------- planning
_MAX_LOG_INFLATION = 40.0  # e^40: a tau so small that no sample size is worth planning


@dataclass(frozen=True)
class AlwaysValidDesign:
    """An always-valid test planned for power: its bounds at the looks and its inflation.

    At a look with estimate variance ``V_k`` the mSPRT and the confidence sequence reject
    exactly when ``|z_k| >= c_k`` (`always_valid_design` gives ``c_k``), so over looks at the
    information fractions ``t_k = n_k / n_max`` their power is the probability that the
    z statistics, a Gaussian random walk with drift, cross those bounds.

    Attributes:
        method: "msprt" or "confidence-sequence".
        alpha: Level of the test (always two-sided, as `msprt` and
            `asymptotic_confidence_sequence` run it).
        beta: Type II error planned for, ``1 - power``.
        alternative: The direction(s) whose rejections count as power: "two-sided", or
            "greater" / "less" to count only rejections on that side.
        information_fractions: ``t_k = n_k / n_max`` at the looks; the last is 1.
        ratios: ``r_k = tau^2 / V_k`` at each look (``t_k rho^2`` units for the confidence
            sequence), ``r_k = t_k r_K``.
        z_bounds: ``c_k``: the test rejects at look ``k`` when ``|z_k| >= c_k``.
        drift: Expected z statistic at ``n_max`` under the effect the design is powered for.
        inflation: ``n_max / n_fixed``, the maximum size over the fixed-horizon size with the
            same power (``(drift / (z_{1 - alpha/s} + z_{1 - beta}))^2``, ``s`` = 2 for
            two-sided, else 1).
        type_i_error: Probability of a rejection (on the counted side(s)) under the null at
            these looks, at most ``alpha``: Ville's bound holds for continuous monitoring, so
            a few looks use less of it.
        power_by_look: Probability of having rejected (on the counted side) by each look,
            under the planned effect; the last is ``1 - beta``.
    """

    method: AlwaysValidMethod
    alpha: float
    beta: float
    alternative: Alternative
    information_fractions: tuple[float, ...]
    ratios: tuple[float, ...]
    z_bounds: tuple[float, ...]
    drift: float
    inflation: float
    type_i_error: float
    power_by_look: tuple[float, ...]

    @property
    def looks(self) -> int:
        """The number of looks."""
        return len(self.information_fractions)

    @property
    def max_ratio(self) -> float:
        """``r_K = tau^2 / V_max``, the ratio at the maximum size."""
        return self.ratios[-1]

    def tau(self, max_variance: float) -> float:
        """The mSPRT's ``tau`` when the estimate's variance at the maximum size is given.

        ``tau = sqrt(r_K V_max)``, on the scale of the estimate; pass it to `msprt` (for the
        confidence sequence, the mSPRT with this ``tau`` has the same bounds).

        Args:
            max_variance: Variance of the effect estimate at ``n_max``.

        Returns:
            The mixing standard deviation.
        """
        return math.sqrt(self.max_ratio * check_positive("max_variance", max_variance))

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary of every field (tuples as lists)."""
        return {
            "method": self.method,
            "alpha": self.alpha,
            "beta": self.beta,
            "alternative": self.alternative,
            "looks": self.looks,
            "information_fractions": list(self.information_fractions),
            "ratios": list(self.ratios),
            "z_bounds": list(self.z_bounds),
            "drift": self.drift,
            "inflation": self.inflation,
            "type_i_error": self.type_i_error,
            "power_by_look": list(self.power_by_look),
        }

    def __str__(self) -> str:
        name = "mSPRT" if self.method == "msprt" else "confidence sequence"
        return (
            f"{name} at {self.looks} look(s), alpha {self.alpha:g} ({self.alternative}), power "
            f"{1 - self.beta:.4g}: inflation {self.inflation:.6g}, type I error "
            f"{self.type_i_error:.4g} at these looks"
        )


def _look_fractions(looks: object, method: str) -> tuple[float, ...]:
    """``k / K`` for an integer ``K``, else the checked increasing fractions ending at 1."""
    from ablens.stats.group_sequential import check_looks  # noqa: PLC0415 - avoid a cycle

    if isinstance(looks, int | np.integer) and not isinstance(looks, bool):
        count = check_looks(check_count("looks", int(looks), minimum=1), method=method)
        return tuple((k + 1) / count for k in range(count))
    try:
        values = np.asarray(looks, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"looks == {looks!r}, must be a number of equally spaced looks or their "
            "information fractions"
        ) from None
    if values.ndim != 1 or values.size == 0:
        raise InputError(
            f"looks == {looks!r}, must be a number of looks >= 1 or a non-empty flat sequence "
            "of information fractions"
        )
    check_looks(values.size, method=method)
    fractions = tuple(float(v) for v in values)
    if not all(math.isfinite(t) and 0.0 < t <= 1.0 for t in fractions):
        raise InputError(f"looks == {list(fractions)!r}, information fractions must be in (0, 1]")
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise InputError(f"looks == {list(fractions)!r}, must be strictly increasing")
    if fractions[-1] != 1.0:
        raise InputError(
            f"looks == {list(fractions)!r}, the last must be 1 (the maximum size of the design)"
        )
    return fractions


@dataclass(frozen=True)
class _Crossing:
    """The bounds of one maximum ratio, and the drift reaching the planned power over them."""

    ratios: FloatArray
    bounds: FloatArray
    drift: float
    path: ExitPath


def _crossing(
    fractions: tuple[float, ...], max_ratio: float, alpha: float, power: float, fixed: float
) -> _Crossing:
    from ablens.stats.group_sequential import (  # noqa: PLC0415 - avoid a cycle
        ExitPath,
        required_drift,
    )

    ratios = max_ratio * np.asarray(fractions, dtype=np.float64)
    bounds = _z_bounds(ratios, alpha)
    upper = [float(b) for b in bounds]
    lower = [-b for b in upper]
    # No level-alpha test beats the fixed one at n_max: at its drift the power falls short.
    high = max(upper[-1] + float(special_functions().ndtri(power)) + 1.0, 2.0 * fixed)
    # One recursion at the fixed drift, its grids wide enough for the null too (the type I
    # error), serves the whole search (see ExitPath).
    path = ExitPath.build(fractions, lower, upper, fixed, clip=True, means=(0.0, high))
    drift = required_drift(fractions, lower, upper, power, fixed, high, clip=True, path=path)
    return _Crossing(ratios, bounds, drift, path)


def _fixed_point(
    fractions: tuple[float, ...], scale: float, alpha: float, power: float, fixed: float
) -> _Crossing:
    """The design whose ``r_K = scale * inflation`` reproduces its own inflation.

    With ``tau`` fixed on the effect scale, ``r_K = tau^2 n_max / sigma^2`` grows with the
    maximum size, which is the inflation times the fixed size: ``r_K = scale * I`` with
    ``scale = tau^2 / V_fixed``. The inflation ``g(r_K)`` of the bounds of ``r_K`` then must
    equal ``I``. ``log I - log g(scale * I)`` is increasing in ``log I`` (the bounds grow more
    slowly than ``sqrt(r)``: ``d log c / d log r < 1/2``), negative at ``I = 1`` (``g >= 1``)
    and positive far enough out, so it has one root, bracketed by doubling ``log I``.
    """
    from scipy.optimize import brentq  # noqa: PLC0415 - deliberate lazy import

    def gap(log_inflation: float) -> float:
        crossing = _crossing(fractions, scale * math.exp(log_inflation), alpha, power, fixed)
        return log_inflation - 2.0 * math.log(crossing.drift / fixed)

    low, high = 0.0, 0.5
    while gap(high) < 0.0:
        if high >= _MAX_LOG_INFLATION:
            raise InputError(
                f"tau == {math.sqrt(scale):.6g} standard errors of the fixed design is so small "
                "that the sample size grows beyond any plan; choose a larger tau (default_tau)"
            )
        low, high = high, 2.0 * high
    root = float(brentq(gap, low, high, xtol=1e-13, rtol=4e-15, maxiter=200))
    return _crossing(fractions, scale * math.exp(root), alpha, power, fixed)


def always_valid_design(
    looks: int | ArrayLike,
    *,
    method: AlwaysValidMethod = "msprt",
    alpha: float = 0.05,
    beta: float = 0.2,
    alternative: Alternative = "two-sided",
    tau: float | None = None,
    fixed_variance: float | None = None,
    max_variance: float | None = None,
) -> AlwaysValidDesign:
    """Plan an always-valid test for power: bounds at the looks, and the sample-size inflation.

    At a look with estimate variance ``V`` and ``r = tau^2 / V``, the mSPRT's likelihood ratio
    reaches ``1 / alpha`` exactly when

    ``|z| >= c(r) = sqrt((1 + r) / r (log(1 + r) - 2 log alpha))``

    (Johari et al., 2017, 2022); the asymptotic confidence sequence of Waudby-Smith et al.
    (2024) has the same bound with ``r = t rho^2``, ``t`` the units so far. Over looks at
    information fractions ``t_k = n_k / n_max`` the ratios are ``r_k = t_k r_K``, and the z
    statistics follow the canonical joint distribution of a group-sequential design, so the
    power (first crossing of ``c_k``, on the planned side) is computed by the same recursive
    numerical integration (Armitage, McPherson and Rowe, 1969; Jennison and Turnbull, 2000,
    ch. 19) as `sample_size_inflation`. The drift reaching power ``1 - beta`` gives the
    inflation ``n_max / n_fixed``.

    ``r_K`` depends on the method and ``tau``:

    * ``"confidence-sequence"`` tuned to ``planned_count = n_max``: ``r_K = c + log(1 + c)``,
      ``c = -2 log alpha``, whatever the sizes;
    * ``"msprt"`` with ``tau=None``: `default_tau` at the maximum size, ``tau^2 = r* V_max``,
      so ``r_K = r*`` (8.21 at ``alpha = 0.05``), whatever the sizes;
    * ``"msprt"`` with ``tau`` on the effect scale and ``max_variance`` (the variance of the
      estimate at ``n_max``): ``r_K = tau^2 / max_variance``;
    * ``"msprt"`` with ``tau`` and ``fixed_variance`` (the variance at the fixed-horizon size
      ``n_fixed``): ``V_max = fixed_variance / inflation``, so ``r_K`` depends on the inflation
      it determines; the fixed point is solved as a monotone root.

    The tests are two-sided (``|z| >= c_k`` rejects, in either direction, at level ``alpha``);
    with ``alternative="greater"`` or ``"less"`` only the rejections on that side count as
    power, against the one-sided fixed design at ``alpha``: the sequential test spends only
    about ``alpha / 2`` on that side, so the inflation is larger.

    Args:
        looks: The number ``K`` of equally spaced looks (``t_k = k / K``; e.g. the days of a
            daily read), or the information fractions of the looks, increasing, the last 1.
        method: "msprt" or "confidence-sequence".
        alpha: Level of the always-valid test.
        beta: Type II error, ``1 - power``.
        alternative: "two-sided" (rejections towards the effect count), "greater" or "less".
        tau: The mSPRT's mixing standard deviation on the effect scale; None for
            `default_tau` at the maximum size.
        fixed_variance: With ``tau``: variance of the estimate at the fixed-horizon size.
        max_variance: With ``tau``: variance of the estimate at the maximum size.

    Returns:
        The `AlwaysValidDesign`.

    Raises:
        InputError: On invalid looks, levels or variances, ``tau`` with the confidence
            sequence, or ``tau`` without exactly one of ``fixed_variance`` and ``max_variance``.

    Examples:
        >>> design = always_valid_design(30)
        >>> round(design.inflation, 4), round(design.type_i_error, 4)
        (1.7191, 0.0122)
        >>> [round(c, 3) for c in design.z_bounds[:3]], round(design.z_bounds[-1], 4)
        ([5.386, 4.263, 3.823], 3.0351)
        >>> round(always_valid_design(30, method="confidence-sequence").inflation, 4)
        1.7204
    """
    check_choice("method", method, ALWAYS_VALID_METHODS)
    fractions = _look_fractions(looks, method)
    alpha = check_open_unit_interval("alpha", alpha)
    beta = check_open_unit_interval("beta", beta)
    alternative = check_alternative(alternative)
    sides = 2 if alternative == "two-sided" else 1
    if alpha / sides + beta >= 1.0:
        raise InputError(f"beta == {beta!r}, must be < 1 - alpha{' / 2' if sides == 2 else ''}")
    if tau is None:
        for name, value in (("fixed_variance", fixed_variance), ("max_variance", max_variance)):
            if value is not None:
                raise InputError(f"{name} == {value!r} applies only with tau (method='msprt')")
    else:
        tau = check_positive("tau", tau)
        if method != "msprt":
            raise InputError(
                f"tau == {tau!r} applies to method='msprt'; the confidence sequence is tuned to "
                "its planned_count, the maximum size"
            )
        if (fixed_variance is None) == (max_variance is None):
            raise InputError(
                "tau needs exactly one of fixed_variance (the estimate's variance at the "
                "fixed-horizon size) and max_variance (at the maximum size)"
            )
    quantile = special_functions().ndtri
    power = 1.0 - beta
    fixed = float(quantile(1.0 - alpha / sides) + quantile(power))
    if method == "confidence-sequence":
        crossing = _crossing(fractions, _confidence_sequence_ratio(alpha), alpha, power, fixed)
    elif tau is None:
        crossing = _crossing(fractions, _optimal_ratio(alpha), alpha, power, fixed)
    elif max_variance is not None:
        ratio = tau**2 / check_positive("max_variance", max_variance)
        crossing = _crossing(fractions, ratio, alpha, power, fixed)
    else:
        scale = tau**2 / check_positive("fixed_variance", fixed_variance)
        crossing = _fixed_point(fractions, scale, alpha, power, fixed)
    upper = [float(b) for b in crossing.bounds]
    above, _ = crossing.path.exits(crossing.drift)
    null_above, null_below = crossing.path.exits(0.0)
    type_i = sum(null_above) + (sum(null_below) if sides == 2 else 0.0)
    return AlwaysValidDesign(
        method=method,
        alpha=alpha,
        beta=beta,
        alternative=alternative,
        information_fractions=fractions,
        ratios=tuple(float(r) for r in crossing.ratios),
        z_bounds=tuple(upper),
        drift=crossing.drift,
        inflation=(crossing.drift / fixed) ** 2,
        type_i_error=min(type_i, 1.0),
        power_by_look=tuple(float(p) for p in np.cumsum(above)),
    )


def always_valid_inflation(
    looks: int | ArrayLike,
    *,
    method: AlwaysValidMethod = "msprt",
    alpha: float = 0.05,
    beta: float = 0.2,
    alternative: Alternative = "two-sided",
    tau: float | None = None,
    fixed_variance: float | None = None,
    max_variance: float | None = None,
) -> float:
    """Maximum sample size of an always-valid test over the fixed-horizon one, at equal power.

    Multiply the fixed-horizon sample size by it to get the maximum size at which the mSPRT or
    the asymptotic confidence sequence, read at ``looks``, reaches power ``1 - beta``; see
    `always_valid_design` for the method and the arguments. Unlike a group-sequential design,
    more looks *lower* the inflation: each look's bound depends on that look's size only, so a
    look added is one more chance to cross (and the type I error stays below ``alpha``).

    Args:
        looks: Number of equally spaced looks, or their information fractions (last 1).
        method: "msprt" or "confidence-sequence".
        alpha: Level of the always-valid test.
        beta: Type II error, ``1 - power``.
        alternative: "two-sided", "greater" or "less" (which rejections count as power).
        tau: The mSPRT's mixing standard deviation on the effect scale (None: `default_tau`
            at the maximum size).
        fixed_variance: With ``tau``: the estimate's variance at the fixed-horizon size.
        max_variance: With ``tau``: the estimate's variance at the maximum size.

    Returns:
        The inflation factor, at least 1.

    Examples:
        >>> [round(always_valid_inflation(k), 4) for k in (1, 5, 30)]
        [1.9148, 1.8256, 1.7191]
        >>> round(always_valid_inflation(30, tau=0.05, fixed_variance=0.02**2), 4)
        1.7148
    """
    return always_valid_design(
        looks,
        method=method,
        alpha=alpha,
        beta=beta,
        alternative=alternative,
        tau=tau,
        fixed_variance=fixed_variance,
        max_variance=max_variance,
    ).inflation


# --------------------------------------------------------------------------------------- SRM
@dataclass(frozen=True)
class SequentialSRMLook:
    """The sequential sample-ratio check at one look.

    Attributes:
        look: Look number, from 1.
        observed: Cumulative units per arm.
        expected: Units expected per arm under the declared weights.
        log_bayes_factor: Log of the Dirichlet-multinomial Bayes factor against the weights.
        p_value: Always-valid p-value, ``min(1, min over looks of 1 / Bayes factor)``.
        alpha: Threshold below which a mismatch is reported.
    """

    look: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    log_bayes_factor: float
    p_value: float
    alpha: float

    @property
    def mismatch(self) -> bool:
        """True once the split has differed from the design beyond chance (``p <= alpha``)."""
        return self.p_value <= self.alpha

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "look": self.look,
            "observed": list(self.observed),
            "expected": list(self.expected),
            "log_bayes_factor": self.log_bayes_factor,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "mismatch": self.mismatch,
        }


@dataclass(frozen=True)
class SequentialSRMResult:
    """A sample-ratio check valid under repeated looks.

    Attributes:
        arms: Arm labels, in the order of the counts.
        weights: Declared allocation, normalized to sum to 1.
        concentration: Concentration ``k`` of the Dirichlet mixture (prior ``k * weights``).
        alpha: Threshold below which a mismatch is reported.
        looks: The check at each look.
    """

    arms: tuple[str, ...]
    weights: tuple[float, ...]
    concentration: float
    alpha: float
    looks: tuple[SequentialSRMLook, ...]

    @property
    def final(self) -> SequentialSRMLook:
        """The check at the last look."""
        return self.looks[-1]

    @property
    def mismatch(self) -> bool:
        """True when a mismatch was found at some look."""
        return self.final.mismatch

    @property
    def first_mismatch(self) -> int | None:
        """The number of the first look that found a mismatch, or None."""
        return next((look.look for look in self.looks if look.mismatch), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, with one dictionary per look."""
        return {
            "arms": list(self.arms),
            "weights": list(self.weights),
            "concentration": self.concentration,
            "alpha": self.alpha,
            "first_mismatch": self.first_mismatch,
            "looks": [look.to_dict() for look in self.looks],
        }

    def __str__(self) -> str:
        verdict = "MISMATCH" if self.mismatch else "ok"
        final = self.final
        split = ", ".join(
            f"{a}: {o} (expected {e:.1f})"
            for a, o, e in zip(self.arms, final.observed, final.expected, strict=True)
        )
        return (
            f"Sequential sample ratio {verdict} after {len(self.looks)} look(s): "
            f"always-valid p={final.p_value:.4g}; {split}"
        )


def _srm_counts(
    looks: Sequence[Mapping[str, int] | Sequence[int]],
) -> tuple[tuple[str, ...], list[tuple[int, ...]], bool]:
    if isinstance(looks, str | Mapping) or not isinstance(looks, Sequence) or len(looks) == 0:
        raise InputError("looks must be a non-empty sequence of cumulative counts per arm")
    first = looks[0]
    by_label = isinstance(first, Mapping)
    arms = (
        tuple(str(a) for a in first)
        if isinstance(first, Mapping)
        else tuple(f"arm {i}" for i in range(len(first)))
    )
    if len(arms) < 2:
        raise InputError(f"looks[0] has {len(arms)} arm(s), must have at least 2")
    rows: list[tuple[int, ...]] = []
    for i, look in enumerate(looks):
        if isinstance(look, Mapping) != by_label:
            raise InputError(f"looks[{i}] mixes mappings and sequences; use one form throughout")
        if isinstance(look, Mapping):
            if {str(a) for a in look} != set(arms):
                raise InputError(f"looks[{i}] has arms {sorted(look)}, must have {sorted(arms)}")
            by_name = {str(a): v for a, v in look.items()}
            row = tuple(check_count(f"looks[{i}][{a!r}]", by_name[a]) for a in arms)
        else:
            if len(look) != len(arms):
                raise InputError(f"looks[{i}] has {len(look)} counts, must have {len(arms)}")
            row = tuple(check_count(f"looks[{i}][{j}]", c) for j, c in enumerate(look))
        if rows and any(new < old for new, old in zip(row, rows[-1], strict=True)):
            raise InputError(
                f"looks[{i}] == {row} is below the previous look {rows[-1]}; the counts must be "
                "cumulative (never decreasing)"
            )
        rows.append(row)
    return arms, rows, by_label


def sequential_srm_test(
    looks: Sequence[Mapping[str, int] | Sequence[int]],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    alpha: float = DEFAULT_SRM_ALPHA,
    concentration: float = DEFAULT_CONCENTRATION,
) -> SequentialSRMResult:
    """Sample-ratio check valid at every look (Lindon and Malek, 2020).

    Each unit's arm is a draw from a multinomial with probabilities ``theta``; the design says
    ``theta = w`` (the normalized weights). Mixing the alternative over a Dirichlet prior
    ``Dir(k w)`` gives, after cumulative counts ``x`` (``n`` units), the Bayes factor

    ``BF = [B(k w + x) / B(k w)] / prod_i w_i^x_i``, with
    ``B(a) = prod_i Gamma(a_i) / Gamma(sum_i a_i)``,

    a nonnegative martingale under the design. By Ville's inequality it ever reaches ``1 / alpha``
    with probability at most ``alpha``, however often it is read, so ``min(1, min over looks of
    1 / BF)`` is an always-valid p-value. The concentration ``k`` sets which deviations the test
    is tuned for: the prior's standard deviation of a share ``w`` is
    ``sqrt(w (1 - w) / (k + 1))`` (5 percentage points for the default ``k = 100`` at 50/50).
    The test is sharpest after about ``(k + 1) r*`` units, ``r* = 16.7`` at ``alpha = 0.001``
    (the optimum of `default_tau`); to catch the small imbalances that matter in a large
    experiment of ``N`` planned units, take ``k`` near ``N / 17``.

    Args:
        looks: Cumulative units per arm at each look, in time order: mappings label -> count,
            or sequences in one fixed order.
        weights: Declared allocation per arm (any positive scale); equal split if omitted.
        alpha: Threshold for flagging a mismatch (default 0.001, as `srm_test`).
        concentration: Concentration ``k`` of the Dirichlet mixture (default 100).

    Returns:
        The check at every look; ``result.mismatch`` says whether to distrust the experiment.

    Raises:
        InputError: On counts that decrease between looks, arms that change, or bad weights.

    Examples:
        >>> looks = [
        ...     {"control": 5_000, "treatment": 5_100},
        ...     {"control": 10_000, "treatment": 10_400},
        ... ]
        >>> r = sequential_srm_test(looks)
        >>> [round(look.p_value, 4) for look in r.looks], r.mismatch
        ([1.0, 0.2897], False)
        >>> r = sequential_srm_test(looks + [{"control": 20_000, "treatment": 21_000}])
        >>> round(r.final.p_value, 6), r.mismatch, r.first_mismatch
        (0.000106, True, 3)
    """
    alpha = check_open_unit_interval("alpha", alpha)
    concentration = check_positive("concentration", concentration)
    arms, rows, by_label = _srm_counts(looks)
    if weights is None:
        raw = [1.0] * len(arms)
    elif isinstance(weights, Mapping):
        if not by_label:
            raise InputError(
                "weights is a mapping of arm labels but the looks are sequences; pass the "
                "looks as mappings label -> count too, or weights as a sequence"
            )
        if {str(a) for a in weights} != set(arms):
            raise InputError(f"weights has arms {sorted(weights)}, must match {sorted(arms)}")
        by_name = {str(a): w for a, w in weights.items()}
        raw = [check_positive(f"weights[{a!r}]", by_name[a]) for a in arms]
    else:
        if len(weights) != len(arms):
            raise InputError(f"weights has {len(weights)} entries, must have {len(arms)}")
        raw = [check_positive(f"weights[{i}]", w) for i, w in enumerate(weights)]
    total_weight = sum(raw)
    normalized = np.array([w / total_weight for w in raw])
    counts = np.array(rows, dtype=np.float64)  # (looks, arms)
    gammaln = special_functions().gammaln
    prior = concentration * normalized
    log_beta_prior = float(np.sum(gammaln(prior)) - gammaln(concentration))
    posterior = prior + counts
    log_beta_posterior = np.sum(gammaln(posterior), axis=1) - gammaln(posterior.sum(axis=1))
    log_null = counts @ np.log(normalized)
    log_bf = log_beta_posterior - log_beta_prior - log_null
    p_running = np.minimum.accumulate(np.exp(-np.maximum(log_bf, 0.0)))
    result = tuple(
        SequentialSRMLook(
            look=i + 1,
            observed=row,
            expected=tuple(float(sum(row) * w) for w in normalized),
            log_bayes_factor=float(log_bf[i]),
            p_value=float(p_running[i]),
            alpha=alpha,
        )
        for i, row in enumerate(rows)
    )
    return SequentialSRMResult(
        arms, tuple(float(w) for w in normalized), concentration, alpha, result
    )
