"""Post-stratified metrics: a mean or a ratio compared within the strata of a pre-assignment column.

Both can also be CUPED-adjusted within each stratum by a pre-period covariate (a ratio also by a
pre-period ratio covariate), still from per-stratum moments computed in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ablens._validation import check_choice, check_name
from ablens.errors import InputError
from ablens.metrics.base import MetricKind, PlanKey, check_common, register_metric_kind
from ablens.metrics.moment import check_ratio_covariate, ratio_covariate_of
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ablens.stats._inference import Alternative
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult
    from ablens.typing import Direction, Role

__all__ = ["PostStratified", "PostStratifiedRatio"]

_TEST_TITLES = {
    "post-stratified": "post-stratified z test",
    "post-stratified-cuped": "post-stratified z test, CUPED within strata (slope per stratum)",
}
_COVARIATE_KEY = PlanKey(
    "covariates", "columns", description="One pre-period column for CUPED within strata."
)
_NO_LOOKS = "post-stratification needs per-stratum moments at each look"


def _as_tuple(covariates: str | Iterable[str]) -> tuple[str, ...]:
    """Covariates as a tuple; a single name given as a string is one covariate, not letters."""
    if isinstance(covariates, str):
        return (covariates,)
    return tuple(covariates)


def _check_covariates(covariates: tuple[str, ...], taken: tuple[str, ...]) -> None:
    """At most one covariate (CUPED within strata), not one of the metric's own columns."""
    for x in covariates:
        check_name("covariates", x)
        if x in taken:
            raise InputError(f"covariates has {x!r}, which is the metric's own or stratum column")
    if len(covariates) > 1:
        raise InputError(
            f"covariates has {len(covariates)} columns; post-stratification adjusts by one "
            "(CUPED within strata): keep the most predictive one"
        )


def _covariate_pairs(
    outcome: tuple[str, ...], covariate: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Cross-moments CUPED within strata needs: outcome x covariate, within the covariate."""
    pairs = [(y, x) for y in outcome for x in covariate]
    pairs += [(a, b) for i, a in enumerate(covariate) for b in covariate[i + 1 :]]
    return tuple(pairs)


def _no_overall_moments(name: str) -> InputError:
    return InputError(
        f"metric {name!r} needs per-stratum moments; pass the table itself to "
        "ablens.analyze (or call compare_strata)"
    )


@register_metric_kind
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
        relative_method: "delta-log" (default), "delta" or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: At most one pre-period column: CUPED within each stratum, with the
            stratum's own slope, before the strata are combined (test "post-stratified-cuped").

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

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="post-stratified",
        title="Post-stratified mean",
        plan_keys=(
            PlanKey("column", description="The metric column."),
            PlanKey("stratum", description="Categorical pre-assignment column (the strata)."),
            _COVARIATE_KEY,
        ),
        needs="strata",
        looks=False,
        no_looks=_NO_LOOKS,
        totals=True,
        test_titles=_TEST_TITLES,
    )

    column: str
    stratum: str
    name: str = ""
    alternative: Alternative = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_name("column", self.column)
        check_name("stratum", self.stratum)
        if self.column == self.stratum:
            raise InputError("column and stratum are the same column")
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} | {self.stratum}")
        check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        _check_covariates(self.covariates, (self.column, self.stratum))

    def required_columns(self) -> tuple[str, ...]:
        """The metric column and the covariate, if any (per stratum)."""
        return (self.column, *self.covariates)

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """The metric column with the covariate, if any."""
        return _covariate_pairs((self.column,), self.covariates)

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Not available from overall moments: post-stratification needs them per stratum."""
        raise _no_overall_moments(self.name)

    def compare_strata(
        self,
        control: Mapping[Any, Moments],
        treatment: Mapping[Any, Moments],
        *,
        confidence_level: float,
    ) -> TestResult:
        """Post-stratified comparison from stratum -> moments of each arm."""
        from ablens.stats.stratified import post_stratified_test  # noqa: PLC0415 - on use

        return post_stratified_test(
            control,
            treatment,
            self.column,
            covariate=self.covariates[0] if self.covariates else None,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )


@register_metric_kind
@dataclass(frozen=True)
class PostStratifiedRatio:
    """A ratio of per-unit sums, post-stratified on a categorical pre-assignment column.

    The arm's ratio is the ratio of its post-stratified numerator and denominator means (the
    combined ratio estimator), with the delta-method variance; see
    `ablens.stats.post_stratified_test`.

    Args:
        numerator: Per-unit numerator column.
        denominator: Per-unit denominator column.
        stratum: Categorical column defining the strata.
        name: Label in results; defaults to "numerator / denominator | stratum".
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect.
        margin_type: "absolute" or "relative".
        relative_method: "delta-log" (default) or "fieller".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        covariates: At most one pre-period column for CUPED within strata.
        covariate_numerator: Numerator column of a pre-period ratio covariate, instead of
            ``covariates`` (CUPED within strata of the linearized ratio).
        covariate_denominator: Denominator column of the ratio covariate.

    Examples:
        >>> import polars as pl
        >>> import ablens
        >>> table = pl.DataFrame(
        ...     {
        ...         "variant": ["c", "c", "c", "t", "t", "t"] * 2,
        ...         "platform": ["ios"] * 6 + ["web"] * 6,
        ...         "orders": [1.0, 0, 2, 2, 1, 2, 0, 1, 0, 1, 1, 0],
        ...         "sessions": [2.0, 1, 3, 2, 2, 3, 1, 2, 1, 1, 2, 2],
        ...     }
        ... )
        >>> metric = PostStratifiedRatio("orders", "sessions", "platform")
        >>> r = ablens.analyze(table, [metric], control="c").comparisons[0].result
        >>> r.test, round(r.control_estimate, 4), round(r.treatment_estimate, 4)
        ('post-stratified', 0.4, 0.5833)
    """

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="post-stratified-ratio",
        title="Post-stratified ratio",
        plan_keys=(
            PlanKey("numerator", description="Per-unit numerator column."),
            PlanKey("denominator", description="Per-unit denominator column."),
            PlanKey("stratum", description="Categorical pre-assignment column (the strata)."),
            _COVARIATE_KEY,
            PlanKey(
                "covariate_numerator",
                description="Numerator column of a pre-period ratio covariate (CUPED).",
            ),
            PlanKey(
                "covariate_denominator", description="Denominator column of the ratio covariate."
            ),
        ),
        needs="strata",
        looks=False,
        no_looks=_NO_LOOKS,
        test_titles=_TEST_TITLES,
    )

    numerator: str
    denominator: str
    stratum: str
    name: str = ""
    alternative: Alternative = "two-sided"
    margin: float = 0.0
    margin_type: MarginType = "absolute"
    relative_method: RelativeMethod = "delta-log"
    role: Role = "primary"
    direction: Direction = "increase"
    covariates: tuple[str, ...] = ()
    covariate_numerator: str | None = None
    covariate_denominator: str | None = None

    def __post_init__(self) -> None:
        check_name("numerator", self.numerator)
        check_name("denominator", self.denominator)
        check_name("stratum", self.stratum)
        if self.numerator == self.denominator:
            raise InputError("numerator and denominator are the same column")
        if self.stratum in (self.numerator, self.denominator):
            raise InputError(f"stratum is {self.stratum!r}, which is a column of the ratio")
        if not self.name:
            object.__setattr__(
                self, "name", f"{self.numerator} / {self.denominator} | {self.stratum}"
            )
        check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)
        object.__setattr__(self, "covariates", _as_tuple(self.covariates))
        outcome = (self.numerator, self.denominator)
        _check_covariates(self.covariates, (*outcome, self.stratum))
        check_ratio_covariate(
            self.covariate_numerator,
            self.covariate_denominator,
            outcome=(*outcome, self.stratum),
            covariates=self.covariates,
        )

    @property
    def ratio_covariate(self) -> tuple[str, str] | None:
        """``(covariate_numerator, covariate_denominator)``, or None without a ratio covariate."""
        return ratio_covariate_of(self.covariate_numerator, self.covariate_denominator)

    def _covariate(self) -> tuple[str, ...]:
        return (*self.covariates, *(self.ratio_covariate or ()))

    def required_columns(self) -> tuple[str, ...]:
        """Numerator, denominator and the covariate's column(s) (per stratum)."""
        return (self.numerator, self.denominator, *self._covariate())

    def required_pairs(self) -> tuple[tuple[str, str], ...]:
        """Numerator x denominator, and both with the covariate's column(s)."""
        return (
            (self.numerator, self.denominator),
            *_covariate_pairs((self.numerator, self.denominator), self._covariate()),
        )

    def compare(
        self, control: Moments, treatment: Moments, *, confidence_level: float
    ) -> TestResult:
        """Not available from overall moments: post-stratification needs them per stratum."""
        raise _no_overall_moments(self.name)

    def compare_strata(
        self,
        control: Mapping[Any, Moments],
        treatment: Mapping[Any, Moments],
        *,
        confidence_level: float,
    ) -> TestResult:
        """Post-stratified comparison of the ratio from stratum -> moments of each arm."""
        ratio_covariate = self.ratio_covariate
        from ablens.stats.stratified import post_stratified_test  # noqa: PLC0415 - on use

        return post_stratified_test(
            control,
            treatment,
            numerator=self.numerator,
            denominator=self.denominator,
            covariate=self.covariates[0] if self.covariates else None,
            covariate_numerator=ratio_covariate[0] if ratio_covariate else None,
            covariate_denominator=ratio_covariate[1] if ratio_covariate else None,
            alternative=self.alternative,
            confidence_level=confidence_level,
            margin=self.margin,
            margin_type=self.margin_type,
            relative_method=self.relative_method,
        )
