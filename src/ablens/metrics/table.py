"""Table metrics: quantiles and the Mann-Whitney test, computed from the table in the engine.

They need more than moments (order statistics, ranks), so each runs its own engine query per
comparison (`ablens.data.compute_quantile_summaries`, `ablens.data.compute_rank_summary`): pass
the table, not precomputed moments, to `ablens.analyze`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ablens._validation import check_choice, check_name, check_open_unit_interval
from ablens.errors import InputError
from ablens.metrics.base import (
    MetricKind,
    PlanKey,
    TableContext,
    check_common,
    register_metric_kind,
)
from ablens.stats._inference import check_alternative
from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
from ablens.stats.result import TestResult

if TYPE_CHECKING:
    from ablens.stats._inference import Alternative
    from ablens.stats.moments import Moments
    from ablens.stats.nonparametric import ExactOption
    from ablens.stats.result import MarginType
    from ablens.typing import Direction, Role

__all__ = ["MannWhitney", "Quantile"]


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


@register_metric_kind
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
        relative_method: "delta-log" (default), "delta" or "fieller".
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

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="quantile",
        title="Quantile",
        plan_keys=(
            PlanKey("column", description="The per-unit column."),
            PlanKey("probability", "probability", description="The quantile, in (0, 1)."),
        ),
        needs="table",
        looks=False,
        no_looks="a quantile needs the table itself, not moments, at each look",
        posterior=None,
        no_posterior=(
            "a quantile difference comes from order statistics, not from per-arm moments, so "
            "no conjugate model applies"
        ),
        test_titles={
            "quantile": "difference of quantiles, standard errors from order-statistic brackets",
            "quantile-bootstrap": "bootstrap of the difference of quantiles",
        },
    )

    column: str
    probability: float
    name: str = ""
    alternative: Alternative = "two-sided"
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
        check_common(self.name, self.role, self.direction)
        check_choice("relative_method", self.relative_method, RELATIVE_METHODS)

    def compare_table(self, context: TableContext, *, confidence_level: float) -> TestResult:
        """Quantile comparison from per-arm quantile summaries computed in the engine."""
        # The quantile code loads on first use: `import ablens` stays light.
        from ablens.data.quantiles import compute_quantile_summaries  # noqa: PLC0415
        from ablens.stats.quantiles import quantile_test  # noqa: PLC0415

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
    "arm values are the probability that a treatment unit exceeds a control unit (ties count "
    "half; control is 0.5 by definition); the effect is the Hodges-Lehmann shift, the median "
    "of every treatment - control difference, in the column's units"
)


@register_metric_kind
@dataclass(frozen=True)
class MannWhitney(_TableMetric):
    """Mann-Whitney U (Wilcoxon rank-sum) test of a per-unit column, ranks in the engine.

    Three numbers per comparison, as R's ``wilcox.test(treatment, control, conf.int = TRUE)``
    gives them:

    - the arm values: the probability of superiority ``P(T > C) + P(T = C) / 2`` of a random
      treatment unit over a random control unit (control shows 0.5, its value under the null);
    - the effect: the Hodges-Lehmann shift, the median of the ``n_t n_c`` differences
      ``t - c`` (treatment minus control, in the column's units), with its confidence interval
      (`ablens.stats.nonparametric.hodges_lehmann`);
    - the p-value: from the exact distribution of ``U`` when both arms have fewer than 50 units
      and no ties (``exact="auto"``, R's rule), else from the normal approximation with the tie
      and continuity corrections.

    The shift needs the values, which the engine returns as distinct values with counts; when
    the two arms hold more than `ablens.data.ranks.MAX_SHIFT_VALUES` distinct values the
    effect and its interval are not computed (NaN, with a note saying how to get them).

    Args:
        column: The column to rank.
        name: Label in results; defaults to "column (rank)".
        alternative: "two-sided", "greater" or "less".
        role: "primary", "secondary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        exact: True (exact distribution, for at most
            `ablens.stats.nonparametric.EXACT_MAX_PAIRS` pairs), False (normal approximation)
            or "auto" (R's rule, the default).
        continuity: Continuity correction of the normal approximation (default True, as R).

    Examples:
        >>> import polars as pl, ablens
        >>> table = pl.DataFrame(
        ...     {"variant": ["c"] * 5 + ["t"] * 5, "x": [1.0, 2, 3, 4, 5, 3.5, 4.5, 5.5, 6, 7]}
        ... )
        >>> r = ablens.analyze(table, [MannWhitney("x")], control="c").comparisons[0].result
        >>> r.test, r.treatment_estimate, round(r.p_value, 4)
        ('mann-whitney-exact', 0.88, 0.0556)
        >>> r.effect, r.effect_ci
        (2.5, (-0.5, 5.0))
    """

    metric_kind: ClassVar[MetricKind] = MetricKind(
        name="mann-whitney",
        title="Mann-Whitney",
        plan_keys=(
            PlanKey("column", description="The column to rank."),
            PlanKey(
                "exact",
                "boolean-or-choice",
                ("auto",),
                description=(
                    "p-value from the exact distribution of U (true), the normal approximation "
                    "(false), or R's rule (auto: exact below 50 units per arm without ties)."
                ),
            ),
            PlanKey(
                "continuity",
                "boolean",
                description="Continuity correction of the normal approximation (R's correct).",
            ),
        ),
        needs="table",
        looks=False,
        no_looks="a rank test needs the table itself, not moments, at each look",
        posterior=None,
        no_posterior=(
            "the rank test compares whole distributions; it has no effect on the metric's "
            "scale to put a posterior on"
        ),
        test_titles={
            "mann-whitney": (
                "Mann-Whitney U test (normal approximation, tie and continuity corrected) "
                "with the Hodges-Lehmann shift"
            ),
            "mann-whitney-exact": (
                "Mann-Whitney U test (exact distribution of U) with the Hodges-Lehmann shift"
            ),
        },
    )

    column: str
    name: str = ""
    alternative: Alternative = "two-sided"
    role: Role = "secondary"
    direction: Direction = "increase"
    exact: ExactOption = "auto"
    continuity: bool = True

    def __post_init__(self) -> None:
        check_name("column", self.column)
        if not self.name:
            object.__setattr__(self, "name", f"{self.column} (rank)")
        check_common(self.name, self.role, self.direction)
        check_alternative(self.alternative)
        # The rank code loads on first use: `import ablens` stays light.
        from ablens.stats.nonparametric import RankSummary, mann_whitney_test  # noqa: PLC0415

        # The same checks the tests make, at construction: a bad option fails early.
        mann_whitney_test(
            RankSummary(n_control=1, n_treatment=1, rank_sum_treatment=1.5),
            exact=False if self.exact is True else self.exact,
            continuity=self.continuity,
        )

    def compare_table(self, context: TableContext, *, confidence_level: float) -> TestResult:
        """Mann-Whitney test from rank sums, and the shift from value counts, in the engine."""
        from ablens.data.ranks import (  # noqa: PLC0415 - on first use
            MAX_SHIFT_VALUES,
            compute_rank_summary,
            compute_value_counts,
        )
        from ablens.stats.nonparametric import hodges_lehmann, mann_whitney_test  # noqa: PLC0415

        summary = compute_rank_summary(
            context.data,
            variant=context.variant,
            column=self.column,
            control=context.control,
            treatment=context.treatment,
            experiment_id=context.experiment_id,
            team=context.team,
        )
        test = mann_whitney_test(
            summary, alternative=self.alternative, exact=self.exact, continuity=self.continuity
        )
        notes = [_SUPERIORITY_NOTE, *test.notes]
        arms = compute_value_counts(
            context.data,
            variant=context.variant,
            column=self.column,
            control=context.control,
            treatment=context.treatment,
            max_values=MAX_SHIFT_VALUES,
            experiment_id=context.experiment_id,
            team=context.team,
        )
        if arms is None:
            effect = lower = upper = math.nan
            notes.append(
                f"no shift or interval: the arms hold more than {MAX_SHIFT_VALUES:,} distinct "
                "values, and the Hodges-Lehmann shift needs them all; round the column (e.g. "
                "to cents) or call ablens.hodges_lehmann on the arms' values"
            )
        else:
            shift = hodges_lehmann(
                arms[0],
                arms[1],
                alternative=self.alternative,
                confidence_level=confidence_level,
                exact=self.exact,
                continuity=self.continuity,
            )
            effect, lower, upper = shift.estimate, shift.ci_lower, shift.ci_upper
            notes.extend(n for n in shift.notes if n not in notes)
            if lower == upper:
                notes.append(
                    f"the shift's interval is the single value {effect:g}: that many "
                    "treatment - control differences are tied there (e.g. zeros in both arms), "
                    "so the shift cannot resolve the effect; the probability of superiority "
                    "and the p-value still do"
                )
        return TestResult(
            test="mann-whitney-exact" if test.method == "exact" else "mann-whitney",
            alternative=check_alternative(self.alternative),
            confidence_level=confidence_level,
            margin=0.0,
            margin_type="absolute",
            control_estimate=0.5,
            treatment_estimate=test.probability_of_superiority,
            effect=effect,
            effect_ci_lower=lower,
            effect_ci_upper=upper,
            standard_error=math.nan,
            relative_effect=math.nan,
            relative_ci_lower=math.nan,
            relative_ci_upper=math.nan,
            relative_method="delta-log",
            statistic=test.z,
            df=None,
            p_value=test.p_value,
            notes=tuple(notes),
        )
