"""The readout of a plan: sequential looks that may stop early, the Bayesian reading, the verdict.

Most tests read the demo experiment (200,000 users over exposure days 0-13, conversion up 5%)
from DuckDB, whole or cut at a day through a view, as a daily scheduled run would see it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

import ablens
from ablens import demo
from ablens.analysis_plan import AnalysisPlan, PlanError, load_plan, plan_from_dict
from ablens.data.looks import TimeColumnError
from ablens.decision import FIX_DATA, KEEP_RUNNING, NO_EFFECT, ROLL_BACK, SHIP
from ablens.readout import Readout, bayesian_readout, format_chance, run_readout
from ablens.report import render_readout
from ablens.sequential import analyze_looks
from helpers import same_numbers

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plan.yaml"
USERS = 200_000
METHODS = ("group-sequential", "msprt", "confidence-sequence")
#: Where each method stops on the demo's conversion (docs/tutorials/peeking.md finds the same).
STOP_DAY = {"group-sequential": 9, "msprt": 11, "confidence-sequence": 11}


@pytest.fixture
def database(full_demo_database: Path) -> Path:
    return full_demo_database


@pytest.fixture
def write_plan(database, tmp_path):
    """The example plan on the demo database, planned for all 200,000 users, with edits."""

    def write(*edits: tuple[str, str], table: str = "users") -> Path:
        text = (
            EXAMPLE.read_text()
            .replace("file: ablens_demo.duckdb", f"file: {database}")
            .replace("table: users", f"table: {table}")
            .replace("sample_size: 20000", f"sample_size: {USERS}")
        )
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / f"plan-{table}.yaml"
        path.write_text(text)
        return path

    return write


def sequential(method: str) -> tuple[str, str]:
    return ("sequential: none", f"sequential: {method}\ntime: exposure_day")


def direct_looks(
    database: Path,
    table: str,
    metric,
    method: str,
    alpha: float = 0.05,
    spending: str = "obrien-fleming",
):
    with duckdb.connect(str(database), read_only=True) as connection:
        return analyze_looks(
            (connection, table),
            metric,
            control="control",
            treatment="new_checkout",
            time="exposure_day",
            method=method,
            alpha=alpha,
            planned_units=USERS,
            spending=spending,
            unit="user_id",
        )


def reading_of(readout: Readout, metric: str):
    (found,) = [r for r in readout.sequential if r.metric == metric]
    return found


# ----------------------------------------------------------------------------- sequential
@pytest.mark.parametrize("method", METHODS)
def test_a_crossed_boundary_ships_before_the_planned_sample(write_plan, database, method):
    readout = run_readout(load_plan(write_plan(sequential(method), table="users_day11")))
    assert sum(readout.result.counts) == 171_361  # 86% of the planned 200,000
    conversion = reading_of(readout, "conversion")
    direct = direct_looks(
        database, "users_day11", ablens.Proportion("converted", name="conversion"), method
    )
    assert conversion.looks is not None
    assert conversion.looks.stopping_look == direct.stopping_look == STOP_DAY[method]
    same_numbers(conversion.looks.to_dict(), direct.to_dict())
    assert (conversion.outcome, conversion.stopped, conversion.alpha) == ("better", True, 0.05)

    decision = readout.verdict
    assert decision.label == SHIP
    stop_row = direct.rows[STOP_DAY[method]]
    units = stop_row.control_units + stop_row.treatment_units
    name = {"msprt": "mSPRT"}.get(method, method)
    crossed = (
        f"the {name} boundary was crossed at exposure_day {STOP_DAY[method]} with {units:,} "
        f"units (sequential p={ablens.render.format_pvalue(stop_row.sequential_p_value)})"
    )
    assert decision.reason == (
        f"new_checkout raised conversion by 5.69%: {crossed}, and no guardrail got worse."
    )
    sample = decision.checks[1]
    assert (sample.name, sample.status) == ("sample-size", "passed")
    assert sample.message == (
        f"Early stop allowed: for conversion (new_checkout) {crossed}, with 171,361 of the "
        "planned 200,000 units (86%) and day 12 of 14 in; a sequential design may stop before "
        "its planned sample."
    )
    assert (decision.healthy, decision.complete, decision.exit_code()) == (True, True, 0)
    assert not any("fixed-horizon tests, valid only" in note for note in decision.notes)


def test_the_demo_stop_days_and_p_values(write_plan):
    """The numbers of the readout itself, per method, on the data up to day 11."""
    found = {}
    for method in METHODS:
        readout = run_readout(load_plan(write_plan(sequential(method), table="users_day11")))
        conversion = reading_of(readout, "conversion")
        found[method] = (conversion.looks.stopping_look, round(conversion.p_value, 5))
    assert found == {
        "group-sequential": (9, 0.03762),
        "msprt": (11, 0.01899),
        "confidence-sequence": (11, 0.01911),
    }


@pytest.mark.parametrize("method", METHODS)
def test_no_crossed_boundary_keeps_running_even_when_the_fixed_test_is_significant(
    write_plan, method
):
    readout = run_readout(load_plan(write_plan(sequential(method), table="users_day8")))
    fixed = readout.result.comparison("conversion")
    assert fixed.p_value < 0.05  # a peeking analyst would stop here ...
    assert fixed.outcome == "better"
    conversion = reading_of(readout, "conversion")
    assert conversion.outcome == "inconclusive"  # ... the sequential method does not
    assert conversion.looks.stopping_look is None
    decision = readout.verdict
    assert decision.label == KEEP_RUNNING
    assert decision.reason == (
        # exposure_day spans 9 days (0-8) of the planned 14, at the 14,282 units a day seen
        "Only 128,535 of the planned 200,000 units (64%) and day 9 of 14; about 6 more days at "
        "the current traffic; no sequential boundary has been crossed yet, so keep running (the "
        "sequential readout stays valid however often it is read)."
    )
    # sample-ratio, sample-size, guardrails, segment-ratio (the plan segments by platform)
    assert [c.status for c in decision.checks] == ["passed", "incomplete", "passed", "passed"]
    assert (decision.healthy, decision.complete) == (True, False)
    assert (decision.exit_code(), decision.exit_code(fail_on_incomplete=True)) == (0, 1)


def test_fixed_horizon_significance_before_the_planned_sample_does_not_ship(write_plan):
    readout = run_readout(load_plan(write_plan(table="users_day8")))
    assert readout.sequential == ()
    assert readout.result.comparison("conversion").outcome == "better"
    assert readout.verdict.label == KEEP_RUNNING
    assert readout.verdict.reason.endswith(
        "results read before then are not final (looking early without a sequential method "
        "inflates false positives)."
    )


def test_planned_sample_in_and_no_boundary_crossed(write_plan):
    edits = (
        sequential("msprt"),
        ("    role: primary\n", "    role: secondary\n"),
        ("column: sessions\n    role: guardrail", "column: sessions\n    role: primary"),
    )
    readout = run_readout(load_plan(write_plan(*edits)))
    assert [r.metric for r in readout.sequential] == ["sessions per user", "p90 minutes on site"]
    sessions = readout.sequential[0]
    assert sessions.outcome == "inconclusive"
    assert readout.verdict.label == NO_EFFECT  # the planned sample is in: final
    assert readout.verdict.complete
    assert readout.verdict.reason == (
        "No primary metric crossed its sequential boundary by the planned sample: sessions per "
        "user +0.169%, and the mSPRT boundary has not been crossed (sequential p=1 at "
        "exposure_day 13, 200,000 units)."
    )


@pytest.mark.parametrize("spending", ["pocock", "hsd", "power"])
def test_the_plans_spending_family_sets_the_bounds(write_plan, database, spending):
    edits = (
        sequential("group-sequential"),
        ("time: exposure_day", f"time: exposure_day\nspending: {spending}"),
    )
    readout = run_readout(load_plan(write_plan(*edits, table="users_day11")))
    conversion = reading_of(readout, "conversion")
    metric = ablens.Proportion("converted", name="conversion")
    direct = direct_looks(database, "users_day11", metric, "group-sequential", spending=spending)
    assert conversion.looks is not None
    same_numbers(conversion.looks.to_dict(), direct.to_dict())
    default = direct_looks(database, "users_day11", metric, "group-sequential")
    bounds = [row.bound for row in conversion.looks.rows]
    assert bounds != [row.bound for row in default.rows]
    assert all(b is not None and 1.9 < b < 5 for b in bounds[1:])
    title = {"pocock": "Pocock", "hsd": "Hwang-Shih-DeCani", "power": "Kim-DeMets power"}[spending]
    assert title in render_readout(readout).split("Sequential: the group-sequential")[1]


def test_group_sequential_ends_at_its_planned_final_look(write_plan, database):
    edits = (
        sequential("group-sequential"),
        ("    role: primary\n", "    role: secondary\n"),
        ("column: sessions\n    role: guardrail", "column: sessions\n    role: primary"),
    )
    readout = run_readout(load_plan(write_plan(*edits)))
    sessions = readout.sequential[0]
    assert sessions.looks.decision == "not significant"
    assert sessions.looks.stopping_look == 13
    assert sessions.outcome == "inconclusive"
    direct = direct_looks(database, "users", ablens.Mean("sessions"), "group-sequential")
    same_numbers(sessions.looks.to_dict()["rows"], direct.to_dict()["rows"])
    assert sessions.sentence().startswith(
        "the group-sequential design ended at exposure_day 13 without crossing its boundary"
    )


def test_metrics_without_looks_say_why(write_plan):
    readout = run_readout(load_plan(write_plan(sequential("msprt"))))
    assert [(r.metric, r.role) for r in readout.sequential] == [
        ("conversion", "primary"),
        ("sessions per user", "guardrail"),
        ("p90 minutes on site", "guardrail"),
    ]  # secondary metrics are not read sequentially
    p90 = readout.sequential[2]
    assert p90.looks is None
    assert p90.reason == "a quantile needs the table itself, not moments, at each look"
    assert p90.outcome == "inconclusive"
    assert math.isnan(p90.p_value)
    assert (
        "p90 minutes on site (new_checkout) has no sequential reading (a quantile needs the "
        "table itself, not moments, at each look); its fixed-horizon test is valid only at the "
        "planned sample size."
    ) in readout.verdict.notes
    assert str(p90) == (
        "p90 minutes on site (new_checkout, guardrail): no sequential reading: a quantile needs "
        "the table itself, not moments, at each look."
    )


def test_a_time_column_that_cannot_order_looks_is_refused(write_plan):
    # 200,000 distinct pre-period revenues are far more looks than allowed: the plan's time
    # column is bad data, refused naming it (it was once a note, and a fixed-horizon verdict).
    plan = load_plan(write_plan(("sequential: none", "sequential: msprt\ntime: pre_revenue")))
    with pytest.raises(
        TimeColumnError,
        match=r"^column 'pre_revenue' \(the look time\) has more than 366 distinct values",
    ):
        run_readout(plan)


def test_a_correction_divides_the_sequential_alpha(write_plan, database):
    edits = (
        sequential("msprt"),
        ("correction: holm\nfamily: primary", "correction: bonferroni\nfamily: experiment"),
    )
    readout = run_readout(load_plan(write_plan(*edits)))
    conversion = reading_of(readout, "conversion")
    assert conversion.alpha == pytest.approx(0.05 / 6)
    direct = direct_looks(
        database,
        "users",
        ablens.Proportion("converted", name="conversion"),
        "msprt",
        alpha=0.05 / 6,
    )
    # At 0.05 / 6 the mSPRT has not crossed by day 13 (p=0.00956 > 0.00833), where at 0.05 it
    # stopped on day 11.
    assert conversion.looks.stopping_look is direct.stopping_look is None
    assert round(conversion.p_value, 5) == 0.00956
    same_numbers(conversion.looks.to_dict(), direct.to_dict())


def test_a_missing_time_column_is_reported_at_its_line(write_plan):
    plan = write_plan(("sequential: none", "sequential: msprt\ntime: exposure_date"))
    line = plan.read_text().splitlines().index("time: exposure_date") + 1
    with pytest.raises(PlanError, match=rf"{plan}:{line}: time == 'exposure_date' is not a col"):
        run_readout(load_plan(plan))


def _synthetic(latency_shift: float, conversion_shift: float, seed: int = 11) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 20_000
    treated = rng.random(n) < 0.5
    return pl.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(treated, "treatment", "control"),
            "day": rng.integers(1, 11, n),
            "converted": rng.random(n) < np.where(treated, 0.10 + conversion_shift, 0.10),
            "latency": rng.normal(np.where(treated, 100.0 + latency_shift, 100.0), 20.0),
        }
    )


def _synthetic_plan(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.yaml"
    path.write_text(
        "experiment_id: synthetic\n"
        "source: {path: users.parquet}\n"
        "unit: user_id\n"
        "control: control\n"
        "arms: [control, treatment]\n"
        "metrics:\n"
        "  - {name: conversion, kind: proportion, column: converted, role: primary}\n"
        "  - {kind: mean, column: latency, role: guardrail, direction: decrease}\n"
        "sequential: msprt\n"
        "time: day\n"
        "planned: {sample_size: 100000}\n"
    )
    return path


def test_a_guardrail_crossing_the_wrong_way_rolls_back_early(tmp_path):
    plan = load_plan(_synthetic_plan(tmp_path))
    readout = run_readout(plan, data=_synthetic(latency_shift=3.0, conversion_shift=0.0))
    latency = reading_of(readout, "latency")
    assert latency.outcome == "worse"
    decision = readout.verdict
    assert decision.label == ROLL_BACK
    assert [c.status for c in decision.checks] == ["passed", "passed", "failed"]
    assert decision.checks[1].message.startswith(
        "Early stop allowed: for latency (treatment) the mSPRT boundary was crossed at day "
    )
    assert decision.reason == (
        "latency, a guardrail, got worse with treatment: up 2.46%: the mSPRT boundary was "
        "crossed at day 4 with 7,950 units (sequential p=0.007949); look for the cause before "
        "any rollout."
    )
    assert (decision.healthy, decision.exit_code()) == (False, 1)


def test_a_primary_crossing_the_wrong_way_rolls_back_early(tmp_path):
    plan = load_plan(_synthetic_plan(tmp_path))
    readout = run_readout(plan, data=_synthetic(latency_shift=0.0, conversion_shift=-0.03))
    conversion = reading_of(readout, "conversion")
    assert conversion.outcome == "worse"
    assert readout.verdict.label == ROLL_BACK
    assert readout.verdict.reason.startswith("treatment moved conversion the wrong way: down ")
    assert readout.verdict.healthy  # a wrong-way primary is a decision, not a broken gate


def test_sample_ratio_mismatch_still_blocks_a_sequential_readout(write_plan):
    edits = (
        sequential("msprt"),
        ("control: 50\n  new_checkout: 50", "control: 40\n  new_checkout: 60"),
    )
    readout = run_readout(load_plan(write_plan(*edits, table="users_day11")))
    assert readout.verdict.label == FIX_DATA
    assert readout.verdict.exit_code() == 1


# ----------------------------------------------------------------------------- Bayesian
def _arms(database: Path, sql: str) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        query = f"SELECT variant, {sql} FROM users GROUP BY variant"  # noqa: S608 - test SQL
        rows = connection.sql(query).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_bayesian_numbers_are_the_stats_functions_on_the_same_data(write_plan, database):
    readout = run_readout(load_plan(write_plan(("sequential: none", "bayesian: true"))))
    readings = {r.metric: r for r in readout.bayesian}
    assert len(readout.bayesian) == len(readout.result.comparisons) == 6

    counts = _arms(database, "count(*), sum(converted::INT)")
    (n_c, x_c), (n_t, x_t) = counts["control"], counts["new_checkout"]
    direct = ablens.bayesian_proportion_test(x_c, n_c, x_t, n_t)
    conversion = readings["conversion"]
    assert conversion.model == "beta-binomial"
    assert conversion.probability_better == direct.probability_better
    assert conversion.expected_loss_ship == direct.expected_loss_ship
    assert conversion.expected_loss_keep == direct.expected_loss_keep
    assert (conversion.ci_lower, conversion.ci_upper) == (direct.ci_lower, direct.ci_upper)
    assert round(conversion.probability_better, 6) == 0.999831
    assert format_chance(conversion.probability_better) == ">99.9%"

    moments = _arms(database, "count(*), avg(sessions), var_samp(sessions)")
    sessions = readings["sessions per user"]
    direct = ablens.bayesian_mean_test(*moments["control"], *moments["new_checkout"])
    assert sessions.model == "normal"
    assert sessions.probability_better == pytest.approx(direct.probability_better, rel=1e-9)
    assert sessions.expected_loss_ship == pytest.approx(direct.expected_loss_ship, rel=1e-9)
    assert round(sessions.probability_better, 4) == 0.6038

    cuped = readout.result.comparison("revenue per user (CUPED)")
    direct = ablens.normal_posterior(cuped.result.effect, cuped.result.standard_error)
    assert readings["revenue per user (CUPED)"].probability_better == direct.probability_better
    assert readings["revenue per user (CUPED)"].expected_loss_ship == direct.expected_loss_ship

    for metric in ("p90 minutes on site", "revenue (rank test)"):
        reading = readings[metric]
        assert reading.model is None
        assert reading.probability_better is None
        assert reading.display_row()[2:5] == ["—", "—", "—"]
        assert reading.reason
    assert readings["p90 minutes on site"].reason.startswith("a quantile difference")


def test_bayesian_direction_decrease_is_the_chance_of_going_down():
    arm = ablens.Moments.from_summary
    data = {
        "control": arm(5_000, mean={"ms": 100.0}, variance={"ms": 400.0}),
        "treatment": arm(5_000, mean={"ms": 99.0}, variance={"ms": 400.0}),
    }
    metric = ablens.Mean("ms", direction="decrease")
    (reading,) = bayesian_readout(ablens.analyze(data, [metric], control="control"))
    direct = ablens.bayesian_mean_test(
        5_000, 100.0, 400.0, 5_000, 99.0, 400.0, direction="decrease"
    )
    assert reading.probability_better == pytest.approx(direct.probability_better, rel=1e-12)
    assert reading.probability_better > 0.99
    assert reading.display_row()[3] == ablens.render.format_number(reading.expected_loss_ship, 3)
    with pytest.raises(ablens.InputError, match="prior == 'jeffreys'"):
        bayesian_readout(ablens.analyze(data, [metric], control="control"), prior="jeffreys")


# ----------------------------------------------------------------------------- rendering
def test_readout_document_and_text(write_plan):
    plan = write_plan(
        sequential("group-sequential"),
        ("sequential: group", "bayesian: true\nsequential: group"),
        table="users_day11",
    )
    readout = run_readout(load_plan(plan))
    document = json.loads(json.dumps(readout.to_dict(), allow_nan=False, default=str))
    assert next(iter(document)) == "schema_version"
    assert document["sequential"]["method"] == "group-sequential"
    assert document["sequential"]["time"] == "exposure_day"
    first = document["sequential"]["readings"][0]
    assert (first["metric"], first["outcome"], first["looks"]["stopping_look"]) == (
        "conversion",
        "better",
        9,
    )
    assert document["bayesian"]["prior"] == "flat"
    assert document["bayesian"]["readings"][0]["model"] == "beta-binomial"
    assert document["verdict"]["complete"] is True

    text = str(readout)
    assert text.startswith("ablens-demo: Ship\nnew_checkout raised conversion by 5.69%")
    assert "Sequential looks (group-sequential, one look per value of exposure_day" in text
    assert "conversion (new_checkout, primary): the group-sequential boundary was crossed" in text
    assert "Bayesian reading (flat prior;" in text
    assert "beta-binomial, Beta(1, 1) on each arm's rate" in text


# ----------------------------------------------------------------------------- engines
def test_readout_on_postgres_equals_the_same_data_in_memory(
    ibis_postgres, postgres_url, tmp_path, monkeypatch
):
    """The looks and the Bayesian reading come out of the warehouse as they do from arrow."""
    from urllib.parse import urlparse  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415

    table = pa.table(demo.generate(20_000, seed=3))
    ibis_postgres.create_table("readout_users", table, overwrite=True)
    url = urlparse(postgres_url)
    monkeypatch.setenv("ABLENS_TEST_PGPASSWORD", url.password or "")
    plan_file = tmp_path / "pg.yaml"
    plan_file.write_text(
        "experiment_id: pg-readout\n"
        "source:\n"
        "  warehouse:\n"
        "    backend: postgres\n"
        f"    host: {url.hostname}\n"
        f"    port: {url.port}\n"
        f"    user: {url.username}\n"
        f"    database: {url.path.lstrip('/')}\n"
        "    password_env: ABLENS_TEST_PGPASSWORD\n"
        "    table: readout_users\n"
        "unit: user_id\n"
        "control: control\n"
        "metrics:\n"
        "  - {name: conversion, kind: proportion, column: converted, role: primary}\n"
        "  - {kind: ratio, numerator: orders, denominator: sessions, role: guardrail}\n"
        "sequential: group-sequential\n"
        "time: exposure_day\n"
        "bayesian: true\n"
        "planned: {sample_size: 20000}\n"
    )
    plan = load_plan(plan_file)
    warehouse = run_readout(plan)
    memory = run_readout(plan, data=table)
    assert warehouse.verdict.label == memory.verdict.label
    assert len(warehouse.sequential) == len(memory.sequential) == 2
    for got, want in zip(warehouse.sequential, memory.sequential, strict=True):
        assert got.looks.stopping_look == want.looks.stopping_look
        for row, expected in zip(got.looks.rows, want.looks.rows, strict=True):
            assert row.look == expected.look
            assert row.estimate == pytest.approx(expected.estimate, rel=1e-9, abs=1e-15)
            assert row.sequential_p_value == pytest.approx(expected.sequential_p_value, rel=1e-9)
    for got, want in zip(warehouse.bayesian, memory.bayesian, strict=True):
        assert got.probability_better == pytest.approx(want.probability_better, rel=1e-9)
        assert got.expected_loss_ship == pytest.approx(want.expected_loss_ship, rel=1e-6)


# ----------------------------------------------------------------------------- k arms
ARMS3 = ("control", "b", "c")


def _three_arms(seed: int = 17) -> pl.DataFrame:
    """Three arms: c converts most and spends most; b is slowest (latency, lower is better)."""
    rng = np.random.default_rng(seed)
    n = 30_000
    arm = rng.integers(0, 3, n)
    pre = rng.gamma(2.0, 10.0, n)
    return pl.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.array(ARMS3)[arm],
            "converted": rng.random(n) < np.array([0.100, 0.104, 0.112])[arm],
            "revenue": 0.6 * pre + rng.normal(np.array([20.0, 20.3, 20.6])[arm], 8.0),
            "pre_revenue": pre,
            "orders": rng.poisson(np.array([1.0, 1.02, 1.05])[arm]),
            "sessions": 1 + rng.poisson(3.0, n),
            "latency": rng.normal(np.array([100.0, 100.8, 100.1])[arm], 15.0),
            "platform": np.array(["ios", "web"])[rng.integers(0, 2, n)],
        }
    )


def _three_arm_plan() -> AnalysisPlan:
    return plan_from_dict(
        {
            "experiment_id": "three-arms",
            "source": {"path": "users.parquet"},
            "unit": "user_id",
            "control": "control",
            "arms": list(ARMS3),
            "metrics": [
                {"name": "conversion", "kind": "proportion", "column": "converted"},
                {"kind": "mean", "column": "revenue", "role": "secondary"},
                {
                    "name": "revenue (CUPED)",
                    "kind": "mean",
                    "column": "revenue",
                    "covariates": ["pre_revenue"],
                    "role": "secondary",
                },
                {
                    "kind": "ratio",
                    "numerator": "orders",
                    "denominator": "sessions",
                    "role": "secondary",
                },
                {"kind": "mean", "column": "latency", "role": "guardrail", "direction": "decrease"},
                {"kind": "quantile", "column": "latency", "probability": 0.5, "role": "secondary"},
                {
                    "kind": "post-stratified",
                    "column": "revenue",
                    "stratum": "platform",
                    "role": "secondary",
                },
            ],
            "bayesian": True,
        }
    )


def test_with_three_arms_the_bayesian_reading_says_which_arm_is_best():
    frame = _three_arms()
    readout = run_readout(_three_arm_plan(), data=frame)
    best = {r.metric: r for r in readout.best_arm}
    assert list(best) == [
        "conversion",
        "revenue",
        "revenue (CUPED)",
        "orders / sessions",
        "latency",
        "latency p50",
        "revenue | platform",
    ]
    groups = {arm: frame.filter(pl.col("variant") == arm) for arm in ARMS3}

    # a proportion: Beta(1, 1) on each arm's rate, from the counts themselves
    expected = ablens.beta_best_arm(
        {a: int(g["converted"].sum()) for a, g in groups.items()},
        {a: g.height for a, g in groups.items()},
    )
    conversion = best["conversion"]
    assert (conversion.model, conversion.arms) == ("beta-binomial", ARMS3)
    assert conversion.probability_best == pytest.approx(expected.probability_best, rel=1e-12)
    assert conversion.expected_loss == pytest.approx(expected.expected_loss, rel=1e-12)
    assert conversion.best == expected.best == "c"

    # a mean: each arm's mean with its standard error s / sqrt(n), computed here with numpy
    def normal(column: str, direction: str = "increase"):
        values = {a: g[column].to_numpy() for a, g in groups.items()}
        return ablens.normal_best_arm(
            {a: float(v.mean()) for a, v in values.items()},
            {a: float(v.std(ddof=1) / math.sqrt(v.size)) for a, v in values.items()},
            direction=direction,
        )

    for metric, reference in (
        ("revenue", normal("revenue")),
        ("latency", normal("latency", "decrease")),
    ):
        reading = best[metric]
        assert reading.model == "normal"
        assert reading.probability_best == pytest.approx(reference.probability_best, rel=1e-9)
        assert reading.expected_loss == pytest.approx(reference.expected_loss, rel=1e-9)
    assert best["revenue"].best == "c"
    # lower latency is better: b, the slow arm, is never best
    assert best["latency"].best == "control"
    assert best["latency"].probability_best[1] < 1e-3

    # a ratio: each arm's ratio with its delta-method standard error
    def ratio_level(g: pl.DataFrame) -> tuple[float, float]:
        y, x = g["orders"].to_numpy().astype(float), g["sessions"].to_numpy().astype(float)
        r = y.mean() / x.mean()
        variance = (y.var(ddof=1) - 2 * r * np.cov(y, x)[0, 1] + r**2 * x.var(ddof=1)) / (
            x.mean() ** 2 * y.size
        )
        return r, math.sqrt(variance)

    levels = {a: ratio_level(g) for a, g in groups.items()}
    reference = ablens.normal_best_arm(
        {a: m for a, (m, _) in levels.items()}, {a: s for a, (_, s) in levels.items()}
    )
    ratio = best["orders / sessions"]
    assert ratio.probability_best == pytest.approx(reference.probability_best, rel=1e-9)

    # covariate adjustment fits each pair apart; a quantile has no posterior: said, not guessed
    for pairwise in ("revenue (CUPED)", "revenue | platform"):
        reading = best[pairwise]
        assert (reading.model, reading.probability_best, reading.best) == (None, (), None)
        assert reading.reason is not None
        assert reading.reason.startswith("the comparisons do not share one control estimate")
    assert best["latency p50"].reason is not None
    assert best["latency p50"].reason.startswith("a quantile difference")

    document = readout.to_dict()["bayesian"]["best_arm"]
    assert document[0]["best"] == "c"
    assert document[0]["probability_best"] == pytest.approx(list(expected.probability_best))
    assert document[2]["model"] is None
    text = str(readout)
    assert "Which arm is best (Bayesian" in text
    assert re.search(r"conversion\s+c \(best\)\s+\d+\.\d%", text), text
    assert "  revenue (CUPED): not defined: the comparisons do not share" in text
    page = render_readout(readout)
    assert '<section class="best-arm"><h2>Which arm is best (Bayesian)</h2>' in page
    assert '<tr class="best"><td class="text">conversion</td><td class="text">c (best)</td>' in page
    assert "<li>latency p50: not defined: a quantile difference" in page


def test_two_arms_have_no_best_arm_table(write_plan):
    readout = run_readout(
        load_plan(write_plan(("sequential: none", "sequential: none\nbayesian: true")))
    )
    assert readout.bayesian
    assert readout.best_arm == ()
    assert readout.to_dict()["bayesian"]["best_arm"] == []
    assert "Which arm is best" not in str(readout)
    assert "best-arm" not in render_readout(readout)
