"""Moment metrics: the mean, the proportion and the ratio, each from the arms' moments.

Each is compared from the control's and a treatment's `Moments` alone, optionally adjusted by
pre-period covariates (CUPED, or regression with per-arm slopes), and each can be read at every
look of a sequential design and planned from past moments.

>>> from ablens import Moments
>>> control = Moments.from_columns({"revenue": [1.0, 2.0, 3.0, 4.0]})
>>> treatment = Moments.from_columns({"revenue": [2.0, 3.0, 4.0, 6.0]})
>>> Mean("revenue").compare(control, treatment, confidence_level=0.95).effect
1.25
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ablens._validation import check_choice, check_name
from ablens.errors import DataError, InputError
from ablens.metrics.base import (
    MetricKind,
    PlanKey,
    PlanningBaseline,
    check_common,
    register_metric_kind,
)
from ablens.stats._inference import REFERENCE_DISTRIBUTIONS, check_reference
from ablens.stats.adjusted import cuped_test, regression_adjusted_test
from ablens.stats.means import MEAN_TESTS, MeanTest, mean_test
from ablens.stats.proportions import PROPORTION_TESTS, ProportionTest, proportion_test
from ablens.stats.ratio import ratio_estimate, ratio_test
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
from ablens.typing import ADJUSTMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ablens.stats._inference import Alternative, ReferenceDistribution
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult
    from ablens.typing import Adjustment, Direction, Role

__all__ = ["Mean", "Proportion", "Ratio", "binary_successes"]

#: The adjusted tests every moment metric may run, in words.
_ADJUSTED_TITLES = {
    "cuped": "CUPED-adjusted z test (pooled slope)",
    "ancova": "regression adjustment with per-arm slopes (Lin 2013), z test",
}
_COVARIATE_KEYS = (
    PlanKey("covariates", "columns", description="Pre-period columns for variance reduction."),
    PlanKey("adjustment", "choice", ADJUSTMENTS),
)


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


@register_metric_kind
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

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="mean",
        title="Mean",
        plan_keys=(
            PlanKey("column", description="The per-unit column."),
            PlanKey("test", "choice", MEAN_TESTS),
            *_COVARIATE_KEYS,
        ),
        plannable=True,
        test_titles={
            "welch": "Welch's t test",
            "student": "Student's t test (pooled variance)",
            "z": "z test",
            **_ADJUSTED_TITLES,
        },
    )

    column: str
    name: str = ""
    test: MeanTest = "welch"
    alternative: Alternative = "two-sided"
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
        check_common(self.name, self.role, self.direction)
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

    def planning_baseline(self, moments: Moments) -> PlanningBaseline:
        """The mean and per-unit sd of the column in past moments."""
        return PlanningBaseline(
            "mean", moments.mean_of(self.column), moments.std(self.column), {self.column: 1.0}
        )

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


@register_metric_kind
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

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="proportion",
        title="Proportion",
        plan_keys=(
            PlanKey("column", description="A 0/1 column, one value per unit."),
            PlanKey("test", "choice", PROPORTION_TESTS),
            *_COVARIATE_KEYS,
        ),
        posterior="beta-binomial",
        plannable=True,
        rate=True,
        test_titles={
            "z": "two-proportion z test",
            "chi2": "Pearson's chi-square test",
            "chi2-yates": "chi-square test with Yates' continuity correction",
            "fisher": "Fisher's exact test",
            **_ADJUSTED_TITLES,
        },
    )

    column: str
    name: str = ""
    test: ProportionTest = "z"
    alternative: Alternative = "two-sided"
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
        check_common(self.name, self.role, self.direction)
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

    def planning_baseline(self, moments: Moments) -> PlanningBaseline:
        """The rate in past moments (checked 0/1 and strictly between 0 and 1)."""
        binary_successes(moments, self.column)
        value = moments.mean_of(self.column)
        if value <= 0 or value >= 1:
            raise DataError(
                f"column {self.column!r} is {value:g} for every unit in the history; a rate "
                "of 0 or 1 cannot be planned for"
            )
        notes: tuple[str, ...] = ()
        if self.test in ("chi2-yates", "fisher"):
            notes = (
                (
                    f"power is that of the z test; the metric's {self.test!r} test is "
                    "slightly more conservative"
                ),
            )
        sd = math.sqrt(value * (1.0 - value))
        return PlanningBaseline("proportion", value, sd, {self.column: 1.0}, notes)

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


@register_metric_kind
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
        reference: "normal" (default: the delta-method z test) or "t" (Student's t with the
            Welch-Satterthwaite degrees of freedom of the linearized per-unit values; prefer it
            below `ablens.stats.small_samples.MIN_UNITS_PER_ARM` units per arm). Only for the
            unadjusted comparison: "t" with covariates is an error.

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

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="ratio",
        title="Ratio",
        plan_keys=(
            PlanKey("numerator", description="Per-unit numerator column."),
            PlanKey("denominator", description="Per-unit denominator column."),
            PlanKey(
                "reference",
                "choice",
                REFERENCE_DISTRIBUTIONS,
                description="The delta-method statistic's null distribution: 'normal', or "
                "'t' (Welch-Satterthwaite df) for small arms.",
            ),
            *_COVARIATE_KEYS,
        ),
        plannable=True,
        test_titles={
            "delta": "delta-method z test of the ratio of sums",
            "delta-t": (
                "delta-method t test of the ratio of sums (Welch-Satterthwaite df of the "
                "linearized values)"
            ),
            **_ADJUSTED_TITLES,
        },
    )

    numerator: str
    denominator: str
    name: str = ""
    alternative: Alternative = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()
    adjustment: Adjustment = "cuped"
    reference: ReferenceDistribution = "normal"

    def __post_init__(self) -> None:
        check_name("numerator", self.numerator)
        check_name("denominator", self.denominator)
        if self.numerator == self.denominator:
            raise InputError("numerator and denominator are the same column")
        if not self.name:
            object.__setattr__(self, "name", f"{self.numerator} / {self.denominator}")
        check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        check_reference(self.reference)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(self.covariates, self.adjustment, (self.numerator, self.denominator))
        if self.reference == "t" and self.covariates:
            # The adjusted tests take their own reference; ignoring this one would be silent.
            raise InputError(
                "reference == 't' applies to the unadjusted delta method; with covariates the "
                "adjusted test sets its own reference: drop reference or the covariates"
            )

    def required_columns(self) -> tuple[str, ...]:
        """Numerator, denominator and covariates."""
        return (self.numerator, self.denominator, *self.covariates)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Numerator x denominator, and both with each covariate."""
        return (
            (self.numerator, self.denominator),
            *_covariate_pairs((self.numerator, self.denominator), self.covariates),
        )

    def planning_baseline(self, moments: Moments) -> PlanningBaseline:
        """The ratio of sums and the sd of its linearization in past moments."""
        ratio, variance = ratio_estimate(moments, self.numerator, self.denominator)
        mean_d = moments.mean_of(self.denominator)
        weights = {self.numerator: 1.0 / mean_d, self.denominator: -ratio / mean_d}
        return PlanningBaseline("mean", ratio, math.sqrt(variance * moments.count), weights)

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
            reference=self.reference,
        )
