"""The HTML report: one self-contained file, verdict first, colours that follow the decision."""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import ablens
from ablens import demo
from ablens.analysis_plan import load_plan, plan_from_dict, run_plan
from ablens.decision import FIX_DATA, ROLL_BACK, SHIP, verdict
from ablens.report import data_fingerprint, render_report, write_report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plan.yaml"
WHEN = dt.datetime(2026, 3, 16, 9, 30, tzinfo=dt.UTC)


class Page(HTMLParser):
    """Collects tags, attributes, text and nesting errors of a page."""

    VOID = frozenset({"meta", "br", "line", "rect", "polygon", "circle", "path", "img", "input"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def moments(n, means, sd=5.0):
    return ablens.Moments.from_summary(n, mean=dict(means), variance=dict.fromkeys(means, sd**2))


def assert_self_contained(page: str) -> Page:
    parsed = Page(page)
    assert parsed.problems == []
    assert parsed.stack == []
    assert "http://" not in page
    assert "https://" not in page
    assert "//" not in page  # no protocol-relative reference either
    assert not re.search(r"url\(|@import|<script|<link|<img|<iframe|src=|href=", page)
    for _, attrs in parsed.tags:
        assert "src" not in attrs
        assert "href" not in attrs
    return parsed


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    database = folder / "demo.duckdb"
    demo.run(database, users=20_000)
    plan_file = folder / "plan.yaml"
    plan_file.write_text(
        EXAMPLE.read_text().replace("file: ablens_demo.duckdb", f"file: {database}")
    )
    plan = load_plan(plan_file)
    return plan, run_plan(plan)


def test_demo_report_is_one_self_contained_page(demo_run):
    plan, result = demo_run
    page = render_report(result, plan, generated_at=WHEN)
    parsed = assert_self_contained(page)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    # The verdict is the first thing on the page, then its reason.
    body_text = parsed.text[parsed.text.index("Experiment ablens-demo · team growth") :]
    label, reason = verdict(result, plan)
    assert "(p=0.6052)" in reason  # the library's sentence; the report's p-value is for people
    assert body_text[1:3] == [label, reason.replace("(p=0.6052)", "(p = 0.61)")]
    assert "Sample ratio" in body_text
    assert ": The split 10,010 / 9,990 matches the planned 50% / 50% (p = 0.89)." in body_text
    assert "p=" not in "".join(body_text[: body_text.index("Details")])
    # One row per comparison, with values as the text readout shows them, counts in users.
    for comparison in result.comparisons:
        assert f">{comparison.metric}<" in page
    assert '7.652%<small class="detail">10,010 users</small>' in page
    assert '7.848%<small class="detail">9,990 users</small>' in page
    assert page.count('<tbody class="metric ') == len(result.comparisons) == 6
    assert (
        page.count('<svg class="ci ') == 5 + 12
    )  # 5 lifts overall (not the rank test), 12 in segments
    assert "Segments" in parsed.text
    assert "platform=android" in page
    # Methodology and reproducibility.
    assert '<details class="how"><summary>How was this computed?</summary>' in page
    assert "two-proportion z test" in page
    assert "Mann-Whitney U test" in page
    assert "p-values adjusted by Holm&#x27;s method over each primary family" in page
    assert "A flat result without power is not evidence of no effect." in page
    assert plan.sha256 in page
    assert data_fingerprint(result)["sha256"] in page
    assert f"ablens {ablens.__version__}; generated 2026-03-16 09:30:00 UTC" in page
    assert "20,000 rows; control 10,010, new_checkout 9,990" in page


def test_write_report(demo_run, tmp_path):
    plan, result = demo_run
    path = write_report(result, tmp_path / "r.html", plan, generated_at=WHEN)
    assert path.read_text(encoding="utf-8") == render_report(result, plan, generated_at=WHEN)


def test_fingerprint_is_stable_and_sensitive(demo_run):
    plan, result = demo_run
    assert data_fingerprint(result) == data_fingerprint(run_plan(plan))
    other = ablens.analyze(
        {"control": moments(100, {"x": 1.0}), "b": moments(100, {"x": 1.1})},
        [ablens.Mean("x")],
        control="control",
    )
    shifted = ablens.analyze(
        {"control": moments(100, {"x": 1.0}), "b": moments(100, {"x": 1.2})},
        [ablens.Mean("x")],
        control="control",
    )
    assert data_fingerprint(other)["sha256"] != data_fingerprint(shifted)["sha256"]
    assert data_fingerprint(other)["counts"] == {"control": 100, "b": 100}


def _result(treatment_means, *, n=(10_000, 10_000)):
    return ablens.analyze(
        {
            "control": moments(n[0], {"spend": 10.0, "latency": 100.0}),
            "treatment": moments(n[1], treatment_means),
        },
        [
            ablens.Mean("spend", role="primary"),
            ablens.Mean("latency", role="guardrail", direction="decrease"),
        ],
        control="control",
    )


def _row(page, metric):
    match = re.search(
        rf'<tr class="numbers (\w+)"><td class="name text"><strong>{metric}</strong>', page
    )
    assert match, metric
    return match.group(1)


def _bar_class(page, metric):
    row = page[page.index(f"<strong>{metric}</strong>") :]
    return re.search(r'<svg class="ci (\w+)"', row).group(1)


def test_green_only_in_the_desired_direction_red_against_it():
    # Latency should go down: a significant rise is red, a significant fall green.
    page = render_report(_result({"spend": 10.4, "latency": 99.0}))
    assert (_row(page, "spend"), _row(page, "latency")) == ("better", "better")
    assert (_bar_class(page, "spend"), _bar_class(page, "latency")) == ("better", "better")
    page = render_report(_result({"spend": 9.6, "latency": 101.0}))
    assert (_row(page, "spend"), _row(page, "latency")) == ("worse", "worse")
    assert _bar_class(page, "latency") == "worse"
    page = render_report(_result({"spend": 10.01, "latency": 100.0}))
    assert (_bar_class(page, "spend"), _bar_class(page, "latency")) == (
        "inconclusive",
        "inconclusive",
    )
    assert "svg.ci.better .range, .ablens-report svg.ci.better .edge { fill: var(--good)" in page
    assert "svg.ci.worse .range, .ablens-report svg.ci.worse .edge { fill: var(--bad)" in page


def test_verdicts_and_health_banners():
    ship = render_report(_result({"spend": 10.4, "latency": 100.0}))
    assert 'class="verdict verdict-ship"' in ship
    assert f"<h1>{SHIP}</h1>" in ship
    assert 'class="banner fail"' not in ship
    rollback = render_report(_result({"spend": 10.4, "latency": 101.0}))
    assert f"<h1>{ROLL_BACK}</h1>" in rollback
    assert '<div class="banner fail" role="alert"><strong>Guardrails</strong>' in rollback
    srm = render_report(_result({"spend": 10.4, "latency": 100.0}, n=(9_000, 11_000)))
    assert f"<h1>{FIX_DATA.replace(chr(39), '&#x27;')}</h1>" in srm
    assert '<div class="banner fail" role="alert"><strong>Sample ratio</strong>' in srm
    assert_self_contained(srm)


def test_not_enough_data_banner_and_plan_notes():
    plan = plan_from_dict(
        {
            "experiment_id": "e<1>",
            "description": "a & b",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [{"kind": "mean", "column": "spend"}],
            "sequential": "group-sequential",
            "time": "day",
            "planned": {"sample_size": 100_000, "duration_days": 10},
        }
    )
    result = ablens.analyze(
        {
            "control": moments(10_000, {"spend": 10.0}),
            "treatment": moments(10_000, {"spend": 10.0}),
        },
        [ablens.Mean("spend")],
        control="control",
    )
    page = render_report(result, plan)
    assert_self_contained(page)
    assert (  # the library's "units", in the report's word for them (users by default)
        '<div class="banner wait" role="status"><strong>Sample size</strong>: Only 20,000 of '
        "the planned 100,000 users"
    ) in page
    assert 'class="banner fail"' not in page
    assert (
        "The plan declares the group-sequential sequential method, but no look was read"
    ) in page
    assert "The plan declares no guardrail metric." in page
    assert "<title>e&lt;1&gt;: Inconclusive — keep running</title>" in page
    assert "a &amp; b" in page


def test_one_sided_bounds_get_an_arrow():
    result = ablens.analyze(
        {
            "control": moments(10_000, {"spend": 10.0}),
            "treatment": moments(10_000, {"spend": 10.3}),
        },
        [ablens.Mean("spend", alternative="greater")],
        control="control",
    )
    page = render_report(result)
    assert '<polygon class="edge"' in page
    assert_self_contained(page)


# ----------------------------------------------------------------------------- sequential
def _synthetic_readout():
    import numpy as np  # noqa: PLC0415
    import polars as pl  # noqa: PLC0415

    from ablens.readout import run_readout  # noqa: PLC0415

    rng = np.random.default_rng(5)
    n = 20_000
    treated = rng.random(n) < 0.5
    frame = pl.DataFrame(
        {
            "variant": np.where(treated, "treatment", "control"),
            "day": rng.integers(1, 11, n),
            "converted": rng.random(n) < np.where(treated, 0.115, 0.10),
            "latency": rng.normal(np.where(treated, 102.0, 100.0), 20.0),
        }
    )
    plan = plan_from_dict(
        {
            "experiment_id": "checkout",
            "source": {"path": "users.parquet"},
            "control": "control",
            "metrics": [
                {"name": "conversion", "kind": "proportion", "column": "converted"},
                {"kind": "mean", "column": "latency", "role": "guardrail", "direction": "decrease"},
                {"kind": "quantile", "column": "latency", "probability": 0.9, "role": "guardrail"},
            ],
            "sequential": "msprt",
            "time": "day",
            "bayesian": True,
            "planned": {"sample_size": 100_000},
        }
    )
    return run_readout(plan, data=frame)


def test_sequential_looks_and_bayesian_columns_in_the_report():
    from ablens.report import render_readout  # noqa: PLC0415

    readout = _synthetic_readout()
    page = render_readout(readout, generated_at=WHEN)
    assert_self_contained(page)
    assert f"<h1>{ROLL_BACK}</h1>" in page  # the latency guardrail crossed the wrong way
    assert '<div class="banner fail" role="alert"><strong>Guardrails</strong>' in page
    assert '<section class="looks"><h2>Sequential looks</h2>' in page
    latency = readout.sequential[1]
    assert (latency.metric, latency.outcome) == ("latency", "worse")
    svg = latency.looks.to_svg()
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg  # standalone SVG files keep it ...
    assert svg.replace(' xmlns="http://www.w3.org/2000/svg"', "") in page  # ... inline, not
    assert page.count("<svg width=") == 2  # conversion and latency; the p90 has no looks
    sentence = latency.sentence()
    assert " 7,959 units " in sentence  # the report says users, the plan's word for units
    sentence = sentence.replace(" 7,959 units ", " 7,959 users ")
    assert "(sequential p=0.004533)" in sentence
    sentence = sentence.replace("(sequential p=0.004533)", "(sequential p = 0.0045)")
    assert f'<p class="stopped worse">{sentence[0].upper() + sentence[1:]}.</p>' in page
    assert "No sequential reading: a quantile needs the table itself" in page
    assert (
        "Sequential: the mSPRT (mixture sequential probability ratio test) method (always-valid "
        "p-values and intervals) on the looks"
    ) in page
    # The sequential interval in words: valid however often one looks.
    row = latency.stopping_row
    assert (
        f"At day {row.look} (7,959 users), we are 95% confident the difference is between "
        f"{ablens.render.format_number(row.sequential_lower, signed=True)} and "
        f"{ablens.render.format_number(row.sequential_upper, signed=True)} (always-valid "
        "interval, valid however often the results are checked)."
    ) in page
    assert "but no look was read" not in page
    # Bayesian columns: numbers where defined, a dash with the reason where not.
    assert ">Chance to beat control</abbr></th>" in page
    conversion = readout.bayesian[0]
    cells = conversion.display_row()
    chance = re.search(r'<td class="bayes chance">.*?</span>([^<]*)</td>', page).group(1)
    loss = re.search(r'<td class="bayes loss">.*?</span>([^<]*)</td>', page).group(1)
    assert (html.unescape(chance), loss) == (cells[2], cells[3])
    assert '<td class="bayes chance" title="not defined: a quantile difference comes from' in page
    assert "Bayesian reading (flat prior): a proportion uses the Beta-binomial model" in page


def test_bayesian_columns_follow_the_plan():
    result = _result({"spend": 10.4, "latency": 100.0})
    page = render_report(result)
    # The table's Bayesian columns follow the plan; the context shows the chance by default.
    assert "Chance to beat control" not in page
    assert "&gt;99.9% chance to beat control" in page.split('aria-label="context"')[1]
    plan = plan_from_dict(
        {
            "experiment_id": "e",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [
                {"kind": "mean", "column": "spend"},
                {"kind": "mean", "column": "latency", "role": "guardrail", "direction": "decrease"},
            ],
            "bayesian": {"prior": "flat"},
        }
    )
    page = render_report(result, plan)
    assert_self_contained(page)
    spend = ablens.normal_posterior(
        result.comparison("spend").result.effect, result.comparison("spend").result.standard_error
    )
    from ablens.readout import format_chance  # noqa: PLC0415

    chance = format_chance(spend.probability_better)
    assert chance == ">99.9%"
    assert re.search(r'<td class="bayes chance">.*?</span>&gt;99.9%</td>', page)
    assert page.count('<td class="bayes chance">') == page.count('<td class="bayes loss">') == 2


def test_a_rates_sequential_interval_reads_in_percentage_points():
    from ablens.report import render_readout  # noqa: PLC0415

    readout = _synthetic_readout()
    conversion = readout.sequential[0]
    assert conversion.metric == "conversion"
    assert not conversion.stopped
    last = conversion.looks.rows[-1]
    page = render_readout(readout, generated_at=WHEN)
    assert (
        f"At day {last.look} (20,000 users), we are 95% confident the difference is between "
        f"{ablens.render.format_points(last.sequential_lower)} and "
        f"{ablens.render.format_points(last.sequential_upper)} (always-valid interval"
    ) in page
    assert ablens.render.format_points(last.sequential_lower).endswith("pp")
