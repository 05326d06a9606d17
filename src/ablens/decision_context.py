"""What a decision needs around the verdict: dates, traffic, chance, impact, time still needed.

The hosted experimentation tools show, beside the verdict, when the experiment ran and on how
much traffic, the lift over time, the chance that the treatment beats control, what the lift
would be worth, and for an experiment that must keep running how much longer and what it can then
detect. `decision_context` computes those from what a readout already holds; it reads no data
itself (`context_looks` runs the one query per primary metric that gives the looks over time).

The rules, stated once here for every face:

* **Dates and traffic** come from the plan's ``time`` column (each unit's exposure day or date):
  the first and last looks, the days run (last - first + 1, gaps included) and the units a day
  (all arms' units / days run). A column of day numbers gives dates only with
  ``planned.start_date`` (the first look is that date). Without a ``time`` column nothing is
  guessed: `DecisionContext.missing` says what to add.
* **Chance to beat control** is the normal posterior of the effect with a flat prior,
  ``Phi(effect / se)`` in the metric's good direction (`ablens.normal_posterior`); when the
  plan asks for the Bayesian reading, that reading's chance instead (a proportion's
  Beta(1, 1)-binomial posterior), so the context and the Bayesian table show one number.
* **Projected impact** at the current traffic: ``effect × units a day × 30`` (a month), with
  the effect's confidence interval scaled the same way, for the kinds whose effect is a change in
  a per-unit average (`ablens.metrics.MetricKind.totals`: means and rates). The units are the
  experiment's own traffic, all arms together (what a full rollout of the same population
  would see); an experiment on a share of the traffic understates the total.
* **Keep running** (only for the verdict "Inconclusive — keep running", with a known traffic):
  the days still needed and what is then detectable, from `ablens.calculator.calculator_plan`
  (so the calculator link shows the same numbers) at the observed baseline and per-unit spread
  (``se / sqrt(1/n_c + 1/n_t)``, after any covariate adjustment), the plan's power, the
  comparison's alpha (Bonferroni over its correction family, as the sequential readout) and the
  current units a day. The target is the plan's: its ``planned.sample_size`` or
  ``planned.duration_days`` when set (the days to reach them, and the MDE detectable then);
  a plan sets no MDE. Without either, the target is the current effect: the days until a true
  effect of the size now seen would be detected with the plan's power. The sizes are those of
  a fixed-horizon read at the end; a sequential design needs somewhat more (the calculator's
  Reading field says how much).

>>> import ablens
>>> from ablens.analysis_plan import plan_from_dict
>>> def arm(units, converted):
...     column = [1] * converted + [0] * (units - converted)
...     return ablens.Moments.from_columns({"converted": column})
>>> data = {"control": arm(10_000, 1_000), "treatment": arm(10_000, 1_040)}
>>> result = ablens.analyze(data, [ablens.Proportion("converted")], control="control")
>>> context = decision_context(result, units_per_day=2_000.0, days_run=10)
>>> round(context.metrics[0].impact)  # +0.4pp x 2,000 units a day x 30 days
240
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ablens import render
from ablens.decision import KEEP_RUNNING, days_still_needed
from ablens.errors import AblensError
from ablens.metrics.base import kind_named

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ablens.analysis_plan.model import AnalysisPlan
    from ablens.data.scan import ReadoutMoments
    from ablens.decision import Verdict
    from ablens.results import AnalysisResult, Comparison
    from ablens.sequential import LooksResult, SequentialReading

__all__ = [
    "DAYS_PER_MONTH",
    "DecisionContext",
    "KeepRunning",
    "LiftPoint",
    "MetricContext",
    "context_looks",
    "decision_context",
    "experiment_traffic",
]

#: Days in the month of the projected impact.
DAYS_PER_MONTH = 30
#: Beyond this many more days, the keep-running sentence says the wait is not worth it.
LONG_WAIT_DAYS = 365
#: Where the web calculator answers; its query string holds the inputs.
CALCULATOR_PATH = "/calculator"
NO_TIME = (
    "No time column in the plan: add time: <column> (each unit's exposure day or date) to see "
    "the dates, the traffic, the lift over time, the impact per month and the days still needed."
)

NO_PLAN = (
    "Read without a plan: analyze a plan with a time column (each unit's exposure day or date) "
    "to see the dates, the traffic, the lift over time, the impact per month and the days still "
    "needed."
)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _plain(value: Any) -> Any:  # noqa: ANN401 - look values are whatever the time column holds
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def _as_date(value: Any) -> dt.date | None:  # noqa: ANN401 - any time column value
    """A look value as a date, when it is one (a date, a datetime, an ISO date string)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, dt.date):
        value = item()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _as_day(value: Any) -> int | None:  # noqa: ANN401 - any time column value
    """A look value as a day number, when it is a whole number."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# ------------------------------------------------------------------------------- the objects
@dataclass(frozen=True)
class LiftPoint:
    """The effect on all units up to one look (a point of the lift-over-time chart).

    Attributes:
        look: The look's value of the time column.
        day: Days since the first look (0 for the first).
        date: The look's date, when known.
        units: Units in control and this treatment so far.
        estimate: The effect ``treatment - control`` so far.
        lower: Lower end of the band (the interval the readout judges by).
        upper: Upper end of the band.
    """

    look: Any
    day: int
    date: dt.date | None
    units: int
    estimate: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (non-finite numbers as None)."""
        return {
            "look": _plain(self.look),
            "day": self.day,
            "date": None if self.date is None else self.date.isoformat(),
            "units": self.units,
            "estimate": _finite(self.estimate),
            "lower": _finite(self.lower),
            "upper": _finite(self.upper),
        }


@dataclass(frozen=True)
class KeepRunning:
    """How much longer an inconclusive experiment must run, and what it can then detect.

    Attributes:
        target: "planned sample" (``planned.sample_size`` or ``planned.duration_days``) or
            "current effect" (no planned size: the effect now seen).
        extra_days: Days still needed at the current traffic (None with a ``reason``).
        total_days: Days from the first look to the end (days run + extra days).
        end_date: The last of those days, when the dates are known.
        detectable_effect: The absolute effect detectable by then with the plan's power.
        detectable_lift: The same as a lift (None when the control is zero).
        power: The power it is detected with.
        calculator_form: The calculator's fields that give these numbers.
        calculator_url: ``/calculator?<those fields>``.
        reason: Why there is no answer (None when there is one).
        note: A remark (the design is sized for one read at the end, ...), or None.
    """

    target: str
    extra_days: int | None = None
    total_days: int | None = None
    end_date: dt.date | None = None
    detectable_effect: float | None = None
    detectable_lift: float | None = None
    power: float = 0.8
    calculator_form: Mapping[str, str] = field(default_factory=dict)
    calculator_url: str | None = None
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "target": self.target,
            "extra_days": self.extra_days,
            "total_days": self.total_days,
            "end_date": None if self.end_date is None else self.end_date.isoformat(),
            "detectable_effect": _finite(self.detectable_effect),
            "detectable_lift": _finite(self.detectable_lift),
            "power": self.power,
            "calculator_form": dict(self.calculator_form),
            "calculator_url": self.calculator_url,
            "reason": self.reason,
            "note": self.note,
        }


@dataclass(frozen=True)
class MetricContext:
    """One primary comparison's context: chance to beat control, impact, time still needed.

    Attributes:
        metric: Metric name.
        treatment: Treatment arm.
        control: Control arm.
        kind: Metric kind.
        direction: "increase" or "decrease": which way is good.
        effect: The effect ``treatment - control``.
        effect_lower: Lower end of its confidence interval.
        effect_upper: Upper end of it.
        relative_effect: The lift (NaN when the control is zero).
        confidence_level: The interval's level.
        p_value: The p-value the verdict uses: the sequential reading's at the last look when
            the comparison has one, else the comparison's (adjusted when a correction applies).
        p_label: "p", or "sequential p" for a sequential reading's.
        p_at_least: True when ``p_value`` is a cap (the group-sequential repeated p-value is
            searched up to 0.5: "at least 0.5").
        probability_better: Chance to beat control (None when no posterior is defined).
        chance_model: "beta-binomial" or "normal", or None.
        units_per_day: The experiment's units a day, all arms (None without a time column).
        impact: ``effect × units a day × 30``: the change in the metric's total a month.
        impact_lower: The interval's lower end, scaled the same way.
        impact_upper: Its upper end.
        impact_reason: Why there is no impact (None when there is one).
        keep_running: The days still needed, for a "keep running" verdict; else None.
        series: The effect over time, one point per look.
        band: What the band around the effect is, in words.
        series_reason: Why there is no lift over time (None when there is one).
        time: The time column the series is read by, or None.
    """

    metric: str
    treatment: str
    control: str
    kind: str
    direction: str
    effect: float
    effect_lower: float
    effect_upper: float
    relative_effect: float
    confidence_level: float
    p_value: float
    p_label: str = "p"
    p_at_least: bool = False
    probability_better: float | None = None
    chance_model: str | None = None
    units_per_day: float | None = None
    impact: float | None = None
    impact_lower: float | None = None
    impact_upper: float | None = None
    impact_reason: str | None = None
    keep_running: KeepRunning | None = None
    series: tuple[LiftPoint, ...] = ()
    band: str = ""
    series_reason: str | None = None
    time: str | None = None

    @property
    def rate(self) -> bool:
        """True when the metric is a rate (effects in percentage points)."""
        return kind_named(self.kind).rate

    def effect_text(self, value: float | None = None) -> str:
        """An effect as shown: ``+0.44pp`` for a rate, ``+1.25`` otherwise."""
        value = self.effect if value is None else value
        if self.rate:
            return render.format_points(value)
        return render.format_number(value, 3, signed=True)

    @property
    def change_text(self) -> str:
        """``+0.44pp (+5.6%)``: the effect, and the lift when there is one."""
        text = self.effect_text()
        if math.isfinite(self.relative_effect):
            text += f" ({render.format_percent(self.relative_effect)})"
        return text

    @property
    def chance_text(self) -> str:
        """``97.3% chance to beat control`` (``—`` without a posterior)."""
        if self.probability_better is None:
            return "chance to beat control: —"
        return f"{_chance(self.probability_better)} chance to beat control"

    @property
    def p_text(self) -> str:
        """``p = 0.0123``, ``p < 0.001``, ``sequential p = 0.21``."""
        label = self.p_label
        if not math.isfinite(self.p_value):
            return f"{label} = —"
        if self.p_at_least:
            return f"{label} ≥ {self.p_value:g}"
        if self.p_value < 0.001:
            return f"{label} < 0.001"
        if self.p_value >= 0.01:
            return f"{label} = {self.p_value:.3f}"
        return f"{label} = {self.p_value:.4f}"

    @property
    def impact_sentence(self) -> str | None:
        """``+0.44pp ≈ 1,850 more units with conversion a month at the current traffic (...)``."""
        if self.impact is None or self.units_per_day is None:
            return None
        more = "more" if self.impact >= 0 else "fewer"
        if self.rate:
            what = f"{_signed_count(abs(self.impact)).lstrip('+')} {more} units with {self.metric}"
        else:
            what = f"{_signed_count(self.impact)} in total {self.metric}"
        interval = ""
        lower, upper = _finite(self.impact_lower), _finite(self.impact_upper)
        if lower is not None and upper is not None:
            interval = (
                f"; {self.confidence_level:.0%} interval "
                f"{_signed_count(lower)} to {_signed_count(upper)}"
            )
        return (
            f"{self.effect_text()} ≈ {what} a month at the current traffic "
            f"({self.units_per_day:,.0f} units a day{interval})."
        )

    @property
    def keep_running_sentence(self) -> str | None:
        """How many more days, and what is then detectable (None unless keep running)."""
        k = self.keep_running
        if k is None:
            return None
        if k.reason is not None:
            return f"{self.metric}: {k.reason}"
        assert k.extra_days is not None  # noqa: S101 - set whenever reason is None
        assert k.detectable_effect is not None  # noqa: S101
        detectable = self.effect_text(k.detectable_effect).lstrip("+")
        if k.detectable_lift is not None and self.rate:
            detectable += f" ({render.format_percent(k.detectable_lift, signed=False)} lift)"
        elif k.detectable_lift is not None:
            detectable = render.format_percent(k.detectable_lift, signed=False) + " lift"
        power = f"{k.power:.0%}"
        days = f"{k.extra_days:,} more day{'s' if k.extra_days != 1 else ''}"
        if k.end_date is not None and k.extra_days > 0:
            days += f" (until {_day(k.end_date)})"
        if k.extra_days == 0:
            text = (
                f"The data in already have {power} power for a change of ±{detectable} in "
                f"{self.metric}"
            )
        elif k.target == "current effect":
            text = (
                f"If the true effect on {self.metric} is the ±{detectable} seen so far, about "
                f"{days} at the current traffic would detect it with {power} power"
            )
        else:
            text = (
                f"About {days} reach the planned size; {self.metric} can then detect a change "
                f"of ±{detectable} with {power} power"
            )
        if k.extra_days > LONG_WAIT_DAYS:
            text += " (more than a year: an effect this small is not worth waiting for)"
        text += "."
        if k.note:
            text += f" {k.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (non-finite numbers as None)."""
        return {
            "metric": self.metric,
            "treatment": self.treatment,
            "control": self.control,
            "kind": self.kind,
            "direction": self.direction,
            "effect": _finite(self.effect),
            "effect_ci": [_finite(self.effect_lower), _finite(self.effect_upper)],
            "relative_effect": _finite(self.relative_effect),
            "confidence_level": self.confidence_level,
            "p_value": _finite(self.p_value),
            "p_label": self.p_label,
            "p_at_least": self.p_at_least,
            "probability_better": _finite(self.probability_better),
            "chance_model": self.chance_model,
            "impact": None
            if self.impact is None
            else {
                "days_per_month": DAYS_PER_MONTH,
                "units_per_month": None
                if self.units_per_day is None
                else self.units_per_day * DAYS_PER_MONTH,
                "per_month": _finite(self.impact),
                "lower": _finite(self.impact_lower),
                "upper": _finite(self.impact_upper),
                "sentence": self.impact_sentence,
            },
            "impact_reason": self.impact_reason,
            "keep_running": None
            if self.keep_running is None
            else {**self.keep_running.to_dict(), "sentence": self.keep_running_sentence},
            "lift_over_time": {
                "band": self.band,
                "points": [point.to_dict() for point in self.series],
                "reason": self.series_reason,
            },
        }

    def to_svg(self, *, inline: bool = False) -> str:
        """The effect over time with its band, as an SVG (empty without a series).

        Args:
            inline: Leave out the ``xmlns`` declaration, which an ``<svg>`` inside an HTML
                page does not need (so the page names no URL at all).
        """
        return _lift_svg(self, inline=inline) if self.series else ""

    @property
    def band_clipped(self) -> bool:
        """True when the chart cuts the band of the first looks at its edge."""
        if not self.series:
            return False
        low, high = _lift_range(self.series)
        return any(
            math.isfinite(v) and not low <= v <= high
            for p in self.series
            for v in (p.lower, p.upper)
        ) or any(math.isinf(v) for p in self.series for v in (p.lower, p.upper))


@dataclass(frozen=True)
class DecisionContext:
    """The decision context of a readout: when, how much traffic, and per primary metric.

    Attributes:
        time: The plan's time column, or None.
        first_look: The first value of the time column (a day number or a date).
        last_look: The last one.
        start_date: The first day, when known.
        end_date: The last day, when known.
        days_run: Days from the first look to the last, both included.
        units: Units in all arms.
        units_per_day: ``units / days_run`` (None without a time column).
        missing: What the context lacks and how to get it.
        metrics: One entry per primary comparison.
    """

    time: str | None = None
    first_look: Any = None
    last_look: Any = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    days_run: int | None = None
    units: int = 0
    units_per_day: float | None = None
    missing: tuple[str, ...] = ()
    metrics: tuple[MetricContext, ...] = ()

    @property
    def period_text(self) -> str | None:
        """``2026-03-02 → 2026-03-15 (14 days)`` or ``exposure_day 0 → 13 (14 days)``."""
        if self.days_run is None:
            return None
        days = f"{self.days_run} day{'s' if self.days_run != 1 else ''}"
        if self.start_date is not None and self.end_date is not None:
            return f"{_day(self.start_date)} → {_day(self.end_date)} ({days})"
        first, last = _plain(self.first_look), _plain(self.last_look)
        return f"{self.time} {first} → {last} ({days})"

    @property
    def traffic_text(self) -> str | None:
        """``13,286 units a day (186,000 in all)``."""
        if self.units_per_day is None:
            return None
        return f"{self.units_per_day:,.0f} units a day ({self.units:,} in all)"

    def lines(self) -> list[str]:
        """The context as text lines (what ``str`` and the CLI print)."""
        lines = []
        if self.period_text is not None:
            lines.append(f"Ran {self.period_text}; {self.traffic_text}.")
        for m in self.metrics:
            lines.append(
                f"{m.metric} ({m.treatment}): {m.change_text}, {m.p_text}, {m.chance_text}."
            )
            if m.impact_sentence is not None:
                lines.append(f"  {m.impact_sentence}")
            if m.keep_running_sentence is not None:
                lines.append(f"  {m.keep_running_sentence}")
            if m.keep_running is not None and m.keep_running.calculator_url is not None:
                lines.append(f"  Calculator: {m.keep_running.calculator_url}")
        lines += list(self.missing)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: the ``context`` entry of the readout's document."""
        return {
            "time": self.time,
            "first_look": _plain(self.first_look),
            "last_look": _plain(self.last_look),
            "start_date": None if self.start_date is None else self.start_date.isoformat(),
            "end_date": None if self.end_date is None else self.end_date.isoformat(),
            "days_run": self.days_run,
            "units": self.units,
            "units_per_day": self.units_per_day,
            "missing": list(self.missing),
            "metrics": [m.to_dict() for m in self.metrics],
        }

    def to_html(self) -> str:
        """The context as an HTML section (the report places it under the verdict)."""
        return _context_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def _chance(value: float) -> str:
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return f"{100 * value:.1f}%"


def _signed_count(value: float) -> str:
    """``+1,850``, ``−19,239``; below 100 in magnitude, 3 significant digits (``+0.25``)."""
    sign = "+" if value > 0 else "−" if value < 0 else ""
    if abs(value) >= 100:
        return f"{sign}{abs(value):,.0f}"
    return sign + render.format_number(abs(value), 3)


def _method_name(method: str) -> str:
    """A sequential method as the readings' sentences name it ("mSPRT")."""
    return {"msprt": "mSPRT"}.get(method, method)


def _day(date: dt.date) -> str:
    return date.isoformat()


# ------------------------------------------------------------------------------- the looks
def context_looks(
    plan: AnalysisPlan,
    result: AnalysisResult,
    data: object,
    sequential: Sequence[SequentialReading] = (),
    scanned: ReadoutMoments | None = None,
) -> dict[tuple[str, str], LooksResult | str]:
    """The looks over time of every primary comparison, for the lift-over-time chart.

    A comparison with a sequential reading reuses its looks (no query); any other runs one
    engine query (`ablens.sequential.analyze_looks` with ``method="fixed"``), or none with
    ``scanned`` (the readout's one scan by the ``time`` column: its looks are merged from it).
    Without a ``time`` column in the plan, nothing runs.

    Args:
        plan: The plan (its ``time`` column, arms, unit).
        result: Its analysis (which comparisons are primary, their alpha and sides).
        data: The opened table.
        sequential: The readout's sequential readings.
        scanned: The readout's one scan, or None.

    Returns:
        (metric, treatment) -> the looks, or why there are none.
    """
    if plan.time is None:
        return {}
    read = {(r.metric, r.treatment): r for r in sequential}
    specs = {spec.name: spec for spec in plan.metrics}
    found: dict[tuple[str, str], LooksResult | str] = {}
    for c in result.comparisons:
        if c.role != "primary":
            continue
        key = (c.metric, c.treatment)
        reading = read.get(key)
        if reading is not None and reading.looks is not None:
            found[key] = reading.looks
            continue
        kind = kind_named(c.kind)
        if not kind.looks or c.metric not in specs:
            found[key] = f"no lift over time: {kind.no_looks or 'not read by look'}"
            continue
        from ablens.sequential import analyze_looks, read_looks  # noqa: PLC0415 - on use

        options: dict[str, Any] = {
            "control": plan.control,
            "treatment": c.treatment,
            "method": "fixed",
            "alpha": 1.0 - c.result.confidence_level,
            "alternative": c.result.alternative,
        }
        try:
            metric = specs[c.metric].to_metric()
            if scanned is not None and scanned.time == plan.time:
                found[key] = read_looks(scanned.cumulative(), metric, **options)
            else:
                found[key] = analyze_looks(
                    data,
                    metric,
                    variant=plan.variant,
                    time=plan.time,
                    unit=plan.unit,
                    experiment_id=plan.experiment_id,
                    team=plan.team,
                    **options,
                )
        except AblensError as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            found[key] = f"the looks over time failed: {first}"
    return found


# ------------------------------------------------------------------------------- composing
def experiment_traffic(
    result: AnalysisResult,
    plan: AnalysisPlan | None,
    looks: Mapping[tuple[str, str], LooksResult | str] | None,
) -> tuple[int | None, float | None]:
    """The days the data span and the units a day, from the looks of the time column.

    What the verdict counts the days still needed with (`ablens.decision.verdict`'s
    ``days_run`` and ``units_per_day``), so that it and the context agree.

    Returns:
        ``(days_run, units_per_day)``, or ``(None, None)`` without a time column or looks.
    """
    if plan is None or plan.time is None or not looks:
        return None, None
    found = [v for v in looks.values() if not isinstance(v, str)]
    days_run = _span(found, plan)[2]
    if days_run is None or days_run <= 0:
        return None, None
    return days_run, sum(result.counts) / days_run


def _span(
    looks: Sequence[LooksResult], plan: AnalysisPlan | None
) -> tuple[Any, Any, int | None, dt.date | None, str | None]:
    """First and last look, days run, first date; or why the days cannot be counted."""
    values = [row.look for found in looks for row in found.rows]
    if not values:
        return None, None, None, None, "No look over time could be read, so the dates are unknown."
    first, last = min(values), max(values)
    first_date, last_date = _as_date(first), _as_date(last)
    if first_date is not None and last_date is not None:
        return first, last, (last_date - first_date).days + 1, first_date, None
    first_day, last_day = _as_day(first), _as_day(last)
    if first_day is not None and last_day is not None:
        start = None if plan is None else plan.planned.start_date
        return first, last, last_day - first_day + 1, start, None
    return (
        first,
        last,
        None,
        None,
        "The time column holds neither dates nor day numbers, so the days run are unknown.",
    )


def _series(
    found: LooksResult,
    first: Any,  # noqa: ANN401 - a value of the time column
    start: dt.date | None,
    sequential: bool,
) -> tuple[tuple[LiftPoint, ...], str]:
    points = []
    first_date, first_day = _as_date(first), _as_day(first)
    for row in found.rows:
        date = _as_date(row.look)
        if date is not None and first_date is not None:
            day = (date - first_date).days
        else:
            number = _as_day(row.look)
            day = row.index - 1 if number is None or first_day is None else number - first_day
            date = None if start is None else start + dt.timedelta(days=day)
        lower, upper = (
            (row.sequential_lower, row.sequential_upper)
            if sequential
            else (row.ci_lower, row.ci_upper)
        )
        points.append(
            LiftPoint(
                row.look,
                day,
                date,
                row.control_units + row.treatment_units,
                row.estimate,
                lower,
                upper,
            )
        )
    if sequential:
        band = (
            f"its {_method_name(found.method)} interval, valid however often it is read (what "
            "the verdict reads)"
        )
    else:
        band = (
            f"its {1 - found.alpha:.0%} interval as if read only that day (reading it daily "
            "and stopping on a good day inflates false positives)"
        )
    return tuple(points), band


def _calculator(form: dict[str, str]) -> tuple[Any, str]:
    from ablens.calculator import calculator_plan, calculator_query  # noqa: PLC0415 - on use

    plan = calculator_plan(form)
    return plan, f"{CALCULATOR_PATH}?{calculator_query(form)}"


def _keep_running(
    c: Comparison,
    plan: AnalysisPlan | None,
    arms: int,
    units: int,
    units_per_day: float | None,
    days_run: int | None,
    last: dt.date | None = None,
    today: dt.date | None = None,
) -> KeepRunning:
    planned = None if plan is None else plan.planned
    power = 0.8 if planned is None else planned.power
    by_plan = planned is not None and (
        planned.sample_size is not None or planned.duration_days is not None
    )
    target = "planned sample" if by_plan else "current effect"
    if units_per_day is None or days_run is None:
        return KeepRunning(target, power=power, reason="the traffic is unknown (no time column).")
    r = c.result
    kind = kind_named(c.kind)
    if kind.posterior is None or not (math.isfinite(r.standard_error) and r.standard_error > 0):
        return KeepRunning(
            target,
            power=power,
            reason=f"no duration estimate for a {kind.title.lower()} metric (no standard error "
            "to plan from).",
        )
    family = c.family_size if plan is not None and plan.correction is not None else 1
    alpha = c.alpha / family
    proportion = kind.posterior == "beta-binomial" and 0 < r.control_estimate < 1
    relative = r.control_estimate != 0 and math.isfinite(r.control_estimate)
    # The calculator (power plans) loads on first use: only a running experiment needs it.
    from ablens.calculator import CALCULATOR_DEFAULTS  # noqa: PLC0415

    form = {
        **CALCULATOR_DEFAULTS,
        "kind": "proportion" if proportion else "mean",
        "baseline": f"{100 * r.control_estimate:.4g}%"
        if proportion
        else f"{r.control_estimate:.6g}",
        "mde_type": "relative" if relative else "absolute",
        "alpha": f"{alpha:.4g}",
        "power": f"{power:.4g}",
        "sides": r.alternative,
        "arms": str(arms),
        "traffic": f"{round(units_per_day)}",
        "mde": "",
        "days": "",
        "sd": "",
    }
    if not proportion:
        spread = r.standard_error / math.sqrt(1 / c.control_count + 1 / c.treatment_count)
        form["sd"] = f"{spread:.4g}"
    note = None
    if plan is not None and plan.sequential != "none":
        note = (
            f"Sized for one read at the end; the plan's {_method_name(plan.sequential)} reading "
            "needs somewhat "
            "more (the calculator's Reading field says how much)."
        )
    if by_plan:
        assert planned is not None  # noqa: S101 - by_plan
        # The verdict's own count of the days still needed, at the same traffic.
        extra = days_still_needed(
            units, planned, today=today, days_run=days_run, units_per_day=units_per_day
        )
        form["days"] = str(days_run + (extra or 0))
        form["solve"] = "mde"  # "What can I detect in N days?"
    else:
        form["solve"] = "duration"  # "How long do I need?" for the effect seen so far
        if not (math.isfinite(r.effect) and r.effect != 0):
            return KeepRunning(
                target, power=power, reason="the effect so far is zero: no duration detects it."
            )
        if relative:
            form["mde"] = f"{100 * abs(r.effect / r.control_estimate):.3g}%"
        else:
            form["mde"] = f"{abs(r.effect):.3g}"
    try:
        solved, url = _calculator(form)
    except AblensError as error:
        return KeepRunning(target, power=power, reason=f"no duration estimate: {error}")
    total = max(int(solved.days) if solved.days is not None else days_run, days_run)
    return KeepRunning(
        target,
        extra_days=total - days_run,
        total_days=total,
        end_date=None if last is None else last + dt.timedelta(days=total - days_run),
        detectable_effect=abs(solved.effect),
        detectable_lift=abs(solved.relative_effect) if relative else None,
        power=power,
        calculator_form=form,
        calculator_url=url,
        note=note,
    )


def _when(
    looks: Mapping[tuple[str, str], LooksResult | str], plan: AnalysisPlan | None
) -> tuple[Any, Any, int | None, dt.date | None, list[str]]:
    """First and last look, days run, first date, and what is missing to say more."""
    if plan is None:
        return None, None, None, None, [NO_PLAN]
    if plan.time is None:
        return None, None, None, None, [NO_TIME]
    found = [v for v in looks.values() if not isinstance(v, str)]
    first, last, days_run, start, why = _span(found, plan)
    missing = [] if why is None else [why]
    if start is None and first is not None and _as_day(first) is not None:
        missing.append(
            f"{plan.time} holds day numbers: set planned.start_date in the plan to show dates."
        )
    return first, last, days_run, start, missing


def _normal_chance(c: Comparison) -> tuple[float | None, str | None]:
    """``Phi(effect / se)`` in the good direction: the flat-prior normal posterior's chance."""
    from ablens.stats.bayesian import normal_posterior  # noqa: PLC0415 - scipy.special, on use

    r = c.result
    kind = kind_named(c.kind)
    if kind.posterior is None or not (math.isfinite(r.standard_error) and r.standard_error > 0):
        return None, None
    if not math.isfinite(r.effect):
        return None, None
    direction: Literal["increase", "decrease"] = (
        "decrease" if c.direction == "decrease" else "increase"
    )
    posterior = normal_posterior(r.effect, r.standard_error, direction=direction)
    return posterior.probability_better, "normal"


def _impact(
    c: Comparison, units_per_day: float | None
) -> tuple[float | None, float | None, float | None, str | None]:
    """``effect × units a day × 30`` and its interval, or why there is none."""
    kind = kind_named(c.kind)
    if not kind.totals:
        reason = (
            f"no monthly total for a {kind.title.lower()} metric: its effect is not a change in "
            "a per-unit average"
        )
        return None, None, None, reason
    if units_per_day is None:
        return None, None, None, "the traffic is unknown (no time column)"
    monthly = units_per_day * DAYS_PER_MONTH
    r = c.result
    return r.effect * monthly, r.effect_ci_lower * monthly, r.effect_ci_upper * monthly, None


def decision_context(
    result: AnalysisResult,
    plan: AnalysisPlan | None = None,
    decision: Verdict | None = None,
    *,
    looks: Mapping[tuple[str, str], LooksResult | str] | None = None,
    chances: Mapping[tuple[str, str], tuple[float | None, str | None]] | None = None,
    units_per_day: float | None = None,
    days_run: int | None = None,
    today: dt.date | None = None,
) -> DecisionContext:
    """The decision context of an analysis: dates, traffic and, per primary metric, the rest.

    Args:
        result: The analysis.
        plan: Its plan (time column, planned sample, power, correction), or None.
        decision: The verdict; the days still needed are given only when it says keep running.
        looks: The primary comparisons' looks over time (`context_looks`); they give the
            dates, the days run and the traffic.
        chances: (metric, treatment) -> (chance to beat control, model), from the readout's
            Bayesian reading when the plan asks for one (so the context and the Bayesian table
            agree); a comparison not in it gets the flat-prior normal approximation,
            ``Phi(effect / se)`` (`ablens.normal_posterior`), or None without a posterior.
        units_per_day: The traffic, when known otherwise (no looks): overrides the looks'.
        days_run: The days run, likewise.
        today: The date the verdict counts days from (default: today, UTC), for the days
            still needed when the plan has a ``planned.start_date``.

    Returns:
        The context.
    """
    looks = looks or {}
    chances = chances or {}
    units = sum(result.counts)
    missing: list[str] = []
    first = last = start = None
    sequential = plan is not None and plan.sequential != "none"
    if units_per_day is None:
        first, last, days_run, start, missing = _when(looks, plan)
        if days_run is not None and days_run > 0:
            units_per_day = units / days_run
    end = None if start is None or days_run is None else start + dt.timedelta(days=days_run - 1)
    keep = decision is not None and decision.label == KEEP_RUNNING
    metrics = []
    for c in result.comparisons:
        if c.role != "primary":
            continue
        r = c.result
        chance, model = chances.get((c.metric, c.treatment)) or _normal_chance(c)
        p_value, p_label, p_at_least = c.p_value, "p", False
        impact, lower, upper, impact_reason = _impact(c, units_per_day)
        entry = looks.get((c.metric, c.treatment))
        series: tuple[LiftPoint, ...] = ()
        band, series_reason = "", None
        if isinstance(entry, str):
            series_reason = entry
        elif entry is not None:
            series, band = _series(entry, first, start, sequential)
            if sequential and entry.rows:  # the verdict reads the sequential p-value
                last_row = entry.rows[-1]
                p_value, p_label = last_row.sequential_p_value, "sequential p"
                p_at_least = last_row.sequential_p_value_capped
        elif plan is None or plan.time is None:
            series_reason = "no time column"
        metrics.append(
            MetricContext(
                metric=c.metric,
                treatment=c.treatment,
                control=c.control,
                kind=c.kind,
                direction=c.direction,
                effect=r.effect,
                effect_lower=r.effect_ci_lower,
                effect_upper=r.effect_ci_upper,
                relative_effect=r.relative_effect,
                confidence_level=r.confidence_level,
                p_value=p_value,
                p_label=p_label,
                p_at_least=p_at_least,
                probability_better=chance,
                chance_model=model,
                units_per_day=units_per_day,
                impact=impact,
                impact_lower=lower,
                impact_upper=upper,
                impact_reason=impact_reason,
                keep_running=_keep_running(
                    c, plan, len(result.arms), units, units_per_day, days_run, end, today
                )
                if keep
                else None,
                series=series,
                band=band,
                series_reason=series_reason,
                time=None if plan is None else plan.time,
            )
        )
    return DecisionContext(
        time=None if plan is None else plan.time,
        first_look=first,
        last_look=last,
        start_date=start,
        end_date=end,
        days_run=days_run,
        units=units,
        units_per_day=units_per_day,
        missing=tuple(missing),
        metrics=tuple(metrics),
    )


# ------------------------------------------------------------------------------- HTML and SVG
#: The context block's styles (the report adds them to its own).
CONTEXT_CSS = """
.ablens-report .context { margin: 16px 0 0; }
.ablens-report .context dl { display: grid; grid-template-columns: max-content 1fr;
  gap: 2px 12px; margin: 0; }
.ablens-report .context dt { color: var(--muted, #57606a); }
.ablens-report .context dd { margin: 0; }
.ablens-report .context .metric-context { margin: 12px 0 0; }
.ablens-report .context .metric-context h3 { font-size: 16px; margin: 0 0 4px; }
.ablens-report .context .metric-context p { margin: 4px 0; }
.ablens-report .context .stats { font-variant-numeric: tabular-nums; }
.ablens-report .context .chance { font-weight: 600; }
.ablens-report .context figure { margin: 8px 0 0; max-width: 520px; }
.ablens-report .context figure svg { width: 100%; height: auto; display: block; }
.ablens-report .context figcaption { font-size: 13px; color: var(--muted, #57606a); }
.ablens-report .context .missing { font-size: 13px; color: var(--muted, #57606a); }
"""


def _context_html(context: DecisionContext) -> str:
    e = html.escape
    parts = ['<section class="context" aria-label="context"><h2>Context</h2>']
    if context.period_text is not None:
        parts.append(
            f"<dl><dt>Ran</dt><dd>{e(context.period_text)}</dd>"
            f"<dt>Traffic</dt><dd>{e(context.traffic_text or '—')}</dd></dl>"
        )
    for m in context.metrics:
        parts.append('<div class="metric-context">')
        parts.append(f"<h3>{e(m.metric)} <small>({e(m.treatment)} vs {e(m.control)})</small></h3>")
        parts.append(
            f'<p class="stats">{e(m.change_text)} · {e(m.p_text)} · '
            f'<span class="chance">{e(m.chance_text)}</span></p>'
        )
        if m.impact_sentence is not None:
            parts.append(f'<p class="impact">{e(m.impact_sentence)}</p>')
        sentence = m.keep_running_sentence
        if sentence is not None:
            link = ""
            k = m.keep_running
            if k is not None and k.calculator_url is not None:
                link = (
                    f' <a class="calculator-link" href="{e(k.calculator_url)}">'
                    "Open the calculator with these numbers</a>"
                )
            parts.append(f'<p class="keep-running">{e(sentence)}{link}</p>')
        if m.series:
            cut = " The first days' band is cut at the chart's edge." if m.band_clipped else ""
            parts.append(
                f"<figure>{m.to_svg(inline=True)}<figcaption>Effect over time. The line: the "
                f"effect on all units up to each day. The band: {e(m.band)}.{cut}</figcaption>"
                "</figure>"
            )
        parts.append("</div>")
    if context.missing:
        parts.append("".join(f'<p class="missing">{e(line)}</p>' for line in context.missing))
    parts.append("</section>")
    return "".join(parts)


# A small drawing scaled to the page's width: its 13-unit text stays about 12 px on a 390 px
# phone and about 18 px at the 520 px the chart is given on a wide screen.
_W, _H = 380, 230
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 42
_XMLNS = ' xmlns="http://www.w3.org/2000/svg"'
_INK, _SOFT, _BAND = "#1f2328", "#57606a", "#0969da"  # 16:1, 6.1:1 and 5.0:1 on white


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    span = high - low
    if span <= 0 or not math.isfinite(span):
        return [low]
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = start
    while value <= high + 1e-9 * step:
        ticks.append(0.0 if abs(value) < 1e-12 * step else value)
        value += step
    return ticks


def _lift_range(points: Sequence[LiftPoint]) -> tuple[float, float]:
    """Zero, the estimates and the bands after the first quarter of the looks.

    The first days' bands can be many times wider than the rest; they are cut at the chart's
    edge (the caption says so) so that the later days stay readable.
    """
    values = [0.0, *(p.estimate for p in points)]
    later = points[len(points) // 4 :]
    values += [v for p in later for v in (p.lower, p.upper) if math.isfinite(v)]
    low, high = min(values), max(values)
    if high - low <= 0:
        low, high = low - 1.0, high + 1.0
    pad = 0.08 * (high - low)
    return low - pad, high + pad


def _lift_svg(m: MetricContext, *, inline: bool = False) -> str:
    points = m.series
    e = html.escape
    scale = 100.0 if m.rate else 1.0
    low, high = _lift_range(points)
    ticks = _nice_ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    left, right, top, bottom = _LEFT, _W - _RIGHT, _TOP, _H - _BOTTOM
    last_day = max(points[-1].day, 1)

    def x_of(day: int) -> float:
        return left + (right - left) * day / last_day

    def y_of(value: float) -> float:
        clipped = min(max(value, low), high)
        return bottom - (bottom - top) * (clipped - low) / (high - low)

    unit = " (pp)" if m.rate else ""
    parts = [
        (
            f'<svg{"" if inline else _XMLNS} viewBox="0 0 {_W} {_H}" role="img" '
            f'aria-label="{e(m.metric)}: effect over time" font-family="system-ui, sans-serif" '
            'font-size="13">'
        ),
        f"<title>{e(m.metric)}: effect of {e(m.treatment)} over time, with its band</title>",
        f'<rect width="{_W}" height="{_H}" fill="#ffffff" rx="4"/>',
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" '
            'stroke-width="1"/>'
        )
        label = render.format_number(tick * scale, 3, signed=tick != 0)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{_SOFT}">'
            f"{e(label)}</text>"
        )
    finite = [p for p in points if math.isfinite(p.lower) and math.isfinite(p.upper)]
    if finite:
        outline = [(x_of(p.day), y_of(p.upper)) for p in finite] + [
            (x_of(p.day), y_of(p.lower)) for p in reversed(finite)
        ]
        if len(finite) == 1:
            x = outline[0][0]
            top_y, bottom_y = outline[0][1], outline[1][1]
            outline = [(x - 3, top_y), (x + 3, top_y), (x + 3, bottom_y), (x - 3, bottom_y)]
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)
        parts.append(f'<polygon points="{coordinates}" fill="{_BAND}" fill-opacity="0.14"/>')
        for attribute in ("upper", "lower"):
            edge = " ".join(f"{x_of(p.day):.1f},{y_of(getattr(p, attribute)):.1f}" for p in finite)
            parts.append(
                f'<polyline points="{edge}" fill="none" stroke="{_BAND}" stroke-width="1.5"/>'
            )
    zero = y_of(0.0)
    parts.append(
        f'<line x1="{left}" x2="{right}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="{_SOFT}" '
        'stroke-width="1.5" stroke-dasharray="5 3"/>'
    )
    path = " ".join(f"{x_of(p.day):.1f},{y_of(p.estimate):.1f}" for p in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{_INK}" stroke-width="2.5"/>')
    for p in points:
        when = p.date.isoformat() if p.date is not None else f"{_plain(p.look)}"
        parts.append(
            f'<circle cx="{x_of(p.day):.1f}" cy="{y_of(p.estimate):.1f}" r="3" fill="{_INK}">'
            f"<title>{e(when)}: {e(m.effect_text(p.estimate))} "
            f"[{e(m.effect_text(p.lower))}, {e(m.effect_text(p.upper))}], "
            f"{p.units:,} units</title></circle>"
        )
    parts.append(
        f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{_SOFT}"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="{_SOFT}"/>'
    )
    last = len(points) - 1
    for i in sorted({0, last // 2, last}) if last != 1 else [0, 1]:
        p = points[i]
        text = p.date.strftime("%b %-d") if p.date is not None else str(_plain(p.look))
        anchor = "middle"
        if last > 0 and i in (0, last):
            anchor = "start" if i == 0 else "end"
        parts.append(
            f'<text x="{x_of(p.day):.1f}" y="{bottom + 16}" text-anchor="{anchor}" '
            f'fill="{_SOFT}">{e(text)}</text>'
        )
    x_title = "date" if points[0].date is not None else (m.time or "day")
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{_H - 8}" text-anchor="middle" fill="{_INK}">'
        f"{e(x_title)}</text>"
    )
    y_mid = (top + bottom) / 2
    parts.append(
        f'<text transform="translate(13 {y_mid:.1f}) rotate(-90)" text-anchor="middle" '
        f'fill="{_INK}">{e("effect so far" + unit)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
