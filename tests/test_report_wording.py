"""The report in a product manager's words: a plain sentence per metric, p-values for people,
an explanation on every column header, method names spelled out, the plan's word for units,
and the same numbers as the JSON (issue 16, item 8)."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import polars as pl
import pytest

import ablens
from ablens import render
from ablens.analysis_plan import plan_from_dict
from ablens.readout import run_readout
from ablens.report import render_readout, render_report


def moments(n, means, sd=5.0):
    return ablens.Moments.from_summary(n, mean=dict(means), variance=dict.fromkeys(means, sd**2))


def _body(page: str, metric: str, arm: str | None = None) -> str:
    """The <tbody> of one metric (and arm): its numbers row and its sentence row."""
    for body in re.findall(r'<tbody class="metric \w+">.*?</tbody>', page):
        if f"<strong>{html.escape(metric)}</strong>" in body and (
            arm is None or f'<span class="versus">{arm} vs control</span>' in body
        ):
            return body
    raise AssertionError(f"no row for {metric} {arm}")


def _sentence(page: str, metric: str, arm: str | None = None) -> str:
    body = _body(page, metric, arm)
    return html.unescape(re.search(r'<td class="sentence text"[^>]*>(.*?)</td>', body).group(1))


def _p_shown(page: str, metric: str) -> str:
    cell = re.search(r'<td class="p">(.*?)</td>', _body(page, metric)).group(1)
    return html.unescape(re.sub(r"<span class=\"label\">.*?</span>", "", cell))


def _two_metrics(spend: float, latency: float, **options):
    return ablens.analyze(
        {
            "control": moments(10_000, {"spend": 10.0, "latency": 100.0}),
            "treatment": moments(10_000, {"spend": spend, "latency": latency}),
        },
        [
            ablens.Mean("spend", role="primary"),
            ablens.Mean("latency", role="guardrail", direction="decrease"),
        ],
        control="control",
        **options,
    )


def test_confidence_interval_sentence_and_p_values_for_people():
    result = _two_metrics(10.3, 100.1)
    page = render_report(result)
    spend, latency = result.comparison("spend"), result.comparison("latency")
    lo, hi = spend.result.relative_ci
    assert spend.p_value < 1e-3
    assert spend.outcome == "better"
    assert _sentence(page, "spend") == (
        f"We are 95% confident the lift is between {render.format_percent(lo)} and "
        f"{render.format_percent(hi)}, so it is better beyond what chance explains."
    )
    lo, hi = latency.result.relative_ci
    assert latency.outcome == "inconclusive"
    assert _sentence(page, "latency") == (
        f"We are 95% confident the lift is between {render.format_percent(lo)} and "
        f"{render.format_percent(hi)}, so it cannot be told apart from no change."
    )
    # p-values: "< 0.001" below 0.001 (never 1.234e-05), else at most 2 significant digits.
    assert _p_shown(page, "spend") == "< 0.001"
    assert latency.p_value == pytest.approx(0.1573, abs=1e-4)
    assert _p_shown(page, "latency") == "0.16"
    assert "p (" not in page  # no "p (holm)" header
    assert "interval, scale" not in page
    # The verdict badge in words, not only in colour.
    assert '<span class="outcome better">Better</span>' in _body(page, "spend")
    assert '<span class="outcome inconclusive">No clear difference</span>' in _body(page, "latency")


def test_p_value_near_alpha_keeps_its_side():
    assert render.format_pvalue_plain(0.0496, alpha=0.05) == "0.0496"
    assert render.format_pvalue_plain(0.0504, alpha=0.05) == "0.0504"
    assert render.format_pvalue_plain(0.0512, alpha=0.05) == "0.051"
    assert render.format_pvalue_plain(0.0003375) == "< 0.001"
    assert render.format_pvalue_plain(0.6052) == "0.61"


def test_adjusted_interval_says_it_allows_for_the_family():
    result = _two_metrics(10.3, 99.7, correction="bonferroni", family="experiment")
    page = render_report(result)
    spend = result.comparison("spend")
    assert spend.adjusted_relative_ci is not None
    assert spend.family_size == 2
    lo, hi = spend.adjusted_relative_ci
    assert _sentence(page, "spend") == (
        "Allowing for the 2 comparisons tested together, we are 95% confident the lift is "
        f"between {render.format_percent(lo)} and {render.format_percent(hi)}, so it is better "
        "beyond what chance explains."
    )
    assert "Adjusted by Bonferroni&#x27;s method for the 2 comparisons tested together." in page


def test_unadjusted_interval_excluding_zero_after_holm_says_why_it_is_not_significant():
    # Each raw p-value near 0.03; Holm's adjusted ones are above 0.05.
    result = _two_metrics(10.154, 99.846, correction="holm", family="experiment")
    spend = result.comparison("spend")
    assert spend.result.p_value < 0.05 < spend.p_value
    assert spend.adjusted_relative_ci is None  # Holm defines no interval
    lo, hi = spend.result.relative_ci
    assert lo > 0
    assert _sentence(render_report(result), "spend") == (
        f"We are 95% confident the lift is between {render.format_percent(lo)} and "
        f"{render.format_percent(hi)}. This interval is not corrected for the 2 comparisons "
        "tested together; after Holm's correction the change is not beyond chance."
    )


def test_one_sided_interval_sentence():
    result = ablens.analyze(
        {
            "control": moments(10_000, {"spend": 10.0}),
            "treatment": moments(10_000, {"spend": 10.3}),
        },
        [ablens.Mean("spend", alternative="greater")],
        control="control",
    )
    (c,) = result.comparisons
    assert math.isinf(c.result.relative_ci[1])
    lower = render.format_percent(c.result.relative_ci[0])
    assert _sentence(render_report(result), "spend") == (
        f"We are 95% confident the lift is at least {lower}, so it is better beyond what chance "
        "explains."
    )


def test_credible_interval_sentence_with_the_bayesian_reading():
    result = _two_metrics(10.3, 100.0)
    plan = plan_from_dict(
        {
            "experiment_id": "e",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [
                {"kind": "mean", "column": "spend"},
                {"kind": "mean", "column": "latency", "role": "guardrail", "direction": "decrease"},
            ],
            "bayesian": True,
        }
    )
    page = render_report(result, plan)
    from ablens.readout import bayesian_readout  # noqa: PLC0415

    reading = next(r for r in bayesian_readout(result) if r.metric == "spend")
    sentence = _sentence(page, "spend")
    # The confidence interval keeps "confident"; the credible interval alone is a probability.
    assert sentence.startswith("We are 95% confident the lift is between")
    assert sentence.endswith(
        "Bayesian view (flat prior): a >99.9% chance that treatment is better than control, "
        f"and a 95% probability that the difference is between "
        f"{render.format_number(reading.ci_lower, signed=True)} and "
        f"{render.format_number(reading.ci_upper, signed=True)}."
    )


def test_rank_test_row_reads_as_a_chance_and_a_shift():
    table = pl.DataFrame(
        {"variant": ["c"] * 5 + ["t"] * 5, "x": [1.0, 2, 3, 4, 5, 3.5, 4.5, 5.5, 6, 7]}
    )
    result = ablens.analyze(table, [ablens.MannWhitney("x")], control="c")
    page = render_report(result)
    body = _body(page, "x (rank)")
    # Not "0.5 vs 0.88": no value per arm, the chance to beat and the shift instead.
    assert body.count('</span>—<small class="detail">5 users</small>') == 2
    assert '<span class="lift">88%</span> chance to beat' in body
    assert '<small class="detail">shift +2.5 [-0.5, +5]</small>' in body
    assert _sentence(page, "x (rank)") == (
        "A random t user has a higher value than a random c user 88% of the time (50% means "
        "no difference; ties count half). We are 95% confident the typical difference (the "
        "median of all t − c differences) is between -0.5 and +5. It cannot be told apart from "
        "no change."
    )


def _frame(seed: int = 16, n: int = 6_000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "b", "c"], n)
    lift = np.where(arm == "b", 0.02, np.where(arm == "c", -0.01, 0.0))
    return pl.DataFrame(
        {
            "session_id": np.arange(n),
            "variant": arm,
            "platform": rng.choice(["ios", "android", "web"], n),
            "converted": rng.random(n) < 0.10 + lift,
            "revenue": rng.gamma(2.0, 5.0, n) * (1 + 5 * lift),
        }
    )


PLAN = {
    "experiment_id": "words",
    "source": {"path": "x.parquet"},
    "unit": "session_id",
    "control": "control",
    "metrics": [
        {"name": "conversion", "kind": "proportion", "column": "converted", "role": "primary"},
        {"name": "revenue", "kind": "mean", "column": "revenue"},
        {"name": "revenue rank", "kind": "mann-whitney", "column": "revenue"},
    ],
    "segments": ["platform"],
    "correction": "holm",
    "family": "primary",
    "sequential": "group-sequential",
    "time": "day",
    "bayesian": True,
    "planned": {"sample_size": 50_000},
}


@pytest.fixture(scope="module")
def sessions_page():
    plan = plan_from_dict({**PLAN, "sequential": "none"} | {"time": None})
    return run_readout(plan, data=_frame()), plan


def test_every_column_header_explains_itself(sessions_page):
    readout, _ = sessions_page
    page = render_readout(readout)
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", page)
    assert len(headers) == 7 + 2 + 8 + 4  # metrics (with Bayesian), segments, best arm
    for header in headers:
        assert re.fullmatch(
            r'<abbr class="tip" tabindex="0" title="[^"]{15,}">[^<]+</abbr>(<span class="axis">'
            r".*</span>)?",
            header,
        ), header
    # The card layout's labels carry the same explanations.
    assert page.count('<span class="label"><abbr class="tip" tabindex="0" title="') >= 6 * 6


def test_the_plans_unit_names_the_counts(sessions_page):
    readout, _ = sessions_page
    page = render_readout(readout)
    c = readout.result.comparison("conversion", "b")
    assert f'<small class="detail">{c.control_count:,} sessions</small>' in page
    assert ">Sessions</abbr></th>" in page  # the segments' count column
    assert "Only 6,000 of the planned 50,000 sessions" in html.unescape(page)
    shown = page[page.index("<body>") : page.index("<h3>Details</h3>")]  # the report's words
    assert re.search(r"\bunits\b", html.unescape(re.sub(r"<[^>]+>", " ", shown))) is None
    assert "A random b session has a higher value than a random control session" in page
    # Without a plan: users.
    plain = render_report(_two_metrics(10.3, 100.0))
    assert '<small class="detail">10,000 users</small>' in plain


def test_method_names_are_spelled_out_behind_how_was_this_computed(sessions_page):
    readout, _plan = sessions_page
    page = html.unescape(render_readout(readout))
    how = page[page.index('<details class="how"><summary>How was this computed?</summary>') :]
    assert "p-values adjusted by Holm's method over each primary family" in how
    assert "Welch's t test" in how
    assert "Mann-Whitney U test" in how
    assert "holm" not in how[: how.index("<h3>Details</h3>")].replace("Holm", "")
    group = plan_from_dict(PLAN)
    sequential = html.unescape(
        render_readout(
            run_readout(
                group, data=_frame().with_columns(day=pl.Series(np.repeat(np.arange(1, 7), 1_000)))
            )
        )
    )
    assert "O'Brien-Fleming alpha spending" in sequential
    assert "obrien-fleming" not in sequential
    assert "repeated confidence interval, valid at every look of the design" in sequential


def test_the_numbers_are_the_comparisons(sessions_page):
    """The report shows the Comparison objects' numbers (those of --json), only worded."""
    readout, _ = sessions_page
    page = render_readout(readout)
    document = readout.to_dict()
    shown = 0
    for c, record in zip(readout.result.comparisons, document["comparisons"], strict=True):
        assert (record["metric"], record["treatment"]) == (c.metric, c.treatment)
        body = _body(page, c.metric, c.treatment)
        p = (
            record["adjusted_p_value"]
            if record["adjusted_p_value"] is not None
            else record["p_value"]
        )
        assert render.format_pvalue_plain(p, alpha=record["alpha"]) in html.unescape(body)
        if c.kind != "mann-whitney":
            lift = render.format_percent(record["relative_effect"])
            interval = render.format_interval(
                record["relative_ci_lower"], record["relative_ci_upper"], percent=True
            )
            assert f'<span class="lift">{lift}</span> <small class="ci">{interval}</small>' in body
            shown += 1
    assert shown == 4


def test_the_librarys_sentences_read_p_values_for_people(sessions_page):
    # A sample-ratio mismatch: the library writes p<1e-10; the report p < 0.001.
    result = ablens.analyze(
        {"control": moments(9_000, {"x": 1.0}), "treatment": moments(11_000, {"x": 1.0})},
        [ablens.Mean("x")],
        control="control",
    )
    from ablens.decision import verdict  # noqa: PLC0415

    message = next(c.message for c in verdict(result).checks if c.name == "sample-ratio")
    assert "p<1e-10" in message
    page = html.unescape(render_report(result))
    assert message.replace("p<1e-10", "p < 0.001").replace("units", "users") in page
    assert "e-10" not in page[: page.index("<h3>Details</h3>")]
    # The segments' threshold: 0.001 over 3 segments, in two digits.
    readout, _ = sessions_page
    segments = next(c for c in readout.verdict.checks if c.name == "segment-ratio").message
    assert "each checked at p < 0.0003333" in segments
    assert segments.replace("p < 0.0003333", "p < 0.00033") in html.unescape(
        render_readout(readout)
    )


def test_the_looks_tables_headers_explain_themselves_too():
    from test_report import _synthetic_readout  # noqa: PLC0415 - tests/ is on sys.path

    page = render_readout(_synthetic_readout())
    looks = page[page.index('<section class="looks">') :]
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", looks)
    assert len(headers) == 2 * 9  # conversion and latency; the p90 has no looks
    for header in headers:
        assert re.fullmatch(
            r'<abbr class="tip" tabindex="0" title="[^"]{15,}">[^<]+</abbr>', header
        )
    assert 'title="The sequential interval: valid however often the data are read' in looks
    # Every header of the whole page, then.
    assert all("<abbr" in h for h in re.findall(r"<th(?: [^>]*)?>(.*?)</th>", page))
