"""Differences of quantiles (median, p90, ...) between two arms.

Two methods:

* `quantile_test`, from three quantiles per arm (`QuantileSummary`): the sample quantile at
  ``q`` and at the bracket probabilities ``q -/+ z sqrt(q (1 - q) / n)``. Those two bracket the
  distribution-free (order-statistic, binomial) confidence interval of the ``q``-quantile,
  whose ranks are ``n q -/+ z sqrt(n q (1 - q))``; its width estimates the sample quantile's
  standard error, ``se = (Q(q_hi) - Q(q_lo)) / (2 z)``, with no density estimate (Woodruff,
  1952; Price and Bonett, 2001; Deng, Knoblich and Lu, 2018, on quantile metrics). Arms are
  independent, so the difference has variance ``se_t^2 + se_c^2`` and a normal interval; the
  lift uses the delta-log or Fieller interval with the same variances. Any engine with an exact
  quantile aggregate computes the three numbers (`ablens.data.compute_quantile_summaries`), so
  no raw value leaves it.
* `quantile_bootstrap_test`, a seeded percentile bootstrap on raw values held in memory.

Quantile definition: linear interpolation between order statistics, Hyndman and Fan's type 7
(R's ``quantile(x, p, type = 7)``, numpy's ``method="linear"``, pandas' and polars'
``interpolation="linear"``, DuckDB's ``quantile_cont``, PostgreSQL's ``percentile_cont``,
Spark's exact ``percentile``). It is the one definition that every supported engine computes
exactly (narwhals exposes only ``"linear"`` on DuckDB, Ibis and Spark), so a summary is the same
whichever engine computed it, up to rounding in the last bits of the interpolation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ablens._validation import check_choice, check_count, check_open_unit_interval, check_real
from ablens.errors import InputError
from ablens.stats._inference import (
    NORMAL,
    check_alternative,
    check_confidence_level,
    check_margin,
    special_functions,
)
from ablens.stats.relative import lift
from ablens.stats.result import TestResult, difference_test

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ablens.stats.relative import RelativeMethod
    from ablens.stats.result import MarginType

__all__ = [
    "INTERPOLATION",
    "QuantileSummary",
    "bracket_probabilities",
    "minimum_count",
    "quantile_bootstrap_test",
    "quantile_summary_from_array",
    "quantile_test",
]

#: The quantile definition: linear interpolation (Hyndman and Fan type 7), in numpy's,
#: pandas', polars' and narwhals' spelling.
INTERPOLATION: Literal["linear"] = "linear"
#: Relative tolerance on ``lower_value <= value <= upper_value``: engines round the linear
#: interpolation differently in the last bits, so tied order statistics may come back a few
#: units in the last place apart.
_ORDER_TOLERANCE = 1e-12


def _tied(a: float, b: float) -> bool:
    """Equal quantiles, up to the engines' rounding of the interpolation."""
    return abs(a - b) <= _ORDER_TOLERANCE * max(abs(a), abs(b))


def _bracket_z(bracket_level: float) -> float:
    """The two-sided normal quantile ``z`` of the bracket (1.96 at 0.95)."""
    return float(special_functions().ndtri(0.5 + bracket_level / 2.0))


def _half_width(n: int, probability: float, bracket_level: float) -> float:
    return _bracket_z(bracket_level) * math.sqrt(probability * (1.0 - probability) / n)


def bracket_probabilities(
    n: int, probability: float, bracket_level: float = 0.95
) -> tuple[float, float]:
    """The probabilities ``q -/+ z sqrt(q (1 - q) / n)`` whose quantiles bracket the ``q``-quantile.

    ``z`` is the two-sided normal quantile of ``bracket_level`` (1.96 at 0.95). At these
    probabilities the type-7 sample quantiles sit at ranks ``n q -/+ z sqrt(n q (1 - q))`` (up to
    one rank): the ends of the distribution-free confidence interval of the ``q``-quantile.

    Args:
        n: Values in the arm.
        probability: The quantile's probability ``q``, in (0, 1) (0.5 for the median).
        bracket_level: Level of the bracketing interval, in (0, 1).

    Returns:
        ``(q_lo, q_hi)``, both strictly inside (0, 1).

    Raises:
        InputError: If an argument is invalid or ``n`` is too small for the bracket to stay
            inside (0, 1) (see `minimum_count`).

    Examples:
        >>> [round(p, 6) for p in bracket_probabilities(10_000, 0.5)]
        [0.4902, 0.5098]
    """
    n = check_count("n", n, minimum=1)
    probability = check_open_unit_interval("probability", probability)
    bracket_level = check_open_unit_interval("bracket_level", bracket_level)
    half = _half_width(n, probability, bracket_level)
    lower, upper = probability - half, probability + half
    if n < 2 or not 0.0 < lower < upper < 1.0:
        needed = minimum_count(probability, bracket_level)
        raise InputError(
            f"n == {n} is too small to bracket the {probability!r} quantile at bracket_level "
            f"{bracket_level!r}: the bracket q -/+ z sqrt(q (1 - q) / n) = ({lower:.4g}, "
            f"{upper:.4g}) must lie inside (0, 1); needs n >= {needed}"
        )
    return lower, upper


def minimum_count(probability: float, bracket_level: float = 0.95) -> int:
    """The fewest values an arm needs for the bracket of the ``probability``-quantile.

    The bracket ``q -/+ z sqrt(q (1 - q) / n)`` must lie strictly inside (0, 1), which holds when
    ``n > z^2 max(q, 1 - q) / min(q, 1 - q)``; and an arm needs at least 2 values.

    Examples:
        >>> minimum_count(0.5), minimum_count(0.9), minimum_count(0.99)
        (4, 35, 381)
    """
    probability = check_open_unit_interval("probability", probability)
    bracket_level = check_open_unit_interval("bracket_level", bracket_level)
    z = _bracket_z(bracket_level)
    small = min(probability, 1.0 - probability)
    guess = max(2, math.floor(z * z * (1.0 - small) / small) + 1)

    def fits(n: int) -> bool:  # the very test bracket_probabilities applies
        half = _half_width(n, probability, bracket_level)
        return 0.0 < probability - half < probability + half < 1.0

    while not fits(guess):
        guess += 1
    while guess > 2 and fits(guess - 1):
        guess -= 1
    return guess


@dataclass(frozen=True)
class QuantileSummary:
    """One arm's ``q``-quantile and the two quantiles that bracket it.

    Attributes:
        n: Values in the arm.
        probability: The quantile's probability ``q`` (0.5 for the median).
        value: The sample ``q``-quantile (type 7, linear interpolation).
        lower_value: The sample quantile at ``q_lo = q - z sqrt(q (1 - q) / n)``.
        upper_value: The sample quantile at ``q_hi = q + z sqrt(q (1 - q) / n)``.
        bracket_level: The level whose two-sided ``z`` set the bracket (0.95: ``z`` = 1.96).

    ``(lower_value, upper_value)`` is, for a continuous distribution, an approximate
    ``bracket_level`` distribution-free confidence interval for the population ``q``-quantile;
    its width gives the standard error.

    Examples:
        >>> import numpy as np
        >>> values = np.random.default_rng(1).lognormal(size=10_000)
        >>> s = quantile_summary_from_array(values, 0.5)
        >>> round(s.value, 4), round(s.standard_error, 4)
        (0.9906, 0.0129)
    """

    n: int
    probability: float
    value: float
    lower_value: float
    upper_value: float
    bracket_level: float = 0.95

    def __post_init__(self) -> None:
        n = check_count("n", self.n, minimum=1)
        probability = check_open_unit_interval("probability", self.probability)
        bracket_level = check_open_unit_interval("bracket_level", self.bracket_level)
        bracket_probabilities(n, probability, bracket_level)  # n large enough for the bracket
        value = check_real("value", self.value)
        lower = check_real("lower_value", self.lower_value)
        upper = check_real("upper_value", self.upper_value)
        slack = _ORDER_TOLERANCE * max(abs(lower), abs(value), abs(upper))
        if not lower - slack <= value <= upper + slack:
            raise InputError(
                f"lower_value == {lower!r}, value == {value!r}, upper_value == {upper!r}, must "
                "be in increasing order (quantiles at q_lo <= q <= q_hi)"
            )
        for name, item in (
            ("n", n),
            ("probability", probability),
            ("bracket_level", bracket_level),
            ("value", value),
            ("lower_value", lower),
            ("upper_value", upper),
        ):
            object.__setattr__(self, name, item)

    @property
    def bracket_probabilities(self) -> tuple[float, float]:
        """``(q_lo, q_hi)``, the probabilities of `lower_value` and `upper_value`."""
        return bracket_probabilities(self.n, self.probability, self.bracket_level)

    @property
    def standard_error(self) -> float:
        """``(upper_value - lower_value) / (2 z)``: the sample quantile's standard error."""
        return max(self.upper_value - self.lower_value, 0.0) / (
            2.0 * _bracket_z(self.bracket_level)
        )

    @property
    def variance(self) -> float:
        """The square of `standard_error`."""
        return self.standard_error**2

    def to_dict(self) -> dict[str, Any]:
        """A flat dictionary of every field."""
        return dataclasses.asdict(self)


def _as_values(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as a 1-D float array of finite numbers, or an `InputError` naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a sequence of real numbers") from None
    if array.ndim != 1:
        raise InputError(f"{name} has shape {array.shape}, must be one-dimensional")
    if array.size == 0:
        raise InputError(f"{name} is empty, must hold at least 2 values")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise InputError(
            f"{name} has {bad:,} NaN or infinite value(s), must be finite; drop or fill them"
        )
    return array


def quantile_summary_from_array(
    values: ArrayLike, probability: float, bracket_level: float = 0.95
) -> QuantileSummary:
    """The `QuantileSummary` of values held in memory (numpy's ``method="linear"``).

    Args:
        values: One arm's values (1-D, finite).
        probability: The quantile's probability ``q``, in (0, 1).
        bracket_level: Level of the bracketing interval, in (0, 1).

    Raises:
        InputError: On NaN or infinite values, a probability outside (0, 1), or too few values
            for the bracket (see `minimum_count`).

    Examples:
        >>> s = quantile_summary_from_array(range(1, 101), 0.5)
        >>> s.value, s.lower_value, s.upper_value
        (50.5, 40.798..., 60.201...)
    """
    array = _as_values("values", values)
    lower, upper = bracket_probabilities(array.size, probability, bracket_level)
    q_lo, q, q_hi = np.quantile(array, [lower, probability, upper], method=INTERPOLATION)
    return QuantileSummary(
        n=int(array.size),
        probability=float(probability),
        value=float(q),
        lower_value=float(q_lo),
        upper_value=float(q_hi),
        bracket_level=float(bracket_level),
    )


def quantile_test(
    control: QuantileSummary,
    treatment: QuantileSummary,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
    relative_method: RelativeMethod = "delta-log",
) -> TestResult:
    """Compare one quantile between two arms from each arm's `QuantileSummary`.

    The effect is ``treatment.value - control.value`` with standard error
    ``sqrt(se_t^2 + se_c^2)`` (each ``se`` from the arm's bracket) and a normal reference; the
    lift ``(treatment.value - control.value) / |control.value|`` gets the chosen relative
    interval with the same variances.

    Args:
        control: Control arm summary.
        treatment: Treatment arm summary, of the same probability.
        alternative: "two-sided", "greater" (treatment above control + margin) or "less".
        confidence_level: Coverage of the intervals, in (0, 1); independent of the summaries'
            ``bracket_level``, which only sets how the standard errors were measured.
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default), "delta" or "fieller" interval for the lift.

    Returns:
        The comparison (test name "quantile"). A note is added when an arm's quantile equals
        one of its bracket quantiles: a sign of ties (a discrete metric), where the method's
        standard error is unreliable.

    Raises:
        InputError: On non-summary arguments, different probabilities, or when neither arm's
            bracket has any width (no standard error: the data are too discrete at ``q``).

    Examples:
        >>> c = QuantileSummary(20_000, 0.5, 10.0, 9.8, 10.2)
        >>> t = QuantileSummary(20_000, 0.5, 10.5, 10.28, 10.72)
        >>> r = quantile_test(c, t)
        >>> round(r.effect, 3), round(r.standard_error, 4), r.p_value < 0.001
        (0.5, 0.1516, True)
    """
    for name, arm in (("control", control), ("treatment", treatment)):
        if not isinstance(arm, QuantileSummary):
            raise InputError(f"{name} is a {type(arm).__name__}, must be a QuantileSummary")
    if control.probability != treatment.probability:
        raise InputError(
            f"control.probability == {control.probability!r} and treatment.probability == "
            f"{treatment.probability!r}, must be equal: compare the same quantile"
        )
    check_choice("margin_type", margin_type, ("absolute", "relative"))
    var_c, var_t = control.variance, treatment.variance
    if var_c == 0 and var_t == 0:
        raise InputError(
            f"the brackets of the {control.probability!r} quantile have zero width in both arms "
            "(ties at the quantile), so there is no standard error; the metric is too discrete "
            "at this quantile: use quantile_bootstrap_test, or a mean or proportion"
        )
    result = difference_test(
        test="quantile",
        control=control.value,
        treatment=treatment.value,
        var_control=var_c,
        var_treatment=var_t,
        reference=NORMAL,
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        relative_method=relative_method,
    )
    # For a continuous metric the three quantiles differ; equal ones mean a run of tied values
    # around q, where the bracket's width (and so the standard error) jumps with the data.
    notes = [
        f"ties at the {arm.probability!r} quantile in the {name} arm (its quantile equals a "
        "bracket quantile): the metric is discrete there and the interval is unreliable, "
        "usually too narrow"
        for name, arm in (("control", control), ("treatment", treatment))
        if _tied(arm.lower_value, arm.value) or _tied(arm.value, arm.upper_value)
    ]
    return dataclasses.replace(result, notes=tuple(notes)) if notes else result


# ---------------------------------------------------------------------------------- bootstrap
def _bootstrap_quantiles(
    ordered: NDArray[np.float64],
    probability: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """The type-7 ``probability``-quantile of ``n_resamples`` resamples of sorted values.

    Resampling ``n`` values with replacement means drawing indices ``I = floor(n U)`` with ``U``
    uniform, and the sorted resample is ``ordered[I_(1)] <= ... <= ordered[I_(n)]``. A type-7
    quantile reads only two adjacent order statistics, ``k`` and ``k + 1``, so instead of
    ``n`` indices per resample this draws those two directly: ``U_(k) ~ Beta(k, n - k + 1)``
    and, given it, ``U_(k+1) = U_(k) + (1 - U_(k)) Beta(1, n - k)`` (the smallest of the
    ``n - k`` uniforms above it). Same distribution as resampling, in O(n_resamples) memory.
    """
    n = ordered.size
    position = (n - 1) * probability
    j = math.floor(position)
    fraction = position - j
    k = j + 1  # 1-based rank of the lower order statistic
    u_low = rng.beta(k, n - k + 1, size=n_resamples)
    low = ordered[np.minimum(np.floor(n * u_low).astype(np.intp), n - 1)]
    if fraction == 0.0:
        return low
    u_high = u_low + (1.0 - u_low) * rng.beta(1, n - k, size=n_resamples)
    high = ordered[np.minimum(np.floor(n * u_high).astype(np.intp), n - 1)]
    # numpy's own interpolation, rounding included, so a resample's quantile is the very number
    # np.quantile would return for it.
    if fraction >= 0.5:
        return high - (high - low) * (1.0 - fraction)
    return low + (high - low) * fraction


def _bootstrap_p_value(draws: NDArray[np.float64], null: float, alternative: str) -> float:
    """The percentile bootstrap's p-value: the tail mass beyond the null value, +1 corrected."""
    b = draws.size
    below = (np.count_nonzero(draws <= null) + 1) / (b + 1)  # evidence against effect > null
    above = (np.count_nonzero(draws >= null) + 1) / (b + 1)
    if alternative == "greater":
        return float(below)
    if alternative == "less":
        return float(above)
    return float(min(1.0, 2.0 * min(below, above)))


def _percentile_interval(
    draws: NDArray[np.float64], confidence_level: float, alternative: str
) -> tuple[float, float]:
    tail = 1.0 - confidence_level
    if alternative == "two-sided":
        low, high = np.quantile(draws, [tail / 2.0, 1.0 - tail / 2.0], method=INTERPOLATION)
        return float(low), float(high)
    if alternative == "greater":
        return float(np.quantile(draws, tail, method=INTERPOLATION)), math.inf
    return -math.inf, float(np.quantile(draws, 1.0 - tail, method=INTERPOLATION))


def quantile_bootstrap_test(
    control_values: ArrayLike,
    treatment_values: ArrayLike,
    probability: float,
    *,
    n_resamples: int = 10_000,
    seed: int | np.random.Generator = 0,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    margin_type: MarginType = "absolute",
) -> TestResult:
    """Compare one quantile between two arms by a seeded percentile bootstrap of raw values.

    Each arm is resampled independently ``n_resamples`` times (vectorized: each resample's
    quantile is drawn from the two order statistics it reads, an exact shortcut with the
    distribution of full resampling; see the methodology page). The effect's interval is the
    percentile interval of the bootstrap differences, the lift's that of the bootstrap lifts
    (percentile intervals respect monotone transformations, so this is the bootstrap's
    counterpart of the log-scale "delta-log" interval, recorded as ``relative_method``). The
    p-value is the bootstrap tail mass beyond the margin, ``(count + 1) / (n_resamples + 1)``
    (doubled, capped at 1, when two-sided); there is no test statistic (NaN).

    Memory: both arms' values are held in memory as float64 (8 bytes per value, plus a sorted
    copy) and a few float64 arrays of ``n_resamples``; nothing of size
    ``n × n_resamples`` is built.

    Args:
        control_values: Control arm values (1-D, finite).
        treatment_values: Treatment arm values.
        probability: The quantile's probability ``q``, in (0, 1).
        n_resamples: Bootstrap resamples per arm (>= 100).
        seed: Seed of numpy's default generator, or a generator; the same seed gives the same
            result.
        alternative: "two-sided", "greater" or "less".
        confidence_level: Coverage of the intervals, in (0, 1).
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".

    Returns:
        The comparison (test name "quantile-bootstrap"); ``standard_error`` is the standard
        deviation of the bootstrap differences.

    Raises:
        InputError: On invalid arguments, NaN or infinite values, fewer than 2 values in an arm,
            or a relative margin when a bootstrap control quantile is 0 or negative.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(3)
        >>> c, t = rng.lognormal(0.0, 1.0, 5_000), rng.lognormal(0.1, 1.0, 5_000)
        >>> r = quantile_bootstrap_test(c, t, 0.5, n_resamples=2_000, seed=1)
        >>> round(r.effect, 3), r.effect_ci_lower > 0
        (0.099, True)
    """
    control = _as_values("control_values", control_values)
    treatment = _as_values("treatment_values", treatment_values)
    for name, array in (("control_values", control), ("treatment_values", treatment)):
        if array.size < 2:
            raise InputError(f"{name} has {array.size} value(s), must have >= 2")
    probability = check_open_unit_interval("probability", probability)
    n_resamples = check_count("n_resamples", n_resamples, minimum=100)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_margin(margin)
    check_choice("margin_type", margin_type, ("absolute", "relative"))
    if not isinstance(seed, np.random.Generator) and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer)
    ):
        raise InputError(f"seed == {seed!r}, must be an int or a numpy Generator")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(int(seed))

    control_sorted = np.sort(control)
    treatment_sorted = np.sort(treatment)
    c_hat = float(np.quantile(control_sorted, probability, method=INTERPOLATION))
    t_hat = float(np.quantile(treatment_sorted, probability, method=INTERPOLATION))
    c_star = _bootstrap_quantiles(control_sorted, probability, n_resamples, rng)
    t_star = _bootstrap_quantiles(treatment_sorted, probability, n_resamples, rng)
    differences = t_star - c_star
    lower, upper = _percentile_interval(differences, confidence_level, alternative)

    positive_control = bool(np.all(c_star > 0))
    relative_test = margin_type == "relative" and margin != 0
    if relative_test and (not positive_control or margin <= -1):
        raise InputError(
            f"margin == {margin!r} is relative, which needs every bootstrap control quantile "
            "> 0 and margin > -1; test an absolute margin instead"
        )
    rel_lower = rel_upper = math.nan  # the lift is undefined when a control quantile is 0
    if np.all(c_star != 0):
        lifts = (t_star - c_star) / np.abs(c_star)
        rel_lower, rel_upper = _percentile_interval(lifts, confidence_level, alternative)
        if alternative == "less" and positive_control and bool(np.all(t_star >= 0)):
            rel_lower = -1.0  # a ratio of non-negative quantiles is >= 0, as delta-log says
    # A zero lift is a zero difference (the control quantiles being positive): only a non-zero
    # relative margin is tested on the lifts.
    p = _bootstrap_p_value(lifts if relative_test else differences, margin, alternative)
    return TestResult(
        test="quantile-bootstrap",
        alternative=alternative,
        confidence_level=confidence_level,
        margin=margin,
        margin_type=margin_type,
        control_estimate=c_hat,
        treatment_estimate=t_hat,
        effect=t_hat - c_hat,
        effect_ci_lower=lower,
        effect_ci_upper=upper,
        standard_error=float(np.std(differences, ddof=1)),
        relative_effect=lift(t_hat, c_hat),
        relative_ci_lower=rel_lower,
        relative_ci_upper=rel_upper,
        relative_method="delta-log",
        statistic=math.nan,
        df=None,
        p_value=p,
        notes=(
            (
                f"percentile bootstrap, {n_resamples:,} resamples per arm; the lift's interval "
                "is the percentile interval of the bootstrap lifts"
            ),
        ),
    )
