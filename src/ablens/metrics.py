"""Metrics: what to compare between arms, and the extension point for new ones.

A metric is any object that follows the `Metric` protocol: it names the columns (and column
pairs) whose moments it needs, and turns the control's and a treatment's `Moments` into a
`TestResult`. The built-in `Mean` and `Proportion` are ordinary implementations; a new metric
family (a ratio, a covariate-adjusted mean, ...) is a new class in its own module, with no
change to the core:

>>> from dataclasses import dataclass
>>> from ablens import Moments, TestResult, mean_test
>>> @dataclass(frozen=True)
... class Doubled:
...     '''A toy metric: the mean of twice a column.'''
...
...     column: str
...     name: str = "doubled"
...     role: str = "primary"
...     direction: str = "increase"
...
...     def required_columns(self) -> tuple[str, ...]:
...         return (self.column,)
...
...     def required_pairs(self) -> tuple[tuple[str, str], ...]:
...         return ()
...
...     def compare(self, control, treatment, *, confidence_level):
...         def args(m):
...             return m.count, 2 * m.mean_of(self.column), 4 * m.variance(self.column)
...
...         return mean_test(*args(control), *args(treatment), confidence_level=confidence_level)
>>> control = Moments.from_columns({"x": [1.0, 2.0, 3.0, 4.0]})
>>> treatment = Moments.from_columns({"x": [2.0, 3.0, 4.0, 5.0]})
>>> Doubled("x").compare(control, treatment, confidence_level=0.95).effect
2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ablens._validation import check_choice, check_name, check_open_unit_interval
from ablens.errors import DataError, InputError
from ablens.stats._inference import check_alternative
from ablens.stats.adjusted import cuped_test, regression_adjusted_test
from ablens.stats.means import MEAN_TESTS, MeanTest, mean_test
from ablens.stats.nonparametric import mann_whitney_test
from ablens.stats.proportions import PROPORTION_TESTS, ProportionTest, proportion_test
from ablens.stats.quantiles import quantile_test
from ablens.stats.ratio import ratio_test
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
from ablens.stats.result import TestResult
from ablens.stats.stratified import post_stratified_test

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType

__all__ = [
    "Adjustment",
    "Direction",
    "MannWhitney",
    "Mean",
    "Metric",
    "PostStratified",
    "Proportion",
    "Quantile",
    "Ratio",
    "Role",
    "TableContext",
]

Role = Literal["primary", "secondary", "guardrail"]
Direction = Literal["increase", "decrease"]
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")


@runtime_checkable
class Metric(Protocol):
    """What every metric provides: its moment needs and its comparison.

    Attributes:
        name: Label shown in results.
        role: "primary" (decides the verdict), "secondary" or "guardrail" (must not worsen).
        direction: Whether an "increase" or a "decrease" is good.
    """

    @property
    def name(self) -> str:
        """Label shown in results."""
        ...

    @property
    def role(self) -> str:
        """One of "primary", "secondary" or "guardrail"."""
        ...

    @property
    def direction(self) -> str:
        """Which way is good: "increase" or "decrease"."""
        ...

    def required_columns(self) -> tuple[str, ...]:
        """Columns whose count, mean and variance the metric needs."""
        ...

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Column pairs whose cross-moment the metric needs (ratios, covariates)."""
        ...

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Compare a treatment arm's moments with the control arm's."""
        ...


def _check_common(name: str, role: str, direction: str) -> None:
    check_name("name", name)
    check_choice("role", role, ROLES)
    check_choice("direction", direction, DIRECTIONS)


Adjustment = Literal["cuped", "regression"]
ADJUSTMENTS: tuple[Adjustment, ...] = ("cuped", "regression")


def _check_covariates(
    covariates: tuple[str, ...], adjustment: str, outcome: tuple[str, ...]
) -> None:
    check_choice("adjustment", adjustment, ADJUSTMENTS)
    for x in covariates:
        check_name("covariates", x)
        if x in outcome:
            raise InputError(f"covariates has {x!r}, which is the metric's own column")
    if adjustment == "cuped" and len(covariates) > 1:
        raise InputError(
            f"covariates has {len(covariates)} columns; CUPED takes one: use "
            "adjustment='regression' for several"
        )


def _as_tuple(covariates: str | Iterable[str]) -> tuple[str, ...]:
    """Covariates as a tuple; a single name given as a string is one covariate, not letters."""
    if isinstance(covariates, str):
        return (covariates,)
    return tuple(covariates)


def _covariate_pairs(
    outcome: tuple[str, ...], covariates: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Cross-moments covariate adjustment needs: outcome x covariate, covariate x covariate."""
    pairs = [(y, x) for y in outcome for x in covariates]
    pairs += [(a, b) for i, a in enumerate(covariates) for b in covariates[i + 1 :]]
    return tuple(pairs)


def _adjusted(
    metric: Mean | Proportion | Ratio,
    control: Moments,
    treatment: Moments,
    confidence_level: float,
    outcome: dict[str, str],
) -> TestResult:
    function = cuped_test if metric.adjustment == "cuped" else regression_adjusted_test
    covariates: Any = metric.covariates[0] if metric.adjustment == "cuped" else metric.covariates
    return function(
        control,
        treatment,
        covariates,
        column=outcome.get("column"),
        numerator=outcome.get("numerator"),
        denominator=outcome.get("denominator"),
        alternative=metric.alternative,
        confidence_level=confidence_level,
        margin=metric.margin,
        margin_type=metric.margin_type,
        relative_method=metric.relative_method,
    )


@dataclass(frozen=True)
class Mean:
    """The mean of a per-unit column (revenue per user, sessions per user).

    Args:
        column: The column holding one value per unit.
        name: Label in results; defaults to the column.
        test: "welch" (default), "student" or "z".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect (non-inferiority / superiority).
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns to reduce variance with (empty: no adjustment).
        adjustment: "cuped" (one covariate, pooled slope) or "regression" (Lin 2013, any
            number of covariates, slopes per arm); the test is then a z test.

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns({"revenue": [1.0, 2.0, 3.0, 4.0]})
        >>> treatment = Moments.from_columns({"revenue": [2.0, 3.0, 4.0, 6.0]})
        >>> r = Mean("revenue").compare(control, treatment, confidence_level=0.95)
        >>> r.effect, round(r.relative_effect, 4)
        (1.25, 0.5)
    """

    column: str
    name: str = ""
    test: MeanTest = "welch"
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()
    adjustment: Adjustment = "cuped"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        _check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, MEAN_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(self.covariates, self.adjustment, (self.column,))

    def required_columns(self) -> tuple[str, ...]:
        """The metric's column and its covariates."""
        return (self.column, *self.covariates)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Cross-moments with the covariates, if any."""
        return _covariate_pairs((self.column,), self.covariates)

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Welch (or Student, or z) comparison of the means, covariate-adjusted if asked."""
        if self.covariates:
            return _adjusted(self, control, treatment, confidence_level, {"column": self.column})
        return mean_test(
            control.count,
            control.mean_of(self.column),
            control.variance(self.column),
            treatment.count,
            treatment.mean_of(self.column),
            treatment.variance(self.column),
            test=self.test,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
            mean_difference=treatment.mean_minus(control, self.column),
        )


def binary_successes(moments: Moments, column: str) -> int:
    """Number of ones in a 0/1 column, checked from its moments.

    A column of zeros and ones has ``sum(x^2) == sum(x)``, i.e. ``C + n m^2 == n m`` with ``C``
    its centred sum of squares; anything else is not a conversion flag.
    """
    n = moments.count
    mean = moments.mean_of(column)
    successes = n * mean
    sum_of_squares = moments.comoment_of(column, column) + n * mean * mean
    tolerance = 1e-6 * max(1.0, successes)
    rounded = round(successes)
    if (
        mean < -1e-12
        or mean > 1 + 1e-12
        or abs(successes - rounded) > tolerance
        or not math.isclose(sum_of_squares, successes, rel_tol=1e-6, abs_tol=1e-6)
    ):
        raise DataError(
            f"column {column!r} is not a 0/1 flag (mean {mean:.6g}, mean of squares "
            f"{sum_of_squares / max(n, 1):.6g}); use Mean({column!r}) for a numeric metric"
        )
    return int(rounded)


@dataclass(frozen=True)
class Proportion:
    """The share of units with a 0/1 outcome (conversion, retention).

    Args:
        column: A column of 0/1 (or boolean) values, one per unit.
        name: Label in results; defaults to the column.
        test: "z" (default), "chi2", "chi2-yates" or "fisher".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect; only the "z" test takes one.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns to reduce variance with (empty: no adjustment).
        adjustment: "cuped" or "regression", as for `Mean`; the test is then a z test on the
            adjusted proportions.

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns({"converted": [0, 1, 0, 0, 1, 0, 0, 0]})
        >>> treatment = Moments.from_columns({"converted": [1, 1, 0, 0, 1, 0, 1, 0]})
        >>> Proportion("converted").compare(control, treatment, confidence_level=0.95).effect
        0.25
    """

    column: str
    name: str = ""
    test: ProportionTest = "z"
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()
    adjustment: Adjustment = "cuped"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        _check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, PROPORTION_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(self.covariates, self.adjustment, (self.column,))

    def required_columns(self) -> tuple[str, ...]:
        """The metric's column and its covariates."""
        return (self.column, *self.covariates)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Cross-moments with the covariates, if any."""
        return _covariate_pairs((self.column,), self.covariates)

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Two-proportion comparison from the success counts, covariate-adjusted if asked."""
        # Counting the successes also checks the column is 0/1, adjusted or not.
        successes_control = binary_successes(control, self.column)
        successes_treatment = binary_successes(treatment, self.column)
        if self.covariates:
            return _adjusted(self, control, treatment, confidence_level, {"column": self.column})
        return proportion_test(
            successes_control,
            control.count,
            successes_treatment,
            treatment.count,
            test=self.test,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


@dataclass(frozen=True)
class Ratio:
    """A ratio of per-unit sums: orders per session, revenue per order (delta method).

    Each row is one randomized unit holding its numerator and denominator totals (aggregate
    events per unit first); the metric is ``sum(numerator) / sum(denominator)`` per arm.

    Args:
        numerator: Per-unit numerator column.
        denominator: Per-unit denominator column.
        name: Label in results; defaults to "numerator / denominator".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns for variance reduction of the linearized ratio.
        adjustment: "cuped" or "regression".

    Examples:
        >>> from ablens import Moments
        >>> control = Moments.from_columns(
        ...     {"orders": [1.0, 0.0, 2.0, 1.0, 0.0], "sessions": [2.0, 1.0, 4.0, 3.0, 1.0]}
        ... )
        >>> treatment = Moments.from_columns(
        ...     {"orders": [1.0, 1.0, 2.0, 2.0, 0.0], "sessions": [2.0, 1.0, 4.0, 3.0, 2.0]}
        ... )
        >>> r = Ratio("orders", "sessions").compare(control, treatment, confidence_level=0.95)
        >>> round(r.control_estimate, 4), round(r.treatment_estimate, 4)
        (0.3636, 0.5)
    """

    numerator: str
    denominator: str
    name: str = ""
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()
    adjustment: Adjustment = "cuped"

    def __post_init__(self) -> None:
        check_name("numerator", self.numerator)
        check_name("denominator", self.denominator)
        if self.numerator == self.denominator:
            raise InputError("numerator and denominator are the same column")
        if not self.name:
            object.__setattr__(self, "name", f"{self.numerator} / {self.denominator}")
        _check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(self.covariates, self.adjustment, (self.numerator, self.denominator))

    def required_columns(self) -> tuple[str, ...]:
        """Numerator, denominator and covariates."""
        return (self.numerator, self.denominator, *self.covariates)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Numerator x denominator, and both with each covariate."""
        return (
            (self.numerator, self.denominator),
            *_covariate_pairs((self.numerator, self.denominator), self.covariates),
        )

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Delta-method comparison of the ratios, covariate-adjusted if asked."""
        if self.covariates:
            outcome = {"numerator": self.numerator, "denominator": self.denominator}
            return _adjusted(self, control, treatment, confidence_level, outcome)
        return ratio_test(
            control,
            treatment,
            self.numerator,
            self.denominator,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


@dataclass(frozen=True)
class PostStratified:
    """The mean of a column, post-stratified on a categorical pre-assignment column.

    Needs per-stratum moments, which `ablens.analyze` computes in the same engine when given a
    table: one more grouped query on the stratum column.

    Args:
        column: The metric column.
        stratum: Categorical column defining the strata (platform, country, ...).
        name: Label in results; defaults to "column | stratum".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.

    Examples:
        >>> import polars as pl
        >>> import ablens
        >>> table = pl.DataFrame(
        ...     {
        ...         "variant": ["c", "c", "c", "t", "t", "t"] * 2,
        ...         "platform": ["ios"] * 6 + ["web"] * 6,
        ...         "y": [10.0, 12, 11, 12, 13, 14, 1, 2, 3, 2, 3, 4],
        ...     }
        ... )
        >>> result = ablens.analyze(table, [PostStratified("y", "platform")], control="c")
        >>> round(result.comparisons[0].result.effect, 4)
        1.5
    """

    column: str
    stratum: str
    name: str = ""
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        check_name("stratum", self.stratum)
        if self.column == self.stratum:
            raise InputError("column and stratum are the same column")
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} | {self.stratum}")
        _check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)

    def required_columns(self) -> tuple[str, ...]:
        """The metric column (per stratum)."""
        return (self.column,)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """No cross-moments needed."""
        return ()

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Not available from overall moments: post-stratification needs them per stratum."""
        raise InputError(
            f"metric {self.name!r} needs per-stratum moments; pass the table itself to "
            "ablens.analyze (or call compare_strata)"
        )

    def compare_strata(
        self,
        control: Mapping[Any, Moments],
        treatment: Mapping[Any, Moments],
        *,
        confidence_level: float,
    ) -> TestResult:
        """Post-stratified comparison from stratum -> moments of each arm."""
        return post_stratified_test(
            control,
            treatment,
            self.column,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


class _TableMetric:
    """What `Quantile` and `MannWhitney` share: they query the table, not the moments."""

    name: str

    def required_columns(self) -> tuple[str, ...]:
        """None from the moments query: the metric runs its own query."""
        return ()

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """No cross-moments needed."""
        return ()

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Not available from moments: the metric needs the table."""
        raise InputError(
            f"metric {self.name!r} needs the table itself; pass the data to ablens.analyze"
        )


@dataclass(frozen=True)
class Quantile(_TableMetric):
    """A quantile of a per-unit column (median latency, p90 basket size).

    Computed from three quantiles per arm inside the engine (`ablens.data.quantiles`), so it
    needs the table itself: pass the data to `ablens.analyze`, not precomputed moments.

    Args:
        column: The column holding one value per unit.
        probability: The quantile, in (0, 1): 0.5 for the median, 0.9 for p90.
        name: Label in results; defaults to "column p50" style.
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        bracket_level: Coverage of the order-statistic bracket that sizes the standard error.
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.

    Examples:
        >>> import numpy as np, polars as pl, ablens
        >>> rng = np.random.default_rng(0)
        >>> table = pl.DataFrame(
        ...     {
        ...         "variant": ["c"] * 2000 + ["t"] * 2000,
        ...         "latency": np.concatenate([rng.gamma(2, 50, 2000), rng.gamma(2, 45, 2000)]),
        ...     }
        ... )
        >>> r = ablens.analyze(table, [Quantile("latency", 0.5)], control="c")
        >>> r.comparisons[0].metric, r.comparisons[0].result.test
        ('latency p50', 'quantile')
    """

    column: str
    probability: float
    name: str = ""
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    bracket_level: float = 0.95
    role: Role = "secondary"
    direction: Direction = "increase"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        check_open_unit_interval("probability", self.probability)
        check_open_unit_interval("bracket_level", self.bracket_level)
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} p{100 * self.probability:g}")
        _check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)

    def compare_table(self, context: TableContext, *, confidence_level: float) -> TestResult:
        """Quantile comparison from per-arm quantile summaries computed in the engine."""
        from ablens.data.quantiles import compute_quantile_summaries  # noqa: PLC0415 - lazy

        summaries = compute_quantile_summaries(
            context.data,
            variant=context.variant,
            column=self.column,
            probability=self.probability,
            bracket_level=self.bracket_level,
            experiment_id=context.experiment_id,
            team=context.team,
        )
        return quantile_test(
            summaries[context.control],
            summaries[context.treatment],
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


_SUPERIORITY_NOTE = (
    "values are the probability that a treatment unit exceeds a control unit (ties count "
    "half); control is 0.5 by definition"
)


@dataclass(frozen=True)
class MannWhitney(_TableMetric):
    """Mann-Whitney U (Wilcoxon rank-sum) test of a per-unit column, ranks in the engine.

    The effect reported is the probability of superiority minus one half,
    ``P(T > C) + P(T = C) / 2 - 1/2`` (0 when neither arm tends to be larger); the test is the
    tie-corrected normal approximation with continuity correction (R's
    ``wilcox.test(exact = FALSE)``). No interval is given for it.

    Args:
        column: The column to rank.
        name: Label in results; defaults to "column (rank)".
        alternative: "two-sided", "greater" or "less".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.

    Examples:
        >>> import polars as pl, ablens
        >>> table = pl.DataFrame(
        ...     {"variant": ["c"] * 5 + ["t"] * 5, "x": [1.0, 2, 3, 4, 5, 3, 4, 5, 6, 7]}
        ... )
        >>> r = ablens.analyze(table, [MannWhitney("x")], control="c").comparisons[0].result
        >>> r.treatment_estimate, round(r.p_value, 4)
        (0.82, 0.1138)
    """

    column: str
    name: str = ""
    alternative: Literal["two-sided", "greater", "less"] = "two-sided"
    role: Role = "secondary"
    direction: Direction = "increase"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} (rank)")
        _check_common(self.name, self.role, self.direction)

    def compare_table(self, context: TableContext, *, confidence_level: float) -> TestResult:
        """Mann-Whitney test from rank sums computed in the engine."""
        from ablens.data.ranks import compute_rank_summary  # noqa: PLC0415 - lazy engine import

        summary = compute_rank_summary(
            context.data,
            variant=context.variant,
            column=self.column,
            control=context.control,
            treatment=context.treatment,
            experiment_id=context.experiment_id,
            team=context.team,
        )
        test = mann_whitney_test(summary, alternative=self.alternative)
        superiority = test.probability_of_superiority
        return TestResult(
            test="mann-whitney",
            alternative=check_alternative(self.alternative),
            confidence_level=confidence_level,
            margin=0.0,
            margin_type="absolute",
            control_estimate=0.5,
            treatment_estimate=superiority,
            effect=superiority - 0.5,
            effect_ci_lower=math.nan,
            effect_ci_upper=math.nan,
            standard_error=math.nan,
            relative_effect=math.nan,
            relative_ci_lower=math.nan,
            relative_ci_upper=math.nan,
            relative_method="delta-log",
            statistic=test.z,
            df=None,
            p_value=test.p_value,
            notes=(_SUPERIORITY_NOTE,),
        )


@dataclass(frozen=True)
class TableContext:
    """Where a table metric (`Quantile`, `MannWhitney`) reads its data for one comparison."""

    data: object
    variant: str
    control: str
    treatment: str
    experiment_id: str | None = None
    team: str | None = None
