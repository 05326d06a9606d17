"""One self-contained HTML report of an analysis: verdict first, then the evidence.

The page loads nothing: styles are inline, the interval bars and the looks charts are inline
SVG, and there is no script, font or image from anywhere. It shows, in order: the verdict
sentence, the health banners, one row per metric and arm (control and treatment values with
their counts, the lift with its interval drawn around zero, green only when significant in the
metric's desired direction and red when significant against it, the p-value, and with
``bayesian: true`` the chance to beat control and the expected loss), the sequential looks of
the primary metrics and guardrails when the plan has a sequential method (a table and a chart
per metric), the segments, methodology notes, and a reproducibility footer (plan hash, data
fingerprint, ablens version, UTC time). `render_readout` renders an `ablens.readout.Readout`.

>>> import ablens
>>> data = {
...     "control": ablens.Moments.from_summary(
...         5_000, mean={"spend": 10.0}, variance={"spend": 25.0}
...     ),
...     "treatment": ablens.Moments.from_summary(
...         5_000, mean={"spend": 10.1}, variance={"spend": 25.0}
...     ),
... }
>>> page = render_report(ablens.analyze(data, [ablens.Mean("spend")], control="control"))
>>> page.startswith("<!DOCTYPE html>"), "Inconclusive — keep running" in page, "http" in page
(True, True, False)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ablens import render
from ablens._version import __version__
from ablens.decision import FIX_DATA, KEEP_RUNNING, NO_EFFECT, ROLL_BACK, SHIP, data_verdict
from ablens.metrics.base import kind_named, metric_kinds
from ablens.readout import BEST_ARM_HEADERS, compose_readout
from ablens.stats.group_sequential import SPENDING_TITLES
from ablens.stats.small_samples import NOTE_PREFIX as SMALL_SAMPLE_NOTE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ablens.analysis_plan.model import AnalysisPlan, MetricSpec
    from ablens.decision import Verdict
    from ablens.readout import BayesianReading, BestArmReading, Readout
    from ablens.results import AnalysisResult, Comparison
    from ablens.sequential import SequentialReading

__all__ = [
    "data_fingerprint",
    "render_data_problems",
    "render_readout",
    "render_report",
    "write_report",
]

_VERDICT_CLASS = {
    SHIP: "ship",
    ROLL_BACK: "rollback",
    KEEP_RUNNING: "keep",
    NO_EFFECT: "keep",
    FIX_DATA: "fix",
}
_CHECK_TITLES = {
    "sample-ratio": "Sample ratio",
    "sample-size": "Sample size",
    "guardrails": "Guardrails",
    "segment-ratio": "Segments' sample ratio",
    "data": "Data",
}
_RELATIVE_METHODS = {
    "delta-log": "the delta method on the log of the ratio",
    "fieller": "Fieller's theorem",
    "delta": "the linear delta method on the lift",
}

_CSS = """
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #ffffff; --soft: #f6f8fa;
  --good: #1a7f37; --bad: #cf222e; --warn: #9a6700; --neutral: #8c959f;
  --good-bg: #dafbe1; --bad-bg: #ffebe9; --warn-bg: #fff8c5; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --bg: #0d1117; --soft: #151b23;
    --good: #3fb950; --bad: #f85149; --warn: #d29922; --neutral: #6e7681;
    --good-bg: #12261e; --bad-bg: #2d1214; --warn-bg: #2b2111; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
.kicker, .muted, small { color: var(--muted); }
.kicker { margin: 0; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
.verdict { border-left: 6px solid var(--neutral); padding: 12px 18px; background: var(--soft);
  border-radius: 6px; }
.verdict .reason { font-size: 17px; margin: 4px 0 0; }
.verdict-ship { border-color: var(--good); } .verdict-ship h1 { color: var(--good); }
.verdict-rollback { border-color: var(--bad); } .verdict-rollback h1 { color: var(--bad); }
.verdict-fix { border-color: var(--bad); } .verdict-fix h1 { color: var(--bad); }
.verdict-keep { border-color: var(--warn); } .verdict-keep h1 { color: var(--warn); }
.banner { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.banner.fail { background: var(--bad-bg); border-color: var(--bad); }
.banner.note, .banner.wait, .banner.warn { background: var(--warn-bg); border-color: var(--warn); }
ul.checks { list-style: none; padding: 0; margin: 8px 0; }
ul.checks li::before { content: "✓ "; color: var(--good); font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
/* On a phone a wide table scrolls on its own (focusable, so the keyboard scrolls it too); the
   page around it keeps the screen's width. */
.wide { overflow-x: auto; }
th, td { text-align: right; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
@media (max-width: 600px) {
  /* A phone keeps the numbers (lift, p-value) on screen: it drops the bars, and the arm
     column when a single treatment arm makes it repeat one name. */
  th.bar, td.bar, .bar-legend, table.one-arm .arm { display: none; }
  th, td { padding: 4px 2px; }
  table { font-size: 12px; }
}
th { font-size: 13px; color: var(--muted); font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.bar { width: 224px; padding: 2px 4px; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 9px;
  border: 1px solid var(--line); color: var(--muted); margin-left: 4px; }
.badge.primary { border-color: var(--fg); color: var(--fg); }
.badge.guardrail { border-color: var(--warn); color: var(--warn); }
small.small-sample { color: var(--warn); font-weight: 600; }
td.srm-mismatch { color: var(--bad); font-weight: 600; }
tr.better .lift { color: var(--good); font-weight: 600; }
tr.worse .lift { color: var(--bad); font-weight: 600; }
svg.ci .axis { stroke: var(--line); stroke-width: 1; }
svg.ci .zero { stroke: var(--muted); stroke-width: 1; }
svg.ci .range { fill: var(--neutral); opacity: .55; }
svg.ci .point { stroke: var(--fg); stroke-width: 2; }
svg.ci .edge { fill: var(--neutral); }
svg.ci.better .range, svg.ci.better .edge { fill: var(--good); opacity: .9; }
svg.ci.worse .range, svg.ci.worse .edge { fill: var(--bad); opacity: .9; }
td.bayes { white-space: nowrap; }
tr.best td { font-weight: 600; }
.looks { margin: 12px 0 24px; }
.looks h3 { font-size: 16px; margin: 18px 0 4px; }
.looks p.stopped { color: var(--good); font-weight: 600; }
.looks p.stopped.worse { color: var(--bad); }
.looks table { font-size: 13px; }
.looks tr.stop td { font-weight: 600; }
.looks svg { max-width: 100%; height: auto; display: block; margin-top: 8px; }
.looks ul { font-size: 13px; color: var(--muted); }
footer { margin-top: 36px; font-size: 13px; color: var(--muted); border-top: 1px solid var(--line);
  padding-top: 8px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
@media print { .verdict { break-inside: avoid; } }
"""

_BAR_WIDTH, _BAR_HEIGHT, _BAR_PAD = 220, 22, 8


def data_fingerprint(result: AnalysisResult) -> dict[str, Any]:
    """What identifies the data behind a result: row and arm counts and a hash of the summaries.

    The hash is the SHA-256 of every comparison's counts, estimates and standard error (and the
    same per segment), so the same data analyzed with the same plan give the same fingerprint,
    and any change to the rows that moves a summary changes it. It is not a hash of the rows.

    Examples:
        >>> import ablens
        >>> data = {
        ...     "a": ablens.Moments.from_summary(100, mean={"x": 1.0}, variance={"x": 1.0}),
        ...     "b": ablens.Moments.from_summary(120, mean={"x": 1.2}, variance={"x": 1.0}),
        ... }
        >>> fingerprint = data_fingerprint(ablens.analyze(data, [ablens.Mean("x")], control="a"))
        >>> fingerprint["rows"], fingerprint["counts"], len(fingerprint["sha256"])
        (None, {'a': 100, 'b': 120}, 64)
    """

    def summary(r: AnalysisResult) -> dict[str, Any]:
        return {
            "counts": dict(zip(r.arms, r.counts, strict=True)),
            "comparisons": [
                [
                    c.metric,
                    c.treatment,
                    c.control_count,
                    c.treatment_count,
                    c.result.control_estimate,
                    c.result.treatment_estimate,
                    c.result.standard_error,
                ]
                for c in r.comparisons
            ],
        }

    document = summary(result)
    document["segments"] = {label: summary(r) for label, r in result.segments.items()}
    text = json.dumps(document, sort_keys=True, default=str)
    rows = None if result.data_report is None else result.data_report.rows
    return {
        "rows": rows,
        "counts": dict(zip(result.arms, result.counts, strict=True)),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def render_report(
    result: AnalysisResult,
    plan: AnalysisPlan | None = None,
    *,
    decision: Verdict | None = None,
    generated_at: dt.datetime | None = None,
    sequential: Sequence[SequentialReading] = (),
    bayesian: Sequence[BayesianReading] | None = None,
    best_arm: Sequence[BestArmReading] | None = None,
) -> str:
    """The report as one self-contained HTML document (no external URL of any kind).

    The parts not given are composed as the readout composes them
    (`ablens.readout.compose_readout`), then rendered by `render_readout`.

    Args:
        result: The analysis.
        plan: The plan it came from (title, planned sample, methods, plan hash); optional.
        decision: The verdict, if already computed (default:
            ``verdict(result, plan, sequential=sequential)``).
        generated_at: The time to print in the footer (default: now, UTC).
        sequential: The sequential readings (`ablens.readout.sequential_readings`), shown as
            a section with one table and chart per metric.
        bayesian: The Bayesian readings, shown as two more columns of the metrics table
            (default: computed from ``result`` when the plan asks for them, else none).
        best_arm: With three or more arms, the chance that each arm is best, shown as a
            section (default: computed like ``bayesian``).

    Returns:
        The HTML text.
    """
    readout = compose_readout(
        result,
        plan,
        decision=decision,
        sequential=sequential,
        bayesian=bayesian,
        best_arm=best_arm,
    )
    return render_readout(readout, generated_at=generated_at)


def render_readout(readout: Readout, *, generated_at: dt.datetime | None = None) -> str:
    """`render_report` of a plan's `ablens.readout.Readout` (analysis, looks, Bayesian, verdict).

    Examples:
        >>> import ablens
        >>> from ablens.analysis_plan import plan_from_dict
        >>> from ablens.readout import Readout, bayesian_readout
        >>> from ablens.decision import verdict
        >>> def arm(units, converted):
        ...     column = [1] * converted + [0] * (units - converted)
        ...     return ablens.Moments.from_columns({"converted": column})
        >>> data = {"control": arm(10_000, 1_000), "treatment": arm(10_000, 1_100)}
        >>> result = ablens.analyze(data, [ablens.Proportion("converted")], control="control")
        >>> plan = plan_from_dict(
        ...     {
        ...         "experiment_id": "e1",
        ...         "source": {"path": "users.parquet"},
        ...         "control": "control",
        ...         "metrics": [{"kind": "proportion", "column": "converted"}],
        ...         "bayesian": True,
        ...     }
        ... )
        >>> readout = Readout(plan, result, verdict(result, plan), (), bayesian_readout(result))
        >>> page = render_readout(readout)
        >>> '<td class="bayes">98.9%</td>' in page  # chance to beat control
        True
    """
    result, plan, decision = readout.result, readout.plan, readout.verdict
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    title = plan.experiment_id if plan is not None else "A/B test"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="ablens {_e(__version__)}">',
        f"<title>{_e(title)}: {_e(decision.label)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _verdict_section(decision, plan),
        _health_section(result, decision),
        _metrics_section(result, plan, readout.bayesian),
        _best_arm_section(readout.best_arm),
        _sequential_section(readout.sequential, plan),
        _segments_section(result),
        _methodology_section(
            result, plan, sequential=bool(readout.sequential), bayesian=readout.bayesian
        ),
        _footer(result, plan, generated_at),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def render_data_problems(
    problems: Sequence[str],
    plan: AnalysisPlan | None = None,
    *,
    generated_at: dt.datetime | None = None,
) -> str:
    """The report when the data fail the checks: "Don't trust — fix the data" and every problem.

    Nothing could be analyzed (duplicate units, labels not in the plan's arms, NULL values,
    ...), but a scheduled report still says so instead of leaving the last good page in place
    or writing nothing: the verdict (`ablens.decision.data_verdict`), one red banner per
    problem, and the footer (plan hash, ablens version, time).

    Args:
        problems: What is wrong with the data, one sentence each (at least one).
        plan: The plan that was run (experiment, plan hash); optional.
        generated_at: The time to print in the footer (default: now, UTC).

    Returns:
        The HTML text.

    Examples:
        >>> page = render_data_problems(["column 'user_id' repeats unit ids: 3 row(s)"])
        >>> "<h1>Don&#x27;t trust — fix the data</h1>" in page
        True
        >>> page.count('<div class="banner fail" role="alert"><strong>Data</strong>')
        1
    """
    decision = data_verdict(problems)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    title = plan.experiment_id if plan is not None else "A/B test"
    explanation = (
        '<section><h2>What to do</h2><p class="muted">The data failed the checks that run '
        "before any statistic, so no metric was computed: numbers from such data would not "
        "mean what they say. Fix each problem above in the source (or in the plan, when the "
        "plan is what is wrong) and run the report again.</p></section>"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="ablens {_e(__version__)}">',
        f"<title>{_e(title)}: {_e(decision.label)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _verdict_section(decision, plan),
        _health_section(None, decision),
        explanation,
        _footer(None, plan, generated_at),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(
    result: AnalysisResult,
    path: str | Path,
    plan: AnalysisPlan | None = None,
    *,
    decision: Verdict | None = None,
    generated_at: dt.datetime | None = None,
    sequential: Sequence[SequentialReading] = (),
    bayesian: Sequence[BayesianReading] | None = None,
    best_arm: Sequence[BestArmReading] | None = None,
) -> Path:
    """Write `render_report` to ``path`` (UTF-8) and return the path."""
    target = Path(path)
    page = render_report(
        result,
        plan,
        decision=decision,
        generated_at=generated_at,
        sequential=sequential,
        bayesian=bayesian,
        best_arm=best_arm,
    )
    target.write_text(page, encoding="utf-8")
    return target


# ------------------------------------------------------------------------------- sections
def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _verdict_section(decision: Verdict, plan: AnalysisPlan | None) -> str:
    kicker = []
    if plan is not None:
        kicker.append(f"Experiment {plan.experiment_id}")
        if plan.team:
            kicker.append(f"team {plan.team}")
    description = (
        f'<p class="muted">{_e(plan.description)}</p>' if plan and plan.description else ""
    )
    css = _VERDICT_CLASS[decision.label]
    kicker_html = f'<p class="kicker">{_e(" · ".join(kicker))}</p>' if kicker else ""
    return (
        f'<section class="verdict verdict-{css}" aria-label="verdict">{kicker_html}'
        f"<h1>{_e(decision.label)}</h1>"
        f'<p class="reason">{_e(decision.reason)}</p></section>{description}'
    )


def _health_section(result: AnalysisResult | None, decision: Verdict) -> str:
    passed = [c for c in decision.checks if c.passed]
    banners = [
        f'<div class="banner fail" role="alert"><strong>{_e(_CHECK_TITLES.get(c.name, c.name))}'
        f"</strong>: {_e(c.message)}</div>"
        for c in decision.checks
        if c.status == "failed"
    ]
    css = {"incomplete": "wait", "warning": "warn"}
    banners += [
        f'<div class="banner {css[c.status]}" role="status"><strong>'
        f"{_e(_CHECK_TITLES.get(c.name, c.name))}</strong>: {_e(c.message)}</div>"
        for c in decision.checks
        if c.status in css
    ]
    notes = list(decision.notes)
    if result is not None and result.data_report is not None:
        notes += [f"Data: {w}." for w in result.data_report.warnings]
    banners += [f'<div class="banner note">{_e(n)}</div>' for n in notes]
    items = "".join(
        f"<li><strong>{_e(_CHECK_TITLES.get(c.name, c.name))}</strong>: {_e(c.message)}</li>"
        for c in passed
    )
    checks = f'<ul class="checks">{items}</ul>' if items else ""
    return f"<section><h2>Health</h2>{''.join(banners)}{checks}</section>"


def _scale(comparisons: Sequence[Comparison]) -> float:
    values = [
        abs(v)
        for c in comparisons
        # An unbounded Fieller set draws no bar, so it does not set the shared scale either.
        if c.adjusted_relative_ci is not None or c.result.relative_ci_shape == "bounded"
        for v in (*_interval(c), c.result.relative_effect)
        if math.isfinite(v)
    ]
    return 1.08 * max(values) if values and max(values) > 0 else 0.01


def _interval(c: Comparison) -> tuple[float, float]:
    return c.adjusted_relative_ci or c.result.relative_ci


def _bar(c: Comparison, scale: float) -> str:
    """An inline SVG of the lift's interval on a shared scale, zero in the middle."""
    lo, hi = _interval(c)
    estimate = c.result.relative_effect
    if not math.isfinite(estimate) or math.isnan(lo) or math.isnan(hi):
        return '<span class="muted">—</span>'
    if c.adjusted_relative_ci is None and c.result.relative_ci_shape != "bounded":
        # A bar would draw an unbounded Fieller set as an interval covering everything; the
        # lift cell says what the set excludes instead.
        return '<span class="muted">unbounded</span>'
    width, height, pad = _BAR_WIDTH, _BAR_HEIGHT, _BAR_PAD
    middle = height / 2

    def x(value: float) -> float:
        clipped = min(max(value, -scale), scale)
        return pad + (clipped + scale) / (2 * scale) * (width - 2 * pad)

    left, right = x(lo), x(hi)
    shapes = [
        f'<line class="axis" x1="{pad}" y1="{middle}" x2="{width - pad}" y2="{middle}"/>',
        f'<line class="zero" x1="{x(0):.1f}" y1="2" x2="{x(0):.1f}" y2="{height - 2}"/>',
        (
            f'<rect class="range" x="{left:.1f}" y="{middle - 4}" '
            f'width="{max(right - left, 1):.1f}" height="8" rx="2"/>'
        ),
    ]
    if lo < -scale:  # open (one-sided) or off-scale bound: an arrowhead at the edge
        shapes.append(
            f'<polygon class="edge" points="{pad - 6},{middle} {pad},{middle - 5} '
            f'{pad},{middle + 5}"/>'
        )
    if hi > scale:
        shapes.append(
            f'<polygon class="edge" points="{width - pad + 6},{middle} {width - pad},'
            f'{middle - 5} {width - pad},{middle + 5}"/>'
        )
    shapes.append(
        f'<line class="point" x1="{x(estimate):.1f}" y1="3" x2="{x(estimate):.1f}" '
        f'y2="{height - 3}"/>'
    )
    label = (
        f"lift {render.format_percent(estimate)}, interval "
        f"{render.format_interval(lo, hi, percent=True)}, {c.outcome}"
    )
    return (
        f'<svg class="ci {_e(c.outcome)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>'
        f"{''.join(shapes)}</svg>"
    )


def _lift_text(c: Comparison) -> str:
    r = c.result
    if math.isfinite(r.relative_effect):
        return f"{render.format_percent(r.relative_effect)} {c.relative_interval_text}"
    return "—"


def _small_sample_mark(c: Comparison) -> str:
    """A flag under the p-value of a large-sample result read from too few units.

    The note itself is listed under Methodology, Details (`AnalysisResult.summary_lines`); the
    flag, with the note as its tooltip, puts the warning next to the number it qualifies.
    """
    notes = [n for n in c.result.notes if n.startswith(SMALL_SAMPLE_NOTE)]
    if not notes:
        return ""
    return f'<br><small class="small-sample" title="{_e(notes[0])}">small sample</small>'


def _metric_cell(c: Comparison) -> str:
    good = "higher is better" if c.direction == "increase" else "lower is better"
    arrow = "↑" if c.direction == "increase" else "↓"
    return (
        f'<td class="text"><strong>{_e(c.metric)}</strong>'
        f'<span class="badge {_e(c.role)}">{_e(c.role)}</span>'
        f'<br><small title="{good}">{arrow} {good}</small></td>'
    )


def _metrics_section(
    result: AnalysisResult,
    plan: AnalysisPlan | None,
    bayesian: Sequence[BayesianReading] = (),
) -> str:
    scale = _scale(result.comparisons)
    level = f"{round(100 * (1 - result.alpha), 4):g}%"
    adjusted = result.correction and any(c.adjusted_relative_ci for c in result.comparisons)
    level_text = f"{level} {result.correction}-adjusted" if adjusted else level
    p_header = f"p ({result.correction})" if result.correction else "p-value"
    control = "control" if result.control == "control" else f"{result.control} (control)"
    head = (
        f'<tr><th class="text">metric</th><th class="text arm">arm</th><th>{_e(control)}'
        f"</th><th>arm value</th><th>lift [{_e(level_text)} CI]</th>"
        f'<th class="bar">interval, scale ±{_e(render.format_percent(scale, signed=False))}</th>'
        f"<th>{_e(p_header)}</th>{_bayes_header(bayesian)}</tr>"
    )
    readings = {(r.metric, r.treatment): r for r in bayesian}
    # With one treatment arm the arm column repeats one name: a phone can leave it out.
    one_arm = "one-arm" if len({c.treatment for c in result.comparisons}) == 1 else ""
    rows = []
    for c in result.comparisons:
        cells = c.display_row()  # the one formatting of values, counts and effects
        rows.append(
            f'<tr class="{_e(c.outcome)}">{_metric_cell(c)}'
            f'<td class="text arm">{_e(c.treatment)}'
            f"</td><td>{_e(cells[2])}</td><td>{_e(cells[3])}</td>"
            f'<td><span class="lift">{_e(_lift_text(c))}</span><br>'
            f"<small>effect {_e(cells[4])}</small></td>"
            f'<td class="bar">{_bar(c, scale)}</td>'
            f"<td>{_e(render.format_pvalue(c.p_value))}{_small_sample_mark(c)}</td>"
            f"{_bayes_cells(readings.get((c.metric, c.treatment)), bool(bayesian))}</tr>"
        )
    legend = (
        '<p class="muted bar-legend">Bars: the lift\'s interval around zero (the vertical '
        "line), the tick is the estimate. Green: significant in the metric's desired "
        "direction; red: significant against it; grey: not significant.</p>"
    )
    return (
        '<section><h2>Metrics</h2><div class="wide" tabindex="0">'
        f'<table class="{one_arm}"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{legend}{_bayes_legend(bayesian)}</section>"
    )


def _best_arm_section(readings: Sequence[BestArmReading]) -> str:
    """With three or more arms: the chance that each arm is best, and its expected loss."""
    if not readings:
        return ""
    head = "".join(f"<th>{_e(h)}</th>" for h in BEST_ARM_HEADERS)
    rows = []
    for reading in readings:
        for cells in reading.display_rows():
            best = reading.best is not None and cells[1] == f"{reading.best} (best)"
            css = ' class="best"' if best else ""
            rows.append(f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    missing = "".join(
        f"<li>{_e(line)}.</li>" for r in readings if (line := r.missing_line()) is not None
    )
    return (
        '<section class="best-arm"><h2>Which arm is best (Bayesian)</h2>'
        '<div class="wide" tabindex="0"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
        '<p class="muted">Flat prior (Beta(1, 1) on each rate for proportions; for other '
        "metrics each arm's estimate with its standard error). The chance that each arm is "
        "the best of all arms in the metric's desired direction, and the expected loss of "
        "shipping it: how far, on average, it falls short of the best arm, in the metric's "
        "units (pp for rates). A decision aid, not corrected for multiple comparisons.</p>"
        + (f'<ul class="muted">{missing}</ul>' if missing else "")
        + "</section>"
    )


def _bayes_header(bayesian: Sequence[BayesianReading]) -> str:
    if not bayesian:
        return ""
    return (
        '<th title="Bayesian, flat prior: posterior probability that the arm is better than '
        'control in the desired direction">chance to beat control (Bayesian)</th>'
        '<th title="Bayesian: what shipping the arm costs on average if it is in fact worse, '
        "in the metric's units\">expected loss if shipped</th>"
    )


def _bayes_cells(reading: BayesianReading | None, shown: bool) -> str:
    if not shown:
        return ""
    if reading is None or reading.model is None:
        why = "not defined" if reading is None else f"not defined: {reading.reason}"
        cell = f'<td class="bayes" title="{_e(why)}"><span class="muted">—</span></td>'
        return cell + cell
    cells = reading.display_row()
    return f'<td class="bayes">{_e(cells[2])}</td><td class="bayes">{_e(cells[3])}</td>'


def _bayes_legend(bayesian: Sequence[BayesianReading]) -> str:
    if not bayesian:
        return ""
    missing = "".join(
        f"<li>{_e(r.metric)} ({_e(r.treatment)}): — {_e(r.reason)}.</li>"
        for r in bayesian
        if r.model is None
    )
    models = sorted({f"{r.model}: {r.prior_text}" for r in bayesian if r.model is not None})
    text = (
        '<p class="muted">Bayesian columns (flat prior; '
        + _e("; ".join(models))
        + "): the chance that the arm beats control in the metric's desired direction, and "
        "the expected loss of shipping it, in the metric's units (pp for rates). They come "
        "from the same per-arm counts, means and standard errors as the tests, and are not "
        "corrected for multiple comparisons.</p>"
    )
    return text + (f'<ul class="muted">{missing}</ul>' if missing else "")


def _strip_namespace(svg: str) -> str:
    """Inline SVG in HTML needs no ``xmlns``; dropping it keeps the page free of any URL."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")


def _sequential_section(sequential: Sequence[SequentialReading], plan: AnalysisPlan | None) -> str:
    if not sequential:
        return ""
    method = sequential[0].method_name
    time = sequential[0].time
    intro = (
        f'<p class="muted">The {_e(method)} method reads the primary metrics and guardrails at '
        f"every value of {_e(time)}, with bounds that stay valid however often they are read: a "
        "crossed boundary may end the experiment before its planned sample. Blue band: the "
        "sequential interval of the effect; grey: the naive fixed-horizon interval, valid "
        "only if read once; red: the estimate (filled where the method stopped).</p>"
    )
    parts = [f'<section class="looks"><h2>Sequential looks</h2>{intro}']
    for reading in sequential:
        title = f"{reading.metric} ({reading.treatment}, {reading.role})"
        parts.append(f"<h3>{_e(title)}</h3>")
        if reading.looks is None:
            parts.append(f'<p class="muted">No sequential reading: {_e(reading.reason)}.</p>')
            continue
        css = "stopped" + (" worse" if reading.outcome == "worse" else "")
        css = css if reading.stopped else "muted"
        sentence = reading.sentence()
        parts.append(f'<p class="{css}">{_e(sentence[0].upper() + sentence[1:])}.</p>')
        looks = _strip_namespace(reading.looks.to_html())
        parts.append(f'<div class="wide" tabindex="0">{looks}</div>')
    parts.append("</section>")
    return "".join(parts)


def _segments_section(result: AnalysisResult) -> str:
    if not result.segments:
        return ""
    comparisons = [c for r in result.segments.values() for c in r.comparisons]
    scale = _scale(comparisons)
    one_arm = "one-arm" if len({c.treatment for c in comparisons}) == 1 else ""
    head = (
        '<tr><th class="text">segment</th><th class="text">metric</th><th class="text arm">arm'
        "</th><th>units (control / arm)</th><th>split p</th><th>lift [CI]</th>"
        f'<th class="bar">interval, scale ±{_e(render.format_percent(scale, signed=False))}</th>'
        "<th>p-value</th></tr>"
    )
    rows = []
    for label, segment in result.segments.items():
        split_css = ' class="srm-mismatch"' if segment.srm.mismatch else ""
        for c in segment.comparisons:
            rows.append(  # noqa: PERF401 - one row per comparison reads better as a loop
                f'<tr class="{_e(c.outcome)}"><td class="text">{_e(label)}</td>'
                f'<td class="text">{_e(c.metric)}</td><td class="text arm">{_e(c.treatment)}</td>'
                f"<td>{c.control_count:,} / {c.treatment_count:,}</td>"
                f"<td{split_css}>{_e(segment.split_text())}</td>"
                f'<td><span class="lift">{_e(_lift_text(c))}</span></td>'
                f'<td class="bar">{_bar(c, scale)}</td>'
                f"<td>{_e(render.format_pvalue(c.p_value))}{_small_sample_mark(c)}</td></tr>"
            )
    threshold = next(iter(result.segments.values())).srm.alpha
    note = (
        '<p class="muted">Each segment is analyzed on its own and not corrected for the number '
        "of segments: read them for explanations, not for decisions. Quantile, rank and "
        "post-stratified metrics are computed overall only. Split p is each segment's "
        f"sample-ratio check, a mismatch below {_e(render.format_pvalue(threshold))} (the "
        f"threshold over {len(result.segments)} segments); do not read a segment whose split "
        "is off.</p>"
    )
    return (
        f'<section><h2>Segments</h2>{note}<div class="wide" tabindex="0"><table class="{one_arm}">'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _test_title(c: Comparison) -> str:
    """The comparison's test in words, as its kind declares it (any kind's title else)."""
    own = kind_named(c.kind).test_titles.get(c.result.test)
    if own is not None:
        return own
    for name in metric_kinds():
        title = kind_named(name).test_titles.get(c.result.test)
        if title is not None:
            return title
    return c.result.test


def _metric_method(c: Comparison, spec: MetricSpec | None) -> str:
    r = c.result
    test = _test_title(c)
    text = f"{c.metric} ({c.kind}, {c.role}): {test}"
    if spec is not None and spec.covariates:
        text += f", covariates: {', '.join(spec.covariates)}"
    if spec is not None and spec.stratum:
        text += f", strata of {spec.stratum}"
    if r.alternative != "two-sided":
        text += f", one-sided ({r.alternative})"
    if math.isfinite(r.relative_effect):
        method = _RELATIVE_METHODS.get(r.relative_method, r.relative_method)
        text += f"; lift interval by {method}"
    return text + "."


def _methodology_section(
    result: AnalysisResult,
    plan: AnalysisPlan | None,
    *,
    sequential: bool = False,
    bayesian: Sequence[BayesianReading] = (),
) -> str:
    specs = {s.name: s for s in plan.metrics} if plan is not None else {}
    level = f"{round(100 * (1 - result.alpha), 4):g}%"
    items = [
        (
            f"Significance level α = {result.alpha:g}; intervals have {level} confidence. A "
            "metric counts as better or worse only when its p-value is below α."
        ),
    ]
    seen: set[str] = set()
    for c in result.comparisons:
        if c.metric not in seen:
            seen.add(c.metric)
            items.append(_metric_method(c, specs.get(c.metric)))
    if result.correction:
        items.append(
            f"Multiple testing: p-values adjusted by {result.correction} over each "
            f"{result.family} family ({_family_text(result.family)})."
        )
    else:
        items.append("Multiple testing: no correction; each comparison is read on its own.")
    items.append(
        "Sample ratio: Pearson's chi-square goodness-of-fit test of the arm counts against "
        f"the planned split; a mismatch (p < {result.srm.alpha:g}) blocks every verdict."
    )
    method = plan.sequential if plan is not None else "none"
    if method == "none":
        items.append(
            "Fixed-horizon tests: read them once, at the planned sample size; looking "
            "repeatedly and stopping early inflates false positives."
        )
    elif sequential and plan is not None:
        spending = (
            f"{SPENDING_TITLES[plan.spending]} alpha spending at the information fraction "
            "units / planned.sample_size (repeated confidence intervals)"
            if method == "group-sequential"
            else "always-valid p-values and intervals"
        )
        items.append(
            f"Sequential: the {method} method ({spending}) on the looks of {plan.time}, for "
            "the primary metrics and guardrails, at α per comparison (α divided by the "
            "family size when the plan has a correction). Their decision replaces the "
            "fixed-horizon test's; the p-values and intervals of the metrics table are "
            "fixed-horizon, valid only when read once at the planned sample size."
        )
    else:
        items.append(
            f"The plan declares the {method} sequential method, but no look was read; these "
            "are fixed-horizon tests, valid at the planned sample size."
        )
    if bayesian:
        items.append(
            "Bayesian reading (flat prior): a proportion uses the Beta-binomial model with "
            "Beta(1, 1) on each arm's rate; other metrics the normal model of the difference "
            "with its standard error and a flat prior. Chance to beat control = posterior "
            "probability of an improvement in the desired direction; expected loss if shipped "
            "= posterior mean of the harm, E[max(0, −improvement)]. A decision aid, not a "
            "test: it has no false-positive guarantee under peeking."
        )
    items.append("A flat result without power is not evidence of no effect.")
    details = "".join(f"<li>{_e(line)}</li>" for line in result.summary_lines())
    return (
        "<section><h2>Methodology</h2><ul>"
        + "".join(f"<li>{_e(i)}</li>" for i in items)
        + f"</ul><h3>Details</h3><ul>{details}</ul></section>"
    )


def _family_text(family: str) -> str:
    return {
        "metric": "each metric across its treatment arms",
        "experiment": "every comparison of the experiment together",
        "primary": "primary metrics together; secondary metrics and guardrails uncorrected",
    }.get(family, family)


def _footer(
    result: AnalysisResult | None, plan: AnalysisPlan | None, generated_at: dt.datetime
) -> str:
    lines = []
    if plan is not None:
        lines.append(
            f"Plan: {_e(plan.name)}, sha256 <code>{_e(plan.sha256)}</code>"
            f" (experiment {_e(plan.experiment_id)})"
        )
    if result is None:
        lines.append("Data: failed the checks, not analyzed")
    else:
        fingerprint = data_fingerprint(result)
        counts = ", ".join(f"{arm} {n:,}" for arm, n in fingerprint["counts"].items())
        rows = "" if fingerprint["rows"] is None else f"{fingerprint['rows']:,} rows; "
        lines.append(
            f"Data: {_e(rows)}{_e(counts)}; fingerprint sha256 <code>{fingerprint['sha256']}</code>"
        )
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines.append(f"ablens {_e(__version__)}; generated {_e(stamp)}")
    return "<footer>" + "<br>".join(lines) + "</footer>"
