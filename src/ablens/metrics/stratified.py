"""The post-stratified mean: a mean compared within the strata of a pre-assignment column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ablens._validation import check_choice, check_name
from ablens.errors import InputError
from ablens.metrics.base import MetricKind, PlanKey, check_common, register_metric_kind
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
from ablens.stats.stratified import post_stratified_test

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.stats._inference import Alternative
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult
    from ablens.typing import Direction, Role

__all__ = ["PostStratified"]


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
        ),
        needs="strata",
        looks=False,
        no_looks="post-stratification needs per-stratum moments at each look",
        test_titles={"post-stratified": "post-stratified z test"},
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

    def __post_init__(self) -> None:
        check_name("column", self.column)
        check_name("stratum", self.stratum)
        if self.column == self.stratum:
            raise InputError("column and stratum are the same column")
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} | {self.stratum}")
        check_common(self.name, self.role, self.direction)
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
