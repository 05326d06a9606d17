"""Moment metrics: the mean, the proportion and the ratio, each from the arms' moments.

Each is compared from the control's and a treatment's `Moments` alone, optionally adjusted by
pre-period covariates (CUPED, regression with per-arm slopes, or a common slope), and each can
be read at every look of a sequential design and planned from past moments.

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
from ablens.stats._inference import check_reference
from ablens.stats.adjusted import (
    REFERENCE_DISTRIBUTIONS,
    VCOV_TYPES,
    adjusted_test_name,
    common_slope_test,
    cuped_ratio_test,
    cuped_test,
    regression_adjusted_test,
    sandwich_design,
)
from ablens.stats.means import MEAN_TESTS, MeanTest, mean_test
from ablens.stats.proportions import PROPORTION_TESTS, ProportionTest, proportion_test
from ablens.stats.ratio import ratio_estimate, ratio_test
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
from ablens.typing import ADJUSTMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ablens.stats._inference import Alternative, ReferenceDistribution
    from ablens.stats.adjusted import HCShares, SandwichDesign, VcovType
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult
    from ablens.typing import Adjustment, Direction, Role

__all__ = ["Mean", "Proportion", "Ratio", "binary_successes"]

#: The covariate-adjusted estimators, in words (test name -> title).
_ESTIMATOR_TITLES = {
    "cuped": "CUPED-adjusted {test} (pooled slope)",
    "ancova": "regression adjustment with per-arm slopes (Lin 2013){vcov}, {test}",
    "common-slope": "ANCOVA with a common slope, lm(y ~ treated + x){vcov}, {test}",
}
_REFERENCE_TITLES = {
    "cuped": {"normal": "z test", "t": "Welch t test"},
    "ancova": {"normal": "z test", "t": "t test (Welch-Satterthwaite df)"},
    "common-slope": {"normal": "z test", "t": "t test (n - 2 - k df)"},
}


def _adjusted_titles() -> dict[str, str]:
    """Every adjusted test a moment metric may run (estimator x vcov x reference), in words."""
    titles = {}
    for base, title in _ESTIMATOR_TITLES.items():
        for vcov in ("classical",) if base == "cuped" else VCOV_TYPES:
            for reference in REFERENCE_DISTRIBUTIONS:
                for arm_level in (False, True) if vcov != "classical" else (False,):
                    standard_error = "" if vcov == "classical" else f", {vcov} standard error"
                    if arm_level:
                        standard_error += " (arm-level approximation from moments)"
                    name = adjusted_test_name(base, vcov, reference, arm_level=arm_level)
                    titles[name] = title.format(
                        vcov=standard_error, test=_REFERENCE_TITLES[base][reference]
                    )
    return titles


#: The adjusted tests every moment metric may run, in words.
_ADJUSTED_TITLES = _adjusted_titles()
_COVARIATE_KEYS = (
    PlanKey("covariates", "columns", description="Pre-period columns for variance reduction."),
    PlanKey("adjustment", "choice", ADJUSTMENTS),
    PlanKey(
        "vcov",
        "choice",
        VCOV_TYPES,
        description="Variance of a regression-adjusted effect: lm's (classical) or HC0-HC3.",
    ),
    PlanKey(
        "reference",
        "choice",
        REFERENCE_DISTRIBUTIONS,
        description="Null distribution of an adjusted test: normal, or t for small samples.",
    ),
)


#: A pre-period ratio covariate, for ratio metrics (CUPED of the linearized ratio).
_RATIO_COVARIATE_KEYS = (
    PlanKey(
        "covariate_numerator",
        description="Numerator column of a pre-period ratio covariate (CUPED of the ratio).",
    ),
    PlanKey("covariate_denominator", description="Denominator column of the ratio covariate."),
)


def ratio_covariate_of(numerator: str | None, denominator: str | None) -> tuple[str, str] | None:
    """``(covariate_numerator, covariate_denominator)``, or None when not given."""
    if numerator is None or denominator is None:
        return None
    return (numerator, denominator)


def check_ratio_covariate(
    numerator: str | None,
    denominator: str | None,
    *,
    outcome: tuple[str, ...],
    covariates: tuple[str, ...],
    adjustment: str = "cuped",
) -> None:
    """A ratio covariate names two new, distinct columns, and comes alone and with CUPED."""
    if numerator is None and denominator is None:
        return
    if numerator is None or denominator is None:
        missing = "covariate_numerator" if numerator is None else "covariate_denominator"
        raise InputError(
            f"{missing} is missing; a ratio covariate needs both covariate_numerator and "
            "covariate_denominator"
        )
    check_name("covariate_numerator", numerator)
    check_name("covariate_denominator", denominator)
    if numerator == denominator:
        raise InputError("covariate_numerator and covariate_denominator are the same column")
    for key, column in (("covariate_numerator", numerator), ("covariate_denominator", denominator)):
        if column in outcome:
            raise InputError(f"{key} is {column!r}, which is a column of the metric itself")
    if covariates:
        raise InputError(
            "give covariates or a ratio covariate (covariate_numerator, covariate_denominator), "
            "not both: CUPED takes one covariate"
        )
    if adjustment != "cuped":
        raise InputError(
            f"adjustment == {adjustment!r} with a ratio covariate; a ratio covariate is "
            "adjusted by CUPED: use adjustment='cuped' (or plain covariates for regression)"
        )


def _check_covariates(
    covariates: tuple[str, ...],
    adjustment: str,
    outcome: tuple[str, ...],
    vcov: str = "classical",
    reference: str = "normal",
) -> None:
    check_choice("adjustment", adjustment, ADJUSTMENTS)
    check_choice("vcov", vcov, VCOV_TYPES)
    check_choice("reference", reference, REFERENCE_DISTRIBUTIONS)
    for x in covariates:
        check_name("covariates", x)
        if x in outcome:
            raise InputError(f"covariates has {x!r}, which is the metric's own column")
    if adjustment == "cuped" and len(covariates) > 1:
        raise InputError(
            f"covariates has {len(covariates)} columns; CUPED takes one: use "
            "adjustment='regression' or 'common-slope' for several"
        )
    if vcov != "classical" and (not covariates or adjustment == "cuped"):
        raise InputError(
            f"vcov == {vcov!r} applies to adjustment='regression' or 'common-slope' with "
            "covariates; drop vcov, or choose one of those adjustments"
        )
    if reference != "normal" and not covariates:
        raise InputError(
            f"reference == {reference!r} applies to covariate-adjusted comparisons; give "
            "covariates, or drop reference (an unadjusted mean takes test='welch')"
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


def _outcome(metric: Mean | Proportion | Ratio) -> dict[str, str]:
    if isinstance(metric, Ratio):
        return {"numerator": metric.numerator, "denominator": metric.denominator}
    return {"column": metric.column}


def design_of(
    metric: Mean | Proportion | Ratio, control: Moments, treatment: Moments
) -> SandwichDesign | None:
    """The rows' sandwich design of a metric with an HC ``vcov``, else None (nothing to sum)."""
    if metric.vcov == "classical" or metric.adjustment == "cuped" or not metric.covariates:
        return None
    if isinstance(metric, Ratio) and metric.ratio_covariate is not None:
        return None
    return sandwich_design(
        control,
        treatment,
        metric.covariates,
        adjustment="regression" if metric.adjustment == "regression" else "common-slope",
        **_outcome(metric),
    )


def _adjusted(
    metric: Mean | Proportion | Ratio,
    control: Moments,
    treatment: Moments,
    confidence_level: float,
    outcome: dict[str, str],
    hc_shares: HCShares | None = None,
) -> TestResult:
    options: dict[str, Any] = {
        "column": outcome.get("column"),
        "numerator": outcome.get("numerator"),
        "denominator": outcome.get("denominator"),
        "alternative": metric.alternative,
        "confidence_level": confidence_level,
        "margin": metric.margin,
        "margin_type": metric.margin_type,
        "relative_method": metric.relative_method,
        "reference": metric.reference,
    }
    if metric.adjustment == "cuped":
        return cuped_test(control, treatment, metric.covariates[0], **options)
    function = regression_adjusted_test if metric.adjustment == "regression" else common_slope_test
    return function(
        control, treatment, metric.covariates, vcov=metric.vcov, hc_shares=hc_shares, **options
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
        relative_method: "delta-log" (default), "delta" or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns to reduce variance with (empty: no adjustment).
        adjustment: "cuped" (one covariate, pooled slope), "regression" (Lin 2013, any
            number of covariates, slopes per arm) or "common-slope" (ANCOVA, R's
            ``lm(y ~ treated + x)``); the test is then a z test unless ``reference="t"``.
        vcov: Variance of a "regression" or "common-slope" effect: "classical" (default,
            lm's) or "HC0" to "HC3" (``sandwich::vcovHC``: exact when `ablens.analyze` is
            given the table, the arm-level approximation from moments alone).
        reference: "normal" (default) or "t" (small samples) for an adjusted test.

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
        totals=True,
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
    vcov: VcovType = "classical"
    reference: ReferenceDistribution = "normal"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, MEAN_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(
            self.covariates, self.adjustment, (self.column,), self.vcov, self.reference
        )

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
        self,
        control: Moments,
        treatment: Moments,
        *,
        confidence_level: float,
        hc_shares: HCShares | None = None,
    ) -> TestResult:
        """Welch (or Student, or z) comparison of the means, covariate-adjusted if asked.

        ``hc_shares``, the rows' sandwich sums for the design `design_of` gives, make an HC
        ``vcov`` exact (`ablens.analyze` computes them from a table).
        """
        if self.covariates:
            return _adjusted(
                self, control, treatment, confidence_level, {"column": self.column}, hc_shares
            )
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
        test: "z" (default; pooled standard error in the statistic), "z-unpooled" (Wald),
            "chi2", "chi2-yates" or "fisher" (the result also carries the conditional MLE
            odds ratio and its exact interval).
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect; only the "z" and "z-unpooled" tests take one.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default), "delta" or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns to reduce variance with (empty: no adjustment).
        adjustment: "cuped", "regression" or "common-slope", as for `Mean`; the test is then
            a z test on the adjusted proportions unless ``reference="t"``.
        vcov: As for `Mean`.
        reference: As for `Mean`.

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
        totals=True,
        test_titles={
            "z": "two-proportion z test",
            "z-unpooled": "two-proportion z test, unpooled (Wald) standard error",
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
    vcov: VcovType = "classical"
    reference: ReferenceDistribution = "normal"

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", self.column)
        check_common(self.name, self.role, self.direction)
        check_choice("test", self.test, PROPORTION_TESTS)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(
            self.covariates, self.adjustment, (self.column,), self.vcov, self.reference
        )

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
        elif self.test == "z-unpooled":
            notes = (
                (
                    "power is that of the pooled z test; the unpooled (Wald) statistic differs "
                    "from it only when the arms' sizes or rates are far apart"
                ),
            )
        sd = math.sqrt(value * (1.0 - value))
        return PlanningBaseline("proportion", value, sd, {self.column: 1.0}, notes)

    def compare(
        self,
        control: Moments,
        treatment: Moments,
        *,
        confidence_level: float,
        hc_shares: HCShares | None = None,
    ) -> TestResult:
        """Two-proportion comparison from the success counts, covariate-adjusted if asked.

        ``hc_shares``, the rows' sandwich sums for the design `design_of` gives, make an HC
        ``vcov`` exact (`ablens.analyze` computes them from a table).
        """
        # Counting the successes also checks the column is 0/1, adjusted or not.
        successes_control = binary_successes(control, self.column)
        successes_treatment = binary_successes(treatment, self.column)
        if self.covariates:
            return _adjusted(
                self, control, treatment, confidence_level, {"column": self.column}, hc_shares
            )
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
        relative_method: "delta-log" (default), "delta" or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: Pre-period columns for variance reduction of the linearized ratio.
        adjustment: "cuped", "regression" or "common-slope", as for `Mean`.
        vcov: As for `Mean`.
        reference: "normal" (default) or "t". Without covariates, "t" refers the delta-method
            statistic to Student's t with the Welch-Satterthwaite degrees of freedom of the
            linearized per-unit values (prefer it below
            `ablens.stats.small_samples.MIN_UNITS_PER_ARM` units per arm); with covariates, as
            for `Mean`.
        covariate_numerator: Numerator column of a pre-period *ratio* covariate (e.g. the
            pre-period's revenue, for revenue per session); with ``covariate_denominator``
            the ratio is linearized like the metric and adjusts it by CUPED (`cuped_ratio_test`).
            Not combined with ``covariates``.
        covariate_denominator: Denominator column of the ratio covariate (pre-period sessions).

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
            *_RATIO_COVARIATE_KEYS,
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
    covariate_numerator: str | None = None
    covariate_denominator: str | None = None
    vcov: VcovType = "classical"
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
        _check_covariates(
            self.covariates,
            self.adjustment,
            (self.numerator, self.denominator),
            self.vcov,
            # Without covariates the reference is the delta method's own (ratio_test).
            self.reference if self.covariates or self.ratio_covariate else "normal",
        )
        check_ratio_covariate(
            self.covariate_numerator,
            self.covariate_denominator,
            outcome=(self.numerator, self.denominator),
            covariates=self.covariates,
            adjustment=self.adjustment,
        )

    @property
    def ratio_covariate(self) -> tuple[str, str] | None:
        """``(covariate_numerator, covariate_denominator)``, or None without a ratio covariate."""
        return ratio_covariate_of(self.covariate_numerator, self.covariate_denominator)

    def required_columns(self) -> tuple[str, ...]:
        """Numerator, denominator and covariates (plain, or a ratio covariate's two columns)."""
        return (self.numerator, self.denominator, *self.covariates, *(self.ratio_covariate or ()))

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Numerator x denominator, and both with each covariate (and a ratio covariate's pair)."""
        return (
            (self.numerator, self.denominator),
            *_covariate_pairs(
                (self.numerator, self.denominator),
                (*self.covariates, *(self.ratio_covariate or ())),
            ),
        )

    def planning_baseline(self, moments: Moments) -> PlanningBaseline:
        """The ratio of sums and the sd of its linearization in past moments."""
        ratio, variance = ratio_estimate(moments, self.numerator, self.denominator)
        mean_d = moments.mean_of(self.denominator)
        weights = {self.numerator: 1.0 / mean_d, self.denominator: -ratio / mean_d}
        return PlanningBaseline("mean", ratio, math.sqrt(variance * moments.count), weights)

    def compare(
        self,
        control: Moments,
        treatment: Moments,
        *,
        confidence_level: float,
        hc_shares: HCShares | None = None,
    ) -> TestResult:
        """Delta-method comparison of the ratios, covariate-adjusted if asked.

        ``hc_shares``, the rows' sandwich sums for the design `design_of` gives, make an HC
        ``vcov`` exact (`ablens.analyze` computes them from a table).
        """
        if self.ratio_covariate is not None:
            return cuped_ratio_test(
                control,
                treatment,
                self.numerator,
                self.denominator,
                *self.ratio_covariate,
                alternative=self.alternative,
                confidence_level=confidence_level,
                margin=self.margin,
                margin_type=self.margin_type,
                relative_method=self.relative_method,
            )
        if self.covariates:
            outcome = {"numerator": self.numerator, "denominator": self.denominator}
            return _adjusted(self, control, treatment, confidence_level, outcome, hc_shares)
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
