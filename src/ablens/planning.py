"""Plan an experiment: sample size, duration and detectable effects, from inputs or from history.

`plan` is the power calculator: a baseline (a rate, a mean and sd, or the moments of a metric),
an effect (the minimum detectable effect, MDE, relative or absolute), alpha, power, the
alternative, arms and split, and daily traffic give the units per arm, the total, the days
needed and an MDE-by-duration table. The inverse modes answer "with 14 days, what can I
detect?" (``mde=None``) and "what power do I have?" (``power=None``).

`power_plan_from_history` points at a past period of the same data: the baseline mean, variance, a
ratio's delta-method variance and the correlation with a pre-period covariate (the expected
CUPED reduction) come from one moments query in the engine (`ablens.data.compute_moments`), and
the units that would have entered, day by day, from a second query (units counted on their
first day, cumulated): units do not accrue linearly, since returning users count once.

The statistics are those of `ablens.stats.power` (the normal approximation of the test ablens
runs); the methodology page "Power and sample size" gives every formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from ablens import render
from ablens._lazy import lazy_attributes
from ablens._validation import (
    check_choice,
    check_count,
    check_name,
    check_open_unit_interval,
    check_positive,
    check_real,
)
from ablens.data.history import FULL_WEEK, History, UnitCombine, read_history
from ablens.errors import DataError, InputError, LimitError
from ablens.metrics.base import PlannableMetric, kind_named, kind_of, metric_kinds
from ablens.stats._inference import Alternative, check_alternative
from ablens.stats.power import (
    EFFECT_TYPES,
    POWER_CORRECTIONS,
    ConditionalPower,
    DesignOptions,
    PowerCorrection,
    PowerSolution,
    conditional_power_from_result,
    mde_curve,
    power_curve,
    solve_power,
)
from ablens.typing import DEFAULT_SPENDING, SEQUENTIAL_DESIGNS, SequentialDesign

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

    from ablens.stats.group_sequential import SpendingName
    from ablens.stats.moments import Moments
    from ablens.stats.result import MarginType, TestResult

__all__ = [
    "HistorySummary",
    "PowerPlan",
    "PowerPlanDay",
    "PowerPlanSequential",
    "SequentialMethod",
    "power_plan",
    "power_plan_from_history",
]

SCHEMA_VERSION = 1
#: Days shown in the MDE-by-duration table at most.
MAX_TABLE_DAYS = 365
#: The table always covers at least this many days.
MIN_TABLE_DAYS = 14
#: A plan needing more units than this in total gets a warning: beyond the users of almost any
#: product (the largest have a few billion), so the MDE is too small to be worth testing.
PLAUSIBLE_UNITS = 1_000_000_000
#: A plan running longer than this gets a warning: over a year, the product, its users and the
#: traffic change, so the baseline the plan assumed no longer holds.
PLAUSIBLE_DAYS = 365
#: A plan with more than two arms running longer than this (eight weeks) gets a warning that
#: the arms are what makes it long.
LONG_WITH_ARMS_DAYS = 56
Solved = Literal["sample size", "mde", "power"]
#: The sequential designs a power plan sizes (defined once, in `ablens.typing`).
SequentialMethod = SequentialDesign
SEQUENTIAL_METHODS = SEQUENTIAL_DESIGNS
_SEQUENTIAL_LABELS = {
    "group-sequential": "group-sequential",
    "msprt": "mSPRT (always valid)",
    "confidence-sequence": "confidence sequence (always valid)",
}
#: Days of an explicit-tau mSPRT plan whose inflation is computed one by one; beyond, the
#: inflation is interpolated in log tau^2 / V_max (a Chebyshev series of this degree).
_EXACT_DAYS = 17
#: The most looks of an mSPRT plan with a given ``tau`` (see `_Sequential.of`).
MAX_TAU_LOOKS = 200
_CORRECTION_NAMES = {"bonferroni": "Bonferroni", "sidak": "Šidák"}


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class PowerPlanDay:
    """One row of the MDE-by-duration table.

    Attributes:
        day: Days since the start (1 is the first day).
        units: Units enrolled by the end of that day, over all arms.
        mde: Absolute effect detected with the plan's power after that many days.
        relative_mde: The same as a lift, ``mde / |baseline|``.
        power: Power at the plan's effect after that many days.
    """

    day: int
    units: int
    mde: float
    relative_mde: float
    power: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN as None)."""
        return {
            "day": self.day,
            "units": self.units,
            "mde": _clean(self.mde),
            "relative_mde": _clean(self.relative_mde),
            "power": _clean(self.power),
        }


@dataclass(frozen=True)
class PowerPlanSequential:
    """The sequential design a plan's sizes were inflated for.

    Attributes:
        method: "group-sequential", "msprt" or "confidence-sequence".
        looks: Number of equally spaced looks planned (information fractions ``k / looks``).
        inflation: Maximum size over the fixed-horizon size with the same power, at the plan's
            maximum (`ablens.sample_size_inflation`, `ablens.always_valid_inflation`).
        type_i_error: Probability of a false rejection (on the planned side) at these looks:
            the comparison's alpha for a group-sequential design, less for an always-valid
            test (its bound holds for continuous monitoring).
        planned_units: Units of control and one treatment arm at the maximum size: pass it as
            ``planned_units`` to `ablens.analyze_looks`.
        spending: Alpha-spending family (group-sequential), else None.
        tau: The mSPRT's mixing standard deviation on the scale of the absolute difference
            (given, or `ablens.default_tau` at the maximum size), else None.
    """

    method: SequentialMethod
    looks: int
    inflation: float
    type_i_error: float
    planned_units: int
    spending: SpendingName | None = None
    tau: float | None = None

    @property
    def label(self) -> str:
        """The design in words: "mSPRT (always valid)", "group-sequential (pocock)", ..."""
        if self.method == "group-sequential":
            return f"group-sequential ({self.spending})"
        return _SEQUENTIAL_LABELS[self.method]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "method": self.method,
            "looks": self.looks,
            "inflation": self.inflation,
            "type_i_error": self.type_i_error,
            "planned_units": self.planned_units,
            "spending": self.spending,
            "tau": self.tau,
        }


@dataclass(frozen=True)
class HistorySummary(History):
    """What `power_plan_from_history` read from the past period (every number from the engine).

    The period as `ablens.data.read_history` read it (first and last day, days, units, the
    cumulated units, the recent daily rate and the moments), and what the plan derived from it.

    Attributes:
        correlation: Correlation of the metric with its covariate (CUPED), or the square root
            of the regression's R^2; None without covariates.
        traffic_multiplier: The factor the history's units were scaled by to give the
            experiment's traffic (2 when the arm read had half the traffic).
    """

    correlation: float | None = None
    traffic_multiplier: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (days as strings when they are dates)."""

        def day(value: object) -> object:
            return value if isinstance(value, int) else str(value)

        return {
            "first_day": day(self.first_day),
            "last_day": day(self.last_day),
            "days": self.days,
            "units": self.units,
            "cumulative_units": list(self.cumulative_units),
            "recent_daily_units": self.recent_daily_units,
            "correlation": self.correlation,
            "rows": self.rows,
            "variant": self.variant,
            "arm": self.arm,
            "traffic_multiplier": self.traffic_multiplier,
            "moments": self.moments.to_dict(),
        }


@dataclass(frozen=True)
class PowerPlan:
    """An experiment plan: sizes, duration and what it can detect.

    Attributes:
        metric: Metric name.
        kind: "proportion", "mean" or "ratio".
        baseline: Control rate, mean or ratio.
        sd: Per-unit standard deviation (of the linearization for a ratio), before adjustment.
        variance_reduction: Share of the variance covariate adjustment is expected to remove.
        mde_type: Whether the effect was given (or is reported first) as a "relative" lift or
            an "absolute" difference; the margin is on the same scale.
        effect: Absolute effect: the MDE given or solved, or the effect whose power was asked.
        relative_effect: The same effect as a lift, ``effect / baseline``.
        alpha: Family-wise significance level.
        comparison_alpha: Level of each treatment-control comparison after the correction.
        power: Target power, or the power computed (``solved == "power"``).
        alternative: "two-sided", "greater" or "less".
        margin: Null value of the effect (non-inferiority when negative with "greater").
        arms: Number of arms including control.
        split: Share of units per arm, control first.
        correction: Correction of alpha over the comparisons ("bonferroni", "sidak") or None.
        n_per_arm: Units per arm (rounded up when solved).
        n_total: Units over all arms.
        solved: What was solved: "sample size", "mde" or "power".
        days: Days needed (sample size) or given (inverse modes); None without traffic.
        daily_traffic: Units per day entering the experiment (None when from history).
        by_day: The MDE (and power at ``effect``) after each day.
        history: What the history held, for `power_plan_from_history`.
        notes: Warnings and assumptions worth reading.
        sequential: The sequential design the sizes are maximum sizes of (None: a fixed
            horizon, read once at the end).
        warnings: Plain sentences on a plan that is implausible or badly shaped: more units
            than `PLAUSIBLE_UNITS`, longer than `PLAUSIBLE_DAYS`, not whole weeks, or long
            because of many arms. Faces show them before the notes.
    """

    metric: str
    kind: str
    baseline: float
    sd: float
    variance_reduction: float
    mde_type: MarginType
    effect: float
    relative_effect: float
    alpha: float
    comparison_alpha: float
    power: float
    alternative: Alternative
    margin: float
    arms: int
    split: tuple[float, ...]
    correction: PowerCorrection | None
    n_per_arm: tuple[int, ...]
    n_total: int
    solved: Solved
    days: int | None = None
    daily_traffic: float | None = None
    by_day: tuple[PowerPlanDay, ...] = ()
    history: HistorySummary | None = None
    notes: tuple[str, ...] = ()
    sequential: PowerPlanSequential | None = None
    warnings: tuple[str, ...] = ()

    # -------------------------------------------------------------- words
    def _effect_text(self, absolute: float) -> str:
        relative = _relative(absolute, self.baseline)
        if self.kind == "proportion":
            points = render.format_points(absolute)
            if self.mde_type == "relative":
                return f"{render.format_percent(relative)} ({points})"
            return f"{points} ({render.format_percent(relative)})"
        number = render.format_number(absolute, signed=True)
        if self.mde_type == "relative":
            return f"{render.format_percent(relative)} ({number})"
        return f"{number} ({render.format_percent(relative)})"

    def _value_text(self, value: float) -> str:
        if self.kind == "proportion":
            return render.format_percent(value, 4, signed=False)
        return render.format_number(value)

    def _test_text(self) -> str:
        sides = "two-sided" if self.alternative == "two-sided" else "one-sided"
        text = f"{render.format_percent(self.alpha, signed=False)} significance ({sides})"
        if self.arms > 2 and self.correction is not None:
            text += (
                f", each of {self.arms - 1} comparisons at "
                f"{render.format_percent(self.comparison_alpha, signed=False)} "
                f"({_CORRECTION_NAMES[self.correction]})"
            )
        if self.margin != 0:
            margin = (
                render.format_percent(self.margin)
                if self.mde_type == "relative"
                else self._effect_text(self.margin).split(" ")[0]
            )
            text += f", against a margin of {margin}"
        if self.sequential is not None:
            text += f", {self.sequential.label} over {self.sequential.looks} looks"
        return text

    def _size_text(self, units: str = "units") -> str:
        most = "at most " if self.sequential is not None else ""
        if len(set(self.n_per_arm)) == 1:
            return f"{most}{self.n_per_arm[0]:,} {units} per arm ({self.n_total:,} in total)"
        arms = " / ".join(f"{n:,}" for n in self.n_per_arm)
        return f"{most}{arms} {units} (control first; {self.n_total:,} in total)"

    def _duration_text(self, units: str = "units") -> str:
        if self.days is None:
            return ""
        plural = "s" if self.days != 1 else ""
        if self.daily_traffic is not None:
            return f"{self.days} day{plural} at {self.daily_traffic:,.0f} {units} a day"
        return f"{self.days} day{plural} at the traffic of the history"

    @property
    def sentence(self) -> str:
        """The plan in one sentence, for a product manager."""
        return self.sentence_in("units")

    def sentence_in(self, units: str) -> str:
        """`sentence` with the experiment's own word for a unit ("users", "sessions").

        Examples:
            >>> power_plan(baseline_rate=0.10, mde=0.05).sentence_in("users")[-46:]
            'needs 57,780 users per arm (115,560 in total).'
        """
        change = self._effect_text(self.effect)
        levels = (
            f"{self._value_text(self.baseline)} → {self._value_text(self.baseline + self.effect)}"
        )
        power = render.format_percent(self.power, signed=False)
        duration = self._duration_text(units)
        if self.solved == "sample size":
            text = (
                f"To detect a {change} change in {self.metric} ({levels}) with {power} power at "
                f"{self._test_text()}, the experiment needs {self._size_text(units)}"
            )
            return text + (f": {duration}." if duration else ".")
        within = (
            f"With {duration} ({self.n_total:,} {units})"
            if duration
            else (f"With {self._size_text(units)}")
        )
        if self.solved == "mde":
            return (
                f"{within}, the experiment can detect a change of {change} or more in "
                f"{self.metric} ({levels}) with {power} power at {self._test_text()}."
            )
        return (
            f"{within}, a {change} change in {self.metric} ({levels}) would be detected with "
            f"{power} power at {self._test_text()}."
        )

    # -------------------------------------------------------------- tables
    def _summary_rows(self) -> list[list[str]]:
        unit = "rate" if self.kind == "proportion" else self.kind
        rows = [
            ["metric", f"{self.metric} ({self.kind})"],
            ["baseline", f"{self._value_text(self.baseline)} {unit} (sd {self.sd:.4g})"],
            [
                "effect",
                f"{self._effect_text(self.effect)} ({'MDE' if self.solved == 'mde' else 'given'})",
            ],
            ["alpha", self._test_text()],
            ["power", render.format_percent(self.power, 4, signed=False)],
            ["arms", f"{self.arms} (split {' / '.join(f'{s:.0%}' for s in self.split)})"],
            ["units per arm", " / ".join(f"{n:,}" for n in self.n_per_arm)],
            ["units in total", f"{self.n_total:,}"],
        ]
        if self.days is not None:
            rows.append(["duration", self._duration_text()])
        if self.variance_reduction > 0:
            rows.append(
                ["variance reduction", f"{self.variance_reduction:.1%} (covariate adjustment)"]
            )
        if self.sequential is not None:
            rows.append(["sequential design", self._sequential_text(self.sequential)])
        if self.history is not None:
            h = self.history
            text = (
                f"{h.first_day} to {h.last_day} ({h.days} days, {h.units:,} units, "
                f"{h.recent_daily_units:,.0f} new a day in the last week)"
            )
            if h.variant is not None:
                text += f"; arm {h.arm!r} of {h.variant!r}"
            if h.traffic_multiplier != 1:
                text += f"; units x{h.traffic_multiplier:g} for the experiment's traffic"
            rows.append(["history", text])
        return rows

    def _sequential_text(self, design: PowerPlanSequential) -> str:
        text = (
            f"{design.label}, {design.looks} equally spaced looks: maximum sizes "
            f"{design.inflation:.4g}x the fixed-horizon ones; type I error "
            f"{design.type_i_error:.3g} at these looks; planned_units {design.planned_units:,}"
        )
        if design.tau is not None:
            text += f", tau {design.tau:.4g}"
        return text

    def _shown_days(self) -> list[PowerPlanDay]:
        """Every day of the first two weeks, then weekly, and the plan's own day."""
        shown = [
            d
            for d in self.by_day
            if d.day <= MIN_TABLE_DAYS or d.day % FULL_WEEK == 0 or d.day == self.days
        ]
        if self.by_day and shown[-1] is not self.by_day[-1]:
            shown.append(self.by_day[-1])
        return shown

    def _day_table(self) -> tuple[list[str], list[list[str]]]:
        effect = self._effect_text(self.effect).split(" ")[0]
        headers = ["day", "units", "MDE (lift)", "MDE (absolute)", f"power at {effect}"]
        rows = []
        for d in self._shown_days():
            absolute = (
                render.format_points(d.mde)
                if self.kind == "proportion"
                else render.format_number(d.mde, signed=True)
            )
            mark = " ←" if d.day == self.days else ""
            rows.append(
                [
                    f"{d.day}{mark}",
                    f"{d.units:,}",
                    render.format_percent(d.relative_mde),
                    absolute,
                    render.format_percent(d.power, signed=False),
                ]
            )
        return headers, rows

    def __str__(self) -> str:
        width = max(len(key) for key, _ in self._summary_rows())
        summary = [f"  {key:<{width}}  {value}" for key, value in self._summary_rows()]
        parts = [self.sentence, "", *summary]
        if self.by_day:
            parts += ["", "Detectable effect by duration:", render.table_text(*self._day_table())]
        if self.warnings:
            parts += ["", *(f"Warning: {warning}" for warning in self.warnings)]
        if self.notes:
            parts += ["", *(f"Note: {note}" for note in self.notes)]
        return "\n".join(parts)

    def to_markdown(self) -> str:
        """The sentence, a summary table, the MDE-by-duration table and the notes."""
        text = f"{self.sentence}\n\n{render.table_markdown(['', 'plan'], self._summary_rows())}\n"
        if self.by_day:
            text += "\n**Detectable effect by duration**\n\n"
            text += render.table_markdown(*self._day_table()) + "\n"
        if self.warnings:
            text += "\n" + "\n".join(f"**Warning:** {w}" for w in self.warnings) + "\n"
        if self.notes:
            text += "\n" + "\n".join(f"- {note}" for note in self.notes) + "\n"
        return text

    def to_html(self) -> str:
        """An HTML fragment with the same content as `to_markdown`."""
        import html  # noqa: PLC0415 - stdlib, only needed here

        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        warnings = "".join(
            f'<p class="ablens-warning">Warning: {html.escape(w)}</p>' for w in self.warnings
        )
        days = ""
        if self.by_day:
            days = render.table_html(*self._day_table(), caption="Detectable effect by duration")
        return (
            f'<div class="ablens-plan"><p>{html.escape(self.sentence)}</p>'
            + warnings
            + render.table_html(["", "plan"], self._summary_rows())
            + days
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    # -------------------------------------------------------------- while it runs
    def conditional_power(self, result: TestResult, *, n: float) -> ConditionalPower:
        """Conditional power of the planned experiment from an interim result of its comparison.

        `ablens.conditional_power_from_result` with this plan's numbers: ``n`` of its
        ``n_total`` units observed (the same allocation), its effect as the planned effect
        and its final boundary at the comparison's level (a correction over several arms
        counts). A fixed-horizon plan only: a sequential design's final boundary and early
        stops are not a single final test (pass its last boundary as ``critical_value`` to
        `ablens.conditional_power_from_result` instead).

        Args:
            result: The interim comparison of a treatment with the control.
            n: Units so far over all arms (as ``n_total`` counts them).

        Returns:
            Conditional power under the current trend, the plan's effect and no effect.

        Raises:
            InputError: For a sequential plan, a result with another alternative, or ``n``
                outside (0, n_total].

        Examples:
            >>> from ablens.stats import proportion_test
            >>> p = power_plan(baseline_rate=0.10, mde=0.05)  # 57,780 units per arm
            >>> interim = proportion_test(2_890, 28_890, 3_000, 28_890)  # halfway: +0.38pp
            >>> cp = p.conditional_power(interim, n=57_780)
            >>> round(cp.current_trend, 3), round(cp.planned, 3)
            (0.6, 0.766)
        """
        if self.sequential is not None:
            raise InputError(
                "conditional_power assumes one final analysis; this plan is "
                f"{self.sequential.label}: pass its final boundary as critical_value to "
                "ablens.conditional_power_from_result"
            )
        if result.alternative != self.alternative:
            raise InputError(
                f"result.alternative == {result.alternative!r}, must be the plan's "
                f"{self.alternative!r}"
            )
        return conditional_power_from_result(
            result,
            n=n,
            n_planned=self.n_total,
            planned_effect=self.effect,
            alpha=self.comparison_alpha,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document with a ``schema_version``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "sentence": self.sentence,
            "metric": self.metric,
            "kind": self.kind,
            "baseline": self.baseline,
            "sd": self.sd,
            "variance_reduction": self.variance_reduction,
            "mde_type": self.mde_type,
            "effect": self.effect,
            "relative_effect": _clean(self.relative_effect),
            "alpha": self.alpha,
            "comparison_alpha": self.comparison_alpha,
            "power": self.power,
            "alternative": self.alternative,
            "margin": self.margin,
            "arms": self.arms,
            "split": list(self.split),
            "correction": self.correction,
            "n_per_arm": list(self.n_per_arm),
            "n_total": self.n_total,
            "solved": self.solved,
            "days": self.days,
            "daily_traffic": self.daily_traffic,
            "by_day": [d.to_dict() for d in self.by_day],
            "history": None if self.history is None else self.history.to_dict(),
            "notes": list(self.notes),
            "sequential": None if self.sequential is None else self.sequential.to_dict(),
            "warnings": list(self.warnings),
        }


def _clean(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


# ---------------------------------------------------------------------------- baselines
@dataclass(frozen=True)
class _Baseline:
    """What the power formulas need about the metric."""

    name: str
    kind: str
    value: float
    sd: float
    variance_reduction: float = 0.0
    correlation: float | None = None
    alternative: Alternative = "two-sided"
    margin: float = 0.0
    margin_type: MarginType | None = None
    notes: tuple[str, ...] = ()
    power_kind: Literal["mean", "proportion"] = "mean"


def _explained_share(
    moments: Moments, weights: dict[str, float], covariates: Sequence[str]
) -> float:
    """``R^2`` of the outcome ``sum_j w_j x_j`` on the covariates (``rho^2`` for one)."""
    names = list(weights)
    w = np.array([weights[c] for c in names])
    outcome = np.array([[moments.covariance(a, b) for b in names] for a in names])
    variance = float(w @ outcome @ w)
    if variance <= 0:
        return 0.0
    cross = np.array([w @ np.array([moments.covariance(a, x) for a in names]) for x in covariates])
    among = np.array([[moments.covariance(x, y) for y in covariates] for x in covariates])
    if np.any(np.diag(among) <= 0):
        raise DataError(f"covariates {list(covariates)} do not vary in the history")
    share = float(cross @ np.linalg.solve(among, cross)) / variance
    return min(max(share, 0.0), 1.0 - 1e-12)


def _baseline_from_moments(metric: PlannableMetric, moments: Moments) -> _Baseline:
    """The metric's baseline, sd and expected variance reduction from its moments.

    The metric linearizes itself (`PlannableMetric.planning_baseline`); the planner only adds the
    covariates' expected variance reduction, so any registered plannable kind is planned alike.
    """
    if moments.count < 2:
        raise DataError(f"the history has {moments.count} unit(s), must have >= 2")
    linear = metric.planning_baseline(moments)
    if not linear.sd > 0:
        raise DataError(f"metric {metric.name!r} does not vary in the history; nothing to plan")
    reduction, correlation = 0.0, None
    if metric.covariates:
        reduction = _explained_share(moments, dict(linear.weights), metric.covariates)
        correlation = math.sqrt(reduction)
    return _Baseline(
        name=metric.name,
        kind=kind_of(metric).name,
        value=linear.value,
        sd=linear.sd,
        variance_reduction=reduction,
        correlation=correlation,
        alternative=check_alternative(metric.alternative),
        margin=metric.margin,
        margin_type=cast("MarginType", metric.margin_type),
        notes=tuple(linear.notes),
        power_kind=linear.power_kind,
    )


def _check_metric(metric: object) -> PlannableMetric:
    kind = kind_of(metric)
    if not (kind.plannable and isinstance(metric, PlannableMetric)):
        plannable = ", ".join(name for name in metric_kinds() if kind_named(name).plannable)
        raise InputError(
            f"metric is a {type(metric).__name__} (kind {kind.name!r}), which the planner cannot "
            f"size; plannable kinds: {plannable} (a kind declares plannable=True and "
            "planning_baseline to be planned)"
        )
    return metric


# ---------------------------------------------------------------------------- traffic
@dataclass(frozen=True)
class _Traffic:
    """Units enrolled by the end of each day: linear, or from a history's cumulative counts."""

    daily: float | None = None
    cumulative: tuple[int, ...] = ()
    share: float = 1.0
    recent: float = 0.0

    def units(self, days: NDArray[np.int64]) -> NDArray[np.float64]:
        """Units over all arms after each number of days (fractional before rounding down)."""
        days = np.asarray(days, dtype=np.int64)
        if self.daily is not None:
            return np.asarray(np.floor(self.daily * days + 1e-9), dtype=np.float64)
        cumulative = np.asarray(self.cumulative, dtype=np.float64)
        seen = len(cumulative)
        inside = cumulative[np.clip(days, 1, seen) - 1]
        beyond = cumulative[-1] + self.recent * (days - seen)
        units = np.floor(self.share * np.where(days <= seen, inside, beyond) + 1e-9)
        return np.asarray(units, dtype=np.float64)

    def days_for(self, units: float) -> int | None:
        """The first day by which ``units`` have entered; None if that never happens."""
        if self.daily is not None:
            return max(1, math.ceil(units / self.daily - 1e-9))
        seen = len(self.cumulative)
        reached = np.nonzero(self.units(np.arange(1, seen + 1)) >= units)[0]
        if reached.size:
            return int(reached[0]) + 1
        if self.recent <= 0:
            return None
        extra = (units / self.share - self.cumulative[-1]) / self.recent
        day = seen + max(1, math.ceil(extra - 1e-9))
        while self.units(np.array([day]))[0] < units:  # rounding down may need one more day
            day += 1
        return day


# ---------------------------------------------------------------------------- the planner
def power_plan(
    *,
    baseline_rate: float | None = None,
    mean: float | None = None,
    sd: float | None = None,
    metric: PlannableMetric | None = None,
    moments: Moments | None = None,
    mde: float | None = None,
    mde_type: MarginType = "relative",
    alpha: float = 0.05,
    power: float | None = 0.8,
    alternative: Alternative | None = None,
    margin: float | None = None,
    arms: int | None = None,
    split: Sequence[float] | None = None,
    correction: PowerCorrection | None = None,
    variance_reduction: float | None = None,
    daily_traffic: float | None = None,
    days: int | None = None,
    n: int | None = None,
    name: str | None = None,
    sequential: SequentialMethod | None = None,
    looks: int = 5,
    spending: SpendingName = DEFAULT_SPENDING,
    tau: float | None = None,
) -> PowerPlan:
    """Plan an experiment: sample size and duration for an MDE, or the MDE (or power) of a size.

    Give the baseline one of three ways: ``baseline_rate`` (a proportion), ``mean`` and ``sd``
    (a mean), or ``metric`` with its ``moments`` (a `Mean`, `Proportion`, `Ratio` or any kind
    declared plannable, covariates included, whose moments come from past data). What is
    solved follows from what is missing:

    * ``mde`` given: the sample size (and days, with ``daily_traffic``) reaching ``power``;
    * ``mde=None`` with ``days`` (and ``daily_traffic``) or ``n``: the MDE ("with 14 days I can
      detect ...");
    * ``power=None`` with ``mde`` and ``days`` or ``n``: the power.

    Args:
        baseline_rate: Control conversion rate, in (0, 1).
        mean: Control mean (with ``sd``).
        sd: Per-unit standard deviation (with ``mean``).
        metric: The metric to analyze; gives the name, the alternative and the margin, and with
            ``moments`` the baseline and the expected variance reduction of its covariates.
        moments: Past moments of the metric's columns (one group of units).
        mde: Minimum detectable effect: a lift (``mde_type="relative"``, 0.05 for +5%) or a
            difference (``"absolute"``).
        mde_type: "relative" (default) or "absolute"; the margin is on the same scale.
        alpha: Family-wise significance level.
        power: Target power (None to compute it).
        alternative: "two-sided", "greater" or "less"; defaults to the metric's, else two-sided.
        margin: Null value of the effect (non-inferiority); defaults to the metric's, else 0.
        arms: Number of arms including control (default 2, or the length of ``split``).
        split: Share of units per arm, control first; default equal.
        correction: "bonferroni" or "sidak" to split alpha over the treatment arms (use the
            same in `ablens.analyze`); None for none.
        variance_reduction: Share of variance covariate adjustment will remove (``rho^2``);
            defaults to the value computed from ``moments`` for a metric with covariates, else 0.
        daily_traffic: Units entering the experiment per day, over all arms.
        days: Duration for the inverse modes.
        n: Total units for the inverse modes (instead of ``days``).
        name: Metric name for the sentence; defaults to the metric's, else "the metric".
        sequential: A design that may stop early, read at ``looks`` equally spaced looks:
            "group-sequential" (inflated by `ablens.sample_size_inflation`), or the
            always-valid "msprt" and "confidence-sequence" (inflated by
            `ablens.always_valid_inflation`; the confidence sequence is tuned to the maximum
            size). Sizes become maximum sizes; each day of the MDE-by-day table uses the
            inflation of a plan of that many days. None (default): a fixed horizon.
        looks: Number of planned looks of the sequential design (e.g. the days, for a daily
            read).
        spending: Alpha-spending family of the group-sequential design ("obrien-fleming",
            "pocock", "hsd", "power").
        tau: The mSPRT's mixing standard deviation, on the scale of the absolute difference;
            None (default) for `ablens.default_tau` at the maximum size (what
            `ablens.analyze_looks` uses given ``planned_units``).

    Returns:
        The plan: sizes, days, an MDE-by-day table (with ``daily_traffic``), a sentence, notes.

    Raises:
        InputError: On invalid or conflicting arguments.

    Examples:
        >>> p = power_plan(baseline_rate=0.10, mde=0.05, daily_traffic=10_000)
        >>> p.n_per_arm, p.days
        ((57780, 57780), 12)
        >>> print(p.sentence)
        To detect a +5% (+0.5pp) change in the metric (10% → 10.5%) with 80% power at 5%
        significance (two-sided), the experiment needs 57,780 units per arm (115,560 in total):
        12 days at 10,000 units a day.
        >>> inverse = power_plan(baseline_rate=0.10, days=14, daily_traffic=10_000)
        >>> round(inverse.relative_effect, 4)
        0.0454

        The same test read every day with an mSPRT, planned for 30 daily looks:

        >>> av = power_plan(
        ...     baseline_rate=0.10, mde=0.05, daily_traffic=10_000, sequential="msprt", looks=30
        ... )
        >>> av.n_per_arm, av.days, round(av.sequential.inflation, 4)
        ((99329, 99329), 20, 1.7191)
    """
    if metric is not None:
        metric = _check_metric(metric)
    baseline = _baseline_from_inputs(baseline_rate, mean, sd, metric, moments, name)
    if variance_reduction is not None:
        reduction = check_real("variance_reduction", variance_reduction)
        if not 0.0 <= reduction < 1.0:
            raise InputError(f"variance_reduction == {reduction!r}, must be in [0, 1)")
        baseline = _replace_baseline(baseline, variance_reduction=reduction, correlation=None)
    traffic = None
    if daily_traffic is not None:
        traffic = _Traffic(daily=check_positive("daily_traffic", daily_traffic))
    return _plan(
        baseline,
        traffic=traffic,
        mde=mde,
        mde_type=mde_type,
        alpha=alpha,
        power=power,
        alternative=alternative,
        margin=margin,
        arms=arms,
        split=split,
        correction=correction,
        days=days,
        n=n,
        sequential=_Sequential.of(sequential, looks, spending, tau),
    )


@dataclass(frozen=True)
class _Sequential:
    """A sequential design to plan for: its method, equally spaced looks and options."""

    method: SequentialMethod
    looks: int
    spending: SpendingName
    tau: float | None = None

    @classmethod
    def of(
        cls, method: str | None, looks: int, spending: SpendingName, tau: float | None
    ) -> _Sequential | None:
        if method is None:
            if tau is not None:
                raise InputError(f"tau == {tau!r} applies to sequential='msprt'")
            return None
        from ablens.stats.group_sequential import MAX_LOOKS, check_looks  # noqa: PLC0415

        checked = check_choice("sequential", method, SEQUENTIAL_METHODS)
        count = check_looks(check_count("looks", looks, minimum=1), method=checked)
        if tau is not None:
            tau = check_positive("tau", tau)
            if checked != "msprt":
                raise InputError(
                    f"tau == {tau!r} applies to sequential='msprt', not {checked!r} (the "
                    "confidence sequence is tuned to the maximum size)"
                )
            if count > MAX_TAU_LOOKS:
                # A fixed tau gives each maximum size its own bounds: the plan solves one
                # design per candidate size and per day of the table.
                raise LimitError(
                    f"looks == {count:,} with tau: at most {MAX_TAU_LOOKS} looks when tau is "
                    "given (each day of the plan needs a design of its own); read less often, "
                    f"e.g. weekly (looks={math.ceil(count / 7):,} for as many weeks), or leave tau "
                    f"unset: the default tau plans up to {MAX_LOOKS:,} looks",
                    argument="looks",
                    limit=MAX_TAU_LOOKS,
                )
        return cls(cast("SequentialMethod", checked), count, spending, tau)

    def inflation(
        self,
        alpha: float,
        power: float,
        alternative: Alternative,
        *,
        fixed_variance: float | None = None,
        max_variance: float | None = None,
    ) -> tuple[float, float]:
        """The inflation and the type I error at the looks (the variances: with ``tau``)."""
        from ablens.stats.always_valid import always_valid_design  # noqa: PLC0415
        from ablens.stats.group_sequential import sample_size_inflation  # noqa: PLC0415

        if self.method == "group-sequential":
            fractions = [(k + 1) / self.looks for k in range(self.looks)]
            inflation = sample_size_inflation(
                fractions,
                alpha=alpha,
                beta=1.0 - power,
                alternative=alternative,
                spending=self.spending,
            )
            return inflation, alpha
        if self.tau is None:
            fixed_variance = max_variance = None
        design = always_valid_design(
            self.looks,
            method=self.method,
            alpha=alpha,
            beta=1.0 - power,
            alternative=alternative,
            tau=self.tau,
            fixed_variance=fixed_variance,
            max_variance=max_variance,
        )
        return design.inflation, design.type_i_error

    def inflation_by_size(
        self,
        alpha: float,
        power: float,
        alternative: Alternative,
        unit_variance: float,
        constant: float,
    ) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
        """The inflation of a design whose maximum is each size of a grid, as a function.

        Constant (``constant``, the plan's) except for an mSPRT with a given ``tau``, whose
        ratio ``tau^2 / V_max = tau^2 n / unit_variance`` grows with the maximum size ``n``:
        there each size gets its own design, computed for up to `_EXACT_DAYS` distinct sizes
        and otherwise interpolated by a Chebyshev series in ``log(tau^2 / V_max)`` through
        that many exact ones (the inflation is smooth in it).
        """
        tau = self.tau
        if tau is None:
            return lambda sizes: np.full(np.shape(sizes), constant)

        def exact(ratio: float) -> float:
            # max_variance == tau^2 / ratio puts r_K = tau^2 / max_variance at ratio.
            return self.inflation(alpha, power, alternative, max_variance=tau**2 / ratio)[0]

        def by_size(sizes: NDArray[np.float64]) -> NDArray[np.float64]:
            ratios = tau**2 * np.asarray(sizes, dtype=np.float64) / unit_variance
            distinct = np.unique(ratios)
            if distinct.size <= _EXACT_DAYS:
                table = {float(r): exact(float(r)) for r in distinct}
                return np.array([table[float(r)] for r in ratios.ravel()]).reshape(ratios.shape)
            logs = np.log(distinct)
            series = np.polynomial.Chebyshev.interpolate(
                lambda x: np.log([exact(math.exp(v)) for v in np.atleast_1d(x)]),
                _EXACT_DAYS - 1,
                domain=[float(logs[0]), float(logs[-1])],
            )
            return np.asarray(np.exp(series(np.log(ratios))), dtype=np.float64)

        return by_size


def _replace_baseline(baseline: _Baseline, **changes: Any) -> _Baseline:  # noqa: ANN401
    from dataclasses import replace  # noqa: PLC0415 - tiny helper

    return replace(baseline, **changes)


def _baseline_from_inputs(
    baseline_rate: float | None,
    mean: float | None,
    sd: float | None,
    metric: PlannableMetric | None,
    moments: Moments | None,
    name: str | None,
) -> _Baseline:
    given = [
        label
        for label, value in (("baseline_rate", baseline_rate), ("mean", mean), ("moments", moments))
        if value is not None
    ]
    if len(given) != 1:
        raise InputError(
            "give exactly one baseline: baseline_rate, mean (with sd), or metric with moments; "
            f"got {', '.join(given) if given else 'none'}"
        )
    label = name if name is not None else (metric.name if metric is not None else "the metric")
    check_name("name", label)
    if moments is not None:
        if metric is None:
            raise InputError("moments needs metric: which columns make the metric")
        baseline = _baseline_from_moments(metric, moments)
        return _replace_baseline(baseline, name=label)
    common: dict[str, Any] = {"name": label}
    if metric is not None:
        common.update(
            alternative=check_alternative(metric.alternative),
            margin=metric.margin,
            margin_type=metric.margin_type,
        )
    if baseline_rate is not None:
        if sd is not None:
            raise InputError("sd does not apply to baseline_rate: a rate's sd is sqrt(p (1 - p))")
        if metric is not None and not kind_of(metric).rate:
            raise InputError(
                "baseline_rate is for a rate metric such as a Proportion; a "
                f"{kind_of(metric).name} metric takes mean and sd"
            )
        rate = check_open_unit_interval("baseline_rate", baseline_rate)
        return _Baseline(
            kind="proportion",
            value=rate,
            sd=math.sqrt(rate * (1 - rate)),
            power_kind="proportion",
            **common,
        )
    if sd is None:
        raise InputError("mean needs sd, the per-unit standard deviation")
    if metric is not None and kind_of(metric).rate:
        raise InputError(
            f"a {kind_of(metric).name} metric takes baseline_rate, not mean and sd (its sd "
            "follows from the rate)"
        )
    kind = "mean" if metric is None else kind_of(metric).name
    return _Baseline(
        kind=kind, value=check_real("mean", mean), sd=check_positive("sd", sd), **common
    )


def _plan(
    baseline: _Baseline,
    *,
    traffic: _Traffic | None,
    mde: float | None,
    mde_type: str,
    alpha: float,
    power: float | None,
    alternative: str | None,
    margin: float | None,
    arms: int | None,
    split: Sequence[float] | None,
    correction: PowerCorrection | None,
    days: int | None,
    n: int | None,
    history: HistorySummary | None = None,
    sequential: _Sequential | None = None,
) -> PowerPlan:
    """The planner proper, shared by `plan` and `power_plan_from_history`."""
    alpha = check_open_unit_interval("alpha", alpha)
    design = _design_options(baseline, mde_type, alternative, margin, arms, split, correction)
    duration = None if days is None else check_count("days", days, minimum=1)
    units = _planned_units(traffic, duration, n)
    solved, solution = _solve_plan(baseline.power_kind, design, mde, power, alpha, units)
    inflation_by_size = None
    planned: _PlannedSequential | None = None
    if sequential is not None:
        planned = _plan_sequential(sequential, baseline, design, solved, solution, power)
        design["inflation"] = planned.inflation
        inflation_by_size = planned.by_size
        solved, solution = _solve_plan(baseline.power_kind, design, mde, power, alpha, units)
    shares = tuple(size / solution.n for size in solution.n_per_arm)
    if solved == "sample size":
        per_arm = tuple(math.ceil(s * solution.n - 1e-9) for s in shares)
        total = sum(per_arm)
        duration = None if traffic is None else traffic.days_for(total)
    else:
        per_arm = tuple(math.floor(s * solution.n + 1e-9) for s in shares)
        total = round(solution.n)
    absolute = _absolute(solution.effect, solution.effect_type, baseline.value)
    notes = [*baseline.notes, *_notes(baseline, history, duration, shares)]
    notes += _correction_note(len(shares) - 1, alpha, correction)
    summary: PowerPlanSequential | None = None
    if planned is not None:
        summary = planned.summary(solution, per_arm)
        notes += _sequential_notes(summary, solution)
    by_day: tuple[PowerPlanDay, ...] = ()
    if traffic is not None:
        by_day = _by_day(
            design, traffic, duration, solution, alpha, baseline.value, inflation_by_size
        )
        if duration is not None and duration > MAX_TABLE_DAYS:
            notes.append(f"the table stops at day {MAX_TABLE_DAYS}")
        if solved == "sample size" and duration is None:
            notes.append(
                "the history shows no new units in its last week, so no duration reaches the "
                "sample size"
            )
    return PowerPlan(
        metric=baseline.name,
        kind=baseline.kind,
        baseline=baseline.value,
        sd=baseline.sd,
        variance_reduction=baseline.variance_reduction,
        mde_type=solution.effect_type,
        effect=absolute,
        relative_effect=_relative(absolute, baseline.value),
        alpha=alpha,
        comparison_alpha=solution.comparison_alpha,
        power=solution.power,
        alternative=solution.alternative,
        margin=design["margin"],
        arms=len(shares),
        split=shares,
        correction=correction,
        n_per_arm=per_arm,
        n_total=total,
        solved=solved,
        days=duration,
        daily_traffic=None if traffic is None else traffic.daily,
        by_day=by_day,
        history=history,
        notes=tuple(notes),
        sequential=summary,
        warnings=tuple(_plausibility_warnings(total, duration, len(shares))),
    )


def _count_text(count: float) -> str:
    """A count a person can read: ``12,345`` or, past a trillion, ``about 1.4 x 10^20``."""
    if count < 1e12:
        return f"{count:,.0f}"
    exponent = math.floor(math.log10(count))
    return f"about {count / 10**exponent:.1f} x 10^{exponent}"


def _plausibility_warnings(total: int, days: int | None, arms: int) -> list[str]:
    """Warnings on a plan no one should run as it stands (see `PowerPlan.warnings`)."""
    warnings = []
    if total > PLAUSIBLE_UNITS:
        warnings.append(
            f"this plan needs {_count_text(total)} units in total, more than almost any "
            "product has users: test a larger MDE"
        )
    if days is None:
        return warnings
    if days > PLAUSIBLE_DAYS:
        years = days / 365.25
        warnings.append(
            f"{_count_text(days)} days is {_count_text(years) if years >= 10 else f'{years:.1f}'}"
            " years: the product and its users change long before, so the baseline no longer "
            "holds; test a larger MDE, or find more traffic"
        )
    if arms > 2 and days > LONG_WITH_ARMS_DAYS:
        warnings.append(
            f"{_count_text(days)} days for {arms} arms: each arm gets only 1/{arms} of the "
            "traffic; test fewer arms or a larger MDE"
        )
    if days < FULL_WEEK:
        warnings.append(
            f"the experiment would run {days} day{'s' if days != 1 else ''}, under a full "
            "week: weekday and weekend users differ; run whole weeks so every weekday counts "
            "the same (plan 7 days, 1 week)"
        )
    elif days % FULL_WEEK and days <= PLAUSIBLE_DAYS:
        weeks = math.ceil(days / FULL_WEEK)
        warnings.append(
            f"{days} days is not whole weeks: run whole weeks so every weekday counts the same "
            f"(plan {weeks * FULL_WEEK} days, {weeks} weeks)"
        )
    return warnings


@dataclass(frozen=True)
class _PlannedSequential:
    """A sequential design sized for a plan: its inflation, and how to describe it."""

    sequential: _Sequential
    inflation: float
    type_i_error: float
    unit_variance: float
    alpha: float
    by_size: Callable[[NDArray[np.float64]], NDArray[np.float64]]

    def summary(self, solution: PowerSolution, per_arm: tuple[int, ...]) -> PowerPlanSequential:
        from ablens.stats.always_valid import default_tau  # noqa: PLC0415

        method = self.sequential.method
        tau = self.sequential.tau
        if method == "msprt" and tau is None:
            tau = default_tau(self.unit_variance / solution.n, alpha=self.alpha)
        return PowerPlanSequential(
            method=method,
            looks=self.sequential.looks,
            inflation=self.inflation,
            type_i_error=self.type_i_error,
            planned_units=per_arm[0] + min(per_arm[1:]),
            spending=self.sequential.spending if method == "group-sequential" else None,
            tau=tau,
        )


def _plan_sequential(
    sequential: _Sequential,
    baseline: _Baseline,
    design: DesignOptions,
    solved: Solved,
    fixed: PowerSolution,
    power: float | None,
) -> _PlannedSequential:
    """Size the sequential design from the fixed-horizon solution ``fixed``.

    The inflation is computed at the comparison's level, for the plan's power (80% when the
    power is what is solved). An mSPRT with a given ``tau`` needs the estimate's variance: per
    unit of the whole experiment it is ``(1 - rho^2) sd^2 (1 / share_c + 1 / share_t)`` (under
    the null, for control and the smallest treatment arm), over the fixed size when solving for
    the size (a fixed point in the maximum size) or over the given size otherwise.
    """
    target = 0.8 if power is None else power
    shares = [size / fixed.n for size in fixed.n_per_arm]
    keep = 1.0 - baseline.variance_reduction
    unit_variance = keep * baseline.sd**2 * (1.0 / shares[0] + 1.0 / min(shares[1:]))
    variance = unit_variance / fixed.n
    inflation, type_i = sequential.inflation(
        fixed.comparison_alpha,
        target,
        fixed.alternative,
        fixed_variance=variance if solved == "sample size" else None,
        max_variance=None if solved == "sample size" else variance,
    )
    by_size = sequential.inflation_by_size(
        fixed.comparison_alpha, target, fixed.alternative, unit_variance, inflation
    )
    return _PlannedSequential(
        sequential, inflation, type_i, unit_variance, fixed.comparison_alpha, by_size
    )


def _sequential_notes(summary: PowerPlanSequential, solution: PowerSolution) -> list[str]:
    factor = f"{summary.inflation:.4g}x the fixed-horizon ones"
    if summary.method == "group-sequential":
        note = (
            f"group-sequential design, {summary.looks} equally spaced looks "
            f"({summary.spending} spending): the sizes are maximum sizes, {factor} (rpact's "
            "inflation factor); power and MDE by day use the same factor"
        )
        return [note]
    note = (
        f"{summary.label} read at {summary.looks} equally spaced looks: the sizes are maximum "
        f"sizes, {factor} (ablens.always_valid_inflation); the chance of a false positive at "
        f"these looks is {summary.type_i_error:.2%} (at most "
        f"{solution.comparison_alpha:g} however often it is read); each day of the table uses "
        "the inflation of a plan of that many days"
    )
    notes = [note]
    call = f"method='{summary.method}', planned_units={summary.planned_units}"
    if summary.method == "msprt" and summary.tau is not None:
        call += f", tau={summary.tau:.6g}"
    notes.append(f"analyze with ablens.analyze_looks(..., {call})")
    if solution.alternative != "two-sided":
        direction = "higher" if solution.alternative == "greater" else "lower"
        notes.append(
            f"the always-valid tests are two-sided: analyze with alternative='two-sided' and act "
            f"only on 'treatment {direction}'; the plan counts only those rejections, so it "
            "needs more units than a one-sided fixed design"
        )
    return notes


def _design_options(
    baseline: _Baseline,
    mde_type: str,
    alternative: str | None,
    margin: float | None,
    arms: int | None,
    split: Sequence[float] | None,
    correction: PowerCorrection | None,
) -> DesignOptions:
    """The `ablens.stats.power` design of the plan (the metric's defaults filled in)."""
    mde_type = check_choice("mde_type", mde_type, EFFECT_TYPES)
    if margin is None:
        margin = baseline.margin
        if margin != 0 and baseline.margin_type not in (None, mde_type):
            raise InputError(
                f"the metric's margin is {baseline.margin_type} and mde_type == {mde_type!r}; "
                "give the MDE on the margin's scale (or pass margin=)"
            )
    if correction is not None:
        check_choice("correction", correction, POWER_CORRECTIONS)
    if mde_type == "relative" and baseline.value <= 0:
        # A lift is planned on the log ratio, which needs a positive control mean.
        raise InputError(
            f"the baseline mean is {baseline.value!r}; a relative MDE needs a positive baseline "
            "(a lift is planned on the log ratio): give the MDE as a difference with "
            "mde_type='absolute'"
        )
    design: DesignOptions = {
        "baseline": baseline.value,
        "effect_type": cast("Any", mde_type),
        "alternative": check_alternative(alternative or baseline.alternative),
        "margin": check_real("margin", margin),
        "split": split,
        "correction": correction,
        "variance_reduction": baseline.variance_reduction,
    }
    if arms is not None:
        design["arms"] = arms
    if baseline.power_kind == "mean":
        design["sd"] = baseline.sd
    return design


def _planned_units(traffic: _Traffic | None, duration: int | None, n: int | None) -> float | None:
    """Units over all arms for the inverse modes (from a duration or given), else None."""
    if n is not None:
        if duration is not None:
            raise InputError("give days or n, not both")
        return float(check_count("n", n, minimum=2))
    if duration is None:
        return None
    if traffic is None:
        raise InputError("days needs daily_traffic (or history) to know how many units enter")
    units = float(traffic.units(np.array([duration]))[0])
    if units < 2:
        raise InputError(f"days == {duration} enrolls {units:g} units; too few to plan")
    return units


def _solve_plan(
    kind: Literal["mean", "proportion"],
    design: DesignOptions,
    mde: float | None,
    power: float | None,
    alpha: float,
    units: float | None,
) -> tuple[Solved, PowerSolution]:
    """Which quantity the plan solves for, and the solution."""
    mde = None if mde is None else check_real("mde", mde)
    power = None if power is None else check_open_unit_interval("power", power)
    if mde is None:
        if power is None:
            raise InputError("mde and power are both None: give the one you want fixed")
        if units is None:
            raise InputError("mde == None solves for the MDE, which needs days (and traffic) or n")
        return "mde", solve_power(kind, n=units, effect=None, power=power, alpha=alpha, **design)
    if power is None:
        if units is None:
            raise InputError("power == None solves for the power, which needs days or n")
        return "power", solve_power(kind, n=units, effect=mde, power=None, alpha=alpha, **design)
    if units is not None:
        raise InputError(
            "mde and power given with a duration: nothing is left to solve; drop days/n to get "
            "the sample size, or pass power=None to get the power at that duration"
        )
    return "sample size", solve_power(kind, n=None, effect=mde, power=power, alpha=alpha, **design)


def _absolute(effect: float, mde_type: str, baseline: float) -> float:
    """The absolute effect of an MDE; a lift is a fraction of the baseline's size."""
    return effect * abs(baseline) if mde_type == "relative" else effect


def _relative(effect: float, baseline: float) -> float:
    """The lift of an absolute effect over the baseline, ``effect / |baseline|``."""
    return effect / abs(baseline) if baseline != 0 else math.nan


def _by_day(
    design: DesignOptions,
    traffic: _Traffic,
    duration: int | None,
    solution: PowerSolution,
    alpha: float,
    baseline: float,
    inflation: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
) -> tuple[PowerPlanDay, ...]:
    """The MDE and the power at the plan's effect after each day, vectorized over the days.

    A sequential design's day ``d`` is the plan whose maximum is day ``d``: its units count as
    ``units / inflation(units)`` fixed-horizon ones.
    """
    last = min(max(duration or 0, MIN_TABLE_DAYS), MAX_TABLE_DAYS)
    days = np.arange(1, last + 1)
    units = traffic.units(days)
    # Each arm needs a few units before a normal approximation means anything.
    enough = units * min(solution.n_per_arm) / solution.n >= 2
    mde = np.full(days.shape, np.nan)
    achieved = np.full(days.shape, np.nan)
    if np.any(enough):
        kind = solution.kind
        fixed = design.copy()
        fixed.pop("inflation", None)
        sizes = units[enough]
        if inflation is not None:
            sizes = sizes / inflation(sizes)
        mde[enough] = mde_curve(kind, sizes, power=solution.power, alpha=alpha, **fixed)
        achieved[enough] = power_curve(kind, sizes, effect=solution.effect, alpha=alpha, **fixed)
    rows = []
    for d, u, m, p in zip(days, units, mde, achieved, strict=True):
        absolute = _absolute(float(m), solution.effect_type, baseline)
        rows.append(PowerPlanDay(int(d), int(u), absolute, _relative(absolute, baseline), float(p)))
    return tuple(rows)


def _notes(
    baseline: _Baseline,
    history: HistorySummary | None,
    duration: int | None,
    shares: tuple[float, ...],
) -> list[str]:
    notes = []  # a duration under a full week is a warning (`_plausibility_warnings`)
    if history is not None:
        notes += _history_notes(history, duration)
    if len(set(shares[1:])) > 1:
        notes.append("treatment arms differ in size: the smallest one sets the sample size")
    if baseline.variance_reduction > 0 and baseline.correlation is not None:
        notes.append(
            f"covariate adjustment is expected to remove {baseline.variance_reduction:.1%} of "
            f"the variance (correlation {baseline.correlation:.3f} in the history); analyze "
            "with the same covariates to get it"
        )
    return notes


def _history_notes(history: HistorySummary, duration: int | None) -> list[str]:
    """What the plan assumed of its history: combined rows, the arm read, the extrapolation."""
    notes = []
    multiplier = history.traffic_multiplier
    if history.rows > history.units:
        notes.append(
            f"the history's {history.rows:,} rows hold {history.units:,} units: a unit's "
            "rows counted once, on its first day, its values combined (summed; a proportion: "
            "converted on any row)"
        )
    if history.variant is not None:
        notes.append(
            f"the history is arm {history.arm!r} of column {history.variant!r} of a past "
            "experiment: the baseline and sd are that arm's"
        )
    if multiplier != 1:
        notes.append(
            f"the history's units are multiplied by {multiplier:g} to give the experiment's "
            "traffic (the units entering each day, so the days needed); the baseline, sd and "
            "variance reduction are as read"
        )
    if duration is not None and duration > history.days:
        window = min(FULL_WEEK, history.days)
        notes.append(
            f"the history covers {history.days} days and the experiment needs {duration}: "
            f"units after day {history.days} are extrapolated linearly at "
            f"{multiplier * history.recent_daily_units:,.0f} new units a day (the average of "
            f"its last {window} day{'s' if window != 1 else ''}"
            + (f", times {multiplier:g})" if multiplier != 1 else ")")
        )
    return notes


def _correction_note(
    comparisons: int, alpha: float, correction: PowerCorrection | None
) -> list[str]:
    if comparisons < 2 or correction is not None:
        return []
    family = -math.expm1(comparisons * math.log1p(-alpha))
    note = (
        f"{comparisons} treatment arms are each compared with control at alpha == {alpha:g} "
        f"without correction: the chance of at least one false positive is up to "
        f"{family:.1%}; pass correction='bonferroni' (and analyze with the same)"
    )
    return [note]


# ---------------------------------------------------------------------------- from history
def power_plan_from_history(
    data: object,
    *,
    metric: PlannableMetric,
    date: str | None = None,
    unit: str | None = None,
    variant: str | None = None,
    arm: object = None,
    traffic_multiplier: float = 1.0,
    integer_days: bool = False,
    start: object = None,
    end: object = None,
    mde: float | None = None,
    mde_type: MarginType = "relative",
    alpha: float = 0.05,
    power: float | None = 0.8,
    alternative: Alternative | None = None,
    margin: float | None = None,
    arms: int | None = None,
    split: Sequence[float] | None = None,
    correction: PowerCorrection | None = None,
    traffic: float = 1.0,
    days: int | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
    sequential: SequentialMethod | None = None,
    looks: int = 5,
    spending: SpendingName = DEFAULT_SPENDING,
    tau: float | None = None,
) -> PowerPlan:
    """Plan from a past period of the data the experiment will use.

    Two queries run in the engine holding ``data``: the metric's moments over the period (its
    baseline, variance, a ratio's delta-method variance, the cross-moments with covariates
    that give the expected CUPED or regression reduction), and the number of units first seen
    on each day, cumulated, which sets how many units a duration enrolls. Past the end of the
    history, units are extrapolated linearly at the last week's rate of new units (a note says
    so).

    Args:
        data: One row per unit, in any engine `ablens.data.compute_moments` accepts (aggregate
            events per unit first with `ablens.data.aggregate_events`).
        metric: A `Mean`, `Proportion`, `Ratio` or any metric whose kind is plannable (with
            covariates for CUPED).
        date: Column of each unit's first day, a date or a timestamp (required: None, or a
            name the data lacks, is an error saying how to plan from parameters instead). A
            timestamp is cut into days by the engine's own clock: keep it naive or in UTC (or
            use a date column) for days that agree across engines.
        unit: Unit id column; without it each row is a unit. A unit's repeated rows count
            once, on its first day, as one row: a mean's and a ratio's columns summed over the
            rows (its total revenue, orders, sessions), a proportion's column its largest value
            (converted on any row), covariates the unit's one value (a covariate that varies
            within a unit is an error). Other metric kinds refuse repeated unit ids.
        variant: Arm column of a past experiment: plan from one arm's units (with ``arm``).
        arm: The arm label read (with ``variant``), e.g. the old control.
        traffic_multiplier: Factor, >= 1, from the history's units to the experiment's: 2 when
            the arm read had half of the traffic. It scales the units entering by each day
            (and the extrapolated daily rate), so the days needed; the baseline, sd and
            variance reduction are the arm's own and stay as read.
        integer_days: Accept an integer ``date`` column as consecutive day numbers (an
            integer is refused otherwise: a week number or a yyyymmdd code would count days
            wrongly).
        start: First day kept (inclusive), of the date column's type (a date or datetime for
            a date or timestamp column). On a timestamp column with a time zone, a naive
            bound is a time in that zone; on one without, an aware bound is converted to UTC.
        end: Day after the last one kept (exclusive), likewise.
        mde: Minimum detectable effect (None to solve for it with ``days``).
        mde_type: "relative" (default) or "absolute".
        alpha: Family-wise significance level.
        power: Target power (None to compute it with ``mde`` and ``days``).
        alternative: Defaults to the metric's.
        margin: Defaults to the metric's.
        arms: Number of arms including control.
        split: Share of units per arm, control first.
        correction: "bonferroni", "sidak" or None.
        traffic: Share of the (multiplied) history's units the experiment will enroll, in
            (0, 1].
        days: Duration for the inverse modes.
        experiment_id: Tag for the SQL comments (cost attribution), as in `ablens.analyze`.
        team: Team tag, likewise.
        sequential: "group-sequential", "msprt" or "confidence-sequence" to plan a design
            that may stop early (see `plan`); None for a fixed horizon.
        looks: Number of equally spaced looks of the sequential design.
        spending: Alpha-spending family of the group-sequential design.
        tau: The mSPRT's mixing standard deviation (None: `ablens.default_tau` at the maximum).

    Returns:
        The plan, with the history's summary.

    Raises:
        InputError: On invalid arguments.
        DataError: On missing columns, a date column that is not a date or timestamp, NULL
            unit ids or values, repeated units a metric cannot combine, an empty period or arm,
            a metric that does not vary.

    Examples:
        >>> import numpy as np, polars as pl
        >>> import ablens
        >>> rng = np.random.default_rng(7)
        >>> users = pl.DataFrame(
        ...     {
        ...         "day": rng.integers(0, 14, 20_000),
        ...         "converted": rng.random(20_000) < 0.1,
        ...     }
        ... )
        >>> p = power_plan_from_history(
        ...     users,
        ...     metric=ablens.Proportion("converted"),
        ...     date="day",
        ...     integer_days=True,
        ...     mde=0.2,
        ... )
        >>> p.days, p.history.units
        (6, 20000)
        >>> print(p.warnings[0])
        the experiment would run 6 days, under a full week: weekday and weekend users differ;
        run whole weeks so every weekday counts the same (plan 7 days, 1 week)
    """
    metric = _check_metric(metric)
    if date is None:
        raise InputError(NO_DATE)
    check_name("date", date)
    for name, column in (("unit", unit), ("variant", variant)):
        if column is not None:
            check_name(name, column)
    design = _Sequential.of(sequential, looks, spending, tau)
    share = check_positive("traffic", traffic)
    if share > 1:
        raise InputError(f"traffic == {share!r}, must be in (0, 1]: a share of the history's units")
    multiplier = check_positive("traffic_multiplier", traffic_multiplier)
    if multiplier < 1:
        raise InputError(
            f"traffic_multiplier == {multiplier!r}, must be >= 1 (2 when the history's arm had "
            "half the traffic); to enroll a share of the history's units, pass traffic"
        )
    read = read_history(
        data,
        columns=metric.required_columns(),
        pairs=metric.required_pairs(),
        date=date,
        unit=unit,
        combine=_unit_combination(metric) if unit is not None else None,
        variant=variant,
        arm=arm,
        integer_days=integer_days,
        start=start,
        end=end,
        experiment_id=experiment_id,
        team=team,
    )
    baseline = _baseline_from_moments(metric, read.moments)
    history = HistorySummary(
        **vars(read), correlation=baseline.correlation, traffic_multiplier=multiplier
    )
    flow = _Traffic(
        cumulative=history.cumulative_units,
        share=share * multiplier,
        recent=history.recent_daily_units,
    )
    return _plan(
        baseline,
        traffic=flow,
        mde=mde,
        mde_type=mde_type,
        alpha=alpha,
        power=power,
        alternative=alternative,
        margin=margin,
        arms=arms,
        split=split,
        correction=correction,
        days=days,
        n=None,
        history=history,
        sequential=design,
    )


#: Why a history needs a date column, and what to do without one.
NO_DATE = (
    "date is None: planning from history needs the column of each unit's first day (a date "
    "or timestamp) to count the units entering per day; without one, plan from parameters: "
    "ablens.power_plan(baseline_rate=... or mean=..., sd=..., daily_traffic=...) (CLI: ablens "
    "power --baseline-rate / --mean --sd with --daily-traffic)"
)


def _unit_combination(metric: PlannableMetric) -> dict[str, UnitCombine] | None:
    """How a unit's repeated rows combine, per column, for the kinds that can (None: refuse).

    A mean's and a ratio's columns are additive (a unit's revenue, orders, sessions over its
    rows), a proportion's 0/1 column is "converted on any row", and a covariate is a unit's one
    pre-period value. Other kinds (a quantile, an external kind) say nothing of how their
    columns add, so their repeated rows are refused.
    """
    rule: UnitCombine
    match kind_of(metric).name:
        case "mean" | "ratio":
            rule = "sum"
        case "proportion":
            rule = "any"
        case _:
            return None
    covariates = set(metric.covariates)
    return {c: "same" if c in covariates else rule for c in metric.required_columns()}


#: The names before 0.2 (they read like the analysis plan's): old -> new, with a warning.
__getattr__, _ = lazy_attributes(
    __name__,
    {},
    {
        "plan": (__name__, "power_plan"),
        "Plan": (__name__, "PowerPlan"),
        "PlanDay": (__name__, "PowerPlanDay"),
        "PlanSequential": (__name__, "PowerPlanSequential"),
        "plan_from_history": (__name__, "power_plan_from_history"),
    },
    removal="ablens 0.3",
)
