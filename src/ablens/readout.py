"""The readout of a plan: the analysis, its sequential looks, a Bayesian reading, the verdict.

`run_readout` is what ``ablens analyze``, ``ablens report`` and the web readout run. It opens the
plan's data source once and computes, where the data live:

1. the analysis (`ablens.analyze` through the plan's metrics and options, as `run_plan` does);
2. when the plan declares a sequential method (``sequential: group-sequential | msprt |
   confidence-sequence`` with ``time: <column>``), the looks of every primary metric and
   guardrail, one engine query each (`ablens.sequential.analyze_looks`), as `SequentialReading`
   objects;
3. when the plan asks for it (``bayesian: true``), the Bayesian reading of every comparison from
   the per-arm summaries already computed (no further query), as `BayesianReading` objects, and
   with three or more arms, the chance that each arm is the best, as `BestArmReading` objects;
4. the verdict (`ablens.decision.verdict`), which lets a crossed sequential boundary decide before
   the planned sample is in.

Every face renders the resulting `Readout`: ``str(readout)`` for a terminal, `Readout.to_dict` for
JSON, `ablens.report.render_readout` for the HTML page.

>>> import ablens
>>> def arm(units, converted):
...     return ablens.Moments.from_columns(
...         {"converted": [1] * converted + [0] * (units - converted)}
...     )
>>> data = {"control": arm(10_000, 1_000), "treatment": arm(10_000, 1_100)}
>>> result = ablens.analyze(data, [ablens.Proportion("converted")], control="control")
>>> (reading,) = bayesian_readout(result)  # the same as ablens.bayesian_proportion_test
>>> reading.model, round(reading.probability_better, 4), round(reading.expected_loss_ship, 6)
('beta-binomial', 0.9895, 1.6e-05)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ablens import render
from ablens._lazy import lazy_attributes
from ablens.analysis_plan.run import analyze_opened, open_plan_source, scan_plan
from ablens.data.checks import filter_exposure
from ablens.data.looks import TimeColumnError
from ablens.decision import Verdict, verdict
from ablens.decision_context import (
    DecisionContext,
    context_looks,
    decision_context,
    experiment_traffic,
)
from ablens.errors import AblensError, InputError
from ablens.metrics.base import kind_named
from ablens.typing import BAYESIAN_PRIORS, PROPORTION_TESTS, BayesianPrior

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping, Sequence

    from ablens.analysis_plan.model import AnalysisPlan
    from ablens.data.scan import ReadoutMoments
    from ablens.results import AnalysisResult, Comparison
    from ablens.sequential import LooksResult, SequentialReading
    from ablens.stats.bayesian import BayesianResult, BestArmResult, BetaBinomialResult

__all__ = [
    "BAYESIAN_PRIORS",
    "BayesianPrior",
    "BayesianReading",
    "BestArmReading",
    "Readout",
    "SequentialReading",
    "bayesian_readout",
    "best_arm_readout",
    "compose_readout",
    "describe_reads",
    "run_readout",
    "sequential_readout",
]

# The sequential readings (and their always-valid and group-sequential maths) load on first use.
__getattr__, __dir__ = lazy_attributes(__name__, {"SequentialReading": "ablens.sequential"})


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------------------- sequential
def _sequential_alpha(plan: AnalysisPlan, comparison: Comparison) -> float:
    if comparison.correction is None or comparison.family_size <= 1:
        return plan.alpha
    return plan.alpha / comparison.family_size


def sequential_readings(
    plan: AnalysisPlan,
    result: AnalysisResult,
    data: object,
    scanned: ReadoutMoments | None = None,
) -> tuple[SequentialReading, ...]:
    """The looks of every primary and guardrail comparison, one engine query each.

    With ``scanned`` (the readout's one scan, grouped by the plan's ``time``), no query runs:
    the cumulative moments of every look are merged from it.

    Args:
        plan: A plan with a sequential method and a ``time`` column.
        result: Its analysis (which comparisons exist, their families).
        data: The table, as `ablens.sequential.analyze_looks` takes it.
        scanned: The readout's one scan, or None.

    Returns:
        One reading per primary or guardrail comparison; a metric that cannot be read at each
        look (quantile, rank test, post-stratified) or whose looks fail gets a reading with a
        ``reason`` and no looks.

    Raises:
        TimeColumnError: The time column cannot order the looks (text, NULLs, more than
            366 values): bad data in a column the plan names, refused like a bad metric.
    """
    if plan.sequential == "none" or plan.time is None:
        return ()
    # The sequential readings load on first use: a fixed-horizon readout never needs them.
    from ablens.sequential import SequentialReading, analyze_looks, read_looks  # noqa: PLC0415

    time = plan.time
    specs = {spec.name: spec for spec in plan.metrics}
    readings = []
    for c in result.comparisons:
        if c.role not in ("primary", "guardrail"):
            continue
        alpha = _sequential_alpha(plan, c)

        def reading(
            looks: LooksResult | None = None,
            reason: str | None = None,
            c: Comparison = c,
            alpha: float = alpha,
        ) -> SequentialReading:
            return SequentialReading(
                metric=c.metric,
                treatment=c.treatment,
                role=c.role,
                direction=c.direction,
                method=plan.sequential,
                time=time,
                alpha=alpha,
                looks=looks,
                reason=reason,
            )

        kind = kind_named(c.kind)
        if not kind.looks:
            readings.append(reading(reason=kind.no_looks))
            continue
        options: dict[str, Any] = {
            "control": plan.control,
            "treatment": c.treatment,
            "method": plan.sequential,
            "alpha": alpha,
            "planned_units": plan.planned.sample_size,
            "spending": plan.spending,
        }
        try:
            metric = specs[c.metric].to_metric()
            if scanned is not None and scanned.time == time:
                looks = read_looks(scanned.cumulative(), metric, **options)
            else:
                looks = analyze_looks(
                    data,
                    metric,
                    variant=plan.variant,
                    time=time,
                    unit=plan.unit,
                    experiment_id=plan.experiment_id,
                    team=plan.team,
                    **options,
                )
        except TimeColumnError:
            raise  # the plan's time column is bad data: refused, as a bad metric column is
        except AblensError as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            readings.append(reading(reason=f"the looks failed: {first}"))
            continue
        readings.append(reading(looks))
    return tuple(readings)


def sequential_readout(
    plan: AnalysisPlan, result: AnalysisResult, *, data: object = None
) -> tuple[SequentialReading, ...]:
    """`sequential_readings` on the plan's own data source (or on ``data``).

    Returns an empty tuple when the plan declares no sequential method.
    """
    if plan.sequential == "none" or plan.time is None:
        return ()
    with open_plan_source(plan, data) as opened:
        return sequential_readings(plan, result, opened.table)


# ------------------------------------------------------------------------------- Bayesian
@dataclass(frozen=True)
class BayesianReading:
    """The Bayesian reading of one comparison: chance to beat control and expected loss.

    Attributes:
        metric: Metric name.
        treatment: Treatment arm.
        kind: Metric kind, as the comparison names it.
        direction: "increase" or "decrease": which way is good.
        prior: The prior's name ("flat").
        model: "beta-binomial" (a proportion: Beta(1, 1) on each arm's rate), "normal" (any
            other metric compared by a difference with a standard error: flat prior on the
            difference), or None when no posterior is defined.
        probability_better: Posterior probability that the treatment is better than control
            in the metric's good direction ("chance to beat control").
        expected_loss_ship: Expected loss of shipping the treatment, in the metric's units
            (rate units for proportions): what shipping costs on average if it is the wrong
            call.
        expected_loss_keep: Expected loss of keeping the control.
        credible_level: Probability of the credible interval.
        ci_lower: Lower end of the credible interval of the difference ``treatment - control``.
        ci_upper: Upper end of it.
        reason: Why no posterior is reported (None when one is).
        detail: The stats layer's result (`ablens.BetaBinomialResult` or
            `ablens.BayesianResult`), or None.
    """

    metric: str
    treatment: str
    kind: str
    direction: str
    prior: BayesianPrior = "flat"
    model: Literal["beta-binomial", "normal"] | None = None
    probability_better: float | None = None
    expected_loss_ship: float | None = None
    expected_loss_keep: float | None = None
    credible_level: float = 0.95
    ci_lower: float | None = None
    ci_upper: float | None = None
    reason: str | None = None
    detail: BetaBinomialResult | BayesianResult | None = None

    @property
    def prior_text(self) -> str:
        """The prior in words."""
        if self.model == "beta-binomial":
            return "Beta(1, 1) on each arm's rate"
        if self.model == "normal":
            return "flat on the difference"
        return "flat"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (no ``detail``; non-finite numbers as None)."""
        return {
            "metric": self.metric,
            "treatment": self.treatment,
            "kind": self.kind,
            "direction": self.direction,
            "prior": self.prior,
            "prior_text": self.prior_text,
            "model": self.model,
            "probability_better": _finite(self.probability_better),
            "expected_loss_ship": _finite(self.expected_loss_ship),
            "expected_loss_keep": _finite(self.expected_loss_keep),
            "credible_level": self.credible_level,
            "ci_lower": _finite(self.ci_lower),
            "ci_upper": _finite(self.ci_upper),
            "reason": self.reason,
        }

    def display_row(self) -> list[str]:
        """The reading as table cells (under `BAYESIAN_HEADERS`), as every face shows it."""
        if self.model is None:
            return [self.metric, self.treatment, "—", "—", "—", f"not defined: {self.reason}"]
        return [
            self.metric,
            self.treatment,
            format_chance(self.probability_better),
            self._loss(self.expected_loss_ship),
            self._loss(self.expected_loss_keep),
            f"{self.model}, {self.prior_text}",
        ]

    def _loss(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "—"
        return format_loss(value, rate=kind_named(self.kind).rate)


def format_loss(value: float, *, rate: bool) -> str:
    """An expected loss for people: 3 significant digits, in points for a rate, and no ``1e-34``.

    A loss under a thousandth of a point (rates) or under 1e-12 (means: nothing real is that
    small) is shown as a bound rather than as floating-point dust.

    Examples:
        >>> format_loss(0.00123, rate=True), format_loss(2.5e-34, rate=True)
        ('0.123pp', '<0.001pp')
        >>> (
        ...     format_loss(1.25, rate=False),
        ...     format_loss(2.5e-34, rate=False),
        ...     format_loss(0.0, rate=False),
        ... )
        ('1.25', '≈0', '0')
    """
    if rate:
        points = 100 * value
        if 0 < abs(points) < 0.001:
            return "<0.001pp"
        return render.format_number(points, 3) + "pp"
    if 0 < abs(value) < 1e-12:
        return "≈0"
    return render.format_number(value, 3)


def format_chance(value: float | None) -> str:
    """A probability for people: ``97.3%``, ``>99.9%``, ``<0.1%``; None and NaN as ``—``.

    Examples:
        >>> format_chance(0.97312), format_chance(0.99999), format_chance(0.0001)
        ('97.3%', '>99.9%', '<0.1%')
    """
    if value is None or math.isnan(value):
        return "—"
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return f"{100 * value:.1f}%"


BAYESIAN_HEADERS = (
    "metric",
    "arm",
    "chance to beat control",
    "expected loss if shipped",
    "expected loss if kept",
    "model",
)


def bayesian_table(readings: Sequence[BayesianReading]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the Bayesian table, as every face shows it."""
    return list(BAYESIAN_HEADERS), [r.display_row() for r in readings]


def _successes(estimate: float, count: int) -> int | None:
    """The success count behind a proportion ``estimate = x / count`` (None if not whole)."""
    x = round(estimate * count)
    return x if abs(estimate * count - x) < 1e-6 * max(1.0, float(count)) else None


def bayesian_readout(
    result: AnalysisResult, *, prior: BayesianPrior = "flat"
) -> tuple[BayesianReading, ...]:
    """Chance to beat control and expected loss of every comparison, from its summaries.

    No data are read: a proportion (tested by z, chi-square or Fisher) gets the Beta-binomial
    model from its arms' counts and rates (`ablens.bayesian_proportion_test`, Beta(1, 1) on each
    rate); any other comparison with a difference and a standard error (means, ratios, CUPED and
    regression-adjusted metrics, post-stratified ones) gets the normal model with a flat prior on
    the difference (`ablens.normal_posterior`). Quantiles and the Mann-Whitney test have no
    posterior here; their reading says why.

    Args:
        result: The analysis.
        prior: "flat" (the only prior a plan can name; informative priors are available from
            Python through `ablens.normal_posterior` and `ablens.bayesian_proportion_test`).

    Returns:
        One reading per comparison, in the result's order.

    Raises:
        InputError: An unknown prior.
    """
    from ablens.stats.bayesian import (  # noqa: PLC0415 - scipy, only when asked for
        bayesian_proportion_test,
        normal_posterior,
    )

    if prior not in BAYESIAN_PRIORS:
        raise InputError(
            f"prior == {prior!r}, must be one of {', '.join(map(repr, BAYESIAN_PRIORS))}"
        )
    credible_level = 1.0 - result.alpha
    readings = []
    for c in result.comparisons:
        common: dict[str, Any] = {
            "metric": c.metric,
            "treatment": c.treatment,
            "kind": c.kind,
            "direction": c.direction,
            "prior": prior,
            "credible_level": credible_level,
        }
        kind = kind_named(c.kind)
        if kind.posterior is None:
            readings.append(BayesianReading(**common, reason=kind.no_posterior))
            continue
        r = c.result
        direction: Literal["increase", "decrease"] = (
            "decrease" if c.direction == "decrease" else "increase"
        )
        detail: BetaBinomialResult | BayesianResult
        successes = _all_successes((c,))
        try:
            if successes is not None:
                x_c, x_t = successes
                detail = bayesian_proportion_test(
                    x_c,
                    c.control_count,
                    x_t,
                    c.treatment_count,
                    credible_level=credible_level,
                    direction=direction,
                )
                model: Literal["beta-binomial", "normal"] = "beta-binomial"
            else:
                detail = normal_posterior(
                    r.effect,
                    r.standard_error,
                    credible_level=credible_level,
                    direction=direction,
                )
                model = "normal"
        except AblensError as error:
            readings.append(BayesianReading(**common, reason=f"no posterior: {error}"))
            continue
        readings.append(
            BayesianReading(
                **common,
                model=model,
                probability_better=detail.probability_better,
                expected_loss_ship=detail.expected_loss_ship,
                expected_loss_keep=detail.expected_loss_keep,
                ci_lower=detail.ci_lower,
                ci_upper=detail.ci_upper,
                detail=detail,
            )
        )
    return tuple(readings)


# ------------------------------------------------------------------------------- k arms
@dataclass(frozen=True)
class BestArmReading:
    """Which of three or more arms is best for one metric: the Bayesian chance and loss per arm.

    Attributes:
        metric: Metric name.
        kind: Metric kind, as the comparisons name it.
        direction: "increase" or "decrease": which way is good.
        arms: The arms, control first.
        model: "beta-binomial" (a proportion: Beta(1, 1) on each arm's rate), "normal" (each
            arm's estimate with its standard error, flat prior), or None when no joint
            posterior is defined.
        probability_best: Posterior probability that each arm is the best (sums to 1).
        expected_loss: Expected loss of shipping each arm, in the metric's units (rate units
            for proportions): how far, on average, it falls short of the best arm.
        reason: Why no posterior is reported (None when one is).
        detail: The stats layer's `ablens.BestArmResult`, or None.
    """

    metric: str
    kind: str
    direction: str
    arms: tuple[str, ...]
    model: Literal["beta-binomial", "normal"] | None = None
    probability_best: tuple[float, ...] = ()
    expected_loss: tuple[float, ...] = ()
    reason: str | None = None
    detail: BestArmResult | None = None

    @property
    def best(self) -> str | None:
        """The arm most likely to be best (None without a posterior)."""
        if not self.probability_best:
            return None
        return self.arms[max(range(len(self.arms)), key=self.probability_best.__getitem__)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (no ``detail``)."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "direction": self.direction,
            "arms": list(self.arms),
            "model": self.model,
            "probability_best": list(self.probability_best),
            "expected_loss": list(self.expected_loss),
            "best": self.best,
            "reason": self.reason,
        }

    def display_rows(self) -> list[list[str]]:
        """One row per arm: metric, arm, chance to be best, expected loss if shipped.

        Empty without a posterior (see `missing_line`).
        """
        if self.model is None:
            return []
        rows = []
        for arm, chance, loss in zip(
            self.arms, self.probability_best, self.expected_loss, strict=True
        ):
            mark = " (best)" if arm == self.best else ""
            rows.append([self.metric, f"{arm}{mark}", format_chance(chance), self._loss(loss)])
        return rows

    def missing_line(self) -> str | None:
        """``metric: not defined: why`` without a posterior, else None."""
        return None if self.model is not None else f"{self.metric}: not defined: {self.reason}"

    def _loss(self, value: float) -> str:
        return format_loss(value, rate=kind_named(self.kind).rate)


BEST_ARM_HEADERS = ("metric", "arm", "chance to be best", "expected loss if shipped")


def best_arm_table(readings: Sequence[BestArmReading]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the best-arm table, as every face shows it."""
    return list(BEST_ARM_HEADERS), [row for r in readings for row in r.display_rows()]


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def best_arm_readout(result: AnalysisResult) -> tuple[BestArmReading, ...]:
    """The chance that each arm is best, per metric compared over three or more arms.

    No data are read. A proportion (z, chi-square or Fisher) gets the Beta-binomial model from
    every arm's count and rate (`ablens.beta_best_arm`, Beta(1, 1) on each rate). Any other
    metric gets independent normal posteriors, each arm's estimate with its standard error and
    a flat prior (`ablens.normal_best_arm`), when the comparisons share the control's estimate
    and variance. They do not with covariates or strata: CUPED, regression adjustment and
    post-stratification fit each treatment's pair on its own, so those metrics (and quantiles,
    rank tests) get a reason instead.

    Args:
        result: The analysis.

    Returns:
        One reading per metric with at least two treatment arms, in the result's order.

    Examples:
        >>> import ablens
        >>> def arm(units, converted):
        ...     return ablens.Moments.from_columns(
        ...         {"converted": [1] * converted + [0] * (units - converted)}
        ...     )
        >>> data = {"control": arm(5_000, 500), "b": arm(5_000, 540), "c": arm(5_000, 560)}
        >>> result = ablens.analyze(data, [ablens.Proportion("converted")], control="control")
        >>> (reading,) = best_arm_readout(result)  # the same as ablens.beta_best_arm
        >>> reading.best, [round(p, 3) for p in reading.probability_best]
        ('c', [0.011, 0.257, 0.731])
    """
    from ablens.stats.bayesian import (  # noqa: PLC0415 - scipy, only when asked for
        beta_best_arm,
        normal_best_arm,
    )

    groups: dict[str, list[Comparison]] = {}
    for c in result.comparisons:
        groups.setdefault(c.metric, []).append(c)
    readings = []
    for metric, comparisons in groups.items():
        if len(comparisons) < 2:
            continue
        first = comparisons[0]
        common: dict[str, Any] = {
            "metric": metric,
            "kind": first.kind,
            "direction": first.direction,
            "arms": (first.control, *(c.treatment for c in comparisons)),
        }
        direction: Literal["increase", "decrease"] = (
            "decrease" if first.direction == "decrease" else "increase"
        )
        kind = kind_named(first.kind)
        if kind.posterior is None:
            readings.append(BestArmReading(**common, reason=kind.no_posterior))
            continue
        try:
            successes = _all_successes(comparisons)
            if successes is not None:
                counts = [first.control_count, *(c.treatment_count for c in comparisons)]
                detail = beta_best_arm(
                    dict(zip(common["arms"], successes, strict=True)),
                    dict(zip(common["arms"], counts, strict=True)),
                    direction=direction,
                )
                model: Literal["beta-binomial", "normal"] = "beta-binomial"
            else:
                levels = _arm_levels(comparisons)
                if levels is None:
                    readings.append(BestArmReading(**common, reason=_NO_JOINT_POSTERIOR))
                    continue
                means, errors = levels
                detail = normal_best_arm(
                    dict(zip(common["arms"], means, strict=True)),
                    dict(zip(common["arms"], errors, strict=True)),
                    direction=direction,
                )
                model = "normal"
        except AblensError as error:
            readings.append(BestArmReading(**common, reason=f"no posterior: {error}"))
            continue
        readings.append(
            BestArmReading(
                **common,
                model=model,
                probability_best=detail.probability_best,
                expected_loss=detail.expected_loss,
                detail=detail,
            )
        )
    return tuple(readings)


_NO_JOINT_POSTERIOR = (
    "the comparisons do not share one control estimate (covariate adjustment and "
    "post-stratification fit each treatment's pair on its own), so the arms have no joint "
    "posterior"
)


def _all_successes(comparisons: Sequence[Comparison]) -> list[int] | None:
    """Every arm's success count (control first) when all are proportion tests, else None."""
    first = comparisons[0]
    if kind_named(first.kind).posterior != "beta-binomial":
        return None
    counts = [_successes(first.result.control_estimate, first.control_count)]
    for c in comparisons:
        if c.result.test not in PROPORTION_TESTS:
            return None
        counts.append(_successes(c.result.treatment_estimate, c.treatment_count))
    return None if any(x is None for x in counts) else [x for x in counts if x is not None]


def _arm_levels(comparisons: Sequence[Comparison]) -> tuple[list[float], list[float]] | None:
    """Each arm's estimate and standard error (control first), when the comparisons agree."""
    first = comparisons[0].result
    means, errors = [first.control_estimate], []
    for c in comparisons:
        r = c.result
        if r.control_variance is None or r.treatment_variance is None:
            return None
        if not (
            _same(r.control_estimate, first.control_estimate)
            and _same(r.control_variance, first.control_variance)
        ):
            return None
        means.append(r.treatment_estimate)
        errors.append(math.sqrt(r.treatment_variance))
    assert first.control_variance is not None  # noqa: S101 - checked in the loop
    return means, [math.sqrt(first.control_variance), *errors]


# ------------------------------------------------------------------------------- the readout
@dataclass(frozen=True)
class Readout:
    """Everything a plan's readout shows: the analysis, looks, Bayesian reading and verdict.

    Attributes:
        plan: The plan, or None for an analysis read without one (`compose_readout`).
        result: The analysis.
        verdict: The decision and health gates.
        sequential: The sequential readings (empty without a sequential method).
        bayesian: The Bayesian readings (empty unless the plan asks for them).
        best_arm: With three or more arms, the chance that each arm is best per metric (empty
            unless the plan asks for the Bayesian reading).
        context: Dates, traffic, and per primary metric the chance to beat control, the
            projected impact a month, the lift over time and, to keep running, the days still
            needed (`ablens.decision_context`); None when not composed.
        reads: How the table was read, one sentence per query kind (`run_readout`): the one
            grouped scan and what ran its own query (quantile and rank metrics, the unit
            check); empty when not read by `run_readout`.
    """

    plan: AnalysisPlan | None
    result: AnalysisResult
    verdict: Verdict
    sequential: tuple[SequentialReading, ...] = ()
    bayesian: tuple[BayesianReading, ...] = ()
    best_arm: tuple[BestArmReading, ...] = ()
    context: DecisionContext | None = None
    reads: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The experiment's id, or "A/B test" without a plan."""
        return "A/B test" if self.plan is None else self.plan.experiment_id

    @property
    def has_bayesian(self) -> bool:
        """True when the plan asks for the Bayesian reading."""
        return self.plan is not None and self.plan.bayesian is not None

    def sequential_dict(self) -> dict[str, Any] | None:
        """The ``sequential`` entry of the JSON document (None without a sequential method)."""
        if self.plan is None or self.plan.sequential == "none":
            return None
        return {
            "method": self.plan.sequential,
            "time": self.plan.time,
            "readings": [reading.to_dict() for reading in self.sequential],
        }

    def bayesian_dict(self) -> dict[str, Any] | None:
        """The ``bayesian`` entry of the JSON document (None unless the plan asks for it)."""
        if self.plan is None or self.plan.bayesian is None:
            return None
        return {
            "prior": self.plan.bayesian,
            "readings": [reading.to_dict() for reading in self.bayesian],
            "best_arm": [reading.to_dict() for reading in self.best_arm],
        }

    def to_dict(self) -> dict[str, Any]:
        """The analysis document with the verdict, sequential and Bayesian entries.

        `AnalysisResult.to_dict` (``schema_version`` first), then ``verdict``, ``context``
        (`ablens.decision_context.DecisionContext.to_dict`, None when not composed),
        ``sequential``, ``bayesian`` and ``reads`` (how the table was read).
        """
        document = self.result.to_dict()
        document["verdict"] = self.verdict.to_dict()
        document["context"] = None if self.context is None else self.context.to_dict()
        document["sequential"] = self.sequential_dict()
        document["bayesian"] = self.bayesian_dict()
        document["reads"] = list(self.reads)
        return document

    def health_lines(self) -> list[str]:
        """``ok``, ``FAIL``, ``wait`` and ``warn`` lines of the health gates, then the notes."""
        marks = {"passed": "ok  ", "failed": "FAIL", "incomplete": "wait", "warning": "warn"}
        lines = [f"{marks[c.status]}  {c.name}: {c.message}" for c in self.verdict.checks]
        lines += [f"note  {note}" for note in self.verdict.notes]
        return lines

    def sequential_lines(self) -> list[str]:
        """The sequential section as text (empty without a sequential method)."""
        if self.plan is None or self.plan.sequential == "none":
            return []
        lines = [
            (
                f"Sequential looks ({self.plan.sequential}, one look per value of "
                f"{self.plan.time}; valid however often they are read):"
            )
        ]
        for reading in self.sequential:
            lines += ["", str(reading)]
        return lines

    def bayesian_lines(self) -> list[str]:
        """The Bayesian section as text (empty unless the plan asks for it)."""
        if self.plan is None or self.plan.bayesian is None:
            return []
        lines = [
            (
                f"Bayesian reading ({self.plan.bayesian} prior; expected losses in the "
                "metric's units, pp for rates):"
            ),
            render.table_text(*bayesian_table(self.bayesian)),
        ]
        if self.best_arm:
            lines += [
                "",
                "Which arm is best (Bayesian; expected loss = how far short of the best arm):",
                render.table_text(*best_arm_table(self.best_arm)),
            ]
            lines += [f"  {m}" for r in self.best_arm if (m := r.missing_line()) is not None]
        return lines

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, width: int | None = None) -> str:
        """The readout as plain text (what ``str`` gives).

        Args:
            width: The terminal's width, or None (no limit). Tables wider than this become one
                block per row, and long lines wrap (`AnalysisResult.to_text`).
        """
        v = self.verdict
        lines = [f"{self.title}: {v.label}", render.wrap_lines(v.reason, width), "", "Health:"]
        lines += [render.wrap_lines(f"  {line}", width) for line in self.health_lines()]
        if self.context is not None and self.context.lines():
            lines += ["", "Context:"]
            lines += [render.wrap_lines(f"  {line}", width) for line in self.context.lines()]
        lines += ["", self.result.to_text(width)]
        for section in (self.sequential_lines(), self.bayesian_lines()):
            if section:
                lines += ["", *section]
        return "\n".join(lines)


def compose_readout(
    result: AnalysisResult,
    plan: AnalysisPlan | None = None,
    *,
    decision: Verdict | None = None,
    sequential: Sequence[SequentialReading] = (),
    bayesian: Sequence[BayesianReading] | None = None,
    best_arm: Sequence[BestArmReading] | None = None,
    today: dt.date | None = None,
    looks: Mapping[tuple[str, str], LooksResult | str] | None = None,
) -> Readout:
    """The readout of an analysis already computed: the verdict and readings not given.

    The one place that decides what a readout holds, for every face: the verdict from the
    analysis, the plan and the sequential readings; the Bayesian readings (and, with three or
    more arms, the best-arm readings) when the plan asks for them; the decision context
    (`ablens.decision_context.decision_context`), whose chance to beat control is the
    Bayesian reading's when the plan asks for one. Reads no data.

    Args:
        result: The analysis.
        plan: Its plan (planned sample, sequential method, Bayesian reading), or None.
        decision: The verdict, if already decided.
        sequential: The sequential readings (`sequential_readout`).
        bayesian: The Bayesian readings, if already computed.
        best_arm: The best-arm readings, if already computed.
        today: The date to count days from (default: today, UTC).
        looks: The primary comparisons' looks over time (`ablens.decision_context.context_looks`),
            for the dates, the traffic and the lift over time of the context.

    Examples:
        >>> import ablens
        >>> data = {
        ...     "control": ablens.Moments.from_summary(
        ...         10_000, mean={"x": 10.0}, variance={"x": 25.0}
        ...     ),
        ...     "treatment": ablens.Moments.from_summary(
        ...         10_000, mean={"x": 10.3}, variance={"x": 25.0}
        ...     ),
        ... }
        >>> readout = compose_readout(ablens.analyze(data, [ablens.Mean("x")], control="control"))
        >>> readout.verdict.label, readout.bayesian
        ('Ship', ())
    """
    wanted = plan is not None and plan.bayesian is not None
    if bayesian is None:
        prior = "flat" if plan is None or plan.bayesian is None else plan.bayesian
        bayesian = bayesian_readout(result, prior=prior) if wanted else ()
    if best_arm is None:
        best_arm = best_arm_readout(result) if wanted else ()
    if decision is None:
        days_run, units_per_day = experiment_traffic(result, plan, looks)
        decision = verdict(
            result,
            plan,
            sequential=sequential,
            today=today,
            days_run=days_run,
            units_per_day=units_per_day,
        )
    # The context's chance to beat control is the Bayesian table's when there is one.
    chances = {
        (r.metric, r.treatment): (r.probability_better, r.model)
        for r in bayesian
        if r.probability_better is not None
    }
    context = decision_context(result, plan, decision, looks=looks, chances=chances, today=today)
    return Readout(
        plan,
        result,
        decision,
        tuple(sequential),
        tuple(bayesian),
        tuple(best_arm),
        context,
    )


def run_readout(
    plan: AnalysisPlan, *, data: object = None, today: dt.date | None = None
) -> Readout:
    """Analyze a plan where its data live: analysis, sequential looks, Bayesian reading, verdict.

    Opens the source once and reads the table once: one grouped query by (time, segments,
    strata, arm) (`ablens.analysis_plan.scan_plan`) holds the analysis overall and per segment,
    every post-stratified metric's strata and the cumulative moments of every look (the
    sequential readings and the decision context's lift over time), merged exactly in Python.
    Quantile and rank metrics cannot be merged from moments: each runs its own query, as do the
    unit check (with ``unit``) and the exposure check. When the one grouping would hold too many
    cells (a ``time`` column with thousands of values), or the data fail a check, each piece
    runs its own query as `ablens.analyze` and `ablens.analyze_looks` do, and the readout's
    ``data_report.warnings`` says so.

    Args:
        plan: The plan.
        data: A table to analyze instead of the plan's source (any input `ablens.analyze`
            takes).
        today: The date to count days from (default: today, UTC).

    Returns:
        The readout.

    Raises:
        PlanError: A column the plan names is not in the data, or the source cannot be opened.
        DataError: The data fail the checks.
    """
    with open_plan_source(plan, data) as opened:
        table = opened.table
        if plan.exposure is not None and plan.exposure.on_mismatch == "drop":
            # The scan and the looks read the same consistent rows as the analysis (no query
            # runs here).
            table = filter_exposure(table, variant=plan.variant, exposure=plan.exposure)
        scanned = scan_plan(plan, table)
        result = analyze_opened(plan, opened.table, scanned=scanned)
        sequential = sequential_readings(plan, result, table, scanned)
        looks = context_looks(plan, result, table, sequential, scanned)
    readout = compose_readout(result, plan, sequential=sequential, today=today, looks=looks)
    return replace(readout, reads=describe_reads(plan, scanned))


def describe_reads(plan: AnalysisPlan, scanned: ReadoutMoments | None) -> tuple[str, ...]:
    """How `run_readout` read the plan's table, one sentence per kind of query.

    Examples:
        >>> from ablens.analysis_plan import plan_from_dict
        >>> plan = plan_from_dict(
        ...     {
        ...         "experiment_id": "e1",
        ...         "source": {"path": "users.parquet"},
        ...         "control": "a",
        ...         "metrics": [
        ...             {"kind": "mean", "column": "revenue"},
        ...             {"kind": "quantile", "column": "minutes", "probability": 0.9},
        ...         ],
        ...     }
        ... )
        >>> for line in describe_reads(plan, None):
        ...     print(line[:60])
        The moments ran as separate queries, one per piece (the grou
        minutes p90 (quantile): its own queries; order statistics an
    """
    lines = []
    if scanned is not None:
        keys = ", ".join([*scanned.keys, "arm"])
        lines.append(
            f"One grouped scan of the table by ({keys}) for every moment: the analysis, its "
            "segments, strata and looks, merged exactly."
        )
    else:
        lines.append(
            "The moments ran as separate queries, one per piece (the grouping of one scan held "
            "too many cells, or the data failed a check)."
        )
    for spec in plan.metrics:
        kind = kind_named(spec.kind)
        if kind.needs == "table":
            lines.append(
                f"{spec.name} ({kind.name}): its own queries; order statistics and ranks cannot "
                "be merged from moments."
            )
    if plan.unit is not None:
        lines.append(f"The unit check: its own query, grouped by {plan.unit}.")
    if plan.exposure is not None:
        lines.append(f"The exposure check: its own query on {plan.exposure.column}.")
    return tuple(lines)
