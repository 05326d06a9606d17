"""Results looked at over time: one metric, every look, with bounds valid under peeking.

`analyze_looks` reads the per-arm moments of all units up to each look (a day, a date) in one
engine query (`ablens.cumulative_moments`), compares the arms at every look with the metric's
own ``compare`` (estimate and standard error), and runs the chosen sequential method over the
looks:

* ``"group-sequential"``: Lan-DeMets alpha spending (`ablens.group_sequential_test`) at the
  information fractions ``units so far / planned_units``; the sequential interval is the repeated
  confidence interval and the sequential p-value the repeated p-value (searched up to 0.5: a cap
  shown as ``≥0.5`` and flagged ``sequential_p_value_capped``);
* ``"msprt"``: the mixture sequential probability ratio test (`ablens.msprt`);
* ``"confidence-sequence"``: the asymptotic confidence sequence
  (`ablens.asymptotic_confidence_sequence`), two-sided or one-sided;
* ``"fixed"``: the fixed-horizon interval and p-value at every look, as a peeking analyst reads
  them (valid only when read once, at the planned end).

Each look also carries the sequential sample-ratio check (`ablens.sequential_srm_test`) of the
arms' unit counts.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ablens import render
from ablens._validation import check_choice, check_name, check_open_unit_interval
from ablens.data.looks import cumulative_moments
from ablens.errors import DataError, InputError
from ablens.metrics.base import Metric, kind_of
from ablens.stats._inference import check_alternative
from ablens.stats.always_valid import (
    AlwaysValidResult,
    EffectLook,
    asymptotic_confidence_sequence,
    default_tau,
    msprt,
    sequential_srm_test,
)
from ablens.stats.group_sequential import (
    REPEATED_P_VALUE_CAP,
    SequentialResult,
    group_sequential_test,
)
from ablens.typing import DEFAULT_SPENDING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ablens.results import Outcome
    from ablens.stats._inference import Alternative
    from ablens.stats.always_valid import SequentialSRMResult
    from ablens.stats.group_sequential import SpendingName
    from ablens.stats.moments import Moments
    from ablens.stats.result import TestResult

__all__ = [
    "LookRow",
    "LooksDecision",
    "LooksMethod",
    "LooksResult",
    "SequentialReading",
    "analyze_looks",
    "read_looks",
]

LooksMethod = Literal["group-sequential", "msprt", "confidence-sequence", "fixed"]
METHODS: tuple[LooksMethod, ...] = ("group-sequential", "msprt", "confidence-sequence", "fixed")
LooksDecision = Literal[
    "continue", "treatment higher", "treatment lower", "not significant", "inconsistent"
]
#: What each column of the looks table means (its tooltip in HTML), in `display_headers` order.
_HEADER_TITLES = (
    "The look: the value of the plan's time column up to which the data are read.",
    "Units in the control arm so far.",
    "Units in the treatment arm so far.",
    "The difference treatment - control on all units so far.",
    "The fixed-horizon interval: valid only if the data are read once, not at every look.",
    "The fixed-horizon p-value: valid only if the data are read once.",
    "The sequential interval: valid however often the data are read (at every look).",
    "The sequential p-value: valid however often the data are read.",
    "What the sequential method says at this look: continue, or stop with a winner.",
)
_METHOD_LABELS: dict[str, str] = {
    "group-sequential": "group-sequential (repeated CI)",
    "msprt": "mSPRT (always valid)",
    "confidence-sequence": "confidence sequence (always valid)",
    "fixed": "fixed horizon (read at every look)",
}


@dataclass(frozen=True)
class LookRow:
    """The comparison at one look, on all units up to it.

    Attributes:
        look: The look's value of the ``time`` column (a day, a date).
        index: Look number, from 1.
        control_units: Units in the control arm so far.
        treatment_units: Units in the treatment arm so far.
        estimate: The effect ``treatment - control`` (the metric's ``compare().effect``).
        standard_error: Its standard error.
        ci_lower: Lower end of the naive fixed-horizon interval (valid only if read once).
        ci_upper: Upper end of the naive interval.
        p_value: Naive fixed-horizon p-value.
        sequential_lower: Lower end of the sequential interval (repeated CI, always-valid
            interval, or the naive one for ``"fixed"``); NaN when undefined.
        sequential_upper: Upper end of the sequential interval.
        sequential_p_value: Repeated / always-valid p-value (NaN when undefined).
        information_fraction: ``units so far / planned_units`` (None without planned_units).
        bound: The group-sequential efficacy bound on the z scale (None for other methods).
        decision: What the method says at this look.
        srm_p_value: Always-valid p-value of the sequential sample-ratio check.
        sequential_p_value_capped: True when ``sequential_p_value`` is a cap, not a value: the
            group-sequential repeated p-value is searched only up to 0.5, so 0.5 means "at least
            0.5" (shown as ``≥0.5``; ``sequential_p_value_capped`` in JSON).
    """

    look: Any
    index: int
    control_units: int
    treatment_units: int
    estimate: float
    standard_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    sequential_lower: float
    sequential_upper: float
    sequential_p_value: float
    information_fraction: float | None
    bound: float | None
    decision: LooksDecision
    srm_p_value: float
    sequential_p_value_capped: bool = False

    @property
    def sequential_p_text(self) -> str:
        """The sequential p-value as shown: ``≥0.5`` when it is a cap."""
        return render.format_pvalue(
            self.sequential_p_value, at_least=self.sequential_p_value_capped
        )

    @property
    def stops(self) -> bool:
        """True when the method stops at this look."""
        return self.decision != "continue"

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dictionary (non-finite numbers become None)."""
        return {
            "look": _plain(self.look),
            "index": self.index,
            "control_units": self.control_units,
            "treatment_units": self.treatment_units,
            "estimate": _finite(self.estimate),
            "standard_error": _finite(self.standard_error),
            "ci_lower": _finite(self.ci_lower),
            "ci_upper": _finite(self.ci_upper),
            "p_value": _finite(self.p_value),
            "sequential_lower": _finite(self.sequential_lower),
            "sequential_upper": _finite(self.sequential_upper),
            "sequential_p_value": _finite(self.sequential_p_value),
            "sequential_p_value_capped": self.sequential_p_value_capped,
            "information_fraction": self.information_fraction,
            "bound": _finite(self.bound),
            "decision": self.decision,
            "srm_p_value": self.srm_p_value,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _plain(value: Any) -> Any:  # noqa: ANN401 - look values are whatever the time column holds
    """A look value as a JSON-friendly Python scalar (numpy scalars unwrapped, dates as text)."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


@dataclass(frozen=True)
class LooksResult:
    """A metric analysed at every look, with a sequential method.

    Attributes:
        metric: The metric's name.
        control: The control arm.
        treatment: The treatment arm.
        method: "group-sequential", "msprt", "confidence-sequence" or "fixed".
        alpha: Level of the sequential method.
        alternative: "two-sided", "greater" or "less".
        rows: One `LookRow` per look, in time order.
        decision: The decision of the first look that stops, else "continue".
        stopping_look: The look value (``time`` column) where the method stopped, else None.
        srm: The sequential sample-ratio check, one look per row.
        planned_units: Planned total units (both arms), if given.
        tau: The mSPRT's mixing standard deviation (None for other methods).
        planned_count: The size the confidence sequence is tuned for (None for other methods).
        detail: The underlying `SequentialResult` or `AlwaysValidResult` (None for "fixed").
        notes: Remarks (skipped looks, tuning chosen from the data, peeking warnings).
    """

    metric: str
    control: str
    treatment: str
    method: LooksMethod
    alpha: float
    alternative: Alternative
    rows: tuple[LookRow, ...]
    decision: LooksDecision
    stopping_look: Any
    srm: SequentialSRMResult
    planned_units: int | None = None
    tau: float | None = None
    planned_count: int | None = None
    detail: SequentialResult | AlwaysValidResult | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def stopping_index(self) -> int | None:
        """The look number (from 1) where the method stopped, else None."""
        return next((row.index for row in self.rows if row.stops), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary, with one dictionary per look."""
        return {
            "metric": self.metric,
            "control": self.control,
            "treatment": self.treatment,
            "method": self.method,
            "alpha": self.alpha,
            "alternative": self.alternative,
            "decision": self.decision,
            "stopping_look": _plain(self.stopping_look),
            "planned_units": self.planned_units,
            "tau": self.tau,
            "planned_count": self.planned_count,
            "srm_mismatch": self.srm.mismatch,
            "notes": list(self.notes),
            "rows": [row.to_dict() for row in self.rows],
        }

    # ------------------------------------------------------------------------------ display
    def display_headers(self) -> list[str]:
        """The headers of the looks table."""
        return [
            "look",
            "control n",
            "treatment n",
            "effect",
            "naive CI",
            "naive p",
            "sequential CI",
            "sequential p",
            "decision",
        ]

    def _display_rows(self) -> list[list[str]]:
        return [
            [
                str(_plain(row.look)),
                str(row.control_units),
                str(row.treatment_units),
                render.format_number(row.estimate, signed=True),
                render.format_interval(row.ci_lower, row.ci_upper),
                render.format_pvalue(row.p_value),
                render.format_interval(row.sequential_lower, row.sequential_upper),
                row.sequential_p_text,
                row.decision,
            ]
            for row in self.rows
        ]

    def summary_lines(self) -> list[str]:
        """The lines under the looks table: the method and where it stopped, if it did."""
        label = _METHOD_LABELS[self.method]
        if self.stopping_look is None:
            verdict = f"continue: no look stopped ({len(self.rows)} looks)"
        else:
            verdict = f"{self.decision} at look {_plain(self.stopping_look)}"
        lines = [
            (
                f"{self.metric}: {self.treatment} vs {self.control}, {label}, "
                f"alpha={self.alpha:g}: {verdict}"
            ),
        ]
        srm = self.srm
        first = srm.first_mismatch
        lines.append(
            "sequential sample ratio: "
            + (
                f"MISMATCH from look {_plain(self.rows[first - 1].look)}"
                if first is not None
                else f"ok (always-valid p={render.format_pvalue(srm.final.p_value)})"
            )
        )
        lines += list(self.notes)
        return lines

    def __str__(self) -> str:
        table = render.table_text(self.display_headers(), self._display_rows())
        return "\n".join([table, "", *self.summary_lines()])

    def to_markdown(self) -> str:
        """A markdown table and summary lines."""
        table = render.table_markdown(self.display_headers(), self._display_rows())
        summary = "\n".join(f"- {line}" for line in self.summary_lines())
        return f"{table}\n\n{summary}\n"

    def to_html(self) -> str:
        """An HTML fragment: the table (stopping looks classed "stop"), a summary and the plot."""
        classes = ["stop" if row.stops else "continue" for row in self.rows]
        summary = "".join(f"<li>{html.escape(line)}</li>" for line in self.summary_lines())
        return (
            '<div class="ablens-looks">'
            + render.table_html(
                self.display_headers(),
                self._display_rows(),
                row_classes=classes,
                titles=_HEADER_TITLES,
            )
            + f"<ul>{summary}</ul>{self.to_svg()}</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_svg(self, width: int = 640, height: int = 240) -> str:
        """The looks as a standalone SVG: estimate, sequential and naive bands, and zero.

        The naive fixed-horizon interval is the grey band, the sequential interval the blue
        band; infinite ends are clipped to the plot. Pure text, no external resources.

        Args:
            width: Width in pixels (>= 200).
            height: Height in pixels (>= 120).

        Returns:
            An ``<svg>`` element.
        """
        if not isinstance(width, int) or isinstance(width, bool) or width < 200:
            raise InputError(f"width == {width!r}, must be an integer >= 200")
        if not isinstance(height, int) or isinstance(height, bool) or height < 120:
            raise InputError(f"height == {height!r}, must be an integer >= 120")
        return _svg(self, width, height)


# ---------------------------------------------------------------------------------------- SVG
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 28, 36


def _svg_range(result: LooksResult) -> tuple[float, float]:
    """The y range: zero, the estimates and naive intervals, and the sequential intervals.

    The sequential intervals of the first looks can be many times wider than the rest; they are
    clipped at half the naive span beyond it so that the later looks stay readable.
    """
    values = [0.0]
    for row in result.rows:
        candidates = (row.estimate, row.ci_lower, row.ci_upper)
        values += [v for v in candidates if math.isfinite(v)]
    low, high = min(values), max(values)
    if high - low <= 0.0:
        low, high = low - 1.0, high + 1.0
    reach = 0.5 * (high - low)
    sequential = [
        v
        for row in result.rows
        for v in (row.sequential_lower, row.sequential_upper)
        if math.isfinite(v)
    ]
    low = max(low - reach, min([low, *sequential]))
    high = min(high + reach, max([high, *sequential]))
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def _band(
    points: list[tuple[float, float, float]], fill: str, opacity: float, label: str
) -> list[str]:
    """Polygons over the contiguous runs of finite (x, lower, upper) points."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for point in points:
        if math.isnan(point[1]) or math.isnan(point[2]):
            runs.append([])
        else:
            runs[-1].append(point)
    shapes = []
    for found in runs:
        if not found:
            continue
        run = found
        if len(run) == 1:  # a single look: a short bar
            x, lo, hi = run[0]
            run = [(x - 3.0, lo, hi), (x + 3.0, lo, hi)]
        outline = [(x, hi) for x, _, hi in run] + [(x, lo) for x, lo, _ in reversed(run)]
        coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)
        shapes.append(
            f'<polygon points="{coordinates}" fill="{fill}" fill-opacity="{opacity}" '
            f'stroke="none"><title>{html.escape(label)}</title></polygon>'
        )
    return shapes


def _svg(result: LooksResult, width: int, height: int) -> str:
    rows = result.rows
    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    low, high = _svg_range(result)

    def x_of(i: int) -> float:
        return left + (right - left) * (i + 0.5) / len(rows)

    def y_of(value: float) -> float:
        clipped = min(max(value, low), high)
        return bottom - (bottom - top) * (clipped - low) / (high - low)

    def clip(value: float) -> float:
        return math.nan if math.isnan(value) else y_of(value)

    naive = [(x_of(i), clip(r.ci_lower), clip(r.ci_upper)) for i, r in enumerate(rows)]
    sequential = [
        (x_of(i), clip(r.sequential_lower), clip(r.sequential_upper)) for i, r in enumerate(rows)
    ]
    label = _METHOD_LABELS[result.method]
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="11">'
        ),
        f"<title>{html.escape(result.metric)}: effect by look</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        *_band(naive, "#9e9e9e", 0.35, "naive fixed-horizon interval"),
        *_band(sequential, "#1f77b4", 0.30, f"sequential interval: {label}"),
    ]
    zero = y_of(0.0)
    parts.append(
        f'<line x1="{left}" y1="{zero:.1f}" x2="{right}" y2="{zero:.1f}" stroke="black" '
        'stroke-dasharray="4 3" stroke-width="1"/>'
    )
    path = " ".join(f"{x_of(i):.1f},{y_of(r.estimate):.1f}" for i, r in enumerate(rows))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#d62728" stroke-width="1.5"/>')
    for i, row in enumerate(rows):
        colour = "#d62728" if row.stops else "white"
        parts.append(
            f'<circle cx="{x_of(i):.1f}" cy="{y_of(row.estimate):.1f}" r="2.5" fill="{colour}" '
            f'stroke="#d62728"><title>look {html.escape(str(_plain(row.look)))}: '
            f"{html.escape(render.format_number(row.estimate, signed=True))} "
            f"({html.escape(row.decision)})</title></circle>"
        )
    # Axes: y ticks at the range ends and zero; x labels at the first and last looks.
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#444" stroke-width="1"/>'
    )
    for value in sorted({low, 0.0, high}):
        y = y_of(value)
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html.escape(render.format_number(value, 3))}</text>"
        )
    parts.extend(
        f'<text x="{x_of(i):.1f}" y="{bottom + 14}" text-anchor="middle">'
        f"{html.escape(str(_plain(rows[i].look)))}</text>"
        for i in sorted({0, len(rows) - 1})
    )
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height - 6}" text-anchor="middle">look</text>'
    )
    legend = f"{result.metric}: estimate (red), {label} (blue), naive interval (grey)"
    parts.append(f'<text x="{left}" y="16">{html.escape(legend)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------- analysis
def _check_metric(metric: object) -> Metric:
    if not isinstance(metric, Metric):
        raise InputError(
            f"metric == {metric!r}, must be a metric (ablens.Mean, Proportion, Ratio, ...)"
        )
    kind = kind_of(metric)
    if not kind.looks:
        raise InputError(
            f"metric {metric.name!r} cannot be compared from cumulative moments at each look: "
            f"{kind.no_looks}; use a Mean, Proportion, Ratio or covariate-adjusted metric"
        )
    return metric


def _check_planned(planned_units: object) -> int | None:
    if planned_units is None:
        return None
    if isinstance(planned_units, bool) or not isinstance(planned_units, int) or planned_units < 2:
        raise InputError(f"planned_units == {planned_units!r}, must be an integer >= 2")
    return planned_units


@dataclass(frozen=True)
class _Look:
    value: Any
    control: int
    treatment: int
    result: TestResult


def _compare_looks(
    metric: Metric,
    looks: dict[Any, dict[str, Moments]],
    control: str,
    treatment: str,
    confidence_level: float,
    notes: list[str],
) -> list[_Look]:
    compared: list[_Look] = []
    skipped: list[str] = []
    for value, arms in looks.items():
        c, t = arms.get(control), arms.get(treatment)
        if c is None or t is None or c.count < 2 or t.count < 2:
            skipped.append(str(_plain(value)))
            continue
        try:
            result = metric.compare(c, t, confidence_level=confidence_level)
        except (DataError, InputError):
            skipped.append(str(_plain(value)))
            continue
        se = result.standard_error
        if not (math.isfinite(result.effect) and math.isfinite(se) and se > 0.0):
            skipped.append(str(_plain(value)))
            continue
        compared.append(_Look(value, c.count, t.count, result))
    if skipped:
        notes.append(
            f"look(s) {', '.join(skipped)} skipped: too few units in an arm (or no variation) "
            "to compare"
        )
    if not compared:
        raise DataError(
            f"no look has enough units in both {control!r} and {treatment!r} to compare "
            f"metric {metric.name!r}"
        )
    return compared


def _null(results: list[_Look]) -> float:
    first = results[0].result
    if first.margin_type != "absolute" and first.margin != 0.0:
        raise InputError(
            f"metric has margin_type == {first.margin_type!r} with margin {first.margin!r}; "
            "sequential looks test an absolute margin: use margin_type='absolute'"
        )
    return first.margin


def _direction(estimate: float, null: float) -> LooksDecision:
    return "treatment higher" if estimate >= null else "treatment lower"


@dataclass(frozen=True)
class _Sequential:
    lower: list[float]
    upper: list[float]
    p_values: list[float]
    decisions: list[LooksDecision]
    fractions: list[float | None]
    bounds: list[float | None]
    detail: SequentialResult | AlwaysValidResult | None
    tau: float | None = None
    planned_count: int | None = None
    capped: list[bool] = field(default_factory=list)


def _group_sequential(
    looks: list[_Look],
    planned: int,
    *,
    alpha: float,
    alternative: Alternative,
    spending: SpendingName,
    null: float,
    notes: list[str],
) -> _Sequential:
    fractions = [min(1.0, (look.control + look.treatment) / planned) for look in looks]
    end = next((i + 1 for i, f in enumerate(fractions) if f >= 1.0), len(looks))
    used = looks[:end]
    detail = group_sequential_test(
        [look.result.effect for look in used],
        [look.result.standard_error for look in used],
        fractions[:end],
        alpha=alpha,
        alternative=alternative,
        spending=spending,
        margin=null,
    )
    repeated = detail.repeated_p_values()
    lower, upper, p_values = [], [], []
    decisions: list[LooksDecision] = []
    bounds: list[float | None] = []
    for k, look in enumerate(detail.looks):
        lower.append(look.ci_lower)
        upper.append(look.ci_upper)
        p_values.append(repeated[k])
        bounds.append(look.efficacy_bound)
        if look.decision == "stop for efficacy":
            decisions.append(_direction(look.estimate, null))
        elif look.decision == "stop for futility":
            decisions.append("not significant")
        else:
            decisions.append("continue")
    extra = len(looks) - end
    if extra:
        notes.append(
            f"the planned units ({planned}) were reached at look {_plain(looks[end - 1].value)}; "
            f"the {extra} later look(s) are past the group-sequential design"
        )
        lower += [math.nan] * extra
        upper += [math.nan] * extra
        p_values += [math.nan] * extra
        bounds += [None] * extra
        decisions += [decisions[-1]] * extra
    return _Sequential(
        lower,
        upper,
        p_values,
        decisions,
        list[float | None](fractions),
        bounds,
        detail,
        capped=[p >= REPEATED_P_VALUE_CAP for p in p_values],  # NaN (past the design): False
    )


def _always_valid(
    method: LooksMethod,
    looks: list[_Look],
    planned: int | None,
    *,
    alpha: float,
    alternative: Alternative,
    tau: float | None,
    null: float,
    notes: list[str],
) -> _Sequential:
    effect_looks = [
        EffectLook(look.result.effect, look.result.standard_error**2, look.control + look.treatment)
        for look in looks
    ]
    planned_count: int | None = None
    if method == "msprt":
        if tau is None:
            first = effect_looks[0]
            assert first.count is not None  # noqa: S101 - set just above
            if planned is None:
                planned_variance = effect_looks[-1].variance
                notes.append(
                    "mSPRT tau tuned to the last look's variance; pass planned_units (or tau) "
                    "before the experiment so that it does not move as looks are added"
                )
            else:
                planned_variance = first.variance * first.count / planned
            tau = default_tau(planned_variance, alpha=alpha)
        detail = msprt(effect_looks, tau=tau, alpha=alpha, null=null)
    else:
        if planned is None:
            planned_count = max(2, effect_looks[-1].count or 2)
            notes.append(
                "confidence sequence tuned to the units at the last look; pass planned_units "
                "before the experiment so that it does not move as looks are added"
            )
        else:
            planned_count = planned
        detail = asymptotic_confidence_sequence(
            effect_looks,
            planned_count=planned_count,
            alpha=alpha,
            null=null,
            alternative=alternative,
        )
        tau = None
    decisions: list[LooksDecision] = [look.decision for look in detail.looks]
    fractions: list[float | None] = [
        None if planned is None else min(1.0, (look.control + look.treatment) / planned)
        for look in looks
    ]
    return _Sequential(
        [look.ci_lower for look in detail.looks],
        [look.ci_upper for look in detail.looks],
        [look.p_value for look in detail.looks],
        decisions,
        fractions,
        [None] * len(looks),
        detail,
        tau=tau,
        planned_count=planned_count,
    )


def _fixed(
    looks: list[_Look], planned: int | None, *, alpha: float, null: float, notes: list[str]
) -> _Sequential:
    decisions: list[LooksDecision] = [
        _direction(look.result.effect, null) if look.result.p_value <= alpha else "continue"
        for look in looks
    ]
    if len(looks) > 1:
        notes.append(
            f"fixed-horizon p-values read at {len(looks)} looks: stopping at the first "
            "p <= alpha rejects a true null far more often than alpha; read only the planned "
            "final look, or use a sequential method"
        )
    return _Sequential(
        [look.result.effect_ci_lower for look in looks],
        [look.result.effect_ci_upper for look in looks],
        [look.result.p_value for look in looks],
        decisions,
        [None if planned is None else min(1.0, (x.control + x.treatment) / planned) for x in looks],
        [None] * len(looks),
        None,
    )


def _pick_treatment(
    looks: dict[Any, dict[str, Moments]], control: str, treatment: str | None
) -> tuple[str, list[str]]:
    arms: list[str] = []
    for arms_at_look in looks.values():
        arms += [a for a in arms_at_look if a not in arms]
    if control not in arms:
        raise InputError(f"control == {control!r} is not an arm of the data (arms: {arms})")
    if treatment is None:
        others = [a for a in arms if a != control]
        if len(others) != 1:
            raise InputError(
                f"treatment is None but the data have treatment arms {others}; name one"
            )
        return others[0], arms
    check_name("treatment", treatment)
    if treatment not in arms or treatment == control:
        raise InputError(f"treatment == {treatment!r} is not a treatment arm (arms: {arms})")
    return treatment, arms


def analyze_looks(
    data: object,
    metric: Metric,
    *,
    control: str,
    treatment: str | None = None,
    variant: str = "variant",
    time: str,
    method: LooksMethod = "group-sequential",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    planned_units: int | None = None,
    spending: SpendingName = DEFAULT_SPENDING,
    tau: float | None = None,
    unit: str | None = None,
    experiment_id: str | None = None,
    team: str | None = None,
) -> LooksResult:
    """Analyse one metric at every look (day, date) with a method valid under peeking.

    One engine query computes the per-arm moments of the units up to each value of ``time``;
    at every look the metric's ``compare`` gives the estimate and its standard error, and the
    chosen method turns the looks into sequential intervals, p-values and a decision. The
    fixed-horizon interval and p-value are shown alongside for reference.

    Args:
        data: One row per unit, in any engine `ablens.compute_moments` accepts (pandas, polars,
            pyarrow, DuckDB ``(connection, "table")``, ...).
        metric: Any metric that compares from moments (`ablens.Mean`, `ablens.Proportion`,
            `ablens.Ratio`, covariate-adjusted ones); not `ablens.Quantile`, `ablens.MannWhitney`
            or `ablens.PostStratified`.
        control: The control arm.
        treatment: The treatment arm; may be omitted when the data have one.
        variant: Arm label column.
        time: Column giving each unit's look (exposure day or date); sortable.
        method: "group-sequential" (planned looks, sample fixed in advance), "msprt" or
            "confidence-sequence" (look any time), or "fixed" (the naive reading, for
            comparison).
        alpha: Level of the sequential method.
        alternative: "two-sided", "greater" or "less" ("greater"/"less" with
            group-sequential, confidence-sequence (the one-sided sequence, at ``alpha < 0.5``)
            and fixed; the mSPRT is two-sided).
        planned_units: Planned total units in both arms. Required for "group-sequential" (the
            information fraction is units so far / planned_units, capped at 1); tunes the
            mSPRT's ``tau`` and the confidence sequence when given.
        spending: Alpha-spending family of the group-sequential design.
        tau: mSPRT mixing standard deviation (default: `ablens.default_tau` at the planned
            size).
        unit: Unit id column, for the duplicate checks.
        experiment_id: Tag on the query (cost attribution).
        team: Optional team tag.

    Returns:
        A `LooksResult`.

    Raises:
        InputError: On an unknown method, a group-sequential analysis without planned_units,
            a metric that cannot compare from moments, or unknown arms.

    Examples:
        >>> import numpy as np, polars as pl
        >>> import ablens
        >>> rng = np.random.default_rng(7)
        >>> n = 4_000
        >>> table = pl.DataFrame(
        ...     {
        ...         "variant": rng.choice(["control", "treatment"], n),
        ...         "day": rng.integers(1, 8, n),
        ...         "x": rng.normal(10.0, 2.0, n),
        ...     }
        ... )
        >>> result = analyze_looks(
        ...     table, ablens.Mean("x"), control="control", time="day", planned_units=n
        ... )
        >>> len(result.rows), result.decision, result.rows[-1].information_fraction
        (7, 'not significant', 1.0)
    """
    metric, alpha, alternative, planned = _check_looks_options(
        metric, method, alpha, alternative, planned_units
    )
    looks = cumulative_moments(
        data,
        variant=variant,
        time=time,
        columns=metric.required_columns(),
        pairs=metric.required_pairs(),
        unit=unit,
        experiment_id=experiment_id,
        team=team,
    )
    return _read_looks(
        looks,
        metric,
        control=control,
        treatment=treatment,
        method=method,
        alpha=alpha,
        alternative=alternative,
        planned=planned,
        spending=spending,
        tau=tau,
    )


def read_looks(
    looks: Mapping[Any, Mapping[str, Moments]],
    metric: Metric,
    *,
    control: str,
    treatment: str | None = None,
    method: LooksMethod = "group-sequential",
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    planned_units: int | None = None,
    spending: SpendingName = DEFAULT_SPENDING,
    tau: float | None = None,
) -> LooksResult:
    """`analyze_looks` from cumulative moments already computed (no query runs).

    Args:
        looks: Look value -> arm -> moments of every unit up to that look, in look order
            (`ablens.data.cumulative_moments`, or a readout's one scan).
        metric: As `analyze_looks`.
        control: The control arm.
        treatment: The treatment arm; may be omitted when the looks have one.
        method: As `analyze_looks`.
        alpha: As `analyze_looks`.
        alternative: As `analyze_looks`.
        planned_units: As `analyze_looks`.
        spending: As `analyze_looks`.
        tau: As `analyze_looks`.

    Returns:
        A `LooksResult`, the same as `analyze_looks` on the table the moments came from.

    Raises:
        InputError: As `analyze_looks`.
        DataError: No look, or no look with enough units to compare.

    Examples:
        >>> import ablens
        >>> def day(n, mean):
        ...     return ablens.Moments.from_summary(n, mean={"x": mean}, variance={"x": 4.0})
        >>> looks = {
        ...     1: {"a": day(500, 10.0), "b": day(500, 10.1)},
        ...     2: {"a": day(1000, 10.0), "b": day(1000, 10.2)},
        ... }
        >>> result = read_looks(looks, ablens.Mean("x"), control="a", method="msprt")
        >>> len(result.rows), result.rows[-1].treatment_units
        (2, 1000)
    """
    metric, alpha, alternative, planned = _check_looks_options(
        metric, method, alpha, alternative, planned_units
    )
    return _read_looks(
        {value: dict(arms) for value, arms in looks.items()},
        metric,
        control=control,
        treatment=treatment,
        method=method,
        alpha=alpha,
        alternative=alternative,
        planned=planned,
        spending=spending,
        tau=tau,
    )


def _check_looks_options(
    metric: object,
    method: str,
    alpha: float,
    alternative: str,
    planned_units: object,
) -> tuple[Metric, float, Alternative, int | None]:
    metric = _check_metric(metric)
    check_choice("method", method, METHODS)
    alpha = check_open_unit_interval("alpha", alpha)
    alternative = check_alternative(alternative)
    planned = _check_planned(planned_units)
    if method == "group-sequential" and planned is None:
        raise InputError(
            "planned_units is None, must be given for method='group-sequential': the "
            "information fraction at a look is its units / planned_units"
        )
    if method == "msprt" and alternative != "two-sided":
        raise InputError(
            f"alternative == {alternative!r}, but method='msprt' is two-sided only; use "
            "method='confidence-sequence' or 'group-sequential' for a one-sided design"
        )
    if method == "confidence-sequence" and alternative != "two-sided" and alpha >= 0.5:
        raise InputError(f"alpha == {alpha!r}, must be < 0.5 for a one-sided confidence sequence")
    return metric, alpha, alternative, planned


def _read_looks(
    looks: dict[Any, dict[str, Moments]],
    metric: Metric,
    *,
    control: str,
    treatment: str | None,
    method: LooksMethod,
    alpha: float,
    alternative: Alternative,
    planned: int | None,
    spending: SpendingName,
    tau: float | None,
) -> LooksResult:
    if not looks:
        raise DataError("the data have no rows: no look to analyse")
    treatment, arms = _pick_treatment(looks, control, treatment)
    notes: list[str] = []
    compared = _compare_looks(metric, looks, control, treatment, 1.0 - alpha, notes)
    null = _null(compared)
    if method == "group-sequential":
        assert planned is not None  # noqa: S101 - checked above
        sequential = _group_sequential(
            compared,
            planned,
            alpha=alpha,
            alternative=alternative,
            spending=spending,
            null=null,
            notes=notes,
        )
    elif method == "fixed":
        sequential = _fixed(compared, planned, alpha=alpha, null=null, notes=notes)
    else:
        sequential = _always_valid(
            method,
            compared,
            planned,
            alpha=alpha,
            alternative=alternative,
            tau=tau,
            null=null,
            notes=notes,
        )
    by_value = {look.value: looks[look.value] for look in compared}
    srm = sequential_srm_test(
        [{arm: (m.count if (m := at.get(arm)) else 0) for arm in arms} for at in by_value.values()]
    )
    rows = tuple(
        LookRow(
            look=_plain(look.value),
            index=k + 1,
            control_units=look.control,
            treatment_units=look.treatment,
            estimate=look.result.effect,
            standard_error=look.result.standard_error,
            ci_lower=look.result.effect_ci_lower,
            ci_upper=look.result.effect_ci_upper,
            p_value=look.result.p_value,
            sequential_lower=sequential.lower[k],
            sequential_upper=sequential.upper[k],
            sequential_p_value=sequential.p_values[k],
            information_fraction=sequential.fractions[k],
            bound=sequential.bounds[k],
            decision=sequential.decisions[k],
            srm_p_value=srm.looks[k].p_value,
            sequential_p_value_capped=bool(sequential.capped) and sequential.capped[k],
        )
        for k, look in enumerate(compared)
    )
    stopping = next((row for row in rows if row.stops), None)
    return LooksResult(
        metric=metric.name,
        control=control,
        treatment=treatment,
        method=method,
        alpha=alpha,
        alternative=alternative,
        rows=rows,
        decision="continue" if stopping is None else stopping.decision,
        stopping_look=None if stopping is None else stopping.look,
        srm=srm,
        planned_units=planned,
        tau=sequential.tau,
        planned_count=sequential.planned_count,
        detail=sequential.detail,
        notes=tuple(notes),
    )


#: How sentences name each sequential method.
_METHOD_NAMES = {
    "group-sequential": "group-sequential",
    "msprt": "mSPRT",
    "confidence-sequence": "confidence-sequence",
}


# ---------------------------------------------------------------------------------- readings
@dataclass(frozen=True)
class SequentialReading:
    """One primary or guardrail comparison read at every look with the plan's sequential method.

    Attributes:
        metric: Metric name.
        treatment: Treatment arm.
        role: "primary" or "guardrail".
        direction: "increase" or "decrease": which way is good.
        method: "group-sequential", "msprt" or "confidence-sequence".
        time: The plan's look column (``time:``).
        alpha: Level of the sequential test (the plan's alpha, divided by the comparison's family
            size when the plan has a correction: Bonferroni, valid for any dependence).
        looks: The looks, or None when the metric cannot be read sequentially.
        reason: Why there are no looks (None when there are).
    """

    metric: str
    treatment: str
    role: str
    direction: str
    method: str
    time: str
    alpha: float
    looks: LooksResult | None = None
    reason: str | None = None

    @property
    def method_name(self) -> str:
        """The method as written in sentences ("mSPRT", "group-sequential", ...)."""
        return _METHOD_NAMES.get(self.method, self.method)

    @property
    def stopping_row(self) -> LookRow | None:
        """The look where the method stopped, or None."""
        if self.looks is None:
            return None
        return next((row for row in self.looks.rows if row.stops), None)

    @property
    def outcome(self) -> Outcome:
        """The decision in product terms: "better", "worse" or "inconclusive".

        "better" or "worse" (judged by the metric's good direction) once a boundary is crossed
        for an effect, else "inconclusive".
        """
        decision = None if self.looks is None else self.looks.decision
        if decision not in ("treatment higher", "treatment lower"):
            return "inconclusive"
        up = decision == "treatment higher"
        return "better" if up == (self.direction == "increase") else "worse"

    @property
    def stopped(self) -> bool:
        """True when a boundary was crossed for an effect (better or worse)."""
        return self.outcome != "inconclusive"

    @property
    def p_value(self) -> float:
        """The sequential p-value at the stopping look, else at the last look (NaN if none)."""
        row = self._p_row
        return math.nan if row is None else row.sequential_p_value

    @property
    def p_value_capped(self) -> bool:
        """True when `p_value` is a cap (``≥0.5``), not the p-value itself."""
        row = self._p_row
        return row is not None and row.sequential_p_value_capped

    @property
    def _p_row(self) -> LookRow | None:
        """The look whose p-value the reading reports: the stopping one, else the last finite."""
        if self.looks is None:
            return None
        row = self.stopping_row
        if row is not None:
            return row
        finite = [r for r in self.looks.rows if math.isfinite(r.sequential_p_value)]
        return finite[-1] if finite else None

    def sentence(self) -> str:
        """What the method says, for people: where the boundary was crossed, or that it was not."""
        if self.looks is None:
            return f"{self.metric} has no sequential reading: {self.reason}"
        name = self.method_name
        row = self.stopping_row
        p_text = _p(self.p_value, at_least=self.p_value_capped)
        if row is not None and self.stopped:
            units = row.control_units + row.treatment_units
            return (
                f"the {name} boundary was crossed at {self.time} {row.look} with {units:,} "
                f"units (sequential {p_text})"
            )
        last = self.looks.rows[-1]
        units = last.control_units + last.treatment_units
        if row is not None and row.decision == "not significant":
            return (
                f"the {name} design ended at {self.time} {row.look} without crossing its "
                f"boundary (sequential {p_text})"
            )
        return (
            f"the {name} boundary has not been crossed (sequential {p_text} at {self.time} "
            f"{last.look}, {units:,} units)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (the looks as `LooksResult.to_dict`)."""
        return {
            "metric": self.metric,
            "treatment": self.treatment,
            "role": self.role,
            "direction": self.direction,
            "method": self.method,
            "time": self.time,
            "alpha": self.alpha,
            "outcome": self.outcome,
            "stopped": self.stopped,
            "sequential_p_value": _finite(self.p_value),
            "sequential_p_value_capped": self.p_value_capped,
            "sentence": self.sentence(),
            "reason": self.reason,
            "looks": None if self.looks is None else self.looks.to_dict(),
        }

    def __str__(self) -> str:
        if self.looks is None:
            head = f"{self.metric} ({self.treatment}, {self.role})"
            return f"{head}: no sequential reading: {self.reason}."
        title = f"{self.metric} ({self.treatment}, {self.role}): {self.sentence()}."
        return f"{title}\n{self.looks}"


def _p(value: float, *, at_least: bool = False) -> str:
    """``p=0.0123``, ``p<1e-10`` or ``p≥0.5``."""
    text = render.format_pvalue(value, at_least=at_least)
    return f"p{text}" if text.startswith(("<", "≥")) else f"p={text}"
