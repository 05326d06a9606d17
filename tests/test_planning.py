"""ablens.planning: power_plan() and power_plan_from_history() against numpy, polars, DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import ablens
from ablens import DataError, InputError, Mean, Moments, Proportion, Quantile, Ratio, demo
from ablens.planning import PowerPlan, power_plan, power_plan_from_history
from ablens.stats.power import ratio_sd, solve_power

duckdb = pytest.importorskip("duckdb")
pl = pytest.importorskip("polars")

START = dt.date(2024, 3, 4)
HISTORY_DAYS = 21


# ---------------------------------------------------------------------------- power_plan()
def test_sample_size_mode_rounds_up_and_counts_days():
    p = power_plan(baseline_rate=0.10, mde=0.05, daily_traffic=10_000)
    exact = solve_power("proportion", effect=0.05, power=0.8, baseline=0.1, effect_type="relative")
    assert p.solved == "sample size"
    assert p.n_per_arm == (math.ceil(exact.n / 2),) * 2
    assert p.n_total == sum(p.n_per_arm)
    assert p.days == math.ceil(p.n_total / 10_000)
    assert p.effect == pytest.approx(0.005)
    assert p.relative_effect == pytest.approx(0.05)
    # The table's row on the planned day reaches the power; the day before does not.
    row = {d.day: d for d in p.by_day}
    assert row[p.days].power >= 0.8 > row[p.days - 1].power
    assert [d.day for d in p.by_day] == list(range(1, len(p.by_day) + 1))
    assert len(p.by_day) == max(p.days, 14)


def test_inverse_mode_with_fourteen_days():
    p = power_plan(baseline_rate=0.10, days=14, daily_traffic=10_000)
    assert p.solved == "mde"
    assert p.n_total == 140_000
    check = solve_power(
        "proportion",
        n=140_000,
        effect=p.relative_effect,
        power=None,
        baseline=0.1,
        effect_type="relative",
    )
    assert check.power == pytest.approx(0.8, abs=1e-9)
    row = {d.day: d for d in p.by_day}[14]
    assert row.relative_mde == pytest.approx(p.relative_effect, rel=1e-12)
    assert row.mde == pytest.approx(p.effect, rel=1e-12)
    assert "With 14 days" in p.sentence
    assert "can detect a change of +4.54%" in p.sentence


def test_power_mode():
    p = power_plan(mean=20.0, sd=30.0, mde=1.0, mde_type="absolute", n=20_000, power=None)
    expected = solve_power("mean", n=20_000, effect=1.0, power=None, sd=30.0).power
    assert p.solved == "power"
    assert p.power == pytest.approx(expected, rel=1e-14)
    assert p.by_day == ()  # no traffic, no duration table
    assert "would be detected with" in p.sentence


def test_short_duration_is_flagged():
    p = power_plan(baseline_rate=0.3, mde=0.2, daily_traffic=50_000)
    assert p.days < 7
    assert any("under a full week" in warning for warning in p.warnings)
    long = power_plan(baseline_rate=0.3, mde=0.02, daily_traffic=1_000)
    assert not any("under a full week" in warning for warning in long.warnings)


def test_arms_split_and_correction():
    corrected = power_plan(
        mean=10.0, sd=5.0, mde=0.05, arms=3, split=(0.5, 0.25, 0.25), correction="bonferroni"
    )
    assert corrected.comparison_alpha == 0.025
    assert corrected.n_per_arm[0] == pytest.approx(2 * corrected.n_per_arm[1], abs=1)
    assert "each of 2 comparisons at 2.5% (Bonferroni)" in corrected.sentence
    uncorrected = power_plan(mean=10.0, sd=5.0, mde=0.05, arms=3)
    assert any("without correction" in note for note in uncorrected.notes)
    assert uncorrected.n_total < corrected.n_total
    unequal = power_plan(mean=10.0, sd=5.0, mde=0.05, split=(0.4, 0.4, 0.2), correction="sidak")
    assert any("smallest one sets" in note for note in unequal.notes)


def test_non_inferiority_from_the_metric():
    metric = Proportion("converted", alternative="greater", margin=-0.01)
    p = power_plan(baseline_rate=0.2, mde=0.0, mde_type="absolute", metric=metric)
    expected = solve_power(
        "proportion", effect=0.0, power=0.8, baseline=0.2, margin=-0.01, alternative="greater"
    )
    assert p.n_per_arm[0] == math.ceil(expected.n / 2)
    assert p.alternative == "greater"
    assert "against a margin of -1pp" in p.sentence
    with pytest.raises(InputError, match="margin's scale"):
        power_plan(baseline_rate=0.2, mde=0.0, metric=metric)  # relative MDE, absolute margin


def test_metric_moments_give_the_same_plan_as_the_numbers():
    rng = np.random.default_rng(11)
    sessions = 1.0 + rng.poisson(2.0, 4_000)
    orders = rng.binomial(sessions.astype(int), 0.1).astype(float)
    m = Moments.from_columns({"orders": orders, "sessions": sessions})
    from_moments = power_plan(metric=Ratio("orders", "sessions"), moments=m, mde=0.1)
    ratio, sd = ratio_sd(
        m.mean_of("orders"),
        m.mean_of("sessions"),
        m.variance("orders"),
        m.variance("sessions"),
        m.covariance("orders", "sessions"),
    )
    by_hand = power_plan(mean=ratio, sd=sd, mde=0.1, name="orders / sessions")
    assert from_moments.kind == "ratio"
    assert from_moments.n_per_arm == by_hand.n_per_arm
    assert from_moments.sd == pytest.approx(sd, rel=1e-12)


def test_cuped_reduction_from_moments():
    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, 5_000)
    y = 0.8 * x + rng.normal(0, 0.6, 5_000)
    m = Moments.from_columns({"y": y, "x": x})
    p = power_plan(metric=Mean("y", covariates=("x",)), moments=m, mde=0.05, mde_type="absolute")
    assert p.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-10)
    plain = power_plan(mean=float(y.mean()), sd=float(y.std(ddof=1)), mde=0.05, mde_type="absolute")
    assert p.n_total == pytest.approx((1 - p.variance_reduction) * plain.n_total, rel=1e-3)


def test_renderings():
    p = power_plan(baseline_rate=0.05, mde=0.1, daily_traffic=2_000, split=(0.5, 0.25, 0.25))
    text = str(p)
    assert p.sentence in text
    assert "Detectable effect by duration" in text
    markdown = p.to_markdown()
    assert markdown.startswith(p.sentence)
    assert "| day |" in markdown
    html = p.to_html()
    assert html.startswith('<div class="ablens-plan">')
    assert html == p._repr_html_()
    document = p.to_dict()
    assert document["schema_version"] == 1
    assert json.loads(json.dumps(document)) == document
    assert len(document["by_day"]) == len(p.by_day)


def test_plan_is_frozen():
    p = power_plan(baseline_rate=0.1, mde=0.1)
    assert isinstance(p, PowerPlan)
    with pytest.raises(AttributeError):
        p.n_total = 3  # type: ignore[misc]


# ---------------------------------------------------------------------- power_plan_from_history
def _history(seed: int = 5, users: int = 12_000) -> dict[str, np.ndarray]:
    """Users, each on the day first seen: fewer new users each day (returning ones are known)."""
    rng = np.random.default_rng(seed)
    weights = np.exp(-np.arange(HISTORY_DAYS) / 9.0)
    day = rng.choice(HISTORY_DAYS, size=users, p=weights / weights.sum())
    seconds = rng.integers(0, 86_400, users)
    first_seen = np.datetime64(START, "s") + day * 86_400 + seconds
    pre = rng.gamma(2.0, 10.0, users)
    revenue = np.maximum(0.0, 0.6 * pre + rng.normal(0.0, 12.0, users))
    sessions = 1 + rng.poisson(2.5, users)
    orders = rng.binomial(sessions, 0.12)
    return {
        "user": np.arange(users),
        "first_seen": first_seen.astype("datetime64[us]"),
        "day": day,
        "revenue": revenue,
        "pre_revenue": pre,
        "sessions": sessions,
        "orders": orders,
        "converted": orders > 0,
    }


@pytest.fixture(scope="module")
def history():
    return _history()


@pytest.fixture(scope="module", params=["polars", "polars-lazy", "duckdb"])
def table(request, history):
    frame = pl.DataFrame(history)
    if request.param == "polars":
        return frame
    if request.param == "polars-lazy":
        return frame.lazy()
    connection = duckdb.connect()
    connection.register("frame_view", frame.to_arrow())
    connection.sql("CREATE TABLE users AS SELECT * FROM frame_view")
    return (connection, "users")


def _window(history, start_day: int | None, end_day: int | None) -> np.ndarray:
    keep = np.ones(history["day"].size, dtype=bool)
    if start_day is not None:
        keep &= history["day"] >= start_day
    if end_day is not None:
        keep &= history["day"] < end_day
    return keep


@pytest.mark.parametrize(("start_day", "end_day"), [(None, None), (3, 17)])
def test_history_units_by_day_equal_numpy(table, history, start_day, end_day):
    start = None if start_day is None else START + dt.timedelta(days=start_day)
    end = None if end_day is None else START + dt.timedelta(days=end_day)
    p = power_plan_from_history(
        table,
        metric=Mean("revenue"),
        date="first_seen",
        unit="user",
        start=start,
        end=end,
        mde=0.05,
    )
    keep = _window(history, start_day, end_day)
    first = start_day or 0
    last = (end_day or HISTORY_DAYS) - 1
    daily = np.bincount(history["day"][keep] - first, minlength=last - first + 1)
    assert p.history.cumulative_units == tuple(np.cumsum(daily).tolist())
    assert p.history.days == last - first + 1
    assert p.history.first_day == START + dt.timedelta(days=first)
    assert p.history.last_day == START + dt.timedelta(days=last)
    assert p.history.recent_daily_units == pytest.approx(daily[-7:].mean())
    # units do not accrue linearly: the curve is concave (fewer new users each day)
    assert daily[:7].sum() > daily[-7:].sum()


def test_history_baselines_equal_numpy(table, history):
    y, x = history["revenue"], history["pre_revenue"]
    mean = power_plan_from_history(
        table,
        metric=Mean("revenue", covariates=("pre_revenue",)),
        date="first_seen",
        unit="user",
        mde=0.05,
    )
    assert mean.baseline == pytest.approx(y.mean(), rel=1e-12)
    assert mean.sd == pytest.approx(y.std(ddof=1), rel=1e-10)
    assert mean.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)
    assert mean.history.correlation == pytest.approx(abs(np.corrcoef(x, y)[0, 1]), rel=1e-9)

    orders, sessions = history["orders"].astype(float), history["sessions"].astype(float)
    ratio = power_plan_from_history(
        table,
        metric=Ratio("orders", "sessions", covariates=("pre_revenue",)),
        date="first_seen",
        unit="user",
        mde=0.05,
    )
    r = orders.sum() / sessions.sum()
    linearized = (orders - r * sessions) / sessions.mean()
    assert ratio.baseline == pytest.approx(r, rel=1e-12)
    assert ratio.sd == pytest.approx(linearized.std(ddof=1), rel=1e-9)
    assert ratio.variance_reduction == pytest.approx(
        np.corrcoef(linearized, x)[0, 1] ** 2, rel=1e-6
    )

    converted = history["converted"].astype(float)
    share = power_plan_from_history(
        table, metric=Proportion("converted"), date="first_seen", mde=0.1
    )
    assert share.baseline == pytest.approx(converted.mean(), rel=1e-12)
    assert share.kind == "proportion"

    two = ablens.Mean("revenue", covariates=("pre_revenue", "sessions"), adjustment="regression")
    regression = power_plan_from_history(table, metric=two, date="first_seen", mde=0.05)
    design = np.column_stack([np.ones_like(y), x, sessions])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r2 = 1 - residual.var() / y.var()
    assert regression.variance_reduction == pytest.approx(r2, rel=1e-9)


def test_history_days_needed_and_extrapolation(table, history):
    p = power_plan_from_history(table, metric=Mean("revenue"), date="first_seen", mde=0.02)
    cumulative = np.cumsum(np.bincount(history["day"], minlength=HISTORY_DAYS))
    assert p.n_total > cumulative[-1]  # needs more than the history holds
    recent = (cumulative[-1] - cumulative[-8]) / 7
    expected = HISTORY_DAYS + math.ceil((p.n_total - cumulative[-1]) / recent)
    assert p.days == expected
    assert any("extrapolated linearly" in note for note in p.notes)
    row = {d.day: d for d in p.by_day}
    assert row[p.days].units >= p.n_total > row[p.days - 1].units
    within = power_plan_from_history(table, metric=Mean("revenue"), date="first_seen", mde=0.07)
    assert within.days > 1
    assert within.days <= HISTORY_DAYS
    assert within.n_total <= cumulative[within.days - 1]
    assert within.n_total > cumulative[within.days - 2]
    assert not any("extrapolated" in note for note in within.notes)


def test_history_short_duration_warning(table):
    p = power_plan_from_history(table, metric=Proportion("converted"), date="first_seen", mde=0.5)
    assert p.days < 7
    assert any("under a full week" in warning for warning in p.warnings)


def test_history_traffic_share_and_inverse_mode(table, history):
    half = power_plan_from_history(
        table, metric=Mean("revenue"), date="first_seen", days=10, traffic=0.5
    )
    cumulative = np.cumsum(np.bincount(history["day"], minlength=HISTORY_DAYS))
    assert half.n_total == math.floor(0.5 * cumulative[9])
    full = power_plan_from_history(table, metric=Mean("revenue"), date="first_seen", days=10)
    assert full.n_total == cumulative[9]
    assert half.effect > full.effect
    assert "With 10 days at the traffic of the history" in full.sentence


def test_integer_day_column_and_engines_agree(history):
    frame = pl.DataFrame(history)
    on_polars = power_plan_from_history(
        frame,
        metric=Mean("revenue"),
        date="day",
        integer_days=True,
        unit="user",
        mde=0.05,
        start=2,
        end=19,
    )
    connection = duckdb.connect()
    connection.register("frame_view", frame.to_arrow())
    on_duckdb = power_plan_from_history(
        (connection, "frame_view"),
        metric=Mean("revenue"),
        date="day",
        integer_days=True,
        unit="user",
        mde=0.05,
        start=2,
        end=19,
    )
    assert on_polars.history.first_day == 2
    assert on_polars.history.last_day == 18
    assert on_polars.history.cumulative_units == on_duckdb.history.cumulative_units
    assert on_polars.n_per_arm == on_duckdb.n_per_arm
    assert on_polars.sd == pytest.approx(on_duckdb.sd, rel=1e-12)


def test_history_on_pandas_with_date_bounds(history):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({k: v for k, v in history.items() if k != "first_seen"})
    frame["seen_on"] = pandas.Timestamp(START) + pandas.to_timedelta(frame["day"], unit="D")
    start = dt.datetime(2024, 3, 6, 12)  # a timestamp bound on a timestamp column
    p = power_plan_from_history(
        frame, metric=Mean("revenue"), date="seen_on", unit="user", start=start, mde=0.05
    )
    keep = history["day"] >= 3  # 12:00 on day 2 leaves day 2's midnight rows out
    daily = np.bincount(history["day"][keep] - 3, minlength=HISTORY_DAYS - 3)
    assert p.history.first_day == START + dt.timedelta(days=2)  # the bound's own day
    assert p.history.cumulative_units[-1] == keep.sum()
    assert p.history.cumulative_units[1:] == tuple(np.cumsum(daily).tolist())
    assert p.baseline == pytest.approx(history["revenue"][keep].mean(), rel=1e-12)
    document = p.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["history"]["first_day"] == "2024-03-06"


def test_history_on_the_demo_table():
    data = demo.generate(5_000, seed=1)
    table = pl.DataFrame({k: v for k, v in data.items() if k != "variant"})
    p = power_plan_from_history(
        table,
        metric=Mean("revenue", covariates=("pre_revenue",)),
        date="exposure_day",
        integer_days=True,
        unit="user_id",
        mde=0.1,
    )
    assert p.history.units == 5_000
    assert p.history.days == 14
    assert 0 < p.variance_reduction < 1


# ---------------------------------------------------------------------------- bad input
BAD_PLANS = [
    ({"baseline_rate": 0.1, "mean": 1.0, "sd": 1.0, "mde": 0.1}, "exactly one baseline"),
    ({"mde": 0.1}, "got none"),
    ({"mean": 1.0, "mde": 0.1}, "mean needs sd"),
    ({"mean": 1.0, "sd": -1.0, "mde": 0.1}, "sd == -1.0"),
    ({"baseline_rate": 1.5, "mde": 0.1}, "baseline_rate == 1.5"),
    ({"baseline_rate": 0.1, "mde": 0.1, "alpha": 1.5}, "alpha == 1.5"),
    ({"baseline_rate": 0.1, "mde": 0.1, "power": 0.0}, "power == 0.0"),
    ({"baseline_rate": 0.1, "mde": 0.1, "split": (0.6, 0.6)}, "must sum to 1"),
    ({"baseline_rate": 0.1, "mde": 0.1, "mde_type": "percent"}, "mde_type =="),
    ({"baseline_rate": 0.1, "days": 14}, "days needs daily_traffic"),
    ({"baseline_rate": 0.1}, "needs days"),
    ({"baseline_rate": 0.1, "mde": 0.1, "n": 1000}, "nothing is left to solve"),
    ({"baseline_rate": 0.1, "mde": None, "power": None, "n": 100}, "both None"),
    ({"baseline_rate": 0.1, "mde": 0.1, "daily_traffic": 0}, "daily_traffic == 0"),
    ({"baseline_rate": 0.1, "n": 1000, "days": 3, "daily_traffic": 10}, "days or n"),
    ({"baseline_rate": 0.1, "mde": 0.1, "sd": 0.3}, "sd does not apply"),
    ({"baseline_rate": 0.1, "mde": 0.1, "variance_reduction": 1.2}, "variance_reduction =="),
    ({"baseline_rate": 0.1, "mde": 0.1, "correction": "holm", "arms": 3}, "correction =="),
    ({"mean": 0.0, "sd": 1.0, "mde": 0.1}, "positive baseline"),
    ({"baseline_rate": 0.1, "mde": 10.0}, "outside (0, 1)"),
    ({"moments": Moments.from_columns({"x": [1.0, 2.0]}), "mde": 0.1}, "moments needs metric"),
    (
        {"baseline_rate": 0.1, "mde": 0.1, "metric": Quantile("x", 0.5)},
        "Quantile (kind 'quantile'), which the planner cannot size; plannable kinds: mean,",
    ),
    ({"mean": 1.0, "sd": 1.0, "mde": 0.1, "metric": Proportion("x")}, "baseline_rate, not"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_PLANS, ids=[m for _, m in BAD_PLANS])
def test_bad_plan_input(arguments, message):
    with pytest.raises(InputError) as error:
        power_plan(**arguments)
    assert message in str(error.value)


def test_bad_history_input(history):
    frame = pl.DataFrame(history)
    metric = Mean("revenue")
    with pytest.raises(DataError, match="the history has no column 'when'"):
        power_plan_from_history(frame, metric=metric, date="when", mde=0.1)
    with pytest.raises(DataError, match="has type Float64, must be a date or timestamp"):
        power_plan_from_history(frame, metric=metric, date="revenue", mde=0.1)
    days = {"date": "day", "integer_days": True}
    with pytest.raises(DataError, match="no rows in the period"):
        power_plan_from_history(frame, metric=metric, **days, start=50, mde=0.1)
    with pytest.raises(InputError, match="must be an integer day"):
        power_plan_from_history(frame, metric=metric, **days, start=START, mde=0.1)
    with pytest.raises(InputError, match="must be a date or datetime"):
        power_plan_from_history(frame, metric=metric, date="first_seen", start=3, mde=0.1)
    with pytest.raises(InputError, match="must be a whole day"):
        power_plan_from_history(frame, metric=metric, **days, end=3.5, mde=0.1)
    with pytest.raises(InputError, match=r"traffic == 1\.5"):
        power_plan_from_history(frame, metric=metric, **days, mde=0.1, traffic=1.5)
    with pytest.raises(InputError, match=r"which the planner cannot size; plannable kinds: mean,"):
        power_plan_from_history(frame, metric=Quantile("revenue", 0.5), **days, mde=0.1)
    with pytest.raises(DataError, match="does not vary"):
        power_plan_from_history(
            frame.with_columns(pl.lit(1.0).alias("flat")),
            metric=Mean("flat"),
            **days,
            mde=0.1,
        )


def test_importing_the_planner_stays_light():
    code = (
        "import sys, json, ablens.planning\n"
        "heavy = ['pandas', 'polars', 'duckdb', 'scipy.stats', 'scipy.optimize']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    completed = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(completed.stdout) == []
