"""One self-contained HTML report of an analysis: verdict first, then the evidence.

The page loads nothing: styles are inline, the interval bars and the looks charts are inline
SVG, and there is no script, font or image from anywhere. It shows, in order: the verdict
sentence, the health banners, one row per metric and arm (control and treatment values with
their counts, the lift with its interval drawn around zero, green only when significant in the
metric's desired direction and red when significant against it, the p-value, a verdict badge,
and with ``bayesian: true`` the chance to beat control and the expected loss) with a plain
sentence under it, the sequential looks of the primary metrics and guardrails when the plan has
a sequential method (a table and a chart per metric), the segments, "How was this computed?"
(the methods, folded), and a reproducibility footer (plan hash, data fingerprint, ablens
version, UTC time). `render_readout` renders an `ablens.readout.Readout`.

Everything the report draws sits in ``<div class="ablens-report">`` and every style rule is
scoped under that class (colours are custom properties on it), so its ``<body>`` content and
its second ``<style>`` element can be embedded in another page without touching the host's
styles; the first ``<style>`` only sets the standalone page's margin. Narrower than 600 px (a
phone, or a narrow column of a wider page: a container query, not a media query) each metric
becomes a card, without any script.

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
import html
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ablens import render
from ablens._version import __version__
from ablens.decision import FIX_DATA, KEEP_RUNNING, NO_EFFECT, ROLL_BACK, SHIP, data_verdict
from ablens.decision_context import CONTEXT_CSS
from ablens.metrics.base import kind_named, metric_kinds
from ablens.metrics.table import MannWhitney
from ablens.readout import BEST_ARM_HEADERS, compose_readout, format_chance
from ablens.results import data_fingerprint
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
#: Multiple-testing corrections by their authors' names, as sentences spell them.
_CORRECTION_NAMES = {
    "bonferroni": "Bonferroni",
    "sidak": "Šidák",
    "holm": "Holm",
    "holm-sidak": "Holm-Šidák",
    "hochberg": "Hochberg",
    "hommel": "Hommel",
    "bh": "Benjamini-Hochberg",
    "by": "Benjamini-Yekutieli",
    "bky": "Benjamini-Krieger-Yekutieli",
}
_SEQUENTIAL_NAMES = {
    "group-sequential": "group-sequential",
    "msprt": "mSPRT (mixture sequential probability ratio test)",
    "confidence-sequence": "confidence-sequence",
}
_RELATIVE_METHODS = {
    "delta-log": "the delta method on the log of the ratio",
    "fieller": "Fieller's theorem",
    "delta": "the linear delta method on the lift",
}

#: The report's colours, light and dark. Every mark drawn on the page background (interval bars,
#: their edges and estimate, the zero line) keeps a contrast of at least 3:1 (WCAG 2.1, 1.4.11)
#: and every text colour at least 4.5:1, in both schemes; tests/test_report_accessibility.py
#: computes them from the page.
_LIGHT = {
    "fg": "#1f2328",
    "muted": "#59636e",
    "line": "#d0d7de",
    "bg": "#ffffff",
    "soft": "#f6f8fa",
    "good": "#1a7f37",
    "bad": "#cf222e",
    "warn": "#8a5c00",
    "neutral": "#818b98",
    "good-bg": "#dafbe1",
    "bad-bg": "#ffebe9",
    "warn-bg": "#fff8c5",
    "tip-bg": "#1f2328",
    "tip-fg": "#ffffff",
}
_DARK = {
    "fg": "#e6edf3",
    "muted": "#9198a1",
    "line": "#3d444d",
    "bg": "#0d1117",
    "soft": "#151b23",
    "good": "#3fb950",
    "bad": "#f85149",
    "warn": "#d29922",
    "neutral": "#768390",
    "good-bg": "#12261e",
    "bad-bg": "#2d1214",
    "warn-bg": "#2b2111",
    "tip-bg": "#e6edf3",
    "tip-fg": "#0d1117",
}


def _variables(colours: dict[str, str]) -> str:
    return " ".join(f"--{name}: {value};" for name, value in colours.items())


#: Only for the page as a file of its own: the report itself is styled by `_CSS` alone.
_PAGE_CSS = "body { margin: 0; } body > .ablens-report { min-height: 100vh; }"

# Every rule is scoped under the report's root element (.ablens-report), so the page's <body>
# content can be embedded in another page with this style without touching the host's.
# Narrow layouts follow the report's own width (a container query), not the window's: the
# same cards show on a phone and in a narrow frame or column of a wider page.
_CSS = (
    ".ablens-report { "
    + _variables(_LIGHT)
    + """
  container: ablens-report / inline-size; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
@media (prefers-color-scheme: dark) { .ablens-report { """
    + _variables(_DARK)
    + """ } }
.ablens-report * { box-sizing: border-box; }
.ablens-report main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
.ablens-report h1 { font-size: 28px; margin: 0 0 4px; }
.ablens-report h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
.ablens-report .kicker, .ablens-report .muted, .ablens-report small { color: var(--muted); }
.ablens-report .kicker { margin: 0; font-size: 13px; text-transform: uppercase;
  letter-spacing: .04em; }
.ablens-report .verdict { border-left: 6px solid var(--neutral); padding: 12px 18px;
  background: var(--soft); border-radius: 6px; }
.ablens-report .verdict .reason { font-size: 17px; margin: 4px 0 0; }
.ablens-report .verdict-ship { border-color: var(--good); }
.ablens-report .verdict-ship h1 { color: var(--good); }
.ablens-report .verdict-rollback, .ablens-report .verdict-fix { border-color: var(--bad); }
.ablens-report .verdict-rollback h1, .ablens-report .verdict-fix h1 { color: var(--bad); }
.ablens-report .verdict-keep { border-color: var(--warn); }
.ablens-report .verdict-keep h1 { color: var(--warn); }
.ablens-report .banner { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  margin: 8px 0; }
.ablens-report .banner.fail { background: var(--bad-bg); border-color: var(--bad); }
.ablens-report .banner.note, .ablens-report .banner.wait, .ablens-report .banner.warn {
  background: var(--warn-bg); border-color: var(--warn); }
.ablens-report ul.checks { list-style: none; padding: 0; margin: 8px 0; }
.ablens-report ul.checks li::before { content: "✓ "; color: var(--good); font-weight: 600; }
.ablens-report table { border-collapse: collapse; width: 100%;
  font-variant-numeric: tabular-nums; }
/* A table wider than the report scrolls in its own box (focusable, so the keyboard scrolls it
   too); the page keeps the screen's width. */
.ablens-report .wide { overflow-x: auto; }
.ablens-report th, .ablens-report td { text-align: right; padding: 6px 8px;
  border-bottom: 1px solid var(--line); vertical-align: middle; }
.ablens-report th { font-size: 13px; color: var(--muted); font-weight: 600;
  vertical-align: bottom; }
.ablens-report th:first-child, .ablens-report td:first-child, .ablens-report .text {
  text-align: left; }
.ablens-report td.bar { width: 224px; padding: 2px 4px; }
.ablens-report td.name { min-width: 150px; }
.ablens-report .versus { display: block; font-size: 13px; overflow-wrap: anywhere; }
.ablens-report td.lift { min-width: 170px; }
.ablens-report th.bar .axis { display: flex; justify-content: space-between; font-weight: 400;
  padding: 0 4px; }
.ablens-report .label { display: none; }
.ablens-report abbr.tip { text-decoration: underline dotted; cursor: help; position: relative; }
/* The header's explanation shows on keyboard focus too (a title only shows on hover). */
.ablens-report abbr.tip:focus { outline: 2px solid var(--fg); outline-offset: 1px; }
.ablens-report abbr.tip:focus::after { content: attr(title); position: absolute; top: 100%;
  right: 0; z-index: 2; width: max-content; max-width: 260px; margin-top: 4px; padding: 6px 8px;
  border-radius: 4px; background: var(--tip-bg); color: var(--tip-fg); font-size: 12px;
  font-weight: 400; text-align: left; white-space: normal; text-transform: none; }
.ablens-report th:first-child abbr.tip:focus::after { left: 0; right: auto; }
.ablens-report .badge { display: inline-block; font-size: 11px; padding: 0 6px;
  border-radius: 9px; border: 1px solid var(--line); color: var(--muted); margin-left: 4px; }
.ablens-report .badge.primary { border-color: var(--fg); color: var(--fg); }
.ablens-report .badge.guardrail { border-color: var(--warn); color: var(--warn); }
.ablens-report .outcome { display: inline-block; font-size: 12px; font-weight: 600;
  padding: 1px 8px; border-radius: 9px; text-align: center; border: 1px solid var(--line);
  color: var(--muted); }
.ablens-report .outcome.better { background: var(--good-bg); border-color: var(--good);
  color: var(--good); }
.ablens-report .outcome.worse { background: var(--bad-bg); border-color: var(--bad);
  color: var(--bad); }
.ablens-report small.small-sample { color: var(--warn); font-weight: 600; }
.ablens-report td.srm-mismatch { color: var(--bad); font-weight: 600; }
.ablens-report tr.better span.lift { color: var(--good); font-weight: 600; }
.ablens-report tr.worse span.lift { color: var(--bad); font-weight: 600; }
.ablens-report td .detail { display: block; }
.ablens-report td.control .detail, .ablens-report td.treat .detail { white-space: nowrap; }
.ablens-report td.lift .lift, .ablens-report td.lift .ci { white-space: nowrap; }
.ablens-report table.cards th abbr.tip, .ablens-report td.p { white-space: nowrap; }
.ablens-report table.cards th.bayes abbr.tip { white-space: normal; }
.ablens-report table.one-arm .arm { display: none; }
.ablens-report tbody.metric tr.numbers td { border-bottom: 0; }
.ablens-report tr.sentence td { padding-top: 0; color: var(--fg); font-size: 14px; }
.ablens-report svg.ci { display: block; }
.ablens-report svg.ci .axis { stroke: var(--neutral); stroke-width: 1; }
.ablens-report svg.ci .zero { stroke: var(--fg); stroke-width: 1.5; }
.ablens-report svg.ci .range, .ablens-report svg.ci .edge { fill: var(--neutral); }
.ablens-report svg.ci .point { fill: var(--fg); stroke: var(--bg); stroke-width: 1.5; }
.ablens-report svg.ci.better .range, .ablens-report svg.ci.better .edge { fill: var(--good); }
.ablens-report svg.ci.worse .range, .ablens-report svg.ci.worse .edge { fill: var(--bad); }
.ablens-report td.bayes { white-space: nowrap; }
.ablens-report tr.best td { font-weight: 600; }
.ablens-report .looks { margin: 12px 0 24px; }
.ablens-report .looks h3 { font-size: 16px; margin: 18px 0 4px; }
.ablens-report .looks p.stopped { color: var(--good); font-weight: 600; }
.ablens-report .looks p.stopped.worse { color: var(--bad); }
.ablens-report .looks table { font-size: 13px; }
.ablens-report .looks tr.stop td { font-weight: 600; }
.ablens-report .looks svg { max-width: 100%; height: auto; display: block; margin-top: 8px; }
.ablens-report .looks ul { font-size: 13px; color: var(--muted); }
.ablens-report details.how > summary { font-size: 19px; font-weight: 600; cursor: pointer;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.ablens-report details.how h3 { font-size: 16px; }
.ablens-report footer { margin-top: 36px; font-size: 13px; color: var(--muted);
  border-top: 1px solid var(--line); padding-top: 8px; }
.ablens-report code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  word-break: break-all; }
@container ablens-report (max-width: 599.98px) {
  .ablens-report main { padding: 16px 12px 32px; }
  .ablens-report h1 { font-size: 24px; }
  /* One card per metric and arm: the name, the verdict badge, the plain sentence, the lift
     with its interval and bar, the two arms' values, the p-value (and the Bayesian chance). */
  .ablens-report table.cards, .ablens-report table.cards > tbody { display: block; }
  .ablens-report table.cards > thead { display: none; }
  .ablens-report table.cards > tbody.metric, .ablens-report table.cards > tbody > tr.row {
    display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 6px 12px;
    position: relative; margin: 0 0 12px; padding: 10px 12px; border: 1px solid var(--line);
    border-radius: 8px; }
  .ablens-report table.cards > tbody.metric > tr { display: contents; }
  .ablens-report table.cards td { display: block; grid-column: 1 / -1; padding: 0; border: 0;
    text-align: left; min-width: 0; overflow-wrap: anywhere; }
  .ablens-report table.cards .label { display: block; }
  .ablens-report table.cards .label { font-size: 12px; color: var(--muted); }
  .ablens-report table.cards abbr.tip { position: static; }
  .ablens-report table.cards abbr.tip:focus::after { left: 8px; right: 8px; top: auto;
    max-width: none; width: auto; }
  .ablens-report table.cards td.name { order: 1; grid-column: 1; }
  .ablens-report table.cards td.result { order: 2; grid-column: 2; text-align: right; }
  .ablens-report table.cards td.sentence { order: 3; }
  .ablens-report table.cards td.lift { order: 4; grid-column: 1; }
  .ablens-report table.cards td.p { order: 5; grid-column: 2; }
  .ablens-report table.cards td.bar { order: 6; width: auto; }
  .ablens-report table.cards td.bar.empty { display: none; }
  .ablens-report table.cards td.control { order: 7; grid-column: 1; }
  .ablens-report table.cards td.treat { order: 8; grid-column: 2; }
  .ablens-report table.cards td.bayes { order: 9; grid-column: 1; white-space: normal; }
  .ablens-report table.cards td.bayes.loss { order: 10; grid-column: 2; }
  .ablens-report table.cards td .detail { white-space: normal; }
  .ablens-report table.cards svg.ci { width: 100%; max-width: 360px; height: auto; }
  .ablens-report table.cards td.segment { order: 1; grid-column: 1; font-weight: 600; }
  .ablens-report table.cards td.metric-name { order: 2; grid-column: 2; font-weight: 600; }
  .ablens-report table.cards td.arm { order: 3; }
  .ablens-report table.cards td.units { order: 7; grid-column: 1; }
  .ablens-report table.cards td.split { order: 8; grid-column: 2; }
  .ablens-report th, .ablens-report td { padding: 4px 4px; }
  .ablens-report table { font-size: 13px; }
}
@media print { .ablens-report .verdict { break-inside: avoid; } }
"""
)


_HEAD_END = (
    f"<style>{_PAGE_CSS}</style><style>{_CSS}{CONTEXT_CSS}</style></head>"
    '<body><div class="ablens-report"><main>'
)
_BODY_END = "</main></div></body></html>"

_BAR_WIDTH, _BAR_HEIGHT, _BAR_PAD = 220, 22, 8


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
        >>> "a 98.9% chance that treatment is better than control" in page
        True
        >>> "We are 95% confident the lift is between +" in page
        True
    """
    result, plan, decision = readout.result, readout.plan, readout.verdict
    words = _words(plan)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    title = plan.experiment_id if plan is not None else "A/B test"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="ablens {_e(__version__)}">',
        f"<title>{_e(title)}: {_e(decision.label)}</title>",
        _HEAD_END,
        _verdict_section(decision, plan, words, result.alpha),
        _context_section(readout),
        _health_section(result, decision, words),
        _metrics_section(result, plan, readout.bayesian, words),
        _best_arm_section(readout.best_arm),
        _sequential_section(readout.sequential, result, words),
        _segments_section(result, words),
        _methodology_section(
            result,
            plan,
            sequential=bool(readout.sequential),
            bayesian=readout.bayesian,
            words=words,
        ),
        _footer(result, plan, generated_at),
        _BODY_END,
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
        _HEAD_END,
        # The problems keep the library's words, as the command line prints them.
        _verdict_section(decision, plan, ("unit", "units")),
        _health_section(None, decision, ("unit", "units")),
        explanation,
        _footer(None, plan, generated_at),
        _BODY_END,
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


Words = tuple[str, str]  # the unit in the singular and the plural ("user", "users")


def _words(plan: AnalysisPlan | None) -> Words:
    """The word for the experiment's unit: the plan's unit column's noun, else users."""
    return render.unit_words(plan.unit if plan is not None else None)


_P_EQUALS = re.compile(r"\bp=(\d+(?:\.\d+)?(?:e[+-]?\d+)?)")
_P_BELOW = re.compile(r"\bp<(\d+(?:\.\d+)?(?:e[+-]?\d+)?)")
_P_THRESHOLD = re.compile(r"\bp < (0\.0\d{4,})")


def _for_people(text: str, words: Words, alpha: float | None = None) -> str:
    """A sentence of the library's (verdict, health, sequential) in the report's words.

    The library's counts say "units"; the report says the plan's word (users by default); only
    the plural, which the library uses for counts ("20,000 units"), as "the unit id" names the
    concept of the unit column. Its p-values (``p=0.0003375``, ``p<1e-10``) read as the
    report's own do (``p < 0.001``, ``p = 0.61``; `ablens.render.format_pvalue_plain`), and a
    threshold of many digits gets two (``p < 0.0003333`` reads ``p < 0.00033``).
    """

    def equals(match: re.Match[str]) -> str:
        shown = render.format_pvalue_plain(float(match.group(1)), alpha=alpha)
        return f"p {shown}" if shown.startswith("<") else f"p = {shown}"

    def below(match: re.Match[str]) -> str:
        value = float(match.group(1))
        return f"p {render.format_pvalue_plain(value)}" if value <= 0.001 else match.group(0)

    text = re.sub(r"\bunits\b", words[1], text)
    text = _P_EQUALS.sub(equals, text)
    text = _P_BELOW.sub(below, text)
    return _P_THRESHOLD.sub(lambda m: f"p < {render.format_number(float(m.group(1)), 2)}", text)


def _tip(text: str, title: str) -> str:
    """A header with its explanation: a tooltip on hover, and on keyboard focus (tabindex)."""
    return f'<abbr class="tip" tabindex="0" title="{_e(title)}">{_e(text)}</abbr>'


def _label(text: str, title: str) -> str:
    """A cell's own label, shown only when the table is laid out as cards (narrow screens)."""
    return f'<span class="label">{_tip(text, title)}</span>'


def _level(confidence_level: float) -> str:
    return f"{round(100 * confidence_level, 4):g}%"


def _verdict_section(
    decision: Verdict, plan: AnalysisPlan | None, words: Words, alpha: float | None = None
) -> str:
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
        f'<p class="reason">{_e(_for_people(decision.reason, words, alpha))}</p></section>'
        f"{description}"
    )


def _context_section(readout: Readout) -> str:
    """Dates, traffic, chance to beat control, impact, days still needed, lift over time."""
    return "" if readout.context is None else readout.context.to_html()


def _health_section(result: AnalysisResult | None, decision: Verdict, words: Words) -> str:
    alpha = None if result is None else result.alpha

    def said(text: str) -> str:
        return _e(_for_people(text, words, alpha))

    passed = [c for c in decision.checks if c.passed]
    banners = [
        f'<div class="banner fail" role="alert"><strong>{_e(_CHECK_TITLES.get(c.name, c.name))}'
        f"</strong>: {said(c.message)}</div>"
        for c in decision.checks
        if c.status == "failed"
    ]
    css = {"incomplete": "wait", "warning": "warn"}
    banners += [
        f'<div class="banner {css[c.status]}" role="status"><strong>'
        f"{_e(_CHECK_TITLES.get(c.name, c.name))}</strong>: {said(c.message)}</div>"
        for c in decision.checks
        if c.status in css
    ]
    notes = list(decision.notes)
    if result is not None and result.data_report is not None:
        notes += [f"Data: {w}." for w in result.data_report.warnings]
    banners += [f'<div class="banner note">{said(n)}</div>' for n in notes]
    items = "".join(
        f"<li><strong>{_e(_CHECK_TITLES.get(c.name, c.name))}</strong>: {said(c.message)}</li>"
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
        (
            f'<rect class="range" x="{left:.1f}" y="{middle - 4}" '
            f'width="{max(right - left, 1):.1f}" height="8" rx="2"/>'
        ),
        f'<line class="zero" x1="{x(0):.1f}" y1="1" x2="{x(0):.1f}" y2="{height - 1}"/>',
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
    # The estimate: a dot ringed in the background colour, so it stands out on the bar.
    shapes.append(f'<circle class="point" cx="{x(estimate):.1f}" cy="{middle}" r="5"/>')
    label = (
        f"lift {render.format_percent(estimate)}, interval "
        f"{render.format_interval(lo, hi, percent=True)}, {_OUTCOME_WORDS[c.outcome].lower()}"
    )
    return (
        f'<svg class="ci {_e(c.outcome)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>'
        f"{''.join(shapes)}</svg>"
    )


def _bar_cell(c: Comparison, scale: float) -> str:
    """The bar's cell; one without a bar is classed "empty" (a card leaves it out)."""
    bar = _bar(c, scale)
    css = "bar" if bar.startswith("<svg") else "bar empty"
    return f'<td class="{css}">{bar}</td>'


_OUTCOME_WORDS = {"better": "Better", "worse": "Worse", "inconclusive": "No clear difference"}


def _is_rank(c: Comparison) -> bool:
    """A rank test: its arm values are a probability of superiority, its effect a shift."""
    return c.kind == MannWhitney.metric_kind.name


def _lift_text(c: Comparison) -> str:
    r = c.result
    if math.isfinite(r.relative_effect):
        return f"{render.format_percent(r.relative_effect)} {c.relative_interval_text}"
    return "—"


def _difference(c: Comparison, value: float) -> str:
    """An absolute difference as the metric shows it: points for rates, the number else."""
    if kind_named(c.kind).rate:
        return render.format_points(value)
    return render.format_number(value, signed=True)


def _difference_text(c: Comparison) -> str:
    """``+0.196pp [-0.546pp, +0.937pp]``: the absolute difference and its interval."""
    lo, hi = c.adjusted_effect_ci or c.result.effect_ci
    return f"{_difference(c, c.result.effect)} [{_difference(c, lo)}, {_difference(c, hi)}]"


def _small_sample_mark(c: Comparison) -> str:
    """A flag under the p-value of a large-sample result read from too few units.

    The note itself is listed under "How was this computed?", Details
    (`AnalysisResult.summary_lines`); the flag, with the note as its tooltip, puts the warning
    next to the number it qualifies.
    """
    notes = [n for n in c.result.notes if n.startswith(SMALL_SAMPLE_NOTE)]
    if not notes:
        return ""
    return f'<br><small class="small-sample" title="{_e(notes[0])}">small sample</small>'


def _p_cell(c: Comparison, title: str, *, label: bool = True) -> str:
    text = render.format_pvalue_plain(c.p_value, alpha=c.alpha)
    own = _label("p-value", title) if label else ""
    return f'<td class="p">{own}{_e(text)}{_small_sample_mark(c)}</td>'


def _outcome_badge(c: Comparison) -> str:
    return f'<span class="outcome {_e(c.outcome)}">{_OUTCOME_WORDS[c.outcome]}</span>'


def _correction_name(method: str | None) -> str:
    return _CORRECTION_NAMES.get(method or "", method or "")


def _outcome_clause(c: Comparison, *, excludes_null: bool) -> str:
    """How the interval reads as a decision: beyond chance, or not told apart from no change."""
    if c.outcome == "better":
        return ", so it is better beyond what chance explains."
    if c.outcome == "worse":
        return ", so it is worse beyond what chance explains."
    if excludes_null and c.correction is not None and c.family_size > 1:
        return (
            f". This interval is not corrected for the {c.family_size} comparisons tested "
            f"together; after {_correction_name(c.correction)}'s correction the change is not "
            "beyond chance."
        )
    return ", so it cannot be told apart from no change."


def _rank_sentence(c: Comparison, words: Words, level: str) -> str:
    r = c.result
    chance = render.format_percent(r.treatment_estimate, signed=False)
    text = (
        f"A random {c.treatment} {words[0]} has a higher value than a random {c.control} "
        f"{words[0]} {chance} of the time (50% means no difference; ties count half)."
    )
    lo, hi = r.effect_ci
    if math.isfinite(r.effect) and lo < hi:
        text += (
            f" We are {level} confident the typical difference (the median of all "
            f"{c.treatment} − {c.control} differences) is between {_difference(c, lo)} and "
            f"{_difference(c, hi)}."
        )
    elif math.isfinite(r.effect):
        text += (
            f" The typical difference is {_difference(c, r.effect)}: most pairs of "
            f"{words[1]} are tied (both at zero, say)."
        )
    verdicts = {
        "better": "Better beyond what chance explains.",
        "worse": "Worse beyond what chance explains.",
        "inconclusive": "It cannot be told apart from no change.",
    }
    return f"{text} {verdicts[c.outcome]}"


def _plain_sentence(c: Comparison, words: Words, *, many_arms: bool) -> str:
    """The interval in one honest sentence: a confidence interval's words, and what it means.

    "We are 95% confident the lift is between +2.5% and +8.8%": the fixed-horizon interval of
    the metrics table is a confidence interval, so it never reads as a probability of the lift
    (that is the Bayesian sentence's credible interval); an interval adjusted for multiple
    testing says so, and so does an unadjusted one whose p-value is adjusted.
    """
    r = c.result
    level = _level(r.confidence_level)
    if _is_rank(c):
        return _rank_sentence(c, words, level)
    of_arm = f" of {c.treatment}" if many_arms else ""
    adjusted = False
    if math.isfinite(r.relative_effect):
        subject = f"the lift{of_arm}"
        shape = "bounded" if c.adjusted_relative_ci is not None else r.relative_ci_shape
        if shape == "two-rays" and r.relative_ci_gap is not None:
            low, high = (render.format_percent(g) for g in r.relative_ci_gap)
            return (
                f"The data cannot pin {subject} down: at {level} confidence it lies anywhere "
                f"outside {low} to {high}, because the control's own value is too uncertain."
            )
        if shape == "real-line":
            return (
                f"The data cannot bound {subject} at {level} confidence: the control's own "
                "value is too uncertain."
            )
        lo, hi = _interval(c)
        adjusted = c.adjusted_relative_ci is not None
        shown = [render.format_percent(lo), render.format_percent(hi)]
    else:
        subject = f"the difference{of_arm}"
        lo, hi = c.adjusted_effect_ci or r.effect_ci
        adjusted = c.adjusted_effect_ci is not None
        shown = [_difference(c, lo), _difference(c, hi)]
    if math.isnan(lo) or math.isnan(hi):
        return f"The data give no interval for {subject}."
    if math.isinf(lo) and math.isinf(hi):
        body = f"{subject} could be anything"
    elif math.isinf(lo):
        body = f"{subject} is at most {shown[1]}"
    elif math.isinf(hi):
        body = f"{subject} is at least {shown[0]}"
    else:
        body = f"{subject} is between {shown[0]} and {shown[1]}"
    start = (
        f"Allowing for the {c.family_size} comparisons tested together, we are"
        if adjusted
        else "We are"
    )
    return f"{start} {level} confident {body}" + _outcome_clause(c, excludes_null=lo > 0 or hi < 0)


def _bayes_sentence(c: Comparison, reading: BayesianReading | None) -> str:
    """The credible interval's words: a probability, under the prior, that the value is in it."""
    if reading is None or reading.model is None or reading.probability_better is None:
        return ""
    text = (
        f" Bayesian view (flat prior): a {format_chance(reading.probability_better)} chance "
        f"that {c.treatment} is better than control"
    )
    lo, hi = reading.ci_lower, reading.ci_upper
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
        text += (
            f", and a {_level(reading.credible_level)} probability that the difference is "
            f"between {_difference(c, lo)} and {_difference(c, hi)}"
        )
    return text + "."


def _metric_name(c: Comparison, *, many_arms: bool) -> str:
    good = "higher is better" if c.direction == "increase" else "lower is better"
    arrow = "↑" if c.direction == "increase" else "↓"
    # With several treatment arms the row's arm goes under its metric (no column of its own,
    # which would cost the table its fit on a laptop screen).
    versus = (
        f'<span class="versus">{_e(c.treatment)} vs {_e(c.control)}</span>' if many_arms else ""
    )
    return (
        f'<td class="name text"><strong>{_e(c.metric)}</strong>'
        f'<span class="badge {_e(c.role)}">{_e(c.role)}</span>{versus}'
        f'<small class="detail" title="{good}">{arrow} {good}</small></td>'
    )


def _value_cell(css: str, label: str, title: str, shown: str, count: int, words: Words) -> str:
    return (
        f'<td class="{css}">{_label(label, title)}{_e(shown)}'
        f'<small class="detail">{count:,} {_e(words[1])}</small></td>'
    )


def _metric_tips(
    result: AnalysisResult, words: Words, level: str, *, adjusted: bool
) -> dict[str, str]:
    """The explanation of each column of the metrics table (tooltips and card labels)."""
    sizes = sorted({c.family_size for c in result.comparisons if c.correction is not None})
    p_tip = (
        "How surprising a difference this large would be if the change did nothing. "
        f"Below {result.alpha:g} counts as beyond chance."
    )
    if result.correction and sizes:
        p_tip += (
            f" Adjusted by {_correction_name(result.correction)}'s method for the "
            f"{' or '.join(map(str, sizes))} comparisons tested together."
        )
    return {
        "metric": (
            "What was measured. Primary metrics decide the verdict, guardrails must not get "
            "worse, secondary metrics help explain."
        ),
        "control": (
            f"The control arm's value: a rate, or an average per {words[0]}, with how many "
            f"{words[1]} it had."
        ),
        "treat": f"The treatment arm's value, with how many {words[1]} it had.",
        "lift": (
            f"The relative change against control, (arm − control) / control, with its {level}"
            f"{' adjusted' if adjusted else ''} confidence interval; under it the absolute "
            "difference (percentage points for rates). A rank test shows the chance that a "
            f"random arm {words[0]} beats a random control {words[0]} instead."
        ),
        "bar": (
            f"The lift's {level} interval drawn around zero (the vertical line); the dot is "
            "the estimate. Green: better beyond chance; red: worse beyond chance; grey: no "
            "clear difference. One scale for every row."
        ),
        "p": p_tip,
        "result": (
            "Better or Worse: the change is beyond chance in the metric's good or bad "
            "direction. No clear difference: it cannot be told apart from no change."
        ),
    }


def _axis(scale: float) -> str:
    """The bars' shared scale, under the column's title: -scale, 0, +scale."""
    return (
        f'<span class="axis"><span>{_e(render.format_percent(-scale))}</span><span>0</span>'
        f"<span>{_e(render.format_percent(scale))}</span></span>"
    )


def _lift_cell(c: Comparison, label: str) -> str:
    r = c.result
    if _is_rank(c):
        # A rank test has no value per arm: its numbers are the chance that a unit of the arm
        # beats one of control, and the shift of the metric (Hodges-Lehmann) under it.
        chance = render.format_percent(r.treatment_estimate, signed=False)
        body = (
            f'<span class="lift">{_e(chance)}</span> chance to beat'
            f'<small class="detail">shift {_e(_difference_text(c))}</small>'
        )
    elif math.isfinite(r.relative_effect):
        body = (
            f'<span class="lift">{_e(render.format_percent(r.relative_effect))}</span> '
            f'<small class="ci">{_e(c.relative_interval_text)}</small>'
            f'<small class="detail">difference {_e(_difference_text(c))}</small>'
        )
    else:  # no lift (a zero control): the absolute difference alone
        body = f'<span class="lift">{_e(_difference_text(c))}</span>'
    return f'<td class="lift">{label}{body}</td>'


def _metrics_section(
    result: AnalysisResult,
    plan: AnalysisPlan | None,
    bayesian: Sequence[BayesianReading] = (),
    words: Words = ("user", "users"),
) -> str:
    """One row per metric and arm with its plain sentence under it; a card each when narrow."""
    scale = _scale(result.comparisons)
    level = _level(1 - result.alpha)
    adjusted = bool(result.correction) and any(c.adjusted_relative_ci for c in result.comparisons)
    arms = list(dict.fromkeys(c.treatment for c in result.comparisons))
    many_arms = len(arms) > 1
    control = result.control
    tips = _metric_tips(result, words, level, adjusted=adjusted)
    lift_title = f"Lift ({level} CI)"
    head = (
        f'<tr><th class="text" scope="col">{_tip("Metric", tips["metric"])}</th>'
        f'<th scope="col">{_tip(control, tips["control"])}</th>'
        f'<th scope="col">{_tip("Arm value" if many_arms else arms[0], tips["treat"])}</th>'
        f'<th scope="col">{_tip(lift_title, tips["lift"])}</th>'
        f'<th class="bar" scope="col">{_tip("Interval", tips["bar"])}{_axis(scale)}</th>'
        f'<th scope="col">{_tip("p-value", tips["p"])}</th>'
        f'<th scope="col">{_tip("Result", tips["result"])}</th>'
        f"{_bayes_header(bayesian)}</tr>"
    )
    columns = 7 + (2 if bayesian else 0)
    readings = {(r.metric, r.treatment): r for r in bayesian}
    bodies = []
    for c in result.comparisons:
        reading = readings.get((c.metric, c.treatment))
        cells = c.display_row()  # the one formatting of values and effects
        values = [cells[2].rsplit(" (n=", 1)[0], cells[3].rsplit(" (n=", 1)[0]]
        if _is_rank(c):  # its "values" are a probability of superiority and 0.5
            values = ["—", "—"]
        sentence = _plain_sentence(c, words, many_arms=many_arms) + _bayes_sentence(c, reading)
        bodies.append(
            f'<tbody class="metric {_e(c.outcome)}"><tr class="numbers {_e(c.outcome)}">'
            f"{_metric_name(c, many_arms=many_arms)}"
            + _value_cell("control", control, tips["control"], values[0], c.control_count, words)
            + _value_cell("treat", c.treatment, tips["treat"], values[1], c.treatment_count, words)
            + _lift_cell(c, _label(lift_title, tips["lift"]))
            + f"{_bar_cell(c, scale)}"
            f"{_p_cell(c, tips['p'])}"
            f'<td class="result">{_outcome_badge(c)}</td>'
            f"{_bayes_cells(reading, bool(bayesian))}</tr>"
            f'<tr class="sentence"><td class="sentence text" colspan="{columns}">'
            f"{_e(sentence)}</td></tr></tbody>"
        )
    one_arm = "" if many_arms else " one-arm"
    return (
        '<section class="metrics"><h2>Metrics</h2><div class="wide" tabindex="0">'
        f'<table class="cards metrics{one_arm}"><thead>{head}</thead>'
        f"{''.join(bodies)}</table></div>{_bayes_legend(bayesian)}</section>"
    )


_BEST_ARM_TIPS = {
    "metric": "The metric the arms are ranked on, in its good direction.",
    "arm": "Each arm, control included.",
    "chance to be best": (
        "Bayesian, flat prior: the probability that this arm is the best of all arms."
    ),
    "expected loss if shipped": (
        "Bayesian: how far, on average, this arm falls short of the best arm, in the metric's "
        "own unit of measure (percentage points for rates)."
    ),
}


def _best_arm_section(readings: Sequence[BestArmReading]) -> str:
    """With three or more arms: the chance that each arm is best, and its expected loss."""
    if not readings:
        return ""

    def align(i: int) -> str:
        return ' class="text"' if i < 2 else ""  # metric and arm are words

    head = "".join(
        f'<th scope="col"{align(i)}>{_tip(h[0].upper() + h[1:], _BEST_ARM_TIPS.get(h, h))}</th>'
        for i, h in enumerate(BEST_ARM_HEADERS)
    )
    rows = []
    for reading in readings:
        for cells in reading.display_rows():
            best = reading.best is not None and cells[1] == f"{reading.best} (best)"
            css = ' class="best"' if best else ""
            # An arm name breaks after its underscores on a narrow screen, not mid-word.
            tds = "".join(
                f"<td{align(i)}>{_e(c).replace('_', '_<wbr>')}</td>" for i, c in enumerate(cells)
            )
            rows.append(f"<tr{css}>{tds}</tr>")
    missing = "".join(
        f"<li>{_e(line)}.</li>" for r in readings if (line := r.missing_line()) is not None
    )
    return (
        '<section class="best-arm"><h2>Which arm is best (Bayesian)</h2>'
        '<div class="wide" tabindex="0"><table class="ranks"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
        '<p class="muted">The chance that each arm is the best of all arms in the metric\'s '
        "good direction, and the expected loss of shipping it: how far, on average, it falls "
        "short of the best arm (percentage points for rates). Flat prior; a decision aid, not "
        "corrected for multiple comparisons.</p>"
        + (f'<ul class="muted">{missing}</ul>' if missing else "")
        + "</section>"
    )


_BAYES_TIPS = (
    (
        "Bayesian, flat prior: the probability that the arm is better than control in the "
        "metric's good direction."
    ),
    (
        "Bayesian: what shipping the arm costs on average if it is in fact worse, in the "
        "metric's own unit of measure (percentage points for rates)."
    ),
)


def _bayes_header(bayesian: Sequence[BayesianReading]) -> str:
    if not bayesian:
        return ""
    return (
        f'<th class="bayes" scope="col">{_tip("Chance to beat control", _BAYES_TIPS[0])}</th>'
        f'<th class="bayes" scope="col">{_tip("Expected loss if shipped", _BAYES_TIPS[1])}</th>'
    )


def _bayes_cells(reading: BayesianReading | None, shown: bool) -> str:
    if not shown:
        return ""
    labels = (
        _label("Chance to beat control", _BAYES_TIPS[0]),
        _label("Expected loss if shipped", _BAYES_TIPS[1]),
    )
    if reading is None or reading.model is None:
        why = "not defined" if reading is None else f"not defined: {reading.reason}"
        return "".join(
            f'<td class="bayes {css}" title="{_e(why)}">{label}<span class="muted">—</span></td>'
            for css, label in zip(("chance", "loss"), labels, strict=True)
        )
    cells = reading.display_row()
    return (
        f'<td class="bayes chance">{labels[0]}{_e(cells[2])}</td>'
        f'<td class="bayes loss">{labels[1]}{_e(cells[3])}</td>'
    )


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
        + "): the chance that the arm beats control in the metric's good direction, and "
        "the expected loss of shipping it (percentage points for rates). They come "
        "from the same per-arm counts, means and standard errors as the tests, and are not "
        "corrected for multiple comparisons.</p>"
    )
    return text + (f'<ul class="muted">{missing}</ul>' if missing else "")


def _strip_namespace(svg: str) -> str:
    """Inline SVG in HTML needs no ``xmlns``; dropping it keeps the page free of any URL."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")


def _sequential_interval_sentence(
    reading: SequentialReading, words: Words, result: AnalysisResult
) -> str:
    """The sequential interval at the reading's look, in words valid however often one looks."""
    looks = reading.looks
    if looks is None or not looks.rows:
        return ""
    row = reading.stopping_row or looks.rows[-1]
    lo, hi = row.sequential_lower, row.sequential_upper
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    level = _level(1 - reading.alpha)
    rates = {c.metric for c in result.comparisons if kind_named(c.kind).rate}

    def shown(value: float) -> str:  # a rate's difference in percentage points, as above
        if reading.metric in rates:
            return render.format_points(value)
        return render.format_number(value, signed=True)

    kind = (
        "repeated confidence interval, valid at every look of the design"
        if reading.method == "group-sequential"
        else "always-valid interval, valid however often the results are checked"
    )
    return (
        f"At {reading.time} {row.look} ({row.control_units + row.treatment_units:,} "
        f"{words[1]}), we are {level} confident the difference is between {shown(lo)} and "
        f"{shown(hi)} ({kind})."
    )


def _sequential_section(
    sequential: Sequence[SequentialReading], result: AnalysisResult, words: Words
) -> str:
    if not sequential:
        return ""
    method = sequential[0].method_name
    time = sequential[0].time
    intro = (
        f'<p class="muted">The {_e(method)} method reads the primary metrics and guardrails at '
        f"every value of {_e(time)}, with bounds that stay valid however often they are read: a "
        "crossed boundary may end the experiment before its planned sample. Blue band: the "
        "sequential interval of the difference; grey: the naive fixed-horizon interval, valid "
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
        sentence = _for_people(reading.sentence(), words, reading.alpha)
        parts.append(f'<p class="{css}">{_e(sentence[0].upper() + sentence[1:])}.</p>')
        interval = _sequential_interval_sentence(reading, words, result)
        if interval:
            parts.append(f'<p class="interval">{_e(interval)}</p>')
        looks = _strip_namespace(reading.looks.to_html())
        parts.append(f'<div class="wide" tabindex="0">{looks}</div>')
    parts.append("</section>")
    return "".join(parts)


def _segments_section(result: AnalysisResult, words: Words) -> str:
    if not result.segments:
        return ""
    comparisons = [c for r in result.segments.values() for c in r.comparisons]
    scale = _scale(comparisons)
    one_arm = " one-arm" if len({c.treatment for c in comparisons}) == 1 else ""
    threshold = next(iter(result.segments.values())).srm.alpha
    level = _level(1 - result.alpha)
    tips = {
        "segment": "The part of the traffic this row is computed on.",
        "metric": "What was measured.",
        "arm": "The treatment arm compared with the control.",
        "units": f"How many {words[1]} the segment has: in control / in the arm.",
        "split": (
            "The segment's sample-ratio check: how likely its split between arms is if "
            f"assignment worked as planned. Below {render.format_number(threshold, 2)} the "
            "split is off and the segment should not be read."
        ),
        "lift": f"The relative change against control, with its {level} confidence interval.",
        "bar": (
            f"The lift's {level} interval around zero; the dot is the estimate. One scale "
            "for every row."
        ),
        "p": "The segment's own p-value, not corrected for the number of segments.",
    }
    axis = (
        f'<span class="axis"><span>{_e(render.format_percent(-scale))}</span><span>0</span>'
        f"<span>{_e(render.format_percent(scale))}</span></span>"
    )
    head = (
        f'<tr><th class="text" scope="col">{_tip("Segment", tips["segment"])}</th>'
        f'<th class="text" scope="col">{_tip("Metric", tips["metric"])}</th>'
        f'<th class="text arm" scope="col">{_tip("Arm", tips["arm"])}</th>'
        f'<th scope="col">{_tip(words[1].capitalize(), tips["units"])}</th>'
        f'<th scope="col">{_tip("Split p", tips["split"])}</th>'
        f'<th scope="col">{_tip(f"Lift ({level} CI)", tips["lift"])}</th>'
        f'<th class="bar" scope="col">{_tip("Interval", tips["bar"])}{axis}</th>'
        f'<th scope="col">{_tip("p-value", tips["p"])}</th></tr>'
    )
    rows = []
    for label, segment in result.segments.items():
        split = render.format_pvalue_plain(segment.srm.p_value, alpha=threshold)
        split_css = "split"
        if segment.srm.mismatch:
            split, split_css = f"{split} (mismatch)", "split srm-mismatch"
        for c in segment.comparisons:
            rows.append(  # noqa: PERF401 - one row per comparison reads better as a loop
                f'<tr class="row {_e(c.outcome)}"><td class="segment text">{_e(label)}</td>'
                f'<td class="metric-name text">{_e(c.metric)}</td>'
                f'<td class="text arm">{_label("Arm", tips["arm"])}{_e(c.treatment)}</td>'
                f'<td class="units">{_label(words[1].capitalize(), tips["units"])}'
                f"{c.control_count:,} / {c.treatment_count:,}</td>"
                f'<td class="{split_css}">{_label("Split p", tips["split"])}{_e(split)}</td>'
                f'<td class="lift">{_label(f"Lift ({level} CI)", tips["lift"])}'
                f'<span class="lift">{_e(_lift_text(c))}</span></td>'
                f"{_bar_cell(c, scale)}"
                f"{_p_cell(c, tips['p'])}</tr>"
            )
    note = (
        '<p class="muted">Each segment is analyzed on its own and not corrected for the number '
        "of segments: read them for explanations, not for decisions. Quantile, rank and "
        "post-stratified metrics are computed overall only. Split p is each segment's "
        f"sample-ratio check; below {_e(render.format_number(threshold, 2))} (the "
        f"threshold {result.srm.alpha:g} split over {len(result.segments)} segments) the split "
        "is off: do not read that segment.</p>"
    )
    return (
        f'<section class="segments"><h2>Segments</h2>{note}<div class="wide" tabindex="0">'
        f'<table class="cards{one_arm}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
        "</table></div></section>"
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
    text = f"{c.metric} ({c.role}): {test}"
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
    words: Words = ("user", "users"),
) -> str:
    specs = {s.name: s for s in plan.metrics} if plan is not None else {}
    level = _level(1 - result.alpha)
    items = [
        (
            f"Significance level α = {result.alpha:g}; intervals are {level} confidence "
            "intervals. A metric counts as better or worse only when its p-value is below α."
        ),
    ]
    seen: set[str] = set()
    for c in result.comparisons:
        if c.metric not in seen:
            seen.add(c.metric)
            items.append(_metric_method(c, specs.get(c.metric)))
    if result.correction:
        items.append(
            f"Multiple testing: p-values adjusted by {_correction_name(result.correction)}'s "
            f"method over each {result.family} family ({_family_text(result.family)})."
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
            f"{words[1]} so far / planned sample size (repeated confidence intervals)"
            if method == "group-sequential"
            else "always-valid p-values and intervals"
        )
        items.append(
            f"Sequential: the {_SEQUENTIAL_NAMES.get(method, method)} method ({spending}) on "
            f"the looks of {plan.time}, for the primary metrics and guardrails, at α per "
            "comparison (α divided by the family size when the plan has a correction). Their "
            "decision replaces the fixed-horizon test's; the p-values and intervals of the "
            "metrics table are fixed-horizon, valid only when read once at the planned sample "
            "size."
        )
    else:
        items.append(
            f"The plan declares the {_SEQUENTIAL_NAMES.get(method, method)} sequential method, "
            "but no look was read; these are fixed-horizon tests, valid at the planned sample "
            "size."
        )
    if bayesian:
        items.append(
            "Bayesian reading (flat prior): a proportion uses the Beta-binomial model with "
            "Beta(1, 1) on each arm's rate; other metrics the normal model of the difference "
            "with its standard error and a flat prior. Chance to beat control = posterior "
            "probability of an improvement in the good direction; expected loss if shipped "
            "= posterior mean of the harm, E[max(0, −improvement)]; the credible interval is "
            "the range the difference lies in with the stated probability, given the prior. A "
            "decision aid, not a test: it has no false-positive guarantee under peeking."
        )
    items.append("A flat result without power is not evidence of no effect.")
    details = "".join(f"<li>{_e(line)}</li>" for line in result.summary_lines())
    return (
        '<section class="methodology"><details class="how"><summary>How was this computed?'
        "</summary><ul>"
        + "".join(f"<li>{_e(i)}</li>" for i in items)
        + f"</ul><h3>Details</h3><ul>{details}</ul></details></section>"
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
