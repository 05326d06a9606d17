"""The decision context: dates, traffic, chance to beat control, impact a month, days still needed.

The numbers are checked against the formulas they state (impact = effect × units a day × 30,
chance = Phi(effect / se) under a flat prior), against `ablens.power_plan` called directly, and
against a hand count of the demo's days and units (200,000 users over exposure days 0-13,
conversion up 5%; the view ``users_day8`` holds days 0-8).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

import ablens
from ablens.analysis_plan import load_plan, plan_from_dict
from ablens.calculator import calculator_form, calculator_plan
from ablens.cli.app import app
from ablens.decision import KEEP_RUNNING, SHIP, days_still_needed
from ablens.decision_context import (
    DAYS_PER_MONTH,
    NO_PLAN,
    NO_TIME,
    KeepRunning,
    decision_context,
)
from ablens.readout import compose_readout, run_readout
from ablens.report import render_readout
from ablens.stats.bayesian import bayesian_proportion_test

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plan.yaml"
START = dt.date(2026, 3, 2)


@pytest.fixture
def write_plan(full_demo_database, tmp_path):
    """The example plan on the demo database with a time column, planned for 200,000 users."""

    def write(*edits: tuple[str, str], table: str = "users", time: bool = True) -> Path:
        text = (
            EXAMPLE.read_text()
            .replace("file: ablens_demo.duckdb", f"file: {full_demo_database}")
            .replace("table: users", f"table: {table}")
            .replace("sample_size: 20000", "sample_size: 200000")
        )
        if time:
            text = text.replace("sequential: none", "sequential: none\ntime: exposure_day")
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / f"plan-{table}.yaml"
        path.write_text(text)
        return path

    return write


WITH_START = ("duration_days: 14", f"duration_days: 14\n  start_date: {START.isoformat()}")


def _context_section(page: str) -> str:
    match = re.search(r'<section class="context".*?</section>', page, re.S)
    assert match is not None, "no context section"
    return match.group(0)


# ------------------------------------------------------------------------- formulas by hand
def _proportions(x_c: int, x_t: int, n: int = 10_000) -> ablens.AnalysisResult:
    def arm(converted: int) -> ablens.Moments:
        return ablens.Moments.from_columns({"converted": [1] * converted + [0] * (n - converted)})

    data = {"control": arm(x_c), "treatment": arm(x_t)}
    return ablens.analyze(data, [ablens.Proportion("converted")], control="control")


def test_impact_is_effect_times_traffic_times_thirty():
    result = _proportions(1_000, 1_040)
    context = decision_context(result, units_per_day=2_000.0, days_run=10)
    (m,) = context.metrics
    r = result.comparisons[0].result
    assert r.effect == pytest.approx(0.004, abs=1e-15)
    assert m.impact == pytest.approx(0.004 * 2_000 * 30)  # 240 more converting units
    assert m.impact_lower == pytest.approx(r.effect_ci_lower * 60_000)
    assert m.impact_upper == pytest.approx(r.effect_ci_upper * 60_000)
    assert DAYS_PER_MONTH == 30
    assert m.impact_sentence == (
        "+0.4pp ≈ 240 more units with converted a month at the current traffic (2,000 units a "
        f"day; 95% interval {m.impact_lower:+,.0f} to +{m.impact_upper:,.0f})."
    ).replace("-", "−")


def test_a_mean_states_the_total_and_a_ratio_states_why_not():
    rng = np.random.default_rng(3)
    n = 4_000
    arm = np.repeat(["control", "treatment"], n // 2)
    orders = rng.poisson(2.0, n) + 1
    spend = orders * 10.0 + np.where(arm == "treatment", 0.3, 0.0) + rng.normal(0, 5, n)
    table = pl.DataFrame({"variant": arm, "spend": spend, "orders": orders})
    metrics = [ablens.Mean("spend"), ablens.Ratio("spend", "orders", name="spend per order")]
    result = ablens.analyze(table, metrics, control="control")
    context = decision_context(result, units_per_day=1_000.0, days_run=10)
    spend_context, ratio = context.metrics
    effect = result.comparison("spend").result.effect
    assert spend_context.impact == pytest.approx(effect * 1_000 * 30, rel=1e-12)
    total = f"{effect * 30_000:+,.0f}"  # whole units from 100 up
    assert spend_context.impact_sentence.startswith(
        f"{ablens.render.format_number(effect, 3, signed=True)} ≈ {total} in total spend a month"
    )
    assert ratio.impact is None
    assert ratio.impact_reason.startswith("no monthly total for a ratio metric")


def test_chance_to_beat_control_is_phi_of_z_for_a_mean():
    data = {
        "control": ablens.Moments.from_summary(8_000, mean={"x": 10.0}, variance={"x": 25.0}),
        "treatment": ablens.Moments.from_summary(8_000, mean={"x": 10.1}, variance={"x": 25.0}),
    }
    result = ablens.analyze(data, [ablens.Mean("x")], control="control")
    readout = compose_readout(result)
    assert readout.context.missing == (NO_PLAN,)
    (m,) = readout.context.metrics
    r = result.comparisons[0].result
    assert m.chance_model == "normal"
    assert m.probability_better == pytest.approx(norm.cdf(r.effect / r.standard_error), 1e-12)
    assert m.probability_better == pytest.approx(norm.cdf(0.1 / math.sqrt(2 * 25 / 8_000)))
    assert m.chance_text == f"{100 * m.probability_better:.1f}% chance to beat control"


def test_chance_for_a_proportion_is_phi_of_z_or_the_plans_bayesian_reading():
    result = _proportions(1_000, 1_060)
    r = result.comparisons[0].result
    (m,) = compose_readout(result).context.metrics
    assert m.chance_model == "normal"
    assert m.probability_better == pytest.approx(norm.cdf(r.effect / r.standard_error), 1e-12)
    # with bayesian: true, the context shows the Bayesian table's number (Beta(1, 1) priors)
    plan = plan_from_dict(
        {
            "experiment_id": "e",
            "source": {"path": "x.parquet"},
            "control": "control",
            "metrics": [{"kind": "proportion", "column": "converted"}],
            "bayesian": True,
        }
    )
    readout = compose_readout(result, plan)
    (m,) = readout.context.metrics
    exact = bayesian_proportion_test(1_000, 10_000, 1_060, 10_000)
    assert m.chance_model == "beta-binomial"
    assert m.probability_better == pytest.approx(exact.probability_better, rel=1e-12)
    assert m.probability_better == readout.bayesian[0].probability_better
    # the two agree closely at this size
    assert exact.probability_better == pytest.approx(
        norm.cdf(r.effect / r.standard_error), abs=2e-3
    )


def test_a_decrease_metric_beats_control_by_going_down():
    data = {
        "control": ablens.Moments.from_summary(8_000, mean={"ms": 100.0}, variance={"ms": 400.0}),
        "treatment": ablens.Moments.from_summary(8_000, mean={"ms": 99.5}, variance={"ms": 400.0}),
    }
    result = ablens.analyze(data, [ablens.Mean("ms", direction="decrease")], control="control")
    (m,) = compose_readout(result).context.metrics
    r = result.comparisons[0].result
    assert m.probability_better == pytest.approx(norm.cdf(-r.effect / r.standard_error), 1e-12)


# ------------------------------------------------------------------------- the demo, by day
def test_dates_days_and_traffic_from_the_time_column(write_plan, full_demo_database):
    import duckdb  # noqa: PLC0415 - the demo's engine

    readout = run_readout(load_plan(write_plan(WITH_START)), today=dt.date(2026, 3, 16))
    context = readout.context
    assert (context.first_look, context.last_look, context.days_run) == (0, 13, 14)
    assert (context.start_date, context.end_date) == (START, dt.date(2026, 3, 15))
    assert context.units == 200_000
    assert context.units_per_day == pytest.approx(200_000 / 14)
    assert context.missing == ()
    assert readout.verdict.label == SHIP
    (m,) = context.metrics  # one primary metric: conversion
    assert m.keep_running is None  # only a "keep running" verdict asks how long
    # the lift over time: one point per exposure day, units counted by hand in DuckDB
    with duckdb.connect(str(full_demo_database), read_only=True) as connection:
        per_day = connection.sql(
            "SELECT exposure_day, count(*) FROM users GROUP BY 1 ORDER BY 1"
        ).fetchall()
    cumulative = np.cumsum([count for _, count in per_day])
    assert [p.day for p in m.series] == list(range(14))
    assert [p.units for p in m.series] == cumulative.tolist()
    assert m.series[0].date == START
    assert m.series[-1].date == dt.date(2026, 3, 15)
    last = m.series[-1]
    r = readout.result.comparison("conversion").result
    assert (last.estimate, last.lower, last.upper) == pytest.approx(
        (r.effect, r.effect_ci_lower, r.effect_ci_upper), rel=1e-9
    )


def test_keep_running_days_and_detectable_effect_match_power_plan(write_plan):
    today = dt.date(2026, 3, 11)  # the data hold days 0-8: the 9th day has just ended
    readout = run_readout(load_plan(write_plan(WITH_START, table="users_day8")), today=today)
    assert readout.verdict.label == KEEP_RUNNING
    context = readout.context
    assert context.days_run == 9
    units = context.units
    assert units == 128_535
    per_day = units / 9
    (m,) = context.metrics
    k = m.keep_running
    # by hand: 71,465 units still missing at 14,281.7 a day = 5.004 -> 6 days (day 9 of 14
    # needs only 5 more)
    assert math.ceil((200_000 - units) / per_day) == 6
    assert k.extra_days == 6
    assert k.total_days == 15
    assert k.end_date == dt.date(2026, 3, 16)
    assert k.target == "planned sample"
    # the verdict says the same number
    assert "about 6 more days at the current traffic" in readout.verdict.reason
    planned = load_plan(write_plan(WITH_START)).planned
    assert days_still_needed(units, planned, today=today, units_per_day=per_day) == 6
    # what is then detectable: power_plan directly, at the observed rate and traffic
    control = readout.result.comparison("conversion").result.control_estimate
    direct = ablens.power_plan(
        baseline_rate=float(f"{control:.4g}"),
        mde=None,
        days=15,
        daily_traffic=round(per_day),
        alpha=0.05,
        power=0.8,
    )
    assert k.detectable_effect == pytest.approx(abs(direct.effect), rel=1e-12)
    assert k.detectable_lift == pytest.approx(direct.relative_effect, rel=1e-12)
    # the calculator, filled in from the link, gives the same plan
    query = k.calculator_url.split("?", 1)[1]
    from urllib.parse import parse_qsl  # noqa: PLC0415

    form = calculator_form(dict(parse_qsl(query, keep_blank_values=True)))
    assert calculator_plan(form).effect == pytest.approx(direct.effect, rel=1e-12)
    assert k.calculator_url == (
        f"/calculator?solve=mde&baseline={100 * control:.4g}%25&mde="
        f"&traffic={round(per_day)}&days=15"
    )
    assert m.keep_running_sentence == (
        "About 6 more days (until 2026-03-16) reach the planned size; conversion can then "
        f"detect a change of ±{ablens.render.format_points(direct.effect).lstrip('+')} "
        f"({ablens.render.format_percent(direct.relative_effect, signed=False)} lift) with 80% "
        "power."
    )


@pytest.mark.parametrize("method", ["msprt", "group-sequential"])
def test_a_sequential_plan_shows_the_sequential_p_value_and_band(write_plan, method):
    edits = (WITH_START, ("sequential: none", f"sequential: {method}"))
    readout = run_readout(load_plan(write_plan(*edits, table="users_day8")))
    assert readout.verdict.label == KEEP_RUNNING
    (reading,) = [r for r in readout.sequential if r.metric == "conversion"]
    last = reading.looks.rows[-1]
    (m,) = readout.context.metrics
    assert m.p_label == "sequential p"
    assert m.p_value == last.sequential_p_value
    assert m.p_at_least == last.sequential_p_value_capped
    assert m.p_value > 0.05 > readout.result.comparison("conversion").p_value  # not the naive p
    # the band is the sequential interval the verdict reads, look by look
    assert [(p.lower, p.upper) for p in m.series] == [
        (row.sequential_lower, row.sequential_upper) for row in reading.looks.rows
    ]
    name = {"msprt": "mSPRT"}.get(method, method)
    assert m.band.startswith(f"its {name} interval, valid however often it is read")
    assert m.keep_running.note.startswith(f"Sized for one read at the end; the plan's {name}")
    shown = {"msprt": "sequential p = 0.242", "group-sequential": "sequential p = 0.087"}
    assert m.p_text == shown[method]
    capped = dataclasses.replace(m, p_value=0.5, p_at_least=True)  # a group-sequential cap
    assert capped.p_text == "sequential p ≥ 0.5"


def test_without_a_planned_size_the_target_is_the_current_effect(write_plan):
    edits = (
        ("  sample_size: 200000           # units over all arms\n  duration_days: 14\n", ""),
        ("    role: primary\n", "    role: secondary\n"),
        ("column: sessions\n    role: guardrail", "column: sessions\n    role: primary"),
    )
    plan = load_plan(write_plan(*edits, table="users_day8"))
    assert plan.planned.sample_size is None
    readout = run_readout(plan)
    assert readout.verdict.label == KEEP_RUNNING  # sessions did not move, no size planned
    (m,) = readout.context.metrics
    assert m.metric == "sessions per user"
    k = m.keep_running
    assert k.target == "current effect"
    c = readout.result.comparison("sessions per user")
    r = c.result
    per_day = readout.context.units_per_day
    lift = float(f"{100 * abs(r.relative_effect):.3g}") / 100
    # the per-unit sd behind the standard error: se = sd * sqrt(1/n_c + 1/n_t)
    sd = r.standard_error / math.sqrt(1 / c.control_count + 1 / c.treatment_count)
    direct = ablens.power_plan(
        mean=float(f"{r.control_estimate:.6g}"),
        sd=float(f"{sd:.4g}"),
        mde=lift,
        daily_traffic=round(per_day),
    )
    assert k.total_days == direct.days
    assert k.extra_days == direct.days - 9
    assert k.detectable_lift == pytest.approx(lift, rel=1e-12)
    assert k.calculator_form["kind"] == "mean"
    shown = ablens.render.format_percent(lift, signed=False)
    assert m.keep_running_sentence.startswith(
        f"If the true effect on sessions per user is the ±{shown} lift seen so far, about "
        f"{direct.days - 9:,} more days"
    )


def test_day_numbers_without_a_start_date_say_what_is_missing(write_plan):
    readout = run_readout(load_plan(write_plan()))
    context = readout.context
    assert context.start_date is None
    assert context.days_run == 14
    assert context.period_text == "exposure_day 0 → 13 (14 days)"
    assert context.missing == (
        "exposure_day holds day numbers: set planned.start_date in the plan to show dates.",
    )


def test_a_date_column_gives_dates_and_counts_gaps():
    rng = np.random.default_rng(5)
    n = 6_000
    days = rng.choice([0, 1, 2, 4, 5, 6], n)  # nobody on day 3
    table = pl.DataFrame(
        {
            "variant": rng.choice(["control", "treatment"], n),
            "day": [dt.date(2026, 5, 4) + dt.timedelta(days=int(d)) for d in days],
            "converted": rng.random(n) < 0.1,
        }
    )
    plan = plan_from_dict(
        {
            "experiment_id": "dates",
            "source": {"path": "x.parquet"},
            "control": "control",
            "time": "day",
            "metrics": [{"kind": "proportion", "column": "converted"}],
        }
    )
    readout = run_readout(plan, data=table)
    context = readout.context
    assert (context.start_date, context.end_date) == (dt.date(2026, 5, 4), dt.date(2026, 5, 10))
    assert context.days_run == 7  # the empty day counts
    assert context.units_per_day == pytest.approx(n / 7)
    (m,) = context.metrics
    assert [p.day for p in m.series] == [0, 1, 2, 4, 5, 6]
    assert m.series[3].date == dt.date(2026, 5, 8)


# ------------------------------------------------------------------------- faces
def test_json_and_report_give_the_same_numbers(write_plan, tmp_path):
    plan_file = write_plan(WITH_START, table="users_day8")
    runner = CliRunner()
    outcome = runner.invoke(app, ["analyze", str(plan_file), "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    context = document["context"]
    assert set(context) == {
        "time",
        "first_look",
        "last_look",
        "start_date",
        "end_date",
        "days_run",
        "units",
        "units_per_day",
        "missing",
        "metrics",
    }
    (metric,) = context["metrics"]
    assert set(metric) == {
        "metric",
        "treatment",
        "kind",
        "direction",
        "effect",
        "effect_ci",
        "relative_effect",
        "confidence_level",
        "p_value",
        "p_label",
        "p_at_least",
        "probability_better",
        "chance_model",
        "impact",
        "impact_reason",
        "keep_running",
        "lift_over_time",
    }
    assert set(metric["impact"]) == {
        "days_per_month",
        "units_per_month",
        "per_month",
        "lower",
        "upper",
        "sentence",
    }
    assert len(metric["lift_over_time"]["points"]) == 9
    assert (context["start_date"], context["days_run"]) == ("2026-03-02", 9)
    # the library's numbers, through JSON
    readout = run_readout(load_plan(plan_file))
    (m,) = readout.context.metrics
    assert metric["impact"]["per_month"] == pytest.approx(m.impact, rel=1e-12)
    assert metric["probability_better"] == pytest.approx(m.probability_better, rel=1e-12)
    assert metric["impact"]["units_per_month"] == pytest.approx(128_535 / 9 * 30)
    # the report shows the very sentences the JSON holds
    section = _context_section(render_readout(readout))
    assert "2026-03-02 → 2026-03-10 (9 days)" in section
    assert "14,282 units a day (128,535 in all)" in section
    assert metric["impact"]["sentence"] in section.replace("&#x27;", "'")
    keep = metric["keep_running"]  # 128,535 of the planned 200,000 units
    assert (keep["extra_days"], keep["total_days"]) == (m.keep_running.extra_days, 15)
    assert keep["sentence"] in section
    assert f'href="{keep["calculator_url"].replace("&", "&amp;")}"' in section
    p_text = "p = " + f"{m.p_value:.3f}"
    assert f'{p_text} · <span class="chance">{m.chance_text}</span>' in section
    # the chart: inline SVG with both axis titles and the band, no script
    assert section.count("<svg") == 1
    assert "effect so far (pp)" in section
    assert ">date</text>" in section
    assert "<polygon" in section
    assert "<script" not in section
    assert "xmlns" not in section


def test_no_chart_without_a_time_column(write_plan):
    readout = run_readout(load_plan(write_plan(time=False)))
    context = readout.context
    assert context.days_run is None
    assert context.units_per_day is None
    assert context.missing == (NO_TIME,)
    (m,) = context.metrics
    assert m.series == ()
    assert m.impact is None
    assert m.impact_reason == "the traffic is unknown (no time column)"
    assert m.probability_better is not None  # the chance needs no time column
    section = _context_section(render_readout(readout))
    assert "<svg" not in section
    assert "chance to beat control" in section
    assert "No time column in the plan: add time: &lt;column&gt;" in section
    assert readout.to_dict()["context"]["units_per_day"] is None


def test_the_text_readout_has_the_context(write_plan):
    readout = run_readout(load_plan(write_plan(WITH_START)), today=dt.date(2026, 3, 16))
    text = str(readout)
    assert "Context:\n  Ran 2026-03-02 → 2026-03-15 (14 days); 14,286 units a day" in text
    assert "chance to beat control" in text


def test_no_more_days_needed_says_so():
    result = _proportions(1_000, 1_100)
    (m,) = decision_context(result, units_per_day=2_000.0, days_run=10).metrics
    done = dataclasses.replace(
        m,
        keep_running=KeepRunning(
            "current effect", extra_days=0, total_days=10, detectable_effect=0.01, power=0.8
        ),
    )
    assert done.keep_running_sentence == (
        "The data in already have 80% power for a change of ±1pp in converted."
    )
