"""`ablens power`: the calculator's flags, from parameters and from history, text and JSON."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from typer.testing import CliRunner

import ablens
from ablens.cli.app import app
from ablens.demo import generate

runner = CliRunner()


def test_plan_from_parameters_matches_the_library():
    outcome = runner.invoke(
        app, ["power", "--baseline-rate", "0.05", "--mde", "0.05", "--daily-traffic", "20000"]
    )
    assert outcome.exit_code == 0, outcome.output
    expected = ablens.power_plan(baseline_rate=0.05, mde=0.05, daily_traffic=20_000)
    assert outcome.stdout.startswith(expected.sentence)
    assert "122,153 units per arm" in outcome.stdout


def test_plan_json_is_the_plan_document():
    outcome = runner.invoke(
        app, ["power", "--mean", "10", "--sd", "30", "--mde", "0.03", "--json", "--arms", "3"]
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    expected = ablens.power_plan(mean=10.0, sd=30.0, mde=0.03, arms=3).to_dict()
    assert document == json.loads(json.dumps(expected, default=str))


def test_inverse_mode_solves_the_mde_for_a_duration():
    outcome = runner.invoke(
        app,
        ["power", "--baseline-rate", "0.1", "--daily-traffic", "5000", "--days", "14", "--json"],
    )
    assert outcome.exit_code == 0, outcome.output
    expected = ablens.power_plan(baseline_rate=0.1, daily_traffic=5000, days=14).to_dict()
    assert json.loads(outcome.stdout) == json.loads(json.dumps(expected, default=str))


@pytest.mark.parametrize(
    ("flags", "options", "per_arm"),
    [
        (["--sequential", "group-sequential", "--looks", "5"], {"looks": 5}, 125_173),
        (
            ["--sequential", "group-sequential", "--looks", "5", "--spending", "pocock"],
            {"looks": 5, "spending": "pocock"},
            None,
        ),
        (["--sequential", "msprt", "--looks", "30"], {"looks": 30}, 209_994),
        (["--sequential", "confidence-sequence", "--looks", "30"], {"looks": 30}, None),
        (["--sequential", "msprt", "--looks", "10", "--tau", "0.004"], {"tau": 0.004}, None),
    ],
)
def test_sequential_plans_match_the_library(flags, options, per_arm):
    base = ["power", "--baseline-rate", "0.05", "--mde", "0.05", "--daily-traffic", "10000"]
    outcome = runner.invoke(app, [*base, *flags, "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    method = flags[1]
    options = {"looks": int(flags[3])} | options
    expected = ablens.power_plan(
        baseline_rate=0.05, mde=0.05, daily_traffic=10_000, sequential=method, **options
    )
    assert document["n_per_arm"] == list(expected.n_per_arm)
    assert document["sequential"]["inflation"] == pytest.approx(
        expected.sequential.inflation, rel=1e-12
    )
    assert document["sequential"]["method"] == method
    if per_arm is not None:
        assert document["n_per_arm"] == [per_arm, per_arm]
    fixed = ablens.power_plan(baseline_rate=0.05, mde=0.05, daily_traffic=10_000)
    assert document["n_per_arm"][0] > fixed.n_per_arm[0]


def test_plan_from_history_file(tmp_path):
    history = tmp_path / "history.parquet"
    pl.DataFrame(generate(20_000, seed=3)).write_parquet(history)
    outcome = runner.invoke(
        app,
        [
            "power",
            "--history",
            str(history),
            "--column",
            "revenue",
            "--date",
            "exposure_day",
            "--integer-days",
            "--covariate",
            "pre_revenue",
            "--mde",
            "0.1",
            "--json",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    expected = ablens.power_plan_from_history(
        str(history),
        metric=ablens.Mean("revenue", covariates=("pre_revenue",)),
        date="exposure_day",
        integer_days=True,
        mde=0.1,
    ).to_dict()
    assert json.loads(outcome.stdout) == json.loads(json.dumps(expected, default=str))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline-rate", "1.5", "--mde", "0.05"], "baseline_rate == 1.5, must be in (0, 1)"),
        (["--baseline-rate", "0.05", "--mde", "0.05", "--alpha", "2"], "alpha == 2.0"),
        (["--history", "README.md"], "--history needs --column"),
        (
            ["--baseline-rate", "0.05", "--mde", "0.05", "--sequential", "daily"],
            "sequential == 'daily', must be one of",
        ),
        (
            ["--baseline-rate", "0.05", "--mde", "0.05", "--sequential", "msprt", "--looks", "0"],
            "looks == 0",
        ),
        (
            ["--baseline-rate", "0.05", "--mde", "0.05", "--sequential", "msprt", "--tau", "-1"],
            "tau == -1",
        ),
    ],
)
def test_bad_input_exits_2_with_the_argument_named(args, message):
    outcome = runner.invoke(app, ["power", *args])
    assert outcome.exit_code == 2
    assert message in outcome.stderr


def test_demo_prints_the_next_plan(tmp_path):
    outcome = runner.invoke(app, ["demo", "--db", str(tmp_path / "d.duckdb"), "--users", "20000"])
    assert outcome.exit_code == 0, outcome.output
    assert "Planning the next test" in outcome.stdout
    assert "units per arm" in outcome.stdout


def test_the_old_command_name_still_plans_and_says_it_is_deprecated():
    options = ["--baseline-rate", "0.1", "--mde", "0.05", "--json"]
    new = runner.invoke(app, ["power", *options])
    old = runner.invoke(app, ["plan", *options])
    assert old.exit_code == new.exit_code == 0
    assert json.loads(old.stdout) == json.loads(new.stdout)
    assert "`ablens plan` is deprecated and will be removed in ablens 0.3: use `ablens power`" in (
        old.stderr
    )


@pytest.fixture
def visits_file(tmp_path):
    """Visits with repeated users, a timestamp, a week number and the arm of a past test."""
    users = [1, 1, 2, 3, 3, 3, 4, 5, 6, 6, 7, 8]
    day = [0, 2, 0, 1, 1, 4, 2, 3, 3, 5, 6, 6]
    frame = pl.DataFrame(
        {
            "user": users,
            "seen": [dt.datetime(2024, 5, 6, 9) + dt.timedelta(days=d) for d in day],
            "week": [d // 7 for d in day],
            "revenue": [3.0, 1.0, 0.0, 2.0, 5.0, 1.0, 4.0, 0.5, 2.0, 2.0, 7.0, 1.5],
            "arm": ["a" if u % 2 else "b" for u in users],
        }
    )
    path = tmp_path / "visits.parquet"
    frame.write_parquet(path)
    return path


def test_history_options_reach_the_library(visits_file):
    flags = ["--unit", "user", "--variant", "arm", "--arm", "a", "--traffic-multiplier", "2"]
    base = ["power", "--history", str(visits_file), "--column", "revenue", "--date", "seen"]
    outcome = runner.invoke(app, [*base, *flags, "--mde", "0.5", "--json"])
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    expected = ablens.power_plan_from_history(
        str(visits_file),
        metric=ablens.Mean("revenue"),
        date="seen",
        unit="user",
        variant="arm",
        arm="a",
        traffic_multiplier=2,
        mde=0.5,
    ).to_dict()
    assert document == json.loads(json.dumps(expected, default=str))
    # Arm "a" holds users 1, 3, 5, 7: first seen on days 0, 1, 3, 6; revenue summed per user.
    history = document["history"]
    assert history["cumulative_units"] == [1, 2, 2, 3, 3, 3, 4]
    assert (history["rows"], history["units"], history["arm"]) == (7, 4, "a")
    assert history["traffic_multiplier"] == 2
    assert document["baseline"] == pytest.approx((4.0 + 8.0 + 0.5 + 7.0) / 4, rel=1e-12)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--date", "week"], "column 'week' has type Int64, not a date or timestamp"),
        (["--date", "week"], "(CLI: --integer-days)"),
        ([], "date is None: planning from history needs"),
        (["--date", "day"], "the history has no column 'day'"),
        (["--date", "seen", "--arm", "a"], "give both"),
        (["--date", "seen", "--traffic-multiplier", "0.5"], "traffic_multiplier == 0.5"),
    ],
)
def test_history_options_bad_input_exits_2(visits_file, flags, message):
    base = ["power", "--history", str(visits_file), "--column", "revenue", "--mde", "0.5"]
    outcome = runner.invoke(app, [*base, *flags])
    assert outcome.exit_code == 2
    assert message in outcome.stderr.replace("\n", " ")
